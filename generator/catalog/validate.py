"""Schema and semantic checks: every problem of a catalog, each with its line.

`check_catalog` runs the JSON Schema first (the shape must be right before
anything else can be said), then the reference checks (a missing group makes
every later check meaningless for that service), then the checks on the built
model, which a schema cannot express.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import defaultdict
from functools import lru_cache
from typing import Any, Iterator

import jsonschema
from jsonschema import Draft202012Validator

from generator.catalog import naming
from generator.catalog.quota_checks import quota_problems
from generator.paths import SCHEMAS_DIR
from generator.errors import CatalogError, CatalogPath, Problem
from generator.catalog.loader import LoadedCatalog
from generator.catalog.model import (PLATFORM_STACK, Catalog, Deployment, DnsTarget, Environment, ListenerRule, MigrationState, Service,
                             build_catalog, url_variable)

SCHEMA_PATH = SCHEMAS_DIR / "catalog.schema.json"

# Task cpu -> memory (MiB) sizes Fargate accepts (ECS developer guide, "Task CPU and memory").
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Application Load Balancer quotas (Elastic Load Balancing user guide, "Quotas").
MAX_RULES_PER_LISTENER = 100
MAX_CONDITION_VALUES_PER_RULE = 5
MAX_WILDCARDS_PER_RULE = 5
MAX_TARGET_GROUPS_PER_ALB = 100

# Names that mean a value is a credential; such variables must come from Secrets Manager.
SECRET_LOOKING_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|(?:^|_)PASS(?:$|_)|TOKEN|PRIVATE_KEY|API_KEY|ACCESS_KEY|CREDENTIAL|DATABASE_URL)")


def _is_number(checker: Any, instance: Any) -> bool:
    # NaN and infinity pass every JSON Schema bound check; they are never a valid setting.
    return (
        isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)
    )


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262, where `$` is the end of input; Python's `$`
    # also matches before a final newline, which would let "api\n" pass `^[a-z]+$`.
    if not isinstance(instance, str):
        return
    match = _compiled(pattern).search(instance)
    if match is None or (pattern.endswith("$") and match.end() != len(instance)):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=1)
def schema_validator() -> Any:
    """The catalog schema's validator, built once per process."""
    # The schema ships with the tool; `make test` checks it against the 2020-12 meta-schema (half a
    # second per run here).
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    definitions = schema.get("$defs", {})

    def local_ref(validator: Any, ref: str, instance: Any, _: dict[str, Any]) -> Iterator[Any]:
        # Every reference in the catalog schema is `#/$defs/<name>` in the one document: looked up here
        # directly, a fifth of the schema check's time at 5,000 services; anything else goes the general way.
        name = ref[len("#/$defs/"):] if ref.startswith("#/$defs/") else None
        if name in definitions:
            yield from validator.evolve(schema=definitions[name]).iter_errors(instance)
        else:
            yield from jsonschema._keywords.ref(validator, ref, instance, _)

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("number", _is_number)
    validator_class = jsonschema.validators.extend(
        Draft202012Validator, validators={"pattern": _pattern, "$ref": local_ref}, type_checker=type_checker
    )
    return validator_class(schema)


def check_catalog(loaded: LoadedCatalog) -> Catalog:
    """Return the model of a valid catalog, or raise CatalogError listing every problem."""
    problems = list(schema_problems(loaded))
    if problems:
        raise CatalogError(problems)
    problems = list(reference_problems(loaded))
    if problems:
        raise CatalogError(problems)
    catalog = build_catalog(loaded.data, loaded.file)
    # Checks that run per environment may find the same thing in several.
    problems = list(dict.fromkeys(model_problems(loaded, catalog)))
    if problems:
        raise CatalogError(problems)
    return catalog


# ---------------------------------------------------------------------------
# JSON Schema, with messages a person can act on
# ---------------------------------------------------------------------------


def schema_problems(loaded: LoadedCatalog) -> Iterator[Problem]:
    for error in schema_validator().iter_errors(loaded.data):
        yield from _describe_schema_error(loaded, error)


def _describe(instance: Any) -> str:
    if isinstance(instance, bool):
        return f"boolean {str(instance).lower()}"
    if instance is None:
        return "nothing (null)"
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if isinstance(instance, str):
        return f"string {_short(instance)}"
    if isinstance(instance, int) and abs(instance) >= 10**18:
        return f"a {len(str(abs(instance)))}-digit number"
    text = repr(instance)
    return f"{type(instance).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


# Catalog keys that were renamed or removed, by (the key that holds them, key): what replaced them. An old
# catalog gets this instead of "unknown key" (CHANGELOG.md has the upgrade note of each).
RENAMED_KEYS = {
    ("alerting", "pagerduty_endpoint"): "replaced by `pagerduty_endpoint_secret` in 0.5.0: the name (under the "
                                        "environment's secret_prefix) of a Secrets Manager secret holding the "
                                        "PagerDuty endpoint, no longer the URL itself",
}


