"""Model -> template context of an environment's Terraform roots.

An environment is one root (`layout: single`) or a few stacks (`layout: stacks`): a `platform`
root and one root per service group. The same templates lay out both; what differs is which
services a root holds and how it reaches the shared resources, and that is decided here:

- in a single root and the platform stack, through the modules that create them
  (`module.cluster.cluster_arn`);
- in a service group's stack, through data sources that find the platform stack's resources by
  their names (`data.aws_ecs_cluster.this.arn`). Names are literal in the root, so a reviewer
  reads which cluster a stack joins; a group stack needs no access to the platform's state (which
  holds the origin-verify secret's value), and a stack plans without reading another's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.catalog.model import DeployedScheduledTask, DeployedService, Deployment, PLATFORM_STACK, Stack
from generator.render.hcl import HclText, quote

SINGLE_ROOT_FILES = ("versions.tf", "main.tf", "services.tf", "outputs.tf")


@dataclass(frozen=True)
class References:
    """HCL expressions of the shared values a root's service modules use."""

    through_data_sources: bool

    def _pick(self, module_expression: str, data_expression: str) -> HclText:
        return HclText(data_expression if self.through_data_sources else module_expression)

    @property
    def cluster_arn(self) -> HclText:
        return self._pick("module.cluster.cluster_arn", "data.aws_ecs_cluster.this.arn")

    @property
    def cluster_name(self) -> HclText:
        return self._pick("module.cluster.cluster_name", "data.aws_ecs_cluster.this.cluster_name")

    @property
    def service_connect_namespace_arn(self) -> HclText:
        return self._pick("module.cluster.service_connect_namespace_arn", "data.aws_service_discovery_http_namespace.this.arn")

    @property
    def kms_key_arn(self) -> HclText:
        return self._pick("module.cluster.kms_key_arn", "data.aws_kms_alias.cluster.target_key_arn")

    @property
    def alerts_topic_arn(self) -> HclText:
        return self._pick("module.cluster.alerts_topic_arn", "data.aws_sns_topic.alerts.arn")

    @property
    def paging_topic_arn(self) -> HclText:
        return self._pick("module.cluster.paging_topic_arn", "data.aws_sns_topic.paging.arn")

    def listener_arn(self, load_balancer_module: str) -> HclText:
        return self._pick(f"module.{load_balancer_module}.https_listener_arn", f"data.aws_lb_listener.{load_balancer_module}.arn")

    def load_balancer_arn_suffix(self, load_balancer_module: str) -> HclText:
        return self._pick(f"module.{load_balancer_module}.arn_suffix", f"data.aws_lb.{load_balancer_module}.arn_suffix")


