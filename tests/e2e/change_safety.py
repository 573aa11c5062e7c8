"""Day-2 change safety: everyday catalog edits applied one after another to a running
environment, each through `render` and stock `terraform plan` / `apply`.

A plan is unsafe when it deletes or replaces something whose loss stops traffic or
loses data (ECS services, the load balancer and its listeners, target groups, log
groups, the Service Connect namespace, KMS keys, security groups), unless the edit
itself removes or renames the service that owns it. A log group is never allowed to
go, not even with its service: its logs are evidence until their retention ends.

The edits are written against tests/fixtures/orbit.yaml (its `live` environment)
and applied cumulatively, in the order a team might make them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Resource types whose deletion or replacement interrupts traffic or loses data.
GUARDED_TYPES = {
    "aws_ecs_service": "ECS service",
    "aws_lb": "load balancer",
    "aws_lb_listener": "listener",
    "aws_lb_target_group": "target group",
    "aws_cloudwatch_log_group": "log group",
    "aws_service_discovery_http_namespace": "Service Connect namespace",
    "aws_kms_key": "KMS key",
    "aws_security_group": "security group",
}

World = Any  # checks.World: boto3 clients against the emulator


@dataclass(frozen=True)
class Edit:
    name: str
    change: Callable[[dict[str, Any]], None]
    # Services the edit removes or renames (old and new name): their resources may go.
    removes: frozenset[str] = frozenset()
    # Runs against the emulator before the render (e.g. a new secret the team created).
    prepare: Callable[[World, str], None] | None = None
    # Runs against the emulator after the apply: the edit reached AWS as the catalog says.
    verify: Callable[[World, str], None] | None = None
    # Addresses the edit may delete although their type is guarded (e.g. the legacy
    # target group once the migration is over and nothing forwards to it).
    allowed: frozenset[str] = frozenset()
    # Runs after `verify` with the rendered catalog file (e.g. `migration-check`).
    after: Callable[[World, Path], None] | None = None


@dataclass
class PlanSummary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    unsafe: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def _owner(change: dict[str, Any]) -> str | None:
    """The catalog service a resource belongs to: `module.service_<name>` or a `["<name>"]` key."""
    module = change.get("module_address") or ""
    match = re.match(r"module\.service_([a-z0-9_]+)", module)
    if match:
        return match.group(1).replace("_", "-")
    index = change.get("index")
    return index if isinstance(index, str) else None


def summarise_plan(plan: dict[str, Any], removes: frozenset[str], allowed: frozenset[str] = frozenset()) -> PlanSummary:
    """Count the plan's actions and list every guarded resource it deletes or replaces."""
    summary = PlanSummary()
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        summary.add += "create" in actions
        summary.change += actions == ["update"]
        summary.destroy += "delete" in actions
        if "delete" not in actions:
            continue
        if "create" in actions:
            summary.replaced.append(change["address"])
        kind = GUARDED_TYPES.get(change["type"])
        if kind is None:
            continue
        before = change["change"].get("before") or {}
        if change["type"] == "aws_cloudwatch_log_group":
            # skip_destroy: Terraform forgets the log group and AWS keeps it.
            if before.get("skip_destroy") is not True:
                summary.unsafe.append(f"{change['address']} ({kind} deleted with its logs)")
            continue
        if _owner(change) in removes or change["address"] in allowed:
            continue
        verb = "replaced" if "create" in actions else "deleted"
        summary.unsafe.append(f"{change['address']} ({kind} {verb})")
    return summary


def load_plan_json(text: str) -> dict[str, Any]:
    return json.loads(text)


# ---------------------------------------------------------------------------
# The edits. Expectations in `verify` are the catalog's numbers written out here,
# not read from the generator's model.
# ---------------------------------------------------------------------------

def _service(world: World, cluster: str, name: str) -> dict[str, Any]:
    found = world.ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert found, f"ECS service {name} not found"
    return found[0]


def _task_definition(world: World, cluster: str, name: str) -> dict[str, Any]:
    arn = _service(world, cluster, name)["taskDefinition"]
    return world.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]


def _rules(world: World) -> list[dict[str, Any]]:
    lb = world.elbv2.describe_load_balancers(Names=["orbit-live-alb"])["LoadBalancers"][0]
    listener = next(
        l for l in world.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if l["Port"] == 443
    )
    return [r for r in world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if r["Priority"] != "default"]


def _rule_values(rule: dict[str, Any], field_name: str) -> list[str]:
    config = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}[field_name]
    return sorted(v for c in rule["Conditions"] if c["Field"] == field_name
                  for v in (c.get(config) or {}).get("Values") or c.get("Values", []))


CLUSTER = "orbit-live"


def _verify_spot(world: World, _: str) -> None:
    # batch: spot_percentage 50 -> FARGATE 1 : FARGATE_SPOT 1, no base (orbit.yaml `batch`)
    for name in ("ledger", "reindexer"):
        strategy = {s["capacityProvider"]: (s["weight"], s.get("base", 0)) for s in _service(world, CLUSTER, name)["capacityProviderStrategy"]}
        assert strategy == {"FARGATE": (1, 0), "FARGATE_SPOT": (1, 0)}, (name, strategy)


