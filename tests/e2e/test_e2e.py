"""`make e2e`: stock `terraform apply` of generated environments against a local AWS emulator,
checked against the catalog, re-planned to no changes, destroyed, and checked empty."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import yaml

from change_safety import EDITS
from checks import World, assert_applied_world_matches, assert_nothing_left, inline_policy_sizes
from conftest import BOOKSTORE_CATALOG, COMMITTED_OUT, GOLDEN_TREE, IMPORTED_CATALOG, NEXUS_CATALOG, ORBIT_CATALOG
from day_two import initial_data, run_edits
from migration_steps import MIGRATION_STEPS
from preflight_cases import run_preflight_cases
from deploy_steps import run_deploys
from generator import api
from harness import SUMMARY, PhaseLog, add_overrides, count, emulator, prepare_root, seed_existing_world, terraform

pytestmark = pytest.mark.e2e

# Fewer concurrent calls than Terraform's default 10: the emulator is inconsistent under
# that load (a rule or policy created or deleted twice); the apply takes about 20 % longer.
PARALLELISM = "-parallelism=4"

CYCLES = [
    # NEXUS dev is stacks (`layout: stacks`): test_e2e_stacks.py applies it as one root (with the checks
    # below), moves it into its stacks, edits and destroys it. Staging is prod's shape with dev's execute
    # command, so it is not applied again (its IAM policies are planned and sized in `make test`,
    # tests/test_iam_policies.py, where its CI deploy policy once went over IAM's 10,240 characters).
    (NEXUS_CATALOG, COMMITTED_OUT, "prod"),
    # `qa` names its VPC by id, which the emulator cannot create. `live` is also the world
    # the day-2 edits (change_safety.py) are applied to, between its re-plan and its destroy.
    (ORBIT_CATALOG, GOLDEN_TREE, "live"),
    # Imported from Kubernetes manifests (`make golden` refreshes it): an ARM64 service, a StatefulSet,
    # an HPA. Rendered here, as a team would after importing.
    (IMPORTED_CATALOG, None, "prod"),
    # Imported from manifests shaped like public ones (issue #18): a tcp service behind Service Connect,
    # data stores to replace, a LoadBalancer Service and a default backend as routes, per-service tags.
    (BOOKSTORE_CATALOG, None, "prod"),
]
DAY_TWO = {(ORBIT_CATALOG, "live")}
# The account the emulator answers as: the one that also holds the catalog's image registry,
# as in a single-account setup, so that ECR lookups by registry id find the images.
ACCOUNTS = {ORBIT_CATALOG: "210987654321"}


@pytest.mark.parametrize("catalog_path, tree, environment", CYCLES, ids=[f"{c.parent.name if c.stem == 'catalog' else c.stem}-{e}" for c, _, e in CYCLES])
def test_apply_replan_destroy(catalog_path: Path, tree: Path | None, environment: str, tmp_path: Path, terraform_env: dict[str, str]) -> None:
    catalog = api.validate(catalog_path)
    deployment = catalog.deployment(next(e for e in catalog.environments if e.name == environment))
    log = PhaseLog(f"{catalog.platform.name}/{environment}")
    SUMMARY.append(log)

    def phase(name: str, args: list[str], timeout: int, where: Path | None = None) -> str:
        started = time.monotonic()
        result = terraform(args, where or root, terraform_env, timeout)
        log.seconds[name] = time.monotonic() - started
        if name == "plan":
            assert result.returncode == 0, f"re-plan is not empty (exit {result.returncode}):\n{result.stdout[-6000:]}{result.stderr[-3000:]}"
        else:
            assert result.returncode == 0, f"terraform {name} failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
        return result.stdout

    print(f"\n==> {log.name}", flush=True)
    if tree is None:
        tree = tmp_path / "rendered"
        api.render(catalog_path, tree)
    with emulator(account=ACCOUNTS.get(catalog_path)) as url:
        started = time.monotonic()
        seed_existing_world(url, deployment)
        root = prepare_root(tree, environment, url, catalog.platform.region, tmp_path)
        log.seconds["seed"] = time.monotonic() - started
        if (catalog_path, environment) in DAY_TWO:
            # The shared root (image repositories, OIDC provider) comes first, as in an account.
            shared = add_overrides(root.parent.parent / "shared", url, catalog.platform.registry_region)
            phase("init", ["init", "-input=false"], 300, shared)
            phase("shared", ["apply", "-auto-approve", "-input=false", PARALLELISM], 600, shared)
            # Before the environment's first apply, as an operator would: the account is ready, and each
            # thing preflight checks, taken away, fails exactly its check.
            started = time.monotonic()
            run_preflight_cases(url, catalog_path, environment, tmp_path, lambda line: print(f"    [{environment}] {line}", flush=True))
            log.seconds["preflight"] = time.monotonic() - started
        phase("init", ["init", "-input=false"], 300)
        applied = phase("apply", ["apply", "-auto-approve", "-input=false", PARALLELISM], 1200)
        assert "Apply complete!" in applied
        log.applied = count(r"Apply complete! Resources: (\d+) added", applied)

        started = time.monotonic()
        facts = assert_applied_world_matches(url, deployment)
        log.seconds["check"] = time.monotonic() - started
        print(f"    [{environment}] {facts} facts of the catalog found in the emulator", flush=True)
        sizes = inline_policy_sizes(World(url, catalog.platform.region), deployment.names.prefix)
        largest: dict[str, int] = {}
        for role, size in sizes.items():
            kind = role.rsplit("-", 1)[-1] if not role.endswith("-ci-deploy") else "ci-deploy"
            largest[kind] = max(largest.get(kind, 0), size)
        print(f"    [{environment}] largest inline policies per role kind (IAM allows 10,240): {largest}", flush=True)
        assert max(sizes.values(), default=0) <= 10_240

        planned = phase("plan", ["plan", "-detailed-exitcode", "-input=false"], 900)
        assert "No changes." in planned
        log.plan_result = "No changes"

        kept: frozenset[str] = frozenset()
        if (catalog_path, environment) in DAY_TWO:
            # One applied world for everything after the first apply. E2E_SUITES narrows it when
            # working on one suite locally; CI runs all three.
            suites = os.environ.get("E2E_SUITES", "deploy,day-2,migration").split(",")
            world = World(url, catalog.platform.region)
            data = initial_data(catalog_path)
            if "deploy" in suites:
                started = time.monotonic()
                catalog_file = tmp_path / "deploy.yaml"
                catalog_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
                run_deploys(
                    world, catalog_file, data,
                    plan=lambda: terraform(["plan", "-detailed-exitcode", "-input=false", PARALLELISM], root, terraform_env, 900),
                    apply_edit=lambda edit: run_edits(data, catalog_path, environment, (edit,), root, url, terraform_env,
                                                      tmp_path, world, "deploy"),
                )
                log.seconds["deploy"] = time.monotonic() - started
            if "day-2" in suites:
                started = time.monotonic()
                run_edits(data, catalog_path, environment, EDITS, root, url, terraform_env, tmp_path, world, "day-2")
                log.seconds["day-2"] = time.monotonic() - started
                kept = frozenset(f"/ecs/{deployment.names.prefix}/{name}" for edit in EDITS for name in edit.removes)
            if "migration" in suites and "day-2" in suites:  # the steps start from the day-2 edits' world
                started = time.monotonic()
                run_edits(data, catalog_path, environment, MIGRATION_STEPS, root, url, terraform_env, tmp_path, world, "migration")
                log.seconds["migrate"] = time.monotonic() - started
            final = tmp_path / "final.yaml"
            final.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            deployment = api.validate(final).deployment(next(e for e in catalog.environments if e.name == environment))

        listed = terraform(["state", "list"], root, terraform_env, 120).stdout.split()
        in_state = len([address for address in listed if not re.search(r"(^|\.)data\.", address)])  # managed only
        destroyed = phase("destroy", ["destroy", "-auto-approve", "-input=false", PARALLELISM], 1200)
        assert "Destroy complete!" in destroyed
        log.destroyed = count(r"Destroy complete! Resources: (\d+) destroyed", destroyed)
        assert log.destroyed == in_state
        assert_nothing_left(url, deployment, kept)
