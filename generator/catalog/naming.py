"""Every AWS name the generator creates, and the limit AWS puts on it.

The model asks here for names, and the semantic checks ask here for the limits,
so a naming rule exists exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameLimit:
    what: str
    limit: int


ALB = NameLimit("load balancer name", 32)
TARGET_GROUP = NameLimit("target group name", 32)
IAM_ROLE = NameLimit("IAM role name", 64)
SECURITY_GROUP = NameLimit("security group name", 255)
LOG_GROUP = NameLimit("log group name", 512)
TASK_FAMILY = NameLimit("task definition family", 255)
ECS_NAME = NameLimit("ECS cluster or service name", 255)
ALARM = NameLimit("alarm name", 255)
SNS_TOPIC = NameLimit("SNS topic name", 256)
WAF_ACL = NameLimit("WAF web ACL name", 128)
EFS_ACCESS_POINT_TAG = NameLimit("EFS access point Name tag", 256)


@dataclass(frozen=True)
class EnvironmentNames:
    """Names of the resources one environment shares between its services."""

    platform: str
    environment: str

    @property
    def prefix(self) -> str:
        return f"{self.platform}-{self.environment}"

    @property
    def cluster(self) -> str:
        return self.prefix

    @property
    def service_connect_namespace(self) -> str:
        return self.prefix

    @property
    def kms_alias(self) -> str:
        # The ecs-cluster module names its key's alias after the cluster; a service group's stack finds it so.
        return f"alias/{self.cluster}"

    @property
    def alb(self) -> str:
        return f"{self.prefix}-alb"

    @property
    def internal_alb(self) -> str:
        return f"{self.prefix}-int"

    # Where each load balancer writes its access logs in the environment's logs bucket (`<prefix>/AWSLogs/...`).
    alb_access_logs_prefix = "alb"
    internal_alb_access_logs_prefix = "internal-alb"

    @property
    def internal_alb_security_group(self) -> str:
        return f"{self.prefix}-internal-alb"

    @property
    def internal_web_acl(self) -> str:
        return f"{self.prefix}-internal-alb"

    @property
    def internal_waf_log_group(self) -> str:
        # WAF logs only to log groups whose name starts with `aws-waf-logs-`.
        return f"aws-waf-logs-{self.prefix}-internal"

    @property
    def internal_elb_5xx_rate_alarm(self) -> str:
        return f"{self.prefix}-internal-load-balancer-5xx-rate-high"

    @property
    def deploy_parameter_prefix(self) -> str:
        return f"/{self.platform}/{self.environment}/services"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.prefix}-"

    @property
    def elb_5xx_rate_alarm(self) -> str:
        return f"{self.prefix}-load-balancer-5xx-rate-high"

    @property
    def legacy_target_group(self) -> str:
        # The Kubernetes ingress during the migration.
        return f"{self.prefix}-legacy-ingress"

    @property
    def alb_security_group(self) -> str:
        return f"{self.prefix}-alb"

    @property
    def web_acl(self) -> str:
        return f"{self.prefix}-alb"

    @property
    def edge_web_acl(self) -> str:
        return f"{self.prefix}-edge"

    @property
    def edge_waf_log_group(self) -> str:
        # WAF logs only to log groups whose name starts with `aws-waf-logs-`.
        return f"aws-waf-logs-{self.prefix}-edge"

    @property
    def waf_log_group(self) -> str:
        # WAF logs only to log groups whose name starts with `aws-waf-logs-`.
        return f"aws-waf-logs-{self.prefix}"

    @property
    def execute_command_log_group(self) -> str:
        return f"/ecs/{self.prefix}/execute-command"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def paging_topic(self) -> str:
        return f"{self.prefix}-paging"

    @property
    def ci_deploy_role(self) -> str:
        return f"{self.prefix}-ci-deploy"

    @property
    def service_role_patterns(self) -> tuple[str, ...]:
        """IAM name patterns of every service's execution and task role (`ServiceNames.execution_role`,
        `.task_role`): the deploy role passes them by pattern, so its policy does not grow with the catalog."""
        return (f"{self.prefix}-*-exec", f"{self.prefix}-*-task")

    def state_key(self, stack: str | None = None) -> str:
        """The S3 key of the environment's state, or of one of its stacks' (`layout: stacks`)."""
        return f"{self.platform}/{self.environment}/{stack + '/' if stack else ''}terraform.tfstate"

    def service(self, service: str, short_name: str, protocol: str = "http") -> "ServiceNames":
        return ServiceNames(self, service, short_name, protocol)


# Service names whose AWS names would collide with the environment's own: the ALB's security
# group (`<prefix>-alb`), the execute-command log group (`/ecs/<prefix>/execute-command`), the
# ingress's target group (`<prefix>-legacy-ingress`) and the load balancer's 5xx alarm.
# The internal load balancer's group and 5xx alarm take `internal-alb` and `internal-load-balancer`.
RESERVED_SERVICE_NAMES = ("alb", "execute-command", "legacy-ingress", "load-balancer", "internal-alb",
                          "internal-load-balancer", "alb-<n>", "load-balancer-<n>")
# The n-th internet-facing load balancer's security group is `<prefix>-alb-<n>`, its alarm `...-load-balancer-<n>-...`.
_NUMBERED_RESERVED = re.compile(r"^(alb|load-balancer)-[0-9]+$")


def is_reserved(name: str | None) -> bool:
    return name is not None and (name in RESERVED_SERVICE_NAMES or bool(_NUMBERED_RESERVED.match(name)))


@dataclass(frozen=True)
class SharedNames:
    """Names of the shared root (image repositories, GitHub OIDC provider)."""

    platform: str

    @property
    def state_key(self) -> str:
        return f"{self.platform}/shared/terraform.tfstate"


@dataclass(frozen=True)
class LoadBalancerNames:
    """Names of one internet-facing load balancer and what belongs to it. The first keeps the names an
    environment had before it had more than one (`<prefix>-alb`); the n-th adds `-<n>`."""

    env: EnvironmentNames
    number: int

    @property
    def _suffix(self) -> str:
        return "" if self.number == 1 else f"-{self.number}"

    @property
    def module(self) -> str:
        """Terraform module label in the environment's root (`alb`, `alb_2`)."""
        return "alb" if self.number == 1 else f"alb_{self.number}"

    @staticmethod
    def number_of_module(module: str | None) -> int | None:
        """The inverse of `module`: 1 for `alb`, n for `alb_<n>`, None for anything else (`internal_alb`)."""
        if module == "alb":
            return 1
        if module and module.startswith("alb_") and module[4:].isdigit():
            return int(module[4:])
        return None

    @property
    def edge_module(self) -> str:
        return "edge" if self.number == 1 else f"edge_{self.number}"

    @property
    def alb(self) -> str:
        return f"{self.env.alb}{self._suffix}"

    @property
    def security_group(self) -> str:
        return f"{self.env.alb_security_group}{self._suffix}"

    @property
    def web_acl(self) -> str:
        return f"{self.env.web_acl}{self._suffix}"

    @property
    def waf_log_group(self) -> str:
        return f"{self.env.waf_log_group}{self._suffix}"

    @property
    def access_logs_prefix(self) -> str:
        return f"{self.env.alb_access_logs_prefix}{self._suffix}"

    @property
    def elb_5xx_rate_alarm(self) -> str:
        return self.env.elb_5xx_rate_alarm if self.number == 1 else f"{self.env.prefix}-load-balancer-{self.number}-5xx-rate-high"

    @property
    def edge_name(self) -> str:
        return f"{self.env.prefix}{self._suffix}"

    @property
    def edge_web_acl(self) -> str:
        return f"{self.env.edge_web_acl}{self._suffix}"

    @property
    def edge_waf_log_group(self) -> str:
        return f"{self.env.edge_waf_log_group}{self._suffix}"

    def origin_host(self, domain: str) -> str:
        """The name CloudFront resolves to reach this load balancer (an alias record in the zone)."""
        return f"origin{self._suffix}.{domain}"


