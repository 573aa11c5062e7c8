"""The deploy command's gates, waiting, rollback and error messages, against a fake AWS.

The fake answers only what the deploy asks; the e2e suite runs the same code against the
emulator with stock Terraform's world (tests/e2e/deploy_steps.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ORBIT_CATALOG, orbit_data, write_yaml
from generator import api
from generator.operate.deploy import Deployer, DeployError, GateRefused, parse_image

REGISTRY = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"  # tests/fixtures/orbit.yaml
DIGEST_NEW = "sha256:" + "b" * 64
DIGEST_OLD = "sha256:" + "a" * 64
FAMILY = "arn:aws:ecs:eu-west-1:210987654321:task-definition/orbit-pricing-live"


def not_found(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


class FakeAws:
    """ECS rolls a new revision out to `outcome` (COMPLETED, FAILED, or IN_PROGRESS forever)."""

    def __init__(self, outcome: str = "COMPLETED", images: dict[str, str] | None = None):
        self.outcome = outcome
        self.images = images if images is not None else {"2026.12.0": DIGEST_NEW, "2026.10.4": DIGEST_OLD}
        self.parameters: dict[str, str] = {}
        self.alarms: dict[str, str] = {}
        self.revisions = {f"{FAMILY}:7": {"image": f"{REGISTRY}/orbit/pricing:2026.10.4"}}
        self.running = f"{FAMILY}:7"
        self.deployments = [self._deployment(self.running, "COMPLETED")]
        self.updates: list[str] = []
        self.deregistered: list[str] = []
        self.ecs, self.ecr, self.ssm, self.cloudwatch = self, self, self, self

    @staticmethod
    def _deployment(arn: str, state: str, status: str = "PRIMARY") -> dict[str, Any]:
        return {"taskDefinition": arn, "rolloutState": state, "status": status, "runningCount": 2, "desiredCount": 2,
                "rolloutStateReason": "tasks failed to start" if state == "FAILED" else ""}

    # ECS
    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {"services": [{"serviceName": services[0], "status": "ACTIVE", "taskDefinition": self.running,
                              "deployments": copy.deepcopy(self.deployments), "runningCount": 2, "desiredCount": 2}]}

    def describe_task_definition(self, taskDefinition: str, include: list[str] | None = None) -> dict[str, Any]:
        image = self.revisions[taskDefinition]["image"]
        return {"taskDefinition": {"family": "orbit-pricing-live", "cpu": "1024", "memory": "4096",
                                   "containerDefinitions": [{"name": "pricing", "image": image}],
                                   "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}, "tags": []}

    def register_task_definition(self, **request: Any) -> dict[str, Any]:
        arn = f"{FAMILY}:{7 + len(self.revisions)}"
        self.revisions[arn] = {"image": request["containerDefinitions"][0]["image"]}
        return {"taskDefinition": {"taskDefinitionArn": arn}}

    def deregister_task_definition(self, taskDefinition: str) -> None:
        self.deregistered.append(taskDefinition)

    def update_service(self, cluster: str, service: str, taskDefinition: str) -> None:
        self.updates.append(taskDefinition)
        back = taskDefinition == self.running or len(self.updates) > 1
        state = "COMPLETED" if back else self.outcome
        self.deployments = [self._deployment(taskDefinition, state)]
        self.running = taskDefinition

    # ECR
    def describe_images(self, registryId: str, repositoryName: str, imageIds: list[dict[str, str]]) -> dict[str, Any]:
        wanted = imageIds[0]
        for tag, digest in self.images.items():
            if wanted.get("imageTag") == tag or wanted.get("imageDigest") == digest:
                return {"imageDetails": [{"imageDigest": digest}]}
        raise not_found("ImageNotFoundException")

    # SSM
    def get_parameter(self, Name: str) -> dict[str, Any]:
        if Name not in self.parameters:
            raise not_found("ParameterNotFound")
        return {"Parameter": {"Value": self.parameters[Name]}}

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool) -> None:
        self.parameters[Name] = Value

    # CloudWatch
    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        return {"MetricAlarms": [{"AlarmName": n, "StateValue": self.alarms.get(n, "OK")} for n in AlarmNames]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def deployer(tmp_path: Path, aws: FakeAws, promote_from: str | None = None) -> tuple[Deployer, list[str]]:
    data = orbit_data()
    if promote_from:
        data["environments"]["live"]["promote_from"] = promote_from
    catalog = api.validate(write_yaml(tmp_path / "orbit.yaml", data))
    deployment = catalog.deployment(next(e for e in catalog.environments if e.name == "live"))
    printed: list[str] = []
    clock = Clock()
    return Deployer(deployment, aws, echo=printed.append, poll_seconds=5, clock=clock, sleep=clock.sleep), printed


def test_image_references() -> None:
    assert parse_image("2026.12.0", REGISTRY, "orbit/pricing").tag == "2026.12.0"
    assert parse_image(DIGEST_NEW, REGISTRY, "orbit/pricing").digest == DIGEST_NEW
    assert parse_image(f"{REGISTRY}/orbit/pricing@{DIGEST_NEW}", REGISTRY, "orbit/pricing").digest == DIGEST_NEW
    with pytest.raises(DeployError, match="not in this service's repository"):
        parse_image(f"{REGISTRY}/orbit/ledger:1", REGISTRY, "orbit/pricing")
    with pytest.raises(DeployError, match="names no build"):
        parse_image(f"{REGISTRY}/orbit/pricing:latest", REGISTRY, "orbit/pricing")


def test_successful_deploy_records_image_digest_and_history(tmp_path: Path) -> None:
    aws = FakeAws()
    deploy, printed = deployer(tmp_path, aws)
    arn = deploy.deploy("pricing", "2026.12.0", timeout=600)
    assert arn == f"{FAMILY}:8" and aws.updates == [arn]
    assert aws.revisions[arn]["image"] == f"{REGISTRY}/orbit/pricing:2026.12.0"
    assert aws.parameters["/orbit/live/services/pricing/image"] == f"{REGISTRY}/orbit/pricing:2026.12.0"
    assert aws.parameters["/orbit/live/services/pricing/last-successful-digest"] == DIGEST_NEW
    assert '"task_definition":"' + arn in aws.parameters["/orbit/live/services/pricing/deployments"]
    assert any("COMPLETED" in line and "2/2 running" in line for line in printed), printed


def test_failed_rollout_is_rolled_back_and_named(tmp_path: Path) -> None:
    aws = FakeAws(outcome="FAILED")
    deploy, _ = deployer(tmp_path, aws)
    with pytest.raises(DeployError, match="circuit breaker: tasks failed to start; rolled back to orbit-pricing-live:7"):
        deploy.deploy("pricing", "2026.12.0", timeout=600)
    assert aws.updates == [f"{FAMILY}:8", f"{FAMILY}:7"]
    assert aws.deregistered == [f"{FAMILY}:8"], "the failed revision must not stay the newest (Terraform runs the newest)"
    assert aws.parameters["/orbit/live/services/pricing/image"] == f"{REGISTRY}/orbit/pricing:2026.10.4"
    assert "/orbit/live/services/pricing/last-successful-digest" not in aws.parameters


def test_timeout_is_rolled_back_and_named(tmp_path: Path) -> None:
    aws = FakeAws(outcome="IN_PROGRESS")
    deploy, _ = deployer(tmp_path, aws)
    with pytest.raises(DeployError, match="timeout: not complete after 60 s; rolled back"):
        deploy.deploy("pricing", "2026.12.0", timeout=60)


def test_missing_image_is_refused_before_anything_changes(tmp_path: Path) -> None:
    aws = FakeAws()
    deploy, _ = deployer(tmp_path, aws)
    with pytest.raises(DeployError, match=r"image orbit/pricing:2099.1.1 does not exist in the registry .*push it first"):
        deploy.deploy("pricing", "2099.1.1", timeout=60)
    assert aws.updates == [] and not aws.parameters


def test_unknown_service_lists_the_known_ones(tmp_path: Path) -> None:
    deploy, _ = deployer(tmp_path, FakeAws())
    with pytest.raises(DeployError, match="unknown service 'pricer' in 'live'; services on ECS there: storefront, pricing"):
        deploy.deploy("pricer", "2026.12.0", timeout=60)


def test_gate_mid_deployment(tmp_path: Path) -> None:
    aws = FakeAws()
    aws.deployments.append(FakeAws._deployment(f"{FAMILY}:6", "IN_PROGRESS", "ACTIVE"))
    deploy, _ = deployer(tmp_path, aws)
    with pytest.raises(GateRefused, match="a deployment is in progress"):
        deploy.deploy("pricing", "2026.12.0", timeout=60)
    assert aws.updates == []


def test_gate_alarm_in_alarm(tmp_path: Path) -> None:
    aws = FakeAws()
    aws.alarms["orbit-live-pricing-5xx-rate-high"] = "ALARM"
    deploy, _ = deployer(tmp_path, aws)
    with pytest.raises(GateRefused, match="alarms in ALARM: orbit-live-pricing-5xx-rate-high"):
        deploy.deploy("pricing", "2026.12.0", timeout=60)


def test_gate_promotion_needs_the_digest_proven_in_the_source_environment(tmp_path: Path) -> None:
    aws = FakeAws()
    deploy, _ = deployer(tmp_path, aws, promote_from="qa")
    with pytest.raises(GateRefused, match=f"{DIGEST_NEW} has not been deployed successfully in 'qa' .it has never been deployed there"):
        deploy.deploy("pricing", "2026.12.0", timeout=60)
    aws.parameters["/orbit/qa/services/pricing/last-successful-digest"] = DIGEST_OLD
    with pytest.raises(GateRefused, match="its last successful deploy there was sha256:aaaa"):
        deploy.deploy("pricing", "2026.12.0", timeout=60)
    aws.parameters["/orbit/qa/services/pricing/last-successful-digest"] = DIGEST_NEW
    assert deploy.deploy("pricing", "2026.12.0", timeout=60) == f"{FAMILY}:8"


def test_override_is_logged_and_recorded(tmp_path: Path) -> None:
    aws = FakeAws()
    aws.alarms["orbit-live-pricing-cpu-high"] = "ALARM"
    deploy, printed = deployer(tmp_path, aws)
    deploy.deploy("pricing", "2026.12.0", timeout=60, override_reason="hotfix INC-42")
    assert any(line.startswith("GATE OVERRIDDEN by ") and "(hotfix INC-42): alarms in ALARM" in line for line in printed)
    assert '"override":"hotfix INC-42"' in aws.parameters["/orbit/live/services/pricing/deployments"]


def test_rollback_runs_the_previous_image_as_the_newest_revision(tmp_path: Path) -> None:
    aws = FakeAws()
    deploy, _ = deployer(tmp_path, aws)
    deploy.deploy("pricing", "2026.10.4", timeout=60)
    aws.updates.clear()
    second = deploy.deploy("pricing", "2026.12.0", timeout=60)
    back = deploy.rollback("pricing", timeout=60)
    assert back not in (second, f"{FAMILY}:8") and aws.running == back
    assert aws.revisions[back]["image"] == f"{REGISTRY}/orbit/pricing:2026.10.4"
    assert aws.parameters["/orbit/live/services/pricing/image"] == f"{REGISTRY}/orbit/pricing:2026.10.4"
    assert aws.parameters["/orbit/live/services/pricing/last-successful-digest"] == DIGEST_OLD


def test_the_first_deploy_can_be_rolled_back_to_what_terraform_started(tmp_path: Path) -> None:
    """No deploy before: the image the service runs (Terraform's, the catalog's image_tag) is recorded first."""
    aws = FakeAws()
    started_with = aws.revisions[aws.running]["image"]
    deploy, _ = deployer(tmp_path, aws)
    deploy.deploy("pricing", "2026.12.0", timeout=60)
    back = deploy.rollback("pricing", timeout=60)
    assert aws.running == back and aws.revisions[back]["image"] == started_with
    assert aws.parameters["/orbit/live/services/pricing/image"] == started_with
    history = json.loads(aws.parameters["/orbit/live/services/pricing/deployments"])
    assert history[0]["by"] == "terraform apply" and history[0]["digest"] == DIGEST_OLD
    assert history[-1]["rollback_of"].endswith(":2026.12.0")


def test_rollback_without_history_is_a_clear_error(tmp_path: Path) -> None:
    deploy, _ = deployer(tmp_path, FakeAws())
    with pytest.raises(DeployError, match="no other successful deploy is recorded"):
        deploy.rollback("pricing", timeout=60)


def test_missing_credentials_are_a_clear_error(cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli("deploy", "--catalog", write_yaml(tmp_path / "o.yaml", orbit_data()), "--env", "live",
                 "--service", "pricing", "--image", "2026.12.0")
    assert result.exit_code == 4 and "no AWS credentials found" in result.output


def test_unknown_environment(cli: Any, tmp_path: Path) -> None:
    result = cli("rollback", "--catalog", write_yaml(tmp_path / "o.yaml", orbit_data()), "--env", "prod", "--service", "pricing")
    assert result.exit_code == 1 and "unknown environment 'prod'; the catalog has: qa, live" in result.output


def test_a_service_left_out_of_an_environment_is_passed_over(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline deploys each service through every environment; one left out of `qa` (search, in the
    orbit fixture) is passed over there with exit 0, before any AWS call (no credentials needed)."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    data = orbit_data()
    assert data["services"]["search"]["overrides"]["qa"] == {"enabled": False}
    for command in (("deploy", "--image", "2026.12.0"), ("rollback",)):
        result = cli(command[0], "--catalog", ORBIT_CATALOG, "--env", "qa", "--service", "search", *command[1:])
        assert result.exit_code == 0, result.output
        assert "'search' is left out of 'qa' (services.search.overrides.qa.enabled: false): nothing to do there" in result.output
    # In live it runs, so the same call goes on to AWS (and here finds no credentials).
    result = cli("deploy", "--catalog", ORBIT_CATALOG, "--env", "live", "--service", "search", "--image", "2026.12.0")
    assert result.exit_code == 4 and "no AWS credentials found" in result.output, result.output


def test_a_revision_ecs_stopped_running_is_a_failed_rollout(tmp_path: Path) -> None:
    """The circuit breaker may have rolled the new revision back before the first poll: ECS runs another one."""
    aws = FakeAws(outcome="IN_PROGRESS")
    deploy, _ = deployer(tmp_path, aws)
    svc = deploy.service("pricing")
    aws.deployments = [aws._deployment(f"{FAMILY}:7", "COMPLETED")]  # not the revision we wait for
    assert deploy.wait(svc, f"{FAMILY}:9", timeout=60) == \
        "ECS no longer runs this revision (its circuit breaker rolled it back)"


def test_a_deployment_alarm_fails_the_rollout(tmp_path: Path) -> None:
    aws = FakeAws(outcome="IN_PROGRESS")
    deploy, _ = deployer(tmp_path, aws)
    svc = deploy.service("pricing")  # routed in orbit.yaml: its load-balancer alarms roll a deployment back
    aws.deployments = [aws._deployment(f"{FAMILY}:9", "IN_PROGRESS")]
    aws.alarms["orbit-live-pricing-healthy-hosts-low"] = "ALARM"
    assert deploy.wait(svc, f"{FAMILY}:9", timeout=60) == \
        "deployment alarm in ALARM: orbit-live-pricing-healthy-hosts-low"
    # A rollback does not watch those alarms: the old revision is what should run.
    aws.deployments = [aws._deployment(f"{FAMILY}:9", "COMPLETED")]
    assert deploy.wait(svc, f"{FAMILY}:9", timeout=60, watch_alarms=False) is None


def test_status_shows_revision_rollout_counts_and_image_per_service(tmp_path: Path) -> None:
    aws = FakeAws()
    deploy, _ = deployer(tmp_path, aws)
    lines = deploy.status("pricing")
    assert lines[0].split() == ["service", "revision", "rollout", "running", "image"]
    row = lines[1].split()
    revision = FAMILY.rsplit("/", 1)[1] + ":7"
    assert row == ["pricing", revision, "COMPLETED", "2/2", f"{REGISTRY}/orbit/pricing:2026.10.4"]
