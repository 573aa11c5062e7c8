"""Refusals AWS makes and moto 5.2.5 does not: the emulator of `make e2e` made as strict as AWS.

Test harness only. Each patch raises the error AWS raises, with AWS's error code, so that a generated
environment that would fail `terraform apply` in a real account fails it here too. Written from AWS's
documented quotas (`shared/notes/aws-facts.md`), independently of the generator's own checks, so that a
gap in `validate` shows up as a failed apply instead of being repeated here. `tests/test_emulator_limits.py`
proves that each refusal fires and that a request just inside each limit passes.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

# IAM: all inline policies of one role together, and one managed policy, in characters without whitespace.
ROLE_INLINE_POLICIES_CHARACTERS = 10_240
MANAGED_POLICY_CHARACTERS = 6_144
ROLE_NAME_CHARACTERS = 64
POLICY_NAME_CHARACTERS = 128
# EC2: rules per security group and direction (default quota); a managed prefix list counts as its maximum
# number of entries, CloudFront's origin-facing list as 55.
RULES_PER_SECURITY_GROUP = 60
CLOUDFRONT_ORIGIN_FACING_WEIGHT = 55
# ECS: the RegisterTaskDefinition request, all fields.
TASK_DEFINITION_BYTES = 65_536
# EFS: an access point's root directory.
ACCESS_POINT_PATH_CHARACTERS = 100
ACCESS_POINT_PATH_LEVELS = 4


def policy_characters(document: str) -> int:
    """IAM's measure of a policy: its characters without whitespace."""
    return len(re.sub(r"\s+", "", document))


def _strict_iam() -> None:
    from moto.iam import models
    from moto.iam.exceptions import LimitExceededException, ValidationError

    backend = models.IAMBackend
    create_role, put_role_policy = backend.create_role, backend.put_role_policy
    create_policy, create_policy_version = backend.create_policy, backend.create_policy_version

    def strict_create_role(self: Any, role_name: str, *args: Any, **kwargs: Any) -> Any:
        if len(role_name) > ROLE_NAME_CHARACTERS:
            raise ValidationError(f"1 validation error detected: Value '{role_name}' at 'roleName' failed to satisfy "
                                  f"constraint: Member must have length less than or equal to {ROLE_NAME_CHARACTERS}")
        return create_role(self, role_name, *args, **kwargs)

    def strict_put_role_policy(self: Any, role_name: str, policy_name: str, policy_json: str) -> Any:
        if len(policy_name) > POLICY_NAME_CHARACTERS:
            raise ValidationError(f"Value '{policy_name}' at 'policyName' failed to satisfy constraint: "
                                  f"Member must have length less than or equal to {POLICY_NAME_CHARACTERS}")
        others = {name: doc for name, doc in self.get_role(role_name).policies.items() if name != policy_name}
        total = policy_characters(policy_json) + sum(policy_characters(doc) for doc in others.values())
        if total > ROLE_INLINE_POLICIES_CHARACTERS:
            raise LimitExceededException(
                f"Maximum policy size of {ROLE_INLINE_POLICIES_CHARACTERS} bytes exceeded for role {role_name}")
        return put_role_policy(self, role_name, policy_name, policy_json)

    def refuse_large_managed(document: str) -> None:
        if policy_characters(document) > MANAGED_POLICY_CHARACTERS:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_CHARACTERS}")

    def strict_create_policy(self: Any, description: str, path: str, policy_document: str, *args: Any, **kw: Any) -> Any:
        refuse_large_managed(policy_document)
        return create_policy(self, description, path, policy_document, *args, **kw)

    def strict_create_policy_version(self: Any, policy_arn: str, policy_document: str, *args: Any, **kw: Any) -> Any:
        refuse_large_managed(policy_document)
        return create_policy_version(self, policy_arn, policy_document, *args, **kw)

    backend.create_role = strict_create_role
    backend.put_role_policy = strict_put_role_policy
    backend.create_policy = strict_create_policy
    backend.create_policy_version = strict_create_policy_version


