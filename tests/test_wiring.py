"""Every module's wiring, followed from the catalog file through the environment root into
the resources, and compared with the catalog and the design document.

Expectations come from two places only: the raw catalog YAML (read here with PyYAML, not
through the generator) and the numbers of `shared/design/ecs-fargate-architecture.md`
written out below. The generator's model is never asked what the output should be, so a
bug in the model, in a root template or in a module shows up the same way.

The resolver follows plain references (`var.x.y`, `each.value.x`, `<block>.value.x`) from a
module's resources back to the values the root passes in; that is all the modules use for
the attributes checked here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import COMMITTED_OUT, GOLDEN_TREE, NEXUS_CATALOG, ORBIT_CATALOG
from catalog_expectations import (
    DESIGN_5XX_ALARM, DESIGN_CPU_ALARM, DESIGN_MEMORY_ALARM, expected_autoscaling, expected_capacity,
    expected_health_path, expected_sizing, raw_catalog, scheduled_task_in, services_on_ecs,
)
from hcl_reading import blocks, literal, load, platform_file, resources
from hcl_reading import service_modules as all_service_modules

CASES = [(NEXUS_CATALOG, COMMITTED_OUT), (ORBIT_CATALOG, GOLDEN_TREE)]
_REFERENCE = re.compile(r"^\$\{([a-z_]+(?:\.[a-z_]+)+)\}$")


def resolve(expression: Any, scope: dict[str, Any]) -> Any:
    """The value of a plain reference (`${var.autoscaling.cpu_target}`) in `scope`, or the literal."""
    if isinstance(expression, str):
        match = _REFERENCE.match(expression)
        if match:
            head, *rest = match.group(1).split(".")
            if head not in scope:
                raise AssertionError(f"{expression} is not a plain reference into {sorted(scope)}")
            value = scope[head]
            for part in rest:
                value = value[part]
            return value
    return literal(expression)


def dynamic(body: dict[str, Any], name: str, for_each: str | None = None) -> dict[str, Any]:
    """The one dynamic block `name` (of several, the one iterating `for_each`)."""
    found = [block[f'"{name}"'] for block in body.get("dynamic", []) if f'"{name}"' in block]
    if for_each is not None:
        found = [block for block in found if block["for_each"] == for_each]
    assert len(found) == 1, f"expected one dynamic {name!r} block"
    return found[0]


def service_modules(out: Path, env_name: str, source: str = "ecs-service") -> dict[str, dict[str, Any]]:
    modules = all_service_modules(out, env_name)
    return {literal(module["name"]): literal(module) for module in modules.values()
            if literal(module["source"]).endswith(f"/modules/{source}")}


@pytest.fixture(scope="module", params=CASES, ids=["nexus", "orbit"])
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Path]:
    catalog_path, out = request.param
    return raw_catalog(catalog_path), out


@pytest.fixture(scope="module")
def service_resources() -> dict[tuple[str, str], Any]:
    return resources(load(COMMITTED_OUT / "modules" / "ecs-service" / "main.tf"))


def _each_service(data: dict[str, Any], out: Path):
    for env_name, env in data["environments"].items():
        modules = service_modules(out, env_name)
        on_ecs = services_on_ecs(data, env)
        assert set(modules) == set(on_ecs), env_name
        for name, service in on_ecs.items():
            yield env_name, env, name, service, {"var": modules[name]}


def test_autoscaling_targets_and_all_four_cooldowns(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    target = service_resources[("aws_appautoscaling_target", "this")]
    cpu = service_resources[("aws_appautoscaling_policy", "cpu")]["target_tracking_scaling_policy_configuration"][0]
    memory = service_resources[("aws_appautoscaling_policy", "memory")]["target_tracking_scaling_policy_configuration"][0]
    for _, _, name, service, scope in _each_service(data, out):
        want = expected_autoscaling(data, service)
        sizing = expected_sizing(data, service)
        assert (resolve(target["min_capacity"], scope), resolve(target["max_capacity"], scope)) == (
            sizing["min_tasks"], sizing["max_tasks"]), name
        got_cpu = {key: resolve(cpu[key], scope) for key in ("target_value", "scale_in_cooldown", "scale_out_cooldown")}
        got_memory = {key: resolve(memory[key], scope) for key in ("target_value", "scale_in_cooldown", "scale_out_cooldown")}
        assert got_cpu == {"target_value": want["cpu_target"], "scale_in_cooldown": want["scale_in_cooldown"],
                           "scale_out_cooldown": want["scale_out_cooldown"]}, name
        assert got_memory == {"target_value": want["memory_target"], "scale_in_cooldown": want["scale_in_cooldown"],
                              "scale_out_cooldown": want["scale_out_cooldown"]}, name


def test_alarms_follow_the_design(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    alarms = {name: body for (kind, name), body in service_resources.items() if kind == "aws_cloudwatch_metric_alarm"}
    for key, want in (("cpu_high", DESIGN_CPU_ALARM), ("memory_high", DESIGN_MEMORY_ALARM)):
        assert {field: alarms[key][field] for field in want} == want, key
    rate = alarms["target_5xx_rate"]
    assert (rate["threshold"], rate["evaluation_periods"]) == (DESIGN_5XX_ALARM["threshold"], DESIGN_5XX_ALARM["evaluation_periods"])
    periods = [query["metric"][0]["period"] for query in rate["metric_query"] if "metric" in query]
    assert periods == [DESIGN_5XX_ALARM["period"]] * 2
    hosts = alarms["healthy_hosts_low"]
    assert (hosts["period"], hosts["evaluation_periods"]) == (60, 1)  # "Healthy Hosts < min: immediate"
    for _, _, name, service, scope in _each_service(data, out):
        assert resolve(hosts["threshold"], scope) == expected_sizing(data, service)["min_tasks"], name
    for paging in ("target_5xx_rate", "healthy_hosts_low"):
        assert alarms[paging]["alarm_actions"] == ["${var.alerts_topic_arn}", "${var.paging_topic_arn}"]
    for alerting in ("cpu_high", "memory_high"):
        assert alarms[alerting]["alarm_actions"] == ["${var.alerts_topic_arn}"]


def test_listener_rules_priorities_hosts_and_paths(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    rule = service_resources[("aws_lb_listener_rule", "this")]
    assert rule["for_each"] == "${var.listener_rules}"
    host_condition, path_condition = (block['"condition"'] for block in rule["dynamic"])
    assert "each.value.hosts" in host_condition["for_each"] and "host_header" in host_condition["content"][0]
    assert "each.value.paths" in path_condition["for_each"] and "path_pattern" in path_condition["content"][0]
    for env_name, env, name, service, scope in _each_service(data, out):
        routes = service.get("routes", [])
        rules = scope["var"].get("listener_rules", {})
        assert len(rules) == len(routes), name
        got = sorted((resolve(rule["priority"], {"each": {"value": value}}), tuple(value["hosts"]), tuple(value["paths"]))
                     for value in rules.values())
        want = sorted((route["priority"], tuple(f"{label}.{env['domain']}" for label in route.get("hosts", [])),
                       tuple(route.get("paths", []))) for route in routes)
        assert got == want, (env_name, name)


def test_health_checks_use_the_catalog_path(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    target_group = service_resources[("aws_lb_target_group", "this")]
    health = target_group["health_check"][0]
    for env_name, _, name, service, scope in _each_service(data, out):
        if "port" not in service:
            continue
        want = expected_health_path(data, service)
        assert resolve(health["path"], scope) == want, (env_name, name)
        assert scope["var"]["health_check_path"] == want


def test_deployment_capacity_and_network(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    ecs = service_resources[("aws_ecs_service", "this")]
    assert (ecs["deployment_maximum_percent"], ecs["deployment_minimum_healthy_percent"]) == (200, 100)  # design 9.1
    assert literal(ecs["deployment_circuit_breaker"][0]) == {"enable": True, "rollback": True}
    assert ecs["network_configuration"][0]["assign_public_ip"] is False  # tasks live in private subnets (1.1)
    strategy = dynamic(ecs, "capacity_provider_strategy")
    assert strategy["for_each"] == "${var.capacity_provider_strategy}"
    content = strategy["content"][0]
    for env_name, _, name, service, scope in _each_service(data, out):
        shares = {}
        for entry in scope["var"]["capacity_provider_strategy"]:
            inner = {"capacity_provider_strategy": {"value": entry}}
            shares[resolve(content["capacity_provider"], inner)] = (resolve(content["weight"], inner), resolve(content["base"], inner))
        assert shares == expected_capacity(data, service), (env_name, name)


def test_service_connect_alias(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    connect = service_resources[("aws_ecs_service", "this")]["service_connect_configuration"][0]
    published = dynamic(connect, "service")["content"][0]
    alias = published["client_alias"][0]
    for env_name, _, name, service, scope in _each_service(data, out):
        if "port" not in service:
            assert scope["var"]["container_port"] is None
            continue
        # Design 5.2: services call each other as `<name>:<port>`.
        assert (resolve(alias["dns_name"], scope), resolve(alias["port"], scope)) == (name, service["port"]), (env_name, name)
        assert resolve(published["discovery_name"], scope) == name


def test_secrets_and_logs(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    data, out = case
    definition = load(COMMITTED_OUT / "modules" / "ecs-service" / "main.tf")["locals"][0]["container_shape"]
    text = (COMMITTED_OUT / "modules" / "ecs-service" / "main.tf").read_text()
    assert "[for name in sort(keys(var.secrets)) : { name = name, valueFrom = data.aws_secretsmanager_secret.this[name].arn }]" in text
    assert "[for name in sort(keys(var.ssm_secrets)) : { name = name, valueFrom = data.aws_ssm_parameter.this[name].arn }]" in text
    assert "sort(keys(var.secrets))" in definition
    lookups = resources(load(COMMITTED_OUT / "modules" / "ecs-service" / "main.tf"), "data")
    lookup = lookups[("aws_secretsmanager_secret", "this")]
    assert (lookup["for_each"], lookup["name"]) == ("${var.secrets}", "${each.value}")
    parameter = lookups[("aws_ssm_parameter", "this")]
    # The value never enters the state: only the ARN is read.
    assert (parameter["for_each"], parameter["name"], parameter["with_decryption"]) == ("${var.ssm_secrets}", "${each.value}", False)
    log_group = service_resources[("aws_cloudwatch_log_group", "this")]
    for env_name, env, name, service, scope in _each_service(data, out):
        given = service.get("secrets", {})
        assert scope["var"]["secrets"] == {var: env["secret_prefix"] + secret for var, secret in given.items()
                                           if isinstance(secret, str)}
        parameter_prefix = env.get("ssm_parameter_prefix", "/" + env["secret_prefix"])
        assert scope["var"].get("ssm_secrets", {}) == {var: parameter_prefix + secret["ssm"] for var, secret in given.items()
                                                       if isinstance(secret, dict)}
        assert resolve(log_group["retention_in_days"], scope) == env["log_retention_days"], (env_name, name)
        # Design 8.1: /ecs/nexus-{environment}/{service-name}
        assert resolve(log_group["name"], scope) == f"/ecs/{data['platform']['name']}-{env_name}/{name}"


def test_security_group_sources() -> None:
    """Design 7.1: the ALB takes 443 (and 80 to redirect) from anywhere; a service's port is open to
    the ALB's group (when routed) and to the groups of the services that call it; nothing else."""
    found = resources(load(COMMITTED_OUT / "modules" / "security-groups" / "main.tf"))
    cidr_ingress = {name: body for (kind, name), body in found.items()
                    if kind == "aws_vpc_security_group_ingress_rule" and "cidr_ipv4" in body}
    assert {name: (body["from_port"], literal(body["cidr_ipv4"])) for name, body in cidr_ingress.items()} == {
        "alb_https": (443, "0.0.0.0/0"), "alb_http": (80, "0.0.0.0/0"),
        # The same on every further internet-facing load balancer's group (one per group, never the services').
        "additional_alb_https": (443, "0.0.0.0/0"), "additional_alb_http": (80, "0.0.0.0/0"),
        # While migrating: Kubernetes pods reach services on ECS through the listener, from the catalog's pod CIDRs only.
        "alb_https_from_cluster": (443, "${each.value}"),
        # The internal load balancer: from the VPC (and pods) only, never 0.0.0.0/0.
        "internal_alb_https": (443, "${each.value}")}
    assert "internal_alb_client_cidrs" in cidr_ingress["internal_alb_https"]["for_each"]
    for name in ("additional_alb_https", "additional_alb_http"):
        assert cidr_ingress[name]["for_each"] == "${var.load_balancer_behind_cloudfront_only ? {} : aws_security_group.additional_alb}"
        assert cidr_ingress[name]["security_group_id"] == "${each.value.id}"
    assert cidr_ingress["alb_https_from_cluster"]["for_each"] == "${local.creates_groups ? toset(var.cluster_cidrs) : toset([])}"
    # The groups are the module's own in a single root or platform stack, a service stack's lookups otherwise.
    groups = {key: value for block in load(COMMITTED_OUT / "modules" / "security-groups" / "main.tf")["locals"]
              for key, value in block.items()}
    assert groups["alb_security_group_id"] == \
        "${local.creates_groups ? one(aws_security_group.alb[*].id) : var.existing_security_groups.alb}"
    assert groups["service_security_group_ids"] == ("${local.creates_groups ? {for name, group in aws_security_group.service : "
                                                    "name => group.id} : var.existing_security_groups.services}")
    from_alb = found[("aws_vpc_security_group_ingress_rule", "service_from_alb")]
    assert (from_alb["security_group_id"], from_alb["referenced_security_group_id"]) == (
        "${local.service_security_group_ids[each.key]}", "${local.alb_security_group_ids[each.value.load_balancer]}")
    to_service = found[("aws_vpc_security_group_egress_rule", "alb_to_service")]
    assert (to_service["security_group_id"], to_service["referenced_security_group_id"]) == (
        "${local.alb_security_group_ids[each.value.load_balancer]}", "${local.service_security_group_ids[each.key]}")
    assert groups["alb_security_group_ids"].startswith("${merge({alb = local.alb_security_group_id}")
    assert from_alb["from_port"] == from_alb["to_port"] == "${each.value.port}"
    from_caller = found[("aws_vpc_security_group_ingress_rule", "service_from_caller")]
    assert (from_caller["security_group_id"], from_caller["referenced_security_group_id"]) == (
        "${local.service_security_group_ids[each.value.callee]}", "${local.service_security_group_ids[each.value.caller]}")
    assert from_caller["from_port"] == from_caller["to_port"] == "${local.ports[each.value.callee]}"
    to_callee = found[("aws_vpc_security_group_egress_rule", "service_to_callee")]
    assert (to_callee["security_group_id"], to_callee["referenced_security_group_id"]) == (
        "${local.service_security_group_ids[each.value.caller]}", "${local.service_security_group_ids[each.value.callee]}")
    for name in ("service_to_data_store", "data_store_from_service"):
        rule = found[("aws_vpc_security_group_egress_rule" if name.startswith("service") else "aws_vpc_security_group_ingress_rule", name)]
        assert rule["from_port"] == rule["to_port"] == "${var.data_stores[each.value.store].port}", name


