"""`migration-check`: what must hold in AWS before a service's next migration step.

Reads the real account through boto3 (standard credential chain; `AWS_ENDPOINT_URL`
points it at an emulator). boto3 is imported here only, so `render` never loads it.
Each check is one line: PASS or FAIL, the service, the check and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from generator.operate import aws
from generator.catalog.model import Deployment, DeployedService


@dataclass(frozen=True)
class CheckResult:
    service: str
    check: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.service:<24} {self.check:<16} {self.detail}"


def _clients(region: str) -> Callable[[str], Any]:
    return aws.Session(region).client


def _service_checks(client: Callable[[str], Any], deployment: Deployment, svc: DeployedService) -> Iterator[CheckResult]:
    from botocore.exceptions import BotoCoreError, ClientError

    name, minimum = svc.name, svc.service.sizing.min_tasks
    cluster = deployment.names.cluster

    def guarded(check: str, body: Callable[[], tuple[bool, str]]) -> CheckResult:
        """A check AWS answered: PASS or FAIL. AWS not answering (network, permissions, throttling) is no answer
        at all: it stops every check with one line (generator.operate.aws), never a PASS."""
        try:
            passed, detail = body()
        except (ClientError, BotoCoreError) as error:
            if aws.describe(error) is not None:
                raise
            passed, detail = False, f"AWS said: {error}"
        return CheckResult(name, check, passed, detail)

    def running() -> tuple[bool, str]:
        found = client("ecs").describe_services(cluster=cluster, services=[name])["services"]
        if not found or found[0]["status"] != "ACTIVE":
            return False, f"no active ECS service {name!r} in cluster {cluster!r}"
        count = found[0]["runningCount"]
        return count >= minimum, f"{count} running, minimum {minimum}"

    def targets() -> tuple[bool, str]:
        if not svc.service.load_balanced:
            return True, "no load balancer (worker)"
        elbv2 = client("elbv2")
        group = elbv2.describe_target_groups(Names=[svc.names.target_group])["TargetGroups"][0]
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        healthy = sum(1 for target in health if target["TargetHealth"]["State"] == "healthy")
        return healthy >= minimum and healthy == len(health), f"{healthy} of {len(health)} targets healthy, minimum {minimum}"

    def alarms() -> tuple[bool, str]:
        names = svc.names.alarms(svc.service.load_balanced)
        found = client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        firing = sorted(alarm["AlarmName"] for alarm in found if alarm["StateValue"] == "ALARM")
        missing = sorted(set(names) - {alarm["AlarmName"] for alarm in found})
        if missing:
            return False, f"alarms missing: {', '.join(missing)}"
        return not firing, f"in ALARM: {', '.join(firing)}" if firing else f"{len(found)} alarms, none in ALARM"

    def secrets() -> tuple[bool, str]:
        """Secrets Manager secrets and SSM parameters the task definition reads: ECS fails to start the task
        when one is missing."""
        parameters = sorted({name for _, name in svc.ssm_secrets})
        absent = [*aws.missing_secrets(client, svc.secret_names),
                  *(f"SSM parameter {name}" for name in aws.missing_parameters(client, parameters))]
        if absent:
            return False, f"missing: {', '.join(absent)}"
        if not svc.secret_names and not parameters:
            return True, "the service reads no secrets or parameters"
        return True, f"{len(svc.secret_names)} secrets and {len(parameters)} SSM parameters exist"

    def image() -> tuple[bool, str]:
        repository, tag = svc.service.image_repository, svc.image.rsplit(":", 1)[1]
        try:
            client("ecr").describe_images(repositoryName=repository, registryId=deployment.platform.registry_account,
                                          imageIds=[{"imageTag": tag}])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                return False, f"{repository}:{tag} not in the registry ({code})"
            raise
        return True, f"{repository}:{tag} is in the registry"

    for check, body in (("running tasks", running), ("targets healthy", targets), ("alarms", alarms),
                        ("secrets", secrets), ("image", image)):
        yield guarded(check, body)


def run_checks(deployment: Deployment, service: str | None, client: Callable[[str], Any] | None = None) -> list[CheckResult]:
    """Every check for `service` (or every service on ECS in the environment). AWS is asked who we are first:
    when that fails, nothing is checked and the one line says why (generator.operate.aws.AwsError)."""
    if client is None:
        client = _clients(deployment.platform.region)
    with aws.errors(), aws.answers():
        client("sts").get_caller_identity()
    chosen = [svc for svc in deployment.services if service is None or svc.name == service]
    results: list[CheckResult] = []
    with aws.errors(), aws.answers():
        for svc in chosen:
            results.extend(_service_checks(client, deployment, svc))
    return results
