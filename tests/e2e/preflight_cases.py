"""`preflight` against the seeded emulator, before the environment's first apply: it passes on the world
as a prepared account has it, and each check fails, naming itself, when the one thing it checks is taken
away (then put back). Expectations come from the catalog file (tests/fixtures/orbit.yaml), not the model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from click.testing import CliRunner

from harness import EDGE_REGION, client, quotas_file

STATE_BUCKET = "orbit-live-tfstate"  # the catalog file gets a backend for the preflight phase
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                                  "digest": "sha256:" + "b" * 64}, "layers": []})


@dataclass
class Case:
    check: str  # the check's name in preflight's output
    take_away: Callable[[], Any]
    put_back: Callable[[], Any]


def _preflight(catalog: Path, env: str, url: str) -> tuple[int, list[dict[str, str]]]:
    from generator.cli import main

    environment = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_MAX_ATTEMPTS": "2"}
    result = CliRunner().invoke(main, ["preflight", "--catalog", str(catalog), "--env", env, "--json"], env=environment)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)["checks"]


def _images(raw: dict[str, Any], env: str) -> list[tuple[str, str]]:
    tag = raw["environments"][env]["image_tag"]
    platform = raw["platform"]["name"]
    repositories = {(body.get("image_repository", f"{platform}/{name}"),
                     body.get("overrides", {}).get(env, {}).get("image_tag", tag))
                    for name, body in raw["services"].items()}
    repositories |= {(body.get("image_repository", f"{platform}/{name}"), tag)
                     for name, body in raw.get("scheduled_tasks", {}).items()}
    return sorted(repositories)


def run_preflight_cases(url: str, catalog_path: Path, env: str, tmp_path: Path, log: Callable[[str], None]) -> int:
    """Returns the number of cases run. The world is as it was afterwards."""
    raw = yaml.safe_load(catalog_path.read_text())
    raw["environments"][env]["backend"] = {"bucket": STATE_BUCKET}
    catalog = tmp_path / "preflight.yaml"
    catalog.write_text(yaml.safe_dump(raw, sort_keys=False))
    region, environment = raw["platform"]["region"], raw["environments"][env]
    ec2, s3, ecr = client(url, "ec2", region), client(url, "s3", region), client(url, "ecr", region)
    secrets, ssm, route53 = client(url, "secretsmanager", region), client(url, "ssm", region), client(url, "route53", region)
    efs = client(url, "efs", region)
    acm = {None: client(url, "acm", region), EDGE_REGION: client(url, "acm", EDGE_REGION)}
    s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    for repository, tag in _images(raw, env):  # the team pushed the first images
        ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag=tag)

    code, checks = _preflight(catalog, env, url)
    failed = [c for c in checks if c["status"] == "FAIL"]
    assert code == 0 and not failed, failed
    names = {c["check"] for c in checks}
    log(f"preflight passes on the seeded world: {len(checks)} checks, {sum(c['status'] == 'WARN' for c in checks)} WARN")

    def tagged(lookup: dict[str, Any], kind: str) -> list[str]:
        filters = [{"Name": f"tag:{k}", "Values": [v.replace('*', 'a')]} for k, v in lookup["tags"].items()]
        if kind == "vpc":
            return [v["VpcId"] for v in ec2.describe_vpcs(Filters=filters)["Vpcs"]]
        if kind == "subnet":
            filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in lookup["tags"].items()]
            return [s["SubnetId"] for s in ec2.describe_subnets(Filters=filters)["Subnets"]]
        return [g["GroupId"] for g in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]]

    def untag(resources: list[str], tags: dict[str, str]) -> Case:
        saved = {r: ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [r]}])["Tags"] for r in resources}
        return (lambda: ec2.delete_tags(Resources=resources, Tags=[{"Key": k} for k in tags]),
                lambda: [ec2.create_tags(Resources=[r], Tags=[{"Key": t["Key"], "Value": t["Value"]} for t in saved[r]])
                         for r in resources])

    def certificate(region_key: str | None, domain: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
        def away() -> None:
            for summary in acm[region_key].list_certificates()["CertificateSummaryList"]:
                if summary["DomainName"] == domain:
                    acm[region_key].delete_certificate(CertificateArn=summary["CertificateArn"])
        return away, lambda: acm[region_key].request_certificate(DomainName=domain, ValidationMethod="DNS")

    def quota(section: str, key: str, value: float) -> tuple[Callable[[], Any], Callable[[], Any]]:
        path = quotas_file(url)
        return (lambda: path.write_text(json.dumps({section: {key: value}})), lambda: path.unlink())

    cases: list[Case] = []
    store, store_lookup = next(iter(environment["data_stores"].items()))
    file_system, fs = next(iter(environment["file_systems"].items()))
    private = tagged(environment["private_subnets"], "subnet")
    public = tagged(environment["public_subnets"], "subnet")
    secret = f"{environment['secret_prefix']}{next(iter(raw['services']['pricing']['secrets'].values()))}"
    parameter = "/" + environment["secret_prefix"] + raw["services"]["search"]["secrets"]["INDEX_API_TOKEN"]["ssm"]
    policy = s3.get_bucket_policy(Bucket=environment["logs_bucket"])["Policy"]
    repository, tag = _images(raw, env)[0]
    file_system_id = efs.describe_file_systems()["FileSystems"][0]["FileSystemId"]

    def drop_zone() -> None:
        zone = route53.list_hosted_zones_by_name(DNSName=environment["dns_zone"])["HostedZones"][0]
        route53.delete_hosted_zone(Id=zone["Id"])

    for check, (away, back) in [
        ("vpc", untag(tagged(environment["vpc"], "vpc"), environment["vpc"]["tags"])),
        ("private subnets", untag(private[1:], environment["private_subnets"]["tags"])),
        ("public subnets", untag(public[1:], environment["public_subnets"]["tags"])),
        (f"data store {store}", untag(tagged(store_lookup, "group"), store_lookup["tags"])),
        (f"file system {file_system}", (lambda: efs.untag_resource(ResourceId=file_system_id, TagKeys=list(fs["tags"])),
                                        lambda: efs.tag_resource(ResourceId=file_system_id, Tags=[
                                            {"Key": k, "Value": v} for k, v in fs["tags"].items()]))),
        (f"file system {file_system} mounts", untag(tagged(fs["security_group"], "group"), fs["security_group"]["tags"])),
        ("certificate", certificate(None, environment["certificate_domain"])),
        ("edge certificate", certificate(EDGE_REGION, environment["edge"].get("certificate_domain",
                                                                               environment["certificate_domain"]))),
        ("hosted zone", (drop_zone, lambda: route53.create_hosted_zone(Name=environment["dns_zone"],
                                                                        CallerReference="preflight-back"))),
        ("secrets", (lambda: secrets.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True),
                     lambda: secrets.create_secret(Name=secret, SecretString="emulator-value"))),
        ("ssm parameters", (lambda: ssm.delete_parameter(Name=parameter),
                            lambda: ssm.put_parameter(Name=parameter, Value="v", Type="SecureString"))),
        ("logs bucket", (lambda: s3.delete_bucket_policy(Bucket=environment["logs_bucket"]),
                         lambda: s3.put_bucket_policy(Bucket=environment["logs_bucket"], Policy=policy))),
        ("state bucket", (lambda: s3.delete_bucket(Bucket=STATE_BUCKET),
                          lambda: s3.create_bucket(Bucket=STATE_BUCKET,
                                                   CreateBucketConfiguration={"LocationConstraint": region}))),
        ("first images", (lambda: ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}]),
                          lambda: ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag=tag))),
        ("image repositories", (lambda: ecr.delete_repository(repositoryName=repository, force=True),
                                lambda: (ecr.create_repository(repositoryName=repository),
                                         ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag=tag)))),
        ("quota rules-per-application-load-balancer", quota("elbv2", "rules-per-application-load-balancer", 1)),
        ("quota target-groups", quota("elbv2", "target-groups", 1)),
        ("quota fargate on-demand vcpu", quota("service-quotas", "fargate/L-3032A538", 1)),
        ("quota fargate spot vcpu", quota("service-quotas", "fargate/L-36FBB829", 0)),
        ("quota services per cluster", quota("service-quotas", "ecs/L-9EF96962", 1)),
    ]:
        assert check in names, (check, sorted(names))
        away()
        try:
            code, results = _preflight(catalog, env, url)
            failing = [c["check"] for c in results if c["status"] == "FAIL"]
            assert code == 1 and failing == [check], (check, failing)
        finally:
            back()
        cases.append(Case(check, away, back))
    code, checks = _preflight(catalog, env, url)
    assert code == 0, [c for c in checks if c["status"] == "FAIL"]
    os.environ.pop("E2E_ACCOUNT_QUOTAS", None)
    log(f"preflight fails naming the check, and only it, for each of {len(cases)} things taken away")
    return len(cases)