def _verify_memory(world: World, _: str) -> None:
    definition = _task_definition(world, CLUSTER, "pricing")
    assert (definition["cpu"], definition["memory"]) == ("1024", "5120"), (definition["cpu"], definition["memory"])


def _verify_scaling(world: World, _: str) -> None:
    target = world.autoscaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/ledger"])["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6), target


def _verify_new_route(world: World, _: str) -> None:
    by_priority = {int(r["Priority"]): r for r in _rules(world)}
    assert _rule_values(by_priority[30], "path-pattern") == ["/discounts/*"]
    assert _rule_values(by_priority[30], "host-header") == ["api.orbit.example"]


def _verify_priority(world: World, _: str) -> None:
    priorities = {int(r["Priority"]) for r in _rules(world)}
    assert 25 in priorities and 20 not in priorities, priorities


def _verify_path(world: World, _: str) -> None:
    by_priority = {int(r["Priority"]): r for r in _rules(world)}
    assert _rule_values(by_priority[25], "path-pattern") == ["/prices/*", "/quote/*"]


def _verify_added_service(world: World, _: str) -> None:
    assert _service(world, CLUSTER, "wishlist")["status"] == "ACTIVE"
    by_priority = {int(r["Priority"]): r for r in _rules(world)}
    assert _rule_values(by_priority[40], "host-header") == ["wishlist.orbit.example"]


def _verify_removed_service(world: World, _: str) -> None:
    found = world.ecs.describe_services(cluster=CLUSTER, services=["wishlist"])["services"]
    assert not found or found[0]["status"] != "ACTIVE", found
    assert 40 not in {int(r["Priority"]) for r in _rules(world)}
    groups = world.logs.describe_log_groups(logGroupNamePrefix="/ecs/orbit-live/wishlist")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/ecs/orbit-live/wishlist"], "the removed service's logs are gone"


def _create_secret(world: World, _: str) -> None:
    world.secretsmanager.create_secret(Name="orbit-live/ledger/api-token", SecretString="emulator-value")


def _verify_secret(world: World, _: str) -> None:
    container = _task_definition(world, CLUSTER, "ledger")["containerDefinitions"][0]
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    assert ":secret:orbit-live/ledger/api-token" in secrets.get("API_TOKEN", ""), secrets


def _create_parameter(world: World, _: str) -> None:
    world.ssm.put_parameter(Name="/orbit-live/ledger/signing-key", Value="emulator-value", Type="SecureString")


def _verify_parameter(world: World, _: str) -> None:
    container = _task_definition(world, CLUSTER, "ledger")["containerDefinitions"][0]
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    assert secrets.get("SIGNING_KEY", "").endswith(":parameter/orbit-live/ledger/signing-key"), secrets


def _verify_override(world: World, _: str) -> None:
    target = world.autoscaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/orbit-live/storefront"])["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (4, 12), target
    container = _task_definition(world, CLUSTER, "storefront")["containerDefinitions"][0]
    assert {e["name"]: e["value"] for e in container["environment"]}["CHECKOUT_FLOW"] == "v3"


def _verify_health_path(world: World, _: str) -> None:
    container = _task_definition(world, CLUSTER, "storefront")["containerDefinitions"][0]
    assert "http://localhost:8080/ready " in container["healthCheck"]["command"][1], container["healthCheck"]
    groups = world.elbv2.describe_target_groups(Names=["orbit-live-storefront"])["TargetGroups"]
    assert groups[0]["HealthCheckPath"] == "/ready"


def _verify_port(world: World, _: str) -> None:
    container = _task_definition(world, CLUSTER, "pricing")["containerDefinitions"][0]
    assert [m["containerPort"] for m in container["portMappings"]] == [8091]
    load_balancers = _service(world, CLUSTER, "pricing")["loadBalancers"]
    assert [lb["containerPort"] for lb in load_balancers] == [8091], load_balancers


def _verify_calls(world: World, _: str) -> None:
    ledger_group = world.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["orbit-live-ledger"]}])["SecurityGroups"][0]
    storefront_group = world.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["orbit-live-storefront"]}])["SecurityGroups"][0]
    sources = [
        pair["GroupId"] for permission in ledger_group["IpPermissions"] if permission.get("FromPort") == 9000
        for pair in permission.get("UserIdGroupPairs", [])
    ]
    assert storefront_group["GroupId"] in sources, sources


def _verify_retention(world: World, _: str) -> None:
    groups = world.logs.describe_log_groups(logGroupNamePrefix="/ecs/orbit-live/pricing")["logGroups"]
    assert groups[0]["retentionInDays"] == 400


def _verify_exec(world: World, _: str) -> None:
    assert _service(world, CLUSTER, "pricing")["enableExecuteCommand"] is True


def _verify_image(world: World, _: str) -> None:
    # Deploys own the running image (Phase 5): the catalog's tag is only the first image of a
    # service that has none yet, so running services keep theirs.
    container = _task_definition(world, CLUSTER, "ledger")["containerDefinitions"][0]
    assert container["image"] == "210987654321.dkr.ecr.eu-west-1.amazonaws.com/orbit/ledger:2026.10.4", container["image"]
    parameter = world.ssm.get_parameter(Name="/orbit/live/services/ledger/image")["Parameter"]["Value"]
    assert parameter.endswith(":2026.10.4"), parameter


