"""`preflight`'s rules, written from AWS's documentation: certificate names, ALB log delivery, and what an
environment needs at its maximum (computed here from the catalog file). The checks against an account run
in `make e2e` (tests/e2e/preflight_cases.py), each with a passing and a failing case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import ORBIT_CATALOG
from generator import api
from generator.operate.preflight import _log_delivery_allowed, needs
from generator.catalog.validate import certificate_names_cover


@pytest.mark.parametrize("names, host, valid", [
    (["*.orbit.example"], "shop.orbit.example", True),
    (["*.orbit.example"], "orbit.example", False),            # a wildcard does not cover the apex
    (["*.orbit.example"], "a.b.orbit.example", False),        # nor two levels
    (["orbit.example", "api.orbit.example"], "api.orbit.example", True),
    (["*.example"], "shop.orbit.example", False),
])
def test_certificate_names(names: list[str], host: str, valid: bool) -> None:
    assert certificate_names_cover(tuple(names), host) is valid


def _policy(principal: dict[str, Any], resource: str, action: str = "s3:PutObject", effect: str = "Allow") -> dict[str, Any]:
    return {"Statement": [{"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}]}


@pytest.mark.parametrize("policy, allowed", [
    (_policy({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "arn:aws:s3:::logs/alb/AWSLogs/111122223333/*"), True),
    (_policy({"AWS": "arn:aws:iam::156460612806:root"}, "arn:aws:s3:::logs/*"), True),       # ELB's eu-west-1 account
    (_policy({"AWS": "arn:aws:iam::127311923021:root"}, "arn:aws:s3:::logs/*"), False),      # us-east-1's, not ours
    (_policy({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "arn:aws:s3:::logs/other/*"), False),
    (_policy({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "arn:aws:s3:::logs/*", action="s3:GetObject"), False),
    (_policy({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "arn:aws:s3:::logs/*", effect="Deny"), False),
    ({}, False),
])
def test_alb_log_delivery_policy(policy: dict[str, Any], allowed: bool) -> None:
    assert _log_delivery_allowed(json.loads(json.dumps(policy)), "logs", "alb", "111122223333", "eu-west-1") is allowed


def test_needs_at_maximum_follow_the_catalog_file() -> None:
    import yaml

    raw = yaml.safe_load(ORBIT_CATALOG.read_text())
    deployment = api.validate(ORBIT_CATALOG).deployment(
        next(e for e in api.validate(ORBIT_CATALOG).environments if e.name == "live"))
    got = needs(deployment)
    # Fargate vCPUs at max tasks, split by each group's Spot share (the on-demand base first).
    on_demand = spot = 0.0
    for name, service in raw["services"].items():
        override = service.get("overrides", {}).get("live", {})
        if override.get("enabled") is False:
            continue
        group = raw["groups"][service["group"]]
        sizing = {**raw["sizing"][service.get("sizing", group["sizing"])], **service.get("resources", {}),
                  **override.get("resources", {})}
        tasks, base = sizing["max_tasks"], group.get("on_demand_base", 0)
        spot_tasks = max(0, tasks - base) * group["spot_percentage"] / 100
        spot += spot_tasks * sizing["cpu"] / 1024
        on_demand += (tasks - spot_tasks) * sizing["cpu"] / 1024
    on_demand += sum(task.get("cpu", 256) / 1024 for task in raw.get("scheduled_tasks", {}).values())
    assert got["spot_vcpu"] == pytest.approx(spot) and got["on_demand_vcpu"] == pytest.approx(on_demand)
    assert got["target_groups"] == sum(1 for s in raw["services"].values() if s.get("routes"))
    assert got["services"] == len(raw["services"])