def _describe_schema_error(loaded: LoadedCatalog, error: jsonschema.ValidationError) -> Iterator[Problem]:
    path: CatalogPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    kind = error.validator
    hint = schema.get("description", "")
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            parent = next((part for part in reversed(path) if isinstance(part, str)), "")
            replaced = RENAMED_KEYS.get((parent, key))
            if replaced:
                yield loaded.problem((*path, key), f"{key!r} was {replaced} (CHANGELOG.md, upgrade notes)")
                continue
            suggestion = difflib.get_close_matches(key, allowed, n=1)
            maybe = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
            yield loaded.problem((*path, key), f"unknown key {key!r}{maybe} Allowed keys: {', '.join(allowed)}")
        return
    if kind == "required":
        missing = re.match(r"'(.*)' is a required property", error.message)
        name = missing.group(1) if missing else error.message
        description = schema.get("properties", {}).get(name, {}).get("description", "")
        yield loaded.problem(path, f"missing required key {name!r}" + (f" ({description})" if description else ""))
        return
    if error.relative_schema_path and "propertyNames" in error.relative_schema_path:
        if kind == "maxLength":
            reason = f"it has {len(instance)} characters; at most {error.validator_value} allowed"
        else:
            reason = hint or error.message
        yield loaded.problem(path, f"name {_short(str(instance))} is not allowed: {reason}")
        return
    if kind == "type":
        expected = schema.get("type")
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        message = f"expected {words}, found {_describe(instance)}"
        if isinstance(instance, float) and not math.isfinite(instance):
            message = f"expected a finite number, found {instance}"
        yield loaded.problem(path, message)
        return
    if kind == "enum":
        allowed_values = ", ".join(json.dumps(v) for v in schema["enum"])
        yield loaded.problem(path, f"{_describe(instance)} is not allowed; allowed values: {allowed_values}")
        return
    if kind == "pattern":
        yield loaded.problem(path, f"{_describe(instance)} is not allowed: {hint or 'must match ' + schema['pattern']}")
        return
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        low_word = "above" if "exclusiveMinimum" in schema else "at least"
        yield loaded.problem(path, f"{instance} is out of range; must be {low_word} {low} and at most {high}")
        return
    if kind in ("maxLength", "minLength"):
        yield loaded.problem(path, f"{_describe(instance)} has {len(instance)} characters; "
                                   f"{'at most' if kind == 'maxLength' else 'at least'} {error.validator_value} allowed")
        return
    if kind == "anyOf" and all("required" in option for option in schema.get("anyOf", [{}])):
        options = [", ".join(option.get("required", [])) for option in schema["anyOf"]]
        yield loaded.problem(path, f"needs at least one of: {' or '.join(options)}")
        return
    if kind in ("anyOf", "oneOf") and error.context:
        # Explain the alternative of the value's own shape (a mapping given for a text-or-mapping field).
        same_shape = [sub for sub in error.context if sub.validator != "type"]
        if same_shape:
            yield from _describe_schema_error(loaded, jsonschema.exceptions.best_match(same_shape))
            return
    if kind == "uniqueItems":
        yield loaded.problem(path, "lists the same value twice; remove the duplicate")
        return
    if kind in ("minProperties", "maxProperties") and schema.get("maxProperties") == 1:
        yield loaded.problem(path, f"give exactly one of: {', '.join(sorted(schema.get('properties', {})))}")
        return
    if kind in ("minItems", "minProperties"):
        yield loaded.problem(path, f"needs at least {error.validator_value} entr{'y' if error.validator_value == 1 else 'ies'}")
        return
    yield loaded.problem(path, error.message)


# ---------------------------------------------------------------------------
# References between parts of the catalog
# ---------------------------------------------------------------------------


def _unknown(loaded: LoadedCatalog, path: CatalogPath, kind: str, name: str, known: list[str]) -> Problem:
    suggestion = difflib.get_close_matches(name, known, n=1)
    maybe = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
    return loaded.problem(path, f"unknown {kind} {name!r}{maybe} Known: {', '.join(sorted(known)) or '(none)'}")


# Tags that name no build in particular.
MOVING_TAGS = ("latest", "stable", "main", "master", "release", "current")


def reference_problems(loaded: LoadedCatalog) -> Iterator[Problem]:
    data = loaded.data
    sizings = list(data["sizing"])
    groups = list(data["groups"])
    services = data["services"]
    stores = list(data["data_stores"])
    for name, group in data["groups"].items():
        if group["sizing"] not in data["sizing"]:
            yield _unknown(loaded, ("groups", name, "sizing"), "sizing", group["sizing"], sizings)
    renamed_by: dict[str, str] = {}
    for name, service in services.items():
        base: CatalogPath = ("services", name)
        if service["group"] not in data["groups"]:
            yield _unknown(loaded, (*base, "group"), "group", service["group"], groups)
        if "sizing" in service and service["sizing"] not in data["sizing"]:
            yield _unknown(loaded, (*base, "sizing"), "sizing", service["sizing"], sizings)
        for env_name, override in service.get("overrides", {}).items():
            where = (*base, "overrides", env_name)
            if env_name not in data["environments"]:
                yield _unknown(loaded, where, "environment", env_name, list(data["environments"]))
            if "sizing" in override and override["sizing"] not in data["sizing"]:
                yield _unknown(loaded, (*where, "sizing"), "sizing", override["sizing"], sizings)
            if "image_tag" in override and override["image_tag"] in MOVING_TAGS:
                yield loaded.problem((*where, "image_tag"), f"{override['image_tag']!r} is a moving tag; name one build "
                                                            "(a version or commit tag)")
        if service.get("protocol") is not None and "port" not in service:
            yield loaded.problem((*base, "protocol"), "`protocol` is what the port speaks; the service has no `port`")
        if service.get("protocol") == "grpc" and "command" not in service.get("health_check", {}):
            yield loaded.problem((*base, "protocol"), "a gRPC service needs `health_check.command` (e.g. "
                                                      "[\"/bin/grpc_health_probe\", \"-addr=:PORT\"]): the default "
                                                      "health check is an HTTP GET with wget")
        if service.get("protocol") == "tcp":
            for key in ("routes", "health_check_path"):
                if key in service:
                    yield loaded.problem((*base, key), f"a `tcp` service takes no `{key}`: the load balancers and their "
                                                       "health checks speak HTTP; callers reach it through Service Connect "
                                                       "(`calls`), and `health_check.command` checks it")
        if service.get("internal") and not service.get("routes"):
            yield loaded.problem((*base, "internal"), "`internal` puts the service's `routes` on the internal load "
                                                      "balancer; without routes it is reached only through Service Connect "
                                                      "anyway: remove `internal` or add routes")
        for index, callee in enumerate(service.get("calls", [])):
            where = (*base, "calls", index)
            if callee == name:
                yield loaded.problem(where, f"{name!r} calls itself; a service reaches itself without Service Connect")
            elif callee not in services:
                yield _unknown(loaded, where, "service", callee, list(services))
            elif "port" not in services[callee]:
                yield loaded.problem(where, f"{callee!r} has no `port`, so nothing can call it; give it a port or remove it here")
        for index, store in enumerate(service.get("data_stores", [])):
            if store not in data["data_stores"]:
                yield _unknown(loaded, (*base, "data_stores", index), "data store", store, stores)
        for key, value in (("", name), ("short_name", service.get("short_name"))):
            if naming.is_reserved(value):
                yield loaded.problem((*base, key) if key else base,
                                     f"{value!r} is reserved: the environment's own resources use it "
                                     f"({', '.join(naming.RESERVED_SERVICE_NAMES)} are taken); choose another name")
        previous = service.get("renamed_from")
        if previous is not None and previous in services:
            yield loaded.problem((*base, "renamed_from"),
                                 f"{previous!r} is still a service of the catalog; `renamed_from` names the old name of a renamed service")
        elif previous is not None and previous in renamed_by:
            yield loaded.problem((*base, "renamed_from"),
                                 f"{renamed_by[previous]!r} is already renamed from {previous!r}; one old name can become only one service")
        elif previous is not None:
            renamed_by[previous] = name
        if "port" not in service:
            for key in ("routes", "health_check_path"):
                if key in service:
                    yield loaded.problem((*base, key), f"`{key}` needs a `port` on the service (workers without a port take no traffic)")
    for env_name, env in data["environments"].items():
        if env["image_tag"] in MOVING_TAGS or env["image_tag"] in data["environments"]:
            yield loaded.problem(("environments", env_name, "image_tag"),
                                 f"{env['image_tag']!r} is a moving tag; ECR repositories are immutable and a deploy must "
                                 "name one build: use a version or commit tag (e.g. \"2026.11.0\")")
        source = env.get("promote_from")
        if source is not None and source not in data["environments"]:
            yield _unknown(loaded, ("environments", env_name, "promote_from"), "environment", source, list(data["environments"]))
        elif source == env_name:
            yield loaded.problem(("environments", env_name, "promote_from"), "an environment cannot promote from itself")
        for store in env["data_stores"]:
            if store not in data["data_stores"]:
                yield _unknown(loaded, ("environments", env_name, "data_stores", store), "data store", store, stores)
        for store in stores:
            if store not in env["data_stores"]:
                yield loaded.problem(("environments", env_name, "data_stores"),
                                     f"no security group given for data store {store!r}; add `{store}: {{tags: ...}}` or `{{id: sg-...}}`")
    for name, task in data.get("scheduled_tasks", {}).items():
        for index, store in enumerate(task.get("data_stores", [])):
            if store not in data["data_stores"]:
                yield _unknown(loaded, ("scheduled_tasks", name, "data_stores", index), "data store", store, stores)


