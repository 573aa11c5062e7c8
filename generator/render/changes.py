"""What the next `terraform apply` will replace or delete, told before it happens.

Most catalog edits update resources in place. A few cannot: a removed service is
deleted, a renamed one is replaced (its AWS names change), and a new container
port reaches the security-group rules before the new tasks are healthy. `render`
compares the catalog with the environment roots it is about to overwrite and
names each of these, so the reviewer of the render reads it before the plan.
"""

from __future__ import annotations

from pathlib import Path

from generator.render import record as render_record
from generator.catalog.model import Catalog, DnsTarget


DNS_TARGETS = {DnsTarget.ALB: "load balancer", DnsTarget.EDGE: "CloudFront distribution",
               DnsTarget.LEGACY: "Kubernetes ingress"}


def replacement_warnings(catalog: Catalog, out_dir: Path) -> list[str]:
    """One line per service whose next apply replaces or deletes something that carries traffic."""
    warnings = []
    for environment in catalog.environments:
        where = f"environments/{environment.name}"
        deployment = catalog.deployment(environment)
        records = dict(deployment.dns_records)
        try:
            previous = render_record.read(out_dir / "environments" / environment.name)
        except render_record.UnreadableRecord as error:
            warnings.append(f"{where}: the previous render cannot be read, so this render cannot say what the next apply "
                            f"replaces or deletes there; read the plan closely ({error})")
            continue
        if previous is None:
            continue
        for host, target in sorted(previous.dns_records.items()):
            if host not in records:
                warnings.append(
                    f"{where}: the DNS record of {host} (pointing at the {DNS_TARGETS.get(target, target)}) "
                    f"is no longer managed: the apply deletes it; name the host under `dns` to keep it"
                )
        before = previous.services
        if not before:
            continue
        if previous.legacy_ingress and environment.legacy is None:
            split = sorted(f"{service.name} ({service.ecs_percent} %)" for service in before.values()
                           if service.ecs_percent < 100)
            warnings.append(
                f"{where}: `legacy` is removed: every service takes 100 % of its requests on ECS in this apply and "
                f"the Kubernetes ingress gets none"
                + (f"; these move at once from a split: {', '.join(split)}" if split else "")
                + ". Remove `legacy` only once `migration` has every service at 100 % (`ecs`)")
        renamed = {svc.service.renamed_from: svc for svc in deployment.services if svc.service.renamed_from}
        current = {svc.name for svc in deployment.services}
        left_out = {service.name for service in catalog.services if service.in_environment(environment.name) is None}
        for name in sorted(set(before) - current):
            log_group = f"/ecs/{deployment.names.prefix}/{name}"
            if name in left_out:
                warnings.append(
                    f"{where}: {name!r} is left out of {environment.name!r} (overrides.{environment.name}.enabled: false): "
                    f"the apply deletes its ECS service (its tasks stop), listener rules, target group, roles, security "
                    f"group and alarms there; the log group {log_group} is kept"
                )
            elif name in renamed:
                new = renamed[name].name
                warnings.append(
                    f"{where}: {new!r} is renamed from {name!r}: the apply replaces its ECS service (the old tasks "
                    f"stop once the service under the new name exists), target group, IAM roles, security group and "
                    f"alarms; its listener rules are updated in place (`moved` block); the log group {log_group} is kept"
                )
            elif name in {service.name for service in deployment.enabled_services}:
                warnings.append(
                    f"{where}: {name!r} is no longer in `migration`: it goes back to Kubernetes entirely, its requests "
                    f"to the Kubernetes ingress; the apply deletes its ECS service (its tasks stop), listener rules, "
                    f"target group, roles, security group and alarms; the log group {log_group} is kept"
                )
            else:
                warnings.append(
                    f"{where}: {name!r} is no longer in the catalog: the apply deletes its ECS service (its tasks "
                    f"stop), listener rules, target group, roles, security group and alarms; the log group "
                    f"{log_group} is kept until you delete it"
                )
        gone_from_stacks = sorted({before[name].stack for name in set(before) - current if before[name].stack})
        if deployment.stacks and gone_from_stacks:
            # The platform deletes their security groups, which their stacks' rules (and tasks) use until applied.
            stacks = ", ".join(f"environments/{environment.name}/{stack}" for stack in gone_from_stacks)
            warnings.append(f"{where}: apply {stacks} before environments/{environment.name}/platform: a service "
                            "left it, and the platform deletes its security group, which that stack's rules still use")
        for svc in deployment.services:
            was = before.get(svc.name) or before.get(svc.service.renamed_from or "")
            if was and was.stack and deployment.stacks and was.stack != svc.service.stack:
                warnings.append(
                    f"{where}: {svc.name!r} moves from stack {was.stack!r} to {svc.service.stack!r}: the new stack creates "
                    f"its ECS service, roles, target group and rules under the same names the old stack's state still "
                    f"holds, so apply {was.stack!r} first (it destroys them: an outage until {svc.service.stack!r} is "
                    f"applied) or move their state between the stacks first (docs/stacks.md)"
                )
            if was and was.port is not None and svc.service.port is not None and was.port != svc.service.port:
                warnings.append(
                    f"{where}: {svc.name!r} moves from port {was.port} to {svc.service.port}: the security-group "
                    f"rules switch to the new port at once, so tasks still listening on {was.port} get no traffic "
                    f"from the load balancer or their callers until the rolling deployment has replaced them"
                )
            if was and was.load_balancer and svc.service.load_balanced:
                if was.protocol != svc.service.protocol:
                    warnings.append(
                        f"{where}: {svc.name!r} moves from {was.protocol} to {svc.service.protocol}: a target "
                        f"group's protocol version cannot change, so the apply creates a new one and points the "
                        f"listener rules and the ECS service at it; until the rolling deployment has healthy tasks "
                        f"there, its requests get 503s. Change it in a quiet hour, or add a new service for the new protocol"
                    )
                if was.load_balancer != svc.load_balancer_module and "internal_alb" not in (was.load_balancer,
                                                                                         svc.load_balancer_module):
                    warnings.append(
                        f"{where}: {svc.name!r} moves from load balancer {was.load_balancer} to {svc.load_balancer_module} "
                        f"(its group {svc.service.group!r} no longer fits where it was): its target group and listener "
                        f"rules are created on the new one and its hosts' DNS records follow, so clients that cached the "
                        f"old records get 404s until their TTL ends; pin the group (`groups.{svc.service.group}."
                        f"load_balancer`) and move another one instead, or apply in a quiet hour"
                    )
                elif was.load_balancer != svc.load_balancer_module:
                    internal = svc.load_balancer_module == "internal_alb"
                    warnings.append(
                        f"{where}: {svc.name!r} moves to the {'internal' if internal else 'internet-facing'} load "
                        f"balancer: its listener rules are deleted on the "
                        f"{'internet-facing' if internal else 'internal'} one and created on the other, so its hosts "
                        f"{'stop answering from the internet' if internal else 'answer from the internet'} after the apply"
                    )
    return warnings