def test_security_group_inputs_match_the_catalog(case: tuple[dict[str, Any], Path]) -> None:
    data, out = case
    for env_name, env in data["environments"].items():
        module = literal(blocks(load(platform_file(out, env_name)), "module")["security_groups"])
        on_ecs = services_on_ecs(data, env)
        for name, service in on_ecs.items():
            entry = module["services"][name]
            assert entry["port"] == service.get("port"), (env_name, name)
            assert entry["calls"] == [callee for callee in service.get("calls", []) if callee in on_ecs]
        for store, body in data["data_stores"].items():
            assert module["data_stores"][store]["port"] == body["port"]


def test_iam_resources_are_scoped() -> None:
    text = (COMMITTED_OUT / "modules" / "iam" / "main.tf").read_text()
    found = resources(load(COMMITTED_OUT / "modules" / "iam" / "main.tf"), "data")
    execution = found[("aws_iam_policy_document", "execution")]
    reads = dynamic(execution, "statement", "${length(each.value.secret_names) > 0 ? [1] : []}")["content"][0]
    assert literal(reads["actions"]) == ["secretsmanager:GetSecretValue"]
    # Only the service's own secrets, by the name-?????? pattern (ARNs end in a random suffix).
    assert reads["resources"] == '${[for name in each.value.secret_names : "${local.secret_arn_prefix}${name}-??????"]}'
    task = found[("aws_iam_policy_document", "task")]
    objects = [block['"statement"']["content"][0] for block in task["dynamic"]
               if literal(block['"statement"']["content"][0].get("sid")) == "ReadObjects"][0]
    assert literal(objects["actions"]) == ["s3:GetObject"]
    assert objects["resources"] == '${[for arn in each.value.s3_read_bucket_arns : "${arn}/*"]}'
    assert '"*"' not in re.sub(r'resources = \["\*"\] # [^\n]*', "", text).replace('"${arn}/*"', "")


