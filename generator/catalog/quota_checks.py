"""What `terraform apply` would be refused, checked on the model: AWS's quotas and syntax rules of the
resources the generator renders, counted on the *final* names and the *rendered* rule counts.

Each check cites the AWS limit it enforces; `tests/e2e/aws_limits.py` makes the e2e emulator refuse the
same things independently, so a gap here shows up as a failed e2e apply.
"""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from collections import defaultdict
from functools import lru_cache
from typing import Iterator

from generator.catalog import naming
from generator.errors import Problem
from generator.catalog.loader import LoadedCatalog
from generator.catalog.model import Catalog, Deployment, Lookup, ScheduledTask, Service

# EC2: rules per security group and direction (default quota, "Amazon VPC quotas"); a managed prefix list
# counts as its maximum entries, CloudFront's origin-facing list as 55.
RULES_PER_SECURITY_GROUP = 60
CLOUDFRONT_PREFIX_LIST_RULES = 55
# EFS: an access point's root directory path (CreateAccessPoint): 100 characters, 4 subdirectories.
ACCESS_POINT_PATH_CHARACTERS = 100
ACCESS_POINT_PATH_LEVELS = 4
# SSM Parameter Store: a parameter hierarchy has at most 15 levels.
SSM_PARAMETER_LEVELS = 15
SSM_PARAMETER_NAME_CHARACTERS = 1011
# ECS: a task definition (RegisterTaskDefinition request) is at most 64 KiB.
TASK_DEFINITION_BYTES = 64 * 1024
# What a rendered container definition adds beyond the catalog's strings (log configuration, ARNs of
# secrets, mount points, health check, keys), measured generously on the golden tree.
CONTAINER_OVERHEAD_BYTES = 1024
SECRET_REFERENCE_BYTES = 160  # {"name": ..., "valueFrom": "arn:aws:secretsmanager:<region>:<account>:secret:<name>-abcdef"}
# Application Auto Scaling: TargetValue (TargetTrackingScalingPolicyConfiguration) "won't accept values that
# are too small"; the documented minimum.
MIN_TARGET_VALUE = 8.515920e-109


def quota_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    yield from _scheduled_task_problems(loaded, catalog)
    yield from _container_problems(loaded, catalog)
    yield from _rename_problems(loaded, catalog)
    seen: set[tuple[str, str]] = set()
    for environment in catalog.environments:
        deployment = catalog.deployment(environment)
        for check in (_target_group_problems, _security_group_problems, _parameter_and_path_problems):
            for problem in check(loaded, deployment):
                # One message per catalog place and check, however many environments see it (the first names its environment).
                if (problem.path, check.__name__) not in seen:
                    seen.add((problem.path, check.__name__))
                    yield problem


# --- names --------------------------------------------------------------------------------------------------

def _target_group_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    """Target group names are unique per account and region: compare the final names (with the protocol suffix)."""
    owners: dict[str, str] = {deployment.names.legacy_target_group: "the Kubernetes ingress"}
    for svc in deployment.services:
        if not svc.service.load_balanced:
            continue
        name = svc.names.target_group
        if name in owners:
            yield loaded.problem((*svc.service.source, "short_name") if svc.service.short_name != svc.name
                                 else svc.service.source,
                                 f"in environment {deployment.environment.name!r} the target group name {name!r} is "
                                 f"also {owners[name]}'s; target group names are unique per account and region: "
                                 "give one of them another `short_name`")
        owners.setdefault(name, repr(svc.name))


