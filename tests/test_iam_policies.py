"""Every IAM policy the environments get, as the real provider evaluates it (a plan against the emulator):
within IAM's size limits at any catalog size, with a Resource in every statement, and clean under
parliament (a maintained IAM policy linter) in addition to checkov."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import parliament
import pytest
import yaml

from conftest import COMMITTED_OUT, GOLDEN_TREE, NEXUS_CATALOG, ORBIT_CATALOG
from generator import api
from iam_policies import planned_policies, prepare, role_kind, role_sizes

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from harness import emulator, provider_override  # noqa: E402
from synthetic_catalog import catalog as synthetic_catalog  # noqa: E402

# IAM quota (IAM user guide, "IAM and AWS STS quotas"): all inline policies of one role together,
# whitespace not counted. Written here from the documentation, not taken from the generator.
ROLE_INLINE_POLICIES_CHARACTERS = 10_240

# parliament findings that are by design here, each with the reason.
ACCEPTED_FINDINGS = {
    # ecr:GetAuthorizationToken, ecs:RegisterTaskDefinition/DescribeTaskDefinition and the ssmmessages
    # channel actions have no resource-level permissions: AWS documents `*` as their only resource.
    "RESOURCE_STAR",
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with emulator() as running:
        yield running


def lint(document: str) -> list[str]:
    policy = parliament.analyze_policy_string(document)
    return [f"{finding.issue} {finding.detail}" for finding in policy.findings if finding.issue not in ACCEPTED_FINDINGS]


def evaluated(root: Path, region: str, url: str, tmp_path: Path, terraform_env: dict[str, str]) -> dict[str, int]:
    policies = planned_policies(prepare(root, tmp_path, provider_override(url, region), region), terraform_env)
    assert policies, f"no IAM role policies planned for {root}"
    for policy in policies:
        statements = json.loads(policy.document)["Statement"]
        assert all("Resource" in statement or "NotResource" in statement for statement in statements), policy.address
        assert lint(policy.document) == [], f"{policy.address}: {lint(policy.document)}\n{policy.document}"
    sizes = role_sizes(policies)
    over = {role: size for role, size in sizes.items() if size > ROLE_INLINE_POLICIES_CHARACTERS}
    assert over == {}, f"inline policies over IAM's {ROLE_INLINE_POLICIES_CHARACTERS} characters per role: {over}"
    largest: dict[str, int] = {}
    for role, size in sizes.items():
        largest[role_kind(role)] = max(largest.get(role_kind(role), 0), size)
    print(f"\n    {root.name}: largest inline policies per role kind (characters): {largest}")
    return largest


@pytest.mark.parametrize("environment", [e["name"] if isinstance(e, dict) else e for e in
                                          yaml.safe_load(NEXUS_CATALOG.read_text())["environments"]])
def test_nexus_policies_fit_and_lint_clean(environment: str, url: str, tmp_path: Path, terraform_env: dict[str, str]) -> None:
    data = yaml.safe_load(NEXUS_CATALOG.read_text())
    region = data["platform"]["region"]
    tree = COMMITTED_OUT
    if data["environments"][environment].get("layout") == "stacks":
        # A service stack plans only once the platform stack is applied (its data sources read it); the roles and
        # their policies are the same module inputs in the single-root layout, which plans on its own.
        data["environments"][environment]["layout"] = "single"
        single = tmp_path / "single" / NEXUS_CATALOG.name
        single.parent.mkdir()
        single.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        tree = tmp_path / "single-out"
        api.render(single, tree)
    largest = evaluated(tree / "environments" / environment, region, url, tmp_path, terraform_env)
    if yaml.safe_load(NEXUS_CATALOG.read_text())["platform"].get("github_repository"):
        assert "ci_deploy" in largest


@pytest.mark.parametrize("environment", list(yaml.safe_load(ORBIT_CATALOG.read_text())["environments"]))
def test_golden_policies_fit_and_lint_clean(environment: str, url: str, tmp_path: Path, terraform_env: dict[str, str]) -> None:
    region = yaml.safe_load(ORBIT_CATALOG.read_text())["platform"]["region"]
    evaluated(GOLDEN_TREE / "environments" / environment, region, url, tmp_path, terraform_env)


def test_deploy_role_policy_does_not_grow_with_the_catalog(url: str, tmp_path: Path, terraform_env: dict[str, str]) -> None:
    """300 services in one environment: every policy within IAM's limits, and the CI deploy role's policy
    exactly as long as with 3 services (it is scoped by names, not a list of ARNs)."""
    sizes = {}
    for count in (3, 300):
        data = yaml.safe_load(synthetic_catalog(count))
        data["platform"]["github_repository"] = "example/bench"
        data["environments"] = {"prod": data["environments"]["prod"]}
        catalog_path = tmp_path / f"synthetic-{count}.yaml"
        catalog_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        api.render(catalog_path, tmp_path / f"out-{count}")
        sizes[count] = evaluated(tmp_path / f"out-{count}" / "environments" / "prod", data["platform"]["region"],
                                 url, tmp_path / f"plan-{count}", terraform_env)
    assert sizes[300]["ci_deploy"] == sizes[3]["ci_deploy"]
