"""Deploy, roll back and show services on ECS (design 9.2 and Phase 5): what replaces
`kubectl set image` / `helm upgrade` / `helm rollback`.

Ownership (see the ecs-service module): Terraform owns the shape of a service's task
definition, deploys own its image. A deploy registers a new revision from the one the
service runs, with the new image, records that image in the service's SSM parameter (so
a later catalog change builds its revision with it), points the service at the revision
and waits until ECS reports the rollout complete, or failed (circuit breaker, a
deployment alarm, the timeout), in which case it rolls back to the previous revision.

boto3 is imported lazily so `render` never pays for it. Standard credential chain;
`AWS_ENDPOINT_URL` points every client at an emulator.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import click

from generator.operate.aws import error_code
from generator.catalog.model import Deployment, DeployedService

HISTORY_LENGTH = 10
# Fields of DescribeTaskDefinition that RegisterTaskDefinition takes back.
REGISTER_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory", "runtimePlatform", "ephemeralStorage",
    "proxyConfiguration", "pidMode", "ipcMode",
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class DeployError(click.ClickException):
    """A deploy, rollback or gate failed; the message names the cause. Exit code 1."""


class GateRefused(DeployError):
    exit_code = 3


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None
    digest: str | None

    def reference(self, registry: str) -> str:
        return f"{registry}/{self.repository}:{self.tag}" if self.tag else f"{registry}/{self.repository}@{self.digest}"


def parse_image(text: str, registry: str, repository: str) -> ImageRef:
    """`TAG`, `sha256:DIGEST`, or a full `<registry>/<repository>:<tag>` / `...@sha256:...` reference."""
    if _DIGEST.match(text):
        return ImageRef(repository, None, text)
    if "/" not in text and "@" not in text and ":" not in text:
        return ImageRef(repository, text, None)
    if "@" in text:
        name, digest = text.split("@", 1)
        tag = None
    else:
        name, tag = text.rsplit(":", 1)
        digest = None
    host, _, repo = name.partition("/")
    if host != registry or repo != repository:
        raise DeployError(f"image {text!r} is not in this service's repository {registry}/{repository}; "
                          "deploys take images from the service's own repository only")
    if digest is not None and not _DIGEST.match(digest):
        raise DeployError(f"{digest!r} is not an image digest (sha256:<64 hex digits>)")
    if tag in ("latest",):
        raise DeployError("`latest` names no build in particular; deploy an immutable tag or a digest")
    return ImageRef(repository, tag, digest)


class Deployer:
    """One environment's services: deploy, roll back, status."""

    def __init__(self, deployment: Deployment, aws: Any, echo: Callable[[str], None] = click.echo,
                 poll_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.deployment, self.aws, self.echo = deployment, aws, echo
        self.poll_seconds, self.clock, self.sleep = poll_seconds, clock, sleep

    # --- lookups -------------------------------------------------------------------

    def service(self, name: str) -> DeployedService:
        for svc in self.deployment.services:
            if svc.name == name:
                return svc
        known = ", ".join(svc.name for svc in self.deployment.services)
        env = self.deployment.environment.name
        if name in {service.name for service in self.deployment.catalog.services}:
            raise DeployError(f"{name!r} does not run on ECS in {env!r} yet (see `migration` in the catalog)")
        raise DeployError(f"unknown service {name!r} in {env!r}; services on ECS there: {known}")

    def describe(self, svc: DeployedService) -> dict[str, Any]:
        found = self.aws.ecs.describe_services(cluster=self.deployment.names.cluster, services=[svc.name])["services"]
        if not found or found[0].get("status") != "ACTIVE":
            raise DeployError(f"no active ECS service {svc.name!r} in cluster {self.deployment.names.cluster!r}; "
                              "has the environment been applied?")
        return found[0]

    def resolve_digest(self, svc: DeployedService, image: ImageRef) -> str:
        platform = self.deployment.platform
        image_id = {"imageTag": image.tag} if image.tag else {"imageDigest": image.digest}
        try:
            found = self.aws.ecr.describe_images(registryId=platform.registry_account, repositoryName=image.repository,
                                                 imageIds=[image_id])["imageDetails"]
        except Exception as error:
            code = error_code(error)
            if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                shown = image.tag or image.digest
                raise DeployError(f"image {image.repository}:{shown} does not exist in the registry "
                                  f"{platform.image_registry} ({code}); push it first") from None
            raise
        return found[0]["imageDigest"]

    def _digest_of(self, svc: DeployedService, reference: str) -> str | None:
        """The digest of an image the service ran; None when the registry no longer has it (or never had)."""
        try:
            image = parse_image(reference, self.deployment.platform.image_registry, svc.service.image_repository)
            return self.resolve_digest(svc, image)
        except DeployError:
            return None

    def _parameter(self, name: str) -> str | None:
        try:
            return self.aws.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except Exception as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise

    def _put(self, name: str, value: str) -> None:
        self.aws.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def history(self, svc: DeployedService) -> list[dict[str, Any]]:
        text = self._parameter(svc.names.deploy_history_parameter)
        return json.loads(text) if text else []

    def _record(self, svc: DeployedService, entry: dict[str, Any]) -> None:
        history = [*self.history(svc), entry][-HISTORY_LENGTH:]
        self._put(svc.names.deploy_history_parameter, json.dumps(history, separators=(",", ":")))

    def alarm_names(self, svc: DeployedService) -> list[str]:
        return svc.names.alarms(svc.service.load_balanced)

    def firing(self, names: list[str]) -> list[str]:
        found = self.aws.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
        return sorted(alarm["AlarmName"] for alarm in found if alarm["StateValue"] == "ALARM")

    # --- gates ---------------------------------------------------------------------

    def gate_problems(self, svc: DeployedService, current: dict[str, Any], digest: str) -> list[str]:
        problems = []
        running = [d for d in current.get("deployments", []) if d.get("status") in ("PRIMARY", "ACTIVE")]
        if len(running) > 1 or any(d.get("rolloutState") == "IN_PROGRESS" for d in running):
            revisions = ", ".join(f"{d['taskDefinition'].rsplit('/', 1)[-1]} ({d.get('rolloutState', d['status'])})" for d in running)
            problems.append(f"a deployment is in progress ({revisions}); wait for it to finish or roll back")
        firing = self.firing(self.alarm_names(svc))
        if firing:
            problems.append(f"alarms in ALARM: {', '.join(firing)}; a deploy would hide what is wrong now")
        source = self.deployment.environment.promote_from
        if source is not None:
            proven = self._parameter(svc.names.in_environment(source).last_successful_digest_parameter)
            if proven != digest:
                seen = f"its last successful deploy there was {proven}" if proven else "it has never been deployed there"
                problems.append(f"{digest} has not been deployed successfully in {source!r} ({seen}); "
                                f"deploy it to {source} first")
        return problems

    # --- deploy / rollback ---------------------------------------------------------

    def deploy(self, service_name: str, image_text: str, timeout: float, override_reason: str | None = None) -> str:
        svc = self.service(service_name)
        platform = self.deployment.platform
        image = parse_image(image_text, platform.image_registry, svc.service.image_repository)
        digest = self.resolve_digest(svc, image)
        current = self.describe(svc)
        problems = self.gate_problems(svc, current, digest)
        if problems and override_reason is None:
            raise GateRefused("deploy refused:\n  - " + "\n  - ".join(problems)
                              + "\nIn an emergency: --override-gates 'REASON' (logged with your name).")
        who = os.environ.get("GITHUB_ACTOR") or getpass.getuser()
        for problem in problems:
            self.echo(f"GATE OVERRIDDEN by {who} ({override_reason}): {problem}")

        previous_arn = current["taskDefinition"]
        previous = self.aws.ecs.describe_task_definition(taskDefinition=previous_arn, include=["TAGS"])
        reference = image.reference(platform.image_registry)
        new_arn = self.register(svc, previous, reference)
        previous_image = self._container(previous["taskDefinition"], svc.name)["image"]
        if not self.history(svc):
            # The first deploy after `terraform apply`: record what Terraform started, so that `rollback` has
            # somewhere to go when this very deploy turns out bad.
            self._record(svc, {"task_definition": previous_arn, "image": previous_image,
                               "digest": self._digest_of(svc, previous_image), "by": "terraform apply",
                               "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "baseline": True})
        self.echo(f"{svc.name}: {previous_arn.rsplit('/', 1)[-1]} ({previous_image}) -> "
                  f"{new_arn.rsplit('/', 1)[-1]} ({reference}, {digest})")
        self._put(svc.names.image_parameter, reference)
        self.aws.ecs.update_service(cluster=self.deployment.names.cluster, service=svc.name, taskDefinition=new_arn)
        cause = self.wait(svc, new_arn, timeout)
        if cause is not None:
            self.echo(f"{svc.name}: deployment failed: {cause}; rolling back to {previous_arn.rsplit('/', 1)[-1]}")
            # The failed revision must not stay the family's newest: Terraform runs the newest.
            self.aws.ecs.deregister_task_definition(taskDefinition=new_arn)
            self._put(svc.names.image_parameter, previous_image)
            self.aws.ecs.update_service(cluster=self.deployment.names.cluster, service=svc.name, taskDefinition=previous_arn)
            back = self.wait(svc, previous_arn, timeout, watch_alarms=False)
            state = "rolled back" if back is None else f"ROLLBACK ALSO FAILED ({back})"
            raise DeployError(f"deploy of {reference} to {svc.name} failed: {cause}; {state} to "
                              f"{previous_arn.rsplit('/', 1)[-1]}")
        self._put(svc.names.last_successful_digest_parameter, digest)
        self._record(svc, {"task_definition": new_arn, "image": reference, "digest": digest, "by": who,
                           "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           **({"override": override_reason} if problems else {})})
        self.echo(f"{svc.name}: deployed {reference} ({digest}) as {new_arn.rsplit('/', 1)[-1]}")
        return new_arn

    def rollback(self, service_name: str, timeout: float) -> str:
        """Run the image of the previous successful deploy again, on the current shape.

        A new revision (current task definition, previous image) rather than the old
        revision itself: an old revision would also bring back an old shape (cpu, memory,
        environment) that the catalog has since changed, and Terraform runs the newest
        revision of the family, so the next apply would undo a rollback to an older one."""
        svc = self.service(service_name)
        current_arn = self.describe(svc)["taskDefinition"]
        current = self.aws.ecs.describe_task_definition(taskDefinition=current_arn, include=["TAGS"])
        current_image = self._container(current["taskDefinition"], svc.name)["image"]
        earlier = [entry for entry in self.history(svc) if entry["image"] != current_image]
        if not earlier:
            raise DeployError(f"{svc.name} runs {current_image} and no other successful deploy is recorded in "
                              f"{svc.names.deploy_history_parameter}; deploy a known good image instead")
        target = earlier[-1]
        new_arn = self.register(svc, current, target["image"])
        self.echo(f"{svc.name}: rolling back {current_image} -> {target['image']} as {new_arn.rsplit('/', 1)[-1]}")
        self._put(svc.names.image_parameter, target["image"])
        self.aws.ecs.update_service(cluster=self.deployment.names.cluster, service=svc.name, taskDefinition=new_arn)
        cause = self.wait(svc, new_arn, timeout, watch_alarms=False)
        if cause is not None:
            raise DeployError(f"rollback of {svc.name} to {target['image']} failed: {cause}")
        if target.get("digest"):
            self._put(svc.names.last_successful_digest_parameter, target["digest"])
        self._record(svc, {"task_definition": new_arn, "image": target["image"], "digest": target.get("digest"),
                           "by": os.environ.get("GITHUB_ACTOR") or getpass.getuser(), "rollback_of": current_image,
                           "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.echo(f"{svc.name}: rolled back to {target['image']} ({new_arn.rsplit('/', 1)[-1]})")
        return new_arn

    def register(self, svc: DeployedService, described: dict[str, Any], reference: str) -> str:
        definition = described["taskDefinition"]
        request = {key: definition[key] for key in REGISTER_FIELDS if definition.get(key) not in (None, [], {})}
        containers = [dict(container) for container in definition["containerDefinitions"]]
        self._container({"containerDefinitions": containers}, svc.name)["image"] = reference
        request["containerDefinitions"] = containers
        if described.get("tags"):
            request["tags"] = described["tags"]
        return self.aws.ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]

    @staticmethod
    def _container(definition: dict[str, Any], name: str) -> dict[str, Any]:
        for container in definition["containerDefinitions"]:
            if container["name"] == name:
                return container
        raise DeployError(f"the task definition has no container named {name!r}")

    def wait(self, svc: DeployedService, arn: str, timeout: float, watch_alarms: bool = True) -> str | None:
        """Until the rollout of `arn` completes (None) or fails (the cause)."""
        started = self.clock()
        deployment_alarms = svc.names.deployment_alarms(svc.service.load_balanced) if watch_alarms else []
        while True:
            elapsed = self.clock() - started
            service = self.describe(svc)
            deployments = service.get("deployments", [])
            mine = next((d for d in deployments if d["taskDefinition"] == arn), None)
            others = [d for d in deployments if d is not mine and d.get("status") in ("PRIMARY", "ACTIVE")]
            if mine is None:
                return "ECS no longer runs this revision (its circuit breaker rolled it back)"
            state = mine.get("rolloutState", "?")
            draining = f"; {sum(d.get('runningCount', 0) for d in others)} old task(s) draining" if others else ""
            self.echo(f"  [{elapsed:5.0f} s] {state:<11} {mine.get('runningCount', 0)}/{mine.get('desiredCount', 0)} "
                      f"running on {arn.rsplit('/', 1)[-1]}{draining}")
            if state == "FAILED":
                return f"circuit breaker: {mine.get('rolloutStateReason', 'tasks failed to start or stay healthy')}"
            if state == "COMPLETED" and not others and mine.get("runningCount", 0) >= mine.get("desiredCount", 0):
                return None
            if deployment_alarms:
                firing = self.firing(deployment_alarms)
                if firing:
                    return f"deployment alarm in ALARM: {', '.join(firing)}"
            if elapsed >= timeout:
                return f"timeout: not complete after {timeout:.0f} s"
            self.sleep(self.poll_seconds)

    # --- status --------------------------------------------------------------------

    def status(self, service_name: str | None) -> list[str]:
        chosen = [self.service(service_name)] if service_name else list(self.deployment.services)
        lines = [f"{'service':<24} {'revision':<40} {'rollout':<11} {'running':>7}  image"]
        for start in range(0, len(chosen), 10):
            batch = chosen[start:start + 10]
            found = {s["serviceName"]: s for s in self.aws.ecs.describe_services(
                cluster=self.deployment.names.cluster, services=[svc.name for svc in batch])["services"]}
            for svc in batch:
                service = found.get(svc.name)
                if service is None or service.get("status") != "ACTIVE":
                    lines.append(f"{svc.name:<24} {'(not deployed)':<40}")
                    continue
                arn = service["taskDefinition"]
                definition = self.aws.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})
                lines.append(f"{svc.name:<24} {arn.rsplit('/', 1)[-1]:<40} {primary.get('rolloutState', '-'):<11} "
                             f"{service.get('runningCount', 0):>3}/{service.get('desiredCount', 0):<3}  "
                             f"{self._container(definition, svc.name)['image']}")
        return lines
