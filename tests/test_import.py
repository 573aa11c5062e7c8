"""`python -m generator import`: Kubernetes manifests -> a catalog that validates, renders and applies.

Expectations come from the manifests, read here with PyYAML: ports, sizes at least the requests and
limits, replica and HPA bounds, and routes that send the same requests to the same service as the
Ingress does (a small Kubernetes matcher against a small ALB matcher, both written from their docs).
"""

from __future__ import annotations

import fnmatch
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, run_terraform
from generator import api

FIXTURES = REPO / "tests" / "fixtures" / "k8s"
SETS = {
    "nexus-helm": (FIXTURES / "nexus-helm", "nexus", "dev"),
    "shop-kubectl": (FIXTURES / "shop-kubectl" / "list.yaml", "shop", "prod"),
    "grpc-kustomize": (FIXTURES / "grpc-kustomize" / "build.yaml", "shop", "prod"),
    # One shape per kind of content that broke the importer on public manifest sets (issue #18).
    "bookstore": (FIXTURES / "bookstore" / "manifests", "books", "prod"),
}
# Images of well-known stateful products: imported as data stores to replace with a managed service
# (the list of the issue: RDS, ElastiCache, Amazon MQ, MSK, DocumentDB).
DATA_STORE_PRODUCTS = {"mysql", "mariadb", "postgres", "postgresql", "redis", "valkey", "memcached", "rabbitmq",
                       "kafka", "mongo", "mongodb"}


def manifests(path: Path) -> list[dict[str, Any]]:
    files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    found = []
    for file in files:
        for document in yaml.safe_load_all(file.read_text()):
            if isinstance(document, dict):
                found.extend(document.get("items", []) if document.get("kind") == "List" else [document])
    return found


def of_kind(docs: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") in kinds]


def _selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    selector = service["spec"].get("selector") or {}
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items()) and \
        service["metadata"].get("namespace") == workload["metadata"].get("namespace")


def selected_by(docs: list[dict[str, Any]], service_name: str) -> list[dict[str, Any]]:
    """The workloads a Kubernetes Service selects, by name."""
    service = next(s for s in of_kind(docs, "Service") if s["metadata"]["name"] == service_name)
    return sorted((w for w in of_kind(docs, "Deployment", "StatefulSet") if _selects(service, w)),
                  key=lambda w: w["metadata"]["name"])


def ecs_name(docs: list[dict[str, Any]], workload: dict[str, Any]) -> str | None:
    """What a workload is called on ECS, by the rule docs/importing.md documents: the Kubernetes Service that selects
    it (the first by name when a Service selects several workloads; the others are not imported), else its own."""
    name = workload["metadata"]["name"]
    services = [s for s in of_kind(docs, "Service") if _selects(s, workload)]
    if not services:
        return name
    first_of = [s for s in services if selected_by(docs, s["metadata"]["name"])[0]["metadata"]["name"] == name]
    if not first_of:
        return None  # another version behind a Service
    return sorted(first_of, key=lambda s: (s["metadata"]["name"] != name, s["metadata"]["name"]))[0]["metadata"]["name"]


def is_data_store(workload: dict[str, Any]) -> bool:
    image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0] in DATA_STORE_PRODUCTS


@pytest.fixture(scope="module", params=list(SETS))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    source, platform, env = SETS[request.param]
    from click.testing import CliRunner

    from generator.cli import main

    out = tmp_path_factory.mktemp(request.param) / "catalog.yaml"
    result = CliRunner().invoke(main, ["import", "--platform", platform, "--env", env, "--out", str(out), str(source)])
    assert result.exit_code == 0, result.output
    assert "it validates" in result.output
    return {"name": request.param, "source": source, "env": env, "path": out, "output": result.output,
            "text": out.read_text(), "catalog": yaml.safe_load(out.read_text()), "docs": manifests(source)}


# --- Kubernetes and ALB request matching --------------------------------------------------------

def _backend(backend: dict[str, Any]) -> str:
    return backend["service"]["name"] if "service" in backend else backend["serviceName"]  # v1, v1beta1