# ---------------------------------------------------------------------------
# Checks on the resolved model
# ---------------------------------------------------------------------------

def model_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    yield from _migration_problems(loaded, catalog)
    yield from _apply_time_problems(loaded, catalog)
    yield from _scheduled_task_problems(loaded, catalog)
    yield from _sizing_problems(loaded, catalog)
    yield from _variable_problems(loaded, catalog)
    yield from _environment_problems(loaded, catalog)
    for environment in catalog.environments:
        deployment = catalog.deployment(environment)
        yield from _listener_problems(loaded, deployment)
        yield from _name_problems(loaded, deployment)
        yield from _stack_problems(loaded, deployment)
    yield from quota_problems(loaded, catalog)


def _variants(catalog: Catalog) -> list[Service]:
    """Every service as the catalog gives it, and as each environment whose override changes its sizing runs it."""
    variants = list(catalog.services)
    variants += [variant for service in catalog.services for env_name, _ in service.overrides
                 if (variant := service.in_environment(env_name)) is not None and variant.sizing_source != service.sizing_source]
    return variants


def fargate_memory_problem(cpu: int, memory: int) -> str | None:
    allowed = FARGATE_MEMORY_BY_CPU.get(cpu)
    if allowed is None:
        return f"cpu {cpu} is not a Fargate size; allowed: {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}"
    if memory in allowed:
        return None
    if len(allowed) <= 4:
        choices = ", ".join(map(str, allowed))
    else:
        choices = f"{allowed[0]} to {allowed[-1]} in steps of {allowed[1] - allowed[0]}"
    return f"Fargate does not accept cpu {cpu} with memory {memory}; with cpu {cpu} memory must be {choices} (MiB)"


def _sizing_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    reported: set[CatalogPath] = set()
    for service in _variants(catalog):
        sizing = service.sizing
        where = service.sizing_source
        if where in reported:  # a shared named sizing is reported once, where it is defined
            continue
        message = fargate_memory_problem(sizing.cpu, sizing.memory)
        if message:
            reported.add(where)
            yield loaded.problem((*where, "memory"), message)
        if sizing.min_tasks > sizing.max_tasks:
            reported.add(where)
            yield loaded.problem((*where, "min_tasks"),
                                 f"min_tasks {sizing.min_tasks} is greater than max_tasks {sizing.max_tasks}")


