"""Phase 5 in the emulator: `python -m generator deploy / rollback` on the applied orbit/live
world, mixed with a catalog change applied by stock Terraform, proving the ownership split:

(a) a deploy is not reverted by the next `terraform apply` (the plan after it is empty),
(b) a catalog change to the task's shape reaches the service and keeps the deployed image,
(c) `terraform plan` after a deploy, a rollback or a failed deploy shows no changes;
plus a failed rollout (injected in the harness: an image tagged `...broken`), a deployment
alarm going off mid-rollout, and the promotion gate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from change_safety import CLUSTER, Edit, World, _service, _task_definition

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
TIMINGS: dict[str, float] = {}


def push_image(world: World, repository: str, tag: str, seed: str) -> str:
    manifest = ('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":'
                '{"digest":"sha256:' + seed * 64 + '","size":1,"mediaType":"application/vnd.docker.container.image.v1+json"},"layers":[]}')
    # moto does not hash the manifest; the digest is given, distinct per image as in a registry.
    digest = "sha256:" + seed * 64
    return world.ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag,
                               imageDigest=digest)["image"]["imageId"]["imageDigest"]


def generator(world: World, catalog: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": world.url, "PYTHONPATH": str(REPO), "GITHUB_ACTOR": "e2e"}
    return subprocess.Popen([sys.executable, "-m", "generator", *args, "--catalog", str(catalog), "--env", "live",
                             "--poll-seconds", "1"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def run(world: World, catalog: Path, label: str, *args: str) -> tuple[int, str]:
    started = time.monotonic()
    process = generator(world, catalog, *args)
    output, _ = process.communicate(timeout=300)
    TIMINGS[label] = time.monotonic() - started
    print("      " + "\n      ".join(output.strip().splitlines()[-6:]), flush=True)
    return process.returncode, output


def running_image(world: World) -> str:
    return _task_definition(world, CLUSTER, "pricing")["containerDefinitions"][0]["image"]


def assert_plan_empty(plan: Any, when: str) -> None:
    result = plan()
    assert result.returncode == 0, f"plan after {when} is not empty:\n{result.stdout[-3000:]}{result.stderr[-1500:]}"


def run_deploys(world: World, catalog_file: Path, data: dict[str, Any], plan: Any, apply_edit: Any) -> None:
    """`plan()` runs `terraform plan -detailed-exitcode`; `apply_edit(edit)` applies one catalog edit."""
    good = push_image(world, "orbit/pricing", "2026.12.0", "c")
    push_image(world, "orbit/pricing", "2026.12.1", "d")
    push_image(world, "orbit/pricing", "2026.12.2-broken", "e")
    started_with = running_image(world)  # what `terraform apply` started: the catalog's image_tag

    # The first deploy on a new platform can be rolled back: to the image Terraform started.
    code, output = run(world, catalog_file, "first deploy", "deploy", "--service", "pricing", "--image", "2026.12.0")
    assert code == 0, output
    code, output = run(world, catalog_file, "first rollback", "rollback", "--service", "pricing")
    assert code == 0, output
    assert running_image(world) == started_with, (running_image(world), started_with)
    assert_plan_empty(plan, "a rollback of the first deploy")

    before = _service(world, CLUSTER, "pricing")["taskDefinition"]
    code, output = run(world, catalog_file, "deploy", "deploy", "--service", "pricing", "--image", "2026.12.0")
    assert code == 0, output
    assert running_image(world) == f"{REGISTRY}/orbit/pricing:2026.12.0"
    after = _service(world, CLUSTER, "pricing")
    assert after["taskDefinition"] != before and after["deployments"][0]["rolloutState"] == "COMPLETED"
    assert [d["taskDefinition"] for d in after["deployments"]] == [after["taskDefinition"]], "the old revision is still in use"
    assert world.ssm.get_parameter(Name="/orbit/live/services/pricing/last-successful-digest")["Parameter"]["Value"] == good
    assert_plan_empty(plan, "a deploy")  # (a) and (c)

    # (b) a catalog change to the shape reaches the service and keeps the deployed image
    def more_memory(data: dict[str, Any]) -> None:
        data["services"]["pricing"]["resources"]["memory"] = 6144

    def shape_and_image(world: World, _: str) -> None:
        definition = _task_definition(world, CLUSTER, "pricing")
        assert definition["memory"] == "6144", definition["memory"]
        assert definition["containerDefinitions"][0]["image"] == f"{REGISTRY}/orbit/pricing:2026.12.0"
    apply_edit(Edit("pricing memory 5120 -> 6144 after a deploy", more_memory, verify=shape_and_image))

    code, output = run(world, catalog_file, "deploy 2", "deploy", "--service", "pricing", "--image", "2026.12.1")
    assert code == 0, output
    code, output = run(world, catalog_file, "rollback", "rollback", "--service", "pricing")
    assert code == 0, output
    definition = _task_definition(world, CLUSTER, "pricing")
    assert definition["containerDefinitions"][0]["image"] == f"{REGISTRY}/orbit/pricing:2026.12.0"
    assert definition["memory"] == "6144", "a rollback keeps the current shape"
    assert_plan_empty(plan, "a rollback")

    # A failed rollout (circuit breaker) is rolled back, exit non-zero naming the cause.
    code, output = run(world, catalog_file, "failed deploy", "deploy", "--service", "pricing", "--image", "2026.12.2-broken")
    assert code == 1 and "circuit breaker" in output and "rolled back" in output, output
    assert running_image(world) == f"{REGISTRY}/orbit/pricing:2026.12.0"
    assert_plan_empty(plan, "a failed deploy")

    # A deployment alarm going off during the rollout.
    process = generator(world, catalog_file, "deploy", "--service", "pricing", "--image", "2026.12.1")
    seen = []
    for line in process.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if "IN_PROGRESS" in line:
            world.cloudwatch.set_alarm_state(AlarmName="orbit-live-pricing-healthy-hosts-low", StateValue="ALARM",
                                             StateReason="e2e: new tasks unhealthy")
            break
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    world.cloudwatch.set_alarm_state(AlarmName="orbit-live-pricing-healthy-hosts-low", StateValue="OK", StateReason="e2e")
    assert process.returncode == 1 and "deployment alarm in ALARM: orbit-live-pricing-healthy-hosts-low" in output, output
    assert running_image(world) == f"{REGISTRY}/orbit/pricing:2026.12.0"

    # Promotion gate: this environment now takes only digests proven in qa.
    gated = dict(data)
    gated["environments"] = {**data["environments"], "live": {**data["environments"]["live"], "promote_from": "qa"}}
    gated_file = catalog_file.with_name("promoted.yaml")
    gated_file.write_text(yaml.safe_dump(gated, sort_keys=False), encoding="utf-8")
    code, output = run(world, gated_file, "gate", "deploy", "--service", "pricing", "--image", "2026.12.1")
    assert code == 3 and "has not been deployed successfully in 'qa'" in output, output
    assert running_image(world) == f"{REGISTRY}/orbit/pricing:2026.12.0"