@dataclass(frozen=True)
class ServiceNames:
    env: EnvironmentNames
    service: str
    short_name: str
    protocol: str = "http"

    @property
    def ecs_service(self) -> str:
        return self.service

    @property
    def task_family(self) -> str:
        # Section 4.1 of the design: nexus-<service>-<environment>.
        return f"{self.env.platform}-{self.service}-{self.env.environment}"

    @property
    def parameter_prefix(self) -> str:
        """SSM parameters of the deploys: `<prefix>/image` (the deployed image, read by Terraform),
        `<prefix>/deployments` (history, for rollback), `<prefix>/last-successful-digest` (gates)."""
        return f"{self.env.deploy_parameter_prefix}/{self.service}"

    @property
    def image_parameter(self) -> str:
        return f"{self.parameter_prefix}/image"

    @property
    def deploy_history_parameter(self) -> str:
        return f"{self.parameter_prefix}/deployments"

    @property
    def last_successful_digest_parameter(self) -> str:
        return f"{self.parameter_prefix}/last-successful-digest"

    def in_environment(self, environment: str) -> "ServiceNames":
        """The same service's names in another environment of the platform (the promotion source)."""
        return EnvironmentNames(self.env.platform, environment).service(self.service, self.short_name, self.protocol)

    def alarms(self, load_balanced: bool) -> list[str]:
        """Every alarm of the service: cpu and memory; with a load balancer, its 5xx rate and healthy hosts."""
        return [self.cpu_high_alarm, self.memory_high_alarm, *self.deployment_alarms(load_balanced)]

    def deployment_alarms(self, load_balanced: bool) -> list[str]:
        """The alarms that roll a deployment back (the load balancer's view of the new tasks)."""
        return [self.target_5xx_rate_alarm, self.healthy_hosts_low_alarm] if load_balanced else []

    @property
    def log_group(self) -> str:
        # Section 8.1 of the design: /ecs/nexus-<environment>/<service>.
        return f"/ecs/{self.env.prefix}/{self.service}"

    @property
    def target_group(self) -> str:
        # A new protocol replaces the target group (its protocol version cannot change in place); a name
        # of its own lets the new group be created and the rules moved to it before the old one goes.
        suffix = {"http": "", "http2": "-h2", "grpc": "-grpc"}[self.protocol]
        return f"{self.env.prefix}-{self.short_name}{suffix}"

    @property
    def security_group(self) -> str:
        return f"{self.env.prefix}-{self.service}"

    @property
    def execution_role(self) -> str:
        return f"{self.env.prefix}-{self.service}-exec"

    @property
    def task_role(self) -> str:
        return f"{self.env.prefix}-{self.service}-task"

    @property
    def schedule(self) -> str:
        return f"{self.env.prefix}-{self.service}"

    @property
    def scheduler_role(self) -> str:
        return f"{self.env.prefix}-{self.service}-schedule"

    def access_point(self, volume: str) -> str:
        """Name tag of the EFS access point of one of the service's `efs_volumes`."""
        return f"{self.env.prefix}-{self.service}-{volume}"

    @property
    def cpu_high_alarm(self) -> str:
        return f"{self.env.prefix}-{self.service}-cpu-high"

    @property
    def memory_high_alarm(self) -> str:
        return f"{self.env.prefix}-{self.service}-memory-high"

    @property
    def target_5xx_rate_alarm(self) -> str:
        return f"{self.env.prefix}-{self.service}-5xx-rate-high"

    @property
    def healthy_hosts_low_alarm(self) -> str:
        return f"{self.env.prefix}-{self.service}-healthy-hosts-low"

    def limited_names(self, load_balanced: bool) -> list[tuple[NameLimit, str, str]]:
        """(limit, name, catalog key that shortens it) for every name with an AWS length limit."""
        names = [
            (IAM_ROLE, self.execution_role, "the service name"),
            (IAM_ROLE, self.task_role, "the service name"),
            (SECURITY_GROUP, self.security_group, "the service name"),
            (LOG_GROUP, self.log_group, "the service name"),
            (TASK_FAMILY, self.task_family, "the service name"),
            (ALARM, self.memory_high_alarm, "the service name"),
        ]
        if load_balanced:
            names.append((TARGET_GROUP, self.target_group, "`short_name`"))
            names.append((ALARM, self.healthy_hosts_low_alarm, "the service name"))
        return names


def environment_limited_names(env: EnvironmentNames) -> list[tuple[NameLimit, str]]:
    return [
        (ALB, env.alb),
        (ALB, env.internal_alb),
        (TARGET_GROUP, env.legacy_target_group),
        (IAM_ROLE, env.ci_deploy_role),
        (WAF_ACL, env.web_acl),
        (WAF_ACL, env.edge_web_acl),
        (SNS_TOPIC, env.alerts_topic),
        (SNS_TOPIC, env.paging_topic),
    ]
