"""Tasks get what they need to run (issue #17), read from the rendered golden tree against the catalog file:
a FireLens router may write the service's logs, sidecar images in ECR are pullable and exist."""

from __future__ import annotations

import re

import hcl2
import yaml

from conftest import GOLDEN_TREE, ORBIT_CATALOG
from hcl_reading import literal

CATALOG = yaml.safe_load(ORBIT_CATALOG.read_text())
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)")


def iam_services(environment: str) -> dict:
    root = literal(hcl2.loads((GOLDEN_TREE / "environments" / environment / "main.tf").read_text()))
    return next(module["iam"] for module in root["module"] if "iam" in module)["services"]


def test_catalog_has_the_cases() -> None:
    sidecars = [s for service in CATALOG["services"].values() for s in service.get("sidecars", {}).values()]
    assert any(s.get("log_router") for s in sidecars) and any(ECR_IMAGE.match(s["image"]) for s in sidecars)


def test_log_router_and_sidecar_images() -> None:
    shared = (GOLDEN_TREE / "shared" / "main.tf").read_text()
    for environment in CATALOG["environments"]:
        services = iam_services(environment)
        for name, service in CATALOG["services"].items():
            if name not in services:
                continue  # left out or still on Kubernetes there
            sidecars = service.get("sidecars", {}).values()
            assert services[name].get("log_router", False) == any(s.get("log_router") for s in sidecars), (environment, name)
            expected = sorted({f"arn:aws:ecr:{m.group(2)}:{m.group(1)}:repository/{m.group(3)}"
                               for s in sidecars if (m := ECR_IMAGE.match(s["image"]))})
            assert sorted(services[name].get("sidecar_image_repository_arns", [])) == expected, (environment, name)
            for s in sidecars:
                if s["image"].startswith(CATALOG["platform"]["image_registry"] + "/"):
                    repository = ECR_IMAGE.match(s["image"]).group(3)
                    assert f'"{repository}",' in shared, f"the shared root does not create {repository}"


def test_module_grants_the_router_and_the_pull() -> None:
    module = (GOLDEN_TREE / "modules" / "iam" / "main.tf").read_text()
    router = module[module.index('sid       = "LogRouterWritesLogs"') - 200:module.index('sid       = "LogRouterWritesLogs"') + 300]
    assert "each.value.log_router" in router and "logs:PutLogEvents" in router and "each.value.log_group_name" in router
    assert "each.value.sidecar_image_repository_arns" in module


def test_scheduled_tasks_reach_their_data_stores() -> None:
    """`scheduled_tasks.X.data_stores` from the catalog file -> the module's data_stores with the catalog's ports."""
    for environment in CATALOG["environments"]:
        root = literal(hcl2.loads((GOLDEN_TREE / "environments" / environment / "services.tf").read_text()))
        modules = {name: body for module in root["module"] for name, body in module.items()}
        for name, written in CATALOG.get("scheduled_tasks", {}).items():
            rendered = modules[f"scheduled_{name.replace('-', '_')}"].get("data_stores", {})
            assert {store: rendered[store]["port"] for store in rendered} == {
                store: CATALOG["data_stores"][store]["port"] for store in written.get("data_stores", [])}, (environment, name)
    assert any(task.get("data_stores") for task in CATALOG.get("scheduled_tasks", {}).values())
