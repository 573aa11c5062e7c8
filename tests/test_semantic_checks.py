"""Every semantic check: the valid catalogs pass, and each broken variant fails with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import NEXUS_CATALOG, ORBIT_CATALOG, nexus_data, write_yaml
from generator import api
from generator.errors import CatalogError
from generator.catalog.validate import fargate_memory_problem


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = write_yaml(tmp_path / "catalog.yaml", data)
    with pytest.raises(CatalogError) as caught:
        api.validate(path)
    return [problem.render() for problem in caught.value.problems]


def test_both_catalogs_are_valid() -> None:
    assert len(api.validate(NEXUS_CATALOG).services) == 26
    assert len(api.validate(ORBIT_CATALOG).services) == 5


def svc(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["services"][name]


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "fargate pair",
        lambda d: svc(d, "auth-service").update(resources={"cpu": 256, "memory": 4096}),
        "services.auth-service.resources.memory",
        "Fargate does not accept cpu 256 with memory 4096; with cpu 256 memory must be 512, 1024, 2048",
    ),
    (
        "fargate pair on a named sizing",
        lambda d: d["sizing"]["ai"].update(memory=512),
        "sizing.ai.memory",
        "Fargate does not accept cpu 512 with memory 512",
    ),
    (
        "min above max",
        lambda d: svc(d, "web").update(resources={"min_tasks": 7}),
        "services.web.resources.min_tasks",
        "min_tasks 7 is greater than max_tasks 6",
    ),
    (
        "duplicate priority",
        lambda d: svc(d, "user-service")["routes"][0].update(priority=100),
        "services.user-service.routes[0].priority",
        "priority 100 is already used by 'auth-service'",
    ),
    (
        "unreachable rule",
        lambda d: svc(d, "api-gateway")["routes"][0].update(priority=50),
        "services.auth-service.routes[0].priority",
        "can never match: the rule of 'api-gateway' at priority 50",
    ),
    (
        "unreachable identical host rule",
        lambda d: svc(d, "brand-portal")["routes"][0].update(hosts=["admin"]),
        "services.brand-portal.routes[0].priority",
        "can never match: the rule of 'admin' at priority 20",
    ),
    (
        "unknown group",
        lambda d: svc(d, "web").update(group="frontends"),
        "services.web.group",
        "unknown group 'frontends'; did you mean 'frontend'?",
    ),
    (
        "unknown sizing",
        lambda d: svc(d, "web").update(sizing="tiny"),
        "services.web.sizing",
        "unknown sizing 'tiny'",
    ),
    (
        "group sizing unknown",
        lambda d: d["groups"]["ai"].update(sizing="gpu"),
        "groups.ai.sizing",
        "unknown sizing 'gpu'",
    ),
    (
        "call to unknown service",
        lambda d: svc(d, "web")["calls"].append("api-gatway"),
        "services.web.calls[1]",
        "unknown service 'api-gatway'; did you mean 'api-gateway'?",
    ),
    (
        "call to a worker",
        lambda d: svc(d, "web")["calls"].append("video-processor"),
        "services.web.calls[1]",
        "'video-processor' has no `port`",
    ),
    (
        "call to itself",
        lambda d: svc(d, "web")["calls"].append("web"),
        "services.web.calls[1]",
        "'web' calls itself",
    ),
    (
        "unknown data store",
        lambda d: svc(d, "web").update(data_stores=["mongo"]),
        "services.web.data_stores[0]",
        "unknown data store 'mongo'",
    ),
    (
        "environment without a data store",
        lambda d: d["environments"]["prod"]["data_stores"].pop("redis"),
        "environments.prod.data_stores",
        "no security group given for data store 'redis'",
    ),
    (
        "routes on a worker",
        lambda d: svc(d, "video-processor").update(routes=[{"priority": 5000, "paths": ["/video/*"]}]),
        "services.video-processor.routes",
        "`routes` needs a `port` on the service",
    ),
    (
        "target group name too long",
        lambda d: svc(d, "notification-service").pop("short_name"),
        "services.notification-service",
        "target group name 'nexus-staging-notification-service' has 34 characters; AWS allows 32: shorten `short_name`",
    ),
    (
        "IAM role name too long",
        lambda d: (d["platform"].update(name="nexusplatfor"),
                   d["services"].update({"reporting-" + "x" * 30: {"group": "support", "port": 3999}})),
        "services.reporting-" + "x" * 30,
        "the IAM role name 'nexusplatfor-staging-reporting-" + "x" * 30 + "-exec' has 66 characters; AWS allows 64",
    ),
    (
        "duplicate short name",
        lambda d: svc(d, "integration-service").update(short_name="notification"),
        "services.integration-service.short_name",
        "target group name 'nexus-dev-notification' is also 'notification-service''s",
    ),
    (
        "too many condition values",
        lambda d: svc(d, "web")["routes"][0].update(hosts=["a", "b", "c"], paths=["/x", "/y", "/z"]),
        "services.web.routes[0]",
        "rule has 6 host and path values; an ALB rule allows 5 in all",
    ),
    (
        # A group's routes stay together: the frontend group moves to a second load balancer, where they are too many.
        "too many rules",
        lambda d: svc(d, "web")["routes"].extend(
            {"priority": 500 + i, "hosts": ["other"], "paths": [f"/p{i}"]} for i in range(100)
        ),
        "services.web.routes[98]",
        "the internet-facing (load balancer 2) listener would hold 105 rules; an ALB listener allows 100, and this is rule 101 by priority",
    ),
    (
        "plain-text credential",
        lambda d: svc(d, "web").update(environment={"STRIPE_API_KEY": "sk_live_123"}),
        "services.web.environment.STRIPE_API_KEY",
        "STRIPE_API_KEY looks like a credential",
    ),
    (
        "variable both plain and secret",
        lambda d: svc(d, "auth-service").update(environment={"JWT_SECRET": "x"}),
        "services.auth-service.environment.JWT_SECRET",
        "JWT_SECRET is set both here and in `secrets`",
    ),
    (
        "shared domain",
        lambda d: d["environments"]["staging"].update(domain="nexus.com"),
        "environments.prod.domain",
        "domain 'nexus.com' is also the domain of environment 'staging'",
    ),
    (
        "tcp service with routes",
        lambda d: svc(d, "web").update(protocol="tcp"),
        "services.web.routes",
        "a `tcp` service takes no `routes`: the load balancers and their health checks speak HTTP",
    ),
    (
        "tcp service with a health-check path",
        lambda d: svc(d, "auth-service").update(protocol="tcp", health_check_path="/health"),
        "services.auth-service.health_check_path",
        "a `tcp` service takes no `health_check_path`",
    ),
    (
        "zone that cannot hold the domain",
        lambda d: d["environments"]["dev"].update(dns_zone="example.org"),
        "environments.dev.dns_zone",
        "zone 'example.org' cannot hold records for 'dev.nexus.com'",
    ),
]


@pytest.mark.parametrize("name, mutate, path, fragment", CASES, ids=[case[0] for case in CASES])
def test_semantic_check(tmp_path: Path, name: str, mutate: Callable[[dict[str, Any]], None], path: str, fragment: str) -> None:
    data = nexus_data()
    mutate(data)
    problems = problems_of(tmp_path, data)
    matching = [p for p in problems if f": {path}: " in p and fragment in p]
    assert matching, f"expected {path}: ...{fragment}... in:\n" + "\n".join(problems)
    assert all(p.startswith(str(tmp_path / "catalog.yaml") + ":") for p in problems)


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    data = nexus_data()
    svc(data, "auth-service").update(resources={"cpu": 256, "memory": 4096})
    svc(data, "user-service")["routes"][0].update(priority=100)
    svc(data, "campaign-service").update(group="no-such-group")  # a reference problem: reported on its own
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1 and "unknown group 'no-such-group'" in problems[0], problems
    svc(data, "campaign-service").update(group="business-logic", short_name="auth-service")
    problems = problems_of(tmp_path, data)
    assert len(problems) == 3, problems


def test_priority_bounds_come_from_the_schema(tmp_path: Path) -> None:
    data = nexus_data()
    svc(data, "web")["routes"][0].update(priority=50001)
    assert any("services.web.routes[0].priority: 50001 is out of range; must be at least 1 and at most 50000" in p
               for p in problems_of(tmp_path, data))


# Pairs read off the ECS developer guide's "Task CPU and memory" table, not off our table.
FARGATE_PAIRS = [
    (256, 512, True), (256, 2048, True), (256, 3072, False),
    (512, 1024, True), (512, 4096, True), (512, 512, False),
    (1024, 2048, True), (1024, 8192, True), (1024, 9216, False),
    (2048, 16384, True), (2048, 3072, False),
    (4096, 30720, True), (4096, 31744, False),
    (8192, 20480, True), (8192, 18432, False),
    (16384, 40960, True), (16384, 36864, False), (16384, 122880, True),
    (128, 512, False),
]


@pytest.mark.parametrize("cpu, memory, accepted", FARGATE_PAIRS)
def test_fargate_pairs_follow_the_aws_table(cpu: int, memory: int, accepted: bool) -> None:
    assert (fargate_memory_problem(cpu, memory) is None) is accepted


def test_broader_rule_after_the_narrow_one_is_fine(tmp_path: Path) -> None:
    data = nexus_data()  # /api/* (900) after /api/v1/auth/* (100) is the design's order
    path = write_yaml(tmp_path / "catalog.yaml", data)
    catalog = api.validate(path)  # raises CatalogError if the order were taken as shadowing
    priorities = {svc.name: [route.priority for route in svc.routes] for svc in catalog.services}
    assert (priorities["auth-service"], priorities["api-gateway"]) == ([100], [900])


def test_wildcard_host_shadows_concrete_host(tmp_path: Path) -> None:
    data = nexus_data()
    svc(data, "admin")["routes"][0].update(hosts=["*"], priority=5)
    problems = problems_of(tmp_path, data)
    assert any("services.creator-portal.routes[0].priority" in p and "'admin' at priority 5" in p for p in problems)


def test_services_may_share_a_port(tmp_path: Path) -> None:
    """Service Connect wants each (name, port) alias unique in the namespace, not each port (ECS API,
    ServiceConnectClientAlias); most images listen on 8080. Each keeps its own alias."""
    data = nexus_data()
    svc(data, "user-service")["port"] = svc(data, "auth-service")["port"]
    catalog = api.validate(write_yaml(tmp_path / "catalog.yaml", data))
    ports = {service.name: service.port for service in catalog.services}
    assert ports["user-service"] == ports["auth-service"] == data["services"]["auth-service"]["port"]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """Checked here rather than at every run (it costs half a second)."""
    import json

    from jsonschema import Draft202012Validator

    from generator.paths import SCHEMAS_DIR

    Draft202012Validator.check_schema(json.loads((SCHEMAS_DIR / "catalog.schema.json").read_text(encoding="utf-8")))


# --- semantics that used to surprise (issue #19): each refused with what to do instead ---------------------

def _orbit_problems(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[str]:
    from conftest import orbit_data

    data = orbit_data()
    change(data)
    return problems_of(tmp_path, data)


def test_an_override_may_not_replace_a_service_connect_url(tmp_path: Path) -> None:
    def override(data: dict[str, Any]) -> None:
        caller, body = next((name, s) for name, s in data["services"].items() if s.get("calls"))
        variable = body["calls"][0].upper().replace("-", "_") + "_URL"
        body.setdefault("overrides", {}).setdefault("live", {}).setdefault("environment", {})[variable] = "http://x:1"
    problems = _orbit_problems(tmp_path, override)
    assert any(".overrides.live.environment." in p and "silently replace the Service Connect URL" in p
               for p in problems), problems


def test_legacy_dns_for_an_internal_host_is_refused(tmp_path: Path) -> None:
    def legacy_internal(data: dict[str, Any]) -> None:
        label = data["services"]["search"]["routes"][0]["hosts"][0]  # `search` is internal in orbit.yaml
        data["environments"]["qa"].setdefault("dns", {})[label] = "legacy"
    problems = _orbit_problems(tmp_path, legacy_internal)
    assert any("is a host of an internal service: its record aliases the internal load balancer" in p
               for p in problems), problems


def test_edge_with_path_only_routes_is_refused(tmp_path: Path) -> None:
    def paths_only(data: dict[str, Any]) -> None:
        for service in data["services"].values():
            for route in service.get("routes", []):
                if not service.get("internal"):
                    route.pop("hosts", None)
                    route.setdefault("paths", ["/x/*"])
        data["environments"]["live"].pop("dns", None)
    problems = _orbit_problems(tmp_path, paths_only)
    assert any("environments.live.edge: `edge` needs routes with hosts" in p for p in problems), problems


def test_the_cloudfront_certificate_need_not_cover_internal_hosts(tmp_path: Path) -> None:
    from conftest import orbit_data

    data = orbit_data()
    live = data["environments"]["live"]
    public = sorted({label for s in data["services"].values() if not s.get("internal")
                     for r in s.get("routes", []) for label in r.get("hosts", [])})
    live["edge"] = {"certificate_domain": f"{public[0]}.{live['domain']}",
                    "certificate_alternative_names": [f"{label}.{live['domain']}" for label in public[1:]]}
    api.validate(write_yaml(tmp_path / "catalog.yaml", data))  # `search` (internal) is not covered: fine
