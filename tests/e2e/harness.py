"""End-to-end harness: a local AWS emulator, the 'existing' world the catalog refers to,
and stock Terraform applied to a copy of an environment root.

Only the copy gets the emulator's provider settings (an `_override.tf` file); `out/` is
never touched. Every process and directory is cleaned up, also when a step fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3

from generator.catalog.model import Deployment

HERE = Path(__file__).resolve().parent
ENDPOINT_SERVICES = (
    "acm", "appautoscaling", "cloudwatch", "ec2", "ecr", "ecs", "elbv2", "iam", "kms", "logs", "route53",
    "s3", "scheduler", "secretsmanager", "servicediscovery", "sns", "ssm", "sts", "wafv2", "cloudfront", "efs",
)
EDGE_REGION = "us-east-1"  # CloudFront's certificate and WAF
AVAILABILITY_ZONE_LETTERS = ("a", "b", "c")
REPLAYS: list[str] = []  # requests the emulator answered from its replay memory (moto_server.py)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quotas_file(url: str) -> Path:
    """Where a test lowers the emulator's account quotas (moto_server.py reads it per request)."""
    return Path(tempfile.gettempdir()) / f"e2e-quotas-{url.rsplit(':', 1)[1]}.json"


@contextlib.contextmanager
def emulator(account: str | None = None) -> Iterator[str]:
    """Run the patched moto server on a free loopback port; yield its URL; always stop it."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
    environment = {**os.environ, **({"MOTO_ACCOUNT_ID": account} if account else {}),
                   "E2E_ACCOUNT_QUOTAS": str(quotas_file(f"http://127.0.0.1:{port}"))}
    process = subprocess.Popen(
        [sys.executable, str(HERE / "moto_server.py"), str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited at start; log: {log.name}")
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not answer on {url} within 30 s; log: {log.name}")
                time.sleep(0.2)
        try:
            yield url
        except BaseException:
            kept = Path(tempfile.gettempdir()) / "e2e-emulator-last-failure.log"
            shutil.copyfile(log.name, kept)
            print(f"    emulator log of the failed run kept at {kept}", flush=True)
            raise
    finally:
        with contextlib.suppress(OSError):
            replayed = [line for line in Path(log.name).read_text(errors="replace").splitlines() if line.startswith("REPLAYED")]
            REPLAYS.extend(replayed)
            print(f"    emulator answered {len(replayed)} repeated mutating request(s) with the first answer", flush=True)
            for line in replayed[:20]:
                print(f"      {line}", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        os.unlink(log.name)


def client(url: str, service: str, region: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def _concrete(tags: tuple[tuple[str, str], ...], letter: str) -> list[dict[str, str]]:
    """Tags that match a lookup's tags (`*` filled with the AZ letter)."""
    return [{"Key": key, "Value": value.replace("*", letter)} for key, value in tags]


ORIGIN_VERIFY_VALUE = "e2e-origin-verify-7f3a9c"  # what the harness stores in the edge's origin-verify secret


def pagerduty_endpoint(environment: str) -> str:
    """What the harness stores in the environment's PagerDuty secret (the catalog only names the secret)."""
    return f"https://events.pagerduty.com/integration/e2e-{environment}/enqueue"


