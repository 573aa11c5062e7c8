"""Kubernetes manifests -> a catalog (`python -m generator import`).

Reads what `helm template`, `kustomize build` or `kubectl get -o yaml` print (files or directories,
multi-document, `List` kinds) and writes a catalog that validates and renders. The mapping rules
(docs/importing.md):

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

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from generator.kube.env import (VARIABLE_NAME, addresses, credential_in_plain_value, expand, harmless, port_partner,
                                  scrub_credentials)
from generator.kube.manifests import (KNOWN_KINDS, WORKLOAD_KINDS, ImportError_, Manifest, pod_spec, read_manifests,
                                      structure_problems)
from generator.kube.names import container_port_of, identifier, name_workloads, pod_labels, resolve, selects
from generator.kube.quantities import cpu_units, eventbridge_cron, fargate_size, image_reference, memory_mib
from generator.kube.report import COVERAGE, DROPPED, GUESSED, MAPPED, TO_DO, Finding, unmapped_fields
from generator.catalog.model import url_variable
from generator.catalog.validate import MOVING_TAGS, SECRET_LOOKING_NAME

FIRST_PRIORITY, PRIORITY_STEP = 10, 10
ECR_REGISTRY = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$")
PLACEHOLDER_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
@dataclass
class Import:
    catalog: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What a person must review: everything but plain mappings."""
        return [finding.line() for finding in self.findings if finding.kind != MAPPED]


# Well-known stateful images -> the managed service that replaces them on AWS.
MANAGED_REPLACEMENTS = {
    "mysql": "Amazon RDS for MySQL (or Aurora MySQL)", "mariadb": "Amazon RDS for MariaDB",
    "postgres": "Amazon RDS for PostgreSQL (or Aurora PostgreSQL)", "postgresql": "Amazon RDS for PostgreSQL",
    "redis": "Amazon ElastiCache (Redis OSS or Valkey)", "valkey": "Amazon ElastiCache for Valkey",
    "memcached": "Amazon ElastiCache for Memcached", "rabbitmq": "Amazon MQ for RabbitMQ",
    "kafka": "Amazon MSK", "cp-kafka": "Amazon MSK", "mongo": "Amazon DocumentDB", "mongodb": "Amazon DocumentDB",
}
# Ports nobody serves requests on: never the service's port while another one exists.
ADMIN_PORT_NAME = re.compile(r"metric|prom|admin|debug|manage|monitor|health|stats|jmx|pprof|profil", re.IGNORECASE)
HTTP_NAME = re.compile(r"^(http|https|web|grpc|h2c|http2)([-_].*)?$", re.IGNORECASE)
TCP_NAME = re.compile(r"^(tcp|amqp|mqtt|redis|mysql|postgres|pg|mongo|kafka|memcache|smtp|ldap|nats|zk|client)([-_].*)?$",
                      re.IGNORECASE)
# Init containers that only wait for another service (`until nc -z queue 5672`): ECS cannot order services.
WAIT_COMMAND = re.compile(r"\b(nc|ncat|nslookup|dig|getent|wait-for|wait-for-it|dockerize|pg_isready|curl|wget|until|sleep)\b")


