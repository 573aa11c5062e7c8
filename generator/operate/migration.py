"""Phase 4 of the design: which services move from Kubernetes to ECS in which wave, and
where each one stands.

Rules (also in docs/operations.md, "Migrating a service"):
1. Non-critical services go first; services whose group (or own entry) says `critical`
   come last, in the final cutover.
2. A service's callees move no later than the service itself (a server before its
   clients: Service Connect only reaches tasks on ECS, and clients only see endpoints
   that existed when they started). When the environment has a legacy URL
   (`legacy.service_url`), a call from ECS to a service still on Kubernetes goes through
   the ingress, so rule 1 wins over rule 2 across the critical line; within each side
   rule 2 still orders the waves.
3. Services that call each other in a cycle move in the same wave: no order of them
   satisfies rule 2, and moving them together keeps every call on one side.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.catalog.model import Catalog, Environment, MigrationState, MigrationStep

# The share on ECS a service goes through, one reviewed catalog change each.
LADDER = (10, 50, 100)


@dataclass(frozen=True)
class PlannedService:
    name: str
    critical: bool
    state: str
    ecs_percent: int
    next_step: str


@dataclass(frozen=True)
class Wave:
    number: int
    services: tuple[PlannedService, ...]


def next_step(name: str, step: MigrationStep, has_legacy: bool, internal: bool = False) -> str:
    if not has_legacy or step.state == MigrationState.ECS:
        return "done: on ECS only"
    if internal:
        # The internal load balancer cannot forward to the ingress's target group: no weighted split.
        return f"move at once (internal, no canary): `migration: {{{name}: ecs}}`"
    if step.state == MigrationState.KUBERNETES:
        return f"start the canary: `migration: {{{name}: {LADDER[0]}}}` (creates the ECS service)"
    if step.ecs_percent == 100:
        return f"decommission the Kubernetes side: `migration: {{{name}: ecs}}`"
    following = next(share for share in LADDER if share > step.ecs_percent)
    return f"after `migration-check` passes: `migration: {{{name}: {following}}}`"


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components come out callees first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, neighbours = work[-1]
            advanced = False
            for neighbour in neighbours:
                if neighbour not in index:
                    index[neighbour] = low[neighbour] = counter
                    counter += 1
                    stack.append(neighbour)
                    on_stack.add(neighbour)
                    work.append((neighbour, iter(edges[neighbour])))
                    advanced = True
                    break
                if neighbour in on_stack:
                    low[node] = min(low[node], index[neighbour])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def plan_waves(catalog: Catalog, environment: Environment) -> list[Wave]:
    services = {service.name: service for service in catalog.services
                if service.in_environment(environment.name) is not None}
    covered = environment.legacy is not None and environment.legacy.service_url is not None
    edges = {
        name: [
            callee for callee in service.calls
            if callee in services and (not covered or services[callee].critical == service.critical)
        ]
        for name, service in services.items()
    }
    order = list(services)
    wave_of: dict[str, int] = {}
    for component in _strongly_connected(order, edges):  # callees before callers
        members = set(component)
        first = 1 + max((wave_of[callee] for name in component for callee in edges[name] if callee not in members), default=0)
        for name in component:
            wave_of[name] = first
    if covered:
        last_non_critical = max((wave for name, wave in wave_of.items() if not services[name].critical), default=0)
        critical = [name for name in order if services[name].critical]
        base = min((wave_of[name] for name in critical), default=1)
        for name in critical:
            wave_of[name] = wave_of[name] - base + 1 + last_non_critical
    waves = []
    for number in sorted(set(wave_of.values())):
        members = sorted(name for name, wave in wave_of.items() if wave == number)
        planned = []
        for name in members:
            step = environment.step_of(name)
            planned.append(PlannedService(
                name=name,
                critical=services[name].critical,
                state=step.state,
                ecs_percent=step.ecs_percent,
                next_step=next_step(name, step, environment.legacy is not None, services[name].internal),
            ))
        waves.append(Wave(len(waves) + 1, tuple(planned)))
    return waves


def as_json(environment: Environment, waves: list[Wave]) -> dict[str, object]:
    return {
        "environment": environment.name,
        "waves": [
            {
                "wave": wave.number,
                "services": [
                    {"name": s.name, "ecs_percent": s.ecs_percent, "state": s.state, "critical": s.critical,
                     "next_step": s.next_step}
                    for s in wave.services
                ],
            }
            for wave in waves
        ],
    }


def as_text(environment: Environment, waves: list[Wave]) -> str:
    lines = [f"Migration waves of environment {environment.name!r} (non-critical first, callees before callers):"]
    for wave in waves:
        lines.append(f"wave {wave.number}:")
        for planned in wave.services:
            where = {MigrationState.KUBERNETES: "on Kubernetes", MigrationState.SPLIT: f"{planned.ecs_percent:>3} % on ECS",
                     MigrationState.ECS: "on ECS"}[planned.state]
            critical = " (critical)" if planned.critical else ""
            lines.append(f"  {planned.name:<28} {where:<14} next: {planned.next_step}{critical}")
    return "\n".join(lines)
