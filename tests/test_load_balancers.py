"""Issue #21, several internet-facing load balancers: on a catalog shaped like a larger company's (teams of
ten routed services, each team on its own host; tests/bench/synthetic_catalog.py), the routes spread over as
many load balancers as AWS's quotas need, each team whole on one, stable as teams grow, pinnable.
Expectations come from the catalog file (teams, hosts, pins, quotas) and AWS's quota numbers."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import ORBIT_CATALOG, run_terraform
from generator.cli import main
from generator.render.record import RECORD_FILE
from hcl_reading import blocks, environment_roots, literal, load, resources

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from synthetic_catalog import spread_catalog  # noqa: E402

SECURITY_GROUP_RULES = 60  # AWS default: rules per security group and direction
FILL_PERCENT = 80  # the catalog's default `fill_percent`


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / "catalogs" / name / "wide.yaml"  # one file name: the generated headers name it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _render(catalog: Path, out: Path) -> Any:
    result = CliRunner().invoke(main, ["render", "--catalog", str(catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result


def _placement(out: Path) -> dict[str, str]:
    """Service -> load balancer module, from the render record (what `render` wrote)."""
    text = (out / "environments" / "prod" / RECORD_FILE).read_text(encoding="utf-8")
    record = json.loads("\n".join(line for line in text.splitlines() if not line.startswith("#")))
    return {name: entry["load_balancer"] for name, entry in record["services"].items()}


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp_path = tmp_path_factory.mktemp("wide")
    data = yaml.safe_load(spread_catalog(300))
    out = tmp_path / "out"
    _render(_write(tmp_path, "v1", data), out)
    return data, out


def _team(data: dict[str, Any], service: str) -> str:
    return data["services"][service]["group"]


def test_three_hundred_routed_services_spread_over_load_balancers_within_quotas(wide: tuple[dict[str, Any], Path]) -> None:
    data, out = wide
    platform = load(environment_roots(out, "prod")[0] / "main.tf")
    modules = blocks(platform, "module")
    balancers = sorted((name for name in modules if re.fullmatch(r"alb(_[0-9]+)?", name)), key=lambda n: (len(n), n))
    per_balancer = SECURITY_GROUP_RULES * FILL_PERCENT // 100  # one outbound rule per routed service
    teams = sorted({body["group"] for body in data["services"].values()})
    team_size = len(data["services"]) // len(teams)
    assert len(balancers) == math.ceil(len(teams) / (per_balancer // team_size))
    placement = _placement(out)
    routed = [name for name, body in data["services"].items() if body.get("routes")]
    assert sorted(placement) == sorted(routed)
    for balancer in balancers:
        on_it = [name for name, module in placement.items() if module == balancer]
        assert 0 < len(on_it) <= per_balancer
        rules = sum(len(data["services"][name]["routes"]) for name in on_it)
        assert rules <= 100 and len(on_it) + 1 <= 100  # listener rules; target groups with one spare
        hosts = {f"{label}.wide.example" for name in on_it for route in data["services"][name]["routes"]
                 for label in route["hosts"]}
        assert set(literal(modules[balancer]["dns_records"])) == hosts, balancer
        edge = "edge" if balancer == "alb" else balancer.replace("alb", "edge")
        assert set(literal(modules[edge]["aliases"])) == hosts
        assert literal(modules[balancer]["name"]) == "wide-prod-" + balancer.replace("_", "-")
    for team in teams:  # a team's host points at one load balancer: the team is whole on it
        assert len({placement[name] for name in routed if _team(data, name) == team}) == 1, team


def test_preflight_asks_for_the_rules_of_the_fullest_load_balancer_and_counts_them(wide: tuple[dict[str, Any], Path],
                                                                                    tmp_path: Path) -> None:
    """What preflight checks against the account: rules per load balancer (the fullest one, not the sum) and the
    number of Application Load Balancers; counted here from the rendered platform root."""
    from generator import api
    from generator.operate.preflight import needs

    data, out = wide
    modules = blocks(load(environment_roots(out, "prod")[0] / "main.tf"), "module")
    balancers = [name for name in modules if re.fullmatch(r"alb(_[0-9]+)?", name)]
    placement = _placement(out)
    fullest = max(sum(len(data["services"][name]["routes"]) for name, module in placement.items() if module == balancer)
                  for balancer in balancers)
    catalog = api.validate(_write(tmp_path, "needs", data))
    got = needs(catalog.deployment(catalog.environments[0]))
    assert (got["rules"], got["load_balancers"]) == (fullest, len(balancers))


def test_each_service_stack_attaches_to_its_teams_load_balancer(wide: tuple[dict[str, Any], Path]) -> None:
    data, out = wide
    placement = _placement(out)
    names = {balancer: "wide-prod-" + balancer.replace("_", "-") for balancer in set(placement.values())}
    roots = environment_roots(out, "prod")
    assert len(roots) == 1 + len({body["stack"] for body in data["services"].values()})
    for root in roots[1:]:
        services = {literal(module["name"]) for module in blocks(load(root / "services.tf"), "module").values()}
        wanted = {placement[name] for name in services}
        assert len(wanted) == 1
        balancer = wanted.pop()
        looked_up = resources(load(root / "main.tf"), "data")
        assert literal(looked_up[("aws_lb", balancer)]["name"]) == names[balancer]
        assert literal(looked_up[("aws_security_group", balancer)]["name"]) == names[balancer]
        for module in blocks(load(root / "services.tf"), "module").values():
            assert module["listener_arn"] == f"${{data.aws_lb_listener.{balancer}.arn}}"


def test_a_growing_team_stays_where_it_is_and_the_others_do_not_move(wide: tuple[dict[str, Any], Path],
                                                                     tmp_path: Path) -> None:
    data, out = wide
    before = _placement(out)
    team = _team(data, next(iter(data["services"])))
    grown = yaml.safe_load(spread_catalog(300))
    template = next(name for name in grown["services"] if _team(grown, name) == team)
    # Nine more: a fresh placement would push a neighbour team to the next load balancer (over 80 %);
    # the previous render keeps everyone (the balancer is still within AWS's 60 rules).
    for index in range(9):
        grown["services"][f"{team}-new-{index}"] = {
            "group": team, "stack": f"{team}-3", "port": grown["services"][template]["port"],
            "routes": [{"priority": 5000 + index, "hosts": [team], "paths": [f"/grown-{index}/*"]}]}
    grown["platform"]["max_services_per_stack"] = 9
    copy = tmp_path / "out"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    result = _render(_write(tmp_path, "grown", grown), copy)
    assert "moves from load balancer" not in result.output
    after = _placement(copy)
    assert {name: after[name] for name in before} == before
    assert {after[f"{team}-new-{index}"] for index in range(9)} == {before[template]}
    fresh = tmp_path / "fresh"  # what placement without the previous render would have done
    _render(_write(tmp_path, "grown", grown), fresh)
    assert {name for name in before if _placement(fresh)[name] != before[name]}, "the test needs a case memory decides"


def test_a_team_that_outgrows_its_load_balancer_moves_with_a_warning(wide: tuple[dict[str, Any], Path],
                                                                      tmp_path: Path) -> None:
    data, out = wide
    team = _team(data, next(iter(data["services"])))
    grown = yaml.safe_load(spread_catalog(300))
    for index in range(25):  # 40 + 25 routed services: over the 60 outbound rules of one security group
        grown["services"][f"{team}-new-{index}"] = {"group": team, "stack": f"{team}-3", "port": 8100,
                                                    "routes": [{"priority": 6000 + index, "hosts": [team],
                                                                "paths": [f"/more-{index}/*"]}]}
    grown["platform"]["max_services_per_stack"] = 30
    copy = tmp_path / "out"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    result = CliRunner().invoke(main, ["render", "--catalog", str(_write(tmp_path, "outgrown", grown)), "--out", str(copy)])
    assert result.exit_code == 0, result.output
    moved = {line.split("'")[1] for line in result.output.splitlines() if "moves from load balancer alb to alb_" in line}
    assert moved == {name for name in grown["services"] if _team(grown, name) == team and name in data["services"]}
    assert f"groups.{team}.load_balancer" in result.output


def test_a_pin_places_a_team_and_an_overfull_pin_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(spread_catalog(300))
    data["groups"]["team-29"]["load_balancer"] = 1
    out = tmp_path / "out"
    _render(_write(tmp_path, "pinned", data), out)
    assert {module for name, module in _placement(out).items() if _team(data, name) == "team-29"} == {"alb"}
    for index in range(23, 29):  # 7 teams of 10 routed services: over 60 rules
        data["groups"][f"team-{index}"]["load_balancer"] = 1
    result = CliRunner().invoke(main, ["validate", "--catalog", str(_write(tmp_path, "overfull", data))])
    assert result.exit_code == 1
    assert "security group of load balancer 'wide-prod-alb' would have 70 outbound rules" in result.output
    assert "Traceback" not in result.output


def test_teams_that_share_a_host_go_together_and_cannot_be_pinned_apart(tmp_path: Path) -> None:
    data = yaml.safe_load(spread_catalog(300))
    shared = next(name for name in data["services"] if data["services"][name]["group"] == "team-29")
    data["services"][shared]["routes"][0]["hosts"] = ["team-00"]  # team-29 also answers on team-00's host
    out = tmp_path / "out"
    _render(_write(tmp_path, "shared", data), out)
    placement = _placement(out)
    assert {placement[name] for name in placement if data["services"][name]["group"] in ("team-00", "team-29")} == {"alb"}
    data["groups"]["team-29"]["load_balancer"] = 2
    data["groups"]["team-00"]["load_balancer"] = 1
    result = CliRunner().invoke(main, ["validate", "--catalog", str(_write(tmp_path, "apart", data))])
    assert result.exit_code == 1 and "shares a host with group" in result.output and "groups.team-" in result.output


def test_a_migrating_environment_keeps_every_route_on_the_first_load_balancer(tmp_path: Path) -> None:
    data = yaml.safe_load(ORBIT_CATALOG.read_text(encoding="utf-8"))
    group = next(iter(data["groups"]))
    data["groups"][group]["load_balancer"] = 2
    result = CliRunner().invoke(main, ["validate", "--catalog", str(_write(tmp_path, "orbit", data))])
    assert result.exit_code == 1
    assert f"groups.{group}.load_balancer" in result.output and "still migrates from Kubernetes" in result.output


def test_spread_catalog_renders_and_terraform_validates(tmp_path: Path, terraform_env: dict[str, str]) -> None:
    """The platform root with its load balancers and CloudFront distributions, and a service stack on a later
    load balancer, pass `terraform validate` (`make bench` validates every root of the 300-service catalog)."""
    data = yaml.safe_load(spread_catalog(100))
    out = tmp_path / "out"
    _render(_write(tmp_path, "hundred", data), out)
    placement = _placement(out)
    last = max(set(placement.values()), key=lambda module: (len(module), module))
    assert last != "alb"
    stack = next(root for root in environment_roots(out, "prod")[1:]
                 if any(placement[literal(m["name"])] == last for m in blocks(load(root / "services.tf"), "module").values()))
    for root in (environment_roots(out, "prod")[0], stack):
        init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], root, terraform_env)
        assert init.returncode == 0, init.stderr
        validated = run_terraform(["validate", "-no-color"], root, terraform_env)
        assert validated.returncode == 0, f"{root}: {validated.stdout}{validated.stderr}"


def test_preflight_fails_when_the_account_allows_fewer_load_balancers_than_placed(tmp_path: Path) -> None:
    from generator import api
    from generator.operate.preflight import FAIL, PASS, _quotas

    data = yaml.safe_load(spread_catalog(300))
    catalog = api.validate(_write(tmp_path, "quota", data))
    deployment = catalog.deployment(catalog.environments[0])

    class Elbv2:
        def __init__(self, balancers: int) -> None:
            self.balancers = balancers

        def describe_account_limits(self) -> dict[str, Any]:
            return {"Limits": [{"Name": "application-load-balancers", "Max": str(self.balancers)},
                               {"Name": "rules-per-application-load-balancer", "Max": "100"},
                               {"Name": "target-groups", "Max": "3000"}]}

    class Quotas:
        def get_service_quota(self, **_: Any) -> dict[str, Any]:
            return {"Quota": {"Value": 100000.0}}

    def checks(balancers: int) -> dict[str, Any]:
        clients = {"elbv2": Elbv2(balancers), "service-quotas": Quotas()}
        return {check.check: check for check in _quotas(lambda name: clients[name], deployment)}

    placed = len(deployment.load_balancers)
    assert placed == 8  # 30 teams of 10, 4 teams per load balancer at 80 % of 60 security-group rules
    assert checks(placed)["quota application-load-balancers"].status == PASS
    refused = checks(placed - 1)["quota application-load-balancers"]
    assert refused.status == FAIL and f"{placed:g} Application Load Balancers" in refused.detail
