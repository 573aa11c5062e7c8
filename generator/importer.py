"""Kubernetes manifests -> a catalog (`python -m generator import`).

Reads what `helm template`, `kustomize build` or `kubectl get -o yaml` print (files or directories,
multi-document, `List` kinds) and writes a catalog that validates and renders. The mapping rules
(README, "Importing from Kubernetes"):

- a Deployment or StatefulSet is a service, named after it; its first container (or the one a
  Service targets) is the service's container. Other containers and init containers are reported.
- image `registry/repository:tag`: the most common registry is `platform.image_registry`, the
  repository the service's `image_repository`, the most common tag the environment's `image_tag`.
- resources: the cheapest Fargate cpu/memory pair covering the sum over all containers of the larger
  of request and limit (Fargate sizes the task, not the container).
- replicas -> min and max tasks; a HorizontalPodAutoscaler (autoscaling/v2) -> min/max and targets.
- readiness (else liveness) probe: httpGet -> health_check_path, exec -> health_check.command,
  grpc -> protocol grpc with grpc_health_probe as the command (a guess: the image must hold it);
  initialDelaySeconds (or a startup probe's failureThreshold x periodSeconds) -> grace period.
- a Service port with appProtocol grpc / http2 / kubernetes.io/h2c (or named grpc*) -> protocol.
- env values -> environment; secretKeyRef -> secrets, named `<secret>/<key>` under the environment's
  secret_prefix; configMapKeyRef and envFrom configMapRef -> the ConfigMap's values when it is in the
  manifests. Values that look like credentials are never copied: they are reported.
- an env value addressing another imported Service -> a `calls` edge: a URL (`http://user-service:3002`,
  `...svc.cluster.local`) or a whole `host:port` value (gRPC clients' `CART_ADDR=cart:7070`). Service
  Connect answers on the callee's container port, so a Kubernetes Service port that differs
  (`email:5000` -> targetPort 8080) is rewritten to `email:8080` and reported.
- Ingress (networking.k8s.io/v1): a host `label.domain` -> route host `label` under the environment's
  domain; pathType Prefix `/a` -> `/a` and `/a/*`, Exact -> the path, ImplementationSpecific -> as
  Prefix (reported). Priorities from 10 in steps of 10, most specific rule first, so none is shadowed.
- nodeSelector or required node affinity `kubernetes.io/arch: arm64` -> cpu_architecture ARM64.
- emptyDir mounts -> scratch_paths; persistentVolumeClaim mounts (and StatefulSet volumeClaimTemplates)
  -> efs_volumes on an environment file system named after the claim, looked up by the tag
  Name=<platform>-<environment>-<claim> (placeholder, reported: the data must be copied to EFS, and EFS
  is shared by every task where a ReadWriteOnce volume belonged to one pod).
- an Ingress annotated `alb.ingress.kubernetes.io/scheme: internal` -> its services are `internal`.
Everything else is reported, with file, kind/name and field, at the top of the catalog and on stderr.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from generator.cost import load_prices
from generator.validate import FARGATE_MEMORY_BY_CPU, MOVING_TAGS, SECRET_LOOKING_NAME, credential_kind

MAX_MANIFEST_BYTES = 8 * 1024 * 1024
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
KNOWN_KINDS = (*WORKLOAD_KINDS, "Service", "Ingress", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
               "ServiceAccount", "CronJob", "List")
# Sizes are ranked by Fargate's on-demand prices in this region of the cost command's price table.
PRICE_REGION = "us-east-1"
FIRST_PRIORITY, PRIORITY_STEP = 10, 10
ECR_REGISTRY = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$")
PLACEHOLDER_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
# Addresses of other Services in environment values: inside a URL, or a whole `host[.ns.svc...]:port` value.
ADDRESS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://(?P<host>[a-z0-9-]+)(?:\.[a-z0-9-]+\.svc(?:\.cluster\.local)?)?(?::(?P<port>\d+))?")
ADDRESS_ALONE = re.compile(r"(?P<host>[a-z0-9-]+)(?:\.[a-z0-9-]+\.svc(?:\.cluster\.local)?)?:(?P<port>\d+)")


class ImportError_(Exception):
    """Manifests that cannot be read; one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Manifest:
    file: str
    line: int
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}/{self.name}"


@dataclass
class Import:
    catalog: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------

