"""Typed, resolved model of a schema-valid catalog.

Everything the output needs is computed here: inherited sizing, capacity-provider
weights, names, fully-qualified hosts, secret names, image URIs. Templates only
place these values. Each object keeps the catalog path it came from so the
semantic checks can point at the right line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from generator.errors import CatalogPath
from generator.catalog.naming import EnvironmentNames, LoadBalancerNames, ServiceNames
from generator.catalog.placement import Demand, Quotas, place, units_of

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"

# Section 6.1 of the design; the catalog's `defaults.autoscaling` overrides them.
BUILTIN_AUTOSCALING = {"cpu_target": 70, "memory_target": 80, "scale_in_cooldown": 300, "scale_out_cooldown": 60}
BUILTIN_HEALTH_CHECK_PATH = "/health"
# Read-only root filesystems (checkov CKV_AWS_336) break most images unless they can write temporary
# files; /tmp as task-local scratch covers the common case.
DEFAULT_SCRATCH_PATHS = ("/tmp",)
DEFAULT_HEALTH_CHECK_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Sizing:
    cpu: int
    memory: int
    min_tasks: int
    max_tasks: int


@dataclass(frozen=True)
class CapacityShare:
    capacity_provider: str
    weight: int
    base: int


@dataclass(frozen=True)
class Autoscaling:
    cpu_target: float
    memory_target: float
    scale_in_cooldown: int
    scale_out_cooldown: int


@dataclass(frozen=True)
class Route:
    priority: int
    host_labels: tuple[str, ...]
    paths: tuple[str, ...]
    source: CatalogPath


@dataclass(frozen=True)
class Sidecar:
    """Another container in the service's task."""

    name: str
    image: str
    port: int | None
    essential: bool
    depends_on: tuple[tuple[str, str], ...]  # (container, condition)
    run_before_service: str | None  # condition the service's container waits for
    command: tuple[str, ...] | None
    environment: tuple[tuple[str, str], ...]
    cpu: int | None
    memory: int | None
    log_router: bool


@dataclass(frozen=True)
class EfsVolume:
    """An EFS file system mounted into the service's container through an access point of its own."""

    name: str
    file_system: str  # a name under the environment's `file_systems`
    path: str
    directory: str
    read_only: bool
    posix_uid: int
    posix_gid: int

    @property
    def writable(self) -> bool:
        return not self.read_only


@dataclass(frozen=True)
class ServiceOverride:
    """What one environment changes of a service (`services.<name>.overrides.<environment>`)."""

    enabled: bool
    sizing: Sizing | None  # None: the service's own
    sizing_source: CatalogPath
    image_tag: str | None
    environment: tuple[tuple[str, str], ...]
    source: CatalogPath


# The standard gRPC health service (grpc.health.v1); ALB health checks call it by path.
GRPC_HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check"


@dataclass(frozen=True)
class Service:
    name: str
    short_name: str
    renamed_from: str | None
    description: str
    group: str
    image_repository: str
    sizing: Sizing
    sizing_source: CatalogPath
    capacity: tuple[CapacityShare, ...]
    port: int | None
    protocol: Protocol
    internal: bool
    health_check_path: str | None
    writable_root_filesystem_reason: str | None  # None: the root filesystem is read-only
    cpu_architecture: str
    command: tuple[str, ...] | None
    entry_point: tuple[str, ...] | None
    health_check_command: tuple[str, ...] | None  # the catalog's; None: the module's wget of health_check_path
    health_check_grace_period: int
    ephemeral_storage_gib: int | None
    sidecars: tuple[Sidecar, ...]
    scratch_volumes: tuple[tuple[str, str], ...]  # (task volume name, container path)
    efs_volumes: tuple[EfsVolume, ...]
    routes: tuple[Route, ...]
    secrets: tuple[tuple[str, str], ...]  # Secrets Manager: (variable, name under the secret prefix)
    ssm_secrets: tuple[tuple[str, str], ...]  # SSM Parameter Store: (variable, name under the parameter prefix)
    environment: tuple[tuple[str, str], ...]
    calls: tuple[str, ...]
    data_stores: tuple[str, ...]
    s3_read_buckets: tuple[str, ...]
    autoscaling: Autoscaling
    critical: bool
    source: CatalogPath
    overrides: tuple[tuple[str, ServiceOverride], ...] = ()
    image_tag: str | None = None  # an environment's override of its image_tag (see in_environment)
    stack: str = ""  # the stack of a `layout: stacks` environment that holds it (its group unless the catalog says)

    @property
    def load_balanced(self) -> bool:
        return bool(self.routes)

    def in_environment(self, environment: str) -> "Service | None":
        """The service as `environment` runs it, its override applied; None where it is left out."""
        override = dict(self.overrides).get(environment)
        if override is None:
            return self
        if not override.enabled:
            return None
        return replace(
            self,
            sizing=override.sizing or self.sizing,
            sizing_source=override.sizing_source if override.sizing else self.sizing_source,
            image_tag=override.image_tag,
            environment=tuple(sorted({**dict(self.environment), **dict(override.environment)}.items())),
        )

    @property
    def readonly_root_filesystem(self) -> bool:
        return self.writable_root_filesystem_reason is None

    @property
    def container_health_check(self) -> tuple[str, ...] | None:
        """The catalog's health-check command in ECS exec form (`CMD`); None leaves the module's default,
        an HTTP GET of the health-check path."""
        return None if self.health_check_command is None else ("CMD", *self.health_check_command)


@dataclass(frozen=True)
class ScheduledTask:
    """A task EventBridge Scheduler runs on a schedule (a Kubernetes CronJob)."""

    name: str
    description: str
    schedule: str
    timezone: str
    image_repository: str
    cpu: int
    memory: int
    cpu_architecture: str
    command: tuple[str, ...] | None
    entry_point: tuple[str, ...] | None
    environment: tuple[tuple[str, str], ...]
    secrets: tuple[tuple[str, str], ...]
    ssm_secrets: tuple[tuple[str, str], ...]
    source: CatalogPath
    overrides: tuple[tuple[str, "ScheduledTaskOverride"], ...] = ()
    data_stores: tuple[str, ...] = ()
    size_source: CatalogPath | None = None  # where cpu/memory come from, for messages; None: `source`

    def in_environment(self, environment: str) -> "ScheduledTask | None":
        """The task as `environment` runs it, its override applied; None where it is left out."""
        override = dict(self.overrides).get(environment)
        if override is None:
            return self
        if not override.enabled:
            return None
        return replace(
            self,
            schedule=override.schedule or self.schedule,
            cpu=override.cpu or self.cpu,
            memory=override.memory or self.memory,
            environment=tuple(sorted({**dict(self.environment), **dict(override.environment)}.items())),
            size_source=override.source if (override.cpu or override.memory) else None,
        )


