"""Phase 4 in the emulator: one service moves from a simulated Kubernetes ingress to ECS,
one reviewed catalog change per step, in the world the day-2 edits left behind.

legacy side added (service on Kubernetes) -> 10 % on ECS -> 50 % (sticky) -> back to 0 %
-> 100 % and its host's DNS moved -> decommissioned -> legacy side removed.

Expected weights, URLs and DNS targets are written out here from the steps' catalog
values, not read from the generator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from change_safety import CLUSTER, Edit, World, _rules, _task_definition
from checks import World as Clients
from harness import EDGE_REGION

REPO = Path(__file__).resolve().parents[2]
INGRESS = ["10.1.20.10", "10.1.21.10"]
INGRESS_ALIAS = {"name": "k8s-ingress-0123456789.elb.eu-west-1.amazonaws.com", "zone_id": "Z32O12XQLNTSW2"}
LEGACY_URL = "https://reviews.internal.orbit.example"


def _rule_at(world: World, priority: int) -> dict[str, Any]:
    return {int(rule["Priority"]): rule for rule in _rules(world)}[priority]


def _group_name(world: World, arn: str) -> str:
    return world.elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["TargetGroupName"]


def _forward(world: World, priority: int) -> tuple[dict[str, int], dict[str, Any]]:
    """Target-group names -> weights of the rule at `priority`, and its stickiness."""
    action = _rule_at(world, priority)["Actions"][0]
    config = action.get("ForwardConfig") or {}
    if not config.get("TargetGroups"):
        return {_group_name(world, action["TargetGroupArn"]): 1}, config.get("TargetGroupStickinessConfig", {})
    weights = {_group_name(world, group["TargetGroupArn"]): group.get("Weight", 1) for group in config["TargetGroups"]}
    if len(weights) == 1:
        weights = {name: 1 for name in weights}
    return weights, config.get("TargetGroupStickinessConfig", {})


def _default_action(world: World) -> dict[str, Any]:
    lb = world.elbv2.describe_load_balancers(Names=["orbit-live-alb"])["LoadBalancers"][0]
    listener = next(l for l in world.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if l["Port"] == 443)
    action = dict(listener["DefaultActions"][0])
    if action["Type"] == "forward" and "TargetGroupArn" not in action:
        action["TargetGroupArn"] = action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]
    return action


def _dns_target(world: World, host: str) -> str | None:
    zone = world.route53.list_hosted_zones_by_name(DNSName="orbit.example")["HostedZones"][0]["Id"]
    for record in world.route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
        if record["Name"].rstrip(".") == host and record["Type"] == "A":
            return record["AliasTarget"]["DNSName"].rstrip(".").lower()
    return None


def _shopfront_url(world: World) -> str | None:
    container = _task_definition(world, CLUSTER, "shopfront")["containerDefinitions"][0]
    return {e["name"]: e["value"] for e in container["environment"]}.get("REVIEWS_URL")


def _edge_dns(world: World) -> str:
    """`live` has CloudFront in front (`edge`): hosts that moved point at the distribution."""
    edge = Clients(world.url, EDGE_REGION)
    items = edge.cloudfront.list_distributions()["DistributionList"]["Items"]
    return next(d["DomainName"] for d in items if d["Comment"] == "orbit-live").lower()


def _assert_dns(world: World, reviews_target: str) -> None:
    assert _dns_target(world, "reviews.orbit.example") == reviews_target, ("reviews DNS", _dns_target(world, "reviews.orbit.example"))
    for host in ("shop.orbit.example", "www.orbit.example", "api.orbit.example"):
        assert _dns_target(world, host) == _edge_dns(world), (host, _dns_target(world, host))


def _reviews_on_ecs(world: World) -> bool:
    found = world.ecs.describe_services(cluster=CLUSTER, services=["reviews"])["services"]
    return bool(found) and found[0]["status"] == "ACTIVE"


# --- the steps -------------------------------------------------------------------

def _add_legacy_side(data: dict[str, Any]) -> None:
    live = data["environments"]["live"]
    live["legacy"] = {
        "ingress": {"addresses": INGRESS, "port": 443, "protocol": "HTTPS", "health_check_path": "/healthz",
                    "dns_alias": INGRESS_ALIAS},
        "service_url": "https://{service}.internal.orbit.example",
        "cluster_cidrs": ["10.1.64.0/18"],
    }
    # Everything already on ECS stays there; the new service starts on Kubernetes.
    live["migration"] = {name: "ecs" for name in data["services"]}
    # Hosts named here keep their records; `search` is internal (its record names the internal load balancer).
    live["dns"] = {"shop": "edge", "www": "edge", "api": "edge", "search": "alb", "reviews": "legacy"}
    data["services"]["reviews"] = {
        "group": "edge", "port": 8095, "routes": [{"priority": 50, "hosts": ["reviews"]}],
        "secrets": {"DB_PASSWORD": "reviews/db-password"},
    }
    data["services"]["shopfront"]["calls"].append("reviews")


def _verify_legacy_only(world: World, _: str) -> None:
    assert not _reviews_on_ecs(world), "a service still on Kubernetes got an ECS service"
    assert _forward(world, 50)[0] == {"orbit-live-legacy-ingress": 1}
    default = _default_action(world)
    assert default["Type"] == "forward" and _group_name(world, default["TargetGroupArn"]) == "orbit-live-legacy-ingress"
    group = world.elbv2.describe_target_groups(Names=["orbit-live-legacy-ingress"])["TargetGroups"][0]
    registered = sorted(t["Target"]["Id"] for t in world.elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"])
    assert registered == INGRESS and (group["Port"], group["Protocol"]) == (443, "HTTPS")
    assert _shopfront_url(world) == LEGACY_URL
    _assert_dns(world, INGRESS_ALIAS["name"].lower())


def _set_reviews(step: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["environments"]["live"]["migration"]["reviews"] = step
    return change


def _prepare_reviews(world: World, _: str) -> None:
    """What the team does before the first step: the secret and the image exist."""
    world.secretsmanager.create_secret(Name="orbit-live/reviews/db-password", SecretString="emulator-value")
    world.ecr.create_repository(repositoryName="orbit/reviews")
    manifest = ('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":'
                '{"digest":"sha256:' + "a" * 64 + '","size":1,"mediaType":"application/vnd.docker.container.image.v1+json"},"layers":[]}')
    world.ecr.put_image(repositoryName="orbit/reviews", imageManifest=manifest, imageTag="2026.11.2")


def _weights(ecs: int, legacy: int, sticky: int | None = None):
    def verify(world: World, _: str) -> None:
        assert _reviews_on_ecs(world)
        weights, stickiness = _forward(world, 50)
        assert weights == {"orbit-live-reviews": ecs, "orbit-live-legacy-ingress": legacy}, weights
        if sticky is not None:
            assert stickiness.get("Enabled") is True and stickiness.get("DurationSeconds") == sticky, stickiness
        else:
            assert not stickiness.get("Enabled"), stickiness
        assert _shopfront_url(world) == (LEGACY_URL if ecs < 100 else "http://reviews:8095")
        _assert_dns(world, _edge_dns(world) if ecs == 100 else INGRESS_ALIAS["name"].lower())
    return verify


def _migration_check(url: str, catalog: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": url, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "generator", "migration-check", "--catalog", str(catalog), "--env", "live",
                           "--service", "reviews", *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def _check_before_next_step(world: World, catalog: Path) -> None:
    """`migration-check` passes for a healthy service and fails, naming the check, when a secret is gone."""
    group = world.elbv2.describe_target_groups(Names=["orbit-live-reviews"])["TargetGroups"][0]["TargetGroupArn"]
    # The emulator runs no tasks: register two task addresses as ECS would.
    world.elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.1.0.21", "Port": 8095}, {"Id": "10.1.1.21", "Port": 8095}])
    healthy = _migration_check(world.url, catalog)
    print("      " + "\n      ".join(healthy.stdout.strip().splitlines()), flush=True)
    assert healthy.returncode == 0, f"migration-check failed for a healthy service:\n{healthy.stdout}{healthy.stderr}"
    world.secretsmanager.delete_secret(SecretId="orbit-live/reviews/db-password", RecoveryWindowInDays=7)
    try:
        broken = _migration_check(world.url, catalog)
    finally:
        world.secretsmanager.restore_secret(SecretId="orbit-live/reviews/db-password")
    print("      " + "\n      ".join(broken.stdout.strip().splitlines()), flush=True)
    assert broken.returncode == 1, f"migration-check passed with a secret scheduled for deletion:\n{broken.stdout}{broken.stderr}"
    failing = [line for line in broken.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "secrets" in failing[0] and "reviews/db-password" in failing[0], failing


def _decommissioned(world: World, _: str) -> None:
    assert _forward(world, 50)[0] == {"orbit-live-reviews": 1}
    assert _shopfront_url(world) == "http://reviews:8095"


def _remove_legacy_side(data: dict[str, Any]) -> None:
    live = data["environments"]["live"]
    for key in ("legacy", "migration", "dns"):
        del live[key]


def _legacy_gone(world: World, _: str) -> None:
    default = _default_action(world)
    assert default["Type"] == "fixed-response" and default["FixedResponseConfig"]["StatusCode"] == "404", default
    names = [g["TargetGroupName"] for g in world.elbv2.describe_target_groups()["TargetGroups"]]
    assert "orbit-live-legacy-ingress" not in names, names
    assert _reviews_on_ecs(world)
    _assert_dns(world, _edge_dns(world))


MIGRATION_STEPS: tuple[Edit, ...] = (
    Edit("legacy side added; reviews on Kubernetes", _add_legacy_side, verify=_verify_legacy_only),
    Edit("reviews 10 % on ECS", _set_reviews(10), prepare=_prepare_reviews, verify=_weights(10, 90),
         after=_check_before_next_step),
    Edit("reviews 50 % on ECS, sticky 1 h", _set_reviews({"ecs_percent": 50, "stickiness_seconds": 3600}),
         verify=_weights(50, 50, 3600)),
    Edit("reviews back to 0 %", _set_reviews(0), verify=_weights(0, 100)),
    Edit("reviews 100 % on ECS, DNS moved", lambda data: (_set_reviews(100)(data),
                                                           data["environments"]["live"]["dns"].update(reviews="edge")),
         verify=_weights(100, 0)),
    Edit("reviews decommissioned on Kubernetes", _set_reviews("ecs"), verify=_decommissioned),
    Edit("legacy side removed", _remove_legacy_side, verify=_legacy_gone,
         allowed=frozenset({"module.alb.aws_lb_target_group.legacy[0]"})),
)