def _files(paths: Iterable[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            found.append(path)
    return found


def read_manifests(paths: Iterable[Path]) -> list[Manifest]:
    problems, manifests = [], []
    for path in _files(paths):
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{path}: not a regular file")
                continue
            with path.open("rb") as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except OSError as error:
            problems.append(f"{path}: cannot be read: {error.strerror}")
            continue
        if len(data) > MAX_MANIFEST_BYTES:
            problems.append(f"{path}: manifests are limited to 8 MiB per file")
            continue
        try:
            text = data.decode("utf-8")
            loader = yaml.SafeLoader(text)
            try:
                while loader.check_node():
                    node = loader.get_node()
                    body = loader.construct_document(node)
                    if not isinstance(body, dict):
                        continue
                    if body.get("kind") != "List":
                        manifests.append(Manifest(str(path), node.start_mark.line + 1, body))
                        continue
                    # A List's items, each with its own line (kubectl get -o yaml).
                    item_nodes = next((value.value for key, value in node.value
                                       if key.value == "items" and isinstance(value, yaml.SequenceNode)), [])
                    for item, item_node in zip(body.get("items", []) or [], item_nodes):
                        if isinstance(item, dict):
                            manifests.append(Manifest(str(path), item_node.start_mark.line + 1, item))
            finally:
                loader.dispose()
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            problems.append(f"{path}{line}: YAML syntax error: {getattr(error, 'problem', None) or error}")
    if problems:
        raise ImportError_(problems)
    return manifests


# --- quantities ------------------------------------------------------------------------------

_MEMORY_UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "K": 1000 / 1024 / 1024,
                 "M": 1000 * 1000 / 1024 / 1024, "G": 1000 ** 3 / 1024 / 1024, "k": 1000 / 1024 / 1024}


def cpu_units(quantity: Any) -> float:
    """Kubernetes CPU (`500m`, `1`, `0.25`) -> ECS CPU units (1 vCPU = 1024)."""
    text = str(quantity)
    return float(text[:-1]) / 1000 * 1024 if text.endswith("m") else float(text) * 1024


def memory_mib(quantity: Any) -> float:
    text = str(quantity)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match:
        raise ValueError(text)
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number / 1024 / 1024
    return number * _MEMORY_UNITS[unit]


def fargate_size(cpu_needed: float, memory_needed: float) -> tuple[int, int]:
    """The cheapest cpu/memory pair Fargate accepts that covers both needs."""
    pairs = [(cpu, memory) for cpu, memories in FARGATE_MEMORY_BY_CPU.items() for memory in memories
             if cpu >= cpu_needed and memory >= memory_needed]
    if not pairs:
        return 16384, 122880
    prices = load_prices()["regions"][PRICE_REGION]
    return min(pairs, key=lambda pair: (pair[0] / 1024 * prices["fargate_vcpu_hour"]
                                        + pair[1] / 1024 * prices["fargate_gb_hour"], pair))


# --- mapping ---------------------------------------------------------------------------------

def identifier(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:40].strip("-")
    return cleaned or "service"


def split_image(image: str) -> tuple[str, str, str]:
    """`registry/repository:tag` -> (registry, repository, tag); Docker Hub when no registry is named."""
    name, _, digest = image.partition("@")
    tag = "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return "docker.io", name if "/" in name else f"library/{name}", tag


_CRON_SHORTHANDS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}


def eventbridge_cron(schedule: str) -> str | None:
    """A Kubernetes (5-field, Sunday = 0) schedule as EventBridge Scheduler's cron(...) (6 fields, Sunday = 1,
    `?` in day of month or day of week); None when there is no equivalent."""
    fields = _CRON_SHORTHANDS.get(schedule.strip(), schedule).split()
    if len(fields) != 5 or not all(re.fullmatch(r"[0-9A-Za-z*/,-]+", field) for field in fields):
        return None
    minute, hour, day_of_month, month, day_of_week = fields

    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) % 7 + 1)

    day_of_week = re.sub(r"\d+", shift, day_of_week)
    if day_of_week == "*":
        day_of_week = "?"
    elif day_of_month == "*":
        day_of_month = "?"
    else:
        day_of_week = "?"
    return f"cron({minute} {hour} {day_of_month} {month} {day_of_week} *)"