def test_alb_listeners_and_cluster_settings() -> None:
    alb = resources(load(COMMITTED_OUT / "modules" / "alb" / "main.tf"))
    redirect = alb[("aws_lb_listener", "http_redirect")]["default_action"][0]["redirect"][0]
    assert literal(redirect) == {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}
    assert alb[("aws_lb", "this")]["enable_http2"] is True  # design 3.1
    cluster = resources(load(COMMITTED_OUT / "modules" / "ecs-cluster" / "main.tf"))
    assert literal(cluster[("aws_ecs_cluster", "this")]["setting"][0]) == {"name": "containerInsights", "value": "enabled"}


def test_deploys_own_the_image_and_terraform_the_shape(service_resources: dict) -> None:
    """Phase 5 ownership: a deploy is never reverted by `terraform apply`, a catalog change reaches the
    running service with the deployed image, and the plan after a deploy is empty."""
    definition = service_resources[("aws_ecs_task_definition", "this")]
    assert "aws_ssm_parameter.image.insecure_value" in definition["container_definitions"]
    lifecycle = definition["lifecycle"][0]
    assert lifecycle["ignore_changes"] == ["container_definitions"]
    assert lifecycle["replace_triggered_by"] == ["${terraform_data.task_shape}"]
    shape = service_resources[("terraform_data", "task_shape")]["input"]
    assert set(shape) == {"cpu", "memory", "execution_role_arn", "task_role_arn", "container", "scratch_volumes",
                          "cpu_architecture", "ephemeral_storage", "sidecars", "efs_volumes"}
    parameter = service_resources[("aws_ssm_parameter", "image")]
    assert parameter["lifecycle"][0]["ignore_changes"] == ["insecure_value"]
    ecs = service_resources[("aws_ecs_service", "this")]
    assert ecs["task_definition"] == "${local.task_definition}"
    text = (COMMITTED_OUT / "modules" / "ecs-service" / "main.tf").read_text()
    assert ("task_definition = \"${aws_ecs_task_definition.this.family}:${max(aws_ecs_task_definition.this.revision, "
            "data.aws_ecs_task_definition.latest.revision)}\"") in text
    alarms = dynamic(ecs, "alarms")["content"][0]
    assert alarms["alarm_names"] == ["${var.alarm_names.target_5xx_rate}", "${var.alarm_names.healthy_hosts_low}"]
    assert (alarms["enable"], alarms["rollback"]) == (True, True)


