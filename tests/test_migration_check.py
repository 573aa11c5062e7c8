"""`migration-check` with a fake AWS: PASS when everything holds, FAIL naming what does not (expectations from
orbit.yaml), and no PASS at all when AWS does not answer."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conftest import ORBIT_CATALOG
from generator import api
from generator.operate.aws import AwsError
from generator.operate.migration_check import run_checks


def _error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


class FakeAws:
    """Answers like AWS for one environment: every service running, healthy, quiet, with its secrets."""

    def __init__(self, missing_secrets: set[str] = frozenset(), missing_parameters: set[str] = frozenset(),
                 unhealthy: bool = False, unreachable: bool = False):
        self.missing_secrets, self.missing_parameters = missing_secrets, missing_parameters
        self.unhealthy, self.unreachable = unhealthy, unreachable

    def __call__(self, name: str, region: str | None = None) -> "FakeAws":
        return self

    def get_caller_identity(self) -> dict[str, Any]:
        if self.unreachable:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        return {"Account": "210987654321", "Arn": "arn:aws:iam::210987654321:user/oncall"}

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {"services": [{"status": "ACTIVE", "runningCount": 50}]}

    def describe_target_groups(self, Names: list[str]) -> dict[str, Any]:
        return {"TargetGroups": [{"TargetGroupArn": f"arn:{Names[0]}"}]}

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        states = ["healthy"] * 49 + ["unhealthy" if self.unhealthy else "healthy"]
        return {"TargetHealthDescriptions": [{"TargetHealth": {"State": state}} for state in states]}

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        return {"MetricAlarms": [{"AlarmName": name, "StateValue": "OK"} for name in AlarmNames]}

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        if SecretId in self.missing_secrets:
            raise _error("ResourceNotFoundException")
        return {"Name": SecretId}

    def get_parameters(self, Names: list[str]) -> dict[str, Any]:
        return {"InvalidParameters": [name for name in Names if name in self.missing_parameters]}

    def describe_images(self, **_: Any) -> dict[str, Any]:
        return {"imageDetails": [{"imageDigest": "sha256:" + "a" * 64}]}


@pytest.fixture(scope="module")
def live() -> Any:
    catalog = api.validate(ORBIT_CATALOG)
    return catalog.deployment(next(e for e in catalog.environments if e.name == "live"))


def _names(raw: dict[str, Any]) -> tuple[str, str]:
    env = raw["environments"]["live"]
    secret = env["secret_prefix"] + raw["services"]["pricing"]["secrets"]["DB_PASSWORD"]
    parameter = "/" + env["secret_prefix"] + raw["services"]["search"]["secrets"]["INDEX_API_TOKEN"]["ssm"]
    return secret, parameter


def test_everything_holds(live: Any) -> None:
    results = run_checks(live, None, client=FakeAws())
    assert results and all(result.passed for result in results), [r.line() for r in results if not r.passed]
    raw = yaml.safe_load(ORBIT_CATALOG.read_text())
    assert {result.service for result in results} == {svc.name for svc in live.services}
    assert len(raw["services"]) >= len(live.services)


def test_missing_secret_and_ssm_parameter_are_named(live: Any) -> None:
    secret, parameter = _names(yaml.safe_load(ORBIT_CATALOG.read_text()))
    results = run_checks(live, None, client=FakeAws(missing_secrets={secret}, missing_parameters={parameter}))
    failed = {(r.service, r.check): r.detail for r in results if not r.passed}
    assert failed == {("pricing", "secrets"): f"missing: {secret}",
                      ("search", "secrets"): f"missing: SSM parameter {parameter}"}, failed


def test_an_unhealthy_target_fails_the_targets_check(live: Any) -> None:
    results = run_checks(live, "pricing", client=FakeAws(unhealthy=True))
    failed = [r for r in results if not r.passed]
    assert [r.check for r in failed] == ["targets healthy"] and "49 of 50 targets healthy" in failed[0].detail


def test_nothing_passes_when_aws_does_not_answer(live: Any) -> None:
    with pytest.raises(AwsError, match="cannot reach AWS"):
        run_checks(live, None, client=FakeAws(unreachable=True))
