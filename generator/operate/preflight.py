"""`python -m generator preflight`: is the account ready for the first `terraform apply` of an environment?

Everything the environment root reads but does not create, and the quotas it needs, checked against the
real account (boto3 via generator/operate/aws.py; `AWS_ENDPOINT_URL` for an emulator): the VPC and subnets by their
lookups (at least two availability zones), data-store and EFS security groups, the certificates (regional,
and us-east-1 for the CloudFront edge) covering every host, the hosted zone, every secret and SSM parameter
the catalog names, the access-logs bucket and its policy for ALB log delivery, the image repositories and
first images, the state bucket, and the quotas (rules per load balancer, target groups, Fargate vCPUs at
maximum tasks, services per cluster). One line per check: PASS, WARN or FAIL with what to do.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

from generator.operate import aws
from generator.operate.aws import error_code
from generator.catalog.cost import task_split
from generator.catalog.model import Deployment, Lookup
from generator.catalog.validate import certificate_names_cover

EDGE_REGION = "us-east-1"
# Service Quotas codes (AWS's, stable): Fargate vCPUs and ECS services per cluster.
FARGATE_ON_DEMAND_VCPU = ("fargate", "L-3032A538")
FARGATE_SPOT_VCPU = ("fargate", "L-36FBB829")
SERVICES_PER_CLUSTER = ("ecs", "L-9EF96962")
# Elastic Load Balancing's account per region, the principal of ALB access-log delivery in regions opened
# before August 2022 (AWS documentation, "Enable access logs for your Application Load Balancer"); newer
# regions use the service principal logdelivery.elasticloadbalancing.amazonaws.com, accepted everywhere.
ELB_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "ca-central-1": "985666609251", "eu-west-1": "156460612806",
    "eu-west-2": "652711504416", "eu-west-3": "009996457667", "eu-central-1": "054676820928",
    "eu-north-1": "897822967062", "eu-south-1": "635631232127", "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887", "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266", "ap-south-1": "718504428378", "sa-east-1": "507241528517",
    "af-south-1": "098369216593", "ap-east-1": "754344448648", "me-south-1": "076674570225",
}
LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    status: str
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status}  {self.check:<28} {self.detail}" + (f" -> {self.fix}" if self.fix else "")


Client = Callable[..., Any]


def _filters(lookup: Lookup) -> dict[str, Any]:
    return {"Filters": [{"Name": f"tag:{key}", "Values": [value]} for key, value in lookup.tags]}


def _described(lookup: Lookup) -> str:
    if lookup.id:
        return f"id {lookup.id}" if isinstance(lookup.id, str) else f"ids {', '.join(lookup.id)}"
    return "tags " + ", ".join(f"{key}={value}" for key, value in lookup.tags)


def _network(client: Client, deployment: Deployment) -> Iterator[Check]:
    env = deployment.environment
    ec2 = client("ec2")
    vpcs = ec2.describe_vpcs(**({"VpcIds": [env.vpc.id]} if env.vpc.id else _filters(env.vpc)))["Vpcs"]
    if len(vpcs) != 1:
        yield Check(FAIL, "vpc", f"{len(vpcs)} VPCs with {_described(env.vpc)}",
                    "tag exactly one VPC so, or give environments." + env.name + ".vpc.id")
        return
    vpc_id = vpcs[0]["VpcId"]
    yield Check(PASS, "vpc", f"{vpc_id} ({_described(env.vpc)})")
    for label, lookup in (("private subnets", env.private_subnets), ("public subnets", env.public_subnets)):
        if lookup.id:
            request: dict[str, Any] = {"SubnetIds": list(lookup.id) if isinstance(lookup.id, tuple) else [lookup.id]}
        else:
            request = _filters(lookup)
            request["Filters"].append({"Name": "vpc-id", "Values": [vpc_id]})
        subnets = ec2.describe_subnets(**request)["Subnets"]
        zones = sorted({subnet["AvailabilityZone"] for subnet in subnets})
        if len(zones) < 2:
            yield Check(FAIL, label, f"{len(subnets)} subnets in {len(zones)} availability zone(s) with "
                                     f"{_described(lookup)} in {vpc_id}",
                        "load balancers and Fargate services need subnets in at least two zones: tag them")
        else:
            yield Check(PASS, label, f"{len(subnets)} subnets in {', '.join(zones)}")
    for name, _, lookup in deployment.data_stores:
        yield _security_group(ec2, f"data store {name}", lookup, vpc_id)
    efs = client("efs")
    for name, file_system, _ in deployment.file_systems:
        systems = efs.describe_file_systems(**({"FileSystemId": file_system.lookup.id} if file_system.lookup.id else {}))
        wanted = dict(file_system.lookup.tags)
        found = [fs for fs in systems.get("FileSystems", []) if file_system.lookup.id or all(
            any(fnmatch.fnmatchcase(tag["Value"], value) and tag["Key"] == key for tag in fs.get("Tags", []))
            for key, value in wanted.items())]
        if len(found) != 1:
            yield Check(FAIL, f"file system {name}", f"{len(found)} EFS file systems with {_described(file_system.lookup)}",
                        "create it (or tag the existing one) before the apply")
        else:
            yield Check(PASS, f"file system {name}", found[0]["FileSystemId"])
        yield _security_group(ec2, f"file system {name} mounts", file_system.security_group, vpc_id)


def _security_group(ec2: Any, check: str, lookup: Lookup, vpc_id: str) -> Check:
    if lookup.id:
        try:
            groups = ec2.describe_security_groups(GroupIds=[lookup.id])["SecurityGroups"]
        except Exception as error:
            if error_code(error) != "InvalidGroup.NotFound":
                raise
            groups = []
    else:
        request = _filters(lookup)
        request["Filters"].append({"Name": "vpc-id", "Values": [vpc_id]})
        groups = ec2.describe_security_groups(**request)["SecurityGroups"]
    if len(groups) != 1:
        return Check(FAIL, check, f"{len(groups)} security groups with {_described(lookup)} in {vpc_id}",
                     "the root adds rules to exactly one existing group: create or tag it")
    return Check(PASS, check, groups[0]["GroupId"])


def _certificate(client: Client, check: str, region: str | None, domain: str, hosts: list[str]) -> Check:
    acm = client("acm", region) if region else client("acm")
    issued = acm.list_certificates(CertificateStatuses=["ISSUED"]).get("CertificateSummaryList", [])
    chosen = [c for c in issued if c["DomainName"] == domain]
    if not chosen:
        pending = [c for c in acm.list_certificates().get("CertificateSummaryList", []) if c["DomainName"] == domain]
        where = f" in {region}" if region else ""
        if pending:
            return Check(FAIL, check, f"the certificate for {domain}{where} is not issued yet",
                         "finish its DNS validation")
        return Check(FAIL, check, f"no issued ACM certificate for {domain}{where}",
                     f"request one for {domain}{where} and validate it")
    names = acm.describe_certificate(CertificateArn=chosen[0]["CertificateArn"])["Certificate"].get(
        "SubjectAlternativeNames", [domain]) or [domain]
    uncovered = [host for host in hosts if not certificate_names_cover((domain, *names), host)]
    if uncovered:
        return Check(FAIL, check, f"{domain} does not cover {', '.join(uncovered)}",
                     "add them as alternative names, or change certificate_domain")
    return Check(PASS, check, f"{domain} covers {len(hosts)} host(s)")


def _certificates(client: Client, deployment: Deployment) -> Iterator[Check]:
    env = deployment.environment
    internet = [host for host, _ in deployment.dns_records]
    internal = list(deployment.internal_dns_records)
    yield _certificate(client, "certificate", None, env.certificate_domain, internet + internal)
    if env.edge:
        # CloudFront refuses an alias its certificate does not cover; internal hosts are never aliases.
        yield _certificate(client, "edge certificate", EDGE_REGION, env.edge.certificate_domain,
                           list(deployment.edge_aliases))
    if env.dns_zone:
        zones = client("route53").list_hosted_zones_by_name(DNSName=env.dns_zone).get("HostedZones", [])
        if any(zone["Name"].rstrip(".") == env.dns_zone.rstrip(".") for zone in zones):
            yield Check(PASS, "hosted zone", env.dns_zone)
        else:
            yield Check(FAIL, "hosted zone", f"no Route 53 hosted zone {env.dns_zone}",
                        "create it (and delegate the domain to it) before the apply")


def _secrets(client: Client, deployment: Deployment) -> Iterator[Check]:
    env = deployment.environment
    workloads = (*deployment.services, *deployment.scheduled_tasks)
    secrets = sorted({name for svc in workloads for name in svc.secret_names}
                     | {env.pagerduty_endpoint_secret}
                     | ({deployment.origin_verify_secret} if deployment.origin_verify_secret else set()))
    missing = aws.missing_secrets(client, secrets)
    if missing:
        yield Check(FAIL, "secrets", f"{len(missing)} of {len(secrets)} missing in Secrets Manager: {', '.join(missing)}",
                    "create them (tasks that read a missing secret never start)")
    else:
        yield Check(PASS, "secrets", f"{len(secrets)} Secrets Manager secrets exist")
    parameters = sorted({name for svc in workloads for name in svc.ssm_parameter_names})
    absent = aws.missing_parameters(client, parameters)
    if absent:
        yield Check(FAIL, "ssm parameters", f"missing: {', '.join(sorted(absent))}", "create them before the apply")
    elif parameters:
        yield Check(PASS, "ssm parameters", f"{len(parameters)} parameters exist")


def _log_delivery_allowed(policy: dict[str, Any], bucket: str, prefix: str, account: str, region: str) -> bool:
    target = f"arn:aws:s3:::{bucket}/{prefix}/AWSLogs/{account}/elasticloadbalancing/{region}/log.gz"
    principals = {f"arn:aws:iam::{ELB_ACCOUNTS[region]}:root", ELB_ACCOUNTS[region]} if region in ELB_ACCOUNTS else set()
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("s3:PutObject", action) for action in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(target, resource) for resource in resources):
            continue
        principal = statement.get("Principal", {})
        given = principal.get("AWS", []) if isinstance(principal, dict) else principal
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        given = [given] if isinstance(given, str) else given
        services = [services] if isinstance(services, str) else services
        if LOG_DELIVERY_SERVICE in services or principals & set(given):
            return True
    return False


def _buckets(client: Client, deployment: Deployment, account: str) -> Iterator[Check]:
    env, region = deployment.environment, deployment.platform.region
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=env.logs_bucket)
    except Exception as error:
        if error_code(error) not in ("404", "NoSuchBucket", "403", "NotFound"):
            raise
        yield Check(FAIL, "logs bucket", f"{env.logs_bucket} does not exist (or is not this account's)",
                    "create it in " + region)
    else:
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=env.logs_bucket)["Policy"])
        except Exception as error:
            if error_code(error) != "NoSuchBucketPolicy":
                raise
            policy = {}
        names = deployment.names
        prefixes = [*(balancer.names.access_logs_prefix for balancer in deployment.load_balancers),
                    *([names.internal_alb_access_logs_prefix] if deployment.has_internal_load_balancer else [])]
        refused = [prefix for prefix in prefixes if not _log_delivery_allowed(policy, env.logs_bucket, prefix, account, region)]
        if refused:
            yield Check(FAIL, "logs bucket", f"the policy of {env.logs_bucket} does not let ALB log delivery write "
                                             f"{', '.join(f'{p}/AWSLogs/{account}/*' for p in refused)}",
                        f"allow s3:PutObject to {LOG_DELIVERY_SERVICE} (or ELB's account of {region}); the load "
                        "balancer cannot be created with access logs otherwise")
        else:
            yield Check(PASS, "logs bucket", f"{env.logs_bucket} accepts ALB access logs")
    state_bucket = env.state_bucket or deployment.platform.state_bucket
    if state_bucket:
        try:
            s3.head_bucket(Bucket=state_bucket)
            yield Check(PASS, "state bucket", state_bucket)
        except Exception as error:
            if error_code(error) not in ("404", "NoSuchBucket", "403", "NotFound"):
                raise
            yield Check(FAIL, "state bucket", f"{state_bucket} does not exist (or is not this account's)",
                        "create it (versioned, encrypted) before `terraform init`")


def _images(client: Client, deployment: Deployment) -> Iterator[Check]:
    platform = deployment.platform
    ecr = client("ecr", platform.registry_region)
    wanted = sorted({(svc.service.image_repository, svc.image.rsplit(":", 1)[1]) for svc in deployment.services}
                    | {(task.task.image_repository, task.image.rsplit(":", 1)[1]) for task in deployment.scheduled_tasks})
    missing_repositories, missing_images = [], []
    for repository, tag in wanted:
        try:
            ecr.describe_images(registryId=platform.registry_account, repositoryName=repository,
                                imageIds=[{"imageTag": tag}])
        except Exception as error:
            code = error_code(error)
            if code == "RepositoryNotFoundException":
                missing_repositories.append(repository)
            elif code == "ImageNotFoundException":
                missing_images.append(f"{repository}:{tag}")
            else:
                raise
    if missing_repositories:
        yield Check(FAIL, "image repositories", f"{len(missing_repositories)} missing: {', '.join(missing_repositories)}",
                    "apply the shared root (out/shared) first; it creates them")
    else:
        yield Check(PASS, "image repositories", f"{len(wanted)} exist in {platform.image_registry}")
    if missing_images:
        yield Check(FAIL, "first images", f"not pushed: {', '.join(missing_images)}",
                    "push them (the services start with the environment's image_tag)")
    elif not missing_repositories:
        yield Check(PASS, "first images", f"{len(wanted)} images pushed")


def _quota(client: Client, code: tuple[str, str]) -> float | None:
    try:
        return float(client("service-quotas").get_service_quota(ServiceCode=code[0], QuotaCode=code[1])["Quota"]["Value"])
    except Exception as error:
        if error_code(error) in ("NoSuchResourceException", "AccessDeniedException", "IllegalArgumentException"):
            return None
        raise


def needs(deployment: Deployment) -> dict[str, float]:
    """What the environment takes at its maximum: listener rules per load balancer, target groups, Fargate vCPUs
    (on-demand and Spot, by the capacity strategies), services."""
    spot = on_demand = 0.0
    for svc in deployment.services:
        service = svc.service
        split = task_split(service, service.sizing.max_tasks)  # as `cost` places them: on-demand base first
        spot += split.spot * service.sizing.cpu / 1024
        on_demand += split.on_demand * service.sizing.cpu / 1024
    on_demand += sum(task.task.cpu / 1024 for task in deployment.scheduled_tasks)
    internal_rules = sum(len(svc.listener_rules) for svc in deployment.internal_services)
    return {"rules": max([internal_rules, *(balancer.listener_rules for balancer in deployment.load_balancers)]),
            "target_groups": sum(1 for svc in deployment.services if svc.service.load_balanced),
            "load_balancers": len(deployment.load_balancers) + (1 if deployment.has_internal_load_balancer else 0),
            "on_demand_vcpu": on_demand, "spot_vcpu": spot, "services": len(deployment.services)}


def _quotas(client: Client, deployment: Deployment) -> Iterator[Check]:
    need = needs(deployment)
    limits = {limit["Name"]: float(limit["Max"]) for limit in client("elbv2").describe_account_limits()["Limits"]}
    for name, wanted, what in (("rules-per-application-load-balancer", need["rules"], "listener rules per load balancer"),
                               ("target-groups", need["target_groups"], "target groups (account-wide)"),
                               ("application-load-balancers", need["load_balancers"],
                                "Application Load Balancers (this environment's; others in the region count too)")):
        if name not in limits:
            yield Check(WARN, f"quota {name}", "not reported by describe_account_limits", "check it in Service Quotas")
        elif wanted > limits[name]:
            yield Check(FAIL, f"quota {name}", f"{wanted:g} {what} needed, the account allows {limits[name]:g}",
                        "request a quota increase (Service Quotas, Elastic Load Balancing)")
        else:
            yield Check(PASS, f"quota {name}", f"{wanted:g} of {limits[name]:g}")
    for code, wanted, label in ((FARGATE_ON_DEMAND_VCPU, need["on_demand_vcpu"], "fargate on-demand vcpu"),
                                (FARGATE_SPOT_VCPU, need["spot_vcpu"], "fargate spot vcpu"),
                                (SERVICES_PER_CLUSTER, need["services"], "services per cluster")):
        value = _quota(client, code)
        if value is None:
            yield Check(WARN, f"quota {label}", f"Service Quotas did not answer for {code[0]} {code[1]}",
                        "check it in the console (new accounts start low)")
        elif wanted > value:
            yield Check(FAIL, f"quota {label}", f"{wanted:g} needed at maximum tasks, the account allows {value:g}",
                        f"request an increase of {code[0]} {code[1]} in Service Quotas")
        else:
            yield Check(PASS, f"quota {label}", f"{wanted:g} of {value:g} at maximum tasks")


def run(deployment: Deployment, client: Client) -> list[Check]:
    """Every check, in the order an apply meets them. AWS not answering at all raises generator.operate.aws.AwsError."""
    with aws.errors(), aws.answers():
        identity = client("sts").get_caller_identity()
        account = identity["Account"]
        results = [Check(PASS, "credentials", f"account {account} as {identity.get('Arn', '?')}")]
        for group in (_network(client, deployment), _certificates(client, deployment), _secrets(client, deployment),
                      _buckets(client, deployment, account), _images(client, deployment), _quotas(client, deployment)):
            results.extend(group)
    return results


def as_json(deployment: Deployment, results: list[Check]) -> dict[str, Any]:
    return {"environment": deployment.environment.name, "passed": all(r.status != FAIL for r in results),
            "checks": [asdict(result) for result in results]}
