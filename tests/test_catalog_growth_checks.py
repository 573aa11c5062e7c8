"""Issue #11's later catalog fields: per-environment overrides, port protocols, internal services,
EFS volumes and SSM Parameter Store secrets. Each rule has a catalog that breaks it (one message,
at the right catalog path) and a neighbouring catalog that is fine.

Built on tests/fixtures/orbit.yaml, which has a migrating environment (qa), one behind CloudFront
(live), an internal gRPC service with an EFS volume and an SSM secret (search), and overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import orbit_data, write_yaml
from generator import api
from generator.errors import CatalogError

Mutation = Callable[[dict[str, Any]], None]


def svc(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["services"][name]


def live(data: dict[str, Any]) -> dict[str, Any]:
    return data["environments"]["live"]


def qa(data: dict[str, Any]) -> dict[str, Any]:
    return data["environments"]["qa"]


# (name, breaks the rule, catalog path of the message, fragment of the message, a neighbour that is fine)
CASES: list[tuple[str, Mutation, str, str, Mutation]] = [
    (
        "override of an unknown environment",
        lambda d: svc(d, "ledger")["overrides"].update(prod={"resources": {"min_tasks": 2}}),
        "services.ledger.overrides.prod", "unknown environment 'prod'",
        lambda d: svc(d, "ledger")["overrides"].update(live={"resources": {"min_tasks": 2}}),
    ),
    (
        "override naming an unknown sizing",
        lambda d: svc(d, "ledger")["overrides"]["qa"].update(sizing="huge"),
        "services.ledger.overrides.qa.sizing", "unknown sizing 'huge'",
        lambda d: svc(d, "ledger")["overrides"]["qa"].update(sizing="small"),
    ),
    (
        "override with a moving image tag",
        lambda d: svc(d, "ledger")["overrides"]["qa"].update(image_tag="latest"),
        "services.ledger.overrides.qa.image_tag", "'latest' is a moving tag",
        lambda d: svc(d, "ledger")["overrides"]["qa"].update(image_tag="2026.11.1-rc3"),
    ),
    (
        "override with a cpu/memory pair Fargate refuses",
        lambda d: svc(d, "storefront")["overrides"]["live"].update(resources={"cpu": 256, "memory": 4096}),
        "services.storefront.overrides.live.resources.memory", "Fargate does not accept cpu 256 with memory 4096",
        lambda d: svc(d, "storefront")["overrides"]["live"].update(resources={"cpu": 256, "memory": 2048}),
    ),
    (
        "override with min above max",
        lambda d: svc(d, "storefront")["overrides"]["live"].update(resources={"min_tasks": 13}),
        "services.storefront.overrides.live.resources.min_tasks", "min_tasks 13 is greater than max_tasks 12",
        lambda d: svc(d, "storefront")["overrides"]["live"].update(resources={"min_tasks": 12}),
    ),
    (
        "override setting a credential in plain text",
        lambda d: svc(d, "storefront")["overrides"]["live"]["environment"].update(STRIPE_API_KEY="sk_live_0123456789abcdef"),
        "services.storefront.overrides.live.environment.STRIPE_API_KEY", "STRIPE_API_KEY looks like a credential",
        lambda d: svc(d, "storefront")["overrides"]["live"]["environment"].update(STRIPE_ACCOUNT_COUNTRY="DE"),
    ),
    (
        "a service left out while a caller stays",
        lambda d: svc(d, "pricing").update(overrides={"live": {"enabled": False}}),
        "services.storefront.calls[0]", "'storefront' calls 'pricing', which is left out of 'live'",
        lambda d: [svc(d, name).update(overrides={"live": {"enabled": False}})
                   for name in ("pricing", "storefront", "reindexer")],
    ),
    (
        "migration step for a service left out",
        lambda d: [svc(d, "reindexer").update(overrides={"qa": {"enabled": False}}), qa(d)["migration"].update(reindexer=10)],
        "environments.qa.migration.reindexer", "'reindexer' is left out of 'qa'",
        lambda d: svc(d, "reindexer").update(overrides={"qa": {"enabled": False}}),
    ),
    (
        "protocol on a worker",
        lambda d: svc(d, "reindexer").update(protocol="http2"),
        "services.reindexer.protocol", "the service has no `port`",
        lambda d: svc(d, "ledger").update(protocol="http2"),
    ),
    (
        "gRPC without a health-check command",
        lambda d: svc(d, "search").pop("health_check"),
        "services.search.protocol", "a gRPC service needs `health_check.command`",
        lambda d: svc(d, "search").update(health_check={"command": ["/bin/true"]}),
    ),
    (
        "internal without routes",
        lambda d: svc(d, "ledger").update(internal=True),
        "services.ledger.internal", "without routes it is reached only through Service Connect",
        lambda d: svc(d, "ledger").update(internal=True, routes=[{"priority": 40, "hosts": ["ledger"]}]),
    ),
    (
        "internal service in a weighted split",
        lambda d: [svc(d, "search").pop("overrides"), qa(d).update(file_systems=live(d)["file_systems"]),
                   qa(d)["migration"].update(search=100)],
        "environments.qa.migration.search", "'search' is internal",
        lambda d: [svc(d, "search").pop("overrides"), qa(d).update(file_systems=live(d)["file_systems"]),
                   qa(d)["migration"].update(search="ecs")],
    ),
    (
        "one host on both load balancers",
        lambda d: svc(d, "search")["routes"][0].update(hosts=["api"], paths=["/search/*"]),
        "services.search.internal", "the host label 'api' is used by internal and internet-facing services",
        lambda d: svc(d, "search")["routes"][0].update(hosts=["search-api"], paths=["/search/*"]),
    ),
    (
        "internal host behind CloudFront",
        lambda d: live(d).update(dns={"search": "edge"}),
        "environments.live.dns.search", "CloudFront cannot reach the internal load balancer",
        lambda d: live(d).update(dns={"search": "alb"}),
    ),
    (
        "EFS file system the environment does not have",
        lambda d: svc(d, "search")["efs_volumes"]["index"].update(file_system="media"),
        "services.search.efs_volumes.index.file_system", "environment 'live' has no file system 'media'",
        lambda d: live(d)["file_systems"].update(media=live(d)["file_systems"]["search-index"]),
    ),
    (
        "EFS mount over a scratch directory",
        lambda d: svc(d, "search")["efs_volumes"]["index"].update(path="/tmp/index"),
        "services.search.efs_volumes.index.path", "/tmp/index overlaps another mount of the container",
        lambda d: svc(d, "search")["efs_volumes"]["index"].update(path="/tmpindex"),
    ),
    (
        "SSM secret under a prefix SSM cannot name",
        lambda d: live(d).update(secret_prefix="orbit+live/"),
        "environments.live.secret_prefix", "set ssm_parameter_prefix",
        lambda d: live(d).update(secret_prefix="orbit+live/", ssm_parameter_prefix="/orbit/live/"),
    ),
    (
        "scheduled-task override of an unknown environment",
        lambda d: d["scheduled_tasks"]["nightly-report"]["overrides"].update(prod={"enabled": False}),
        "scheduled_tasks.nightly-report.overrides.prod", "unknown environment 'prod'",
        lambda d: d["scheduled_tasks"]["nightly-report"]["overrides"].update(live={"enabled": False}),
    ),
    (
        "scheduled-task override with a size Fargate refuses",
        lambda d: d["scheduled_tasks"]["nightly-report"]["overrides"]["qa"].update(cpu=4096),
        "scheduled_tasks.nightly-report.overrides.qa.memory", "Fargate does not accept cpu 4096 with memory 512",
        lambda d: d["scheduled_tasks"]["nightly-report"]["overrides"]["qa"].update(cpu=4096, memory=8192),
    ),
    (
        "variable both plain and an SSM secret",
        lambda d: svc(d, "search").update(environment={"INDEX_API_TOKEN": "x"}),
        "services.search.environment.INDEX_API_TOKEN", "is set both here and in `secrets`",
        lambda d: svc(d, "search").update(environment={"INDEX_NAME": "products"}),
    ),
]


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = write_yaml(tmp_path / "catalog.yaml", data)
    try:
        api.validate(path)
    except CatalogError as error:
        return [problem.render() for problem in error.problems]
    return []


@pytest.mark.parametrize("name, breaks, path, fragment, fine", CASES, ids=[case[0] for case in CASES])
def test_rule_fails_and_its_neighbour_passes(tmp_path: Path, name: str, breaks: Mutation, path: str, fragment: str,
                                             fine: Mutation) -> None:
    data = orbit_data()
    breaks(data)
    (tmp_path / "broken").mkdir()
    problems = problems_of(tmp_path / "broken", data)
    matching = [p for p in problems if f": {path}: " in p and fragment in p]
    assert matching, f"expected {path}: ...{fragment}... in:\n" + "\n".join(problems)
    assert len(matching) == 1, "one message per problem, even when several environments see it"
    data = orbit_data()
    fine(data)
    (tmp_path / "fine").mkdir()
    assert problems_of(tmp_path / "fine", data) == []


def test_ssm_secret_shape_is_checked_by_the_schema(tmp_path: Path) -> None:
    data = orbit_data()
    svc(data, "search")["secrets"]["INDEX_API_TOKEN"] = {"parameter": "search/index-api-token"}
    problems = problems_of(tmp_path, data)
    assert any("services.search.secrets.INDEX_API_TOKEN" in p for p in problems), problems