def _migration_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    """The legacy side, per-service steps and per-host DNS of environments that are migrating."""
    services = {service.name: service for service in catalog.services}
    labels = {label for service in catalog.services for route in service.routes for label in route.host_labels}
    internal_labels = {label for service in catalog.services if service.internal
                       for route in service.routes for label in route.host_labels}
    public_labels = {label for service in catalog.services if not service.internal
                     for route in service.routes for label in route.host_labels}
    for label in sorted(internal_labels & public_labels):
        owner = next(s for s in catalog.services if s.internal and any(label in r.host_labels for r in s.routes))
        yield loaded.problem((*owner.source, "internal"),
                             f"the host label {label!r} is used by internal and internet-facing services; one name "
                             "resolves to one load balancer: give the internal routes their own host")
    for service in catalog.services:
        for callee in service.calls:
            variable = url_variable(callee)
            if variable in dict(service.environment):
                yield loaded.problem((*service.source, "environment", variable),
                                     f"{variable} is set from `calls` ({callee!r}'s URL: Service Connect on ECS, the "
                                     "legacy URL before); remove it here")
            for env_name, override in service.overrides:
                if variable in dict(override.environment):
                    yield loaded.problem((*service.source, "overrides", env_name, "environment", variable),
                                         f"{variable} is set from `calls` ({callee!r}'s URL); an override here would "
                                         f"silently replace the Service Connect URL in {env_name!r}: remove it")
    for environment in catalog.environments:
        where = environment.source
        legacy = environment.legacy
        if legacy is None and environment.migration:
            yield loaded.problem((*where, "migration"), "`migration` needs `legacy` (the Kubernetes ingress the other "
                                                        "share of requests goes to); without it every service is on ECS")
        if environment.dns and environment.dns_zone is None:
            yield loaded.problem((*where, "dns"), "`dns` needs `dns_zone`: records can only be managed in a zone")
        for label, mode in environment.dns:
            if mode == DnsTarget.LEGACY and (legacy is None or legacy.ingress.dns_alias_name is None):
                yield loaded.problem((*where, "dns", label), "`legacy` points the host at the Kubernetes ingress, which "
                                                             "needs `legacy.ingress.dns_alias` (its DNS name and zone id)")
            if mode == DnsTarget.EDGE and environment.edge is None:
                yield loaded.problem((*where, "dns", label), "`edge` points the host at CloudFront, which needs "
                                                             f"environments.{environment.name}.edge")
            if label not in labels:
                yield loaded.problem((*where, "dns", label), f"no route uses the host label {label!r}; "
                                                             f"known: {', '.join(sorted(labels))}")
        deployment = catalog.deployment(environment)
        yield from _edge_problems(loaded, environment, labels, set(deployment.host_labels),
                                  any(service.routes for service in deployment.enabled_services if not service.internal))
        for name, step in environment.migration:
            if name not in services:
                yield _unknown(loaded, (*where, "migration", name), "service", name, list(services))
            elif services[name].in_environment(environment.name) is None:
                yield loaded.problem((*where, "migration", name), f"{name!r} is left out of {environment.name!r} "
                                     f"(services.{name}.overrides.{environment.name}.enabled: false); remove it here")
            elif services[name].internal and step.state == MigrationState.SPLIT:
                yield loaded.problem((*where, "migration", name),
                                     f"{name!r} is internal: its rules live on the internal load balancer, which "
                                     "cannot forward to the Kubernetes ingress's target group (a target group belongs "
                                     "to one load balancer). Move it at once with `ecs`")
        for label, mode in environment.dns:
            if mode == DnsTarget.EDGE and label in internal_labels:
                yield loaded.problem((*where, "dns", label), f"{label!r} is a host of an internal service; CloudFront "
                                                             "cannot reach the internal load balancer: use `alb`")
            if mode == DnsTarget.LEGACY and label in internal_labels:
                yield loaded.problem((*where, "dns", label), f"{label!r} is a host of an internal service: its record "
                                                             "aliases the internal load balancer whatever `dns` says, "
                                                             "so `legacy` would be ignored; use `alb`, or leave the host "
                                                             "out of `dns`")
        yield from _override_problems(loaded, catalog, environment)
        if legacy is not None and legacy.service_url is not None:
            url_port = _url_port(legacy.service_url)
            if url_port != legacy.ingress.port:
                yield loaded.problem((*where, "legacy", "service_url"),
                                     f"the URL's port is {url_port} but the ingress listens on {legacy.ingress.port}; "
                                     "ECS tasks may only reach the ingress, so the legacy URL must lead to it")
        for deployed in deployment.services:
            service = deployed.service
            reached = {variable for variable, _ in deployed.callee_urls}
            for index, callee in enumerate(service.calls):
                variable = url_variable(callee)
                if callee in services and variable not in reached:
                    yield loaded.problem(
                        (*service.source, "calls", index),
                        f"in environment {environment.name!r} {service.name!r} runs on ECS but {callee!r} does not take "
                        f"all its requests there yet, so it needs a legacy URL: set "
                        f"environments.{environment.name}.legacy.service_url (e.g. https://{{service}}.internal.example)")


def _override_problems(loaded: LoadedCatalog, catalog: Catalog, environment: Environment) -> Iterator[Problem]:
    """What leaving a service out of an environment breaks there, and what a service that runs there needs
    of it (its EFS file systems)."""
    enabled = {service.name for service in catalog.services if service.in_environment(environment.name) is not None}
    file_systems = dict(environment.file_systems)
    for service in catalog.services:
        if service.name not in enabled:
            continue
        for volume in service.efs_volumes:
            if volume.file_system not in file_systems:
                yield loaded.problem((*service.source, "efs_volumes", volume.name, "file_system"),
                                     f"environment {environment.name!r} has no file system {volume.file_system!r} "
                                     f"(environments.{environment.name}.file_systems; known: "
                                     f"{', '.join(sorted(file_systems)) or '(none)'})")
        for index, callee in enumerate(service.calls):
            if callee not in enabled:
                yield loaded.problem((*service.source, "calls", index),
                                     f"{service.name!r} calls {callee!r}, which is left out of {environment.name!r} "
                                     f"(services.{callee}.overrides.{environment.name}.enabled: false); leave "
                                     f"{service.name!r} out there as well, or enable {callee!r}")
    prefix = environment.ssm_parameter_prefix
    uses_ssm = any(service.ssm_secrets for service in catalog.services) or any(t.ssm_secrets for t in catalog.scheduled_tasks)
    if uses_ssm and not re.fullmatch(r"/[A-Za-z0-9/_.-]*", prefix):
        yield loaded.problem((*environment.source, "secret_prefix"),
                             f"SSM parameter names allow letters, digits and / _ . -, so the default parameter prefix "
                             f"{prefix!r} (from secret_prefix) cannot be used; set ssm_parameter_prefix")


# A security-group rule that references a managed prefix list counts as the list's maximum number
# of entries against the group's rule quota (VPC user guide, "Prefix lists"; "Amazon VPC quotas":
# 60 inbound rules per group). CloudFront's origin-facing list declares 55 entries.
CLOUDFRONT_PREFIX_LIST_WEIGHT = 55
MAX_INBOUND_RULES_PER_SECURITY_GROUP = 60