def test_image_repositories_are_immutable_and_scanned() -> None:
    found = resources(load(COMMITTED_OUT / "shared" / "main.tf"))
    repository = found[("aws_ecr_repository", "this")]
    assert literal(repository["image_tag_mutability"]) == "IMMUTABLE"
    assert repository["image_scanning_configuration"][0]["scan_on_push"] is True
    raw = raw_catalog(NEXUS_CATALOG)
    listed = load(COMMITTED_OUT / "shared" / "main.tf")["locals"][0]["repositories"]
    assert sorted(re.findall(r'"([^"]+)"', listed)) == sorted({s.get("image_repository", f"nexus/{n}") for n, s in raw["services"].items()})


def test_read_only_root_filesystem_and_scratch_volumes(case: tuple[dict[str, Any], Path], service_resources: dict) -> None:
    """Read-only unless the catalog states a reason; /tmp (or the catalog's scratch_paths) writable."""
    data, out = case
    opted_out = 0
    for _, _, name, service, scope in _each_service(data, out):
        readonly = resolve("${var.readonly_root_filesystem}", scope)
        assert readonly is ("writable_root_filesystem" not in service), name
        opted_out += not readonly
        volumes = resolve("${var.scratch_volumes}", scope)
        assert sorted(volumes.values()) == sorted(service.get("scratch_paths", ["/tmp"])), name
    if "reindexer" in data["services"]:
        assert opted_out, "the orbit fixture opts one service out; the test must see it"
    definition = service_resources[("aws_ecs_task_definition", "this")]
    assert dynamic(definition, "volume", "${var.scratch_volumes}")["content"][0]["name"] == "${volume.key}"
    container = (COMMITTED_OUT / "modules" / "ecs-service" / "main.tf").read_text()
    assert "readonlyRootFilesystem = var.readonly_root_filesystem" in container
    assert ("{ sourceVolume = name, containerPath = var.scratch_volumes[name], readOnly = false }" in container)


