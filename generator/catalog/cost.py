"""Monthly cost of an environment at its minimum and maximum task counts (design 1.2:
Fargate, pay per use), from the catalog and a dated price table.

Per service: tasks x (vCPU x vCPU-hour price + GB x GB-hour price) x hours per month, the
tasks split between on-demand and Spot as the capacity-provider strategy places them (the
on-demand base first, the rest by weight); plus CloudWatch Logs ingestion at an assumed
volume per task. Fixed items: the shared ALB (hours and an assumed LCU load) and the NAT
gateways the design shows. The saving is against running every task on-demand. Scheduled tasks
are priced per hour of running (on-demand Fargate): how long a run takes is not in the catalog.
Prices and assumptions are in generator/data/aws-prices.json (or `--prices FILE`).
"""

from __future__ import annotations

import functools
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.paths import DATA_DIR, SCHEMAS_DIR
from generator.catalog.model import FARGATE, FARGATE_SPOT, Deployment, Service

PRICE_TABLE = DATA_DIR / "aws-prices.json"


MAX_PRICE_TABLE_BYTES = 1024 * 1024
PRICE_SCHEMA = SCHEMAS_DIR / "prices.schema.json"


class PriceTableError(Exception):
    """A price table that cannot be used; one line per problem."""


def _read(path: Path) -> bytes:
    """Like the catalog: a regular file (no FIFO to hang on, no device to read forever), at most 1 MiB."""
    try:
        status = path.stat()
    except OSError as error:
        raise PriceTableError(f"{path}: cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise PriceTableError(f"{path}: not a regular file (a directory, device, pipe or socket); pass a JSON file")
    if status.st_size > MAX_PRICE_TABLE_BYTES:
        raise PriceTableError(f"{path}: larger than 1 MiB; a price table is a few kilobytes: is this the right file?")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise PriceTableError(f"{path}: not a regular file")
            data = handle.read(MAX_PRICE_TABLE_BYTES + 1)
    except OSError as error:
        raise PriceTableError(f"{path}: cannot be read: {error.strerror}") from None
    if len(data) > MAX_PRICE_TABLE_BYTES:
        raise PriceTableError(f"{path}: larger than 1 MiB")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a price")


def load_prices(path: Path | None = None) -> dict[str, Any]:
    """The price table, checked against schemas/prices.schema.json; PriceTableError lists every problem."""
    return _packaged_prices() if path is None else _load(path)


@functools.lru_cache(maxsize=1)
def _packaged_prices() -> dict[str, Any]:
    return _load(PRICE_TABLE)


def _load(path: Path) -> dict[str, Any]:
    data = _read(path)
    try:
        table = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise PriceTableError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise PriceTableError(f"{path}:{error.lineno}: not JSON: {error.msg}") from None
    except ValueError as error:  # NaN, Infinity
        raise PriceTableError(f"{path}: {error}") from None
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(PRICE_SCHEMA.read_text(encoding="utf-8")))
    problems = sorted(validator.iter_errors(table), key=lambda e: [str(p) for p in e.absolute_path])
    if problems:
        raise PriceTableError("\n".join(
            f"{path}: {'.'.join(str(p) for p in problem.absolute_path) or '(top level)'}: {problem.message}"
            for problem in problems))
    return table


@dataclass(frozen=True)
class Split:
    on_demand: float
    spot: float


def task_split(service: Service, tasks: int) -> Split:
    """Expected on-demand and Spot tasks out of `tasks` under the service's strategy."""
    shares = {share.capacity_provider: share for share in service.capacity}
    base = min(tasks, shares[FARGATE].base) if FARGATE in shares else 0
    rest = tasks - base
    on_demand_weight = shares[FARGATE].weight if FARGATE in shares else 0
    spot_weight = shares[FARGATE_SPOT].weight if FARGATE_SPOT in shares else 0
    total = on_demand_weight + spot_weight
    on_demand = base + (rest * on_demand_weight / total if total else 0)
    return Split(on_demand, tasks - on_demand)


@dataclass(frozen=True)
class ServiceCost:
    name: str
    minimum: float
    maximum: float
    minimum_on_demand_only: float
    maximum_on_demand_only: float


@dataclass(frozen=True)
class EnvironmentCost:
    environment: str
    region: str
    currency: str
    price_date: str
    services: tuple[ServiceCost, ...]
    fixed: tuple[tuple[str, float], ...]
    assumptions: dict[str, float]
    # (scheduled task, price of one hour of running): not in the monthly total.
    scheduled_task_hours: tuple[tuple[str, float], ...] = ()

    @property
    def fixed_total(self) -> float:
        return sum(amount for _, amount in self.fixed)

    @property
    def minimum(self) -> float:
        return sum(s.minimum for s in self.services) + self.fixed_total

    @property
    def maximum(self) -> float:
        return sum(s.maximum for s in self.services) + self.fixed_total

    @property
    def saving_at_minimum(self) -> float:
        return sum(s.minimum_on_demand_only - s.minimum for s in self.services)

    @property
    def saving_at_maximum(self) -> float:
        return sum(s.maximum_on_demand_only - s.maximum for s in self.services)

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "currency": self.currency,
            "price_table_date": self.price_date,
            "region": self.region,
            "monthly": {"min": round(self.minimum, 2), "max": round(self.maximum, 2)},
            "spot_saving": {"min": round(self.saving_at_minimum, 2), "max": round(self.saving_at_maximum, 2)},
            "fixed": {name: round(amount, 2) for name, amount in self.fixed},
            "services": {s.name: {"min": round(s.minimum, 2), "max": round(s.maximum, 2)} for s in self.services},
            "scheduled_tasks_per_hour_running": {name: round(amount, 4) for name, amount in self.scheduled_task_hours},
            "assumptions": self.assumptions,
        }


