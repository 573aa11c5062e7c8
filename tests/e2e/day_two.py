"""Applies catalog edits one at a time to an applied environment and judges each plan.

Each edit goes the way a team's change goes: edit the catalog, `render`, stock
`terraform plan`, read the plan (`terraform show -json`), `terraform apply` of that
plan, then a re-plan that must be empty.
"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from change_safety import Edit, PlanSummary, load_plan_json, summarise_plan
from checks import World, assert_applied_world_matches
from generator import api
from generator.catalog.loader import load_catalog
from generator.catalog.model import Deployment
from harness import terraform

PARALLELISM = "-parallelism=4"
OVERRIDES = ("emulator_override.tf", "backend_override.tf")
RESULTS: dict[str, list[tuple[str, PlanSummary, str, float]]] = {}


def _replace_tree(rendered: Path, root: Path) -> None:
    """Put the newly rendered Terraform files in place; keep state, `.terraform/` and the overrides."""
    tree = root.parent.parent
    for old in tree.rglob("*.tf"):
        if old.name not in OVERRIDES:
            old.unlink()
    for new in rendered.rglob("*.tf"):
        target = tree / new.relative_to(rendered)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(new, target)


def initial_data(catalog_path: Path) -> dict[str, Any]:
    return copy.deepcopy(load_catalog(catalog_path).data)


def run_edits(data: dict[str, Any], catalog_path: Path, environment: str, edits: tuple[Edit, ...], root: Path, url: str,
              env: dict[str, str], workdir: Path, world: World, suite: str) -> Deployment:
    """Apply `edits` cumulatively to `data` (changed in place); fail on an unsafe plan, a failed
    apply or a non-empty re-plan. Return the final catalog's deployment (for the destroy checks)."""
    failures: list[str] = []
    deployment = None
    results = RESULTS.setdefault(suite, [])
    for number, edit in enumerate(edits, 1):
        started = time.monotonic()
        edit.change(data)
        step = workdir / f"{suite}-{number:02d}"
        step.mkdir()
        catalog_file = step / catalog_path.name
        catalog_file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        if edit.prepare:
            edit.prepare(world, environment)
        rendered = step / "out"
        api.render(catalog_file, rendered)
        _replace_tree(rendered, root)

        # As a team's pipeline does: a new service is a new module call, which needs `init`.
        initialised = terraform(["init", "-input=false"], root, env, 300)
        assert initialised.returncode == 0, f"[{edit.name}] init failed:\n{initialised.stderr[-3000:]}"
        planned = terraform(["plan", "-input=false", "-out=edit.tfplan", PARALLELISM], root, env, 900)
        assert planned.returncode == 0, f"[{edit.name}] plan failed:\n{planned.stdout[-3000:]}{planned.stderr[-4000:]}"
        shown = terraform(["show", "-json", "edit.tfplan"], root, env, 300)
        summary = summarise_plan(load_plan_json(shown.stdout), edit.removes, edit.allowed)
        if summary.unsafe:
            failures.append(f"{edit.name}: " + "; ".join(summary.unsafe))

        applied = terraform(["apply", "-input=false", PARALLELISM, "edit.tfplan"], root, env, 1200)
        assert applied.returncode == 0, f"[{edit.name}] apply failed:\n{applied.stdout[-3000:]}{applied.stderr[-4000:]}"
        replanned = terraform(["plan", "-detailed-exitcode", "-input=false", PARALLELISM], root, env, 900)
        replan = {0: "empty", 2: "NOT EMPTY"}.get(replanned.returncode, f"failed ({replanned.returncode})")
        if replanned.returncode != 0:
            failures.append(f"{edit.name}: re-plan {replan}:\n{replanned.stdout[-2500:]}{replanned.stderr[-1500:]}")
        if edit.verify:
            try:
                edit.verify(world, environment)
            except Exception as error:  # noqa: BLE001 - every verification problem is a finding, not a crash
                failures.append(f"{edit.name}: not applied as the catalog says: {type(error).__name__}: {error}")
        if edit.after:
            try:
                edit.after(world, catalog_file)
            except Exception as error:  # noqa: BLE001
                failures.append(f"{edit.name}: {type(error).__name__}: {error}")
        seconds = time.monotonic() - started
        results.append((edit.name, summary, replan, seconds))
        print(f"    [{suite}] {edit.name}: +{summary.add} ~{summary.change} -{summary.destroy}, "
              f"unsafe {len(summary.unsafe)}, re-plan {replan}, {seconds:.1f} s", flush=True)
        catalog = api.validate(catalog_file)
        deployment = catalog.deployment(next(e for e in catalog.environments if e.name == environment))

    assert deployment is not None
    # After all edits, the world is what the final catalog describes (and nothing more).
    assert_applied_world_matches(url, deployment)
    assert not failures, f"{suite} steps that are not safe or not as the catalog says:\n" + "\n".join(failures)
    return deployment


def summary_lines() -> list[str]:
    lines = []
    for suite, results in RESULTS.items():
        lines += ["", f"{suite} (orbit live; each step: render, init, plan, apply, re-plan)",
                  f"{'step':<44} {'add':>4} {'change':>6} {'destroy':>7}  {'unsafe':<40} {'re-plan':<10} {'s':>6}"]
        for name, summary, replan, seconds in results:
            unsafe = ", ".join(summary.unsafe) or "none"
            lines.append(f"{name:<44} {summary.add:>4} {summary.change:>6} {summary.destroy:>7}  {unsafe:<40} {replan:<10} {seconds:6.1f}")
    return lines