class _Importer:
    def __init__(self, manifests: list[Manifest], platform: str, environment: str):
        self.platform, self.environment = platform, environment
        self.findings: list[Finding] = []
        self.file_systems: dict[str, dict[str, Any]] = {}  # environment file systems the claims became
        self.data_stores: dict[str, dict[str, Any]] = {}
        self.by_kind: dict[str, list[Manifest]] = defaultdict(list)
        for manifest in manifests:
            self.by_kind[manifest.kind].append(manifest)
            if manifest.kind not in KNOWN_KINDS:
                self.note(manifest, "kind", f"{manifest.kind or 'a document without a kind'} is not imported", DROPPED)
        self.config_maps = {(m.namespace, m.name): m.body.get("data", {}) or {} for m in self.by_kind["ConfigMap"]}
        self.secret_keys = {(m.namespace, m.name): sorted({**(m.body.get("data") or {}), **(m.body.get("stringData") or {})})
                            for m in self.by_kind["Secret"]}
        self.workloads = sorted(self.by_kind["Deployment"] + self.by_kind["StatefulSet"], key=lambda m: (m.name, m.namespace))
        self.names = name_workloads([(m.namespace, m.name, m.body) for m in self.workloads],
                                    [m.body for m in self.by_kind["Service"]])
        self.service_names = {(m.namespace, m.name): self.names.service_of.get((m.namespace, m.name))
                              for m in self.workloads}
        self.manifest_of: dict[str, Manifest] = {self.names.service_of[(m.namespace, m.name)]: m for m in self.workloads
                                                 if (m.namespace, m.name) in self.names.service_of}
        self.http_addressed = self._http_addressed()
        self.routed = self._routed_services()

    # --- findings -----------------------------------------------------------------------------

    def note(self, manifest: Manifest, path: str, text: str, kind: str = TO_DO) -> None:
        self.findings.append(Finding(manifest.where, path, text, kind, f"{manifest.kind}/{manifest.name}"))

    def catalog_note(self, path: str, text: str, kind: str = TO_DO, subject: str = "") -> None:
        self.findings.append(Finding("(catalog)", path, text, kind, subject))

    def _subject(self, service: str) -> str:
        manifest = self.manifest_of.get(service)
        return f"{manifest.kind}/{manifest.name}" if manifest else ""

    # --- what the manifests say about a Service, before mapping ---------------------------------

    def _kubernetes_service(self, namespace: str, name: str) -> Manifest | None:
        return next((m for m in self.by_kind["Service"] if m.name == name and m.namespace == namespace), None)

    def _services_of(self, workload: Manifest) -> list[Manifest]:
        return [s for s in self.by_kind["Service"] if selects(s.body, workload.body)]

    def _http_addressed(self) -> set[str]:
        """ECS names some pod addresses with an http(s)/grpc URL: evidence that they speak HTTP."""
        found = set()
        for workload in self.workloads:
            for container in pod_spec(workload.body).get("containers", []) or []:
                for variable in container.get("env", []) or []:
                    for address in addresses(str(variable.get("name", "")), str(variable.get("value", ""))):
                        target = resolve(self.names, address.host, workload.namespace)
                        if target and address.scheme in ("http", "https", "grpc", "h2c", "ws", "wss"):
                            found.add(target[0])
        return found

    def _routed_services(self) -> set[tuple[str, str]]:
        """Kubernetes Services an Ingress or a LoadBalancer sends outside traffic to."""
        routed = {(m.namespace, m.name) for m in self.by_kind["Service"]
                  if (m.body.get("spec") or {}).get("type") == "LoadBalancer"}
        for ingress in self.by_kind["Ingress"]:
            for _, backend in self._ingress_backends(ingress):
                routed.add((ingress.namespace, backend))
        return routed

    def _ingress_backends(self, ingress: Manifest) -> list[tuple[str, str]]:
        """(field, Service name) of every backend an Ingress names (v1 and v1beta1 shapes)."""
        spec = ingress.body.get("spec") or {}
        found = []
        for field_name in ("defaultBackend", "backend"):
            name = _backend_name(spec.get(field_name))
            if name:
                found.append((f"spec.{field_name}", name))
        for rule_index, rule in enumerate(spec.get("rules", []) or []):
            for path_index, path in enumerate(((rule or {}).get("http") or {}).get("paths", []) or []):
                name = _backend_name(path.get("backend"))
                if name:
                    found.append((f"spec.rules[{rule_index}].http.paths[{path_index}]", name))
        return found

    # --- the catalog ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        services: dict[str, dict[str, Any]] = {}
        images: list[tuple[str, str, str | None, str | None, Manifest, str]] = []
        for (namespace, name), (service_name, kept) in sorted(self.names.versions.items()):
            manifest = next(m for m in self.workloads if (m.namespace, m.name) == (namespace, name))
            self.note(manifest, "metadata.name", f"another version behind Service {service_name!r}, which is imported "
                                                 f"from {kept!r}: an ECS service runs one task definition; roll this "
                                                 "version out with `deploy` once the service runs", DROPPED)
        for key, unique in sorted(self.names.renamed_for_namespace.items()):
            manifest = next(m for m in self.workloads if (m.namespace, m.name) == key)
            self.note(manifest, "metadata.namespace", f"the name is also used in another namespace: imported as {unique!r}",
                      GUESSED)
        for workload in self.workloads:
            name = self.names.service_of.get((workload.namespace, workload.name))
            if name is None:
                continue
            if (workload.namespace, workload.name) in self.names.named_after:
                self.note(workload, "metadata.name", f"named {name!r} after the Kubernetes Service that selects it, so "
                                                     "callers' addresses keep working", MAPPED)
            store = self._data_store(workload, name)
            if store:
                continue
            services[name] = self._service(workload, name, images)
        self._unselecting_services()
        self._autoscalers(services)
        self._calls(services)
        domain = self._routes(services)
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
        registry, tag = self._images(images, services, scheduled_tasks)
        region_match = re.search(r"\.ecr\.([a-z0-9-]+)\.amazonaws\.com$", registry)
        region = region_match.group(1) if region_match else "us-east-1"
        if not region_match:
            self.catalog_note("platform.region", f"guessed {region}; the images are not in ECR", GUESSED)
        sizes = Counter((s["resources"]["cpu"], s["resources"]["memory"]) for s in services.values())
        cpu, memory = sizes.most_common(1)[0][0] if sizes else (256, 512)
        self._coverage()
        return {
            "platform": {"name": self.platform, "region": region, "image_registry": registry},
            "sizing": {"imported": {"cpu": cpu, "memory": memory, "min_tasks": 1, "max_tasks": 2}},
            "groups": {"imported": {"spot_percentage": 0, "sizing": "imported"}},
            "data_stores": dict(sorted(self.data_stores.items())),
            "services": services,
            **({"scheduled_tasks": scheduled_tasks} if scheduled_tasks else {}),
            "environments": {self.environment: self._environment(domain, tag)},
        }

    def _images(self, images: list[tuple[str, str, str | None, str | None, Manifest, str]],
                services: dict[str, dict[str, Any]], scheduled_tasks: dict[str, dict[str, Any]]) -> tuple[str, str]:
        """The platform registry (the most common ECR one), the environment's image tag (the most common), and
        per service its repository and, where its tag differs, an override of the tag."""
        registries = Counter(registry for registry, *_ in images if ECR_REGISTRY.match(registry))
        tags = Counter(tag for _, _, tag, _, _, _ in images if tag and tag not in MOVING_TAGS)
        registry = registries.most_common(1)[0][0] if registries else PLACEHOLDER_REGISTRY
        if not registries:
            self.catalog_note("platform.image_registry", f"the images are not in ECR "
                              f"({', '.join(sorted({r for r, *_ in images}))}); placeholder {registry}: push them to your "
                              "ECR registry (the shared root creates the repositories)")
        tag = tags.most_common(1)[0][0] if tags else "replace-me"
        if not tags:
            self.catalog_note(f"environments.{self.environment}.image_tag", "no image has a release tag (moving tags "
                              "like latest are refused); set the tag you push")
        for image_registry, repository, image_tag, digest, manifest, name in images:
            target = services.get(name) if manifest.kind in WORKLOAD_KINDS else scheduled_tasks.get(name)
            if target is None:
                continue
            field_name = "spec.template.spec.containers[].image" if manifest.kind in WORKLOAD_KINDS else \
                "spec.jobTemplate.spec.template.spec.containers[0].image"
            if image_registry != registry:
                self.note(manifest, field_name, f"registry {image_registry} is not the catalog's {registry}: push "
                                                f"{repository} there", TO_DO)
            if repository != f"{self.platform}/{name}":
                target["image_repository"] = repository
            if digest:
                self.note(manifest, field_name, f"pinned by digest {digest}: ECS deploys name a tag here; push that "
                                                f"image with a tag and set it as {name}'s image tag", TO_DO)
            if image_tag in MOVING_TAGS:
                self.note(manifest, field_name, f"moving tag {image_tag!r}: set the release tag you push", TO_DO)
            elif image_tag and image_tag != tag and manifest.kind in WORKLOAD_KINDS:
                target.setdefault("overrides", {})[self.environment] = {"image_tag": image_tag}
                self.note(manifest, field_name, f"tag {image_tag} (the environment's is {tag}): "
                                                f"overrides.{self.environment}.image_tag", MAPPED)
            elif image_tag and image_tag != tag:
                self.note(manifest, field_name, f"tag {image_tag} differs from the environment's {tag}; scheduled tasks "
                                                "run the environment's tag: push it under that tag too", TO_DO)
        return registry, tag

    def _unselecting_services(self) -> None:
        """A Service that selects no workload reaches nothing: often a namespace or label mismatch in the manifests."""
        for service in sorted(self.by_kind["Service"], key=lambda m: m.name):
            if any(selects(service.body, w.body) for w in self.workloads):
                continue
            selector = (service.body.get("spec") or {}).get("selector") or {}
            elsewhere = sorted({w.namespace for w in self.workloads
                                if selector and all(pod_labels(w.body).get(k) == v for k, v in selector.items())})
            hint = (f"; workloads with those labels are in namespace {', '.join(elsewhere)}: apply the manifests to one "
                    "namespace") if elsewhere else ""
            self.note(service, "spec.selector", f"selects no workload in namespace {service.namespace}{hint}; callers "
                                                f"of {service.name!r} are not connected", DROPPED)
        for service in self.by_kind["Service"]:
            if (service.body.get("spec") or {}).get("type") == "NodePort":
                self.note(service, "spec.type", "NodePort: reachable on every node's port; if that was a public entry "
                                                "point, add a route (ECS has no nodes)", TO_DO)

    def _data_store(self, workload: Manifest, name: str) -> bool:
        """A well-known stateful image (mysql, postgres, redis, ...) -> a data store to replace with a managed service."""
        main = self._main_container(workload)
        _, repository, _, _ = image_reference(str(main.get("image", "")))
        product = repository.rsplit("/", 1)[-1]
        if product not in MANAGED_REPLACEMENTS:
            return False
        port = self._port(workload, main, quiet=True)
        if port is None:
            return False
        self.data_stores[name] = {"port": port, "description": f"was {product} in Kubernetes ({workload.kind} "
                                                                f"{workload.name})"}
        self.note(workload, "spec.template.spec.containers[].image",
                  f"{product} is a data store: imported as data store {name!r} (port {port}) to replace with "
                  f"{MANAGED_REPLACEMENTS[product]}; copy the data, then set its security group under "
                  f"environments.{self.environment}.data_stores.{name} (placeholder tag Name={self.platform}-"
                  f"{self.environment}-{name}) and point the callers' addresses at the new endpoint", TO_DO)
        return True

    def _scheduled_task(self, cron: Manifest, images: list) -> dict[str, Any] | None:
        spec = cron.body.get("spec", {}) or {}
        pod = (((spec.get("jobTemplate", {}) or {}).get("spec", {}) or {}).get("template", {}) or {}).get("spec", {}) or {}
        containers = pod.get("containers", []) or []
        expression = eventbridge_cron(str(spec.get("schedule", "")))
        if expression is None:
            self.note(cron, "spec.schedule", f"{spec.get('schedule')!r} has no EventBridge equivalent; not mapped", DROPPED)
            return None
        main = containers[0]
        registry, repository, tag, digest = image_reference(str(main.get("image", "")))
        name = identifier(cron.name)
        images.append((registry, repository, tag, digest, cron, name))
        task: dict[str, Any] = {"schedule": expression}
        if spec.get("timeZone"):
            task["timezone"] = str(spec["timeZone"])
        else:
            self.note(cron, "spec.timeZone", "not set (Kubernetes then uses the controller's zone); imported as UTC", GUESSED)
        if expression.startswith("cron(") and str(spec.get("schedule")).split()[2:3] != ["*"] and \
                str(spec.get("schedule")).split()[4:5] != ["*"]:
            self.note(cron, "spec.schedule", "day of month and day of week both set: EventBridge takes one; kept the "
                                             "day of month", GUESSED)
        for index in range(1, len(containers)):
            self.note(cron, f"spec.jobTemplate.spec.template.spec.containers[{index}]", "only the first container is run",
                      DROPPED)
        base = "spec.jobTemplate.spec.template.spec.containers[0]"
        holder: dict[str, Any] = {}
        defined = self._environment_variables(cron, main, base, holder)
        self._commands(cron, main, base, defined, task)
        resources = main.get("resources", {}) or {}
        requests, limits = resources.get("requests", {}) or {}, resources.get("limits", {}) or {}
        try:
            cpu, memory = fargate_size(max(cpu_units(requests.get("cpu", 0)), cpu_units(limits.get("cpu", 0))),
                                       max(memory_mib(requests.get("memory", 0)), memory_mib(limits.get("memory", 0))))
            task["cpu"], task["memory"] = cpu, memory
        except (ValueError, KeyError):
            self.note(cron, f"{base}.resources", "unreadable quantity; smallest Fargate size", GUESSED)
        task.update({key: holder[key] for key in ("environment", "secrets") if key in holder})
        return task

    def _environment(self, domain: str, tag: str) -> dict[str, Any]:
        env = self.environment
        for what in ("vpc", "private_subnets", "public_subnets", "logs_bucket", "alerting.pagerduty_endpoint_secret"):
            self.catalog_note(f"environments.{env}.{what}", "placeholder; set the real value")
        stores = {name: {"tags": {"Name": f"{self.platform}-{env}-{name}"}} for name in sorted(self.data_stores)}
        return {
            "domain": domain,
            "certificate_domain": f"*.{domain}",
            "vpc": {"tags": {"Name": f"{self.platform}-{env}"}},
            "private_subnets": {"tags": {"Tier": "private"}},
            "public_subnets": {"tags": {"Tier": "public"}},
            "data_stores": stores,
            "logs_bucket": f"{self.platform}-{env}-lb-logs",
            "log_retention_days": 30,
            "deletion_protection": False,
            "secret_prefix": f"{self.platform}/{env}/",
            "image_tag": tag,
            "alerting": {"pagerduty_endpoint_secret": "alerting/pagerduty-endpoint"},
            **({"file_systems": dict(sorted(self.file_systems.items()))} if self.file_systems else {}),
        }

    def _main_container(self, workload: Manifest) -> dict[str, Any]:
        return pod_spec(workload.body)["containers"][self._main_index(workload)]

    def _main_index(self, workload: Manifest) -> int:
        """The container a Service targets (by port number or name), else the first."""
        containers = pod_spec(workload.body).get("containers", [])
        targeted = set()
        for service in self._services_of(workload):
            for port in (service.body.get("spec") or {}).get("ports", []) or []:
                targeted.add(port.get("targetPort", port.get("port")))
        for index, container in enumerate(containers):
            ports = container.get("ports", []) or []
            if any(p.get("containerPort") in targeted or p.get("name") in targeted for p in ports):
                return index
        return 0

    def _targeted_ports(self, workload: Manifest) -> list[tuple[int, dict[str, Any], Manifest]]:
        """(container port, Service port entry, Service) for every port a Service selecting the workload targets."""
        found = []
        for service in self._services_of(workload):
            for entry in (service.body.get("spec") or {}).get("ports", []) or []:
                if str(entry.get("protocol", "TCP")).upper() != "TCP":
                    continue
                number = container_port_of(workload.body, entry.get("targetPort", entry.get("port")))
                if number is not None:
                    found.append((number, entry, service))
        return found

    def _port(self, workload: Manifest, main: dict[str, Any], quiet: bool = False) -> int | None:
        """The service's port: a TCP port a Service targets, not a metrics or admin port; from the Service or a
        probe when the container lists none. UDP ports never."""
        base = f"spec.template.spec.containers[{self._main_index(workload)}].ports"
        listed = [p for p in main.get("ports", []) or [] if isinstance(p.get("containerPort"), int)]
        tcp = [p for p in listed if str(p.get("protocol", "TCP")).upper() == "TCP"]
        targeted = [number for number, _, _ in self._targeted_ports(workload)]
        say = (lambda *args: None) if quiet else self.note
        for port in listed:
            if port not in tcp:
                say(workload, base, f"{port.get('protocol')} port {port['containerPort']} not mapped: Service Connect and "
                                    "load balancers here carry TCP only", DROPPED)
        if not tcp:
            probe_ports = [p.get("port") for kind in ("readinessProbe", "livenessProbe", "startupProbe")
                           for p in [((main.get(kind) or {}).get("httpGet") or (main.get(kind) or {}).get("tcpSocket")
                                      or (main.get(kind) or {}).get("grpc") or {})] if isinstance(p.get("port"), int)]
            for number, source in [*((n, "a Service's targetPort") for n in targeted),
                                   *((n, "the probe") for n in probe_ports)]:
                say(workload, base, f"no ports listed; port {number} taken from {source}", GUESSED)
                return number
            return None

        def rank(port: dict[str, Any]) -> tuple[bool, bool, bool, int]:
            name = str(port.get("name", ""))
            return (bool(ADMIN_PORT_NAME.search(name)), port["containerPort"] not in targeted,
                    not HTTP_NAME.match(name), tcp.index(port))

        chosen = sorted(tcp, key=rank)[0]
        if len(tcp) > 1:
            others = ", ".join(f"{p['containerPort']}" + (f" ({p['name']})" if p.get("name") else "")
                               for p in tcp if p is not chosen)
            say(workload, base, f"port {chosen['containerPort']} is the service's; {others} reachable only inside the "
                                "task (metrics and admin ports are never the service's)", GUESSED)
        return int(chosen["containerPort"])

    def _service(self, workload: Manifest, name: str, images: list) -> dict[str, Any]:
        spec = workload.body.get("spec", {})
        pod = pod_spec(workload.body)
        containers = pod.get("containers", [])
        main_index = self._main_index(workload)
        main = containers[main_index]
        base = f"spec.template.spec.containers[{main_index}]"
        service: dict[str, Any] = {"group": "imported"}
        description = (workload.body.get("metadata", {}).get("annotations") or {}).get("description")
        if description:
            service["description"] = str(description)[:200]
        registry, repository, tag, digest = image_reference(str(main.get("image", "")))
        images.append((registry, repository, tag, digest, workload, name))
        if workload.kind == "StatefulSet":
            self.note(workload, "kind", "StatefulSet imported as a service: stable pod names and per-pod volumes "
                                        "do not exist on ECS", GUESSED)
        port = self._port(workload, main)
        if port is not None:
            service["port"] = port
            service["protocol"] = self._protocol(workload, main, base, name, port)
            if service["protocol"] == "http":
                del service["protocol"]
        self._probe(workload, main, base, service)
        holder = service
        defined = self._environment_variables(workload, main, base, holder)
        self._commands(workload, main, base, defined, service)
        sidecars: dict[str, dict[str, Any]] = {}
        for index, container in enumerate(pod.get("initContainers", []) or []):
            self._sidecar(workload, f"spec.template.spec.initContainers[{index}]", container, sidecars, main, init=True)
        for index, container in enumerate(containers):
            if index != main_index:
                self._sidecar(workload, f"spec.template.spec.containers[{index}]", container, sidecars, main, init=False)
        if sidecars:
            service["sidecars"] = sidecars
        self._size(workload, pod, spec, service)
        self._architecture(workload, pod, service)
        self._volumes(workload, pod, main, base, service)
        return service

    def _protocol(self, workload: Manifest, main: dict[str, Any], base: str, name: str, port: int) -> str:
        """What the port speaks, from the Service port that targets it (appProtocol, else its name), a gRPC
        probe, and whether anything speaks HTTP to it; `tcp` when nothing does and a TCP probe or port name says so."""
        for number, entry, service in self._targeted_ports(workload):
            if number != port:
                continue
            app = str(entry.get("appProtocol", "")).lower()
            port_name = str(entry.get("name", "")).lower()
            protocol = ("grpc" if app == "grpc" or port_name.startswith("grpc") else
                        "http2" if app in ("http2", "kubernetes.io/h2c") else
                        "http" if app in ("http", "https", "kubernetes.io/ws", "kubernetes.io/wss") else
                        "tcp" if app == "tcp" or TCP_NAME.match(port_name) else None)
            if protocol in ("grpc", "http2"):
                self.note(service, "spec.ports[]", f"{name}: protocol {protocol} (from "
                                                   f"{'appProtocol' if app else 'the port name'})", MAPPED)
                return protocol
            if protocol == "tcp" and name not in self.http_addressed and \
                    (workload.namespace, service.name) not in self.routed:
                self.note(service, "spec.ports[]", f"{name}: protocol tcp (from {'appProtocol' if app else 'the port name'}"
                                                   "): no load balancer, Service Connect passes the bytes through", MAPPED)
                return "tcp"
        probes = [main.get(kind) or {} for kind in ("readinessProbe", "livenessProbe", "startupProbe")]
        if any("grpc" in probe for probe in probes):
            return "grpc"
        speaks_http = (any("httpGet" in probe for probe in probes) or name in self.http_addressed
                       or any((workload.namespace, s.name) in self.routed for s in self._services_of(workload)))
        if not speaks_http and any("tcpSocket" in probe for probe in probes):
            self.note(workload, base, "protocol tcp: only a TCP probe, no HTTP probe, route or http:// caller; no load "
                                      "balancer, Service Connect passes the bytes through", GUESSED)
            return "tcp"
        if not speaks_http:
            self.note(workload, base, "protocol http assumed: nothing in the manifests says what the port speaks", GUESSED)
        return "http"

    def _sidecar(self, workload: Manifest, where: str, container: dict[str, Any], sidecars: dict[str, dict[str, Any]],
                 main: dict[str, Any], init: bool) -> None:
        """Another container of the pod -> a sidecar; an init container -> one the service waits for (SUCCESS),
        unless all it does is wait for another service."""
        name = identifier(str(container.get("name", "sidecar")))
        command = [str(part) for part in [*(container.get("command") or []), *(container.get("args") or [])]]
        script = " ".join(command)
        waited = sorted({target[0] for token in re.findall(r"[a-z0-9][a-z0-9.-]*", script)
                         for target in [resolve(self.names, token, workload.namespace)] if target})
        waited += sorted(store for store in self.data_stores if re.search(rf"\b{re.escape(store)}\b", script))
        if init and waited and WAIT_COMMAND.search(script):
            self.note(workload, where, f"init container {name!r} waits for {', '.join(waited)}: not imported; ECS "
                                       "starts services independently, so the service must retry its connections "
                                       "(the deployment circuit breaker rolls back one that never becomes healthy)",
                      DROPPED)
            return
        registry, repository, tag, digest = image_reference(str(container.get("image", "")))
        if digest is None and tag in MOVING_TAGS:
            self.note(workload, f"{where}.image", f"{container.get('image')} has no pinned version; sidecar {name!r} "
                                                  "not mapped: pin a tag and add it under `sidecars`", DROPPED)
            return
        reference = f"{registry}/{repository}" + (f"@{digest}" if digest else f":{tag}")
        sidecar: dict[str, Any] = {"image": reference}
        ports = [p for p in container.get("ports", []) or [] if str(p.get("protocol", "TCP")).upper() == "TCP"]
        if ports:
            sidecar["port"] = int(ports[0]["containerPort"])
        if init:
            sidecar["run_before_service"] = "SUCCESS"
            self._shared_volumes(workload, where, container, main)
        elif re.search(r"fluent-?bit|fluentd", repository):
            sidecar["log_router"] = True
            self.note(workload, f"{where}.image", f"{repository} taken for a FireLens log router: the service's logs go "
                                                  "through it", GUESSED)
        kept, removed = scrub_credentials(command)
        if removed:
            self.note(workload, f"{where}.args", f"credentials on the command line not copied ({', '.join(removed)}): "
                                                 "read them from a secret in the environment", TO_DO)
        if kept:
            sidecar["command"] = kept
        environment: dict[str, str] = {}
        for index, variable in enumerate(container.get("env", []) or []):
            if "value" in variable and VARIABLE_NAME.fullmatch(str(variable.get("name", ""))):
                self._plain(workload, f"{where}.env[{index}]", str(variable["name"]), str(variable["value"]),
                            environment, {})
            else:
                self.note(workload, f"{where}.env[{index}]", "only plain values are imported for sidecars", DROPPED)
        if environment:
            sidecar["environment"] = environment
        sidecars[name] = sidecar

    def _shared_volumes(self, workload: Manifest, where: str, init: dict[str, Any], main: dict[str, Any]) -> None:
        """An init container prepares files for the main one through a shared volume: on ECS a sidecar shares the
        service's scratch directories at the same paths only."""
        volumes = {v.get("name"): v for v in pod_spec(workload.body).get("volumes", []) or []}
        main_paths = {m.get("name"): m.get("mountPath") for m in main.get("volumeMounts", []) or []}
        for index, mount in enumerate(init.get("volumeMounts", []) or []):
            volume = volumes.get(mount.get("name"), {})
            if "emptyDir" in volume and main_paths.get(mount.get("name")) == mount.get("mountPath"):
                self.note(workload, f"{where}.volumeMounts[{index}]", f"shares {mount.get('mountPath')} with the "
                                                                       "service as a scratch directory", MAPPED)
            else:
                self.note(workload, f"{where}.volumeMounts[{index}]",
                          f"writes volume {mount.get('name')!r} at {mount.get('mountPath')}"
                          + (f", which the service reads at {main_paths[mount.get('name')]}" if mount.get("name") in main_paths
                             else "") + ": sidecars share scratch directories at the service's own paths only; "
                          "prepare the files in the image or mount them at the same path", TO_DO)

    def _probe(self, workload: Manifest, main: dict[str, Any], base: str, service: dict[str, Any]) -> None:
        """readiness (the traffic gate, like the load balancer's check) else liveness -> the health check;
        liveness's start-up delay (or the startup probe's budget) -> the grace period: that is the probe
        that kills, and ECS's grace period is what protects a starting task."""
        protocol = service.get("protocol", "http")
        checked = False
        for kind in ("readinessProbe", "livenessProbe"):
            probe = main.get(kind)
            if not probe or checked:
                continue
            checked = True
            if "httpGet" in probe and "port" in service and protocol != "tcp":
                path = str(probe["httpGet"].get("path", "/"))
                if re.fullmatch(r"/[A-Za-z0-9._~/-]*", path):
                    service["health_check_path"] = path
                else:
                    self.note(workload, f"{base}.{kind}.httpGet.path", f"{path!r} is not a plain path; not mapped", DROPPED)
            elif "exec" in probe:
                service["health_check"] = {"command": [str(part) for part in probe["exec"].get("command", [])]}
            elif "grpc" in probe and "port" in service:
                grpc_port = probe["grpc"].get("port", service["port"])
                service["health_check"] = {"command": ["/bin/grpc_health_probe", f"-addr=:{grpc_port}"]}
                self.note(workload, f"{base}.{kind}.grpc", "gRPC probe -> checked with /bin/grpc_health_probe (a "
                                                           "guess: the image must contain it)", GUESSED)
            elif "tcpSocket" in probe:
                self.note(workload, f"{base}.{kind}.tcpSocket", "a TCP probe has no ECS equivalent without a tool in the "
                                                                "image: give health_check.command (e.g. a client's ping)",
                          TO_DO)
        if service.get("protocol") == "grpc" and "command" not in service.get("health_check", {}):
            service.setdefault("health_check", {})["command"] = ["/bin/grpc_health_probe", f"-addr=:{service['port']}"]
            self.note(workload, base, "gRPC service checked with /bin/grpc_health_probe (a guess: the image must "
                                      "contain it)", GUESSED)
        liveness, readiness, startup = (main.get(k) or {} for k in ("livenessProbe", "readinessProbe", "startupProbe"))
        grace = liveness.get("initialDelaySeconds") if liveness else readiness.get("initialDelaySeconds")
        if startup:
            grace = startup.get("failureThreshold", 3) * startup.get("periodSeconds", 10)
        if grace:
            service.setdefault("health_check", {})["grace_period_seconds"] = min(int(grace), 300)
            if grace > 300:
                self.note(workload, base, f"start-up time {grace} s capped at ECS's 300 s", GUESSED)
        if not checked and "port" in service and protocol != "tcp":
            self.note(workload, base, "no readiness or liveness probe; the catalog's default health_check_path applies",
                      GUESSED)

    def _size(self, workload: Manifest, pod: dict[str, Any], spec: dict[str, Any], service: dict[str, Any]) -> None:
        cpu = memory = 0.0
        for container in pod.get("containers", []):
            resources = container.get("resources", {}) or {}
            requests, limits = resources.get("requests", {}) or {}, resources.get("limits", {}) or {}
            try:
                cpu += max(cpu_units(requests.get("cpu", 0)), cpu_units(limits.get("cpu", 0)))
                memory += max(memory_mib(requests.get("memory", 0)), memory_mib(limits.get("memory", 0)))
            except (ValueError, KeyError):
                self.note(workload, "spec.template.spec.containers[].resources", "unreadable quantity; sized from the rest",
                          GUESSED)
        if not cpu and not memory:
            self.note(workload, "spec.template.spec.containers[].resources", "no requests or limits: smallest Fargate "
                                                                             "size", GUESSED)
        task_cpu, task_memory = fargate_size(cpu, memory)
        replicas = int(spec.get("replicas", 1))
        if replicas < 1:
            self.note(workload, "spec.replicas", "0 replicas: imported with 1 task", GUESSED)
            replicas = 1
        if workload.kind == "StatefulSet" and spec.get("volumeClaimTemplates") and replicas > 1:
            self.note(workload, "spec.replicas", f"{replicas} replicas each had a volume of their own; on ECS every task "
                                                 "would share one EFS directory: imported with 1 task. Raise the count "
                                                 "only if the application can share its data", TO_DO)
            replicas = 1
        service["resources"] = {"cpu": task_cpu, "memory": task_memory, "min_tasks": replicas, "max_tasks": replicas}
        self.note(workload, "spec.template.spec.containers[].resources",
                  f"{cpu:.0f} CPU units and {memory:.0f} MiB over all containers -> Fargate {task_cpu}/{task_memory}",
                  MAPPED)

    def _environment_variables(self, workload: Manifest, main: dict[str, Any], base: str,
                               service: dict[str, Any]) -> dict[str, str]:
        """env and envFrom -> environment and secrets; returns every plain value defined (for `$(VAR)`)."""
        environment: dict[str, str] = {}
        secrets: dict[str, str] = {}
        defined: dict[str, str] = {}
        reviewed: dict[str, str] = {}
        namespace = workload.namespace
        for source_index, source in enumerate(main.get("envFrom", []) or []):
            where = f"{base}.envFrom[{source_index}]"
            if "configMapRef" in source:
                name = source["configMapRef"].get("name")
                if (namespace, name) in self.config_maps:
                    for key, value in sorted(self.config_maps[(namespace, name)].items()):
                        defined[key] = str(value)
                        self._plain(workload, f"{where} ({name}.{key})", key, str(value), environment, reviewed)
                else:
                    self.note(workload, where, f"ConfigMap {name!r} is not in the manifests; its keys are not imported")
            elif "secretRef" in source:
                name = source["secretRef"].get("name")
                if (namespace, name) in self.secret_keys:
                    for key in self.secret_keys[(namespace, name)]:
                        if VARIABLE_NAME.fullmatch(key):
                            secrets[key] = f"{name}/{key}"
                else:
                    self.note(workload, where, f"Secret {name!r} is not in the manifests; name its keys in `secrets`")
        for index, variable in enumerate(main.get("env", []) or []):
            name, where = str(variable.get("name", "")), f"{base}.env[{index}]"
            if not VARIABLE_NAME.fullmatch(name):
                self.note(workload, where, f"{name!r} is not an upper-case variable name; not mapped", DROPPED)
                continue
            if "value" in variable:
                expansion = expand(str(variable["value"]), defined)
                if expansion.unresolved:
                    self.note(workload, where, f"{name}: $({'), $('.join(expansion.unresolved)}) is not a plain variable "
                                               "defined before it (Kubernetes expands those, ECS expands nothing); not "
                                               "copied: set the value by hand", TO_DO)
                    continue
                if expansion.value != str(variable["value"]):
                    self.note(workload, where, f"{name}: {variable['value']!r} expanded to {expansion.value!r} (ECS does "
                                               "not expand $(VAR))", MAPPED)
                defined[name] = expansion.value
                self._plain(workload, where, name, expansion.value, environment, reviewed)
                continue
            source = variable.get("valueFrom", {}) or {}
            if "secretKeyRef" in source:
                reference = source["secretKeyRef"]
                secrets[name] = f"{reference.get('name')}/{reference.get('key')}"
            elif "configMapKeyRef" in source:
                reference = source["configMapKeyRef"]
                values = self.config_maps.get((namespace, reference.get("name")), {})
                if reference.get("key") in values:
                    defined[name] = str(values[reference["key"]])
                    self._plain(workload, where, name, str(values[reference["key"]]), environment, reviewed)
                else:
                    self.note(workload, where, f"ConfigMap {reference.get('name')!r} key {reference.get('key')!r} is "
                                               "not in the manifests; not mapped")
            else:
                self.note(workload, where, f"{name}: {', '.join(source) or 'no value'} is not mapped (Kubernetes fills "
                                           "it at run time)", DROPPED)
        if environment:
            service["environment"] = dict(sorted(environment.items()))
        if reviewed:
            service["reviewed_plain_variables"] = dict(sorted(reviewed.items()))
        if secrets:
            service["secrets"] = dict(sorted(secrets.items()))
            self.note(workload, f"{base}.env", f"Secrets Manager secrets named `<secret>/<key>` under the environment's "
                                               f"secret_prefix must exist: {', '.join(sorted(set(secrets.values())))}")
        return defined

    def _commands(self, workload: Manifest, main: dict[str, Any], base: str, defined: dict[str, str],
                  target: dict[str, Any]) -> None:
        """command -> entry_point, args -> command: `$(VAR)` expanded, credentials on the command line removed."""
        for field_name, key in (("command", "entry_point"), ("args", "command")):
            parts = main.get(field_name)
            if not parts:
                continue
            expanded = []
            for part in (str(p) for p in parts):
                expansion = expand(part, defined)
                if expansion.unresolved:
                    self.note(workload, f"{base}.{field_name}", f"{part!r}: $({'), $('.join(expansion.unresolved)}) is not "
                                                                "a plain variable defined in the container; ECS expands "
                                                                "nothing: copied as written, fix it by hand", TO_DO)
                expanded.append(expansion.value)
            if expanded != [str(p) for p in parts]:
                self.note(workload, f"{base}.{field_name}", "$(VAR) references expanded (ECS does not expand them)", MAPPED)
            kept, removed = scrub_credentials(expanded)
            if removed:
                self.note(workload, f"{base}.{field_name}", f"credentials on the command line not copied "
                                                            f"({', '.join(removed)}): read them from a secret in the "
                                                            "environment instead", TO_DO)
            if kept:
                target[key] = kept

    def _plain(self, workload: Manifest, where: str, name: str, value: str, environment: dict[str, str],
               reviewed: dict[str, str]) -> None:
        reason = credential_in_plain_value(name, value)
        if reason:
            self.note(workload, where, f"{name} looks like a credential ({reason}); not copied: store it in Secrets "
                                       "Manager and list it under `secrets`", TO_DO)
            return
        if SECRET_LOOKING_NAME.search(name):
            reviewed[name] = f"imported: {harmless(value)}"
            self.note(workload, where, f"{name} has a credential-like name but {harmless(value)}: kept, listed under "
                                       "reviewed_plain_variables", GUESSED)
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
            self.note(workload, "spec.template.spec.affinity", f"several architectures {sorted(arches)}: X86_64 chosen",
                      GUESSED)

    def _volumes(self, workload: Manifest, pod: dict[str, Any], main: dict[str, Any], base: str,
                 service: dict[str, Any]) -> None:
        volumes = {v.get("name"): v for v in pod.get("volumes", []) or []}
        scratch = []
        claims = {str(c.get("metadata", {}).get("name")) for c in
                  (workload.body.get("spec", {}).get("volumeClaimTemplates") or [])}
        for index, mount in enumerate(main.get("volumeMounts", []) or []):
            volume = volumes.get(mount.get("name"), {})
            path = str(mount.get("mountPath", ""))
            where = f"{base}.volumeMounts[{index}]"
            plain_path = re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", path) and path != "/"
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None and mount.get("name") in claims:
                claim = f"{mount.get('name')}-{workload.name}"  # a StatefulSet's per-pod claims, one file system here
            kind = next((k for k in volume if k != "name"), "unknown")
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
                self.note(workload, where, f"volume claim {claim} at {path} -> EFS file system {file_system!r} (tag "
                                           f"Name={tag}, a placeholder): copy the data to EFS; unlike a ReadWriteOnce "
                                           "volume it is shared by every task")
            elif mount.get("subPath") and kind in ("configMap", "secret"):
                source = volume[kind].get("name") or volume[kind].get("secretName")
                self.note(workload, where, f"the file {path} comes from {kind} {source!r} (subPath "
                                           f"{mount['subPath']!r}): bake it into the image, or read the value from the "
                                           "environment; not a directory to mount", TO_DO)
            else:
                self.note(workload, where, f"{kind} volume at {path} not mapped (configMap and secret files: bake them "
                                           "into the image or read them from the environment)", TO_DO)
        if scratch:
            service["scratch_paths"] = sorted(set(scratch) | {"/tmp"})
        if not (main.get("securityContext", {}) or {}).get("readOnlyRootFilesystem"):
            self.note(workload, f"{base}.securityContext.readOnlyRootFilesystem",
                      "not set in Kubernetes; on ECS the root filesystem is read-only with /tmp writable: add "
                      "scratch_paths, or writable_root_filesystem with a reason, if the service writes elsewhere", GUESSED)

    def _autoscalers(self, services: dict[str, dict[str, Any]]) -> None:
        for hpa in self.by_kind["HorizontalPodAutoscaler"]:
            spec = hpa.body.get("spec", {}) or {}
            target = (spec.get("scaleTargetRef") or {}).get("name")
            name = self.names.service_of.get((hpa.namespace, target))
            if name not in services:
                self.note(hpa, "spec.scaleTargetRef", f"{target!r} is not an imported service", DROPPED)
                continue
            resources = services[name]["resources"]
            resources["min_tasks"] = int(spec.get("minReplicas", 1))
            resources["max_tasks"] = int(spec.get("maxReplicas", resources["min_tasks"]))
            if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
                services[name].setdefault("autoscaling", {})["cpu_target"] = min(int(spec["targetCPUUtilizationPercentage"]), 100)
            for index, metric in enumerate(spec.get("metrics", []) or []):
                resource = metric.get("resource", {}) if metric.get("type") == "Resource" else None
                target_spec = (resource or {}).get("target") or {}
                utilization = target_spec.get("averageUtilization", (resource or {}).get("targetAverageUtilization"))
                if resource and resource.get("name") in ("cpu", "memory") and utilization:
                    services[name].setdefault("autoscaling", {})[f"{resource['name']}_target"] = min(int(utilization), 100)
                else:
                    self.note(hpa, f"spec.metrics[{index}]", "only cpu and memory utilization targets are mapped", DROPPED)

    def _calls(self, services: dict[str, dict[str, Any]]) -> None:
        """An address of another Service in an environment value is a call: a URL (`http://ratings:9080`,
        `...svc.cluster.local`), a whole `host:port` value (or a comma list), a bare host in a host-like variable
        (`QUEUE_HOSTNAME=queue`, its port in `QUEUE_PORT`). The address is rewritten to what Service Connect
        answers: the ECS service's name and its container port. Addresses of data stores become `data_stores`."""
        for name, service in services.items():
            workload = self.manifest_of[name]
            calls, stores = set(), set()
            environment = service.get("environment", {})
            for variable, value in list(environment.items()):
                new_value = value
                for address in addresses(variable, value):
                    target = resolve(self.names, address.host, workload.namespace)
                    if target is None and "." not in address.host and address.port and not address.scheme:
                        self.catalog_note(f"services.{name}.environment.{variable}",
                                          f"{address.text!r} names host {address.host!r}, which no Service in the "
                                          "manifests has: if it is a service, import its manifests too (it becomes a "
                                          "`calls` edge)", TO_DO, self._subject(name))
                    if not target or target[0] == name:
                        continue
                    callee, port_map = target
                    if callee in self.data_stores:
                        stores.add(callee)
                        self.catalog_note(f"services.{name}.environment.{variable}",
                                          f"{address.text!r} addresses data store {callee!r}: point it at the managed "
                                          "service's endpoint once it exists", TO_DO, self._subject(name))
                        continue
                    if callee not in services:
                        continue
                    calls.add(callee)
                    if variable == url_variable(callee):
                        # `calls` sets it (Service Connect on ECS, the legacy URL before).
                        del environment[variable]
                        self.catalog_note(f"services.{name}.environment.{variable}",
                                          f"was {value!r}; `calls: [{callee}]` now sets it to the callee's Service "
                                          "Connect URL (no path)",
                                          GUESSED if value.rstrip("/") != address.text else MAPPED, self._subject(name))
                        new_value = None
                        break
                    callee_port = services[callee].get("port")
                    port = port_map.get(address.port, address.port) if address.port else None
                    host_port = f"{callee}:{port}" if port else callee
                    rewritten = address.text.replace(
                        address.text.split("://", 1)[-1].split("@")[-1], host_port) if "://" in address.text \
                        else host_port
                    if rewritten != address.text:
                        new_value = new_value.replace(address.text, rewritten)
                        self.catalog_note(f"services.{name}.environment.{variable}",
                                          f"{address.text!r} -> {rewritten!r}: Service Connect answers on {callee}'s "
                                          f"name and container port {callee_port}", MAPPED, self._subject(name))
                    partner = port_partner(variable)
                    if address.port is None and partner and environment.get(partner, "").isdigit():
                        partner_port = int(environment[partner])
                        if port_map.get(partner_port, partner_port) != partner_port:
                            environment[partner] = str(port_map[partner_port])
                            self.catalog_note(f"services.{name}.environment.{partner}",
                                              f"{partner_port} -> {port_map[partner_port]}: {callee}'s container port, "
                                              "where Service Connect answers", MAPPED, self._subject(name))
                if new_value is not None and new_value != value:
                    environment[variable] = new_value
            if calls:
                service["calls"] = sorted(calls)
            if stores:
                service["data_stores"] = sorted(stores)
            if "environment" in service and not service["environment"]:
                del service["environment"]

    def _routes(self, services: dict[str, dict[str, Any]]) -> str:
        """Ingress rules, default backends and LoadBalancer Services -> routes; returns the environment's domain
        (the hosts' common parent)."""
        candidates = []  # (specificity, service, host, patterns, manifest)
        hosts = []
        schemes: dict[str, set[bool]] = defaultdict(set)  # service -> its Ingresses are internal?

        def target_of(manifest: Manifest, backend: str, where: str) -> str | None:
            target = resolve(self.names, backend, manifest.namespace)
            if not target or target[0] not in services:
                self.note(manifest, where, f"backend {backend!r} selects no imported service", DROPPED)
                return None
            if services[target[0]].get("protocol") == "tcp":
                self.note(manifest, where, f"backend {backend!r} speaks tcp; load balancers here speak HTTP", DROPPED)
                return None
            return target[0]

        for ingress in self.by_kind["Ingress"]:
            api_version = str(ingress.body.get("apiVersion", ""))
            if not api_version.startswith(("networking.k8s.io/", "extensions/")):
                self.note(ingress, "apiVersion", f"{api_version} is not an Ingress API; skipped", DROPPED)
                continue
            annotations = ingress.body.get("metadata", {}).get("annotations") or {}
            internal = annotations.get("alb.ingress.kubernetes.io/scheme") == "internal"
            spec = ingress.body.get("spec") or {}
            for field_name in ("defaultBackend", "backend"):
                backend = _backend_name(spec.get(field_name))
                target = backend and target_of(ingress, backend, f"spec.{field_name}")
                if target:
                    # Requests no rule matches: a catch-all, evaluated after every other rule.
                    candidates.append(((True, 1, True, True), target, "", ["/*"], ingress))
                    schemes[target].add(internal)
            for rule_index, rule in enumerate(spec.get("rules", []) or []):
                host = str((rule or {}).get("host", ""))
                hosts.append(host)
                for path_index, path in enumerate(((rule or {}).get("http") or {}).get("paths", []) or []):
                    where = f"spec.rules[{rule_index}].http.paths[{path_index}]"
                    backend = _backend_name(path.get("backend"))
                    target = backend and target_of(ingress, backend, where)
                    if not target:
                        continue
                    kind = path.get("pathType", "ImplementationSpecific")
                    value = str(path.get("path", "/"))
                    if kind == "ImplementationSpecific":
                        self.note(ingress, where, f"pathType ImplementationSpecific {value!r} imported as Prefix", GUESSED)
                    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value):
                        self.note(ingress, where, f"path {value!r} is not a plain path (regular expression?); not mapped",
                                  DROPPED)
                        continue
                    stripped = value.rstrip("/") or "/"
                    if kind == "Exact":
                        patterns = [value]
                    elif stripped == "/":
                        patterns = [] if host else ["/*"]  # a host-less `/` prefix takes every request
                    else:
                        patterns = [stripped, f"{stripped}/*"]
                    # More specific first: exact paths, then longer prefixes, then concrete hosts, catch-alls last.
                    specificity = (kind != "Exact", -len(stripped) if stripped != "/" else 1,
                                   host.startswith("*") or not host, False)
                    candidates.append((specificity, target, host, patterns, ingress))
                    schemes[target].add(internal)
        for manifest in sorted(self.by_kind["Service"], key=lambda m: m.name):
            if (manifest.body.get("spec") or {}).get("type") != "LoadBalancer":
                continue
            target = target_of(manifest, manifest.name, "spec.type")
            if target:
                label = identifier(manifest.name, 63)
                candidates.append(((False, 0, False, False), target, f"{label}.", [], manifest))
                schemes[target].add(False)
                self.note(manifest, "spec.type", f"LoadBalancer -> a route for host {label!r} under the environment's "
                                                 "domain on the internet-facing ALB: point the old load balancer's DNS "
                                                 "name at it", TO_DO)
        for name, internal in sorted(schemes.items()):
            if internal == {True}:  # every Ingress of the service is internal
                services[name]["internal"] = True
            elif True in internal:
                self.catalog_note(f"services.{name}.internal", "routed by internal and internet-facing Ingresses; all "
                                                               "its routes are on the internet-facing load balancer",
                                  GUESSED, self._subject(name))
        domain = self._domain(hosts)
        ordered = sorted(candidates, key=lambda c: (c[0], c[1], c[2], c[3]))
        priority = FIRST_PRIORITY
        for _, name, host, patterns, manifest in ordered:
            route: dict[str, Any] = {"priority": priority}
            if host.endswith("."):  # a LoadBalancer Service's own host label
                route["hosts"] = [host[:-1]]
            elif host:
                label = host[: -len(domain) - 1] if host.endswith("." + domain) else ""
                if not label or "." in label:
                    self.note(manifest, "spec.rules[].host", f"host {host} is not one label under {domain}; not mapped",
                              DROPPED)
                    continue
                route["hosts"] = [label]
            if patterns:
                route["paths"] = patterns
            if len(route) == 1:
                continue
            services[name].setdefault("routes", []).append(route)
            priority += PRIORITY_STEP
        return domain

    def _domain(self, hosts: list[str]) -> str:
        parents = Counter(host.split(".", 1)[1] for host in hosts if host.count(".") >= 2)
        if parents:
            return parents.most_common(1)[0][0]
        self.catalog_note(f"environments.{self.environment}.domain", "no Ingress host; placeholder")
        return f"{self.platform}.example.com"

    def _coverage(self) -> None:
        """Every leaf field of every imported object: read, meaningless on ECS, or reported here."""
        for kind, manifests in sorted(self.by_kind.items()):
            if kind not in COVERAGE:
                continue
            for manifest in manifests:
                for path, value in unmapped_fields(kind, manifest.body):
                    shown = repr(value) if not isinstance(value, (dict, list)) else "{}" if isinstance(value, dict) else "[]"
                    self.note(manifest, path, f"not mapped ({shown[:60]}): no equivalent in the catalog", DROPPED)


