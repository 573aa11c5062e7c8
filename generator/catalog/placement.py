"""Which internet-facing load balancer each service group's routes live on.

One Application Load Balancer holds at most 100 target groups and 100 listener rules (AWS defaults; the
rules quota is adjustable), and its security group at most 60 outbound rules (one per routed service).
An environment whose routed services need more gets more load balancers. The unit of placement is a
service group (a team's services stay together), widened to every group that shares one of its hosts:
a host's DNS record points at one load balancer, so every rule for that host must be on it.

Placement is deterministic and stable:
1. a unit with a `load_balancer` pin in the catalog goes there;
2. a unit the previous render placed (its render record) stays there while it fits, so adding a service
   never moves another service to another load balancer;
3. every other unit goes to the first load balancer with room, in catalog order, filling it to
   `fill_percent` (80) of each quota; a new one when none has room. The rest lets the groups there grow in place.
A group moves only when it outgrows its load balancer (or a pin moves it), and `render` warns then.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Quotas:
    """Per load balancer (Elastic Load Balancing and VPC quotas; defaults are AWS's)."""

    target_groups: int = 100
    listener_rules: int = 100
    security_group_rules: int = 60
    # Target groups kept free on each load balancer for a replacement in flight (a target group whose
    # protocol changes is created before the old one is deleted).
    spare_target_groups: int = 1
    # A group is placed on a load balancer only while this share of each quota holds it and what is there:
    # the rest is room for the groups already there to grow without moving.
    fill_percent: int = 80

    def for_new_groups(self) -> "Quotas":
        def share(quota: int) -> int:
            return max(1, quota * self.fill_percent // 100)
        return Quotas(share(self.target_groups - self.spare_target_groups) + self.spare_target_groups,
                      share(self.listener_rules), share(self.security_group_rules), self.spare_target_groups, 100)


@dataclass(frozen=True)
class Demand:
    target_groups: int = 0
    listener_rules: int = 0
    security_group_rules: int = 0

    def __add__(self, other: "Demand") -> "Demand":
        return Demand(self.target_groups + other.target_groups, self.listener_rules + other.listener_rules,
                      self.security_group_rules + other.security_group_rules)

    def fits(self, quotas: Quotas) -> bool:
        return (self.target_groups <= quotas.target_groups - quotas.spare_target_groups
                and self.listener_rules <= quotas.listener_rules
                and self.security_group_rules <= quotas.security_group_rules)


@dataclass(frozen=True)
class Unit:
    """Groups placed together, in catalog order, with what their routed services need."""

    groups: tuple[str, ...]
    demand: Demand
    pin: int | None = None


@dataclass
class Placement:
    by_group: dict[str, int] = field(default_factory=dict)  # group -> load balancer number (1-based)
    load: dict[int, Demand] = field(default_factory=dict)

    def put(self, unit: Unit, number: int) -> None:
        for group in unit.groups:
            self.by_group[group] = number
        self.load[number] = self.load.get(number, Demand()) + unit.demand

    def room(self, number: int, unit: Unit, quotas: Quotas, base: dict[int, Demand]) -> bool:
        return (base.get(number, Demand()) + self.load.get(number, Demand()) + unit.demand).fits(quotas)


def units_of(groups_in_order: list[str], hosts_by_group: dict[str, set[str]], demand_by_group: dict[str, Demand],
             pins: dict[str, int]) -> tuple[list[Unit], list[tuple[str, str, int, int]]]:
    """Groups joined by shared hosts, in catalog order; and (group, other group, pin, other pin) of a unit whose
    groups are pinned to different load balancers."""
    parent = {group: group for group in groups_in_order}

    def find(group: str) -> str:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    owner: dict[str, str] = {}
    for group in groups_in_order:
        for host in sorted(hosts_by_group.get(group, ())):
            if host in owner:
                parent[find(group)] = find(owner[host])
            else:
                owner[host] = group
    members: dict[str, list[str]] = {}
    for group in groups_in_order:
        members.setdefault(find(group), []).append(group)
    units, conflicts = [], []
    for groups in sorted(members.values(), key=lambda each: groups_in_order.index(each[0])):
        pinned = [(group, pins[group]) for group in groups if group in pins]
        for group, pin in pinned[1:]:
            if pin != pinned[0][1]:
                conflicts.append((group, pinned[0][0], pin, pinned[0][1]))
        demand = Demand()
        for group in groups:
            demand = demand + demand_by_group.get(group, Demand())
        units.append(Unit(tuple(groups), demand, pinned[0][1] if pinned else None))
    return units, conflicts


def place(units: list[Unit], quotas: Quotas, remembered: dict[str, int], base: dict[int, Demand] | None = None,
          grown: frozenset[str] | set[str] = frozenset()) -> Placement:
    """Load balancer number per group. `remembered`: where the previous render put each group; `grown`: groups with
    more routed services than then, which are kept in place after the others, so that when a load balancer
    overflows it is the group that grew that moves. `base`: what a load balancer holds besides the units."""
    base = base or {}
    placement = Placement()
    for unit in units:
        if unit.pin is not None:
            placement.put(unit, unit.pin)
    for keep_grown in (False, True):
        for unit in units:
            if unit.pin is not None or unit.groups[0] not in remembered or (unit.groups[0] in grown) != keep_grown:
                continue
            number = remembered[unit.groups[0]]
            if placement.room(number, unit, quotas, base):
                placement.put(unit, number)
    filling = quotas.for_new_groups()
    for unit in units:
        if unit.groups[0] in placement.by_group:
            continue
        number = 1
        while not placement.room(number, unit, filling, base) and (placement.load.get(number) or base.get(number)):
            number += 1  # an empty load balancer takes any unit; one too big for it is reported by validation
        placement.put(unit, number)
    return placement
