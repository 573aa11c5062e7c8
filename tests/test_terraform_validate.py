"""Stock `terraform validate`, with the real AWS provider, on every generated environment root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import COMMITTED_OUT, GOLDEN_TREE, run_terraform
from hcl_reading import environment_roots

# Every root: an environment's single root, or each of its stacks (`layout: stacks`).
ROOTS = ([(COMMITTED_OUT, str(root.relative_to(COMMITTED_OUT))) for env in ("dev", "staging", "prod")
          for root in environment_roots(COMMITTED_OUT, env)]
         + [(GOLDEN_TREE, f"environments/{env}") for env in ("qa", "live")]
         + [(COMMITTED_OUT, "shared"), (GOLDEN_TREE, "shared")])
assert len(ROOTS) > 7, "NEXUS dev is expected as stacks"


@pytest.mark.parametrize("tree, root_path", ROOTS, ids=[f"{tree.name}-{path.removeprefix('environments/')}" for tree, path in ROOTS])
def test_terraform_validate(tree: Path, root_path: str, tmp_path: Path, terraform_env: dict[str, str]) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)  # init writes .terraform/; never into the committed tree
    root = copy / root_path
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], root, terraform_env)
    assert init.returncode == 0, init.stdout + init.stderr
    result = run_terraform(["validate", "-no-color"], root, terraform_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The configuration is valid" in result.stdout