@dataclass(frozen=True)
class Root:
    """One Terraform root of an environment: what its templates see besides the deployment."""

    deployment: Deployment
    stack: Stack | None  # None: the environment's single root
    directory: PurePosixPath  # relative to the output directory

    @property
    def name(self) -> str:
        return self.stack.name if self.stack else self.deployment.environment.name

    @property
    def is_group_stack(self) -> bool:
        return self.stack is not None and not self.stack.is_platform

    @property
    def holds_platform(self) -> bool:
        """Cluster, load balancers, edge, security groups and the CI role live here."""
        return not self.is_group_stack

    @property
    def refs(self) -> References:
        return References(through_data_sources=self.is_group_stack)

    def module_source(self, module: str) -> HclText:
        depth = len(self.directory.parts)
        return quote("/".join([".."] * depth + ["modules", module]))

    @property
    def services(self) -> tuple[DeployedService, ...]:
        """The services whose modules, roles and security-group rules this root holds."""
        if self.stack is None:
            return self.deployment.services
        return self.stack.services

    @property
    def scheduled_tasks(self) -> tuple[DeployedScheduledTask, ...]:
        """Scheduled tasks belong to no service group: the platform stack holds them."""
        return self.deployment.scheduled_tasks if self.holds_platform else ()

    @property
    def files(self) -> tuple[str, ...]:
        """The root's file names: a platform stack without scheduled tasks has no services.tf."""
        if self.stack is not None and self.stack.is_platform and not self.scheduled_tasks:
            return tuple(name for name in SINGLE_ROOT_FILES if name != "services.tf")
        return SINGLE_ROOT_FILES

    @property
    def state_key(self) -> str:
        return self.deployment.names.state_key(self.stack.name if self.stack else None)

    @property
    def has_edge_provider(self) -> bool:
        return self.holds_platform and self.deployment.environment.edge is not None

    # What a group stack looks up ------------------------------------------------------------------------

    @property
    def callees_outside(self) -> tuple[DeployedService, ...]:
        return self.deployment.callees_outside(self.stack) if self.is_group_stack else ()

    @property
    def looked_up_security_groups(self) -> tuple[tuple[str, str], ...]:
        """(service, security group name) of every service group this stack's rules refer to: its own and its callees'."""
        return tuple((svc.name, svc.names.security_group) for svc in (*self.services, *self.callees_outside))

    @property
    def load_balancer_modules(self) -> tuple[str, ...]:
        """Load balancers whose listeners this stack's services attach rules to."""
        return tuple(sorted({svc.load_balancer_module for svc in self.services if svc.service.load_balanced}))

    def load_balancer_name(self, module: str) -> str:
        if module == "internal_alb":
            return self.deployment.names.internal_alb
        return next(lb.names.alb for lb in self.deployment.load_balancers if lb.module_name == module)

    def load_balancer_security_group_name(self, module: str) -> str:
        if module == "internal_alb":
            return self.deployment.names.internal_alb_security_group
        return next(lb.names.security_group for lb in self.deployment.load_balancers if lb.module_name == module)

    @property
    def additional_load_balancer_modules(self) -> tuple[str, ...]:
        """Internet-facing load balancers other than the first that this stack's services use."""
        return tuple(module for module in self.load_balancer_modules if module not in ("alb", "internal_alb"))

    @property
    def data_stores(self) -> tuple[tuple[str, int, object], ...]:
        """The environment's data stores this root's services reach (a group stack looks up only those)."""
        if not self.is_group_stack:
            return self.deployment.data_stores
        used = {store for svc in self.services for store in svc.rule_data_stores}
        return tuple(store for store in self.deployment.data_stores if store[0] in used)

    @property
    def file_systems(self) -> tuple[tuple[str, object, str], ...]:
        if not self.is_group_stack:
            return self.deployment.file_systems
        used = {name for svc in self.services for name in svc.file_systems}
        return tuple(fs for fs in self.deployment.file_systems if fs[0] in used)

    @property
    def security_group_lookups(self) -> tuple[tuple[str, object], ...]:
        return (*((store, lookup) for store, _, lookup in self.data_stores),
                *((label, fs.security_group) for _, fs, label in self.file_systems))  # type: ignore[attr-defined]

    @property
    def subnet_lookups(self) -> tuple[tuple[str, object], ...]:
        """A group stack's tasks run in the private subnets only; the platform's load balancers need the public ones."""
        lookups = self.deployment.subnet_lookups
        return tuple(lookup for lookup in lookups if lookup[0] == "private") if self.is_group_stack else lookups


def roots(deployment: Deployment) -> tuple[Root, ...]:
    """The roots of one environment, in the order they are applied."""
    base = PurePosixPath("environments", deployment.environment.name)
    if not deployment.stacks:
        return (Root(deployment, None, base),)
    return tuple(Root(deployment, stack, base / stack.name) for stack in deployment.stacks)



@dataclass(frozen=True)
class TouchedRoots:
    """The roots whose Terraform files a change touches, in two waves: single roots and platform stacks
    first, then service stacks (whose data sources read what the first wave made)."""

    first: tuple[str, ...]
    then: tuple[str, ...]
    every_root: bool  # a module changed: every root that calls it plans differently

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.first, *self.then)


def touched_roots(changed_paths: Iterable[str], root_directories: Iterable[str]) -> TouchedRoots:
    """Which roots the changed files (paths relative to the output directory) touch: a root's own .tf files
    (also of a root that is gone), or any module's, which touches every root in `root_directories`."""
    changed = [path.replace("\\", "/") for path in changed_paths]
    every = any(path.startswith("modules/") and path.endswith(".tf") for path in changed)
    touched = {str(PurePosixPath(path).parent) for path in changed
               if path.startswith("environments/") and path.endswith(".tf")}
    if every:
        touched |= set(root_directories)
    ordered = sorted(touched)
    first = tuple(root for root in ordered if not _is_service_stack(root))
    then = tuple(root for root in ordered if _is_service_stack(root))
    return TouchedRoots(first, then, every)


def _is_service_stack(root: str) -> bool:
    path = PurePosixPath(root)
    return len(path.parts) == 3 and path.name != PLATFORM_STACK


def root_directories(out_dir: Path) -> list[str]:
    """The roots an output tree holds: every directory under environments/ with a versions.tf."""
    return sorted(str(path.parent.relative_to(out_dir)).replace("\\", "/")
                  for path in (out_dir / "environments").glob("**/versions.tf"))