def kubernetes_backend(docs: list[dict[str, Any]], domain: str, host: str, path: str) -> str | None:
    """networking.k8s.io/v1 semantics: host first; Exact beats Prefix; the longest prefix wins; a request no
    rule matches goes to the default backend. A LoadBalancer Service is its own entry point: the import gives
    it the host `<Service name>.<domain>`."""
    for service in of_kind(docs, "Service"):
        if service["spec"].get("type") == "LoadBalancer" and host == f"{service['metadata']['name']}.{domain}":
            return ecs_name(docs, selected_by(docs, service["metadata"]["name"])[0])
    best: tuple[int, int, str] | None = None
    default = None
    for ingress in of_kind(docs, "Ingress"):
        if "defaultBackend" in ingress["spec"]:
            default = _backend(ingress["spec"]["defaultBackend"])
        for rule in ingress["spec"].get("rules", []):
            if rule.get("host", host) != host:
                continue
            for entry in rule.get("http", {}).get("paths", []):
                value, kind = entry.get("path", "/"), entry.get("pathType", "ImplementationSpecific")
                if kind == "Exact":
                    matched, rank = path == value, (2, len(value))
                else:  # Prefix (and ImplementationSpecific, imported as Prefix): element-wise
                    wanted = [part for part in value.split("/") if part]
                    matched, rank = path.split("/")[1:1 + len(wanted)] == wanted, (1, len(wanted))
                if matched and (best is None or rank > best[:2]):
                    best = (*rank, _backend(entry["backend"]))
    chosen = best[2] if best else default
    return None if chosen is None else ecs_name(docs, selected_by(docs, chosen)[0])


def alb_backend(catalog: dict[str, Any], env: str, host: str, path: str) -> str | None:
    """ALB listener semantics: lowest priority first; host and path patterns with `*` and `?`."""
    domain = catalog["environments"][env]["domain"]
    rules = sorted((route["priority"], name, route) for name, service in catalog["services"].items()
                   for route in service.get("routes", []))
    for _, name, route in rules:
        hosts_ok = "hosts" not in route or host in {f"{label}.{domain}" for label in route["hosts"]}
        paths_ok = "paths" not in route or any(fnmatch.fnmatchcase(path, pattern) for pattern in route["paths"])
        if hosts_ok and paths_ok:
            return name
    return None


def sample_requests(docs: list[dict[str, Any]], domain: str) -> list[tuple[str, str]]:
    """Every Ingress path, its edges (with and without `/`, deeper, a longer sibling), at every host."""
    hosts, paths = {"unknown.example.net"}, {"/", "/other"}
    hosts.update(f"{s['metadata']['name']}.{domain}" for s in of_kind(docs, "Service") if s["spec"].get("type") == "LoadBalancer")
    for ingress in of_kind(docs, "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            hosts.add(rule.get("host", ""))
            for entry in rule.get("http", {}).get("paths", []):
                value = entry.get("path", "/")
                paths.update(p if p.startswith("/") else "/" + p for p in (
                    value, value.rstrip("/") or "/", value.rstrip("/") + "/", value.rstrip("/") + "/deeper/x",
                    value.rstrip("/") + "x"))
    return sorted((host, path) for host in hosts for path in paths)


# --- the tests -----------------------------------------------------------------------------------

def test_routes_send_every_request_where_the_ingress_does(imported: dict[str, Any]) -> None:
    compared = 0
    domain = imported["catalog"]["environments"][imported["env"]]["domain"]
    for host, path in sample_requests(imported["docs"], domain):
        want = kubernetes_backend(imported["docs"], domain, host, path)
        got = alb_backend(imported["catalog"], imported["env"], host, path)
        assert got == want, f"{host}{path}: Ingress -> {want}, imported routes -> {got}"
        compared += 1
    assert compared >= 30


def test_ports_sizes_and_replica_bounds_come_from_the_manifests(imported: dict[str, Any]) -> None:
    services = imported["catalog"]["services"]
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in of_kind(imported["docs"], "HorizontalPodAutoscaler")}
    docs = imported["docs"]
    for workload in of_kind(docs, "Deployment", "StatefulSet"):
        name = ecs_name(docs, workload)
        containers = workload["spec"]["template"]["spec"]["containers"]
        ports = {p["containerPort"] for c in containers for p in c.get("ports", [])
                 if p.get("protocol", "TCP") == "TCP" and not re.search("metric|admin|manage", p.get("name", ""))}
        targeted = {_target_port(docs, s["metadata"]["name"], p["port"])[1] for s in of_kind(docs, "Service")
                    if _selects(s, workload) for p in s["spec"]["ports"]}
        if name is None:  # a second version behind a Service
            assert workload["metadata"]["name"] not in services
            continue
        if is_data_store(workload):
            assert imported["catalog"]["data_stores"][name]["port"] in ports and name not in services, name
            continue
        service = services[name]
        assert service["port"] in (ports or targeted), name
        cpu = memory = 0.0
        for container in containers:
            resources = container.get("resources", {})
            cpu += max(_cpu(resources.get("requests", {}).get("cpu")), _cpu(resources.get("limits", {}).get("cpu")))
            memory += max(_mib(resources.get("requests", {}).get("memory")), _mib(resources.get("limits", {}).get("memory")))
        assert service["resources"]["cpu"] >= cpu and service["resources"]["memory"] >= memory, (name, cpu, memory)
        own = workload["metadata"]["name"]
        if own in hpas:
            bounds = (hpas[own]["minReplicas"], hpas[own]["maxReplicas"])
        elif workload["spec"].get("volumeClaimTemplates"):
            bounds = (1, 1)  # per-pod volumes: one task on one EFS directory until a person says otherwise
        else:
            bounds = (workload["spec"]["replicas"], workload["spec"]["replicas"])
        assert (service["resources"]["min_tasks"], service["resources"]["max_tasks"]) == bounds, name


