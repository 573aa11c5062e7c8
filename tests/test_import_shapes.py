"""`import` on the shapes that broke it on public manifest sets (issue #18), one class per test.

The fixtures are tests/fixtures/k8s/bookstore/*.yaml (written for these tests). Every expectation is read
from those manifests with PyYAML and the Kubernetes rules as documented (variable expansion, Service
ports, Ingress backends), not from the importer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO

BOOKSTORE = REPO / "tests" / "fixtures" / "k8s" / "bookstore" / "manifests"


def _docs() -> list[dict[str, Any]]:
    return [d for f in sorted(BOOKSTORE.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def _get(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _container(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return _get(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in container.get("env", []) if "value" in v}


@pytest.fixture(scope="module")
def bookstore(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from click.testing import CliRunner

    from generator.cli import main

    out = tmp_path_factory.mktemp("bookstore") / "catalog.yaml"
    report = out.with_name("report.md")
    result = CliRunner().invoke(main, ["import", "--platform", "books", "--env", "prod", "--out", str(out),
                                       "--report", str(report), str(BOOKSTORE)])
    assert result.exit_code == 0, result.output
    return {"catalog": yaml.safe_load(out.read_text()), "text": out.read_text(), "output": result.output,
            "report": report.read_text(), "docs": _docs()}


def _reviewed(bookstore: dict[str, Any], *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in bookstore["output"].splitlines())


def test_variable_references_are_expanded_as_kubernetes_does(bookstore: dict[str, Any]) -> None:
    """`$(NAME)` takes the value of a variable defined before it; `$$` is a literal `$`; an undefined name
    (or a secret) cannot be expanded on ECS, so the variable is reported and not copied."""
    container = _container(bookstore["docs"], "Deployment", "api")
    environment = bookstore["catalog"]["services"]["api"]["environment"]
    defined: dict[str, str] = {}
    checked = 0
    for variable in container["env"]:
        if "value" not in variable:
            continue
        value = variable["value"]
        names = re.findall(r"(?<!\$)\$\(([A-Z_]+)\)", value)
        if any(name not in defined for name in names):
            assert variable["name"] not in environment
            assert _reviewed(bookstore, variable["name"], "not copied")
            continue
        expected = re.sub(r"\$\$|\$\(([A-Z_]+)\)", lambda m: "$" if m.group(0) == "$$" else defined[m.group(1)], value)
        defined[variable["name"]] = expected
        if "$(" in value and variable["name"] in environment:
            assert environment[variable["name"]] == expected
            checked += 1
    assert checked >= 2
    args = bookstore["catalog"]["services"]["api"]["command"]
    assert not any("$(" in arg for arg in args)
    assert f"--listen=:{defined['APP_PORT']}" in args


def test_calls_from_host_and_port_variables_and_bare_hosts(bookstore: dict[str, Any]) -> None:
    """Every value naming a Kubernetes Service (bare, `svc.ns.svc.cluster.local`, `host:port`, in a URL)
    becomes an edge: `calls` for a service, `data_stores` for a data store; ports move to the container port."""
    docs = bookstore["docs"]
    api = bookstore["catalog"]["services"]["api"]
    services = {s["metadata"]["name"]: s for s in docs if s["kind"] == "Service"}
    edges = set(api.get("calls", [])) | set(api.get("data_stores", []))
    for name, value in _env(_container(docs, "Deployment", "api")).items():
        host = re.sub(r"^[a-z]+://([^@/]*@)?", "", value).split("/")[0].split(":")[0].split(".")[0]
        if host not in services:
            continue
        assert host in edges, (name, value)
        port_variable = re.sub(r"_(HOST|HOSTNAME|ADDR)$", "_PORT", name)
        service_port = int(value.split(":")[-1]) if re.search(r":\d+$", value) and "://" not in value else None
        if port_variable != name and port_variable in api.get("environment", {}):
            service_port = int(_env(_container(docs, "Deployment", "api"))[port_variable])
        if service_port is None or host in api.get("data_stores", []):
            continue
        entry = next(p for p in services[host]["spec"]["ports"] if p["port"] == service_port)
        target = entry.get("targetPort", entry["port"])
        if isinstance(target, str):
            target = next(p["containerPort"] for w in docs if w["kind"] == "Deployment" and w["metadata"]["name"] == f"{host}-v1"
                          for p in w["spec"]["template"]["spec"]["containers"][0]["ports"] if p.get("name") == target)
        has_partner = port_variable != name and port_variable in api["environment"]
        written = api["environment"][port_variable] if has_partner else api["environment"][name].split(":")[-1]
        assert int(written) == target, (name, written, target)
    assert {"ratings", "ledger"} <= set(api["calls"]) and {"postgres", "queue"} <= set(api["data_stores"])


def test_an_init_container_that_only_waits_is_not_a_must_succeed_sidecar(bookstore: dict[str, Any]) -> None:
    pod = _get(bookstore["docs"], "Deployment", "api")["spec"]["template"]["spec"]
    for init in pod["initContainers"]:
        assert init["name"] not in bookstore["catalog"]["services"]["api"].get("sidecars", {})
        assert _reviewed(bookstore, f"init container '{init['name']}' waits for")


def test_one_ecs_service_per_kubernetes_service(bookstore: dict[str, Any]) -> None:
    """A Service over two versioned Deployments is one ECS service named after the Service, imported from the
    first version; callers' addresses keep their host."""
    docs, services = bookstore["docs"], bookstore["catalog"]["services"]
    ratings = _get(docs, "Service", "ratings")
    versions = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"
                      and all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                              for k, v in ratings["spec"]["selector"].items()))
    assert len(versions) == 2 and "ratings" in services
    assert not set(versions) & set(services)
    first = _container(docs, "Deployment", versions[0])
    assert services["ratings"]["image_repository"] == first["image"].split("/", 1)[1].split(":")[0]
    assert _reviewed(bookstore, versions[1], "another version behind Service 'ratings'")