def estimate(deployment: Deployment, table: dict[str, Any]) -> EnvironmentCost:
    region = deployment.platform.region
    prices = table["regions"].get(region)
    if prices is None:
        raise PriceTableError(f"the price table has no prices for {region}; it has {', '.join(sorted(table['regions']))}"
                              " (add the region, or pass --prices FILE)")
    hours = table["hours_per_month"]
    assumptions = table["assumptions"]

    def on_demand_hour(architecture: str, cpu: int, memory: int) -> float:
        """ARM64 (Graviton) tasks have prices of their own, about 20 % under x86's."""
        arm = "arm_" if architecture == "ARM64" else ""
        return cpu / 1024 * prices[f"fargate_{arm}vcpu_hour"] + memory / 1024 * prices[f"fargate_{arm}gb_hour"]

    def task_month(service: Service, on_demand: float, spot: float) -> float:
        vcpu, gb = service.sizing.cpu / 1024, service.sizing.memory / 1024
        on_demand_rate = on_demand_hour(service.cpu_architecture, service.sizing.cpu, service.sizing.memory)
        spot_rate = vcpu * prices["fargate_spot_vcpu_hour"] + gb * prices["fargate_spot_gb_hour"]
        logs = (on_demand + spot) * assumptions["log_gb_per_task_month"] * prices["logs_ingest_gb"]
        return (on_demand * on_demand_rate + spot * spot_rate) * hours + logs

    services = []
    for svc in deployment.services:
        service = svc.service
        low, high = service.sizing.min_tasks, service.sizing.max_tasks
        low_split, high_split = task_split(service, low), task_split(service, high)
        services.append(ServiceCost(
            name=svc.name,
            minimum=task_month(service, low_split.on_demand, low_split.spot),
            maximum=task_month(service, high_split.on_demand, high_split.spot),
            minimum_on_demand_only=task_month(service, low, 0),
            maximum_on_demand_only=task_month(service, high, 0),
        ))
    balancers = len(deployment.load_balancers)  # internet-facing; each holds its share of the requests
    what = "load balancer" if balancers == 1 else f"{balancers} load balancers"
    fixed = (
        (f"{what} (hours)", prices["alb_hour"] * hours * balancers),
        (f"{what} ({assumptions['alb_lcu_per_hour']:g} LCU assumed)", prices["alb_lcu_hour"] * assumptions["alb_lcu_per_hour"] * hours),
        (f"NAT gateways ({assumptions['nat_gateways']:g}, design 1.1)", prices["nat_gateway_hour"] * assumptions["nat_gateways"] * hours),
        (f"NAT data ({assumptions['nat_gb_per_month']:g} GB assumed)", prices["nat_gb"] * assumptions["nat_gb_per_month"]),
    )
    if deployment.has_internal_load_balancer:
        fixed += (
            ("internal load balancer (hours)", prices["alb_hour"] * hours),
            (f"internal load balancer ({assumptions['alb_lcu_per_hour']:g} LCU assumed)",
             prices["alb_lcu_hour"] * assumptions["alb_lcu_per_hour"] * hours),
        )
    scheduled = tuple(
        (task.task.name, on_demand_hour(task.task.cpu_architecture, task.task.cpu, task.task.memory))
        for task in deployment.scheduled_tasks
    )
    return EnvironmentCost(deployment.environment.name, region, table["currency"], table["date"], tuple(services),
                           fixed, dict(assumptions), scheduled)


def as_text(cost: EnvironmentCost) -> str:
    lines = [f"Monthly cost of {cost.environment!r} ({cost.region}, {cost.currency}, prices of {cost.price_date}; "
             f"Spot at its snapshot price)",
             f"{'service':<32} {'at min tasks':>13} {'at max tasks':>13}"]
    for service in cost.services:
        lines.append(f"{service.name:<32} {service.minimum:13.2f} {service.maximum:13.2f}")
    for name, amount in cost.fixed:
        lines.append(f"{name:<32} {amount:13.2f} {amount:13.2f}")
    lines.append(f"{'total':<32} {cost.minimum:13.2f} {cost.maximum:13.2f}")
    lines.append(f"{'Spot saves (vs on-demand)':<32} {cost.saving_at_minimum:13.2f} {cost.saving_at_maximum:13.2f}")
    for name, per_hour in cost.scheduled_task_hours:
        lines.append(f"scheduled task {name}: {per_hour:.4f} per hour of running (not in the total)")
    lines.append(f"Assumed: {cost.assumptions['log_gb_per_task_month']:g} GB of logs per task and month, "
                 f"{cost.assumptions['alb_lcu_per_hour']:g} LCU, {cost.assumptions['nat_gb_per_month']:g} GB through NAT.")
    return "\n".join(lines)