def test_architecture_command_health_check_and_storage_reach_the_module(case: tuple[dict[str, Any], Path]) -> None:
    """New service fields (issue #11), each from the catalog file; defaults from the schema's descriptions."""
    data, out = case
    seen = set()
    for _, _, name, service, scope in _each_service(data, out):
        module = scope["var"]
        assert module["cpu_architecture"] == service.get("cpu_architecture", "X86_64"), name
        assert module["health_check_grace_period_seconds"] == service.get("health_check", {}).get("grace_period_seconds", 60)
        command = service.get("health_check", {}).get("command")
        assert module.get("health_check_command") == (["CMD", *command] if command else None), name
        assert module.get("command") == service.get("command"), name
        assert module.get("entry_point") == service.get("entry_point"), name
        assert module.get("ephemeral_storage_gib") == service.get("ephemeral_storage_gib"), name
        seen.update(key for key in ("cpu_architecture", "health_check", "command", "entry_point", "ephemeral_storage_gib")
                    if key in service)
    if "reindexer" in data["services"]:
        assert len(seen) == 5, f"the orbit fixture must exercise every field: saw {sorted(seen)}"


def test_sidecars_reach_the_module_as_the_catalog_says(case: tuple[dict[str, Any], Path]) -> None:
    data, out = case
    seen = 0
    for _, _, name, service, scope in _each_service(data, out):
        written = service.get("sidecars", {})
        got = {sidecar["name"]: sidecar for sidecar in scope["var"].get("sidecars", [])}
        assert list(got) == list(written), name
        for sidecar_name, sidecar in written.items():
            module = got[sidecar_name]
            assert module["image"] == sidecar["image"] and module["essential"] == sidecar.get("essential", False)
            for key in ("port", "run_before_service", "command", "cpu", "memory"):
                assert module.get(key) == sidecar.get(key), (name, sidecar_name, key)
            assert module.get("log_router", False) == sidecar.get("log_router", False)
            assert module.get("depends_on", {}) == sidecar.get("depends_on", {})
            seen += 1
    if "reindexer" in data["services"]:
        assert seen >= 2, "the orbit fixture has sidecars; the test must see them"


