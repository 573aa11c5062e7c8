"""Kubernetes values as ECS needs them: CPU and memory quantities to a Fargate size, image references, and
CronJob schedules to EventBridge Scheduler expressions."""

from __future__ import annotations

import re
from typing import Any

from generator.catalog.cost import load_prices
from generator.catalog.validate import FARGATE_MEMORY_BY_CPU

# Sizes are ranked by Fargate's on-demand prices in this region of the cost command's price table.
PRICE_REGION = "us-east-1"


# --- quantities ------------------------------------------------------------------------------

_MEMORY_UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "K": 1000 / 1024 / 1024,
                 "M": 1000 * 1000 / 1024 / 1024, "G": 1000 ** 3 / 1024 / 1024, "k": 1000 / 1024 / 1024}


def cpu_units(quantity: Any) -> float:
    """Kubernetes CPU (`500m`, `1`, `0.25`) -> ECS CPU units (1 vCPU = 1024)."""
    text = str(quantity)
    return float(text[:-1]) / 1000 * 1024 if text.endswith("m") else float(text) * 1024


def memory_mib(quantity: Any) -> float:
    text = str(quantity)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match:
        raise ValueError(text)
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number / 1024 / 1024
    return number * _MEMORY_UNITS[unit]


def fargate_size(cpu_needed: float, memory_needed: float) -> tuple[int, int]:
    """The cheapest cpu/memory pair Fargate accepts that covers both needs."""
    pairs = [(cpu, memory) for cpu, memories in FARGATE_MEMORY_BY_CPU.items() for memory in memories
             if cpu >= cpu_needed and memory >= memory_needed]
    if not pairs:
        return 16384, 122880
    prices = load_prices()["regions"][PRICE_REGION]
    return min(pairs, key=lambda pair: (pair[0] / 1024 * prices["fargate_vcpu_hour"]
                                        + pair[1] / 1024 * prices["fargate_gb_hour"], pair))


# --- mapping ---------------------------------------------------------------------------------

def split_image(image: str) -> tuple[str, str, str]:
    """`registry/repository:tag` -> (registry, repository, tag); Docker Hub when no registry is named."""
    name, _, digest = image.partition("@")
    tag = "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return "docker.io", name if "/" in name else f"library/{name}", tag


_CRON_SHORTHANDS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}


def eventbridge_cron(schedule: str) -> str | None:
    """A Kubernetes (5-field, Sunday = 0) schedule as EventBridge Scheduler's cron(...) (6 fields, Sunday = 1,
    `?` in day of month or day of week); None when there is no equivalent."""
    fields = _CRON_SHORTHANDS.get(schedule.strip(), schedule).split()
    if len(fields) != 5 or not all(re.fullmatch(r"[0-9A-Za-z*/,-]+", field) for field in fields):
        return None
    minute, hour, day_of_month, month, day_of_week = fields

    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) % 7 + 1)

    day_of_week = re.sub(r"\d+", shift, day_of_week)
    if day_of_week == "*":
        day_of_week = "?"
    elif day_of_month == "*":
        day_of_month = "?"
    else:
        day_of_week = "?"
    return f"cron({minute} {hour} {day_of_month} {month} {day_of_week} *)"


def image_reference(image: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest): tag None when the image is pinned by digest only."""
    name, _, digest = image.partition("@")
    registry, repository, tag = split_image(name)
    has_tag = ":" in name.rsplit("/", 1)[-1]
    return registry, repository, tag if has_tag or not digest else None, digest or None