# --- scheduled tasks ----------------------------------------------------------------------------------------

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,#L-]+$")


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def schedule_problem(expression: str) -> str | None:
    """EventBridge Scheduler's expression rules ("Schedule types on EventBridge Scheduler"); None when valid."""
    if match := re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression):
        value, unit = int(match.group(1)), match.group(2)
        if value == 1 and unit.endswith("s"):
            return f"`rate(1 {unit})` is refused: a value of 1 takes the singular unit, `rate(1 {unit[:-1]})`"
        if value > 1 and not unit.endswith("s"):
            return f"`rate({value} {unit})` is refused: values above 1 take the plural unit, `rate({value} {unit}s)`"
        return None
    if match := re.fullmatch(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)", expression):
        try:
            datetime.datetime(*map(int, match.groups()))
        except ValueError as error:
            return f"{expression} is not a real date and time ({error})"
        return None
    if match := re.fullmatch(r"cron\((.*)\)", expression):
        fields = match.group(1).split(" ")
        if len(fields) != 6 or not all(_CRON_FIELD.match(field) for field in fields):
            return (f"{expression} has {len(fields)} fields; EventBridge Scheduler wants 6: minutes hours "
                    "day-of-month month day-of-week year (a Kubernetes `0 3 * * *` is `cron(0 3 * * ? *)`)")
        if (fields[2] == "?") == (fields[4] == "?"):
            return (f"{expression}: exactly one of day-of-month (3rd field) and day-of-week (5th) must be `?`, "
                    "e.g. `cron(0 3 * * ? *)` or `cron(0 3 ? * MON *)`")
        return None
    return f"{expression} is not cron(...), rate(...) or at(...)"


def _scheduled_task_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    for task in catalog.scheduled_tasks:
        if naming.is_reserved(task.name):
            yield loaded.problem(task.source, f"{task.name!r} is reserved: the environment's own resources use it "
                                              f"({', '.join(naming.RESERVED_SERVICE_NAMES)} are taken); choose another name")
        if task.timezone not in _time_zones():
            yield loaded.problem((*task.source, "timezone"), f"{task.timezone!r} is not an IANA time zone "
                                 "(e.g. Europe/Berlin, America/New_York, UTC)")
        schedules = [((*task.source, "schedule"), task.schedule)]
        schedules += [((*override.source, "schedule"), override.schedule) for _, override in task.overrides if override.schedule]
        for where, expression in schedules:
            if problem := schedule_problem(expression):
                yield loaded.problem(where, problem)
        reported = False
        for environment in catalog.environments:
            names = naming.EnvironmentNames(catalog.platform.name, environment.name).service(task.name, task.name)
            for role in (names.execution_role, names.task_role, names.scheduler_role):
                if len(role) > naming.IAM_ROLE.limit and not reported:
                    reported = True
                    yield loaded.problem(task.source, f"in environment {environment.name!r} the IAM role name {role!r} "
                                         f"has {len(role)} characters; AWS allows {naming.IAM_ROLE.limit}: shorten the task name")


# --- containers ---------------------------------------------------------------------------------------------

def _container_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    for service in catalog.services:
        containers = {sidecar.name: sidecar for sidecar in service.sidecars}
        has_health_check = service.health_check_command is not None or service.health_check_path is not None
        for sidecar in service.sidecars:
            here = (*service.source, "sidecars", sidecar.name)
            waits = [((*here, "depends_on", name), name, condition) for name, condition in sidecar.depends_on]
            if sidecar.run_before_service:
                waits.append(((*here, "run_before_service"), sidecar.name, sidecar.run_before_service))
            for where, name, condition in waits:
                essential = name == service.name or (name in containers and containers[name].essential)
                if condition in ("SUCCESS", "COMPLETE") and essential:
                    yield loaded.problem(where, f"{condition} waits for {name!r} to exit, but it is essential (the task "
                                                "stops when it exits); ECS refuses this: use START, or make it non-essential")
                if condition == "HEALTHY" and not (name == service.name and has_health_check):
                    yield loaded.problem(where, f"HEALTHY waits for {name!r}'s container health check, and it has none "
                                                "(sidecars have no health check here); ECS refuses this: use START")
        yield from _task_definition_size_problems(loaded, service)
        for field in ("cpu_target", "memory_target"):
            if getattr(service.autoscaling, field) < MIN_TARGET_VALUE:
                yield loaded.problem((*service.source, "autoscaling", field),
                                     f"{getattr(service.autoscaling, field)} is below what Application Auto Scaling "
                                     f"accepts as a target value ({MIN_TARGET_VALUE}); give a percentage such as 70")


def _strings_bytes(*values: object) -> int:
    return len(json.dumps(values, ensure_ascii=False).encode())