def test_scheduled_tasks_reach_their_module_as_the_catalog_says(case: tuple[dict[str, Any], Path]) -> None:
    data, out = case
    for env_name, env in data["environments"].items():
        modules = service_modules(out, env_name, "scheduled-task")
        tasks = {name: run for name, task in data.get("scheduled_tasks", {}).items()
                 if (run := scheduled_task_in(task, env_name)) is not None}
        assert set(modules) == set(tasks), env_name
        for name, task in tasks.items():
            module = modules[name]
            for variable, value in task.get("environment", {}).items():
                assert module["environment_variables"][variable] == value, (env_name, name, variable)
            assert module["schedule_expression"] == task["schedule"]
            assert module["schedule_timezone"] == task.get("timezone", "UTC")
            assert (module["cpu"], module["memory"]) == (task.get("cpu", 256), task.get("memory", 512))
            assert module.get("command") == task.get("command")
            repository = task.get("image_repository", f"{data['platform']['name']}/{name}")
            assert module["image"] == f"{data['platform']['image_registry']}/{repository}:{env['image_tag']}"
            assert module["secrets"] == {var: env["secret_prefix"] + secret for var, secret in task.get("secrets", {}).items()}
            assert module["schedule_name"] == f"{data['platform']['name']}-{env_name}-{name}"