def _edge_problems(loaded: LoadedCatalog, environment: Environment, labels: set[str],
                   internet_labels: set[str], internet_routes: bool) -> Iterator[Problem]:
    """`labels`: every host label of the catalog; `internet_labels`: this environment's internet-facing ones, the
    only hosts CloudFront answers for (internal hosts never go through it)."""
    edge = environment.edge
    if edge is None:
        return
    where = (*environment.source, "edge")
    if environment.dns_zone is None:
        yield loaded.problem(where, f"`edge` needs `dns_zone`: CloudFront reaches the load balancer as "
                                    f"{environment.origin_host}, an alias record in the zone")
    for label in sorted(label for label in labels if re.fullmatch(r"origin(-[0-9]+)?", label)):
        yield loaded.problem(where, f"a route uses the host label {label!r}, but with `edge` {label}.{environment.domain} "
                                    "is a load balancer's own name for CloudFront (origin, origin-2, ...); rename the host label")
    if internet_routes and not {label for label in internet_labels if not label.startswith("*")}:
        yield loaded.problem(where, "`edge` needs routes with hosts: CloudFront answers only for the host names it is "
                                    "given (aliases), and the load balancer then takes only CloudFront, so with path-only "
                                    "routes no request would reach a service; give the routes `hosts`, or remove `edge`")
    names = (edge.certificate_domain, *edge.certificate_alternative_names)
    for label in sorted(internet_labels):
        host = f"{label}.{environment.domain}"
        if not certificate_names_cover(names, host):
            yield loaded.problem(where, f"the us-east-1 certificate for CloudFront ({', '.join(names)}) does not cover "
                                        f"{host}; set edge.certificate_domain or edge.certificate_alternative_names")
    cidrs = len(environment.legacy.cluster_cidrs) if environment.legacy else 0
    if CLOUDFRONT_PREFIX_LIST_WEIGHT + cidrs > MAX_INBOUND_RULES_PER_SECURITY_GROUP:
        yield loaded.problem((*environment.source, "legacy", "cluster_cidrs"),
                             f"behind CloudFront the load balancer's security group holds CloudFront's prefix list "
                             f"(counted as {CLOUDFRONT_PREFIX_LIST_WEIGHT} rules) and one rule per cluster CIDR: "
                             f"{CLOUDFRONT_PREFIX_LIST_WEIGHT + cidrs} of the {MAX_INBOUND_RULES_PER_SECURITY_GROUP} "
                             "inbound rules a group may have; list at most "
                             f"{MAX_INBOUND_RULES_PER_SECURITY_GROUP - CLOUDFRONT_PREFIX_LIST_WEIGHT} CIDRs")


def _url_port(url: str) -> int:
    after_host = url.split("://", 1)[1]
    if ":" in after_host:
        return int(after_host.rsplit(":", 1)[1])
    return 443 if url.startswith("https://") else 80


# Values that are credentials whatever their variable is called.
SECRET_LOOKING_VALUES = (
    (re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@"), "a URL with a password"),
    (re.compile(r"(?i)(?:^|;)\s*(?:password|pwd)\s*=\s*[^;\s]"), "a connection string with a password"),
    (re.compile(r"\bA(KIA|SIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\b(sk|rk)_live_[0-9A-Za-z]{10,}"), "a Stripe secret key"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"^https://[0-9a-f]{32}@[a-z0-9.-]*sentry\.io/"), "a Sentry DSN with its key"),
)


def _high_entropy(value: str) -> bool:
    """A long token of mixed letters and digits with high character entropy: likely a generated secret."""
    if len(value) < 32 or any(c.isspace() for c in value) or "/" in value.strip("/")[:8]:
        return False
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
    counts = {c: value.count(c) for c in set(value)}
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return classes >= 3 and entropy >= 4.2


def credential_kind(value: str) -> str | None:
    for pattern, kind in SECRET_LOOKING_VALUES:
        if pattern.search(value):
            return kind
    return "a long random-looking token" if _high_entropy(value) else None


def _variable_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    reviewed = {service.name: set(loaded.data["services"][service.name].get("reviewed_plain_variables", {}))
                for service in catalog.services}
    plain_variables = [(service, (*service.source, "environment"), service.environment) for service in catalog.services]
    plain_variables += [(service, (*override.source, "environment"), override.environment)
                        for service in catalog.services for _, override in service.overrides]
    for service, path, environment in plain_variables:
        secret_vars = {var for var, _ in (*service.secrets, *service.ssm_secrets)}
        for var, value in environment:
            where = (*path, var)
            if var in secret_vars:
                yield loaded.problem(where, f"{var} is set both here and in `secrets`; keep only the secret")
                continue
            if var in reviewed[service.name]:
                continue
            kind = credential_kind(value)
            if SECRET_LOOKING_NAME.search(var):
                yield loaded.problem(where, f"{var} looks like a credential; plain environment values are visible in the "
                                            "task definition, so put it in `secrets` (a Secrets Manager secret name), or, "
                                            f"if it is not one, list it under `reviewed_plain_variables` with the reason")
            elif kind:
                yield loaded.problem(where, f"the value of {var} looks like {kind}; put it in `secrets`, or, if it is not "
                                            "a credential, list it under `reviewed_plain_variables` with the reason")
    for service in catalog.services:
        plain = {name for name, _ in service.environment}
        plain |= {name for _, override in service.overrides for name, _ in override.environment}
        for var in sorted(reviewed[service.name] - plain):
            yield loaded.problem((*service.source, "reviewed_plain_variables", var),
                                 f"{var} is not a plain environment variable of {service.name!r}; remove it here")
    # Sidecars' and scheduled tasks' variables land in task definitions just the same.
    others = [((*service.source, "sidecars", sidecar.name, "environment"), sidecar.environment)
              for service in catalog.services for sidecar in service.sidecars]
    others += [((*task.source, "environment"), task.environment) for task in catalog.scheduled_tasks]
    others += [((*override.source, "environment"), override.environment)
               for task in catalog.scheduled_tasks for _, override in task.overrides]
    for path, environment_variables in others:
        for var, value in environment_variables:
            kind = credential_kind(value)
            if SECRET_LOOKING_NAME.search(var) or kind:
                what = f"the value of {var} looks like {kind}" if kind else f"{var} looks like a credential"
                yield loaded.problem((*path, var), f"{what}; plain values are visible in the task definition: "
                                                   "give it to the service's or task's `secrets` instead")
    for environment in catalog.environments:
        for var, value in environment.environment:
            kind = credential_kind(value)
            if SECRET_LOOKING_NAME.search(var) or kind:
                what = f"the value of {var} looks like {kind}" if kind else f"{var} looks like a credential"
                yield loaded.problem((*environment.source, "environment", var),
                                     f"{what}; put it in the services' `secrets` instead")


