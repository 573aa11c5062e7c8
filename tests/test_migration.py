"""Phase 4: the legacy side in the catalog, calls across the boundary, per-host DNS, and
the migration waves. Expectations are written from the catalog data of each test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import NEXUS_CATALOG, orbit_data, write_yaml
from generator import api
from generator.errors import CatalogError
from hcl_reading import blocks, literal, load

LEGACY = {
    "ingress": {"addresses": ["10.9.0.10", "10.9.1.10"], "port": 443,
                "dns_alias": {"name": "k8s-ingress.elb.eu-west-1.amazonaws.com", "zone_id": "Z32O12XQLNTSW2"}},
    "service_url": "https://{service}.internal.orbit.example",
    "cluster_cidrs": ["10.9.64.0/18"],
}


def migrating(migration: dict[str, Any], dns: dict[str, str] | None = None, **legacy: Any) -> dict[str, Any]:
    data = orbit_data()
    live = data["environments"]["live"]
    live["legacy"] = {**LEGACY, **legacy}
    live["migration"] = migration
    if dns is not None:
        live["dns"] = dns
    return data


def render(tmp_path: Path, data: dict[str, Any]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "out"
    api.render(write_yaml(tmp_path / "orbit.yaml", data), out)
    return out


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        api.validate(write_yaml(tmp_path / "orbit.yaml", data))
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def live_modules(out: Path) -> dict[str, Any]:
    return {literal(m["name"]): literal(m) for m in blocks(load(out / "environments" / "live" / "services.tf"), "module").values()
            if literal(m["source"]) == "../../modules/ecs-service"}


def live_main(out: Path) -> dict[str, Any]:
    return {name: literal(body) for name, body in blocks(load(out / "environments" / "live" / "main.tf"), "module").items()}


# --- the legacy side -------------------------------------------------------------

def test_services_not_named_stay_on_kubernetes_and_keep_their_routes(tmp_path: Path) -> None:
    out = render(tmp_path, migrating({"storefront": 10}))
    modules = live_modules(out)
    assert set(modules) == {"storefront"}, "only the service the catalog moves gets ECS resources"
    alb = live_main(out)["alb"]
    # pricing's route (priority 20, api host, two paths) forwards to the ingress until pricing moves.
    assert alb["legacy_routes"] == {"pricing/route-1": {"priority": 20, "hosts": ["api.orbit.example"],
                                                         "paths": ["/prices/*", "/quotes/*"]}}
    assert alb["legacy_ingress"]["addresses"] == ["10.9.0.10", "10.9.1.10"]
    iam = live_main(out)["iam"]["services"]
    assert set(iam) == {"storefront"}, "no roles for services not on ECS"


def test_share_becomes_weights_and_stickiness(tmp_path: Path) -> None:
    modules = live_modules(render(tmp_path, migrating({"storefront": {"ecs_percent": 30, "stickiness_seconds": 600},
                                                       "pricing": 0})))
    assert modules["storefront"]["traffic"] == {"ecs_weight": 30, "legacy_weight": 70, "stickiness_seconds": 600}
    assert modules["pricing"]["traffic"] == {"ecs_weight": 0, "legacy_weight": 100, "stickiness_seconds": None}
    assert modules["pricing"]["legacy_target_group_arn"] == "${module.alb.legacy_target_group_arn}"


def test_decommissioned_service_forwards_to_ecs_alone(tmp_path: Path) -> None:
    modules = live_modules(render(tmp_path, migrating({"storefront": "ecs"})))
    assert "traffic" not in modules["storefront"] and "legacy_target_group_arn" not in modules["storefront"]


def test_rule_moves_from_the_ingress_into_the_service_module(tmp_path: Path) -> None:
    text = (render(tmp_path, migrating({"pricing": 10})) / "environments" / "live" / "services.tf").read_text()
    assert ('moved {\n  from = module.alb.aws_lb_listener_rule.legacy["pricing/route-1"]\n'
            '  to   = module.service_pricing.aws_lb_listener_rule.this["route-1"]\n}') in text


# --- calls across the boundary ----------------------------------------------------

def test_call_to_a_service_on_kubernetes_uses_the_legacy_url_then_service_connect(tmp_path: Path) -> None:
    # storefront calls pricing (orbit.yaml). pricing on Kubernetes, then 50 %, then 100 %.
    for step, want in ((None, "https://pricing.internal.orbit.example"), (50, "https://pricing.internal.orbit.example"),
                       (100, "http://pricing:8081")):
        migration = {"storefront": 10} if step is None else {"storefront": 10, "pricing": step}
        out = render(tmp_path / str(step), migrating(migration))
        modules = live_modules(out)
        assert modules["storefront"]["environment_variables"]["PRICING_URL"] == want, step
        groups = live_main(out)["security_groups"]["services"]
        assert groups["storefront"]["calls_legacy"] is want.startswith("https://"), step
        assert groups["storefront"]["calls"] == ([] if step is None else ["pricing"]), step


def test_call_to_kubernetes_without_a_legacy_url_is_refused(tmp_path: Path) -> None:
    data = migrating({"storefront": 10})
    del data["environments"]["live"]["legacy"]["service_url"]
    found = problems(tmp_path, data)
    assert any(p.startswith("services.storefront.calls[0]:") and "legacy.service_url" in p for p in found), found


def test_legacy_url_must_lead_to_the_ingress_port(tmp_path: Path) -> None:
    found = problems(tmp_path, migrating({"storefront": 10}, service_url="http://{service}.internal.orbit.example:8080"))
    assert any(p.startswith("environments.live.legacy.service_url:") and "8080" in p and "443" in p for p in found), found


def test_url_variable_cannot_be_set_by_hand(tmp_path: Path) -> None:
    data = orbit_data()
    data["services"]["storefront"]["environment"]["PRICING_URL"] = "http://elsewhere"
    assert any(p.startswith("services.storefront.environment.PRICING_URL:") for p in problems(tmp_path, data))


def test_migration_needs_a_legacy_side_and_known_services(tmp_path: Path) -> None:
    data = orbit_data()
    data["environments"]["live"]["migration"] = {"storefront": 10}
    assert any(p.startswith("environments.live.migration:") for p in problems(tmp_path, data))
    found = problems(tmp_path, migrating({"storfront": 10}))
    assert any(p.startswith("environments.live.migration.storfront:") and "storefront" in p for p in found), found


def test_share_outside_0_100_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, migrating({"storefront": 150}))
    assert any(p.startswith("environments.live.migration.storefront") for p in found), found


# --- DNS per host -----------------------------------------------------------------

def test_first_apply_of_a_migrating_environment_moves_no_host(tmp_path: Path) -> None:
    assert live_main(render(tmp_path, migrating({"storefront": 10})))["alb"]["dns_records"] == {}


def test_hosts_move_only_where_the_catalog_says(tmp_path: Path) -> None:
    records = live_main(render(tmp_path, migrating({"storefront": 10}, dns={"shop": "alb", "api": "legacy"})))["alb"]["dns_records"]
    assert records == {"shop.orbit.example": "alb", "api.orbit.example": "legacy"}


def test_without_a_legacy_side_every_host_points_at_the_alb_or_at_cloudfront(tmp_path: Path) -> None:
    hosts = {f"{label}.orbit.example" for service in orbit_data()["services"].values() if not service.get("internal")
             for route in service.get("routes", []) for label in route.get("hosts", [])}
    internal_hosts = {f"{label}.orbit.example" for service in orbit_data()["services"].values() if service.get("internal")
                      for route in service.get("routes", []) for label in route.get("hosts", [])}
    assert internal_hosts, "the orbit fixture has an internal service"
    with_edge = orbit_data()
    assert "edge" in with_edge["environments"]["live"]
    main = live_main(render(tmp_path / "edge", with_edge))
    assert main["alb"]["dns_records"] == {host: "edge" for host in hosts}
    # An internal service's host never goes behind CloudFront: it names the internal load balancer.
    assert main["internal_alb"]["dns_records"] == {host: "alb" for host in internal_hosts}
    assert main["security_groups"]["load_balancer_behind_cloudfront_only"] is True
    without_edge = orbit_data()
    del without_edge["environments"]["live"]["edge"]
    main = live_main(render(tmp_path / "alb", without_edge))
    assert main["alb"]["dns_records"] == {host: "alb" for host in hosts}
    assert "edge" not in main and "load_balancer_behind_cloudfront_only" not in main["security_groups"]


def test_the_load_balancer_closes_to_the_internet_only_when_no_host_points_at_it(tmp_path: Path) -> None:
    """Hosts move to CloudFront one by one; while any still resolves to the load balancer, it stays open."""
    data = orbit_data()
    data["environments"]["live"]["dns"] = {"shop": "alb"}
    main = live_main(render(tmp_path / "one-left", data))
    assert main["alb"]["dns_records"]["shop.orbit.example"] == "alb"
    assert main["alb"]["dns_records"]["www.orbit.example"] == "edge"
    assert main["security_groups"]["load_balancer_behind_cloudfront_only"] is False
    assert main["alb"]["origin_verify_secret_name"] is None
    data["environments"]["live"]["dns"] = {"shop": "edge"}
    main = live_main(render(tmp_path / "all-moved", data))
    assert main["security_groups"]["load_balancer_behind_cloudfront_only"] is True
    assert main["alb"]["origin_verify_secret_name"] == "orbit-live/edge/origin-verify"


@pytest.mark.parametrize("change, path, words", [
    (lambda live: live.pop("dns_zone"), "environments.live.edge", "needs `dns_zone`"),
    (lambda live: live["edge"].update(certificate_domain="*.eu.orbit.example"), "environments.live.edge",
     "does not cover api.orbit.example"),
    (lambda live: (live.pop("edge"), live.update(dns={"shop": "edge"})), "environments.live.dns.shop", "needs environments.live.edge"),
])
def test_edge_mistakes_are_refused(change: Any, path: str, words: str, tmp_path: Path) -> None:
    data = orbit_data()
    change(data["environments"]["live"])
    found = problems(tmp_path, data)
    assert any(p.startswith(path + ":") and words in p for p in found), found


def test_dns_mistakes_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, migrating({}, dns={"shopp": "alb"}))
    assert any(p.startswith("environments.live.dns.shopp:") for p in found), found
    data = migrating({}, dns={"shop": "legacy"})
    del data["environments"]["live"]["legacy"]["ingress"]["dns_alias"]
    assert any(p.startswith("environments.live.dns.shop:") and "dns_alias" in p for p in problems(tmp_path, data))


# --- waves ------------------------------------------------------------------------

def _plan(cli: Any, path: Path, env: str) -> dict[str, Any]:
    result = cli("migration-plan", "--catalog", path, "--env", env, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _wave_of(plan: dict[str, Any]) -> dict[str, int]:
    return {s["name"]: wave["wave"] for wave in plan["waves"] for s in wave["services"]}


def test_nexus_prod_plan_covers_every_service_and_puts_callees_first(cli: Any) -> None:
    raw = yaml.safe_load(NEXUS_CATALOG.read_text())
    plan = _plan(cli, NEXUS_CATALOG, "prod")
    waves = _wave_of(plan)
    assert plan["environment"] == "prod" and set(waves) == set(raw["services"])
    for name, service in raw["services"].items():
        for callee in service.get("calls", []):
            assert waves[callee] < waves[name], (name, callee)
    assert all(s["ecs_percent"] == 100 for wave in plan["waves"] for s in wave["services"])  # prod has no legacy side


def test_critical_services_go_last_when_the_legacy_url_covers_their_callers(cli: Any, tmp_path: Path) -> None:
    data = migrating({"ledger": 50})
    data["groups"]["edge"]["critical"] = True  # storefront, pricing
    waves = _wave_of(_plan(cli, write_yaml(tmp_path / "c.yaml", data), "live"))
    assert max(waves["ledger"], waves["reindexer"]) < min(waves["storefront"], waves["pricing"]), waves
    assert waves["pricing"] < waves["storefront"], "storefront calls pricing: pricing first within the critical side"
    plan = _plan(cli, write_yaml(tmp_path / "c.yaml", data), "live")
    shares = {s["name"]: s["ecs_percent"] for wave in plan["waves"] for s in wave["services"]}
    assert shares == {"ledger": 50, "reindexer": 0, "storefront": 0, "pricing": 0, "search": 0}
    steps = {s["name"]: s["next_step"] for wave in plan["waves"] for s in wave["services"]}
    assert steps["search"] == "move at once (internal, no canary): `migration: {search: ecs}`"


def test_services_in_a_call_cycle_share_a_wave(cli: Any, tmp_path: Path) -> None:
    data = orbit_data()
    data["services"]["pricing"]["calls"] = ["storefront"]  # storefront -> pricing -> storefront
    waves = _wave_of(_plan(cli, write_yaml(tmp_path / "c.yaml", data), "live"))
    assert waves["storefront"] == waves["pricing"]
    assert waves["reindexer"] > waves["pricing"]


def test_unknown_environment_is_a_clear_error(cli: Any) -> None:
    result = cli("migration-plan", "--catalog", NEXUS_CATALOG, "--env", "qa")
    assert result.exit_code == 1 and "unknown environment 'qa'" in result.output and "dev, staging, prod" in result.output
