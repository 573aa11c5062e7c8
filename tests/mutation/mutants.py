"""Realistic one-line bugs for `make mutation`, each a slip a reviewer could miss."""

from __future__ import annotations

from dataclasses import dataclass

SVC = "templates/modules/ecs-service/main.tf.j2"
SG = "templates/modules/security-groups/main.tf.j2"
IAM = "templates/modules/iam/main.tf.j2"
ALB = "templates/modules/alb/main.tf.j2"
CLUSTER = "templates/modules/ecs-cluster/main.tf.j2"
ROOT_SERVICES = "templates/environment/services.tf.j2"
MODEL = "generator/catalog/model.py"
DEPLOY = "generator/operate/deploy.py"
NAMING = "generator/catalog/naming.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    occurrence: int = 1  # which occurrence of `old` to change


MUTANTS: tuple[Mutant, ...] = (
    # ecs-service module
    Mutant("listener rule priority shifted by one", SVC, "priority     = each.value.priority", "priority     = each.value.priority + 1"),
    Mutant("secrets dropped from the container", SVC,
           "[for name in sort(keys(var.secrets)) :", "[for name in [] :"),
    Mutant("cpu policy cooldowns swapped", SVC,
           "scale_in_cooldown  = var.autoscaling.scale_in_cooldown", "scale_in_cooldown  = var.autoscaling.scale_out_cooldown"),
    Mutant("memory policy scale-out cooldown from scale-in", SVC,
           "scale_out_cooldown = var.autoscaling.scale_out_cooldown", "scale_out_cooldown = var.autoscaling.scale_in_cooldown", 2),
    Mutant("memory policy tracks the cpu target", SVC,
           "target_value       = var.autoscaling.memory_target", "target_value       = var.autoscaling.cpu_target"),
    Mutant("cpu alarm threshold 80 instead of 85", SVC, "threshold           = 85", "threshold           = 80"),
    Mutant("memory alarm evaluates 3 periods instead of 5", SVC, "evaluation_periods  = 5", "evaluation_periods  = 3", 2),
    Mutant("5xx alarm metric period 5 minutes", SVC, "period      = 60", "period      = 300"),
    Mutant("healthy-hosts alarm threshold fixed at 1", SVC, "threshold           = var.min_tasks", "threshold           = 1"),
    Mutant("log retention fixed at 30 days", SVC, "retention_in_days = var.log_retention_days", "retention_in_days = 30"),
    Mutant("minimum healthy percent 50", SVC, "deployment_minimum_healthy_percent = 100", "deployment_minimum_healthy_percent = 50"),
    Mutant("circuit breaker without rollback", SVC, "rollback = true", "rollback = false"),
    Mutant("tasks get public IPs", SVC, "assign_public_ip = false", "assign_public_ip = true"),
    Mutant("Service Connect alias on port 80", SVC, "port     = var.container_port", "port     = 80"),
    Mutant("target group health check on /", SVC, "path                = var.health_check_path", 'path                = "/"'),
    Mutant("autoscaling minimum is the maximum", SVC, "min_capacity       = var.min_tasks", "min_capacity       = var.max_tasks"),
    Mutant("capacity base ignored in the module", SVC,
           "base              = capacity_provider_strategy.value.base", "base              = 0"),
    # security-groups module
    Mutant("service open to itself instead of the ALB", SG,
           "referenced_security_group_id = local.alb_security_group_id", "referenced_security_group_id = local.service_security_group_ids[each.key]"),
    Mutant("callee rule admits the callee, not the caller", SG,
           "referenced_security_group_id = local.service_security_group_ids[each.value.caller]",
           "referenced_security_group_id = local.service_security_group_ids[each.value.callee]"),
    Mutant("data-store egress on every port", SG,
           "to_port                      = var.data_stores[each.value.store].port", "to_port                      = 65535"),
    # iam module
    Mutant("execution role may read every secret", IAM,
           'resources = [for name in each.value.secret_names : "${local.secret_arn_prefix}${name}-??????"]', 'resources = ["*"]'),
    Mutant("task role reads whole buckets' ARNs", IAM, 'resources = [for arn in each.value.s3_read_bucket_arns : "${arn}/*"]',
           'resources = [for arn in each.value.s3_read_bucket_arns : "*"]'),
    # alb and cluster modules
    Mutant("HTTP redirect is temporary", ALB, 'status_code = "HTTP_301"', 'status_code = "HTTP_302"'),
    Mutant("HTTP/2 disabled", ALB, "enable_http2               = true", "enable_http2               = false"),
    Mutant("Container Insights disabled", CLUSTER, 'value = "enabled"', 'value = "disabled"'),
    # environment root
    Mutant("host condition dropped", ROOT_SERVICES, "hosts    = {{ rule.hosts | hcl }}", "hosts    = {{ () | hcl }}"),
    # model and naming
    Mutant("on-demand base ignored", MODEL,
           "CapacityShare(FARGATE, on_demand // divisor, on_demand_base)", "CapacityShare(FARGATE, on_demand // divisor, 0)"),
    Mutant("spot and on-demand weights swapped", MODEL,
           "CapacityShare(FARGATE_SPOT, spot_percentage // divisor, 0)", "CapacityShare(FARGATE_SPOT, on_demand // divisor, 0)"),
    Mutant("environment variables override service ones", MODEL,
           "{**dict(environment.environment), **dict(urls), **dict(service.environment)}",
           "{**dict(urls), **dict(service.environment), **dict(environment.environment)}"),
    Mutant("secret prefix dropped", MODEL, "(var, environment.secret_prefix + secret)", "(var, secret)"),
    Mutant("health-check path default always used", MODEL,
           'raw.get("health_check_path", default_health_check_path)', "default_health_check_path"),
    Mutant("migration weights swapped", MODEL, "Traffic(step.ecs_percent, 100 - step.ecs_percent,",
           "Traffic(100 - step.ecs_percent, step.ecs_percent,"),
    Mutant("callers switch to Service Connect at 50 %", MODEL,
           "(step.state == MigrationState.SPLIT and step.ecs_percent == 100)",
           "(step.state == MigrationState.SPLIT and step.ecs_percent >= 50)"),
    Mutant("promotion gate inverted", DEPLOY, "if proven != digest:", "if proven == digest:"),
    Mutant("deploy ignores a failed rollout", DEPLOY, 'if state == "FAILED":', 'if state == "FAILURE":'),
    Mutant("log group name without environment", NAMING, 'return f"/ecs/{self.env.prefix}/{self.service}"',
           'return f"/ecs/{self.env.platform}/{self.service}"'),
)