def task_definition_bytes(service: Service) -> int:
    """An upper estimate of the rendered task definition: every catalog string in it plus a fixed overhead
    per container and per secret reference."""
    total = CONTAINER_OVERHEAD_BYTES + _strings_bytes(service.environment, service.command, service.entry_point,
                                                      service.health_check_command, service.scratch_volumes)
    total += SECRET_REFERENCE_BYTES * (len(service.secrets) + len(service.ssm_secrets))
    total += _strings_bytes(service.secrets, service.ssm_secrets)
    total += 512 * len(service.efs_volumes)
    for sidecar in service.sidecars:
        total += CONTAINER_OVERHEAD_BYTES + _strings_bytes(sidecar.image, sidecar.environment, sidecar.command,
                                                           sidecar.depends_on)
    return total


def _task_definition_size_problems(loaded: LoadedCatalog, service: Service) -> Iterator[Problem]:
    variants = [service] + [variant for env_name, _ in service.overrides
                            if (variant := service.in_environment(env_name)) is not None]
    size = max(task_definition_bytes(variant) for variant in variants)
    if size > TASK_DEFINITION_BYTES:
        yield loaded.problem(service.source, f"the task definition of {service.name!r} would take about "
                             f"{size // 1024} KiB (environment, commands, sidecars, secrets); ECS accepts "
                             f"{TASK_DEFINITION_BYTES // 1024} KiB: move large values to S3, SSM or Secrets Manager")


def _rename_problems(loaded: LoadedCatalog, catalog: Catalog) -> Iterator[Problem]:
    """A renamed service's default access-point directory moves to `/<new name>/<volume>`: empty, the data left behind."""
    for service in catalog.services:
        if service.renamed_from is None:
            continue
        for volume in service.efs_volumes:
            if volume.directory == f"/{service.name}/{volume.name}":
                yield loaded.problem((*service.source, "efs_volumes", volume.name),
                                     f"{service.name!r} is renamed from {service.renamed_from!r}: this volume's "
                                     f"directory would move from /{service.renamed_from}/{volume.name} (where its data is) "
                                     f"to {volume.directory} (empty). Keep the data: set "
                                     f"`directory: /{service.renamed_from}/{volume.name}`")


# --- security groups ----------------------------------------------------------------------------------------

def _security_group_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    """Rules per group and direction, counted as the security-groups module renders them."""
    env = deployment.environment
    where_env = env.source
    legacy_addresses = len(env.legacy.ingress.addresses) if env.legacy else 0
    cluster_cidrs = len(deployment.cluster_cidrs)

    def over(count: int, what: str, where: tuple[str | int, ...], fix: str) -> Iterator[Problem]:
        if count > RULES_PER_SECURITY_GROUP:
            yield loaded.problem(where, f"in environment {env.name!r} {what} would have {count} rules; a security group "
                                        f"allows {RULES_PER_SECURITY_GROUP} per direction: {fix}")

    internal = deployment.internal_services
    alb_in = (CLOUDFRONT_PREFIX_LIST_RULES if deployment.load_balancer_behind_edge_only else 2) + cluster_cidrs
    yield from over(alb_in, "the load balancer's security group (inbound)", where_env,
                    "list fewer Kubernetes cluster CIDRs (legacy.cluster_cidrs)")
    limit = deployment.platform.load_balancer_quotas.security_group_rules
    for balancer in deployment.load_balancers:
        outbound = len(balancer.services) + (legacy_addresses if balancer.number == 1 else 0)
        if outbound > limit:
            yield loaded.problem(("services",), f"in environment {env.name!r} the security group of load balancer "
                                 f"{balancer.names.alb!r} would have {outbound} outbound rules (one per routed service and "
                                 f"ingress address); `platform.load_balancer_quotas.security_group_rules` is {limit}: pin "
                                 "some groups to another load balancer (`groups.<name>.load_balancer`), or route fewer services")

    if internal:
        yield from over(1 + cluster_cidrs, "the internal load balancer's security group (inbound)", where_env,
                        "list fewer Kubernetes cluster CIDRs")
        yield from over(len(internal), "the internal load balancer's security group (outbound)", ("services",),
                        "put fewer services on the internal load balancer")
    for svc in deployment.services:
        inbound = (1 if svc.service.load_balanced else 0) + len(svc.callers)
        yield from over(inbound, f"the security group of {svc.name!r} (inbound: its load balancer and "
                        f"{len(svc.callers)} callers)", (*svc.service.source,),
                        "let fewer services call it directly (e.g. through a load balancer)")
        outbound = (1 + len(svc.ecs_callees) + (legacy_addresses if svc.calls_legacy else 0)
                    + len(svc.rule_data_stores) + len(svc.rule_file_systems))
        yield from over(outbound, f"the security group of {svc.name!r} (outbound)", (*svc.service.source, "calls"),
                        "call fewer services directly")
    # Looked-up groups (data stores, EFS mount targets) get one inbound rule per service and port; the rules
    # they already have are not known offline and count too.
    inbound_by_group: dict[Lookup, set[tuple[str, str]]] = defaultdict(set)
    where_by_group: dict[Lookup, tuple[str | int, ...]] = {}
    stores = {name: (port, lookup) for name, port, lookup in deployment.data_stores}
    file_systems = dict(env.file_systems)
    for svc in deployment.services:
        for store in svc.rule_data_stores:
            port, lookup = stores[store]
            inbound_by_group[lookup].add((svc.name, str(port)))
            where_by_group.setdefault(lookup, (*where_env, "data_stores", store))
        for name in svc.rule_file_systems:
            if name not in file_systems:
                continue  # reported as a missing file system
            lookup = file_systems[name].security_group
            inbound_by_group[lookup].add((svc.name, "2049"))
            where_by_group.setdefault(lookup, (*where_env, "file_systems", name, "security_group"))
    for scheduled in deployment.scheduled_tasks:
        for store, port in scheduled.data_stores:
            lookup = stores[store][1]
            inbound_by_group[lookup].add((scheduled.task.name, str(port)))
            where_by_group.setdefault(lookup, (*where_env, "data_stores", store))
        yield from over(1 + len(scheduled.data_stores), f"the security group of scheduled task {scheduled.task.name!r} "
                        "(outbound)", (*scheduled.task.source, "data_stores"), "connect it to fewer data stores")
    for lookup, rules in inbound_by_group.items():
        yield from over(len(rules), "this existing security group (inbound, one rule per service that uses it, besides "
                        "the rules it already has)", where_by_group[lookup],
                        "give the services a shared client group, or split the data store's clients")


