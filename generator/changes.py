"""What the next `terraform apply` will replace or delete, told before it happens.

Most catalog edits update resources in place. A few cannot: a removed service is
deleted, a renamed one is replaced (its AWS names change), and a new container
port reaches the security-group rules before the new tasks are healthy. `render`
compares the catalog with the environment roots it is about to overwrite and
names each of these, so the reviewer of the render reads it before the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.model import Catalog

# The roots are our own output; these patterns read back the few values compared here.
_MODULE = re.compile(r'^module "service_([a-z0-9_]+)" \{$(.*?)^\}$', re.MULTILINE | re.DOTALL)
_NAME = re.compile(r'^  name\s+= "([^"]+)"$', re.MULTILINE)
_PORT = re.compile(r"^  container_port\s+= (\d+)$", re.MULTILINE)
_PROTOCOL = re.compile(r'^  protocol\s+= "([a-z0-9]+)"$', re.MULTILINE)
_LISTENER = re.compile(r"^  listener_arn\s+= module\.([a-z_]+)\.https_listener_arn$", re.MULTILINE)
_ECS_WEIGHT = re.compile(r"^    ecs_weight\s+= (\d+)$", re.MULTILINE)
_LEGACY_INGRESS = re.compile(r"^  legacy_ingress = \{$", re.MULTILINE)
_READ_LIMIT = 32 * 1024 * 1024


_DNS_RECORDS = re.compile(r"^  dns_records = \{\n(.*?)^  \}$", re.MULTILINE | re.DOTALL)
_DNS_RECORD = re.compile(r'^    "([^"]+)"\s+= "([a-z]+)"$', re.MULTILINE)
_HOSTNAMES = re.compile(r"^  hostnames\s+= \[(.*?)\]$", re.MULTILINE)


def previous_dns_records(main_tf: Path) -> dict[str, str]:
    """Host -> target of the DNS records an environment root managed when last rendered."""
    text = _read(main_tf)
    block = _DNS_RECORDS.search(text)
    if block:
        return dict(_DNS_RECORD.findall(block.group(1)))
    listed = _HOSTNAMES.search(text)  # roots rendered before per-host DNS control
    return {host: "alb" for host in re.findall(r'"([^"]+)"', listed.group(1))} if listed else {}


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            return ""
        with path.open("rb") as handle:
            return handle.read(_READ_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class PreviousService:
    name: str
    port: int | None
    protocol: str = "http"
    load_balancer: str | None = None  # root module holding its rules: `alb`, `internal_alb`, or None
    ecs_percent: int = 100  # its share of requests on ECS while the environment migrated


def previous_services(services_tf: Path) -> dict[str, PreviousService]:
    """The services of an environment root as last rendered (empty when there is none)."""
    text = _read(services_tf)
    found = {}
    for match in _MODULE.finditer(text):
        body = match.group(2)
        name = _NAME.search(body)
        port = _PORT.search(body)
        protocol = _PROTOCOL.search(body)
        listener = _LISTENER.search(body)
        weight = _ECS_WEIGHT.search(body)
        if name:
            found[name.group(1)] = PreviousService(name.group(1), int(port.group(1)) if port else None,
                                                   protocol.group(1) if protocol else "http",
                                                   listener.group(1) if listener else None,
                                                   int(weight.group(1)) if weight else 100)
    return found


DNS_TARGETS = {"alb": "load balancer", "edge": "CloudFront distribution", "legacy": "Kubernetes ingress"}


def replacement_warnings(catalog: Catalog, out_dir: Path) -> list[str]:
    """One line per service whose next apply replaces or deletes something that carries traffic."""
    warnings = []
    for environment in catalog.environments:
        where = f"environments/{environment.name}"
        deployment = catalog.deployment(environment)
        records = dict(deployment.dns_records)
        for host, target in sorted(previous_dns_records(out_dir / "environments" / environment.name / "main.tf").items()):
            if host not in records:
                warnings.append(
                    f"{where}: the DNS record of {host} (pointing at the {DNS_TARGETS.get(target, target)}) "
                    f"is no longer managed: the apply deletes it; name the host under `dns` to keep it"
                )
        before = previous_services(out_dir / "environments" / environment.name / "services.tf")
        if not before:
            continue
        had_legacy = bool(_LEGACY_INGRESS.search(_read(out_dir / "environments" / environment.name / "main.tf")))
        if had_legacy and environment.legacy is None:
            split = sorted(f"{previous.name} ({previous.ecs_percent} %)" for previous in before.values()
                           if previous.ecs_percent < 100)
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
        for svc in deployment.services:
            previous = before.get(svc.name) or before.get(svc.service.renamed_from or "")
            if previous and previous.port is not None and svc.service.port is not None and previous.port != svc.service.port:
                warnings.append(
                    f"{where}: {svc.name!r} moves from port {previous.port} to {svc.service.port}: the security-group "
                    f"rules switch to the new port at once, so tasks still listening on {previous.port} get no traffic "
                    f"from the load balancer or their callers until the rolling deployment has replaced them"
                )
            if previous and previous.load_balancer and svc.service.load_balanced:
                if previous.protocol != svc.service.protocol:
                    warnings.append(
                        f"{where}: {svc.name!r} moves from {previous.protocol} to {svc.service.protocol}: a target "
                        f"group's protocol version cannot change, so the apply creates a new one and points the "
                        f"listener rules and the ECS service at it; until the rolling deployment has healthy tasks "
                        f"there, its requests get 503s. Change it in a quiet hour, or add a new service for the new protocol"
                    )
                if previous.load_balancer != svc.load_balancer_module:
                    internal = svc.load_balancer_module == "internal_alb"
                    warnings.append(
                        f"{where}: {svc.name!r} moves to the {'internal' if internal else 'internet-facing'} load "
                        f"balancer: its listener rules are deleted on the "
                        f"{'internet-facing' if internal else 'internal'} one and created on the other, so its hosts "
                        f"{'stop answering from the internet' if internal else 'answer from the internet'} after the apply"
                    )
    return warnings
