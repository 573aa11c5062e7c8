"""The IAM policies of a rendered environment as the real provider evaluates them.

The environment root's `module "iam"` block is planned on its own against the emulator (its references to
other modules replaced by values of the same shape and realistic length), and `terraform show -json` gives
each `aws_iam_role_policy` document exactly as `terraform apply` would send it. Nothing is applied.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Values of the same length as AWS's: a KMS key ARN has a 36-character key id, an EFS ARN a 21-character id.
_STAND_INS = {
    r"module\.cluster\.cluster_name": None,  # filled with the root's cluster name
    r"module\.cluster\.kms_key_arn": '"arn:aws:kms:{region}:123456789012:key/00000000-0000-0000-0000-000000000000"',
    r"data\.aws_efs_file_system\.[a-z0-9_-]+\.arn":
        '"arn:aws:elasticfilesystem:{region}:123456789012:file-system/fs-0123456789abcdef0"',
}


@dataclass(frozen=True)
class RolePolicy:
    address: str
    role: str  # the role resource's address
    document: str

    @property
    def characters(self) -> int:
        """IAM's measure: characters without whitespace."""
        return len(re.sub(r"\s+", "", self.document))


def iam_block(root: Path) -> str:
    text = (root / "main.tf").read_text()
    start = text.index('module "iam" {')
    depth, index = 0, start
    while True:
        char = text[index]
        depth += char == "{"
        depth -= char == "}"
        index += 1
        if depth == 0 and char == "}":
            return text[start:index]


def prepare(root: Path, work: Path, provider: str, region: str) -> Path:
    """A root that holds only the environment's IAM module, next to a copy of the modules."""
    shutil.copytree(root.parent.parent / "modules", work / "modules", dirs_exist_ok=True)
    plan_root = work / "environments" / root.name
    plan_root.mkdir(parents=True)
    text = (root / "main.tf").read_text()
    cluster = re.search(r'module "cluster" \{[^}]*?^\s*name\s*=\s*("[^"]+")', text, re.M | re.S)
    assert cluster, "no cluster name in the root's module \"cluster\"; update tests/iam_policies.py"
    block = iam_block(root)
    for pattern, value in _STAND_INS.items():
        block = re.sub(pattern, cluster.group(1) if value is None else value.format(region=region), block)
    leftover = re.search(r"\b(module|data)\.[a-z_]+\.[a-z0-9_-]+", block)
    assert leftover is None, f"the iam module block refers to {leftover.group(0)}; give it a stand-in in tests/iam_policies.py"
    (plan_root / "main.tf").write_text(block + "\n")
    (plan_root / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "5.100.0" }\n  }\n}\n')
    (plan_root / "provider.tf").write_text(provider)
    return plan_root


def planned_policies(plan_root: Path, terraform_env: dict[str, str], timeout: int = 600) -> list[RolePolicy]:
    def run(*args: str) -> str:
        result = subprocess.run(["terraform", *args, "-no-color"], cwd=plan_root, env=terraform_env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"terraform {args[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    run("init", "-input=false")
    run("plan", "-input=false", "-refresh=false", "-out=iam.plan")
    plan = json.loads(run("show", "-json", "iam.plan"))
    policies = []
    for module in plan["planned_values"]["root_module"].get("child_modules", []):
        for resource in module.get("resources", []):
            if resource["type"] != "aws_iam_role_policy":
                continue
            document = resource["values"].get("policy")
            assert isinstance(document, str), f"{resource['address']}: policy unknown until apply"
            index = resource["address"][len(module["address"]) + 1:].split(".", 1)[1]  # e.g. execution["web"]
            role = f"{module['address']}.aws_iam_role.{index}"
            policies.append(RolePolicy(resource["address"], role, document))
    return policies


def role_sizes(policies: list[RolePolicy]) -> dict[str, int]:
    """Characters of all inline policies of each role together (what IAM limits)."""
    sizes: dict[str, int] = {}
    for policy in policies:
        sizes[policy.role] = sizes.get(policy.role, 0) + policy.characters
    return sizes


def role_kind(role_address: str) -> str:
    """`module.iam.aws_iam_role.task["web"]` -> `task`; `...ci_deploy[0]` -> `ci_deploy`."""
    return re.sub(r"\[.*$", "", role_address.rsplit(".", 1)[1])
