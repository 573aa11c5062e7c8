"""What must exist in the emulator after apply, derived from the catalog's model, and
what must be gone after destroy. Every expectation comes from the catalog, never from
a hand-written list."""

from __future__ import annotations

import json
import re
from typing import Any

from catalog_expectations import (expected_autoscaling, expected_capacity, expected_health_path, expected_sizing,
                                  raw_catalog, scheduled_task_in, service_in, services_in, services_on_ecs)
from generator.catalog.model import Deployment
from harness import EDGE_REGION, ORIGIN_VERIFY_VALUE, client, pagerduty_endpoint

# Actions that have no resource-level permissions in IAM, so `Resource: "*"` is the only option.
ACTIONS_WITHOUT_RESOURCES = {
    "ecr:GetAuthorizationToken",
    "logs:DescribeLogGroups",
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


class World:
    """boto3 clients for one region of the emulator."""

    def __init__(self, url: str, region: str):
        self.url, self.region = url, region

    def __getattr__(self, service: str) -> Any:
        name = {"elbv2": "elbv2", "autoscaling": "application-autoscaling", "sd": "servicediscovery"}.get(service, service)
        made = client(self.url, name, self.region)
        setattr(self, service, made)
        return made


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assert_applied_world_matches(url: str, deployment: Deployment) -> int:
    """Check the applied environment against the catalog; return the number of facts checked."""
    world = World(url, deployment.platform.region)
    names = deployment.names
    env = deployment.environment
    facts = 0

    cluster = world.ecs.describe_clusters(clusters=[names.cluster], include=["SETTINGS", "CONFIGURATIONS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert cluster["configuration"]["executeCommandConfiguration"]["logging"] == "OVERRIDE"
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    facts += 3

    namespaces = [ns["Name"] for ns in world.sd.list_namespaces()["Namespaces"]]
    assert names.service_connect_namespace in namespaces

    lb = world.elbv2.describe_load_balancers(Names=[names.alb])["LoadBalancers"][0]
    attributes = {a["Key"]: a["Value"] for a in world.elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attributes["deletion_protection.enabled"] == str(env.deletion_protection).lower()
    assert attributes["routing.http2.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true" and attributes["access_logs.s3.bucket"] == env.logs_bucket
    listeners = {l["Port"]: l for l in world.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert world.wafv2.get_web_acl_for_resource(ResourceArn=lb["LoadBalancerArn"])["WebACL"]["Name"] == names.web_acl
    facts += 7
    rules = world.elbv2.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
    rules_by_priority = {int(rule["Priority"]): rule for rule in rules if rule["Priority"] != "default"}
    raw = raw_catalog(deployment.catalog.file)
    # Services with `internal: true` (catalog file) have their rules on the internal load balancer.
    internal_rules_by_priority: dict[int, dict[str, Any]] = {}
    internal_routed = [name for name, body in services_in(raw, raw["environments"][env.name]).items()
                       if body.get("internal") and body.get("routes") and name in {s.name for s in deployment.services}]
    if internal_routed:
        internal_lb = world.elbv2.describe_load_balancers(Names=[names.internal_alb])["LoadBalancers"][0]
        assert internal_lb["Scheme"] == "internal", internal_lb["Scheme"]
        tag_filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in env.private_subnets.tags]
        private = {subnet["SubnetId"] for subnet in world.ec2.describe_subnets(Filters=tag_filters)["Subnets"]}
        assert {zone["SubnetId"] for zone in internal_lb["AvailabilityZones"]} <= private
        internal_listener = next(l for l in world.elbv2.describe_listeners(LoadBalancerArn=internal_lb["LoadBalancerArn"])["Listeners"]
                                 if l["Port"] == 443)
        internal_rules_by_priority = {int(rule["Priority"]): rule for rule in
                                      world.elbv2.describe_rules(ListenerArn=internal_listener["ListenerArn"])["Rules"]
                                      if rule["Priority"] != "default"}
        facts += 2
    else:
        assert names.internal_alb not in {lb["LoadBalancerName"] for lb in world.elbv2.describe_load_balancers()["LoadBalancers"]}

    tasks_sg_ids: dict[str, str] = {}
    services = world.ecs.describe_services(cluster=names.cluster, services=[s.name for s in deployment.services][:10])["services"]
    for start in range(10, len(deployment.services), 10):
        services += world.ecs.describe_services(
            cluster=names.cluster, services=[s.name for s in deployment.services][start:start + 10]
        )["services"]
    by_name = {service["serviceName"]: service for service in services}
    # Which services run on ECS comes from the catalog file (overrides, `enabled`, `migration`), not the
    # model: a model that drops or adds a service fails here.
    listed: list[str] = []
    for page in world.ecs.get_paginator("list_services").paginate(cluster=names.cluster):
        listed += page["serviceArns"]
    # A deleted service stays listed while it drains (INACTIVE afterwards in the emulator): only ACTIVE ones run.
    running = [service["serviceName"] for start in range(0, len(listed), 10)
               for service in world.ecs.describe_services(cluster=names.cluster, services=listed[start:start + 10])["services"]
               if service["status"] == "ACTIVE"]
    expected_on_ecs = services_on_ecs(raw, raw["environments"][env.name])
    assert sorted(running) == sorted(expected_on_ecs), (sorted(running), sorted(expected_on_ecs))
    facts += 1
    for svc in deployment.services:
        model = svc.service
        # Expectations from the catalog file (its overrides for this environment applied by the tests'
        # own reading), not from the model.
        written = service_in(raw["services"][svc.name], env.name)
        service = by_name[svc.name]
        strategy = {s["capacityProvider"]: (s.get("weight", 0), s.get("base", 0)) for s in service["capacityProviderStrategy"]}
        assert strategy == expected_capacity(raw, written), svc.name
        spot_weight = sum(w for p, (w, _) in strategy.items() if p == "FARGATE_SPOT")
        assert spot_weight * 100 == raw["groups"][written["group"]]["spot_percentage"] * sum(w for w, _ in strategy.values())
        config = service["deploymentConfiguration"]
        assert (config["maximumPercent"], config["minimumHealthyPercent"]) == (200, 100)
        assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        connect = service["deployments"][0]["serviceConnectConfiguration"]
        assert connect["enabled"] is True
        if "port" in written:
            alias = connect["services"][0]["clientAliases"][0]
            assert (alias["dnsName"], alias["port"]) == (svc.name, written["port"])
        else:
            assert not connect.get("services")
        tasks_sg_ids[svc.name] = service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"][0]
        assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"

        task = world.ecs.describe_task_definition(taskDefinition=svc.names.task_family)["taskDefinition"]
        sizing = expected_sizing(raw, written)
        assert (int(task["cpu"]), int(task["memory"])) == (sizing["cpu"], sizing["memory"]), svc.name
        container = task["containerDefinitions"][0]
        # Deploys own the image: the container runs what the service's image parameter says (the
        # catalog's image until the first deploy), always from the service's own repository.
        deployed = world.ssm.get_parameter(Name=svc.names.image_parameter)["Parameter"]["Value"]
        assert container["image"] == deployed, (svc.name, container["image"], deployed)
        repository = written.get("image_repository", f"{raw['platform']['name']}/{svc.name}")
        assert container["image"].startswith(f"{raw['platform']['image_registry']}/{repository}:"), container["image"]
        assert [m["containerPort"] for m in container.get("portMappings", [])] == ([written["port"]] if "port" in written else [])
        secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
        assert sorted(secrets) == sorted(written.get("secrets", {})), svc.name
        parameter_prefix = raw["environments"][env.name].get("ssm_parameter_prefix", "/" + env.secret_prefix)
        for var, given in written.get("secrets", {}).items():
            if isinstance(given, dict):  # SSM Parameter Store, by the parameter's ARN
                assert secrets[var].endswith(f":parameter{parameter_prefix}{given['ssm']}"), (svc.name, var, secrets[var])
                assert ":ssm:" in secrets[var]
            else:
                assert f":secret:{env.secret_prefix}{given}-" in secrets[var], (svc.name, var)
        assert {e["name"]: e["value"] for e in container.get("environment", [])} == dict(svc.environment)
        values = {e["name"]: e["value"] for e in container.get("environment", [])}
        for callee in written.get("calls", []):  # Service Connect URLs: tcp:// for a tcp callee, else http://
            callee_url = values.get(callee.upper().replace("-", "_") + "_URL", "")
            if callee_url.split("://")[-1].startswith(f"{callee}:"):
                scheme = "tcp" if raw["services"][callee].get("protocol") == "tcp" else "http"
                assert callee_url == f"{scheme}://{callee}:{raw['services'][callee]['port']}", (svc.name, callee_url)
        options = container["logConfiguration"]["options"]
        assert options.get("awslogs-group", options.get("log_group_name")) == svc.names.log_group
        health_path = expected_health_path(raw, written)
        if health_path and "command" not in written.get("health_check", {}):
            assert f"localhost:{written['port']}{health_path} " in " ".join(container["healthCheck"]["command"])
        # Architecture, command, entry point, health check and task storage as the catalog file says.
        assert task.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64") == written.get("cpu_architecture", "X86_64")
        assert container.get("command") == written.get("command") and container.get("entryPoint") == written.get("entry_point")
        custom_check = written.get("health_check", {}).get("command")
        if custom_check:
            assert container["healthCheck"]["command"] == ["CMD", *custom_check], container["healthCheck"]
        if "healthCheck" in container:
            assert container["healthCheck"]["startPeriod"] == written.get("health_check", {}).get("grace_period_seconds", 60)
        assert task.get("ephemeralStorage", {}).get("sizeInGiB") == written.get("ephemeral_storage_gib"), svc.name
        # Sidecars after the service's container, as the catalog lists them; a log router gets FireLens.
        sidecars = written.get("sidecars", {})
        others = task["containerDefinitions"][1:]
        assert [(c["name"], c["image"]) for c in others] == [(n, s["image"]) for n, s in sidecars.items()], svc.name
        for other in others:
            spec = sidecars[other["name"]]
            assert ("firelensConfiguration" in other) is spec.get("log_router", False), other["name"]
            assert other.get("essential") is spec.get("essential", False)
        waits = {(d["containerName"], d["condition"]) for d in container.get("dependsOn", [])}
        assert waits == {(n, s.get("run_before_service", "START")) for n, s in sidecars.items()
                         if s.get("run_before_service") or s.get("log_router")}, (svc.name, waits)
        router = any(s.get("log_router") for s in sidecars.values())
        assert container["logConfiguration"]["logDriver"] == ("awsfirelens" if router else "awslogs"), svc.name
        # Read-only root filesystem unless the catalog gives a reason; the scratch paths are writable volumes.
        assert container.get("readonlyRootFilesystem", False) is ("writable_root_filesystem" not in written), svc.name
        volumes = {v["name"]: v for v in task.get("volumes", [])}
        mounts = {m["containerPath"]: m for m in container.get("mountPoints", [])}
        efs_volumes = written.get("efs_volumes", {})
        assert sorted(mounts) == sorted([*written.get("scratch_paths", ["/tmp"]), *(v["path"] for v in efs_volumes.values())]), (svc.name, mounts)
        assert {m["sourceVolume"] for m in mounts.values()} == set(volumes), (svc.name, volumes)
        # EFS: encrypted in transit, mounted as the task role, through an access point rooted at the
        # volume's directory and owned by its POSIX user.
        for volume_name, volume in efs_volumes.items():
            mount = mounts[volume["path"]]
            assert mount.get("readOnly", False) is volume.get("read_only", False)
            config = volumes[mount["sourceVolume"]]["efsVolumeConfiguration"]
            assert config["transitEncryption"] == "ENABLED" and config["authorizationConfig"]["iam"] == "ENABLED"
            point = world.efs.describe_access_points(AccessPointId=config["authorizationConfig"]["accessPointId"])["AccessPoints"][0]
            assert point["RootDirectory"]["Path"] == volume.get("directory", f"/{svc.name}/{volume_name}")
            user = volume.get("posix_user", {"uid": 1000, "gid": 1000})
            assert (point["PosixUser"]["Uid"], point["PosixUser"]["Gid"]) == (user["uid"], user["gid"])
            file_system = raw["environments"][env.name]["file_systems"][volume["file_system"]]
            tagged = world.efs.describe_file_systems(FileSystemId=point["FileSystemId"])["FileSystems"][0]
            assert {t["Key"]: t["Value"] for t in tagged.get("Tags", [])}.items() >= file_system["tags"].items()
            facts += 4
        if written.get("protocol") == "tcp":  # no app protocol: Service Connect passes the bytes through
            assert "appProtocol" not in container["portMappings"][0], svc.name
            assert not model.load_balanced and "healthCheck" not in container or "command" in written.get("health_check", {})
        elif "port" in written:  # Service Connect's app protocol is the catalog's protocol
            assert container["portMappings"][0]["appProtocol"] == written.get("protocol", "http"), svc.name
        facts += 14

        if model.load_balanced:
            group = world.elbv2.describe_target_groups(Names=[svc.names.target_group])["TargetGroups"][0]
            # The group's own port is a fixed placeholder (ECS registers each task with its container
            # port); health checks go to the port the target was registered with.
            assert (group["TargetType"], group["HealthCheckPath"]) == ("ip", health_path)
            assert group.get("HealthCheckPort", "traffic-port") == "traffic-port"
            assert service["loadBalancers"][0]["targetGroupArn"] == group["TargetGroupArn"]
            protocol = written.get("protocol", "http")
            assert group["ProtocolVersion"] == {"http": "HTTP1", "http2": "HTTP2", "grpc": "GRPC"}[protocol], svc.name
            assert group["Matcher"] == ({"GrpcCode": "0"} if protocol == "grpc" else {"HttpCode": "200-399"}), group["Matcher"]
            on_listener = internal_rules_by_priority if written.get("internal") else rules_by_priority
            for rule in svc.listener_rules:
                applied = on_listener.pop(rule.priority)
                conditions = {c["Field"]: sorted(_condition_values(c)) for c in applied["Conditions"]}
                expected = {}
                if rule.hosts:
                    expected["host-header"] = sorted(rule.hosts)
                if rule.paths:
                    expected["path-pattern"] = sorted(rule.paths)
                assert conditions == expected, (svc.name, rule.priority)
                assert applied["Actions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
                facts += 2

    assert not rules_by_priority, f"listener rules the catalog does not define: {sorted(rules_by_priority)}"
    assert not internal_rules_by_priority, f"internal rules the catalog does not define: {sorted(internal_rules_by_priority)}"

    targets = {
        t["ResourceId"]: t
        for t in world.autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    }
    policies = world.autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    for svc in deployment.services:
        written = service_in(raw["services"][svc.name], env.name)
        resource_id = f"service/{names.cluster}/{svc.name}"
        target = targets[resource_id]
        sizing = expected_sizing(raw, written)
        assert (target["MinCapacity"], target["MaxCapacity"]) == (sizing["min_tasks"], sizing["max_tasks"])
        mine = {p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"] for p in policies if p["ResourceId"] == resource_id}
        scaling = expected_autoscaling(raw, written)
        for policy, target_key in ((f"{svc.name}-cpu-scaling", "cpu_target"), (f"{svc.name}-memory-scaling", "memory_target")):
            got = mine[policy]
            assert (got["TargetValue"], got["ScaleInCooldown"], got["ScaleOutCooldown"]) == (
                scaling[target_key], scaling["scale_in_cooldown"], scaling["scale_out_cooldown"]), policy
        facts += 7

    facts += _assert_security_groups(world, deployment, tasks_sg_ids)
    facts += assert_edge(url, deployment)
    facts += assert_scheduled_tasks(url, deployment)
    facts += _assert_iam(world, deployment)

    log_groups = {g["logGroupName"]: g for g in world.logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{names.prefix}/")["logGroups"]}
    for name in expected_on_ecs:  # design 8.1: /ecs/<platform>-<environment>/<service>
        assert log_groups[f"/ecs/{raw['platform']['name']}-{env.name}/{name}"]["retentionInDays"] == env.log_retention_days
    assert log_groups[names.execute_command_log_group]["retentionInDays"] == env.log_retention_days
    facts += len(deployment.services) + 1

    topics = {t["TopicArn"].rsplit(":", 1)[1]: t["TopicArn"] for t in world.sns.list_topics()["Topics"]}
    alerts, paging = topics[names.alerts_topic], topics[names.paging_topic]
    subscriptions = world.sns.list_subscriptions_by_topic(TopicArn=paging)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("https", pagerduty_endpoint(env.name))]
    alarms = {a["AlarmName"]: a for a in world.cloudwatch.describe_alarms(AlarmNamePrefix=names.prefix, MaxRecords=100)["MetricAlarms"]}
    token = None
    while True:
        page = world.cloudwatch.describe_alarms(AlarmNamePrefix=names.prefix, MaxRecords=100, **({"NextToken": token} if token else {}))
        alarms.update({a["AlarmName"]: a for a in page["MetricAlarms"]})
        token = page.get("NextToken")
        if not token:
            break
    for svc in deployment.services:
        assert alarms[svc.names.cpu_high_alarm]["Threshold"] == 85 and alarms[svc.names.cpu_high_alarm]["AlarmActions"] == [alerts]
        assert alarms[svc.names.memory_high_alarm]["Threshold"] == 90
        if svc.service.load_balanced:
            assert sorted(alarms[svc.names.target_5xx_rate_alarm]["AlarmActions"]) == sorted([alerts, paging])
            low = alarms[svc.names.healthy_hosts_low_alarm]
            minimum = expected_sizing(raw, service_in(raw["services"][svc.name], env.name))["min_tasks"]
            assert (low["Threshold"], low["ComparisonOperator"]) == (minimum, "LessThanThreshold")
        else:
            assert svc.names.target_5xx_rate_alarm not in alarms
        facts += 3
    return facts


def _condition_values(condition: dict[str, Any]) -> list[str]:
    for key in ("HostHeaderConfig", "PathPatternConfig"):
        if key in condition:
            return condition[key]["Values"]
    return condition.get("Values", [])


def assert_scheduled_tasks(url: str, deployment: Deployment) -> int:
    """Each scheduled task of the catalog file: its schedule, and the task definition the schedule runs."""
    raw = raw_catalog(deployment.catalog.file)
    world, names, facts = World(url, deployment.platform.region), deployment.names, 0
    cluster_arn = world.ecs.describe_clusters(clusters=[names.cluster])["clusters"][0]["clusterArn"]
    listed = {s["Name"] for s in world.scheduler.list_schedules()["Schedules"]}
    tasks = {name: run for name, task in raw.get("scheduled_tasks", {}).items()
             if (run := scheduled_task_in(task, deployment.environment.name)) is not None}
    wanted = {f"{names.prefix}-{name}" for name in tasks}
    assert listed == wanted, (listed, wanted)
    for name, written in tasks.items():
        schedule = world.scheduler.get_schedule(Name=f"{names.prefix}-{name}")
        assert schedule["ScheduleExpression"] == written["schedule"]
        assert schedule.get("ScheduleExpressionTimezone", "UTC") == written.get("timezone", "UTC")
        target = schedule["Target"]
        family = f"{raw['platform']['name']}-{name}-{deployment.environment.name}"
        assert target["Arn"] == cluster_arn and target["EcsParameters"]["LaunchType"] == "FARGATE"
        assert target["EcsParameters"]["TaskDefinitionArn"].endswith(f":task-definition/{family}"), target
        definition = world.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        container = definition["containerDefinitions"][0]
        assert (int(definition["cpu"]), int(definition["memory"])) == (written.get("cpu", 256), written.get("memory", 512))
        assert container.get("command") == written.get("command")
        assert sorted(s["name"] for s in container.get("secrets", [])) == sorted(written.get("secrets", {}))
        variables = {e["name"]: e["value"] for e in container.get("environment", [])}
        assert all(variables.get(key) == value for key, value in written.get("environment", {}).items()), variables
        # Its security group reaches HTTPS and exactly the data stores the catalog gives it, which admit it.
        group = target["EcsParameters"]["NetworkConfiguration"]["awsvpcConfiguration"]["SecurityGroups"][0]
        rules = world.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
        egress_ports = sorted(rule["FromPort"] for rule in rules if rule["IsEgress"])
        store_ports = [raw["data_stores"][store]["port"] for store in written.get("data_stores", [])]
        assert egress_ports == sorted({443, *store_ports}), (name, egress_ports)
        for rule in rules:
            if rule["IsEgress"] and rule["FromPort"] != 443:
                peer = rule["ReferencedGroupInfo"]["GroupId"]
                admitted = world.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [peer]}])["SecurityGroupRules"]
                assert any(not r["IsEgress"] and r.get("ReferencedGroupInfo", {}).get("GroupId") == group
                           and r["FromPort"] == rule["FromPort"] for r in admitted), (name, peer)
        facts += 8
    return facts


def host_names(raw: dict[str, Any], env_name: str) -> list[str]:
    """Every host of the environment's internet-facing load balancer, from the catalog file: routes of the
    services it runs (overrides applied) that are not `internal`."""
    env = raw["environments"][env_name]
    domain = env["domain"]
    labels = {label for service in services_in(raw, env).values() if not service.get("internal")
              for route in service.get("routes", []) for label in route.get("hosts", [])}
    return sorted(f"{label}.{domain}" for label in labels)


def dns_of(raw: dict[str, Any], env_name: str, label: str) -> str:
    """The catalog's rule for where a host's record points (schema description of `dns`)."""
    env = raw["environments"][env_name]
    if label in env.get("dns", {}):
        return env["dns"][label]
    return "unmanaged" if "legacy" in env else ("edge" if "edge" in env else "alb")


def behind_cloudfront_only(raw: dict[str, Any], env_name: str) -> bool:
    env = raw["environments"][env_name]
    labels = {host.split(".", 1)[0] for host in host_names(raw, env_name)}
    return "edge" in env and all(dns_of(raw, env_name, label) in ("edge", "legacy") for label in labels)


def assert_edge(url: str, deployment: Deployment) -> int:
    """CloudFront in front of the load balancer, as the catalog file says (design 1.1)."""
    raw = raw_catalog(deployment.catalog.file)
    env_name, names = deployment.environment.name, deployment.names
    env = raw["environments"][env_name]
    world, edge_world = World(url, deployment.platform.region), World(url, EDGE_REGION)
    distributions = edge_world.cloudfront.list_distributions()["DistributionList"].get("Items", [])
    ours = [d for d in distributions if d["Comment"] == names.prefix]
    if "edge" not in env:
        assert not ours
        return 1
    assert len(ours) == 1, distributions
    config = edge_world.cloudfront.get_distribution_config(Id=ours[0]["Id"])["DistributionConfig"]
    assert sorted(config["Aliases"]["Items"]) == host_names(raw, env_name)
    origin = config["Origins"]["Items"][0]
    assert origin["DomainName"] == f"origin.{env['domain']}"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"]["Items"]}
    assert headers == {"X-Origin-Verify": ORIGIN_VERIFY_VALUE}
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert f":acm:{EDGE_REGION}:" in config["ViewerCertificate"]["ACMCertificateArn"]
    acls = edge_world.wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    acl = next(a for a in acls if a["Name"] == f"{raw['platform']['name']}-{env_name}-edge")
    assert config["WebACLId"] == acl["ARN"] and f":wafv2:{EDGE_REGION}:" in acl["ARN"]
    # The load balancer's own WAF blocks requests without the header once it is behind CloudFront only.
    regional = world.wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]
    summary = next(a for a in regional if a["Name"] == names.web_acl)
    rules = world.wafv2.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["WebACL"]["Rules"]
    header_rules = [r for r in rules if r["Name"] == "block-without-origin-header"]
    if behind_cloudfront_only(raw, env_name):
        match = header_rules[0]["Statement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
        assert (header_rules[0]["Action"], match["SearchString"]) in (({"Block": {}}, ORIGIN_VERIFY_VALUE.encode()),
                                                                       ({"Block": {}}, ORIGIN_VERIFY_VALUE))
    else:
        assert not header_rules
    # Each host's record points where the catalog says: `edge` hosts at the distribution.
    zone = world.route53.list_hosted_zones_by_name(DNSName=env["dns_zone"])["HostedZones"][0]
    records = {r["Name"].rstrip("."): r for r in world.route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]}
    for host in host_names(raw, env_name):
        if dns_of(raw, env_name, host.split(".", 1)[0]) == "edge":
            target = records[host]["AliasTarget"]
            assert (target["DNSName"].rstrip(".").lower(), target["HostedZoneId"]) == (ours[0]["DomainName"].lower(), "Z2FDTNDATAQYW2"), (host, target)
    # Internal services' hosts name the internal load balancer, never CloudFront.
    internal_hosts = {f"{label}.{env['domain']}" for service in services_in(raw, env).values() if service.get("internal")
                      for route in service.get("routes", []) for label in route.get("hosts", [])}
    if internal_hosts:
        internal_lb = world.elbv2.describe_load_balancers(Names=[names.internal_alb])["LoadBalancers"][0]
        for host in internal_hosts:
            if dns_of(raw, env_name, host.split(".", 1)[0]) != "unmanaged":
                target = records[host]["AliasTarget"]["DNSName"].rstrip(".").lower()
                assert target == internal_lb["DNSName"].lower(), (host, target)
    origin_target = records[f"origin.{env['domain']}"]["AliasTarget"]["DNSName"].rstrip(".").lower()
    load_balancer = world.elbv2.describe_load_balancers(Names=[names.alb])["LoadBalancers"][0]
    assert origin_target == load_balancer["DNSName"].lower()
    return 12


def _rules_of(world: World, group_id: str) -> list[dict[str, Any]]:
    return world.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]


def _assert_security_groups(world: World, deployment: Deployment, tasks_sg_ids: dict[str, str]) -> int:
    facts = 0
    alb_group = world.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [deployment.names.alb_security_group]}])["SecurityGroups"][0]
    alb_rules = _rules_of(world, alb_group["GroupId"])
    open_ingress = sorted((r["FromPort"], r["ToPort"]) for r in alb_rules if not r["IsEgress"] and r.get("CidrIpv4") == "0.0.0.0/0")
    from_prefix_lists = sorted((r["PrefixListId"], r["FromPort"]) for r in alb_rules if not r["IsEgress"] and r.get("PrefixListId"))
    if behind_cloudfront_only(raw_catalog(deployment.catalog.file), deployment.environment.name):
        cloudfront = world.ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}])["PrefixLists"][0]
        assert (open_ingress, from_prefix_lists) == ([], [(cloudfront["PrefixListId"], 443)]), (open_ingress, from_prefix_lists)
    else:
        assert (open_ingress, from_prefix_lists) == ([(80, 80), (443, 443)], [])
    raw = raw_catalog(deployment.catalog.file)
    env_raw = raw["environments"][deployment.environment.name]
    written = {s.name: service_in(raw["services"][s.name], deployment.environment.name) for s in deployment.services}
    internal = {name for name, body in written.items() if body.get("internal") and body.get("routes")}
    alb_egress = {(r["ReferencedGroupInfo"]["GroupId"], r["FromPort"]) for r in alb_rules if r["IsEgress"]}
    assert alb_egress == {(tasks_sg_ids[s.name], s.service.port) for s in deployment.services
                          if s.service.load_balanced and s.name not in internal}
    facts += 2
    internal_group_id = None
    if internal:
        # The internal load balancer: HTTPS from the VPC (and the pods while migrating), out to internal services.
        internal_group = world.ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [deployment.names.internal_alb_security_group]}])["SecurityGroups"][0]
        internal_group_id = internal_group["GroupId"]
        internal_rules = _rules_of(world, internal_group_id)
        vpc_cidr = world.ec2.describe_vpcs(VpcIds=[internal_group["VpcId"]])["Vpcs"][0]["CidrBlock"]
        ingress = sorted((r.get("CidrIpv4"), r["FromPort"]) for r in internal_rules if not r["IsEgress"])
        clients = [vpc_cidr, *env_raw.get("legacy", {}).get("cluster_cidrs", [])]
        assert ingress == sorted((cidr, 443) for cidr in clients), ingress
        egress = {(r["ReferencedGroupInfo"]["GroupId"], r["FromPort"]) for r in internal_rules if r["IsEgress"]}
        assert egress == {(tasks_sg_ids[name], written[name]["port"]) for name in internal}
        facts += 2
    # EFS: the mount targets' group admits NFS from exactly the services that mount the file system.
    file_system_groups = {}
    for name, spec in env_raw.get("file_systems", {}).items():
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in spec["security_group"]["tags"].items()]
        file_system_groups[name] = world.ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"]
    mounts = {name: {volume["file_system"] for volume in body.get("efs_volumes", {}).values()} for name, body in written.items()}
    for file_system, group_id in file_system_groups.items():
        ingress = {(r["ReferencedGroupInfo"]["GroupId"], r["FromPort"]) for r in _rules_of(world, group_id) if not r["IsEgress"]}
        assert ingress == {(tasks_sg_ids[name], 2049) for name, used in mounts.items() if file_system in used}, file_system
        facts += 1
    store_ports = {name: port for name, port, _ in deployment.data_stores}
    store_groups = {}
    for name, _, lookup in deployment.data_stores:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in lookup.tags]
        store_groups[name] = world.ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"]
    for svc in deployment.services:
        group_id = tasks_sg_ids[svc.name]
        rules = _rules_of(world, group_id)
        ingress = {(r.get("ReferencedGroupInfo", {}).get("GroupId"), r["FromPort"]) for r in rules if not r["IsEgress"]}
        expected = {(tasks_sg_ids[caller], svc.service.port) for caller in svc.callers}
        if svc.service.load_balanced:
            expected.add((internal_group_id if svc.name in internal else alb_group["GroupId"], svc.service.port))
        assert ingress == expected, svc.name
        assert not any(r.get("CidrIpv4") for r in rules if not r["IsEgress"]), f"{svc.name} is open to a CIDR"
        egress = {(r.get("ReferencedGroupInfo", {}).get("GroupId") or r.get("CidrIpv4"), r["FromPort"]) for r in rules if r["IsEgress"]}
        expected_egress = {("0.0.0.0/0", 443)}
        expected_egress |= {(tasks_sg_ids[callee], deployment_port(deployment, callee)) for callee in svc.service.calls}
        expected_egress |= {(store_groups[store], store_ports[store]) for store in svc.service.data_stores}
        expected_egress |= {(file_system_groups[file_system], 2049) for file_system in mounts[svc.name]}
        assert egress == expected_egress, (svc.name, egress, expected_egress)
        facts += 3
    for store, group_id in store_groups.items():
        ingress = {(r["ReferencedGroupInfo"]["GroupId"], r["FromPort"]) for r in _rules_of(world, group_id) if not r["IsEgress"]}
        users = {(tasks_sg_ids[s.name], store_ports[store]) for s in deployment.services if store in s.service.data_stores}
        # Scheduled tasks given the store in the catalog file are admitted too (their group: `<prefix>-<task>`).
        raw_tasks = raw_catalog(deployment.catalog.file).get("scheduled_tasks", {})
        for task_name, task in raw_tasks.items():
            run = scheduled_task_in(task, deployment.environment.name)
            if run is not None and store in run.get("data_stores", []):
                task_group = world.ec2.describe_security_groups(Filters=[
                    {"Name": "group-name", "Values": [f"{deployment.names.prefix}-{task_name}"]}])["SecurityGroups"][0]["GroupId"]
                users.add((task_group, store_ports[store]))
        assert ingress == users, (store, ingress, users)
        facts += 1
    return facts