def _strict_security_groups() -> None:
    from moto.ec2.exceptions import RulesPerSecurityGroupLimitExceededError
    from moto.ec2.models import security_groups

    # AWS: a rule that references a group is the same rule whatever its description; moto compares the
    # whole source-group entry (description included), so two such rules would both be created.
    rule_class = security_groups.SecurityGroupRule
    moto_equal = rule_class.__eq__

    def same_rule(self: Any, other: Any) -> bool:
        if bool(self.source_group) != bool(other.source_group):
            return False
        if self.source_group and self.source_group.get("GroupId") != other.source_group.get("GroupId"):
            return False
        saved = (self.source_group, other.source_group)
        self.source_group = other.source_group = None
        try:
            return moto_equal(self, other)
        finally:
            self.source_group, other.source_group = saved

    rule_class.__eq__ = same_rule
    rule_class.__hash__ = object.__hash__

    backend = security_groups.SecurityGroupBackend

    def prefix_list_weight(ec2: Any, prefix_list_id: str) -> int:
        prefix_list = ec2.managed_prefix_lists.get(prefix_list_id)
        if prefix_list is None:
            return 1
        if prefix_list.prefix_list_name == "com.amazonaws.global.cloudfront.origin-facing":
            return CLOUDFRONT_ORIGIN_FACING_WEIGHT
        return int(prefix_list.max_entries or len(prefix_list.entries.get(prefix_list.version, [])) or 1)

    def weight(ec2: Any, rules: list[Any]) -> int:
        return sum(prefix_list_weight(ec2, rule.prefix_list_id) if rule.prefix_list_id else 1 for rule in rules)

    def with_quota(name: str, attribute: str) -> None:
        original = getattr(backend, name)

        def authorize(self: Any, group_name_or_id: str, ip_protocol: str, from_port: str, to_port: str,
                      ip_ranges: list[Any], sgrule_tags: Any = None, source_groups: Any = None,
                      prefix_list_ids: Any = None, *args: Any, **kwargs: Any) -> Any:
            group = self.get_security_group_by_name_or_id(group_name_or_id, kwargs.get("vpc_id"))
            if group is not None:
                adding = (len(ip_ranges or []) + len(source_groups or [])
                          + sum(prefix_list_weight(self, item["PrefixListId"]) for item in prefix_list_ids or []))
                if weight(self, getattr(group, attribute)) + adding > RULES_PER_SECURITY_GROUP:
                    raise RulesPerSecurityGroupLimitExceededError()
            return original(self, group_name_or_id, ip_protocol, from_port, to_port, ip_ranges, sgrule_tags,
                            source_groups, prefix_list_ids, *args, **kwargs)

        setattr(backend, name, authorize)

    with_quota("authorize_security_group_ingress", "ingress_rules")
    with_quota("authorize_security_group_egress", "egress_rules")


def _strict_task_definitions() -> None:
    from moto.ecs import responses
    from moto.ecs.exceptions import ECSException

    response_class = responses.EC2ContainerServiceResponse
    original = response_class.register_task_definition

    def register_task_definition(self: Any) -> Any:
        size = len(self.body.encode() if isinstance(self.body, str) else self.body)
        if size > TASK_DEFINITION_BYTES:
            raise ECSException("ClientException",
                               f"Actual length: '{size}'. Max allowed length is '{TASK_DEFINITION_BYTES}' bytes.")
        return original(self)

    response_class.register_task_definition = register_task_definition


def _strict_access_points() -> None:
    from moto.efs import models
    from moto.efs.exceptions import EFSError

    original = models.EFSBackend.create_access_point

    def create_access_point(self: Any, client_token: str, tags: Any, file_system_id: str, posix_user: Any,
                            root_directory: dict[str, Any]) -> Any:
        path = (root_directory or {}).get("Path", "/")
        levels = [part for part in path.split("/")[1:]]
        if (len(path) > ACCESS_POINT_PATH_CHARACTERS or not path.startswith("/") or (path != "/" and path.endswith("/"))
                or "//" in path or ".." in levels or "." in levels or len(levels) > ACCESS_POINT_PATH_LEVELS):
            error = EFSError("ValidationException", f"1 validation error detected: Value '{path}' at "
                             "'rootDirectory.path' failed to satisfy constraint")
            error.code = 400
            raise error
        return original(self, client_token, tags, file_system_id, posix_user, root_directory)

    models.EFSBackend.create_access_point = create_access_point


_CRON_FIELD = r"[0-9A-Za-z*?/,#L-]+"


def schedule_expression_problem(expression: str, timezone: str | None) -> str | None:
    """EventBridge Scheduler's rules for an expression and its time zone; None when AWS accepts them."""
    if timezone and timezone != "UTC":
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"Invalid ScheduleExpressionTimezone: {timezone}"
    if match := re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression):
        value, unit = int(match.group(1)), match.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            return f"Invalid Schedule Expression {expression}."
        return None
    if match := re.fullmatch(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)", expression):
        try:
            datetime.datetime(*map(int, match.groups()))
        except ValueError:
            return f"Invalid Schedule Expression {expression}."
        return None
    if match := re.fullmatch(r"cron\((.*)\)", expression):
        fields = match.group(1).split(" ")
        if len(fields) != 6 or not all(re.fullmatch(_CRON_FIELD, field) for field in fields):
            return f"Invalid Schedule Expression {expression}."
        day_of_month, day_of_week = fields[2], fields[4]
        if (day_of_month == "?") == (day_of_week == "?"):
            return f"Invalid Schedule Expression {expression}."
        return None
    return f"Invalid Schedule Expression {expression}."


def _strict_schedules() -> None:
    from moto.scheduler import models
    from moto.scheduler.exceptions import ValidationException

    for name in ("create_schedule", "update_schedule"):
        original = getattr(models.EventBridgeSchedulerBackend, name)

        def strict(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            problem = schedule_expression_problem(kwargs.get("schedule_expression", ""),
                                                  kwargs.get("schedule_expression_timezone"))
            if problem:
                raise ValidationException(problem)
            return _original(self, *args, **kwargs)

        setattr(models.EventBridgeSchedulerBackend, name, strict)


def enforce_aws_limits() -> None:
    _strict_iam()
    _strict_security_groups()
    _strict_task_definitions()
    _strict_access_points()
    _strict_schedules()