# --- SSM parameters and EFS paths ---------------------------------------------------------------------------

def ssm_parameter_problem(name: str) -> str | None:
    if len(name) > SSM_PARAMETER_NAME_CHARACTERS:
        return f"has {len(name)} characters; SSM allows {SSM_PARAMETER_NAME_CHARACTERS}"
    if name.endswith("/"):
        return "ends with `/`; SSM refuses an empty last level"
    if "//" in name:
        return "has an empty level (`//`)"
    if name.startswith("/") and name.count("/") > SSM_PARAMETER_LEVELS:
        return f"has {name.count('/')} levels; SSM allows {SSM_PARAMETER_LEVELS}"
    return None


def access_point_path_problem(path: str) -> str | None:
    levels = path.split("/")[1:]
    if len(path) > ACCESS_POINT_PATH_CHARACTERS:
        return f"has {len(path)} characters; EFS allows {ACCESS_POINT_PATH_CHARACTERS}"
    if path != "/" and path.endswith("/"):
        return "ends with `/`"
    if "//" in path:
        return "has an empty level (`//`)"
    if ".." in levels or "." in levels:
        return "has a `.` or `..` level"
    if len(levels) > ACCESS_POINT_PATH_LEVELS:
        return f"is {len(levels)} levels deep; EFS allows {ACCESS_POINT_PATH_LEVELS}"
    return None


def _parameter_and_path_problems(loaded: LoadedCatalog, deployment: Deployment) -> Iterator[Problem]:
    workloads: list[tuple[Service | ScheduledTask, tuple[tuple[str, str], ...]]] = [
        (svc.service, svc.ssm_secrets) for svc in deployment.services]
    workloads += [(task.task, task.ssm_secrets) for task in deployment.scheduled_tasks]
    for workload, parameters in workloads:
        for variable, name in parameters:
            if problem := ssm_parameter_problem(name):
                yield loaded.problem((*workload.source, "secrets", variable),
                                     f"in environment {deployment.environment.name!r} the SSM parameter name {name!r} {problem}")
    for svc in deployment.services:
        for volume, _ in svc.efs_volumes:
            if problem := access_point_path_problem(volume.directory):
                yield loaded.problem((*svc.service.source, "efs_volumes", volume.name),
                                     f"the access point directory {volume.directory!r} {problem}: set a shorter `directory`")
