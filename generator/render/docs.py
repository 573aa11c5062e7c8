"""The human-readable side of `out/`: a README per environment (diagram, routing table,
services, alarms, cost). The module READMEs come from generator/render/module_docs.py.

Everything shown is computed here from the same model the Terraform comes from, so a
picture never drifts from what is deployed. Text reaches Markdown and Mermaid only
through the escapers below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.catalog import cost
from generator.catalog.model import Deployment, DnsTarget, MigrationState


class DocText(str):
    """Text already fit for the Markdown or Mermaid it is printed into."""


def cell(value: object) -> DocText:
    """A Markdown table cell: one line, `|` and backticks escaped."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    return DocText(" ".join(text.split()))


def prose(value: object) -> DocText:
    """Our own Markdown (module descriptions with `code`): one line, only `|` escaped."""
    return DocText(" ".join(str(value).split()).replace("|", "\\|"))


def code(value: object) -> DocText:
    """Inline code in a table cell (no backticks or pipes inside by construction)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return DocText(f"`{text}`" if "`" not in text else text.replace("`", "'"))


def mermaid_id(value: str) -> DocText:
    return DocText(re.sub(r"[^A-Za-z0-9_]", "_", value))


def mermaid_label(value: str) -> DocText:
    """Inside a quoted Mermaid label: quotes and angle brackets as entities."""
    return DocText(str(value).replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;"))


def text(value: object) -> DocText:
    """Plain prose (names, numbers): one line."""
    return DocText(" ".join(str(value).split()))


# --- environment README ------------------------------------------------------------

@dataclass(frozen=True)
class RouteRow:
    priority: int
    hosts: str
    paths: str
    service: str
    share: str
    node: str
    internal: bool
    balancer: str = "alb"  # the internet-facing load balancer's module holding the rule

    @property
    def load_balancer_node(self) -> str:
        return "internal_alb" if self.internal else self.balancer


@dataclass(frozen=True)
class ServiceRow:
    name: str
    node: str
    group: str
    spot: str
    size: str
    tasks: str
    port: str
    callers: str
    data_stores: str
    where: str


@dataclass(frozen=True)
class ScheduledRow:
    name: str
    schedule: str
    timezone: str
    size: str
    architecture: str
    per_hour: str


@dataclass(frozen=True)
class GroupBox:
    name: str
    node: str
    services: tuple[ServiceRow, ...]


@dataclass(frozen=True)
class EntryEdge:
    """How requests reach a load balancer or the Kubernetes ingress: from `source` to `target`, for `hosts`."""

    source: str
    target: str
    label: str


def entry_edges(deployment: Deployment) -> tuple[EntryEdge, ...]:
    """The edge as DNS and the catalog make it: users reach each host where its record points (CloudFront,
    the ALB directly, or the Kubernetes ingress), CloudFront forwards to the ALB, and internal hosts are reached
    from inside the VPC only."""
    env = deployment.environment
    by_mode: dict[tuple[str, str], list[str]] = {}
    for balancer in deployment.load_balancers:
        for host, mode in deployment.dns_records_on(balancer):
            by_mode.setdefault((mode, balancer.module_name), []).append(host)
    unnamed = [f"{label}.{env.domain}" for label in deployment.host_labels
               if env.dns_mode(label) == DnsTarget.UNMANAGED and not label.startswith("*")]
    edges = []
    for mode, target in ((DnsTarget.EDGE, "cloudfront"), (DnsTarget.ALB, None), (DnsTarget.LEGACY, "k8s")):
        for balancer in deployment.load_balancers:
            if by_mode.get((mode, balancer.module_name)):
                edges.append(EntryEdge("users", target or balancer.module_name, ", ".join(by_mode[(mode, balancer.module_name)])))
    if unnamed:
        edges.append(EntryEdge("users", "k8s" if env.legacy else "alb", ", ".join(unnamed) + " (DNS not managed here)"))
    if env.edge:
        for balancer in deployment.load_balancers:
            edges.append(EntryEdge("cloudfront", balancer.module_name, f"HTTPS to {balancer.names.origin_host(env.domain)}"))
    if not edges:
        edges.append(EntryEdge("users", "alb", "HTTPS"))
    if env.legacy:
        edges.append(EntryEdge("alb", "k8s", "no rule matches"))
    if deployment.has_internal_load_balancer:
        edges.append(EntryEdge("vpc", "internal_alb", "internal hosts"))
    return tuple(edges)


@dataclass(frozen=True)
class EnvironmentDoc:
    deployment: Deployment
    routes: tuple[RouteRow, ...]
    groups: tuple[GroupBox, ...]
    services: tuple[ServiceRow, ...]
    calls: tuple[tuple[str, str], ...]
    store_edges: tuple[tuple[str, str], ...]
    stores: tuple[str, ...]
    alarms: tuple[tuple[str, str, str], ...]
    cost: cost.EnvironmentCost | None
    money: tuple[tuple[str, str, str], ...]  # (item, at min tasks, at max tasks), formatted
    legacy: bool
    scheduled_tasks: tuple[ScheduledRow, ...] = ()
    entries: tuple[EntryEdge, ...] = ()

    @property
    def default_target(self) -> str:
        """Where the listener sends what no rule matches."""
        return "Kubernetes ingress" if self.legacy else "404"


def _share(deployment: Deployment, service: str) -> str:
    step = deployment.environment.step_of(service)
    if deployment.environment.legacy is None:
        return "100 %"
    return {MigrationState.KUBERNETES: "0 % (on Kubernetes)", MigrationState.SPLIT: f"{step.ecs_percent} %", MigrationState.ECS: "100 %"}[step.state]


def _runs_on(deployment: Deployment, service: str, on_ecs: bool) -> str:
    if not on_ecs:
        return "Kubernetes"
    step = deployment.environment.step_of(service)
    return "ECS" if step.state == MigrationState.ECS else f"ECS ({step.ecs_percent} % of requests)"


def environment_doc(deployment: Deployment) -> EnvironmentDoc:
    services = deployment.enabled_services  # as this environment runs them, left-out ones dropped
    on_ecs = {svc.name: svc for svc in deployment.services}
    domain = deployment.environment.domain
    routes = []
    for service in services:
        if service.internal and service.name not in on_ecs:
            continue  # an internal service on Kubernetes has no rule anywhere
        for route in service.routes:
            routes.append(RouteRow(
                priority=route.priority,
                hosts=", ".join(f"{label}.{domain}" for label in route.host_labels) or "any",
                paths=", ".join(route.paths) or "any",
                service=service.name,
                share=_share(deployment, service.name),
                node="svc_" + mermaid_id(service.name),
                internal=service.internal,
                balancer=on_ecs[service.name].public_load_balancer if service.name in on_ecs else "alb",
            ))
    routes.sort(key=lambda row: row.priority)
    callers: dict[str, list[str]] = {service.name: [] for service in services}
    for service in services:
        for callee in service.calls:
            callers[callee].append(service.name)
    rows = []
    for service in services:
        svc = on_ecs.get(service.name)
        spot = next((share.weight for share in service.capacity if share.capacity_provider == "FARGATE_SPOT"), 0)
        total = sum(share.weight for share in service.capacity)
        rows.append(ServiceRow(
            name=service.name,
            node="svc_" + mermaid_id(service.name),
            group=service.group,
            spot=f"{round(100 * spot / total) if total else 0} %",
            size=f"{service.sizing.cpu} / {service.sizing.memory}",
            tasks=f"{service.sizing.min_tasks}-{service.sizing.max_tasks}",
            port=str(service.port) if service.port is not None else "none (worker)",
            callers=", ".join(sorted(callers[service.name])) or "-",
            data_stores=", ".join(service.data_stores) or "-",
            where=_runs_on(deployment, service.name, svc is not None),
        ))
    groups = []
    for group in dict.fromkeys(service.group for service in services):
        groups.append(GroupBox(group, "group_" + mermaid_id(group), tuple(row for row in rows if row.group == group)))
    calls = tuple(("svc_" + mermaid_id(service.name), "svc_" + mermaid_id(callee))
                  for service in services for callee in service.calls)
    store_edges = tuple(("svc_" + mermaid_id(service.name), "store_" + mermaid_id(store))
                        for service in services for store in service.data_stores)
    alarms = (
        ("CPU above 85 % for 5 minutes", "every service", "alerts"),
        ("memory above 90 % for 5 minutes", "every service", "alerts"),
        ("target 5xx above 1 % in 1 minute (also rolls a deployment back)", "routed services", "alerts + paging (PagerDuty)"),
        ("healthy targets below the minimum tasks (also rolls a deployment back)", "routed services", "alerts + paging (PagerDuty)"),
        ("load balancer's own 5xx above 1 % in 1 minute", "the load balancer", "alerts + paging (PagerDuty)"),
    )
    try:
        estimate = cost.estimate(deployment, cost.load_prices())
    except cost.PriceTableError:
        estimate = None
    money: tuple[tuple[str, str, str], ...] = ()
    if estimate is not None:
        money = (
            *((row.name, f"{row.minimum:.2f}", f"{row.maximum:.2f}") for row in estimate.services),
            *((name, f"{amount:.2f}", f"{amount:.2f}") for name, amount in estimate.fixed),
            ("**total**", f"**{estimate.minimum:.2f}**", f"**{estimate.maximum:.2f}**"),
            ("Spot saves against all on-demand", f"{estimate.saving_at_minimum:.2f}", f"{estimate.saving_at_maximum:.2f}"),
        )
    per_hour = dict(estimate.scheduled_task_hours) if estimate is not None else {}
    scheduled = tuple(
        ScheduledRow(
            name=task.task.name,
            schedule=task.task.schedule,
            timezone=task.task.timezone,
            size=f"{task.task.cpu} / {task.task.memory}",
            architecture=task.task.cpu_architecture,
            per_hour=f"{per_hour[task.task.name]:.4f}" if task.task.name in per_hour else "-",
        )
        for task in deployment.scheduled_tasks
    )
    return EnvironmentDoc(
        scheduled_tasks=scheduled,
        deployment=deployment,
        routes=tuple(routes),
        groups=tuple(groups),
        services=tuple(rows),
        calls=calls,
        store_edges=store_edges,
        stores=tuple(name for name, _ in deployment.catalog.data_store_ports),
        alarms=alarms,
        cost=estimate,
        money=money,
        legacy=deployment.environment.legacy is not None,
        entries=entry_edges(deployment),
    )