def deployment_port(deployment: Deployment, name: str) -> int | None:
    return next(s.service.port for s in deployment.services if s.name == name)


def _policy_documents(world: World, role: str) -> list[dict[str, Any]]:
    documents = []
    for policy in world.iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = world.iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        documents.append(json.loads(document) if isinstance(document, str) else document)
    attached = world.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert not attached, f"{role} has managed policies attached: {attached}"
    return documents


def _assert_least_privilege(role: str, documents: list[dict[str, Any]]) -> None:
    for document in documents:
        for statement in _as_list(document["Statement"]):
            actions = _as_list(statement["Action"])
            assert all(action != "*" and not action.endswith(":*") for action in actions), (role, actions)
            if "*" in _as_list(statement.get("Resource", [])):
                assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (role, actions)


def _assert_iam(world: World, deployment: Deployment) -> int:
    facts = 0
    for svc in deployment.services:
        execution = _policy_documents(world, svc.names.execution_role)
        _assert_least_privilege(svc.names.execution_role, execution)
        statements = {s.get("Sid"): s for d in execution for s in _as_list(d["Statement"])}
        written = service_in(raw_catalog(deployment.catalog.file)["services"][svc.name], deployment.environment.name)
        # The service's image and every sidecar image in a private ECR registry (init containers).
        sidecar_repositories = {f"arn:aws:ecr:{m.group(2)}:{m.group(1)}:repository/{m.group(3)}"
                                for sidecar in written.get("sidecars", {}).values()
                                if (m := re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)", sidecar["image"]))}
        assert sorted(_as_list(statements["PullImage"]["Resource"])) == sorted({svc.image_repository_arn} | sidecar_repositories)
        if svc.secret_names:
            assert len(_as_list(statements["ReadSecrets"]["Resource"])) == len(svc.secret_names)
        else:
            assert "ReadSecrets" not in statements
        env_raw = raw_catalog(deployment.catalog.file)["environments"][deployment.environment.name]
        prefix = env_raw.get("ssm_parameter_prefix", "/" + env_raw["secret_prefix"])
        parameters = sorted(f":parameter{prefix}{given['ssm']}" for given in written.get("secrets", {}).values()
                            if isinstance(given, dict))
        if parameters:  # exactly the service's own parameters
            granted = sorted(_as_list(statements["ReadParameters"]["Resource"]))
            assert len(granted) == len(parameters) and all(g.endswith(p) for g, p in zip(granted, parameters)), granted
            assert _as_list(statements["ReadParameters"]["Action"]) == ["ssm:GetParameters"]
        else:
            assert "ReadParameters" not in statements
        task = _policy_documents(world, svc.names.task_role)
        _assert_least_privilege(svc.names.task_role, task)
        task_statements = {s.get("Sid"): s for d in task for s in _as_list(d["Statement"])}
        volumes = written.get("efs_volumes", {}).values()
        assert ("MountFileSystems" in task_statements) is bool(volumes), svc.name
        assert ("WriteFileSystems" in task_statements) is any(not v.get("read_only", False) for v in volumes), svc.name
        for sid in ("MountFileSystems", "WriteFileSystems"):
            if sid in task_statements:
                assert all(":elasticfilesystem:" in arn for arn in _as_list(task_statements[sid]["Resource"]))
                facts += 1
        # A FireLens router writes the service's logs as the task role.
        routed_logs = any(sidecar.get("log_router") for sidecar in written.get("sidecars", {}).values())
        assert ("LogRouterWritesLogs" in task_statements) is routed_logs, svc.name
        task_actions = {a for d in task for s in _as_list(d["Statement"]) for a in _as_list(s["Action"])}
        assert not any(a.startswith("secretsmanager:") for a in task_actions)
        assert ("s3:GetObject" in task_actions) == bool(svc.s3_read_bucket_arns)
        facts += 4
    raw = raw_catalog(deployment.catalog.file)["platform"]
    if raw.get("ci_deploy_principals") or raw.get("github_repository"):
        ci = _policy_documents(world, deployment.names.ci_deploy_role)
        _assert_least_privilege(deployment.names.ci_deploy_role, ci)
        facts += 1
    if raw.get("github_repository"):
        trust = world.iam.get_role(RoleName=deployment.names.ci_deploy_role)["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        subjects = [value for statement in _as_list(trust["Statement"])
                    for value in _as_list(statement.get("Condition", {}).get("StringEquals", {}).get(
                        "token.actions.githubusercontent.com:sub", []))]
        # Only this environment's GitHub environment may assume this environment's role.
        assert subjects == [f"repo:{raw['github_repository']}:environment:{deployment.environment.name}"], subjects
        facts += 1
    return facts


def assert_nothing_left(url: str, deployment: Deployment, kept_log_groups: frozenset[str] = frozenset()) -> None:
    """After destroy, nothing the apply created may remain, except the services' log groups
    (and `kept_log_groups`, those of services removed or renamed earlier)."""
    world = World(url, deployment.platform.region)
    names = deployment.names
    clusters = world.ecs.describe_clusters(clusters=[names.cluster])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters), clusters
    assert not world.elbv2.describe_load_balancers()["LoadBalancers"]
    assert not world.elbv2.describe_target_groups()["TargetGroups"]
    assert not world.autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    roles = [r["RoleName"] for r in world.iam.list_roles()["Roles"] if r["RoleName"].startswith(names.prefix)]
    assert not roles, roles
    # Service log groups outlive `terraform destroy` (skip_destroy): their logs are evidence until
    # retention ends. Everything else under the environment's prefix must be gone.
    left = [g["logGroupName"] for g in world.logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{names.prefix}/")["logGroups"]]
    kept = {f"/ecs/{names.prefix}/{svc.name}" for svc in deployment.services}
    kept |= {f"/ecs/{names.prefix}/{task.task.name}" for task in deployment.scheduled_tasks}
    assert set(left) - kept <= kept_log_groups, f"log groups left that should be gone: {sorted(set(left) - kept)}"
    assert kept <= set(left), f"service log groups deleted by destroy: {sorted(kept - set(left))}"
    for group in left:
        world.logs.delete_log_group(logGroupName=group)  # what an operator does once retention has run out
    assert not world.cloudwatch.describe_alarms(AlarmNamePrefix=names.prefix)["MetricAlarms"]
    assert not world.sns.list_topics()["Topics"]
    assert not world.wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]
    assert not world.scheduler.list_schedules()["Schedules"]
    edge_world = World(url, EDGE_REGION)
    assert not edge_world.cloudfront.list_distributions()["DistributionList"].get("Items")
    assert not edge_world.wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert not [ns for ns in world.sd.list_namespaces()["Namespaces"] if ns["Name"] == names.service_connect_namespace]
    created_groups = [
        g["GroupName"] for g in world.ec2.describe_security_groups()["SecurityGroups"]
        if g["GroupName"].startswith(names.prefix)
    ]
    assert not created_groups, created_groups
    for _, _, lookup in deployment.data_stores:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in lookup.tags]
        group_id = world.ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"]
        assert not [r for r in _rules_of(world, group_id) if not r["IsEgress"]], "rules left on an existing data store"
    keys = [world.kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in world.kms.list_keys()["Keys"]]
    assert all(k["KeyState"] == "PendingDeletion" for k in keys), keys  # KMS keys are only ever scheduled for deletion
    if deployment.environment.dns_zone:
        zone = world.route53.list_hosted_zones_by_name(DNSName=deployment.environment.dns_zone)["HostedZones"][0]
        records = world.route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        assert {r["Type"] for r in records} <= {"NS", "SOA"}, records


def inline_policy_sizes(world: World, prefix: str) -> dict[str, int]:
    """Characters (whitespace not counted, as IAM counts) of all inline policies of each role named `<prefix>-*`,
    read back from the emulator: what `terraform apply` sent."""
    sizes = {}
    for role in world.iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not name.startswith(prefix + "-"):
            continue
        total = 0
        for policy in world.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = world.iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            text = document if isinstance(document, str) else json.dumps(document)
            total += len(re.sub(r"\s+", "", text))
        sizes[name] = total
    return sizes
