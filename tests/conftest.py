"""Shared test helpers: catalogs, the CLI runner and a Terraform that uses the provider mirror."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.catalog.loader import load_catalog

REPO = Path(__file__).resolve().parent.parent
NEXUS_CATALOG = REPO / "catalog" / "nexus.yaml"
ORBIT_CATALOG = REPO / "tests" / "fixtures" / "orbit.yaml"
IMPORTED_CATALOG = REPO / "tests" / "fixtures" / "k8s" / "shop-kubectl" / "catalog.yaml"  # `make golden` writes it
BOOKSTORE_CATALOG = REPO / "tests" / "fixtures" / "k8s" / "bookstore" / "catalog.yaml"  # `make golden` writes it
GOLDEN_TREE = REPO / "tests" / "fixtures" / "golden"
COMMITTED_OUT = REPO / "out"


def terraform_path() -> str:
    found = shutil.which(os.environ.get("TERRAFORM", "terraform"))
    if found is None:
        pytest.fail(
            "terraform is not installed: these tests run stock Terraform on the generated code. "
            "Install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) "
            "or set TERRAFORM to its path.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for terraform commands: the provider mirror (TF_PLUGIN_MIRROR) and a shared plugin cache."""
    terraform_path()
    config_dir = tmp_path_factory.mktemp("terraform-cli")
    mirror = os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins")
    cache = config_dir / "plugin-cache"
    cache.mkdir()
    lines = [f'plugin_cache_dir = "{cache}"']
    if mirror:
        if not Path(mirror, "registry.terraform.io", "hashicorp", "aws").is_dir():
            pytest.fail(
                f"TF_PLUGIN_MIRROR={mirror} holds no hashicorp/aws provider. Point TF_PLUGIN_MIRROR at a filesystem "
                "mirror (`terraform providers mirror DIR`), or set it empty to download from the registry.",
                pytrace=False,
            )
        lines.append(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}')
    config = config_dir / "terraformrc"
    config.write_text("\n".join(lines) + "\n")
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def run_terraform(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform_path(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def nexus_data() -> dict[str, Any]:
    return copy.deepcopy(load_catalog(NEXUS_CATALOG).data)


def orbit_data() -> dict[str, Any]:
    return copy.deepcopy(load_catalog(ORBIT_CATALOG).data)


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def cli() -> Callable[..., Any]:
    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


def snapshot_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time (ns), for 'nothing was touched' assertions."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# Tests that start terraform, checkov, pip, an emulator, or render hundreds of times: `make test` runs them,
# `make test-fast` (the edit-test loop) leaves them out. Listed here, in one place, rather than spread as
# decorators, so the split is reviewed as a whole.
SLOW_MODULES = {"test_security_scan", "test_iam_policies", "test_install", "test_crash_safety",
                "test_terraform_validate", "test_fuzz", "test_emulator_limits"}
SLOW_TESTS = ("terraform_validate", "throttle", "renders_and_terraform_validates")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if item.module.__name__ in SLOW_MODULES or any(part in item.name for part in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After `make e2e`: resources and wall time per phase and environment."""
    harness = sys.modules.get("harness")
    if harness is None or not harness.SUMMARY:
        return
    phases = ["seed", "shared", "preflight", "init", "apply", "check", "plan", "move", "edit", "day-2", "migrate", "deploy", "destroy"]
    write = terminalreporter.write_line
    write("")
    write("e2e summary (wall seconds per phase)")
    write(f"{'environment':<14} {'applied':>7} {'destroyed':>9}  {'re-plan':<11} " + " ".join(f"{p:>7}" for p in phases) + "    total")
    for log in harness.SUMMARY:
        cells = " ".join(f"{log.seconds[p]:7.1f}" if p in log.seconds else f"{'-':>7}" for p in phases)
        write(f"{log.name:<14} {log.applied or '-':>7} {log.destroyed or '-':>9}  {log.plan_result or 'FAILED':<11} "
              f"{cells} {sum(log.seconds.values()):8.1f}")
    for line in harness.STACK_LINES:
        write(line)
    day_two = sys.modules.get("day_two")
    for line in day_two.summary_lines() if day_two else []:
        write(line)
    deploys = sys.modules.get("deploy_steps")
    if deploys and deploys.TIMINGS:
        write("")
        write("deploy commands against the emulator (wall seconds, rollout simulated in 4 s)")
        for label, seconds in deploys.TIMINGS.items():
            write(f"{label:<16} {seconds:6.1f}")