def _backend_name(backend: Any) -> str | None:
    """networking.k8s.io/v1 `backend.service.name`, or v1beta1 `backend.serviceName`."""
    if not isinstance(backend, dict):
        return None
    name = (backend.get("service") or {}).get("name") or backend.get("serviceName")
    return str(name) if name else None


def _name_problem(option: str, value: str) -> str | None:
    """The catalog schema's rule for platform and environment names (`short_identifier`), applied before anything
    is read, so a name the catalog would refuse is refused here with the option that gave it."""
    from generator.catalog.validate import SCHEMA_PATH

    rule = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]["short_identifier"]
    if re.fullmatch(rule["pattern"].strip("^$"), value) and len(value) <= rule["maxLength"]:
        return None
    return f"--{option} {value!r}: {rule['description'].rstrip('.')} (it is part of every AWS resource name the catalog derives)"


def import_manifests(paths: Iterable[Path], platform: str, environment: str = "dev") -> Import:
    wrong = [problem for option, value in (("platform", platform), ("env", environment))
             if (problem := _name_problem(option, value)) is not None]
    if wrong:
        raise ImportError_(wrong)
    manifests = read_manifests(paths)
    problems = structure_problems(manifests)
    if problems:
        raise ImportError_(problems)
    importer = _Importer(manifests, platform, environment)
    catalog = importer.run()
    return Import(catalog=catalog, findings=importer.findings)