def _environment_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    domain_owner: dict[str, str] = {}
    for environment in catalog.environments:
        owner = domain_owner.setdefault(environment.domain, environment.name)
        if owner != environment.name:
            yield loaded.problem((*environment.source, "domain"),
                                 f"domain {environment.domain!r} is also the domain of environment {owner!r}; "
                                 "their host rules would collide")
        if environment.dns_zone and not (environment.domain == environment.dns_zone
                                         or environment.domain.endswith("." + environment.dns_zone)):
            yield loaded.problem((*environment.source, "dns_zone"),
                                 f"zone {environment.dns_zone!r} cannot hold records for {environment.domain!r}")


# AWS limits that only `terraform apply` would otherwise report (documentation cited per check).
MAX_TAGS = 50                      # "Tagging AWS resources": 50 user tags per resource
MAX_HOST_HEADER_LENGTH = 128       # ALB listener rule conditions: host header values up to 128 characters
S3_BUCKET = re.compile(r"^(?!xn--)(?!sthree-)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3 bucket naming rules


def _apply_time_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    """What validates against the schema but AWS would refuse at apply, or that would misbehave there."""
    if catalog.platform.name.startswith("internal"):
        yield loaded.problem(("platform", "name"), "load balancer names may not start with `internal-` (AWS reserves it "
                                                   "for internal load balancers' DNS names); choose another platform name")
    for environment in catalog.environments:
        for key, _ in environment.tags:
            if key.lower().startswith("aws:"):
                yield loaded.problem((*environment.source, "tags", key), "tag keys starting with `aws:` are reserved by AWS")
        # The provider's default tags plus the few each resource sets itself.
        if len(environment.tags) > MAX_TAGS - 5:
            yield loaded.problem((*environment.source, "tags"), f"{len(environment.tags)} tags; AWS allows {MAX_TAGS} per "
                                                                "resource and the generator adds up to 5")
        deployment = catalog.deployment(environment)
        env_vars = dict(environment.environment)
        certificate_names = (environment.certificate_domain, *environment.certificate_alternative_names)
        for svc in deployment.services:
            service = svc.service
            for rule in svc.listener_rules:
                for host in rule.hosts:
                    if not certificate_names_cover(certificate_names, host):
                        yield loaded.problem((*environment.source, "certificate_domain"),
                                             f"the certificate ({', '.join(certificate_names)}) does not cover {host} "
                                             f"(a route of {service.name!r}); browsers would refuse it. Use a certificate "
                                             f"for *.{environment.domain} or list its other names in "
                                             "certificate_alternative_names")
                    if len(host) > MAX_HOST_HEADER_LENGTH:
                        yield loaded.problem((*rule.source, "hosts"), f"in environment {environment.name!r} the host "
                                             f"{host[:40]}... has {len(host)} characters; an ALB matches at most {MAX_HOST_HEADER_LENGTH}")
            for var, _ in (*service.secrets, *service.ssm_secrets):
                if var in env_vars:
                    yield loaded.problem((*environment.source, "environment", var),
                                         f"{var} is also a secret of {service.name!r}; a name cannot be both plain and secret")
            for arn in svc.s3_read_bucket_arns:
                bucket = arn.rsplit(":", 1)[1]
                if not S3_BUCKET.match(bucket) or ".." in bucket:
                    yield loaded.problem((*service.source, "s3_read_buckets"),
                                         f"in environment {environment.name!r} {bucket!r} is not a valid S3 bucket name "
                                         "(3-63 lowercase letters, digits, dots and hyphens)")
    for service in _variants(catalog):
        if service.load_balanced and service.sizing.min_tasks < 1:
            yield loaded.problem(service.sizing_source, f"{service.name!r} takes load-balancer traffic, so it needs "
                                 "min_tasks of 1 or more: at 0 nothing serves its routes and its healthy-hosts alarm pages")
        base = next((share.base for share in service.capacity if share.capacity_provider == "FARGATE"), 0)
        if base and base >= service.sizing.max_tasks and any(s.capacity_provider == "FARGATE_SPOT" for s in service.capacity):
            yield loaded.problem(("groups", service.group, "on_demand_base"),
                                 f"the on-demand base {base} is at or above {service.name!r}'s max_tasks "
                                 f"{service.sizing.max_tasks}: its Spot share would never apply")
        if service.cpu_architecture == "ARM64" and any(s.capacity_provider == "FARGATE_SPOT" for s in service.capacity):
            yield loaded.problem((*service.source, "cpu_architecture"),
                                 f"Fargate Spot does not run ARM64 tasks, and {service.name!r}'s group "
                                 f"{service.group!r} puts part of it on Spot; use a group with spot_percentage 0 "
                                 "or X86_64")
        yield from _sidecar_problems(loaded, service)
        volume_paths: dict[str, str] = {}
        for volume_name, path in service.scratch_volumes:
            if volume_name in volume_paths:
                yield loaded.problem((*service.source, "scratch_paths"),
                                     f"{path} and {volume_paths[volume_name]} would share the task volume "
                                     f"{volume_name!r} (volume names keep only letters, digits, - and _); rename one")
            volume_paths[volume_name] = path
        mounted = [path for _, path in service.scratch_volumes]
        for volume in service.efs_volumes:
            if any(volume.path == other or volume.path.startswith(other.rstrip("/") + "/")
                   or other.startswith(volume.path + "/") for other in mounted):
                yield loaded.problem((*service.source, "efs_volumes", volume.name, "path"),
                                     f"{volume.path} overlaps another mount of the container ({', '.join(mounted)}); "
                                     "give each volume its own directory")
            mounted.append(volume.path)


def _scheduled_task_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    services = {service.name for service in catalog.services}
    environments = [environment.name for environment in catalog.environments]
    for task in catalog.scheduled_tasks:
        if task.name in services:
            yield loaded.problem(task.source, f"{task.name!r} is also a service; task families, roles and log groups "
                                              "would collide: rename one")
        variants = [task]
        for env_name, override in task.overrides:
            if env_name not in environments:
                yield _unknown(loaded, override.source, "environment", env_name, environments)
            variant = task.in_environment(env_name)
            if variant is not None and variant.size_source is not None:
                variants.append(variant)
        for variant in variants:
            problem = fargate_memory_problem(variant.cpu, variant.memory)
            if problem:
                yield loaded.problem((*(variant.size_source or variant.source), "memory"), problem)


def _sidecar_problems(loaded: LoadedCatalog, service: Service) -> Iterator[Problem]:
    """What ECS would refuse in a task's container list (RegisterTaskDefinition)."""
    where = (*service.source, "sidecars")
    containers = {service.name, *(sidecar.name for sidecar in service.sidecars)}
    ports = {service.port} if service.port else set()
    for sidecar in service.sidecars:
        here = (*where, sidecar.name)
        if sidecar.name == service.name:
            yield loaded.problem(here, "a sidecar cannot have the service's own name (container names are unique)")
        for container in dict(sidecar.depends_on):
            if container not in containers or container == sidecar.name:
                yield loaded.problem((*here, "depends_on", container),
                                     f"no other container named {container!r} in the task; known: {', '.join(sorted(containers))}")
        if sidecar.port is not None:
            if sidecar.port in ports:
                yield loaded.problem((*here, "port"), f"port {sidecar.port} is already used in this task (awsvpc tasks "
                                                      "share one network namespace)")
            ports.add(sidecar.port)
        tag = sidecar.image.rsplit(":", 1)[-1] if "@" not in sidecar.image else ""
        if tag in MOVING_TAGS:
            yield loaded.problem((*here, "image"), f"{tag!r} is a moving tag; pin the sidecar to a version or digest")
        if sidecar.run_before_service and service.name in dict(sidecar.depends_on):
            yield loaded.problem(here, "the sidecar waits for the service and the service waits for it: a start cycle")
    if sum(1 for sidecar in service.sidecars if sidecar.log_router) > 1:
        yield loaded.problem(where, "a task has at most one log router")
    cpu = sum(sidecar.cpu or 0 for sidecar in service.sidecars)
    memory = sum(sidecar.memory or 0 for sidecar in service.sidecars)
    if cpu >= service.sizing.cpu or memory >= service.sizing.memory:
        yield loaded.problem(where, f"the sidecars reserve {cpu} CPU units and {memory} MiB of the task's "
                                    f"{service.sizing.cpu} and {service.sizing.memory}; leave room for the service's container")


def certificate_names_cover(names: tuple[str, ...], host: str) -> bool:
    """TLS name matching (RFC 6125 6.4.3) against any of a certificate's names: a wildcard stands for
    exactly one leftmost label."""
    parent = host.split(".", 1)[1] if "." in host else None
    return any(name == host or (name.startswith("*.") and name[2:] == parent) for name in names)


def _name_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    env = deployment.environment
    extra = [(limit, name) for balancer in deployment.load_balancers[1:]
             for limit, name in ((naming.ALB, balancer.names.alb), (naming.WAF_ACL, balancer.names.web_acl),
                                 (naming.WAF_ACL, balancer.names.edge_web_acl))]
    for limit, name in [*naming.environment_limited_names(deployment.names), *extra]:
        if len(name) > limit.limit:
            yield loaded.problem((*env.source,),
                                 f"{limit.what} {name!r} has {len(name)} characters; AWS allows {limit.limit}: "
                                 "shorten the platform or environment name")
    for deployed in deployment.services:
        for limit, name, shortener in deployed.names.limited_names(deployed.service.load_balanced):
            if len(name) > limit.limit:
                yield loaded.problem(deployed.service.source,
                                     f"in environment {env.name!r} the {limit.what} {name!r} has {len(name)} characters; "
                                     f"AWS allows {limit.limit}: shorten {shortener}")


def _stack_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    """A `layout: stacks` environment: stack names that are directory names of their own, and stacks small
    enough to plan in seconds."""
    env = deployment.environment
    if env.layout != "stacks":
        return
    if env.legacy is not None:
        yield loaded.problem((*env.source, "layout"),
                             "an environment that still migrates from Kubernetes (`legacy`) keeps `layout: single`: a "
                             "service moving to ECS takes over the load balancer's rule for its routes, which a `moved` "
                             "block cannot carry from the platform stack's state into its group's. Switch to `stacks` "
                             "once `legacy` is gone")
    limit = deployment.platform.max_services_per_stack
    for stack in deployment.stacks[1:]:
        first = stack.services[0].service
        if stack.name == PLATFORM_STACK:
            yield loaded.problem((*first.source, "stack" if first.stack != first.group else "group"),
                                 f"{PLATFORM_STACK!r} is the name of the environment's shared stack; give the services "
                                 "of this group another `stack`")
        if len(stack.services) > limit:
            over = stack.services[limit].service
            yield loaded.problem(over.source,
                                 f"stack {stack.name!r} of environment {env.name!r} would hold {len(stack.services)} "
                                 f"services; `platform.max_services_per_stack` allows {limit} (each is about 26 resources "
                                 f"to plan): give this and later ones `stack: {stack.name}-2`, or raise the limit")


def _listener_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    """Priorities, quotas and reachability of the rules on each load balancer's HTTPS listener."""
    public: list[tuple[ListenerRule, str]] = [
        (rule, svc.name) for svc in deployment.public_services for rule in svc.listener_rules
    ] + [(route.rule, route.service) for route in deployment.legacy_routes]
    # Priorities are unique over every internet-facing listener: placement may move a group between load
    # balancers, and its rules must not collide where they land.
    yield from _priority_problems(loaded, public)
    quotas = deployment.platform.load_balancer_quotas
    several = len(deployment.load_balancers) > 1
    for balancer in deployment.load_balancers:
        rules = [(rule, svc.name) for svc in balancer.services for rule in svc.listener_rules] + [
            (route.rule, route.service) for route in balancer.legacy_routes]
        which = f"internet-facing (load balancer {balancer.number})" if several else "internet-facing"
        yield from _one_listener_problems(loaded, rules, balancer.target_groups, which, quotas.listener_rules,
                                          quotas.target_groups, check_priorities=False)
    internal = [(rule, svc.name) for svc in deployment.internal_services for rule in svc.listener_rules]
    yield from _one_listener_problems(loaded, internal, len(deployment.internal_services), "internal",
                                      MAX_RULES_PER_LISTENER, MAX_TARGET_GROUPS_PER_ALB)
    env = deployment.environment
    for group, other, pin, other_pin in deployment.load_balancer_pin_conflicts:
        yield loaded.problem(("groups", group, "load_balancer"),
                             f"in environment {env.name!r} group {group!r} shares a host with group {other!r}, pinned to "
                             f"load balancer {other_pin}; a host's DNS points at one load balancer: pin both to the same one")
    if env.legacy is not None:
        for group, pin in deployment.catalog.load_balancer_pins:
            if pin != 1:
                yield loaded.problem(("groups", group, "load_balancer"),
                                     f"environment {env.name!r} still migrates from Kubernetes (`legacy`): every route stays "
                                     "on load balancer 1, where the ingress's target group and the hosts' DNS are; pin "
                                     "groups to other load balancers once `legacy` is gone")


def _priority_problems(loaded: LoadedCatalog, rules: list[tuple[ListenerRule, str]]) -> Iterator[Problem]:
    by_priority: dict[int, list[tuple[ListenerRule, str]]] = defaultdict(list)
    for rule, owner in rules:
        by_priority[rule.priority].append((rule, owner))
    for priority, claimants in by_priority.items():
        first_rule, first_owner = claimants[0]
        for rule, owner in claimants[1:]:
            yield loaded.problem((*rule.source, "priority"),
                                 f"priority {priority} is already used by {first_owner!r} "
                                 f"(line {loaded.line_of((*first_rule.source, 'priority'))}); "
                                 "listener-rule priorities must be unique")


def _one_listener_problems(loaded: LoadedCatalog, rules: list[tuple[ListenerRule, str]], target_groups: int,
                           which: str, max_rules: int, max_target_groups: int,
                           check_priorities: bool = True) -> Iterator[Problem]:
    for rule, owner in rules:
        values = len(rule.hosts) + len(rule.paths)
        if values > MAX_CONDITION_VALUES_PER_RULE:
            yield loaded.problem(rule.source, f"rule has {values} host and path values; an ALB rule allows "
                                              f"{MAX_CONDITION_VALUES_PER_RULE} in all: split it into several routes")
        wildcards = sum(value.count("*") + value.count("?") for value in (*rule.hosts, *rule.paths))
        if wildcards > MAX_WILDCARDS_PER_RULE:
            yield loaded.problem(rule.source, f"rule has {wildcards} wildcards (* and ?) in its hosts and paths; an ALB "
                                              f"rule allows {MAX_WILDCARDS_PER_RULE}: split it into several routes")
    if check_priorities:
        yield from _priority_problems(loaded, rules)
    if len(rules) > max_rules:
        first_over = sorted(rules, key=lambda item: item[0].priority)[max_rules][0]
        yield loaded.problem(first_over.source,
                             f"the {which} listener would hold {len(rules)} rules; an ALB listener allows "
                             f"{max_rules}, and this is rule {max_rules + 1} by priority: "
                             "merge routes, or serve some services without routes (Service Connect only) or on the internal load "
                             "balancer (a group's routes are placed together, on one load balancer)")
    if target_groups > max_target_groups:
        yield loaded.problem(("services",), f"the {which} load balancer would have {target_groups} target groups; "
                                            f"one ALB allows {max_target_groups}")
    if len(rules) > max_rules:
        return  # the reachability check below is quadratic, and pointless on a listener AWS refuses anyway
    ordered = sorted(rules, key=lambda item: item[0].priority)
    for index, (later, later_owner) in enumerate(ordered):
        for earlier, earlier_owner in ordered[:index]:
            if earlier.priority == later.priority:
                continue
            if _covers(earlier.hosts, later.hosts, _host_covers) and _covers(earlier.paths, later.paths, _path_covers):
                yield loaded.problem(
                    (*later.source, "priority"),
                    f"this rule (priority {later.priority}, {later_owner!r}) can never match: the rule of "
                    f"{earlier_owner!r} at priority {earlier.priority} (line {loaded.line_of(earlier.source)}) matches "
                    f"every request it would; give this rule a smaller priority number than {earlier.priority}",
                )
                break


def _covers(broader: tuple[str, ...], narrower: tuple[str, ...], covers: Any) -> bool:
    """Does the condition `broader` match every request `narrower` matches? (No values: matches all.)"""
    if not broader:
        return True
    if not narrower:
        return False
    return all(any(covers(b, n) for b in broader) for n in narrower)


def _path_covers(broader: str, narrower: str) -> bool:
    if broader == narrower:
        return True
    head = broader[:-1]
    return broader.endswith("*") and "*" not in head and "?" not in head and narrower.startswith(head)


def _host_covers(broader: str, narrower: str) -> bool:
    if broader == narrower:
        return True
    return broader.startswith("*.") and narrower.endswith(broader[1:])
