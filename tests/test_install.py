"""`pip install .` gives a command that works from any directory and renders the same bytes."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import yaml

from conftest import COMMITTED_OUT, NEXUS_CATALOG, REPO, snapshot_tree


def test_installed_command_renders_nexus_to_the_committed_bytes(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    source = tmp_path / "source"  # a copy: the build must not write into the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv*", ".terraform", "__pycache__", "*.egg-info", "build"))
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
                               capture_output=True, text=True, check=False, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rendered = subprocess.run([str(tmp_path / "venv" / "bin" / "ecs-platform"), "render", "--catalog", str(NEXUS_CATALOG),
                               "--out", str(elsewhere / "out")], cwd=elsewhere, capture_output=True, text=True, check=False)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    got = {path: content for path, (content, _) in snapshot_tree(elsewhere / "out").items()}
    want = {path: content for path, (content, _) in snapshot_tree(COMMITTED_OUT).items()}
    assert got == want
    module = subprocess.run([str(python), "-m", "generator", "validate", "--catalog", str(NEXUS_CATALOG)], cwd=elsewhere,
                            capture_output=True, text=True, check=False)
    assert module.returncode == 0, module.stderr


def test_pre_commit_hooks_call_the_installed_command() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"] for hook in hooks} == {"platform-catalog-validate", "platform-render-check"}
    assert all(hook["entry"].startswith("ecs-platform ") and hook["language"] == "python" for hook in hooks)