def test_a_container_without_ports_takes_the_services_target_port(bookstore: dict[str, Any]) -> None:
    docs = bookstore["docs"]
    assert "ports" not in _container(docs, "Deployment", "api")
    target = _get(docs, "Service", "api")["spec"]["ports"][0]["targetPort"]
    api = bookstore["catalog"]["services"]["api"]
    assert api["port"] == target
    readiness = _container(docs, "Deployment", "api")["readinessProbe"]["httpGet"]
    assert api["health_check_path"] == readiness["path"] and readiness["port"] == target


def test_multi_port_containers_serve_on_their_http_port(bookstore: dict[str, Any]) -> None:
    """Never a UDP port, never a metrics or admin port; the protocol is the chosen port's only."""
    ports = _container(bookstore["docs"], "Deployment", "ratings-v1")["ports"]
    http = next(p["containerPort"] for p in ports if p["name"] == "http")
    ratings = bookstore["catalog"]["services"]["ratings"]
    assert ratings["port"] == http and ratings.get("protocol", "http") == "http"
    for port in ports:
        if port.get("protocol") == "UDP":
            assert _reviewed(bookstore, f"UDP port {port['containerPort']} not mapped")


def test_public_entry_points_become_routes(bookstore: dict[str, Any]) -> None:
    """A LoadBalancer Service, an Ingress defaultBackend and a v1beta1 Ingress each reach their service."""
    docs, services = bookstore["docs"], bookstore["catalog"]["services"]
    balancer = next(s for s in docs if s["kind"] == "Service" and s["spec"].get("type") == "LoadBalancer")
    assert {"hosts": [balancer["metadata"]["name"]]}.items() <= services[balancer["metadata"]["name"]]["routes"][0].items()
    default = next(d for d in docs if d["kind"] == "Ingress" and "defaultBackend" in d["spec"])
    backend = default["spec"]["defaultBackend"]["service"]["name"]
    catch_all = [r for r in services[backend]["routes"] if r.get("paths") == ["/*"] and "hosts" not in r]
    every_priority = [r["priority"] for s in services.values() for r in s.get("routes", [])]
    assert catch_all and catch_all[0]["priority"] == max(every_priority)  # evaluated after every other rule
    beta = next(d for d in docs if d["kind"] == "Ingress" and d["apiVersion"].endswith("v1beta1"))
    path = beta["spec"]["rules"][0]["http"]["paths"][0]
    assert any(path["path"] in r.get("paths", []) for r in services[path["backend"]["serviceName"]]["routes"])