@dataclass(frozen=True)
class ScheduledTaskOverride:
    """What one environment changes of a scheduled task (`scheduled_tasks.<name>.overrides.<environment>`)."""

    enabled: bool
    schedule: str | None
    cpu: int | None
    memory: int | None
    environment: tuple[tuple[str, str], ...]
    source: CatalogPath


@dataclass(frozen=True)
class Lookup:
    """An existing AWS object (or, for subnets, objects): by id(s), or by tags."""

    id: str | tuple[str, ...] | None
    tags: tuple[tuple[str, str], ...]

    @classmethod
    def from_catalog(cls, raw: dict[str, Any], id_key: str = "id") -> "Lookup":
        given = raw.get(id_key)
        return cls(id=tuple(given) if isinstance(given, list) else given, tags=tuple(sorted(raw.get("tags", {}).items())))


@dataclass(frozen=True)
class FileSystem:
    """An existing EFS file system and the security group of its mount targets."""

    lookup: Lookup
    security_group: Lookup


@dataclass(frozen=True)
class LegacyIngress:
    addresses: tuple[str, ...]
    port: int
    protocol: str
    health_check_path: str
    dns_alias_name: str | None
    dns_alias_zone_id: str | None


@dataclass(frozen=True)
class Legacy:
    """The Kubernetes side of an environment during the migration (design Phase 4)."""

    ingress: LegacyIngress
    service_url: str | None
    cluster_cidrs: tuple[str, ...]

    def url_of(self, service: str) -> str | None:
        return None if self.service_url is None else self.service_url.replace("{service}", service)


class MigrationState(StrEnum):
    """Where a service's requests go in an environment with a legacy side."""

    KUBERNETES = "kubernetes"  # not on ECS at all; its routes forward to the ingress
    SPLIT = "split"            # on ECS and Kubernetes, weighted
    ECS = "ecs"                # on ECS only (no legacy side, or decommissioned)


class DnsTarget(StrEnum):
    """Where an environment's record for a host points (the catalog's `dns` values, plus `unmanaged`)."""

    ALB = "alb"              # the internet-facing load balancer
    EDGE = "edge"            # the CloudFront distribution
    LEGACY = "legacy"        # the Kubernetes ingress's load balancer
    UNMANAGED = "unmanaged"  # no record: left to whoever manages it today


class Protocol(StrEnum):
    """What a service's port speaks (the catalog's `protocol`)."""

    HTTP = "http"
    HTTP2 = "http2"
    GRPC = "grpc"
    TCP = "tcp"  # bytes only: no load balancer, no HTTP health check


@dataclass(frozen=True)
class MigrationStep:
    state: MigrationState
    ecs_percent: int
    stickiness_seconds: int | None
    source: CatalogPath | None

    @classmethod
    def from_catalog(cls, raw: Any, source: CatalogPath) -> "MigrationStep":
        if raw == MigrationState.ECS:
            return cls(MigrationState.ECS, 100, None, source)
        if isinstance(raw, dict):
            return cls(MigrationState.SPLIT, raw["ecs_percent"], raw.get("stickiness_seconds"), source)
        return cls(MigrationState.SPLIT, raw, None, source)


@dataclass(frozen=True)
class Edge:
    """CloudFront in front of the load balancer (design 1.1)."""

    certificate_domain: str  # in us-east-1
    certificate_alternative_names: tuple[str, ...]
    origin_verify_secret: str  # full Secrets Manager name
    price_class: str


NOT_MIGRATED = MigrationStep(MigrationState.KUBERNETES, 0, None, None)
FULLY_ON_ECS = MigrationStep(MigrationState.ECS, 100, None, None)


@dataclass(frozen=True)
class Environment:
    name: str
    domain: str
    dns_zone: str | None
    certificate_domain: str
    certificate_alternative_names: tuple[str, ...]
    vpc: Lookup
    private_subnets: Lookup
    public_subnets: Lookup
    data_store_security_groups: tuple[tuple[str, Lookup], ...]
    logs_bucket: str
    log_retention_days: int
    deletion_protection: bool
    enable_execute_command: bool
    secret_prefix: str
    ssm_parameter_prefix: str
    file_systems: tuple[tuple[str, "FileSystem"], ...]
    image_tag: str
    environment: tuple[tuple[str, str], ...]
    pagerduty_endpoint_secret: str  # full Secrets Manager name
    alert_emails: tuple[str, ...]
    promote_from: str | None
    state_bucket: str | None
    tags: tuple[tuple[str, str], ...]
    legacy: Legacy | None
    migration: tuple[tuple[str, MigrationStep], ...]
    dns: tuple[tuple[str, DnsTarget], ...]
    edge: Edge | None
    source: CatalogPath
    layout: str = "single"  # `single` (one root) or `stacks` (platform + one root per service group)

    def step_of(self, service: str) -> MigrationStep:
        """Where `service`'s requests go here. Without a legacy side everything is on ECS; with one,
        a service the catalog does not name stays on Kubernetes (nothing moves by surprise)."""
        if self.legacy is None:
            return FULLY_ON_ECS
        return dict(self.migration).get(service, NOT_MIGRATED)

    def dns_mode(self, label: str) -> DnsTarget:
        """Where the host's record points: `alb`, `edge` (CloudFront), `legacy`, or `unmanaged` (left alone).
        Unnamed hosts never move by surprise: `unmanaged` while a legacy side exists."""
        if label in dict(self.dns):
            return dict(self.dns)[label]
        if self.legacy:
            return DnsTarget.UNMANAGED
        return DnsTarget.EDGE if self.edge else DnsTarget.ALB

    @property
    def origin_host(self) -> str:
        """The name CloudFront resolves to reach the load balancer (an alias record in the zone)."""
        return f"origin.{self.domain}"


@dataclass(frozen=True)
class Platform:
    name: str
    region: str
    image_registry: str
    ci_deploy_principals: tuple[str, ...]
    github_repository: str | None
    image_retention: int
    state_bucket: str | None
    max_services_per_stack: int = 5
    load_balancer_quotas: Quotas = Quotas()

    @property
    def registry_account(self) -> str:
        return self.image_registry.split(".", 1)[0]

    @property
    def registry_region(self) -> str:
        return self.image_registry.split(".")[3]