def seed_existing_world(url: str, deployment: Deployment) -> None:
    """Create what the design keeps and the catalog only refers to: VPC, subnets, data-store
    security groups, secrets, certificate, hosted zone and the access-logs bucket."""
    env = deployment.environment
    region = deployment.platform.region
    if env.vpc.id or env.private_subnets.id or env.public_subnets.id or any(
        lookup.id for _, lookup in env.data_store_security_groups
    ):
        raise ValueError(f"environment {env.name!r} names objects by id; the emulator cannot create given ids")
    ec2 = client(url, "ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=_concrete(env.vpc.tags, "a"))
    for offset, lookup in ((0, env.private_subnets), (10, env.public_subnets)):
        for index, letter in enumerate(AVAILABILITY_ZONE_LETTERS):
            subnet = ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=f"10.1.{offset + index}.0/24", AvailabilityZone=f"{region}{letter}"
            )["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[subnet], Tags=_concrete(lookup.tags, letter))
    for store, lookup in env.data_store_security_groups:
        group = ec2.create_security_group(GroupName=f"existing-{store}", Description=f"existing {store}", VpcId=vpc_id)
        ec2.create_tags(Resources=[group["GroupId"]], Tags=_concrete(lookup.tags, "a"))
    efs = client(url, "efs", region)
    for name, file_system, _ in deployment.file_systems:
        if file_system.lookup.id or file_system.security_group.id:
            raise ValueError(f"file system {name!r} is named by id; the emulator cannot create given ids")
        efs.create_file_system(CreationToken=f"e2e-{name}", Encrypted=True,
                               Tags=_concrete(file_system.lookup.tags, "a"))
        group = ec2.create_security_group(GroupName=f"existing-efs-{name}", Description=f"mount targets of {name}",
                                          VpcId=vpc_id)
        ec2.create_tags(Resources=[group["GroupId"]], Tags=_concrete(file_system.security_group.tags, "a"))
    secrets = client(url, "secretsmanager", region)
    for name in sorted({secret for svc in (*deployment.services, *deployment.scheduled_tasks) for secret in svc.secret_names}):
        secrets.create_secret(Name=name, SecretString="emulator-value")
    ssm = client(url, "ssm", region)
    for name in sorted({parameter for svc in (*deployment.services, *deployment.scheduled_tasks)
                        for parameter in svc.ssm_parameter_names}):
        ssm.put_parameter(Name=name, Value="emulator-secure-value", Type="SecureString")
    secrets.create_secret(Name=env.pagerduty_endpoint_secret, SecretString=pagerduty_endpoint(env.name))
    if env.edge:
        secrets.create_secret(Name=env.edge.origin_verify_secret, SecretString=ORIGIN_VERIFY_VALUE)
        client(url, "acm", EDGE_REGION).request_certificate(DomainName=env.edge.certificate_domain, ValidationMethod="DNS")
    acm = client(url, "acm", region)
    acm.request_certificate(DomainName=env.certificate_domain, ValidationMethod="DNS")
    if env.dns_zone:
        client(url, "route53", region).create_hosted_zone(Name=env.dns_zone, CallerReference=f"e2e-{env.name}")
    s3 = client(url, "s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=env.logs_bucket)
    else:
        s3.create_bucket(Bucket=env.logs_bucket, CreateBucketConfiguration={"LocationConstraint": region})
    # What AWS needs before an ALB may log there (AWS docs: "Enable access logs for your Application Load
    # Balancer", regions since 2022): the log-delivery service may put objects under the account's prefix.
    s3.put_bucket_policy(Bucket=env.logs_bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                       "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{env.logs_bucket}/*/AWSLogs/*"}],
    }))


def provider_override(url: str, region: str, alias: str | None = None) -> str:
    endpoints = "\n".join(f'    {name} = "{url}"' for name in ENDPOINT_SERVICES)
    alias_line = f'  alias                       = "{alias}"\n' if alias else ""
    return f"""# Test harness only: points the provider at the local emulator.
provider "aws" {{
{alias_line}  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # The provider must know its account, or security-group rules that reference a
  # group read back as `<account>/sg-...` and drift.
  skip_requesting_account_id = false
  s3_use_path_style          = true
  # A few retries: the emulator's HTTP server sometimes drops a kept-alive
  # connection under load. Few enough that an unimplemented call fails in seconds.
  max_retries = 4

  endpoints {{
{endpoints}
  }}
}}
"""


BACKEND_OVERRIDE = """# Test harness only: local state instead of the S3 backend.
terraform {
  backend "local" {}
}
"""


def prepare_root(tree: Path, environment: str, url: str, region: str, workdir: Path) -> Path:
    """Copy the generated tree and add the emulator overrides next to the environment root."""
    copy = workdir / "tree"
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
    return add_overrides(copy / "environments" / environment, url, region)


def add_overrides(root: Path, url: str, region: str) -> Path:
    override = provider_override(url, region)
    if 'alias  = "us_east_1"' in (root / "versions.tf").read_text():  # an environment with CloudFront
        override += "\n" + provider_override(url, EDGE_REGION, alias="us_east_1")
    (root / "emulator_override.tf").write_text(override)
    (root / "backend_override.tf").write_text(BACKEND_OVERRIDE)
    return root


@dataclass
class PhaseLog:
    """What one environment's cycle did, for the summary table."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    applied: int | None = None
    destroyed: int | None = None
    plan_result: str = ""


SUMMARY: list[PhaseLog] = []
STACK_LINES: list[str] = []  # resources per stack and plan times (test_stacks.py), printed after the table


def terraform(args: list[str], root: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    """Run terraform bounded by `timeout`; echo its summary lines."""
    binary = shutil.which(env.get("TERRAFORM", "terraform")) or "terraform"
    try:
        result = subprocess.run(
            [binary, *args, "-no-color"], cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"terraform {args[0]} did not finish within {timeout} s:\n{(error.stdout or '')[-3000:]}")
    for line in result.stdout.splitlines():
        if re.match(r"^(Apply complete|Destroy complete|No changes|Plan:)", line):
            print(f"    [{root.name}] {line}", flush=True)
    return result


def count(pattern: str, text: str) -> int | None:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else None
