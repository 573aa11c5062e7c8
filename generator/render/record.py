"""What `render` remembers about each environment root for the next render.

`changes.py` compares the catalog with what the previous render put in an environment (its services'
ports, protocols and load balancers, the DNS records it managed, whether the Kubernetes ingress was
wired). `render` writes exactly those facts beside the Terraform, in `environments/<env>/render-record.yaml`,
so reading them back never depends on how the templates lay out HCL.

Roots rendered before 0.8.0 have no record: their values are read from `services.tf` and `main.tf` with
python-hcl2 (imported only then). That fallback goes in 0.10.0 (CHANGELOG.md, 0.9.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.catalog.model import Catalog, Deployment
from generator.catalog.naming import LoadBalancerNames
from generator.render.hcl import read_back_string
from generator.version import GENERATED_MARKER, VERSION

# YAML in its JSON form: every YAML parser reads it, `#` lines carry the generated-file marker that
# output.py looks for, and json writes and reads it about ten times faster than PyYAML at 5,000 services.
RECORD_FILE = "render-record.yaml"
_READ_LIMIT = 32 * 1024 * 1024


@dataclass(frozen=True)
class PreviousService:
    name: str
    port: int | None
    protocol: str = "http"
    load_balancer: str | None = None  # root module holding its rules: `alb`, `alb_2`, `internal_alb`, or None
    ecs_percent: int = 100  # its share of requests on ECS while the environment migrated
    stack: str | None = None  # the stack holding it (`layout: stacks`), None in a single root

    @property
    def public_load_balancer_number(self) -> int | None:
        """1 for `alb`, n for `alb_<n>`; None when internal or not routed."""
        return LoadBalancerNames.number_of_module(self.load_balancer)


@dataclass(frozen=True)
class PreviousRender:
    services: dict[str, PreviousService] = field(default_factory=dict)
    dns_records: dict[str, str] = field(default_factory=dict)  # host -> `alb`, `edge` or `legacy`
    legacy_ingress: bool = False
    generator_version: str | None = None  # None: read from the HCL of a root rendered before the record existed


class UnreadableRecord(Exception):
    """The previous render's record (or HCL) is there but cannot be read."""


def record_text(deployment: Deployment) -> str:
    """The record of one environment root, as `render` writes it (sorted keys: the same bytes each time)."""
    services = {
        svc.name: {
            "port": svc.service.port,
            "protocol": str(svc.service.protocol),
            "load_balancer": svc.load_balancer_module if svc.service.load_balanced else None,
            "ecs_percent": svc.traffic.ecs_weight if svc.traffic else 100,
            **({"stack": svc.service.stack} if deployment.stacks else {}),
        }
        for svc in deployment.services
    }
    record = {
        "generator_version": VERSION,
        "services": services,
        "dns_records": {host: str(target) for host, target in deployment.dns_records},
        "legacy_ingress": deployment.environment.legacy is not None,
    }
    return (f"{GENERATED_MARKER}\n# What the next `render` compares the catalog with (generator/render/record.py).\n"
            + json.dumps(record, indent=2, sort_keys=True) + "\n")


def _read(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return handle.read(_READ_LIMIT).decode("utf-8", errors="replace")
    except OSError as error:
        raise UnreadableRecord(f"{path}: {error.strerror or error}") from None


def _parsed(text: str) -> Any:
    """The record's data: JSON fast; any other YAML (edited by hand, say) through PyYAML."""
    try:
        return json.loads("".join(line for line in text.splitlines(keepends=True) if not line.startswith("#")))
    except ValueError:
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(str(error).replace("\n", " ")) from None


def read(root: Path) -> PreviousRender | None:
    """The previous render of an environment root; None when nothing was rendered there."""
    text = _read(root / RECORD_FILE)
    if text is None:
        return _from_hcl(root)
    try:
        record = _parsed(text)
        services = {name: PreviousService(name, entry["port"], entry["protocol"], entry["load_balancer"],
                                          int(entry["ecs_percent"]), entry.get("stack"))
                    for name, entry in record["services"].items()}
        return PreviousRender(services, dict(record["dns_records"]), bool(record["legacy_ingress"]),
                              str(record["generator_version"]))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UnreadableRecord(f"{root / RECORD_FILE}: not a render record ({type(error).__name__}: {error})") from None


# --- roots rendered before 0.8.0 (remove in 0.10.0) ----------------------------------------------


def _module_blocks(text: str) -> dict[str, dict[str, Any]]:
    import hcl2  # only for roots without a record

    try:
        parsed = hcl2.loads(text)
    except Exception as error:  # python-hcl2 raises lark's errors, which have no common base of ours
        raise UnreadableRecord(f"not HCL python-hcl2 can read ({type(error).__name__})") from None
    return {read_back_string(label): body for block in parsed.get("module", []) for label, body in block.items()}


def _from_hcl(root: Path) -> PreviousRender | None:
    services_tf, main_tf = _read(root / "services.tf"), _read(root / "main.tf")
    if services_tf is None and main_tf is None:
        return None
    services = {}
    modules = {}
    try:
        modules = _module_blocks(main_tf or "")
        for label, body in _module_blocks(services_tf or "").items():
            if not label.startswith("service_") or "name" not in body:
                continue
            name = read_back_string(body["name"])
            listener = body.get("listener_arn")
            load_balancer = listener.split(".")[1] if isinstance(listener, str) and listener.startswith("${module.") else None
            traffic = body.get("traffic") or {}
            services[name] = PreviousService(name, body.get("container_port"), read_back_string(body.get("protocol") or '"http"'),
                                             load_balancer, int(traffic.get("ecs_weight", 100)))
    except UnreadableRecord as error:
        raise UnreadableRecord(f"{root}: {error}") from None
    # The internet-facing load balancer's module manages the records named under `dns` (the internal one's are
    # private records of its own, not compared).
    dns_records = {read_back_string(host): read_back_string(target)
                   for host, target in (modules.get("alb", {}).get("dns_records") or {}).items()}
    legacy = any("legacy_ingress" in body for body in modules.values())
    return PreviousRender(services, dns_records, legacy)


def load_balancer_memory(catalog: Catalog, out_dir: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """Per environment and service group: the internet-facing load balancer its routed services were on in the
    previous render (its first one's), and how many there were, so placement keeps the group there and knows
    whether it grew. Unreadable: nothing remembered."""
    group_of = {service.name: service.group for service in catalog.services}
    memory: dict[str, dict[str, tuple[int, int]]] = {}
    for environment in catalog.environments:
        try:
            previous = read(out_dir / "environments" / environment.name)
        except UnreadableRecord:
            continue
        if previous is None:
            continue
        for name in sorted(previous.services):
            number = previous.services[name].public_load_balancer_number
            if number is not None and name in group_of:
                groups = memory.setdefault(environment.name, {})
                first, count = groups.get(group_of[name], (number, 0))
                groups[group_of[name]] = (first, count + 1)
    return memory