@dataclass(frozen=True)
class Catalog:
    file: str
    platform: Platform
    data_store_ports: tuple[tuple[str, int], ...]
    services: tuple[Service, ...]
    environments: tuple[Environment, ...]
    scheduled_tasks: tuple[ScheduledTask, ...] = ()
    groups: tuple[str, ...] = ()  # service groups, in catalog order
    load_balancer_pins: tuple[tuple[str, int], ...] = ()  # (group, load balancer number) the catalog pins
    # Load balancer number per group and environment that the previous render placed (its render records);
    # set by `with_load_balancer_memory` before rendering, so that placement is stable.
    load_balancer_memory: tuple[tuple[str, tuple[tuple[str, tuple[int, int]], ...]], ...] = ()
    # Deployments already built, by environment name (with the Environment they were built from): validate,
    # quota checks, change warnings and render each ask for every environment's.
    _deployments: dict[str, tuple[Environment, "Deployment"]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def with_load_balancer_memory(self, memory: dict[str, dict[str, tuple[int, int]]]) -> "Catalog":
        """This catalog, placing groups where a previous render put them while they fit: memory is, per environment
        and group, (load balancer number, routed services then)."""
        remembered = tuple(sorted((env, tuple(sorted(groups.items()))) for env, groups in memory.items()))
        return replace(self, load_balancer_memory=remembered)

    def deployment(self, environment: Environment) -> "Deployment":
        cached = self._deployments.get(environment.name)
        if cached is None or cached[0] is not environment:
            cached = (environment, Deployment.build(self, environment))
            self._deployments[environment.name] = cached
        return cached[1]

    @property
    def image_repositories(self) -> tuple[str, ...]:
        """ECR repositories of the services, scheduled tasks and of sidecar images in the platform's registry
        (several may share one)."""
        return tuple(sorted({service.image_repository for service in self.services}
                            | {task.image_repository for task in self.scheduled_tasks}
                            | {repository for service in self.services for sidecar in service.sidecars
                               if (repository := ecr_repository_name(sidecar.image, self.platform.image_registry))}))

    @property
    def image_repository_arn_patterns(self) -> tuple[str, ...]:
        """ARNs that cover every repository of `image_repositories`: `<platform>/*` for those under the
        platform's name, the others one by one (a catalog that names its own repositories)."""
        arn = f"arn:aws:ecr:{self.platform.registry_region}:{self.platform.registry_account}:repository/"
        outside = [name for name in self.image_repositories if not name.startswith(self.platform.name + "/")]
        return (f"{arn}{self.platform.name}/*", *(arn + name for name in outside))

    def environment_named(self, name: str) -> Environment | None:
        return next((environment for environment in self.environments if environment.name == name), None)


def capacity_strategy(spot_percentage: int, on_demand_base: int) -> tuple[CapacityShare, ...]:
    """Capacity-provider strategy for a Spot share, with the weights in lowest terms (70 % -> 3:7)."""
    on_demand = 100 - spot_percentage
    divisor = math.gcd(on_demand, spot_percentage)
    shares = []
    if on_demand or on_demand_base:
        shares.append(CapacityShare(FARGATE, on_demand // divisor, on_demand_base))
    if spot_percentage:
        shares.append(CapacityShare(FARGATE_SPOT, spot_percentage // divisor, 0))
    return tuple(shares)


def build_catalog(data: dict[str, Any], file: str) -> Catalog:
    """Build the model from schema-valid data whose references have been checked."""
    raw_platform = data["platform"]
    platform = Platform(
        name=raw_platform["name"],
        region=raw_platform["region"],
        image_registry=raw_platform["image_registry"],
        ci_deploy_principals=tuple(raw_platform.get("ci_deploy_principals", [])),
        github_repository=raw_platform.get("github_repository"),
        image_retention=raw_platform.get("image_retention", 30),
        state_bucket=raw_platform.get("state_bucket"),
        max_services_per_stack=raw_platform.get("max_services_per_stack", 5),
        load_balancer_quotas=Quotas(**raw_platform.get("load_balancer_quotas", {})),
    )
    defaults = data.get("defaults", {})
    autoscaling_defaults = {**BUILTIN_AUTOSCALING, **defaults.get("autoscaling", {})}
    health_check_default = defaults.get("health_check_path", BUILTIN_HEALTH_CHECK_PATH)
    services = tuple(
        _build_service(platform, data, name, raw, autoscaling_defaults, health_check_default)
        for name, raw in data["services"].items()
    )
    environments = tuple(_build_environment(name, raw) for name, raw in data["environments"].items())
    return Catalog(
        file=file,
        platform=platform,
        data_store_ports=tuple((name, raw["port"]) for name, raw in data["data_stores"].items()),
        groups=tuple(data["groups"]),
        load_balancer_pins=tuple((name, raw["load_balancer"]) for name, raw in data["groups"].items() if "load_balancer" in raw),
        services=services,
        environments=environments,
        scheduled_tasks=tuple(
            ScheduledTask(
                name=name,
                description=raw.get("description", ""),
                schedule=raw["schedule"],
                timezone=raw.get("timezone", "UTC"),
                image_repository=raw.get("image_repository", f"{platform.name}/{name}"),
                cpu=raw.get("cpu", 256),
                memory=raw.get("memory", 512),
                cpu_architecture=raw.get("cpu_architecture", "X86_64"),
                command=tuple(raw["command"]) if "command" in raw else None,
                entry_point=tuple(raw["entry_point"]) if "entry_point" in raw else None,
                environment=tuple(sorted(raw.get("environment", {}).items())),
                secrets=secrets_manager_secrets(raw),
                ssm_secrets=ssm_parameter_secrets(raw),
                data_stores=tuple(raw.get("data_stores", ())),
                source=("scheduled_tasks", name),
                overrides=tuple(
                    (env_name, ScheduledTaskOverride(
                        enabled=override.get("enabled", True),
                        schedule=override.get("schedule"),
                        cpu=override.get("cpu"),
                        memory=override.get("memory"),
                        environment=tuple(sorted(override.get("environment", {}).items())),
                        source=("scheduled_tasks", name, "overrides", env_name),
                    ))
                    for env_name, override in sorted(raw.get("overrides", {}).items())
                ),
            )
            for name, raw in data.get("scheduled_tasks", {}).items()
        ),
    )


def _build_service(
    platform: Platform,
    data: dict[str, Any],
    name: str,
    raw: dict[str, Any],
    autoscaling_defaults: dict[str, Any],
    health_check_default: str,
) -> Service:
    source: CatalogPath = ("services", name)
    group = data["groups"][raw["group"]]
    sizing_name = raw.get("sizing", group["sizing"])
    sizing_source: CatalogPath = (*source, "sizing") if "sizing" in raw else ("sizing", sizing_name)
    if "resources" in raw:
        sizing_source = (*source, "resources")
    sizing = Sizing(**{**data["sizing"][sizing_name], **raw.get("resources", {})})
    port = raw.get("port")
    protocol = Protocol(raw.get("protocol", Protocol.HTTP))
    # A tcp service is not spoken to over HTTP: no load-balancer health check, no wget of a path.
    default_health_check_path = {Protocol.GRPC: GRPC_HEALTH_CHECK_PATH, Protocol.TCP: None}.get(protocol, health_check_default)
    return Service(
        name=name,
        short_name=raw.get("short_name", name),
        renamed_from=raw.get("renamed_from"),
        description=raw.get("description", ""),
        group=raw["group"],
        stack=raw.get("stack", raw["group"]),
        image_repository=raw.get("image_repository", f"{platform.name}/{name}"),
        sizing=sizing,
        sizing_source=sizing_source,
        capacity=capacity_strategy(group["spot_percentage"], group.get("on_demand_base", 0)),
        port=port,
        protocol=protocol,
        internal=raw.get("internal", False),
        health_check_path=raw.get("health_check_path", default_health_check_path) if port is not None else None,
        writable_root_filesystem_reason=raw.get("writable_root_filesystem"),
        cpu_architecture=raw.get("cpu_architecture", "X86_64"),
        command=tuple(raw["command"]) if "command" in raw else None,
        entry_point=tuple(raw["entry_point"]) if "entry_point" in raw else None,
        health_check_command=tuple(raw["health_check"]["command"]) if "command" in raw.get("health_check", {}) else None,
        health_check_grace_period=raw.get("health_check", {}).get("grace_period_seconds", DEFAULT_HEALTH_CHECK_GRACE_SECONDS),
        ephemeral_storage_gib=raw.get("ephemeral_storage_gib"),
        sidecars=tuple(
            Sidecar(
                name=sidecar_name,
                image=sidecar["image"],
                port=sidecar.get("port"),
                essential=sidecar.get("essential", False),
                depends_on=tuple(sorted(sidecar.get("depends_on", {}).items())),
                run_before_service=sidecar.get("run_before_service"),
                command=tuple(sidecar["command"]) if "command" in sidecar else None,
                environment=tuple(sorted(sidecar.get("environment", {}).items())),
                cpu=sidecar.get("cpu"),
                memory=sidecar.get("memory"),
                log_router=sidecar.get("log_router", False),
            )
            for sidecar_name, sidecar in raw.get("sidecars", {}).items()
        ),
        scratch_volumes=tuple(sorted((scratch_volume_name(path), path)
                                     for path in raw.get("scratch_paths", DEFAULT_SCRATCH_PATHS))),
        efs_volumes=tuple(
            EfsVolume(
                name=volume_name,
                file_system=volume["file_system"],
                path=volume["path"],
                directory=volume.get("directory", f"/{name}/{volume_name}"),
                read_only=volume.get("read_only", False),
                posix_uid=volume.get("posix_user", {}).get("uid", 1000),
                posix_gid=volume.get("posix_user", {}).get("gid", 1000),
            )
            for volume_name, volume in sorted(raw.get("efs_volumes", {}).items())
        ),
        routes=tuple(
            Route(
                priority=route["priority"],
                host_labels=tuple(route.get("hosts", ())),
                paths=tuple(route.get("paths", ())),
                source=(*source, "routes", index),
            )
            for index, route in enumerate(raw.get("routes", []))
        ),
        secrets=secrets_manager_secrets(raw),
        ssm_secrets=ssm_parameter_secrets(raw),
        environment=tuple(sorted(raw.get("environment", {}).items())),
        calls=tuple(raw.get("calls", ())),
        data_stores=tuple(raw.get("data_stores", ())),
        s3_read_buckets=tuple(raw.get("s3_read_buckets", ())),
        autoscaling=Autoscaling(**{**autoscaling_defaults, **raw.get("autoscaling", {})}),
        critical=raw.get("critical", group.get("critical", False)),
        source=source,
        overrides=tuple(
            (env_name, _build_override(data, raw, sizing_name, override, (*source, "overrides", env_name)))
            for env_name, override in sorted(raw.get("overrides", {}).items())
        ),
    )


def _build_override(data: dict[str, Any], raw: dict[str, Any], sizing_name: str, override: dict[str, Any],
                    source: CatalogPath) -> ServiceOverride:
    """An override's `sizing` starts again from that named sizing (the service's own `resources` no longer
    apply); its `resources` then change single fields of whichever sizing applies."""
    sizing: Sizing | None = None
    sizing_source = source
    if "sizing" in override or "resources" in override:
        if "sizing" in override:
            fields = dict(data["sizing"][override["sizing"]])
        else:
            fields = {**data["sizing"][sizing_name], **raw.get("resources", {})}
        sizing = Sizing(**{**fields, **override.get("resources", {})})
        sizing_source = (*source, "resources") if "resources" in override else (*source, "sizing")
    return ServiceOverride(
        enabled=override.get("enabled", True),
        sizing=sizing,
        sizing_source=sizing_source,
        image_tag=override.get("image_tag"),
        environment=tuple(sorted(override.get("environment", {}).items())),
        source=source,
    )


def secrets_manager_secrets(raw: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((var, name) for var, name in raw.get("secrets", {}).items() if isinstance(name, str)))


def ssm_parameter_secrets(raw: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((var, name["ssm"]) for var, name in raw.get("secrets", {}).items() if isinstance(name, dict)))


def _build_environment(name: str, raw: dict[str, Any]) -> Environment:
    return Environment(
        name=name,
        domain=raw["domain"],
        dns_zone=raw.get("dns_zone"),
        certificate_domain=raw["certificate_domain"],
        certificate_alternative_names=tuple(raw.get("certificate_alternative_names", ())),
        vpc=Lookup.from_catalog(raw["vpc"]),
        private_subnets=Lookup.from_catalog(raw["private_subnets"], "ids"),
        public_subnets=Lookup.from_catalog(raw["public_subnets"], "ids"),
        data_store_security_groups=tuple(
            (store, Lookup.from_catalog(lookup)) for store, lookup in sorted(raw["data_stores"].items())
        ),
        logs_bucket=raw["logs_bucket"],
        log_retention_days=raw["log_retention_days"],
        deletion_protection=raw["deletion_protection"],
        enable_execute_command=raw.get("enable_execute_command", False),
        secret_prefix=raw["secret_prefix"],
        ssm_parameter_prefix=raw.get("ssm_parameter_prefix", "/" + raw["secret_prefix"]),
        file_systems=tuple(
            (name, FileSystem(lookup=Lookup(id=fs.get("id"), tags=tuple(sorted(fs.get("tags", {}).items()))),
                              security_group=Lookup.from_catalog(fs["security_group"])))
            for name, fs in sorted(raw.get("file_systems", {}).items())
        ),
        image_tag=raw["image_tag"],
        environment=tuple(sorted(raw.get("environment", {}).items())),
        pagerduty_endpoint_secret=raw["secret_prefix"] + raw["alerting"]["pagerduty_endpoint_secret"],
        alert_emails=tuple(raw["alerting"].get("alert_emails", ())),
        promote_from=raw.get("promote_from"),
        state_bucket=raw.get("backend", {}).get("bucket"),
        tags=tuple(sorted(raw.get("tags", {}).items())),
        legacy=_build_legacy(raw["legacy"]) if "legacy" in raw else None,
        migration=tuple(
            (service, MigrationStep.from_catalog(step, ("environments", name, "migration", service)))
            for service, step in sorted(raw.get("migration", {}).items())
        ),
        dns=tuple(sorted((label, DnsTarget(target)) for label, target in raw.get("dns", {}).items())),
        edge=_build_edge(raw),
        source=("environments", name),
        layout=raw.get("layout", "single"),
    )


def _build_legacy(raw: dict[str, Any]) -> Legacy:
    ingress = raw["ingress"]
    return Legacy(
        ingress=LegacyIngress(
            addresses=tuple(ingress["addresses"]),
            port=ingress.get("port", 443),
            protocol=ingress.get("protocol", "HTTPS"),
            health_check_path=ingress.get("health_check_path", "/healthz"),
            dns_alias_name=ingress.get("dns_alias", {}).get("name"),
            dns_alias_zone_id=ingress.get("dns_alias", {}).get("zone_id"),
        ),
        service_url=raw.get("service_url"),
        cluster_cidrs=tuple(raw.get("cluster_cidrs", ())),
    )


# ---------------------------------------------------------------------------
# A service as deployed in one environment: every value final.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenerRule:
    priority: int
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    source: CatalogPath

    @property
    def key(self) -> str:
        """`for_each` key: the route's position in the service's `routes` (`route-1`, ...).

        Not the priority or the conditions: a rule keyed by those would be deleted and
        created again when they change, and for that moment its requests would fall
        through to the next matching rule. Keyed by position, Terraform updates the
        priority, hosts and paths of the same rule in place."""
        return f"route-{self.source[-1] + 1}"


@dataclass(frozen=True)
class Traffic:
    """Weighted forward of a service's listener rules between ECS and the Kubernetes ingress."""

    ecs_weight: int
    legacy_weight: int
    stickiness_seconds: int | None


@dataclass(frozen=True)
class LegacyRoute:
    """A listener rule of a service still on Kubernetes: it forwards to the ingress, so that a
    broader rule of a service already on ECS (e.g. `/api/*`) does not take its requests."""

    service: str
    rule: ListenerRule

    @property
    def key(self) -> str:
        return f"{self.service}/{self.rule.key}"


_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")


def ecr_repository_name(image: str, registry: str) -> str | None:
    """The repository of an image in `registry` (`<registry>/<repo>:<tag>` -> `<repo>`); None elsewhere."""
    match = _ECR_IMAGE.match(image)
    return match.group(3) if match and image.startswith(registry + "/") else None


def ecr_repository_arn(image: str) -> str | None:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` -> the repository's ARN; None outside private ECR."""
    match = _ECR_IMAGE.match(image)
    return None if match is None else f"arn:aws:ecr:{match.group(2)}:{match.group(1)}:repository/{match.group(3)}"


def url_variable(service: str) -> str:
    """Environment variable that carries a callee's URL: `user-service` -> `USER_SERVICE_URL`."""
    return service.upper().replace("-", "_") + "_URL"


@dataclass(frozen=True)
class DeployedService:
    service: Service
    names: ServiceNames
    image: str
    image_repository_arn: str
    listener_rules: tuple[ListenerRule, ...]
    secrets: tuple[tuple[str, str], ...]
    ssm_secrets: tuple[tuple[str, str], ...]  # (variable, full parameter name)
    environment: tuple[tuple[str, str], ...]
    efs_volumes: tuple[tuple[EfsVolume, str], ...]  # (volume, access point name)
    s3_read_bucket_arns: tuple[str, ...]
    callers: tuple[str, ...]
    step: MigrationStep
    # None: the rules forward to the ECS target group alone.
    traffic: Traffic | None
    # `<CALLEE>_URL` per callee: Service Connect once the callee takes all its requests on ECS,
    # the legacy URL before that.
    callee_urls: tuple[tuple[str, str], ...]
    # Callees that run on ECS here: their ports are opened to this service.
    ecs_callees: tuple[str, ...]
    # Some callee is reached through the Kubernetes ingress: egress to it is opened.
    calls_legacy: bool
    # (legacy rule key, rule key) of the rules that forwarded to Kubernetes before this
    # service ran on ECS, for `moved` blocks; empty outside a migrating environment.
    rules_moved_from_legacy: tuple[tuple[str, str], ...]
    # Data stores and file systems this service gets security-group rules for: one per distinct
    # (security group, port), named by the first such store or file system. Two stores behind one group
    # on one port (or two file systems behind one group) would otherwise render the same rule twice,
    # which AWS refuses (InvalidPermission.Duplicate).
    rule_data_stores: tuple[str, ...] = ()
    rule_file_systems: tuple[str, ...] = ()
    # Module of the internet-facing load balancer its group is placed on (`alb`, `alb_2`, ...).
    public_load_balancer: str = "alb"

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def module_name(self) -> str:
        """Terraform module label: `service_<name with underscores>`."""
        return "service_" + self.service.name.replace("-", "_")

    @property
    def previous_module_name(self) -> str | None:
        """Module label of the service's previous name, for the `moved` block of a rename."""
        previous = self.service.renamed_from
        return None if previous is None else "service_" + previous.replace("-", "_")

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(sorted({secret for _, secret in self.secrets}))

    @property
    def sidecar_image_repository_arns(self) -> tuple[str, ...]:
        """ECR repositories of the sidecars' images, which the execution role must be allowed to pull."""
        return tuple(sorted({arn for sidecar in self.service.sidecars if (arn := ecr_repository_arn(sidecar.image))}))

    @property
    def has_log_router(self) -> bool:
        return any(sidecar.log_router for sidecar in self.service.sidecars)

    @property
    def ssm_parameter_names(self) -> tuple[str, ...]:
        return tuple(sorted({name for _, name in self.ssm_secrets}))

    @property
    def additional_load_balancer(self) -> str | None:
        """`alb_<n>` when its routes are on an internet-facing load balancer other than the first, else None."""
        routed_publicly = self.service.load_balanced and not self.service.internal
        return self.public_load_balancer if routed_publicly and self.public_load_balancer != "alb" else None

    @property
    def load_balancer_module(self) -> str:
        """The root's module whose listener holds this service's rules."""
        return "internal_alb" if self.service.internal else self.public_load_balancer

    @property
    def file_systems(self) -> tuple[str, ...]:
        """Environment file systems this service mounts (each gets an NFS rule from its security group)."""
        return tuple(sorted({volume.file_system for volume, _ in self.efs_volumes}))


@dataclass(frozen=True)
class DeployedScheduledTask:
    task: ScheduledTask
    names: ServiceNames
    image: str
    image_repository_arn: str
    secrets: tuple[tuple[str, str], ...]
    ssm_secrets: tuple[tuple[str, str], ...]
    environment: tuple[tuple[str, str], ...]
    # (data store, port) the task reaches, one per distinct (security group, port) as for services.
    data_stores: tuple[tuple[str, int], ...] = ()

    @property
    def module_name(self) -> str:
        """Terraform module label: `scheduled_<name with underscores>`."""
        return "scheduled_" + self.task.name.replace("-", "_")

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(secret for _, secret in self.secrets)

    @property
    def ssm_parameter_names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.ssm_secrets)


PLATFORM_STACK = "platform"


@dataclass(frozen=True)
class LoadBalancer:
    """One internet-facing load balancer of an environment and the services whose routes it holds."""

    number: int
    names: LoadBalancerNames
    groups: tuple[str, ...]
    services: tuple[DeployedService, ...]
    # The first one also holds the Kubernetes ingress's target group and rules while the environment migrates.
    legacy_routes: tuple["LegacyRoute", ...] = ()
    hosts: frozenset[str] = frozenset()  # host labels whose rules are here

    has_legacy: bool = False

    @property
    def module_name(self) -> str:
        return self.names.module

    @property
    def target_groups(self) -> int:
        """One per service, and the Kubernetes ingress's on the first while migrating."""
        return len(self.services) + (1 if self.number == 1 and self.has_legacy else 0)

    @property
    def listener_rules(self) -> int:
        return sum(len(svc.listener_rules) for svc in self.services) + len(self.legacy_routes)


@dataclass(frozen=True)
class Stack:
    """One Terraform root of an environment rendered as stacks: `platform`, or one service group."""

    name: str
    services: tuple[DeployedService, ...] = ()

    @property
    def is_platform(self) -> bool:
        return self.name == PLATFORM_STACK


@dataclass(frozen=True)
class Deployment:
    """One environment of the catalog: what its root module wires together."""

    catalog: Catalog
    environment: Environment
    names: EnvironmentNames
    services: tuple[DeployedService, ...]
    legacy_routes: tuple[LegacyRoute, ...]
    # The catalog's services as this environment runs them (overrides applied, left-out ones dropped),
    # on ECS or not yet.
    enabled_services: tuple[Service, ...] = ()
    # Internet-facing load balancers, the first always (it holds the listener every host falls back to).
    load_balancers: tuple[LoadBalancer, ...] = ()
    # (group, group, pin, pin) of groups that share a host but are pinned to different load balancers.
    load_balancer_pin_conflicts: tuple[tuple[str, str, int, int], ...] = ()

    @property
    def public_services(self) -> tuple[DeployedService, ...]:
        """Services routed through the internet-facing load balancer."""
        return tuple(svc for svc in self.services if svc.service.load_balanced and not svc.service.internal)

    @property
    def internal_services(self) -> tuple[DeployedService, ...]:
        """Services routed through the internal load balancer."""
        return tuple(svc for svc in self.services if svc.service.load_balanced and svc.service.internal)

    @property
    def cluster_cidrs(self) -> tuple[str, ...]:
        """Kubernetes pod CIDRs while the environment migrates (they reach services on ECS through a load balancer)."""
        return self.environment.legacy.cluster_cidrs if self.environment.legacy else ()

    @property
    def has_internal_load_balancer(self) -> bool:
        return bool(self.internal_services)

    @property
    def file_systems(self) -> tuple[tuple[str, FileSystem, str], ...]:
        """(name, file system, label of its security group's data source) of the environment's file systems
        some service here mounts. The label has an underscore, which data store names cannot have."""
        used = {name for svc in self.services for name in svc.file_systems}
        return tuple((name, fs, "efs_" + name.replace("-", "_")) for name, fs in self.environment.file_systems
                     if name in used)

    @property
    def subnet_lookups(self) -> tuple[tuple[str, Lookup], ...]:
        """(label, lookup) of the environment's private and public subnets."""
        return (("private", self.environment.private_subnets), ("public", self.environment.public_subnets))

    @property
    def security_group_lookups(self) -> tuple[tuple[str, Lookup], ...]:
        """(data source label, lookup) of every existing security group the root reads: the data stores',
        then the mount targets' of the EFS file systems used here."""
        return (*((store, lookup) for store, _, lookup in self.data_stores),
                *((label, fs.security_group) for _, fs, label in self.file_systems))

    @property
    def internal_dns_records(self) -> tuple[str, ...]:
        """Hosts of internal services, whose records alias the internal load balancer (never CloudFront)."""
        if self.environment.dns_zone is None:
            return ()
        labels = {label for svc in self.internal_services for route in svc.service.routes for label in route.host_labels}
        return tuple(sorted(_qualify(label, self.environment.domain) for label in labels
                            if not label.startswith("*") and self.environment.dns_mode(label) != DnsTarget.UNMANAGED))

    @property
    def scheduled_tasks(self) -> tuple["DeployedScheduledTask", ...]:
        """Scheduled tasks run on ECS in every environment (a CronJob has no traffic to migrate)."""
        env, platform = self.environment, self.platform
        canonical, ports = canonical_data_stores(self.catalog, env), dict(self.catalog.data_store_ports)
        return tuple(
            DeployedScheduledTask(
                task=task,
                names=self.names.service(task.name, task.name),
                image=f"{platform.image_registry}/{task.image_repository}:{env.image_tag}",
                image_repository_arn=(f"arn:aws:ecr:{platform.registry_region}:{platform.registry_account}:"
                                      f"repository/{task.image_repository}"),
                secrets=tuple((var, env.secret_prefix + secret) for var, secret in task.secrets),
                ssm_secrets=tuple((var, env.ssm_parameter_prefix + name) for var, name in task.ssm_secrets),
                environment=tuple(sorted({**dict(env.environment), **dict(task.environment)}.items())),
                data_stores=tuple(sorted({(canonical.get(store, store), ports[store]) for store in task.data_stores})),
            )
            for task in (each.in_environment(env.name) for each in self.catalog.scheduled_tasks) if task is not None
        )

    @property
    def platform(self) -> Platform:
        return self.catalog.platform

    @property
    def host_labels(self) -> tuple[str, ...]:
        """Host labels of the internet-facing load balancer: routes of the services this environment runs
        (left-out and internal services excluded)."""
        return tuple(sorted({label for service in self.enabled_services if not service.internal
                             for route in service.routes for label in route.host_labels}))

    @property
    def dns_records(self) -> tuple[tuple[str, str], ...]:
        """(host name, `alb`, `edge` or `legacy`) for every concrete host (wildcards excluded) whose record
        this environment manages: every routed host without a legacy side; with one, those the catalog names."""
        return tuple(sorted(
            (_qualify(label, self.environment.domain), self.environment.dns_mode(label)) for label in self.host_labels
            if not label.startswith("*") and self.environment.dns_mode(label) != DnsTarget.UNMANAGED
        ))

    @property
    def edge_aliases(self) -> tuple[str, ...]:
        """Every host name the distribution answers for (it may answer before DNS points at it)."""
        return tuple(_qualify(label, self.environment.domain) for label in self.host_labels)

    def dns_records_on(self, load_balancer: LoadBalancer) -> tuple[tuple[str, str], ...]:
        """`dns_records` of the hosts whose rules are on `load_balancer`."""
        hosts = {_qualify(label, self.environment.domain) for label in load_balancer.hosts}
        return tuple((host, target) for host, target in self.dns_records if host in hosts)

    def edge_aliases_on(self, load_balancer: LoadBalancer) -> tuple[str, ...]:
        """The hosts the distribution in front of `load_balancer` answers for."""
        return tuple(_qualify(label, self.environment.domain) for label in self.host_labels if label in load_balancer.hosts)

    @property
    def origin_verify_secret(self) -> str | None:
        """The secret the load balancer's WAF checks CloudFront's header against, once it is behind CloudFront only."""
        return self.environment.edge.origin_verify_secret if self.load_balancer_behind_edge_only else None

    @property
    def load_balancer_behind_edge_only(self) -> bool:
        """The load balancer accepts only CloudFront once no host's DNS may point at it directly: every
        host is `edge` or `legacy`. Until then it stays open, so moving hosts one by one never cuts one off."""
        if self.environment.edge is None:
            return False
        return all(self.environment.dns_mode(label) in (DnsTarget.EDGE, DnsTarget.LEGACY) for label in self.host_labels)

    @property
    def ci_github_subject(self) -> str | None:
        """OIDC `sub` of the GitHub Actions jobs that may deploy here: the repository's jobs that run in
        the GitHub environment of this environment's name."""
        repository = self.platform.github_repository
        return None if repository is None else f"repo:{repository}:environment:{self.environment.name}"

    @property
    def data_stores(self) -> tuple[tuple[str, int, Lookup], ...]:
        lookups = dict(self.environment.data_store_security_groups)
        return tuple((name, port, lookups[name]) for name, port in self.catalog.data_store_ports if name in lookups)

    @property
    def stacks(self) -> tuple[Stack, ...]:
        """The roots of a `stacks` environment, in the order they are applied: `platform` first, then one per
        service group (or `stack` the catalog names) in the catalog's order of their first service; those apply
        in parallel. Empty for `single`."""
        if self.environment.layout != "stacks":
            return ()
        groups: dict[str, list[DeployedService]] = {}
        for svc in self.services:
            groups.setdefault(svc.service.stack, []).append(svc)
        return (Stack(PLATFORM_STACK), *(Stack(name, tuple(members)) for name, members in groups.items()))

    def callees_outside(self, stack: Stack) -> tuple[DeployedService, ...]:
        """Services of other stacks that services of `stack` call: their security groups and ports are read."""
        own = {svc.name for svc in stack.services}
        wanted = {callee for svc in stack.services for callee in svc.ecs_callees if callee not in own}
        return tuple(svc for svc in self.services if svc.name in wanted)

    @classmethod
    def build(cls, catalog: Catalog, environment: Environment) -> "Deployment":
        env_names = EnvironmentNames(catalog.platform.name, environment.name)
        enabled = tuple(service for service in (each.in_environment(environment.name) for each in catalog.services)
                        if service is not None)
        on_ecs = [service for service in enabled if environment.step_of(service.name).state != MigrationState.KUBERNETES]
        callers: dict[str, list[str]] = {service.name: [] for service in on_ecs}
        for service in on_ecs:
            for callee in service.calls:
                if callee in callers:
                    callers[callee].append(service.name)
        platform = catalog.platform
        ports = {service.name: service.port for service in catalog.services}
        # Service Connect proxies HTTP, HTTP/2 and gRPC as http://; a tcp callee's bytes pass unread.
        url_schemes = {service.name: "tcp" if service.protocol == Protocol.TCP else "http" for service in catalog.services}

        def rules_of(service: Service) -> tuple[ListenerRule, ...]:
            return tuple(
                ListenerRule(
                    priority=route.priority,
                    hosts=tuple(_qualify(label, environment.domain) for label in route.host_labels),
                    paths=route.paths,
                    source=route.source,
                )
                for route in service.routes
            )

        def callee_url(callee: str) -> tuple[str, str, bool] | None:
            """(variable, URL, through the legacy ingress?) for a call to `callee`."""
            step = environment.step_of(callee)
            if step.state == MigrationState.ECS or (step.state == MigrationState.SPLIT and step.ecs_percent == 100):
                return url_variable(callee), f"{url_schemes[callee]}://{callee}:{ports[callee]}", False
            legacy_url = environment.legacy.url_of(callee) if environment.legacy else None
            return None if legacy_url is None else (url_variable(callee), legacy_url, True)

        def traffic_of(step: MigrationStep) -> Traffic | None:
            if step.state != MigrationState.SPLIT:
                return None
            return Traffic(step.ecs_percent, 100 - step.ecs_percent, step.stickiness_seconds)

        canonical_store = canonical_data_stores(catalog, environment)
        file_system_groups = dict(environment.file_systems)
        canonical_file_system = _first_of_each_group(list(file_system_groups),
                                                     lambda name: file_system_groups[name].security_group)

        deployed = []
        for service in on_ecs:
            step = environment.step_of(service.name)
            calls = [found for found in map(callee_url, service.calls) if found is not None]
            urls = tuple(sorted((variable, url) for variable, url, _ in calls))
            service_names = env_names.service(service.name, service.short_name, service.protocol)
            deployed.append(DeployedService(
                service=service,
                names=service_names,
                image=f"{platform.image_registry}/{service.image_repository}:{service.image_tag or environment.image_tag}",
                image_repository_arn=(
                    f"arn:aws:ecr:{platform.registry_region}:{platform.registry_account}:"
                    f"repository/{service.image_repository}"
                ),
                listener_rules=rules_of(service),
                secrets=tuple((var, environment.secret_prefix + secret) for var, secret in service.secrets),
                ssm_secrets=tuple((var, environment.ssm_parameter_prefix + name) for var, name in service.ssm_secrets),
                environment=tuple(sorted(
                    {**dict(environment.environment), **dict(urls), **dict(service.environment)}.items()
                )),
                efs_volumes=tuple((volume, service_names.access_point(volume.name)) for volume in service.efs_volumes),
                s3_read_bucket_arns=tuple(
                    f"arn:aws:s3:::{bucket.replace('{environment}', environment.name)}"
                    for bucket in service.s3_read_buckets
                ),
                callers=tuple(sorted(callers[service.name])),
                step=step,
                traffic=traffic_of(step),
                callee_urls=urls,
                ecs_callees=tuple(callee for callee in service.calls if callee in callers),
                calls_legacy=any(through_legacy for _, _, through_legacy in calls),
                rules_moved_from_legacy=tuple(
                    (LegacyRoute(service.name, rule).key, rule.key) for rule in rules_of(service)
                ) if environment.legacy else (),
                rule_data_stores=tuple(sorted({canonical_store.get(store, store) for store in service.data_stores})),
                rule_file_systems=tuple(sorted({canonical_file_system.get(volume.file_system, volume.file_system)
                                                for volume in service.efs_volumes})),
            ))
        # An internal service still on Kubernetes gets no rule: the internet-facing load balancer
        # must not reach it, and Kubernetes keeps serving it inside the cluster.
        legacy_routes = tuple(
            LegacyRoute(service.name, rule)
            for service in enabled if environment.step_of(service.name).state == MigrationState.KUBERNETES and not service.internal
            for rule in rules_of(service)
        )
        placement, conflicts = _place_groups(catalog, environment, deployed)
        deployed = [replace(svc, public_load_balancer=LoadBalancerNames(env_names, placement[svc.service.group]).module)
                    if svc.service.load_balanced and not svc.service.internal else svc for svc in deployed]
        numbers = sorted({1, *(placement[svc.service.group] for svc in deployed
                               if svc.service.load_balanced and not svc.service.internal)})
        label_numbers = {label: placement.get(service.group, 1) for service in enabled if not service.internal
                         for route in service.routes for label in route.host_labels}
        load_balancers = tuple(
            LoadBalancer(
                number=number,
                names=LoadBalancerNames(env_names, number),
                groups=tuple(group for group in catalog.groups if placement.get(group) == number),
                services=tuple(svc for svc in deployed if svc.service.load_balanced and not svc.service.internal
                               and placement[svc.service.group] == number),
                legacy_routes=legacy_routes if number == 1 else (),
                hosts=frozenset(label for label, placed in label_numbers.items() if placed == number),
                has_legacy=environment.legacy is not None,
            )
            for number in numbers
        )
        return cls(catalog=catalog, environment=environment, names=env_names, services=tuple(deployed),
                   legacy_routes=legacy_routes, enabled_services=enabled, load_balancers=load_balancers,
                   load_balancer_pin_conflicts=tuple(conflicts))


def _place_groups(catalog: Catalog, environment: Environment,
                  deployed: list[DeployedService]) -> tuple[dict[str, int], list[tuple[str, str, int, int]]]:
    """Load balancer number per service group (generator/catalog/placement.py). While the environment migrates,
    every group stays on the first: the Kubernetes ingress's target group and the hosts' DNS are there."""
    if environment.legacy is not None:
        return {group: 1 for group in catalog.groups}, []
    routed = [svc for svc in deployed if svc.service.load_balanced and not svc.service.internal]
    demand: dict[str, Demand] = {}
    hosts: dict[str, set[str]] = {}
    for svc in routed:
        group = svc.service.group
        demand[group] = demand.get(group, Demand()) + Demand(1, len(svc.listener_rules), 1)
        hosts.setdefault(group, set()).update(label for route in svc.service.routes for label in route.host_labels)
    groups = [group for group in catalog.groups if group in demand]
    units, conflicts = units_of(groups, hosts, demand, dict(catalog.load_balancer_pins))
    remembered = dict(dict(catalog.load_balancer_memory).get(environment.name, ()))
    grown = {group for group, (_, count) in remembered.items() if demand.get(group, Demand()).target_groups > count}
    placement = place(units, catalog.platform.load_balancer_quotas, {group: number for group, (number, _) in remembered.items()},
                      grown=grown)
    return {group: placement.by_group.get(group, 1) for group in catalog.groups}, conflicts


def canonical_data_stores(catalog: Catalog, environment: Environment) -> dict[str, str]:
    """Each data store -> the first store behind the same security group lookup on the same port."""
    lookups, ports = dict(environment.data_store_security_groups), dict(catalog.data_store_ports)
    return _first_of_each_group([name for name in ports if name in lookups], lambda name: (lookups[name], ports[name]))


def _first_of_each_group(names: list[str], key: Any) -> dict[str, str]:
    """Each name -> the first name (in sorted order) with the same `key(name)`."""
    first: dict[Any, str] = {}
    for name in sorted(names):
        first.setdefault(key(name), name)
    return {name: first[key(name)] for name in names}


def _build_edge(raw: dict[str, Any]) -> Edge | None:
    if "edge" not in raw:
        return None
    edge = raw["edge"]
    return Edge(
        certificate_domain=edge.get("certificate_domain", raw["certificate_domain"]),
        certificate_alternative_names=tuple(edge.get("certificate_alternative_names",
                                                     raw.get("certificate_alternative_names", ()))),
        origin_verify_secret=raw["secret_prefix"] + edge.get("origin_verify_secret", "edge/origin-verify"),
        price_class=edge.get("price_class", "PriceClass_100"),
    )


def scratch_volume_name(path: str) -> str:
    """ECS volume names allow letters, digits, `-` and `_`: `/var/cache/nginx` -> `scratch-var-cache-nginx`."""
    return "scratch-" + re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")).strip("-")


def _qualify(label: str, domain: str) -> str:
    return f"{label}.{domain}"