def _verify_variable(world: World, _: str) -> None:
    container = _task_definition(world, CLUSTER, "storefront")["containerDefinitions"][0]
    assert {"name": "GREETING", "value": "hello"} in container["environment"], container["environment"]


def _verify_rename(world: World, _: str) -> None:
    assert _service(world, CLUSTER, "shopfront")["status"] == "ACTIVE"
    old = world.ecs.describe_services(cluster=CLUSTER, services=["storefront"])["services"]
    assert not old or old[0]["status"] != "ACTIVE", old
    rule = {int(r["Priority"]): r for r in _rules(world)}[5]
    target = world.elbv2.describe_target_groups(TargetGroupArns=[rule["Actions"][0]["TargetGroupArn"]])["TargetGroups"][0]
    assert target["TargetGroupName"] == "orbit-live-shopfront", target["TargetGroupName"]
    groups = world.logs.describe_log_groups(logGroupNamePrefix="/ecs/orbit-live/storefront")["logGroups"]
    assert groups, "the renamed service's old logs are gone"


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return change


def _pricing_route(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["services"]["pricing"]["routes"][index][key] = value
    return change


def _add_route(data: dict[str, Any]) -> None:
    data["services"]["pricing"]["routes"].append({"priority": 30, "hosts": ["api"], "paths": ["/discounts/*"]})


def _add_service(data: dict[str, Any]) -> None:
    data["services"]["wishlist"] = {
        "group": "edge", "port": 8082, "routes": [{"priority": 40, "hosts": ["wishlist"]}], "calls": ["pricing"],
    }


def _remove_service(data: dict[str, Any]) -> None:
    del data["services"]["wishlist"]


def _add_calls_edge(data: dict[str, Any]) -> None:
    data["services"]["storefront"]["calls"].append("ledger")


def _rename(data: dict[str, Any]) -> None:
    services = data["services"]
    data["services"] = {("shopfront" if name == "storefront" else name): body for name, body in services.items()}
    data["services"]["shopfront"]["renamed_from"] = "storefront"
    for environment in data["environments"].values():  # a rename is renamed everywhere it is named
        steps = environment.get("migration", {})
        if "storefront" in steps:
            steps["shopfront"] = steps.pop("storefront")


EDITS: tuple[Edit, ...] = (
    Edit("group Spot share 80 -> 50", _set(("groups", "batch", "spot_percentage"), 50), verify=_verify_spot),
    Edit("service memory 4096 -> 5120", _set(("services", "pricing", "resources", "memory"), 5120), verify=_verify_memory),
    Edit("min/max tasks 1-3 -> 2-6", _set(("services", "ledger", "resources"), {"min_tasks": 2, "max_tasks": 6}),
         verify=_verify_scaling),
    Edit("add a route", _add_route, verify=_verify_new_route),
    Edit("route priority 20 -> 25", _pricing_route(0, "priority", 25), verify=_verify_priority),
    Edit("route path /quotes/* -> /quote/*", _pricing_route(0, "paths", ["/prices/*", "/quote/*"]), verify=_verify_path),
    Edit("add a service", _add_service, verify=_verify_added_service),
    Edit("remove a service", _remove_service, removes=frozenset({"wishlist"}), verify=_verify_removed_service),
    Edit("add a secret", _set(("services", "ledger", "secrets"), {"API_TOKEN": "ledger/api-token"}),
         prepare=_create_secret, verify=_verify_secret),
    Edit("add an SSM Parameter Store secret", _set(("services", "ledger", "secrets", "SIGNING_KEY"), {"ssm": "ledger/signing-key"}),
         prepare=_create_parameter, verify=_verify_parameter),
    Edit("live override: min tasks 3 -> 4, a flag", _set(("services", "storefront", "overrides", "live"),
                                                          {"resources": {"min_tasks": 4}, "environment": {"CHECKOUT_FLOW": "v3"}}),
         verify=_verify_override),
    Edit("health-check path", _set(("services", "storefront", "health_check_path"), "/ready"), verify=_verify_health_path),
    Edit("container port 8081 -> 8091", _set(("services", "pricing", "port"), 8091), verify=_verify_port),
    Edit("add a calls edge", _add_calls_edge, verify=_verify_calls),
    Edit("log retention 365 -> 400", _set(("environments", "live", "log_retention_days"), 400), verify=_verify_retention),
    Edit("toggle execute-command", _set(("environments", "live", "enable_execute_command"), True), verify=_verify_exec),
    Edit("change the catalog's first image", _set(("environments", "live", "image_tag"), "2026.11.2"), verify=_verify_image),
    Edit("change an environment variable", _set(("services", "storefront", "environment", "GREETING"), "hello"),
         verify=_verify_variable),
    Edit("rename a service", _rename, removes=frozenset({"storefront", "shopfront"}), verify=_verify_rename),
)
