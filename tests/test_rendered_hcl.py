"""The generated Terraform, parsed back with python-hcl2, carries the catalog's facts.

Expectations are computed here from the raw catalog data, independently of the
generator's model, so a wrong inheritance or naming rule in the model shows up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import COMMITTED_OUT, GOLDEN_TREE, NEXUS_CATALOG, ORBIT_CATALOG, nexus_data, orbit_data, write_yaml
from generator import api
from catalog_expectations import expected_url_variables, services_on_ecs
from hcl_reading import blocks, literal, load, platform_file, resources, service_modules

CATALOGS = [(NEXUS_CATALOG, nexus_data, COMMITTED_OUT), (ORBIT_CATALOG, orbit_data, GOLDEN_TREE)]


@pytest.fixture(scope="module", params=CATALOGS, ids=["nexus", "orbit"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    catalog_path, data_of, _ = request.param
    out = tmp_path_factory.mktemp("out") / "out"
    api.render(catalog_path, out)
    return data_of(), out


def expected_sizing(data: dict[str, Any], service: dict[str, Any]) -> dict[str, int]:
    group = data["groups"][service["group"]]
    return {**data["sizing"][service.get("sizing", group["sizing"])], **service.get("resources", {})}


def test_every_tf_file_parses(rendered: tuple[dict[str, Any], Path]) -> None:
    _, out = rendered
    files = sorted(out.rglob("*.tf"))
    assert len(files) >= 20
    expected_blocks = {"main.tf": {"resource", "module", "data"}, "services.tf": {"module"}, "variables.tf": {"variable"},
                       "outputs.tf": {"output"}, "versions.tf": {"terraform"}}
    for path in files:
        assert set(load(path)) & expected_blocks[path.name], f"{path}: none of the blocks a {path.name} holds"


def test_each_service_module_carries_its_catalog_facts(rendered: tuple[dict[str, Any], Path]) -> None:
    data, out = rendered
    for env_name, env in data["environments"].items():
        modules = {label: module for label, module in service_modules(out, env_name).items()
                   if literal(module["source"]).endswith("/modules/ecs-service")}
        on_ecs = services_on_ecs(data, env)
        assert len(modules) == len(on_ecs)
        for name, service in on_ecs.items():
            module = modules["service_" + name.replace("-", "_")]
            assert literal(module["name"]) == name
            # Two levels up from a single root, three from a stack's (`environments/<env>/<stack>`).
            assert literal(module["source"]) == ("../../../" if env.get("layout") == "stacks" else "../../") + "modules/ecs-service"
            sizing = expected_sizing(data, service)
            assert (module["cpu"], module["memory"]) == (sizing["cpu"], sizing["memory"])
            assert (module["min_tasks"], module["max_tasks"]) == (sizing["min_tasks"], sizing["max_tasks"])
            assert module["container_port"] == service.get("port") or (
                "port" not in service and module["container_port"] in (None, "${null}", "null")
            )
            spot = data["groups"][service["group"]]["spot_percentage"]
            weights = {literal(s["capacity_provider"]): s["weight"] for s in module["capacity_provider_strategy"]}
            total = sum(weights.values())
            assert weights.get("FARGATE_SPOT", 0) * 100 == spot * total, (name, weights)
            secrets = literal(module["secrets"])
            assert secrets == {var: env["secret_prefix"] + secret for var, secret in service.get("secrets", {}).items()
                               if isinstance(secret, str)}
            variables = literal(module["environment_variables"])
            urls = expected_url_variables(data, env, service)
            assert variables == {**env.get("environment", {}), **urls, **service.get("environment", {})}
            assert literal(module["image"]).endswith(f":{service.get('image_tag', env['image_tag'])}")
            assert literal(module["log_group_name"]) == f"/ecs/{data['platform']['name']}-{env_name}/{name}"
            assert module["log_retention_days"] == env["log_retention_days"]
            routes = service.get("routes", [])
            if not routes:
                assert "listener_rules" not in module
                continue
            rules = literal(module["listener_rules"])
            assert sorted(rule["priority"] for rule in rules.values()) == sorted(r["priority"] for r in routes)
            for index, route in enumerate(routes):
                # Keyed by the route's position, so a new priority or path updates the rule in place.
                rule = rules[f"route-{index + 1}"]
                assert rule["priority"] == route["priority"]
                assert rule["hosts"] == [f"{label}.{env['domain']}" for label in route.get("hosts", [])]
                assert rule["paths"] == route.get("paths", [])
            assert len(literal(module["target_group_name"])) <= 32


def test_design_priorities_for_nexus() -> None:
    modules = blocks(load(COMMITTED_OUT / "environments" / "prod" / "services.tf"), "module")
    rules = {
        literal(module["name"]): sorted(rule["priority"] for rule in literal(module.get("listener_rules", {})).values())
        for module in modules.values()
    }
    assert rules["auth-service"] == [100]
    assert rules["ai-service"] == [260]
    assert rules["api-gateway"] == [900]
    assert rules["web"] == [40, 999]


def test_environment_differences(rendered: tuple[dict[str, Any], Path]) -> None:
    data, out = rendered
    for env_name, env in data["environments"].items():
        main = blocks(load(platform_file(out, env_name)), "module")
        assert main["alb"]["deletion_protection"] is env["deletion_protection"]
        assert main["cluster"]["log_retention_days"] == env["log_retention_days"]
        assert literal(main["alb"]["certificate_domain"]) == env["certificate_domain"]
        assert literal(main["alb"]["access_logs_bucket"]) == env["logs_bucket"]
        groups = literal(main["security_groups"]["services"])
        on_ecs = services_on_ecs(data, env)
        assert set(groups) == set(on_ecs)
        for name, service in on_ecs.items():
            assert groups[name]["calls"] == [callee for callee in service.get("calls", []) if callee in on_ecs]
            assert groups[name]["data_stores"] == service.get("data_stores", [])
            assert groups[name]["load_balanced"] is bool(service.get("routes"))


def test_nexus_prod_alone_protects_its_load_balancer() -> None:
    protection = {
        env: blocks(load(platform_file(COMMITTED_OUT, env)), "module")["alb"]["deletion_protection"]
        for env in ("dev", "staging", "prod")
    }
    assert protection == {"dev": False, "staging": False, "prod": True}


def test_service_module_implements_the_design() -> None:
    parsed = load(COMMITTED_OUT / "modules" / "ecs-service" / "main.tf")
    found = resources(parsed)
    service = found[("aws_ecs_service", "this")]
    assert service["deployment_maximum_percent"] == 200
    assert service["deployment_minimum_healthy_percent"] == 100
    assert literal(service["deployment_circuit_breaker"][0]) == {"enable": True, "rollback": True}
    assert "launch_type" not in service  # the capacity-provider strategy decides placement
    cpu = found[("aws_appautoscaling_policy", "cpu")]["target_tracking_scaling_policy_configuration"][0]
    memory = found[("aws_appautoscaling_policy", "memory")]["target_tracking_scaling_policy_configuration"][0]
    assert literal(cpu["predefined_metric_specification"][0]["predefined_metric_type"]) == "ECSServiceAverageCPUUtilization"
    assert literal(memory["predefined_metric_specification"][0]["predefined_metric_type"]) == "ECSServiceAverageMemoryUtilization"
    alarms = {name: body for (rtype, name), body in found.items() if rtype == "aws_cloudwatch_metric_alarm"}
    assert set(alarms) == {"cpu_high", "memory_high", "target_5xx_rate", "healthy_hosts_low"}
    assert (alarms["cpu_high"]["threshold"], alarms["cpu_high"]["period"] * alarms["cpu_high"]["evaluation_periods"]) == (85, 300)
    assert (alarms["memory_high"]["threshold"], alarms["memory_high"]["evaluation_periods"]) == (90, 5)
    assert alarms["target_5xx_rate"]["threshold"] == 1
    assert literal(alarms["healthy_hosts_low"]["comparison_operator"]) == "LessThanThreshold"
    for paging in ("target_5xx_rate", "healthy_hosts_low"):
        assert "var.paging_topic_arn" in str(alarms[paging]["alarm_actions"])
    task = found[("aws_ecs_task_definition", "this")]
    assert literal(task["network_mode"]) == "awsvpc"
    assert literal(task["requires_compatibilities"]) == ["FARGATE"]


def test_cluster_and_alb_modules_implement_the_design() -> None:
    cluster = resources(load(COMMITTED_OUT / "modules" / "ecs-cluster" / "main.tf"))
    setting = cluster[("aws_ecs_cluster", "this")]["setting"][0]
    assert literal(setting) == {"name": "containerInsights", "value": "enabled"}
    providers = cluster[("aws_ecs_cluster_capacity_providers", "this")]
    assert literal(providers["capacity_providers"]) == ["FARGATE", "FARGATE_SPOT"]
    assert literal(cluster[("aws_sns_topic_subscription", "pagerduty")]["protocol"]) == "https"
    alb = resources(load(COMMITTED_OUT / "modules" / "alb" / "main.tf"))
    lb = alb[("aws_lb", "this")]
    assert lb["enable_http2"] is True and lb["drop_invalid_header_fields"] is True
    https = alb[("aws_lb_listener", "https")]
    assert https["port"] == 443 and literal(https["protocol"]) == "HTTPS"
    assert "TLS13" in literal(blocks(load(COMMITTED_OUT / "modules" / "alb" / "variables.tf"), "variable")["ssl_policy"]["default"])
    redirect = alb[("aws_lb_listener", "http_redirect")]["default_action"][0]
    assert literal(redirect["type"]) == "redirect"
    assert ("aws_wafv2_web_acl_association", "this") in alb


def test_every_module_variable_has_type_and_description() -> None:
    for variables_file in sorted((COMMITTED_OUT / "modules").glob("*/variables.tf")):
        for name, body in blocks(load(variables_file), "variable").items():
            assert "type" in body and body.get("description"), f"{variables_file}: variable {name}"


def test_a_service_variable_overrides_the_environment_one(tmp_path: Path) -> None:
    """The schema says environment-level variables go to every service; a service's own value of the
    same name wins (it is the more specific)."""
    data = orbit_data()
    data["services"]["storefront"]["environment"]["TZ"] = "Europe/Paris"  # live sets TZ: UTC for everyone
    out = tmp_path / "out"
    api.render(write_yaml(tmp_path / "orbit.yaml", data), out)
    modules = {literal(m["name"]): literal(m) for m in blocks(load(out / "environments" / "live" / "services.tf"), "module").values()}
    assert modules["storefront"]["environment_variables"]["TZ"] == "Europe/Paris"
    assert modules["ledger"]["environment_variables"]["TZ"] == "UTC"
