"""Kubernetes names -> ECS names for `import`: which workload becomes which service, and how the
addresses clients use in Kubernetes (`ratings`, `ratings.shop`, `ratings.shop.svc.cluster.local`,
with the Service's port) reach it on ECS (Service Connect: the service's name, its container port).

One ECS service per Kubernetes Service: a workload is named after the Service that selects it, so
callers' addresses keep their host. A Service selecting several workloads (`ratings` over `ratings-v1`
and `ratings-v2`) becomes one ECS service from the first of them by name; the others are versions ECS
runs one at a time (reported). A workload no Service selects keeps its own name. Names that collide
across namespaces get the namespace appended (`api-billing`, `api-shop`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_NAME = 40


def identifier(name: str, limit: int = MAX_NAME) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:limit].strip("-")
    return cleaned or "service"


def namespace_of(body: dict[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("namespace") or "default")


def pod_labels(body: dict[str, Any]) -> dict[str, Any]:
    return ((body.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}


def selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = pod_labels(workload)
    return (namespace_of(service) == namespace_of(workload) and bool(selector)
            and all(labels.get(key) == value for key, value in selector.items()))


def is_headless(service: dict[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def host_forms(name: str, namespace: str) -> tuple[str, ...]:
    """Every way a pod can address a Service by DNS."""
    return (name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local")


@dataclass
class Names:
    """The outcome: ECS name per workload key, versions left out, and the address book."""

    service_of: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, workload) -> ECS name
    versions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # left-out workload -> (Service, kept workload)
    renamed_for_namespace: dict[tuple[str, str], str] = field(default_factory=dict)
    # (namespace, host form) -> (ECS name, {Kubernetes Service port: container port})
    hosts: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)
    named_after: dict[tuple[str, str], str] = field(default_factory=dict)  # workload -> the Service it is named after
    declared_namespaces: set[str] = field(default_factory=set)  # namespaces objects name in their metadata


def container_port_of(workload: dict[str, Any], target: Any) -> int | None:
    """A Service's targetPort (number or container port name) as a number."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and isinstance(port.get("containerPort"), int):
                return port["containerPort"]
    return None


def name_workloads(workloads: list[tuple[str, str, dict[str, Any]]], services: list[dict[str, Any]]) -> Names:
    """`workloads`: (namespace, name, body) sorted by name; `services`: Kubernetes Service bodies."""
    names = Names()
    names.declared_namespaces = {str(body["metadata"]["namespace"]) for body in [*(w[2] for w in workloads), *services]
                                 if (body.get("metadata") or {}).get("namespace")}
    selected: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for service in services:
        key = f"{namespace_of(service)}/{service['metadata']['name']}"
        selected[key] = [w for w in workloads if selects(service, w[2])]
    proposed: dict[tuple[str, str], str] = {}
    for namespace, name, body in workloads:
        primary_of = [s for s in services if selected[f"{namespace_of(s)}/{s['metadata']['name']}"][:1]
                      and selected[f"{namespace_of(s)}/{s['metadata']['name']}"][0][1] == name
                      and namespace_of(s) == namespace]
        secondary_of = [s for s in services if any(w[1] == name and w[0] == namespace
                                                   for w in selected[f"{namespace_of(s)}/{s['metadata']['name']}"][1:])]
        if primary_of:
            chosen = sorted(primary_of, key=lambda s: (s["metadata"]["name"] != name, is_headless(s), s["metadata"]["name"]))[0]
            proposed[(namespace, name)] = identifier(chosen["metadata"]["name"])
            if chosen["metadata"]["name"] != name:
                names.named_after[(namespace, name)] = chosen["metadata"]["name"]
        elif secondary_of:
            service = sorted(secondary_of, key=lambda s: s["metadata"]["name"])[0]
            kept = selected[f"{namespace_of(service)}/{service['metadata']['name']}"][0][1]
            names.versions[(namespace, name)] = (service["metadata"]["name"], kept)
        else:
            proposed[(namespace, name)] = identifier(name)
    counts = Counter(proposed.values())
    for key, ecs_name in proposed.items():
        if counts[ecs_name] > 1:
            unique = identifier(f"{ecs_name}-{key[0]}")
            names.renamed_for_namespace[key] = unique
            names.service_of[key] = unique
        else:
            names.service_of[key] = ecs_name
    by_workload = {(namespace, name): body for namespace, name, body in workloads}
    for service in services:
        key = f"{namespace_of(service)}/{service['metadata']['name']}"
        if not selected[key]:
            continue
        namespace, workload_name, body = selected[key][0]
        ecs_name = names.service_of.get((namespace, workload_name))
        if ecs_name is None:
            continue
        ports = {}
        for entry in (service.get("spec") or {}).get("ports") or []:
            if isinstance(entry.get("port"), int):
                target = container_port_of(by_workload[(namespace, workload_name)], entry.get("targetPort", entry["port"]))
                if target is not None:
                    ports[entry["port"]] = target
        short, *qualified = host_forms(service["metadata"]["name"], namespace_of(service))
        names.hosts[f"{namespace}/{short}"] = (ecs_name, ports)  # a short name resolves in the caller's namespace
        for form in qualified:
            names.hosts[form] = (ecs_name, ports)
    return names


def resolve(names: Names, host: str, caller_namespace: str) -> tuple[str, dict[int, int]] | None:
    """(ECS name, Service port -> container port) of a host a pod in `caller_namespace` uses. Objects without a
    namespace (`helm template` without `-n`) are installed into one the manifests do not name: a qualified
    host in a namespace no object declares is taken to mean that one."""
    if "." not in host:
        return names.hosts.get(f"{caller_namespace}/{host}")
    found = names.hosts.get(host)
    if found is None and host.split(".")[1] not in names.declared_namespaces:
        found = names.hosts.get(f"{caller_namespace}/{host.split('.')[0]}")
    return found