def _labels_match(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


class _Importer:
    def __init__(self, manifests: list[Manifest], platform: str, environment: str):
        self.platform, self.environment = platform, environment
        self.notes: list[str] = []
        self.file_systems: dict[str, dict[str, Any]] = {}  # environment file systems the claims became
        self.by_kind: dict[str, list[Manifest]] = defaultdict(list)
        for manifest in manifests:
            self.by_kind[manifest.kind].append(manifest)
            if manifest.kind not in KNOWN_KINDS:
                self.note(manifest, "kind", f"{manifest.kind or 'a document without a kind'} is not imported")
        self.config_maps = {m.name: m.body.get("data", {}) or {} for m in self.by_kind["ConfigMap"]}
        self.secret_keys = {m.name: sorted({**(m.body.get("data") or {}), **(m.body.get("stringData") or {})})
                            for m in self.by_kind["Secret"]}
        self.workloads = sorted(self.by_kind["Deployment"] + self.by_kind["StatefulSet"], key=lambda m: m.name)
        self.service_names = {m.name: identifier(m.name) for m in self.workloads}

    def note(self, manifest: Manifest, path: str, text: str) -> None:
        self.notes.append(f"{manifest.where} {path}: {text}")

    # Services (Kubernetes) -> the workload they select, and the container port they reach.
    def _selected(self, service: Manifest) -> Manifest | None:
        selector = service.body.get("spec", {}).get("selector", {}) or {}
        for workload in self.workloads:
            labels = workload.body.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}
            if _labels_match(selector, labels):
                return workload
        return None

    def kubernetes_services(self) -> dict[str, tuple[Manifest, Manifest | None]]:
        return {m.name: (m, self._selected(m)) for m in self.by_kind["Service"]}

    def run(self) -> dict[str, Any]:
        services: dict[str, dict[str, Any]] = {}
        images: list[tuple[str, str, str, Manifest]] = []
        k8s_services = self.kubernetes_services()
        for workload in self.workloads:
            services[self.service_names[workload.name]] = self._service(workload, k8s_services, images)
        self._autoscalers(services)
        self._calls(services, k8s_services)
        domain = self._routes(services, k8s_services)
        scheduled_tasks = {}
        for manifest in sorted(self.by_kind["CronJob"], key=lambda m: m.name):
            task = self._scheduled_task(manifest, images)
            if task is not None:
                scheduled_tasks[identifier(manifest.name)] = task
        for manifest in self.by_kind["ServiceAccount"]:
            role = (manifest.body.get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn")
            if role:
                self.note(manifest, "metadata.annotations.eks.amazonaws.com/role-arn",
                          f"IRSA role {role}: give the service's task role the same permissions (s3_read_buckets "
                          "covers S3 reads; anything else is an IAM change)")
        registries = Counter(registry for registry, _, _, _ in images if ECR_REGISTRY.match(registry))
        tags = Counter(tag for _, _, tag, _ in images)
        registry = registries.most_common(1)[0][0] if registries else PLACEHOLDER_REGISTRY
        if not registries:
            self.notes.append(f"(catalog) platform.image_registry: the images are not in ECR "
                              f"({', '.join(sorted({r for r, _, _, _ in images}))}); placeholder {registry}: "
                              "push them to your ECR registry (the shared root creates the repositories)")
        tag = tags.most_common(1)[0][0] if tags else "latest"
        for image_registry, repository, image_tag, manifest in images:
            name = self.service_names.get(manifest.name, identifier(manifest.name))
            target = services.get(name) if manifest.kind in WORKLOAD_KINDS else scheduled_tasks.get(name)
            if image_registry != registry and registries:
                self.note(manifest, "spec.template.spec.containers[0].image",
                          f"registry {image_registry} differs from the catalog's {registry}; push the image there")
            if image_tag != tag:
                self.note(manifest, "spec.template.spec.containers[0].image",
                          f"tag {image_tag} differs from the environment's image_tag {tag}; deploy it with "
                          f"`python -m generator deploy --service {name} --image ...`")
            if repository != f"{self.platform}/{name}" and target is not None:
                target["image_repository"] = repository
        region_match = re.search(r"\.ecr\.([a-z0-9-]+)\.amazonaws\.com$", registry)
        region = region_match.group(1) if region_match else "us-east-1"
        if not region_match:
            self.notes.append(f"(catalog) platform.region: guessed {region}; the images are not in ECR")
        if tag in MOVING_TAGS:
            self.notes.append(f"(catalog) environments.{self.environment}.image_tag: the manifests use the moving tag "
                              f"{tag!r}, which the catalog refuses; set a release tag")
        sizes = Counter((s["resources"]["cpu"], s["resources"]["memory"]) for s in services.values())
        cpu, memory = sizes.most_common(1)[0][0] if sizes else (256, 512)
        return {
            "platform": {"name": self.platform, "region": region, "image_registry": registry},
            "sizing": {"imported": {"cpu": cpu, "memory": memory, "min_tasks": 1, "max_tasks": 2}},
            "groups": {"imported": {"spot_percentage": 0, "sizing": "imported"}},
            "data_stores": {},
            "services": services,
            **({"scheduled_tasks": scheduled_tasks} if scheduled_tasks else {}),
            "environments": {self.environment: self._environment(domain, tag)},
        }

    def _scheduled_task(self, cron: Manifest, images: list[tuple[str, str, str, Manifest]]) -> dict[str, Any] | None:
        spec = cron.body.get("spec", {}) or {}
        pod = (((spec.get("jobTemplate", {}) or {}).get("spec", {}) or {}).get("template", {}) or {}).get("spec", {}) or {}
        containers = pod.get("containers", []) or []
        if not containers:
            self.note(cron, "spec.jobTemplate", "no container; not mapped")
            return None
        expression = eventbridge_cron(str(spec.get("schedule", "")))
        if expression is None:
            self.note(cron, "spec.schedule", f"{spec.get('schedule')!r} has no EventBridge equivalent; not mapped")
            return None
        main = containers[0]
        registry, repository, tag = split_image(str(main.get("image", "")))
        images.append((registry, repository, tag, cron))
        task: dict[str, Any] = {"schedule": expression}
        if spec.get("timeZone"):
            task["timezone"] = str(spec["timeZone"])
        else:
            self.note(cron, "spec.timeZone", "not set (Kubernetes then uses the controller's zone); imported as UTC")
        if expression.startswith("cron(") and str(spec.get("schedule")).split()[2:3] != ["*"] and \
                str(spec.get("schedule")).split()[4:5] != ["*"]:
            self.note(cron, "spec.schedule", "day of month and day of week both set: EventBridge takes one; kept the "
                                             "day of month")
        for index in range(1, len(containers)):
            self.note(cron, f"spec.jobTemplate.spec.template.spec.containers[{index}]", "only the first container is run")
        if main.get("command"):
            task["entry_point"] = [str(part) for part in main["command"]]
        if main.get("args"):
            task["command"] = [str(part) for part in main["args"]]
        resources = main.get("resources", {}) or {}
        requests, limits = resources.get("requests", {}) or {}, resources.get("limits", {}) or {}
        try:
            cpu, memory = fargate_size(max(cpu_units(requests.get("cpu", 0)), cpu_units(limits.get("cpu", 0))),
                                       max(memory_mib(requests.get("memory", 0)), memory_mib(limits.get("memory", 0))))
            task["cpu"], task["memory"] = cpu, memory
        except (ValueError, KeyError):
            self.note(cron, "spec.jobTemplate...resources", "unreadable quantity; smallest Fargate size")
        base = "spec.jobTemplate.spec.template.spec.containers[0]"
        holder: dict[str, Any] = {}
        self._environment_variables(cron, main, base, holder)
        task.update({key: holder[key] for key in ("environment", "secrets") if key in holder})
        return task

    def _environment(self, domain: str, tag: str) -> dict[str, Any]:
        env = self.environment
        for what in ("vpc", "private_subnets", "public_subnets", "logs_bucket", "alerting.pagerduty_endpoint_secret"):
            self.notes.append(f"(catalog) environments.{env}.{what}: placeholder; set the real value")
        return {
            "domain": domain,
            "certificate_domain": f"*.{domain}",
            "vpc": {"tags": {"Name": f"{self.platform}-{env}"}},
            "private_subnets": {"tags": {"Tier": "private"}},
            "public_subnets": {"tags": {"Tier": "public"}},
            "data_stores": {},
            "logs_bucket": f"{self.platform}-{env}-lb-logs",
            "log_retention_days": 30,
            "deletion_protection": False,
            "secret_prefix": f"{self.platform}/{env}/",
            "image_tag": tag if tag not in MOVING_TAGS else "replace-me",
            "alerting": {"pagerduty_endpoint_secret": "alerting/pagerduty-endpoint"},
            **({"file_systems": dict(sorted(self.file_systems.items()))} if self.file_systems else {}),
        }

    def _main_container(self, workload: Manifest, k8s_services: dict[str, tuple[Manifest, Manifest | None]]) -> int:
        containers = workload.body["spec"]["template"]["spec"].get("containers", [])
        targeted = set()
        for service, selected in k8s_services.values():
            if selected is workload:
                for port in service.body.get("spec", {}).get("ports", []):
                    targeted.add(port.get("targetPort", port.get("port")))
        for index, container in enumerate(containers):
            ports = container.get("ports", [])
            if any(p.get("containerPort") in targeted or p.get("name") in targeted for p in ports):
                return index
        return 0

    def _service(self, workload: Manifest, k8s_services: dict[str, tuple[Manifest, Manifest | None]],
                 images: list[tuple[str, str, str, Manifest]]) -> dict[str, Any]:
        spec = workload.body.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        containers = pod.get("containers", [])
        main_index = self._main_container(workload, k8s_services)
        main = containers[main_index]
        base = f"spec.template.spec.containers[{main_index}]"
        service: dict[str, Any] = {"group": "imported"}
        description = (workload.body.get("metadata", {}).get("annotations") or {}).get("description")
        if description:
            service["description"] = str(description)[:200]
        registry, repository, tag = split_image(str(main.get("image", "")))
        images.append((registry, repository, tag, workload))
        sidecars: dict[str, dict[str, Any]] = {}
        for index, container in enumerate(pod.get("initContainers", []) or []):
            self._sidecar(workload, f"spec.template.spec.initContainers[{index}]", container, sidecars, init=True)
        for index, container in enumerate(containers):
            if index != main_index:
                self._sidecar(workload, f"spec.template.spec.containers[{index}]", container, sidecars, init=False)
        if sidecars:
            service["sidecars"] = sidecars
        if workload.kind == "StatefulSet":
            self.note(workload, "kind", "StatefulSet imported as a service: stable pod names and per-pod volumes "
                                        "do not exist on ECS")
        ports = main.get("ports", [])
        if ports:
            service["port"] = int(ports[0]["containerPort"])
            if len(ports) > 1:
                self.note(workload, f"{base}.ports", f"only the first port ({ports[0]['containerPort']}) is the service's")
        self._probe(workload, main, base, ports, service)
        if "port" in service:
            self._service_protocol(workload, k8s_services, service)
        if service.get("protocol") == "grpc" and "command" not in service.get("health_check", {}):
            service.setdefault("health_check", {})["command"] = ["/bin/grpc_health_probe", f"-addr=:{service['port']}"]
            self.note(workload, base, "gRPC service checked with /bin/grpc_health_probe (a guess: the image must contain it)")
        if main.get("command"):
            service["entry_point"] = [str(part) for part in main["command"]]
        if main.get("args"):
            service["command"] = [str(part) for part in main["args"]]
        self._size(workload, pod, spec, service)
        self._environment_variables(workload, main, base, service)
        self._architecture(workload, pod, service)
        self._volumes(workload, pod, main, base, service)
        return service

    def _service_protocol(self, workload: Manifest, k8s_services: dict[str, tuple[Manifest, Manifest | None]],
                          service: dict[str, Any]) -> None:
        """A Service port's appProtocol (or a grpc* port name) -> the catalog's protocol."""
        for k8s_service, selected in k8s_services.values():
            if selected is not workload:
                continue
            for index, port in enumerate(k8s_service.body.get("spec", {}).get("ports", []) or []):
                app = str(port.get("appProtocol", "")).lower()
                name = str(port.get("name", "")).lower()
                protocol = ("grpc" if app == "grpc" or name.startswith("grpc") else
                            "http2" if app in ("http2", "kubernetes.io/h2c") else None)
                if protocol:
                    service["protocol"] = protocol
                    self.note(k8s_service, f"spec.ports[{index}]", f"protocol {protocol} (from "
                                                                    f"{'appProtocol' if app else 'the port name'})")
                    return

    def _sidecar(self, workload: Manifest, where: str, container: dict[str, Any], sidecars: dict[str, dict[str, Any]],
                 init: bool) -> None:
        """Another container of the pod -> a sidecar; an init container -> one the service waits for (SUCCESS)."""
        name = identifier(str(container.get("name", "sidecar")))
        registry, repository, tag = split_image(str(container.get("image", "")))
        if tag in MOVING_TAGS or "@" in tag:
            self.note(workload, f"{where}.image", f"{container.get('image')} has no pinned version; sidecar {name!r} "
                                                  "not mapped: pin a tag and add it under `sidecars`")
            return
        sidecar: dict[str, Any] = {"image": f"{registry}/{repository}:{tag}"}
        ports = container.get("ports", []) or []
        if ports:
            sidecar["port"] = int(ports[0]["containerPort"])
        if init:
            sidecar["run_before_service"] = "SUCCESS"
        elif re.search(r"fluent-?bit|fluentd", repository):
            sidecar["log_router"] = True
            self.note(workload, f"{where}.image", f"{repository} taken for a FireLens log router (a guess): the "
                                                  "service's logs go through it")
        command = [*(container.get("command") or []), *(container.get("args") or [])]
        if command:
            sidecar["command"] = [str(part) for part in command]
        environment: dict[str, str] = {}
        for index, variable in enumerate(container.get("env", []) or []):
            if "value" in variable and re.fullmatch(r"[A-Z_][A-Z0-9_]*", str(variable.get("name", ""))):
                self._plain(workload, f"{where}.env[{index}]", str(variable["name"]), str(variable["value"]), environment)
            else:
                self.note(workload, f"{where}.env[{index}]", "only plain values are imported for sidecars")
        if environment:
            sidecar["environment"] = environment
        sidecars[name] = sidecar

    def _probe(self, workload: Manifest, main: dict[str, Any], base: str, ports: list[dict[str, Any]],
               service: dict[str, Any]) -> None:
        for kind in ("readinessProbe", "livenessProbe"):
            probe = main.get(kind)
            if not probe:
                continue
            if "httpGet" in probe and "port" in service:
                path = str(probe["httpGet"].get("path", "/"))
                if re.fullmatch(r"/[A-Za-z0-9._~/-]*", path):
                    service["health_check_path"] = path
                else:
                    self.note(workload, f"{base}.{kind}.httpGet.path", f"{path!r} is not a plain path; not mapped")
            elif "exec" in probe:
                service["health_check"] = {"command": [str(part) for part in probe["exec"].get("command", [])]}
            elif "grpc" in probe and "port" in service:
                port = probe["grpc"].get("port", service["port"])
                service["protocol"] = "grpc"
                service["health_check"] = {"command": ["/bin/grpc_health_probe", f"-addr=:{port}"]}
                self.note(workload, f"{base}.{kind}.grpc", "gRPC probe -> protocol grpc, checked with "
                                                           "/bin/grpc_health_probe (a guess: the image must contain it)")
            else:
                self.note(workload, f"{base}.{kind}", "only httpGet, exec and grpc probes are mapped (tcpSocket: "
                                                      "give health_check.command)")
            grace = probe.get("initialDelaySeconds")
            startup = main.get("startupProbe")
            if startup:
                grace = startup.get("failureThreshold", 3) * startup.get("periodSeconds", 10)
            if grace:
                service.setdefault("health_check", {})["grace_period_seconds"] = min(int(grace), 300)
                if grace > 300:
                    self.note(workload, f"{base}.{kind}", f"start-up time {grace} s capped at ECS's 300 s")
            return
        if "port" in service:
            self.note(workload, base, "no readiness or liveness probe; the catalog's default health_check_path applies")

    def _size(self, workload: Manifest, pod: dict[str, Any], spec: dict[str, Any], service: dict[str, Any]) -> None:
        cpu = memory = 0.0
        for container in pod.get("containers", []):
            resources = container.get("resources", {}) or {}
            requests, limits = resources.get("requests", {}) or {}, resources.get("limits", {}) or {}
            try:
                cpu += max(cpu_units(requests.get("cpu", 0)), cpu_units(limits.get("cpu", 0)))
                memory += max(memory_mib(requests.get("memory", 0)), memory_mib(limits.get("memory", 0)))
            except (ValueError, KeyError):
                self.note(workload, "spec.template.spec.containers[].resources", "unreadable quantity; sized from the rest")
        if not cpu and not memory:
            self.note(workload, "spec.template.spec.containers[].resources", "no requests or limits: smallest Fargate size")
        task_cpu, task_memory = fargate_size(cpu, memory)
        replicas = int(spec.get("replicas", 1))
        if replicas < 1:
            self.note(workload, "spec.replicas", "0 replicas: imported with 1 task")
            replicas = 1
        service["resources"] = {"cpu": task_cpu, "memory": task_memory, "min_tasks": replicas, "max_tasks": replicas}

    def _environment_variables(self, workload: Manifest, main: dict[str, Any], base: str, service: dict[str, Any]) -> None:
        environment: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for source_index, source in enumerate(main.get("envFrom", []) or []):
            where = f"{base}.envFrom[{source_index}]"
            if "configMapRef" in source:
                name = source["configMapRef"].get("name")
                if name in self.config_maps:
                    for key, value in sorted(self.config_maps[name].items()):
                        self._plain(workload, f"{where} ({name}.{key})", key, str(value), environment)
                else:
                    self.note(workload, where, f"ConfigMap {name!r} is not in the manifests; its keys are not imported")
            elif "secretRef" in source:
                name = source["secretRef"].get("name")
                if name in self.secret_keys:
                    for key in self.secret_keys[name]:
                        if re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                            secrets[key] = f"{name}/{key}"
                else:
                    self.note(workload, where, f"Secret {name!r} is not in the manifests; name its keys in `secrets`")
        for index, variable in enumerate(main.get("env", []) or []):
            name, where = str(variable.get("name", "")), f"{base}.env[{index}]"
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                self.note(workload, where, f"{name!r} is not an upper-case variable name; not mapped")
                continue
            if "value" in variable:
                self._plain(workload, where, name, str(variable["value"]), environment)
                continue
            source = variable.get("valueFrom", {}) or {}
            if "secretKeyRef" in source:
                reference = source["secretKeyRef"]
                secrets[name] = f"{reference.get('name')}/{reference.get('key')}"
            elif "configMapKeyRef" in source:
                reference = source["configMapKeyRef"]
                values = self.config_maps.get(reference.get("name"), {})
                if reference.get("key") in values:
                    self._plain(workload, where, name, str(values[reference["key"]]), environment)
                else:
                    self.note(workload, where, f"ConfigMap {reference.get('name')!r} key {reference.get('key')!r} is "
                                               "not in the manifests; not mapped")
            else:
                self.note(workload, where, f"{name}: {', '.join(source) or 'no value'} is not mapped (Kubernetes fills "
                                           "it at run time)")
        if environment:
            service["environment"] = dict(sorted(environment.items()))
        if secrets:
            service["secrets"] = dict(sorted(secrets.items()))
            self.notes.append(f"{workload.where} secrets: Secrets Manager secrets named `<secret>/<key>` under the "
                              f"environment's secret_prefix must exist: {', '.join(sorted(set(secrets.values())))}")

    def _plain(self, workload: Manifest, where: str, name: str, value: str, environment: dict[str, str]) -> None:
        kind = credential_kind(value)
        if SECRET_LOOKING_NAME.search(name) or kind:
            self.note(workload, where, f"{name} looks like a credential ({kind or 'by its name'}); not copied: store it "
                                       "in Secrets Manager and list it under `secrets`")
            return
        environment[name] = value

    def _architecture(self, workload: Manifest, pod: dict[str, Any], service: dict[str, Any]) -> None:
        selector = pod.get("nodeSelector", {}) or {}
        arches = {str(selector.get("kubernetes.io/arch", ""))}
        affinity = (pod.get("affinity", {}) or {}).get("nodeAffinity", {}) or {}
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}) or {}
        for term in required.get("nodeSelectorTerms", []) or []:
            for expression in term.get("matchExpressions", []) or []:
                if expression.get("key") == "kubernetes.io/arch" and expression.get("operator") == "In":
                    arches.update(str(v) for v in expression.get("values", []))
        arches.discard("")
        if arches == {"arm64"}:
            service["cpu_architecture"] = "ARM64"
        elif len(arches) > 1:
            self.note(workload, "spec.template.spec.affinity", f"several architectures {sorted(arches)}: X86_64 chosen")

    def _volumes(self, workload: Manifest, pod: dict[str, Any], main: dict[str, Any], base: str,
                 service: dict[str, Any]) -> None:
        volumes = {v.get("name"): v for v in pod.get("volumes", []) or []}
        scratch = []
        for index, mount in enumerate(main.get("volumeMounts", []) or []):
            volume = volumes.get(mount.get("name"), {})
            path = str(mount.get("mountPath", ""))
            plain_path = re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", path) and path != "/"
            claims = {str(c.get("metadata", {}).get("name")) for c in
                      (workload.body.get("spec", {}).get("volumeClaimTemplates") or [])}
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None and mount.get("name") in claims:
                claim = f"{mount.get('name')}-{workload.name}"  # a StatefulSet's per-pod claims, one file system here
            if "emptyDir" in volume and plain_path:
                scratch.append(path)
            elif claim is not None and plain_path:
                file_system = identifier(str(claim))
                volume_name = identifier(str(mount.get("name")))
                entry: dict[str, Any] = {"file_system": file_system, "path": path}
                if mount.get("readOnly"):
                    entry["read_only"] = True
                service.setdefault("efs_volumes", {})[volume_name] = entry
                tag = f"{self.platform}-{self.environment}-{file_system}"
                self.file_systems[file_system] = {"tags": {"Name": tag},
                                                  "security_group": {"tags": {"Name": f"{self.platform}-{self.environment}-efs"}}}
                self.note(workload, f"{base}.volumeMounts[{index}]",
                          f"volume claim {claim} at {path} -> EFS file system {file_system!r} (tag Name={tag}, a "
                          "placeholder): copy the data to EFS; unlike a ReadWriteOnce volume it is shared by every task")
            else:
                kind = next((k for k in volume if k != "name"), "unknown")
                self.note(workload, f"{base}.volumeMounts[{index}]",
                          f"{kind} volume at {path} not mapped (configMap and secret files: bake them into the image "
                          "or read them from the environment)")
        if scratch:
            service["scratch_paths"] = sorted(set(scratch) | {"/tmp"})
        if not (main.get("securityContext", {}) or {}).get("readOnlyRootFilesystem"):
            self.note(workload, f"{base}.securityContext.readOnlyRootFilesystem",
                      "not set in Kubernetes; on ECS the root filesystem is read-only with /tmp writable: add "
                      "scratch_paths, or writable_root_filesystem with a reason, if the service writes elsewhere")

    def _autoscalers(self, services: dict[str, dict[str, Any]]) -> None:
        for hpa in self.by_kind["HorizontalPodAutoscaler"]:
            spec = hpa.body.get("spec", {})
            target = spec.get("scaleTargetRef", {}).get("name")
            name = self.service_names.get(target)
            if name is None:
                self.note(hpa, "spec.scaleTargetRef", f"{target!r} is not an imported workload")
                continue
            resources = services[name]["resources"]
            resources["min_tasks"] = int(spec.get("minReplicas", 1))
            resources["max_tasks"] = int(spec.get("maxReplicas", resources["min_tasks"]))
            for index, metric in enumerate(spec.get("metrics", []) or []):
                resource = metric.get("resource", {}) if metric.get("type") == "Resource" else None
                utilization = (resource or {}).get("target", {}).get("averageUtilization")
                if resource and resource.get("name") in ("cpu", "memory") and utilization:
                    services[name].setdefault("autoscaling", {})[f"{resource['name']}_target"] = min(int(utilization), 100)
                else:
                    self.note(hpa, f"spec.metrics[{index}]", "only cpu and memory utilization targets are mapped")

    def _calls(self, services: dict[str, dict[str, Any]], k8s_services: dict[str, tuple[Manifest, Manifest | None]]) -> None:
        """An address naming another Service is a call: a URL (`http://user-service:3002`,
        `...svc.cluster.local`) or a whole value `host:port` (gRPC clients' `CART_SERVICE_ADDR=cartservice:7070`).
        Service Connect answers on the callee's container port, so an address with the Kubernetes Service's
        port (`emailservice:5000` -> targetPort 8080) is rewritten to it, and reported."""
        reachable = {name: self.service_names[workload.name] for name, (_, workload) in k8s_services.items() if workload}
        for name, service in services.items():
            calls = set()
            for variable, value in list(service.get("environment", {}).items()):
                found = [(m.group("host"), m.group(0), m.group("port")) for m in ADDRESS_IN_URL.finditer(value)]
                whole = ADDRESS_ALONE.fullmatch(value)
                if whole:
                    found.append((whole.group("host"), whole.group(0), whole.group("port")))
                for host, address, port in found:
                    callee = reachable.get(host)
                    if not callee or callee == name:
                        continue
                    calls.add(callee)
                    if variable == f"{callee.upper().replace('-', '_')}_URL":
                        # `calls` sets it (Service Connect on ECS, the legacy URL before).
                        del service["environment"][variable]
                        self.notes.append(
                            f"(catalog) services.{name}.environment.{variable}: was {value!r}; `calls: [{callee}]` "
                            f"now sets it to the callee's Service Connect URL (http://{callee}:<port>, no path)")
                        break
                    callee_port = services[callee].get("port")
                    if port and callee_port and int(port) != callee_port:
                        rewritten = address.replace(address.split("://", 1)[-1], f"{callee}:{callee_port}")
                        value = value.replace(address, rewritten)
                        service["environment"][variable] = value
                        self.notes.append(
                            f"(catalog) services.{name}.environment.{variable}: {address!r} -> {rewritten!r}: Service "
                            f"Connect answers on {callee}'s container port {callee_port}, not the Kubernetes Service's {port}")
            if calls:
                service["calls"] = sorted(calls)
            if "environment" in service and not service["environment"]:
                del service["environment"]

    def _routes(self, services: dict[str, dict[str, Any]], k8s_services: dict[str, tuple[Manifest, Manifest | None]]) -> str:
        """Ingress rules -> routes; returns the environment's domain (the hosts' common parent)."""
        candidates = []  # (specificity, service, host, patterns, manifest)
        hosts = []
        schemes: dict[str, set[bool]] = defaultdict(set)  # service -> its Ingresses are internal?
        for ingress in self.by_kind["Ingress"]:
            if not ingress.body.get("apiVersion", "").startswith("networking.k8s.io/"):
                self.note(ingress, "apiVersion", f"{ingress.body.get('apiVersion')} is not networking.k8s.io/v1; skipped")
                continue
            for rule_index, rule in enumerate(ingress.body.get("spec", {}).get("rules", []) or []):
                host = str(rule.get("host", ""))
                hosts.append(host)
                for path_index, path in enumerate((rule.get("http", {}) or {}).get("paths", []) or []):
                    where = f"spec.rules[{rule_index}].http.paths[{path_index}]"
                    backend = (path.get("backend", {}) or {}).get("service", {}) or {}
                    target = k8s_services.get(backend.get("name"))
                    if not target or not target[1]:
                        self.note(ingress, where, f"backend {backend.get('name')!r} selects no imported workload")
                        continue
                    kind = path.get("pathType", "ImplementationSpecific")
                    value = str(path.get("path", "/"))
                    if kind == "ImplementationSpecific":
                        self.note(ingress, where, f"pathType ImplementationSpecific {value!r} imported as Prefix (a guess)")
                    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value):
                        self.note(ingress, where, f"path {value!r} is not a plain path (regular expression?); not mapped")
                        continue
                    stripped = value.rstrip("/") or "/"
                    if kind == "Exact":
                        patterns = [value]
                    elif stripped == "/":
                        patterns = []
                    else:
                        patterns = [stripped, f"{stripped}/*"]
                    # More specific first: exact paths, then longer prefixes, then concrete hosts, catch-alls last.
                    specificity = (kind != "Exact", -len(stripped) if patterns else 1, host.startswith("*") or not host)
                    candidates.append((specificity, self.service_names[target[1].name], host, patterns, ingress))
                    annotations = ingress.body.get("metadata", {}).get("annotations") or {}
                    schemes[self.service_names[target[1].name]].add(
                        annotations.get("alb.ingress.kubernetes.io/scheme") == "internal")
        for name, internal in sorted(schemes.items()):
            if internal == {True}:  # every Ingress of the service is internal
                services[name]["internal"] = True
            elif True in internal:
                self.notes.append(f"(catalog) services.{name}.internal: routed by internal and internet-facing "
                                  "Ingresses; all its routes are on the internet-facing load balancer")
        domain = self._domain(hosts)
        ordered = sorted(candidates, key=lambda c: (c[0], c[1], c[2], c[3]))
        priority = FIRST_PRIORITY
        for _, name, host, patterns, ingress in ordered:
            route: dict[str, Any] = {"priority": priority}
            if host:
                if host == domain or not host.endswith("." + domain):
                    self.note(ingress, "spec.rules[].host", f"host {host} is not one label under {domain}; not mapped")
                    continue
                label = host[: -len(domain) - 1]
                if "." in label:
                    self.note(ingress, "spec.rules[].host", f"host {host} is not one label under {domain}; not mapped")
                    continue
                route["hosts"] = [label]
            if patterns:
                route["paths"] = patterns
            if len(route) == 1:
                self.note(ingress, "spec.rules[]", "a rule with neither host nor path would match every request; not mapped")
                continue
            services[name].setdefault("routes", []).append(route)
            priority += PRIORITY_STEP
        return domain

    def _domain(self, hosts: list[str]) -> str:
        parents = Counter(host.split(".", 1)[1] for host in hosts if host.count(".") >= 2)
        if parents:
            return parents.most_common(1)[0][0]
        self.notes.append(f"(catalog) environments.{self.environment}.domain: no Ingress host; placeholder")
        return f"{self.platform}.example.com"


def import_manifests(paths: Iterable[Path], platform: str, environment: str = "dev") -> Import:
    manifests = read_manifests(paths)
    importer = _Importer(manifests, platform, environment)
    catalog = importer.run()
    return Import(catalog=catalog, notes=importer.notes)


def catalog_text(result: Import, sources: list[str]) -> str:
    """The catalog YAML with the review list as a comment block on top."""
    lines = ["# yaml-language-server: $schema=../schemas/catalog.schema.json",
             "# Imported from Kubernetes manifests by `python -m generator import`:",
             *(f"#   {source}" for source in sources),
             "#",
             "# Review before use. Not mapped, or mapped by a guess:" if result.notes else "# Nothing was left unmapped.",
             *(f"# - {note}" for note in result.notes),
             ""]
    body = yaml.safe_dump(result.catalog, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body


def write_catalog(text: str, out: Path) -> None:
    """Atomic: a failed write leaves no half catalog."""
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out)
