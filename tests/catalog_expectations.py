"""What the catalog file and the design document say, computed without the generator.

Shared by the HCL wiring tests and the e2e checks, so that neither asks the
generator's model what the output should be.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

# Design section 6.1 (autoscaling), 8.3 (alarms), 4.1 (health check).
DESIGN_AUTOSCALING = {"cpu_target": 70, "memory_target": 80, "scale_in_cooldown": 300, "scale_out_cooldown": 60}
DESIGN_HEALTH_PATH = "/health"
DESIGN_CPU_ALARM = {"threshold": 85, "period": 60, "evaluation_periods": 5}      # "CPU > 85 %, 5 min"
DESIGN_MEMORY_ALARM = {"threshold": 90, "period": 60, "evaluation_periods": 5}   # "Memory > 90 %, 5 min"
DESIGN_5XX_ALARM = {"threshold": 1, "period": 60, "evaluation_periods": 1}       # "5xx > 1 %, 1 min"


def raw_catalog(path: Path | str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def expected_sizing(data: dict[str, Any], service: dict[str, Any]) -> dict[str, int]:
    group = data["groups"][service["group"]]
    return {**data["sizing"][service.get("sizing", group["sizing"])], **service.get("resources", {})}


def expected_autoscaling(data: dict[str, Any], service: dict[str, Any]) -> dict[str, float]:
    return {**DESIGN_AUTOSCALING, **data.get("defaults", {}).get("autoscaling", {}), **service.get("autoscaling", {})}


# The standard gRPC health service (github.com/grpc/grpc/blob/master/doc/health-checking.md) as an HTTP/2 path.
GRPC_HEALTH_PATH = "/grpc.health.v1.Health/Check"


def expected_health_path(data: dict[str, Any], service: dict[str, Any]) -> str | None:
    if "port" not in service or service.get("protocol") == "tcp":  # a tcp service is not spoken to over HTTP
        return None
    default = GRPC_HEALTH_PATH if service.get("protocol") == "grpc" else DESIGN_HEALTH_PATH
    return service.get("health_check_path", data.get("defaults", {}).get("health_check_path", default))


def expected_capacity(data: dict[str, Any], service: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Capacity provider -> (weight, base) from the group's Spot share, weights in lowest terms."""
    group = data["groups"][service["group"]]
    spot, base = group["spot_percentage"], group.get("on_demand_base", 0)
    divisor = math.gcd(spot, 100 - spot)
    want = {}
    if spot < 100 or base:
        want["FARGATE"] = ((100 - spot) // divisor, base)
    if spot:
        want["FARGATE_SPOT"] = (spot // divisor, 0)
    return want


def environment_name(data: dict[str, Any], env: dict[str, Any]) -> str:
    return next(name for name, body in data["environments"].items() if body is env)


def service_in(service: dict[str, Any], env_name: str) -> dict[str, Any] | None:
    """The catalog entry as environment `env_name` runs it (`overrides.<env>`), or None where it is left out.
    An override's `sizing` starts from that named sizing (the service's own `resources` no longer apply);
    its `resources` change single fields; its `environment` adds to the service's."""
    override = service.get("overrides", {}).get(env_name)
    if override is None:
        return service
    if override.get("enabled", True) is False:
        return None
    result = {key: value for key, value in service.items() if key != "overrides"}
    if "sizing" in override:
        result["sizing"] = override["sizing"]
        result["resources"] = dict(override.get("resources", {}))
    elif "resources" in override:
        result["resources"] = {**service.get("resources", {}), **override["resources"]}
    result["environment"] = {**service.get("environment", {}), **override.get("environment", {})}
    if "image_tag" in override:
        result["image_tag"] = override["image_tag"]
    return result


def scheduled_task_in(task: dict[str, Any], env_name: str) -> dict[str, Any] | None:
    """A scheduled task as environment `env_name` runs it: the override's schedule, cpu, memory replace
    the task's, its environment adds to the task's; None where `enabled: false`."""
    override = task.get("overrides", {}).get(env_name)
    if override is None:
        return task
    if override.get("enabled", True) is False:
        return None
    result = {key: value for key, value in task.items() if key != "overrides"}
    result.update({key: override[key] for key in ("schedule", "cpu", "memory") if key in override})
    result["environment"] = {**task.get("environment", {}), **override.get("environment", {})}
    return result


def services_in(data: dict[str, Any], env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services environment `env` runs at all (on ECS or still on Kubernetes), overrides applied."""
    env_name = environment_name(data, env)
    return {name: entry for name, body in data["services"].items() if (entry := service_in(body, env_name)) is not None}


def services_on_ecs(data: dict[str, Any], env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services with an ECS service in `env`: all it runs, or while migrating those `migration` names."""
    running = services_in(data, env)
    if "legacy" not in env:
        return running
    return {name: body for name, body in running.items() if name in env.get("migration", {})}


def _fully_on_ecs(env: dict[str, Any], name: str) -> bool:
    if "legacy" not in env:
        return True
    step = env.get("migration", {}).get(name)
    share = step.get("ecs_percent") if isinstance(step, dict) else step
    return step == "ecs" or share == 100


def expected_url_variables(data: dict[str, Any], env: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """`<CALLEE>_URL` per callee: Service Connect (design 5.2, `name:port`) once the callee takes all its
    requests on ECS, the environment's legacy URL before."""
    urls = {}
    for callee in service.get("calls", []):
        variable = callee.upper().replace("-", "_") + "_URL"
        if _fully_on_ecs(env, callee):
            urls[variable] = f"http://{callee}:{data['services'][callee]['port']}"
        else:
            urls[variable] = env["legacy"]["service_url"].replace("{service}", callee)
    return urls