def test_each_service_keeps_its_own_image_and_tag(bookstore: dict[str, Any]) -> None:
    catalog = bookstore["catalog"]
    environment_tag = catalog["environments"]["prod"]["image_tag"]
    checked = 0
    for name, service in catalog["services"].items():
        workload = next(d for d in bookstore["docs"] if d["kind"] in ("Deployment", "StatefulSet")
                        and (d["metadata"]["name"] == name or d["metadata"]["name"] in (f"{name}-v1", name.removesuffix("-public"))))
        image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
        if "@" in image:
            assert _reviewed(bookstore, "pinned by digest", image.split("@")[1])
            continue
        tag = image.rsplit(":", 1)[1]
        assert service.get("overrides", {}).get("prod", {}).get("image_tag", environment_tag) == tag, name
        checked += 1
    assert checked >= 4


def test_non_http_workloads(bookstore: dict[str, Any]) -> None:
    """Well-known stateful images become data stores (to replace with a managed service); a workload that only
    speaks TCP becomes a `tcp` service: no routes, no HTTP health check."""
    docs, catalog = bookstore["docs"], bookstore["catalog"]
    for kind, name, product in (("StatefulSet", "postgres", "RDS"), ("Deployment", "queue", "Amazon MQ")):
        container = _container(docs, kind, name)
        assert catalog["data_stores"][name]["port"] == container["ports"][0]["containerPort"]
        assert name not in catalog["services"] and name in catalog["environments"]["prod"]["data_stores"]
        assert _reviewed(bookstore, f"data store '{name}'", product)
    ledger = catalog["services"]["ledger"]
    assert ledger["protocol"] == "tcp" and "routes" not in ledger and "health_check_path" not in ledger
    assert ledger["port"] == _container(docs, "Deployment", "ledger")["ports"][0]["containerPort"]


def test_credentials_are_not_copied_and_harmless_values_are_kept(bookstore: dict[str, Any]) -> None:
    container = _container(bookstore["docs"], "Deployment", "api")
    password = container["args"][container["args"].index("--db-password") + 1]
    assert password not in bookstore["text"] and "--db-password" not in bookstore["text"].split("services:")[1]
    dsn = _env(container)["LEGACY_DSN"]
    assert dsn.split("Password=")[1] not in bookstore["text"]
    api = bookstore["catalog"]["services"]["api"]
    for name in ("SESSION_TOKEN_TTL_SECONDS", "OTEL_RESOURCE_ATTRIBUTES", "DATABASE_URL"):
        assert api["environment"][name] == _env(container)[name]
    assert set(api["reviewed_plain_variables"]) == {"SESSION_TOKEN_TTL_SECONDS", "DATABASE_URL"}


def test_volumes_that_do_not_mean_the_same_on_ecs_are_reported(bookstore: dict[str, Any]) -> None:
    docs, services = bookstore["docs"], bookstore["catalog"]["services"]
    nginx = _container(docs, "Deployment", "docs")
    for mount in nginx["volumeMounts"]:
        if "subPath" in mount:
            assert mount["mountPath"] not in services["docs"].get("scratch_paths", [])
            assert _reviewed(bookstore, f"the file {mount['mountPath']}")
    init = _get(docs, "Deployment", "docs")["spec"]["template"]["spec"]["initContainers"][0]
    assert _reviewed(bookstore, f"writes volume '{init['volumeMounts'][0]['name']}'")
    index = _get(docs, "StatefulSet", "search-index")
    assert index["spec"]["replicas"] > 1 and services["search-index"]["resources"]["max_tasks"] == 1
    assert _reviewed(bookstore, f"{index['spec']['replicas']} replicas each had a volume of their own")