def _cpu(quantity: Any) -> float:
    if quantity is None:
        return 0.0
    text = str(quantity)
    return float(text[:-1]) * 1024 / 1000 if text.endswith("m") else float(text) * 1024


def _mib(quantity: Any) -> float:
    if quantity is None:
        return 0.0
    text = str(quantity)
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ki", 1 / 1024)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text) / 1024 / 1024


def test_credentials_are_never_copied_and_the_rest_is_reported(imported: dict[str, Any]) -> None:
    for workload in of_kind(imported["docs"], "Deployment", "StatefulSet"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                if variable["name"] in ("SESSION_SIGNING_KEY", "STRIPE_KEY"):
                    assert variable["value"] not in imported["text"]
                    assert f"{variable['name']} looks like a credential" in imported["output"]
    known = {"Deployment", "StatefulSet", "Service", "Ingress", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
             "ServiceAccount", "CronJob"}
    for doc in imported["docs"]:
        if doc["kind"] not in known:
            reported = f"{doc['kind']}/{doc['metadata']['name']} kind: {doc['kind']} is not imported"
            assert reported in imported["output"] and reported in imported["text"]
    tasks = imported["catalog"].get("scheduled_tasks", {})
    for cron in of_kind(imported["docs"], "CronJob"):
        # Written out from the two cron dialects' docs: Kubernetes 5 fields with Sunday = 0, EventBridge
        # 6 fields with Sunday = 1 and `?` in one of the day fields.
        expected = {"0 3 * * *": "cron(0 3 * * ? *)", "30 2 * * 1-5": "cron(30 2 ? * 2-6 *)"}[cron["spec"]["schedule"]]
        task = tasks[cron["metadata"]["name"]]
        assert task["schedule"] == expected
        assert task.get("timezone", "UTC") == cron["spec"].get("timeZone", "UTC")
        container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert task.get("command") == container.get("args")
        requests = container.get("resources", {}).get("requests", {})
        assert task["cpu"] >= _cpu(requests.get("cpu")) and task["memory"] >= _mib(requests.get("memory"))
    # Every report names the manifest's file and line.
    lines = [line for line in imported["output"].splitlines() if line.startswith("review: ") and "(catalog)" not in line]
    assert lines and all(".yaml:" in line for line in lines), lines


def test_the_catalog_carries_the_set_specific_facts(imported: dict[str, Any]) -> None:
    services = imported["catalog"]["services"]
    if imported["name"] == "nexus-helm":
        user = services["user-service"]
        assert user["environment"] == {"FEATURE_FLAGS": "search,reviews", "LOG_LEVEL": "info", "TZ": "UTC"}
        assert user["secrets"] == {"DATABASE_URL": "user-service-db/DATABASE_URL"}
        assert user["calls"] == ["content-service"] and user["health_check_path"] == "/health"
        assert user["autoscaling"] == {"cpu_target": 65, "memory_target": 75}
        content = services["content-service"]
        assert content["command"] == ["--port", "3010", "--cache-dir", "/var/cache/content"]
        assert content["scratch_paths"] == ["/tmp", "/var/cache/content"]
        assert content["health_check"]["grace_period_seconds"] == 150  # startupProbe 30 x 5 s
        assert content["sidecars"] == {"log-router": {"image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
                                                      "log_router": True}}
    elif imported["name"] == "grpc-kustomize":
        _assert_grpc_set(imported)
    elif imported["name"] == "shop-kubectl":
        checkout = services["checkout"]
        assert checkout["cpu_architecture"] == "ARM64" and "cpu_architecture" not in services["payments"]
        assert checkout["entry_point"] == ["/usr/local/bin/checkout"] and checkout["command"] == ["serve", "--listen=:7000"]
        assert checkout["health_check"] == {"command": ["/usr/local/bin/checkout", "health"], "grace_period_seconds": 300}
        assert checkout["calls"] == ["payments"] and "PAYMENTS_URL" in imported["output"]
        assert checkout["sidecars"] == {"migrate": {"image": "ghcr.io/shopco/checkout-migrations:v4.2.1",
                                                    "run_before_service": "SUCCESS", "command": ["up"]}}
        assert services["payments"]["sidecars"]["statsd-exporter"]["port"] == 9102


def _target_port(docs: list[dict[str, Any]], service_name: str, port: int) -> tuple[str, int | None]:
    """(ECS name of the workload, container port) a Kubernetes Service's port leads to (targetPort by number or
    by a container port's name)."""
    entry = next(p for s in of_kind(docs, "Service") if s["metadata"]["name"] == service_name
                 for p in s["spec"]["ports"] if p["port"] == port)
    target = entry.get("targetPort", entry["port"])
    workload = selected_by(docs, service_name)[0]
    ports = [p for c in workload["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    number = target if isinstance(target, int) else next((p["containerPort"] for p in ports if p.get("name") == target), None)
    return ecs_name(docs, workload), number


def _assert_grpc_set(imported: dict[str, Any]) -> None:
    """gRPC-style `host:port` addresses, Service ports that differ from the container's, a PVC, an internal
    Ingress: all from the manifests."""
    docs, services = imported["docs"], imported["catalog"]["services"]
    # Every container listens on 8080: services may share a port (the catalog validated).
    assert {service["port"] for service in services.values()} == {8080}
    for workload in of_kind(docs, "Deployment"):
        name = workload["metadata"]["name"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        for variable in container.get("env", []):
            address = variable["value"].split("://", 1)[-1]
            host, port = address.split(":")
            callee, container_port = _target_port(docs, host.split(".")[0], int(port))
            assert callee in services[name]["calls"], (name, variable)
            if variable["name"] == callee.upper() + "_URL":
                assert variable["name"] not in services[name].get("environment", {})  # `calls` sets it
            else:  # Service Connect answers on the container port, under the workload's name
                assert services[name]["environment"][variable["name"]] == f"{callee}:{container_port}", variable
        probe = container.get("readinessProbe", {})
        if "grpc" in probe:
            assert services[name]["protocol"] == "grpc"
            assert services[name]["health_check"]["command"] == ["/bin/grpc_health_probe", f"-addr=:{probe['grpc']['port']}"]
        for mount in container.get("volumeMounts", []):
            volume = next(v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert services[name]["efs_volumes"][mount["name"]] == {"file_system": claim, "path": mount["mountPath"]}
            assert claim in imported["catalog"]["environments"][imported["env"]]["file_systems"]
    for service in of_kind(docs, "Service"):
        for port in service["spec"]["ports"]:
            workload, _ = _target_port(docs, service["metadata"]["name"], port["port"])
            app = port.get("appProtocol", "")
            expected = ("grpc" if app == "grpc" or port.get("name", "").startswith("grpc")
                        else "http2" if app in ("http2", "kubernetes.io/h2c") else "http")
            assert services[workload].get("protocol", "http") == expected, workload
    for ingress in of_kind(docs, "Ingress"):
        internal = ingress["metadata"].get("annotations", {}).get("alb.ingress.kubernetes.io/scheme") == "internal"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                workload, _ = _target_port(docs, path["backend"]["service"]["name"],
                                           path["backend"]["service"]["port"].get("number") or 80)
                assert services[workload].get("internal", False) is internal, workload


def test_the_imported_catalog_renders_and_terraform_validates(imported: dict[str, Any], tmp_path: Path,
                                                              terraform_env: dict[str, str]) -> None:
    out = tmp_path / "out"
    api.render(imported["path"], out)
    root = out / "environments" / imported["env"]
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], root, terraform_env)
    assert init.returncode == 0, init.stdout + init.stderr
    result = run_terraform(["validate", "-no-color"], root, terraform_env)
    assert result.returncode == 0 and "The configuration is valid" in result.stdout, result.stdout + result.stderr


def test_malformed_manifests_get_file_and_line_and_nothing_is_written(tmp_path: Path, cli) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [unclosed\n")
    out = tmp_path / "catalog.yaml"
    result = cli("import", "--platform", "x", "--out", out, bad)
    assert result.exit_code == 1 and f"{bad}:" in result.output and "YAML syntax error" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_fargate_size_is_the_cheapest_pair_that_fits() -> None:
    from generator.kube.quantities import fargate_size

    assert fargate_size(0, 0) == (256, 512)
    assert fargate_size(1536, 3072) == (2048, 4096)   # 1.5 vCPU needs the 2-vCPU size
    assert fargate_size(256, 2500) == (512, 3072)     # 256 stops at 2 GiB
    assert fargate_size(300, 100) == (512, 1024)
    assert math.isclose(sum(fargate_size(4096, 30720)), 4096 + 30720)


@pytest.mark.parametrize("source, committed", [
    ("tests/fixtures/k8s/shop-kubectl/list.yaml", "tests/fixtures/k8s/shop-kubectl"),
    ("tests/fixtures/k8s/bookstore/manifests", "tests/fixtures/k8s/bookstore"),
])
def test_the_committed_imported_catalogs_are_what_import_writes(source: str, committed: str, tmp_path: Path, cli,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The e2e cycles apply the committed catalogs; they (and the bookstore's report) must be the importer's output."""
    monkeypatch.chdir(REPO)
    out, report = tmp_path / "catalog.yaml", tmp_path / "report.md"
    platform = "shop" if "shop" in source else "books"
    assert cli("import", "--platform", platform, "--env", "prod", "--out", out, "--report", report, source).exit_code == 0
    assert out.read_text() == (REPO / committed / "catalog.yaml").read_text(), "refresh it with: make golden"
    if (REPO / committed / "report.md").exists():
        written = report.read_text().replace(str(out), f"{committed}/catalog.yaml")
        assert written == (REPO / committed / "report.md").read_text(), "refresh it with: make golden"


@pytest.mark.parametrize("kubernetes, eventbridge", [
    ("0 3 * * *", "cron(0 3 * * ? *)"),
    ("*/15 * * * *", "cron(*/15 * * * ? *)"),
    ("0 9 * * 0", "cron(0 9 ? * 1 *)"),        # Sunday is 0 in Kubernetes, 1 in EventBridge
    ("0 9 * * 6", "cron(0 9 ? * 7 *)"),
    ("0 0 1 * *", "cron(0 0 1 * ? *)"),
    ("@weekly", "cron(0 0 ? * 1 *)"),
    ("0 0 1 * MON", "cron(0 0 1 * ? *)"),     # both day fields: EventBridge takes one (reported)
    ("not a schedule", None),
])
def test_kubernetes_schedules_become_eventbridge_expressions(kubernetes: str, eventbridge: str | None) -> None:
    from generator.kube.quantities import eventbridge_cron

    assert eventbridge_cron(kubernetes) == eventbridge
