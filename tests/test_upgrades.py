"""Upgrades: the version in what `render` writes, `render --check` naming an older one, and renamed catalog
keys answered with what replaced them (CHANGELOG.md)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from conftest import COMMITTED_OUT, NEXUS_CATALOG, REPO, orbit_data, write_yaml


def test_one_version_everywhere() -> None:
    import generator

    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert generator.__version__ == pyproject
    assert f"## {pyproject} " in (REPO / "CHANGELOG.md").read_text(), "every version has its CHANGELOG entry"
    assert f"\ngenerator_version: {pyproject}\n" in (COMMITTED_OUT / "generator.yaml").read_text()


def test_render_check_names_an_older_generator(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "out"
    shutil.copytree(COMMITTED_OUT, out)
    record = out / "generator.yaml"
    from generator.version import VERSION

    assert f"generator_version: {VERSION}" in record.read_text()
    record.write_text(record.read_text().replace(f"generator_version: {VERSION}", "generator_version: 0.6.0"))
    result = cli("render", "--catalog", NEXUS_CATALOG, "--out", out, "--check")
    assert result.exit_code == 1
    assert "was rendered by generator 0.6.0, this is " in result.output and "CHANGELOG.md" in result.output
    record.unlink()
    result = cli("render", "--catalog", NEXUS_CATALOG, "--out", out, "--check")
    assert "was rendered by a generator before 0.7.0" in result.output
    assert cli("render", "--catalog", NEXUS_CATALOG, "--out", out).exit_code == 0
    assert cli("render", "--catalog", NEXUS_CATALOG, "--out", out, "--check").exit_code == 0


def test_a_renamed_key_says_what_replaced_it(tmp_path: Path, cli: Any) -> None:
    data = orbit_data()
    alerting = data["environments"]["live"]["alerting"]
    alerting["pagerduty_endpoint"] = "https://events.pagerduty.com/integration/x/enqueue"
    del alerting["pagerduty_endpoint_secret"]
    result = cli("validate", "--catalog", write_yaml(tmp_path / "old.yaml", data))
    assert result.exit_code == 1
    assert "environments.live.alerting.pagerduty_endpoint: 'pagerduty_endpoint' was replaced by " \
           "`pagerduty_endpoint_secret`" in result.output
    assert "unknown key 'pagerduty_endpoint'" not in result.output