def test_protocol_internal_routes_efs_and_overrides_reach_the_roots(case: tuple[dict[str, Any], Path]) -> None:
    """Issue #11's per-environment overrides, protocols, internal services and EFS volumes, each read
    from the catalog file (overrides applied by tests/catalog_expectations.py, not by the generator)."""
    data, out = case
    seen: set[str] = set()
    for env_name, env, name, service, scope in _each_service(data, out):
        module = scope["var"]
        sizing = expected_sizing(data, service)
        assert (module["cpu"], module["memory"], module["min_tasks"], module["max_tasks"]) == (
            sizing["cpu"], sizing["memory"], sizing["min_tasks"], sizing["max_tasks"]), (env_name, name)
        assert module["image"].endswith(":" + service.get("image_tag", env["image_tag"])), (env_name, name)
        for variable, value in service.get("environment", {}).items():
            assert module["environment_variables"][variable] == value, (env_name, name, variable)
        assert module.get("protocol", "http") == service.get("protocol", "http"), (env_name, name)
        if service.get("routes"):
            balancer = "internal_alb" if service.get("internal") else "alb"
            # A service stack finds the platform stack's listener by the load balancer's name.
            expected = (f"${{data.aws_lb_listener.{balancer}.arn}}" if env.get("layout") == "stacks"
                        else f"${{module.{balancer}.https_listener_arn}}")
            assert module["listener_arn"] == expected, (env_name, name)
        volumes = module.get("efs_volumes", {})
        assert sorted(volumes) == sorted(service.get("efs_volumes", {})), (env_name, name)
        for volume_name, volume in service.get("efs_volumes", {}).items():
            got = volumes[volume_name]
            assert (got["container_path"], got["read_only"]) == (volume["path"], volume.get("read_only", False))
            assert got["file_system_id"] == f"${{data.aws_efs_file_system.{volume['file_system']}.id}}"
            seen.add("efs")
        seen.update(key for key in ("protocol", "internal") if service.get(key))
        if env_name in data["services"][name].get("overrides", {}):
            seen.add("override")
    for env_name, env in data["environments"].items():
        root = load(platform_file(out, env_name))
        on_ecs = services_on_ecs(data, env)
        internal = any(body.get("internal") and body.get("routes") for body in on_ecs.values())
        assert ("internal_alb" in blocks(root, "module")) is internal, env_name
        mounted = {volume["file_system"] for body in on_ecs.values() for volume in body.get("efs_volumes", {}).values()}
        file_systems = {label for block in root.get("data", []) for kind, bodies in block.items()
                        if kind == '"aws_efs_file_system"' for label in bodies}
        assert {label.strip('"') for label in file_systems} == mounted, env_name
    if "search" in data["services"]:
        assert seen >= {"efs", "protocol", "internal", "override"}, "the orbit fixture uses every field; the test must see it"
    # The target group's protocol version and the EFS mount options are read back from AWS in `make e2e`
    # (tests/e2e/checks.py), where a wrong mapping shows; here only that the EFS volume is encrypted in transit.
    definition = resources(load(COMMITTED_OUT / "modules" / "ecs-service" / "main.tf"))[("aws_ecs_task_definition", "this")]
    efs = dynamic(definition, "volume", "${var.efs_volumes}")["content"][0]["efs_volume_configuration"][0]
    assert (literal(efs["transit_encryption"]), literal(efs["authorization_config"][0]["iam"])) == ("ENABLED", "ENABLED")