def test_smaller_mappings(bookstore: dict[str, Any]) -> None:
    docs, services = bookstore["docs"], bookstore["catalog"]["services"]
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["apiVersion"] == "autoscaling/v1")
    assert services["ratings"]["autoscaling"]["cpu_target"] == hpa["spec"]["targetCPUUtilizationPercentage"]
    api = _container(docs, "Deployment", "api")
    # The liveness probe is the one that kills a slow starter: its delay is the grace period, not readiness's.
    assert services["api"]["health_check"]["grace_period_seconds"] == api["livenessProbe"]["initialDelaySeconds"]


def test_a_sidecar_the_catalog_would_refuse_is_left_out_and_said(bookstore: dict[str, Any]) -> None:
    pod = _get(bookstore["docs"], "Deployment", "docs")["spec"]["template"]["spec"]
    long_one = next(c for c in pod["containers"] if any(len(a) > 1024 for a in c.get("args", [])))
    assert long_one["name"] not in bookstore["catalog"]["services"]["docs"].get("sidecars", {})
    # Left out by the importer's in-memory validation, with the schema's reason.
    assert _reviewed(bookstore, f"services.docs.sidecars.{long_one['name']}.command", "left out:")


def test_the_report_lists_every_finding_and_every_unmapped_field(bookstore: dict[str, Any]) -> None:
    report = bookstore["report"]
    review = [line.removeprefix("review: ") for line in bookstore["output"].splitlines() if line.startswith("review: ")]
    for line in review:
        location = line.split(": ", 1)[0]
        if location.startswith("(catalog) "):  # catalog-wide: `(catalog)` `field`
            location = f"`{location.removeprefix('(catalog) ')}`"
        else:  # `file:line: Kind/name field`: `file:line` `field`
            location = f"`{location}` `{line.split(': ', 2)[1].split(' ', 1)[1]}`"
        assert location in report, line
    # A field the catalog has no place for is reported by name, with its manifest line.
    storefront = _get(bookstore["docs"], "Deployment", "storefront")
    assert "hostAliases" in storefront["spec"]["template"]["spec"]
    assert re.search(r"web\.yaml:\d+` `spec\.template\.spec\.hostAliases\[\]\.ip`: not mapped", report)
    for heading in ("## Deployment/api", "### To do by hand", "### Not mapped", "### Mapped by a guess", "### Mapped"):
        assert heading in report


# --- manifests that cannot be imported -------------------------------------------------------

def _deployment(name: str, namespace: str = "shop", pod: dict[str, Any] | None = None, spec: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}}
    if spec:
        body["spec"] = {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": pod if pod is not None else {"containers": [{"name": name, "image": f"r.io/{name}:1.0.0",
                                                                                          "ports": [{"containerPort": 8080}]}]}}}
    return body


@pytest.mark.parametrize("body, expected", [
    (_deployment("empty", pod={"containers": []}), "spec.template.spec.containers: no container"),
    (_deployment("missing", pod={}), "spec.template.spec.containers: no container"),
    (_deployment("nospec", spec=False), "no spec"),
    (_deployment("noimage", pod={"containers": [{"name": "x"}]}), "a container without an image"),
])
def test_broken_workloads_get_one_line_and_nothing_is_written(body: dict[str, Any], expected: str, tmp_path: Path, cli) -> None:
    source = tmp_path / "manifests.yaml"
    source.write_text(yaml.safe_dump_all([_deployment("fine"), body]))
    out = tmp_path / "catalog.yaml"
    result = cli("import", "--platform", "shop", "--out", out, source)
    assert result.exit_code == 1 and "Traceback" not in result.output and not out.exists()
    line = next(line for line in result.output.splitlines() if expected in line)
    assert re.match(rf"(Error: )?{re.escape(str(source))}:(\d+): Deployment/{body['metadata']['name']}", line), line
    second_document = source.read_text().splitlines().index("---") + 2
    assert int(re.search(r":(\d+):", line).group(1)) == second_document


