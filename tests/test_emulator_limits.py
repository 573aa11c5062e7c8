"""The e2e emulator refuses what AWS refuses (tests/e2e/aws_limits.py), with AWS's error codes,
and accepts a request just inside each limit. One emulator for the module: starting it takes ~3 s."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
from harness import client, emulator  # noqa: E402

REGION = "us-east-1"
ASSUME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with emulator() as running:
        yield running


def refused(code: str, call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert raised.value.response["Error"]["Code"] == code, raised.value.response["Error"]
    return raised.value.response["Error"].get("Message", "")


def policy_of(characters: int) -> str:
    """A policy document of exactly `characters` non-whitespace characters (indented, as the provider writes it)."""
    skeleton = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ""}]}
    overhead = len(json.dumps(skeleton, separators=(",", ":")))
    skeleton["Statement"][0]["Resource"] = "arn:aws:s3:::b/" + "x" * (characters - overhead - len("arn:aws:s3:::b/"))
    return json.dumps(skeleton, indent=2)


def test_role_inline_policies_together_are_limited_to_10240_characters(url: str) -> None:
    iam = client(url, "iam", REGION)
    iam.create_role(RoleName="inline-limit", AssumeRolePolicyDocument=ASSUME)
    iam.put_role_policy(RoleName="inline-limit", PolicyName="a", PolicyDocument=policy_of(6_000))
    iam.put_role_policy(RoleName="inline-limit", PolicyName="b", PolicyDocument=policy_of(4_240))  # exactly 10,240
    message = refused("LimitExceeded", iam.put_role_policy, RoleName="inline-limit", PolicyName="b",
                      PolicyDocument=policy_of(4_241))
    assert "10240" in message and "inline-limit" in message
    # Replacing a policy counts the new version, not both.
    iam.put_role_policy(RoleName="inline-limit", PolicyName="a", PolicyDocument=policy_of(5_000))


def test_managed_policy_is_limited_to_6144_characters(url: str) -> None:
    iam = client(url, "iam", REGION)
    iam.create_policy(PolicyName="managed-at-limit", PolicyDocument=policy_of(6_144))
    refused("LimitExceeded", iam.create_policy, PolicyName="managed-over", PolicyDocument=policy_of(6_145))


def test_statement_without_resource_is_malformed(url: str) -> None:
    iam = client(url, "iam", REGION)
    iam.create_role(RoleName="no-resource", AssumeRolePolicyDocument=ASSUME)
    refused("MalformedPolicyDocument", iam.put_role_policy, RoleName="no-resource", PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}))


def test_role_name_is_limited_to_64_characters(url: str) -> None:
    iam = client(url, "iam", REGION)
    iam.create_role(RoleName="r" * 64, AssumeRolePolicyDocument=ASSUME)
    refused("ValidationError", iam.create_role, RoleName="r" * 65, AssumeRolePolicyDocument=ASSUME)


def _group(url: str, name: str) -> tuple[Any, str]:
    ec2 = client(url, "ec2", REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]  # the default VPC
    return ec2, ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]


def _tcp(port: int, **peer: Any) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer}]


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_sixty_rules_per_group_and_direction(url: str, direction: str) -> None:
    ec2, group = _group(url, f"quota-{direction}")
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    already = len([rule for rule in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"] if rule["IsEgress"] == (direction == "egress")])
    for port in range(1000, 1000 + 60 - already):
        authorize(GroupId=group, IpPermissions=_tcp(port, IpRanges=[{"CidrIp": "10.0.0.0/8"}]))
    refused("RulesPerSecurityGroupLimitExceeded", authorize, GroupId=group,
            IpPermissions=_tcp(2000, IpRanges=[{"CidrIp": "10.0.0.0/8"}]))


def test_cloudfront_prefix_list_counts_as_55_rules(url: str) -> None:
    ec2, group = _group(url, "quota-cloudfront")
    prefix_list = next(item["PrefixListId"] for item in ec2.describe_managed_prefix_lists()["PrefixLists"]
                       if item["PrefixListName"] == "com.amazonaws.global.cloudfront.origin-facing")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_tcp(443, PrefixListIds=[{"PrefixListId": prefix_list}]))
    for port in range(1000, 1005):  # 55 + 5 = 60
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_tcp(port, IpRanges=[{"CidrIp": "10.0.0.0/8"}]))
    refused("RulesPerSecurityGroupLimitExceeded", ec2.authorize_security_group_ingress, GroupId=group,
            IpPermissions=_tcp(1005, IpRanges=[{"CidrIp": "10.0.0.0/8"}]))


def test_a_rule_referencing_a_group_twice_is_a_duplicate_whatever_its_description(url: str) -> None:
    ec2, group = _group(url, "duplicates")
    _, peer = _group(url, "duplicates-peer")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_tcp(
        5432, UserIdGroupPairs=[{"GroupId": peer, "Description": "from the first file system"}]))
    refused("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=_tcp(
        5432, UserIdGroupPairs=[{"GroupId": peer, "Description": "from the second file system"}]))
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_tcp(  # another port is another rule
        6379, UserIdGroupPairs=[{"GroupId": peer, "Description": "cache"}]))


def _container(environment_bytes: int) -> list[dict[str, Any]]:
    return [{"name": "app", "image": "nginx", "memory": 512,
             "environment": [{"name": "FILLER", "value": "x" * environment_bytes}]}]


def test_task_definition_is_limited_to_64_kib(url: str) -> None:
    ecs = client(url, "ecs", REGION)
    ecs.register_task_definition(family="small", containerDefinitions=_container(60_000))
    message = refused("ClientException", ecs.register_task_definition, family="large",
                      containerDefinitions=_container(66_000))
    assert "65536" in message


@pytest.mark.parametrize("path, accepted", [
    ("/" + "/".join(["a" * 24] * 4), True),  # 100 characters, 4 levels
    ("/" + "a" * 100, False), ("/a/b/c/d/e", False), ("/a/../b", False), ("/a//b", False), ("/a/b/", False),
])
def test_access_point_root_directory(url: str, path: str, accepted: bool) -> None:
    efs = client(url, "efs", REGION)
    file_system = efs.create_file_system(CreationToken=f"fs-{path}")["FileSystemId"]
    arguments = {"FileSystemId": file_system, "RootDirectory": {"Path": path}}
    if accepted:
        efs.create_access_point(**arguments)
    else:
        refused("ValidationException", efs.create_access_point, **arguments)


@pytest.mark.parametrize("expression, timezone, accepted", [
    ("cron(0 3 * * ? *)", "Europe/Berlin", True), ("rate(1 minute)", "UTC", True), ("rate(5 minutes)", "UTC", True),
    ("at(2027-02-28T10:00:00)", "UTC", True),
    ("cron(0 3 * * *)", "UTC", False), ("rate(1 minutes)", "UTC", False), ("cron(0 3 1 * MON *)", "UTC", False),
    ("cron(0 3 * * ? *)", "Europe/Berln", False), ("at(2027-02-30T10:00:00)", "UTC", False),
])
def test_scheduler_expressions(url: str, expression: str, timezone: str, accepted: bool) -> None:
    scheduler = client(url, "scheduler", REGION)
    arguments = {"Name": f"s{abs(hash((expression, timezone)))}", "ScheduleExpression": expression,
                 "ScheduleExpressionTimezone": timezone, "FlexibleTimeWindow": {"Mode": "OFF"},
                 "Target": {"Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
                            "RoleArn": "arn:aws:iam::123456789012:role/r"}}
    if accepted:
        scheduler.create_schedule(**arguments)
    else:
        refused("ValidationException", scheduler.create_schedule, **arguments)
