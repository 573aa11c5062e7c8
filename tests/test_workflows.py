"""The generated GitHub Actions pipelines (design Phase 5): schema, actionlint, no kubectl/helm,
one workflow per service, environments in order, OIDC roles scoped per environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from catalog_expectations import raw_catalog
from conftest import COMMITTED_OUT, NEXUS_CATALOG
from hcl_reading import blocks, literal, load, platform_file

WORKFLOWS = COMMITTED_OUT / "github" / "workflows"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; it comes with requirements-dev.txt: run `make test` "
                    f"(or `.venv/bin/pip install -r requirements-dev.txt`)", pytrace=False)
    return found


def test_one_workflow_per_service_and_no_kubectl_or_helm() -> None:
    raw = raw_catalog(NEXUS_CATALOG)
    files = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
    assert files == sorted(["deploy.yml", "terraform.yml", *(f"deploy-{name}.yml" for name in raw["services"])])
    for path in COMMITTED_OUT.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8").lower()
            assert "kubectl" not in text and "helm " not in text and "helm\n" not in text, path


def test_workflows_match_githubs_schema() -> None:
    result = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, sorted(WORKFLOWS.glob("*.yml")))], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # actionlint looks for the repository root
    result = subprocess.run([tool("actionlint"), "-no-color"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_environments_deploy_in_catalog_order_each_with_its_own_role() -> None:
    raw = raw_catalog(NEXUS_CATALOG)
    pipeline = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    jobs = pipeline["jobs"]
    order = [job["environment"] for name, job in jobs.items() if name.startswith("deploy-")]
    assert order == list(raw["environments"])
    account = raw["platform"]["image_registry"].split(".")[0]
    for name, job in jobs.items():
        if not name.startswith("deploy-"):
            continue
        env = job["environment"]
        role = next(step["with"]["role-to-assume"] for step in job["steps"] if "configure-aws-credentials" in step.get("uses", ""))
        assert role == f"arn:aws:iam::{account}:role/nexus-{env}-ci-deploy", (name, role)
        assert "build" in job["needs"]
        command = next(step["run"] for step in job["steps"] if "generator deploy" in step.get("run", ""))
        assert f'--env "{env}" ' in command
    prod = jobs["deploy-prod"]
    assert prod["needs"] == ["build", "deploy-staging"], "prod only after staging succeeded"


def test_deploy_roles_trust_only_their_environments_jobs() -> None:
    raw = raw_catalog(NEXUS_CATALOG)
    for env in raw["environments"]:
        iam = literal(blocks(load(platform_file(COMMITTED_OUT, env)), "module")["iam"])
        assert iam["ci_github_subject"] == f"repo:{raw['platform']['github_repository']}:environment:{env}"


def test_each_service_is_built_by_the_first_environment_that_runs_it(tmp_path: Path) -> None:
    """orbit.yaml leaves `search` out of `qa`, its first environment: qa's role may not push search's image."""
    from conftest import ORBIT_CATALOG, write_yaml
    from generator import api

    data = yaml.safe_load(ORBIT_CATALOG.read_text())
    data["platform"]["github_repository"] = "orbit/platform"
    out = tmp_path / "out"
    api.render(write_yaml(tmp_path / "orbit.yaml", data), out)
    account = data["platform"]["image_registry"].split(".")[0]
    checked = set()
    for name, service in data["services"].items():
        first = next(env for env in data["environments"]
                     if service.get("overrides", {}).get(env, {}).get("enabled", True))
        workflow = yaml.safe_load((out / "github" / "workflows" / f"deploy-{name}.yml").read_text())
        given = workflow["jobs"]["deploy"]["with"]
        assert given["build_environment"] == first, name
        assert given["build_role"] == f"arn:aws:iam::{account}:role/orbit-{first}-ci-deploy", name
        checked.add(first)
    assert checked == {"qa", "live"}  # the case that matters is exercised
