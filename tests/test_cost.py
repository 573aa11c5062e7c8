"""`cost`: monthly cost at min and max tasks, checked against a hand computation from the price table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import NEXUS_CATALOG, ORBIT_CATALOG

PRICES = json.loads((Path(__file__).resolve().parent.parent / "generator" / "data" / "aws-prices.json").read_text())


def _cost(cli: Any, catalog: Path, env: str, *extra: str) -> dict[str, Any]:
    result = cli("cost", "--catalog", catalog, "--env", env, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_small_catalog_matches_a_hand_computation(cli: Any) -> None:
    """orbit.yaml, environment live (eu-west-1)."""
    p, hours = PRICES["regions"]["eu-west-1"], PRICES["hours_per_month"]
    logs_per_task = PRICES["assumptions"]["log_gb_per_task_month"] * p["logs_ingest_gb"]
    got = _cost(cli, ORBIT_CATALOG, "live")
    assert (got["environment"], got["currency"], got["price_table_date"]) == ("live", "USD", PRICES["date"])

    # storefront: group edge (spot 0 %, on-demand base 2), sizing large (1024 cpu = 1 vCPU, 3072 MiB = 3 GB),
    # min 3 in live (overrides.live.resources) / max 12 tasks, all on-demand.
    storefront_task = (1 * p["fargate_vcpu_hour"] + 3 * p["fargate_gb_hour"]) * hours
    assert got["services"]["storefront"]["min"] == pytest.approx(3 * storefront_task + 3 * logs_per_task, abs=0.01)
    assert got["services"]["storefront"]["max"] == pytest.approx(12 * storefront_task + 12 * logs_per_task, abs=0.01)

    # ledger: group batch (spot 80 % -> on-demand 1 : Spot 4), sizing small (0.25 vCPU, 1 GB), min 1 / max 3.
    on_demand_task = (0.25 * p["fargate_vcpu_hour"] + 1 * p["fargate_gb_hour"]) * hours
    spot_task = (0.25 * p["fargate_spot_vcpu_hour"] + 1 * p["fargate_spot_gb_hour"]) * hours
    ledger_min = 1 * (0.2 * on_demand_task + 0.8 * spot_task) + 1 * logs_per_task
    ledger_max = 3 * (0.2 * on_demand_task + 0.8 * spot_task) + 3 * logs_per_task
    assert got["services"]["ledger"]["min"] == pytest.approx(ledger_min, abs=0.01)
    assert got["services"]["ledger"]["max"] == pytest.approx(ledger_max, abs=0.01)

    # pricing: edge, memory 4096 (4 GB), max 20: base 2 on-demand, the rest on-demand too (spot 0 %);
    # cpu_architecture ARM64 in orbit.yaml: Fargate's ARM (Graviton) prices.
    pricing_task = (1 * p["fargate_arm_vcpu_hour"] + 4 * p["fargate_arm_gb_hour"]) * hours
    assert got["services"]["pricing"]["max"] == pytest.approx(20 * pricing_task + 20 * logs_per_task, abs=0.01)

    # Two load balancers in live: the internet-facing one and the internal one of `search`.
    fixed = (2 * (p["alb_hour"] * hours + p["alb_lcu_hour"] * PRICES["assumptions"]["alb_lcu_per_hour"] * hours)
             + p["nat_gateway_hour"] * PRICES["assumptions"]["nat_gateways"] * hours
             + p["nat_gb"] * PRICES["assumptions"]["nat_gb_per_month"])
    assert got["monthly"]["min"] == pytest.approx(sum(s["min"] for s in got["services"].values()) + fixed, abs=0.05)
    assert got["spot_saving"]["min"] == pytest.approx(1 * 0.8 * (on_demand_task - spot_task) * 2, abs=0.02)  # ledger + reindexer

    # Scheduled tasks: one hour of running, on-demand (256 CPU units = 0.25 vCPU, 512 MiB = 0.5 GB by default).
    per_hour = 0.25 * p["fargate_vcpu_hour"] + 0.5 * p["fargate_gb_hour"]
    assert got["scheduled_tasks_per_hour_running"] == {"nightly-report": pytest.approx(per_hour, abs=0.0001)}


def test_nexus_prod_prices_every_service(cli: Any) -> None:
    got = _cost(cli, NEXUS_CATALOG, "prod")
    assert len(got["services"]) == 26 and got["monthly"]["max"] > got["monthly"]["min"] > 0


def test_price_table_override_and_missing_region(cli: Any, tmp_path: Path) -> None:
    table = json.loads(json.dumps(PRICES))
    table["regions"]["eu-west-1"] = {key: value * 2 for key, value in PRICES["regions"]["eu-west-1"].items()}
    (tmp_path / "double.json").write_text(json.dumps(table))
    normal = _cost(cli, ORBIT_CATALOG, "live")
    doubled = _cost(cli, ORBIT_CATALOG, "live", "--prices", tmp_path / "double.json")
    assert doubled["monthly"]["min"] == pytest.approx(2 * normal["monthly"]["min"], rel=0.001)
    del table["regions"]["eu-west-1"]
    (tmp_path / "none.json").write_text(json.dumps(table))
    result = cli("cost", "--catalog", ORBIT_CATALOG, "--env", "live", "--prices", tmp_path / "none.json")
    assert result.exit_code == 1 and "no prices for eu-west-1" in result.output


def test_arm64_tasks_are_priced_at_arm_rates(cli: Any, tmp_path: Path) -> None:
    from conftest import orbit_data, write_yaml

    data = orbit_data()
    data["services"]["storefront"]["cpu_architecture"] = "ARM64"  # group edge: no Spot (Spot runs no ARM64)
    catalog = write_yaml(tmp_path / "arm.yaml", data)
    p, hours = PRICES["regions"]["eu-west-1"], PRICES["hours_per_month"]
    logs_per_task = PRICES["assumptions"]["log_gb_per_task_month"] * p["logs_ingest_gb"]
    arm_task = (1 * p["fargate_arm_vcpu_hour"] + 3 * p["fargate_arm_gb_hour"]) * hours
    got = _cost(cli, catalog, "live")
    assert got["services"]["storefront"]["max"] == pytest.approx(12 * arm_task + 12 * logs_per_task, abs=0.01)


def _broken_tables(tmp_path: Path) -> list[tuple[str, Path, str]]:
    import os

    def table_with(change: Any) -> str:
        table = json.loads(json.dumps(PRICES))
        change(table)
        return json.dumps(table)

    cases = {
        "nan": ('{"date": NaN}', "NaN is not a price"),
        "not json": ("{date: 1}", ":1: not JSON"),
        "missing region price": (table_with(lambda t: t["regions"]["eu-west-1"].pop("fargate_gb_hour")),
                                 "regions.eu-west-1: 'fargate_gb_hour' is a required property"),
        "wrong type": (table_with(lambda t: t["regions"]["eu-west-1"].update(alb_hour="0.02")),
                       "regions.eu-west-1.alb_hour: '0.02' is not of type 'number'"),
        "regions not a map": (table_with(lambda t: t.update(regions=[])), "regions: [] is not of type 'object'"),
        "negative": (table_with(lambda t: t["assumptions"].update(nat_gateways=-1)),
                     "assumptions.nat_gateways: -1 is less than the minimum of 0"),
    }
    found = []
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.json"
        path.write_text(text)
        found.append((name, path, expected))
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (1024 * 1024 + 1))
    found += [("fifo", fifo, "not a regular file"), ("device", Path("/dev/zero"), "not a regular file"),
              ("directory", tmp_path, "not a regular file"), ("too big", big, "larger than 1 MiB")]
    return found


def test_a_broken_price_table_gets_one_line_per_problem(cli: Any, tmp_path: Path) -> None:
    for name, path, expected in _broken_tables(tmp_path):
        result = cli("cost", "--catalog", ORBIT_CATALOG, "--env", "live", "--prices", path)
        assert result.exit_code == 1 and "Traceback" not in result.output, (name, result.output)
        assert expected in result.output and str(path) in result.output, (name, result.output)
    two = json.loads(json.dumps(PRICES))
    del two["currency"], two["regions"]["eu-west-1"]["nat_gb"]
    (tmp_path / "two.json").write_text(json.dumps(two))
    result = cli("cost", "--catalog", ORBIT_CATALOG, "--env", "live", "--prices", tmp_path / "two.json")
    assert len([line for line in result.output.splitlines() if str(tmp_path / "two.json") in line]) == 2, result.output