def test_a_truncated_manifest_names_its_line(tmp_path: Path, cli) -> None:
    source = tmp_path / "cut.yaml"
    full = yaml.safe_dump(_deployment("api"))
    source.write_text(full[: full.index("image")] + "image: [r.io/api:1\n")
    result = cli("import", "--platform", "shop", "--out", tmp_path / "c.yaml", source)
    assert result.exit_code == 1 and f"{source}:" in result.output and "Traceback" not in result.output


def test_the_same_name_in_two_namespaces_keeps_both(tmp_path: Path, cli) -> None:
    source = tmp_path / "two.yaml"
    source.write_text(yaml.safe_dump_all([_deployment("api", "billing"), _deployment("api", "shop")]))
    out = tmp_path / "catalog.yaml"
    result = cli("import", "--platform", "shop", "--out", out, source)
    assert result.exit_code == 0, result.output
    assert set(yaml.safe_load(out.read_text())["services"]) == {"api-billing", "api-shop"}
    assert result.output.count("the name is also used in another namespace") == 2


def test_a_platform_name_the_catalog_refuses_is_refused_first(tmp_path: Path, cli) -> None:
    source = tmp_path / "one.yaml"
    source.write_text(yaml.safe_dump(_deployment("api")))
    out = tmp_path / "catalog.yaml"
    result = cli("import", "--platform", "averyverylongplatform", "--out", out, source)
    assert result.exit_code == 1 and "--platform 'averyverylongplatform'" in result.output and not out.exists()
    assert "at most 12 characters" in result.output


def test_a_host_less_root_rule_is_a_catch_all(tmp_path: Path, cli) -> None:
    source = tmp_path / "root.yaml"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    source.write_text(yaml.safe_dump_all([_deployment("web"), service, ingress]))
    out = tmp_path / "catalog.yaml"
    assert cli("import", "--platform", "shop", "--out", out, source).exit_code == 0
    assert yaml.safe_load(out.read_text())["services"]["web"]["routes"] == [{"priority": 10, "paths": ["/*"]}]


def test_values_keep_their_type_through_the_catalog(tmp_path: Path, cli) -> None:
    """`0123456789` is a string to PyYAML and an integer to the catalog's YAML 1.2 loader: written quoted."""
    source = tmp_path / "one.yaml"
    body = _deployment("api")
    values = {"ACCOUNT": "0123456789", "ENABLED": "on", "RATE": "1e3", "EMPTY_LOOKING": "null", "OCTAL": "0o17"}
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in values.items()]
    source.write_text(yaml.safe_dump(body))
    out = tmp_path / "catalog.yaml"
    result = cli("import", "--platform", "shop", "--out", out, source)
    assert result.exit_code == 0, result.output
    from generator import api

    service = next(s for s in api.validate(out).services if s.name == "api")
    assert dict(service.environment) == values


def test_services_that_select_nothing_and_unknown_hosts_are_reported(tmp_path: Path, cli) -> None:
    source = tmp_path / "set.yaml"
    web = _deployment("web", "shop")
    web["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "CART_ADDR", "value": "cart:7070"}]
    stray = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},  # namespace default: selects nothing
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    source.write_text(yaml.safe_dump_all([web, stray]))
    result = cli("import", "--platform", "shop", "--out", tmp_path / "catalog.yaml", source)
    assert result.exit_code == 0, result.output
    assert "Service/web spec.selector: selects no workload in namespace default; workloads with those labels are in " \
           "namespace shop" in result.output
    assert "'cart:7070' names host 'cart', which no Service in the manifests has" in result.output
