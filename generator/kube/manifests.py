"""Reading Kubernetes manifests for `import`: files or directories of what `helm template`, `kustomize build` or
`kubectl get -o yaml` print (multi-document, `List` kinds), with each object's file and line, and the structure
problems Kubernetes itself would refuse."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

MAX_MANIFEST_BYTES = 8 * 1024 * 1024
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
KNOWN_KINDS = (*WORKLOAD_KINDS, "Service", "Ingress", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
               "ServiceAccount", "CronJob", "List")


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
        return str((self.body.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str:
        return str((self.body.get("metadata") or {}).get("namespace") or "default")

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}/{self.name}"


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


def pod_spec(body: dict[str, Any]) -> dict[str, Any]:
    return ((body.get("spec") or {}).get("template") or {}).get("spec") or {}


def structure_problems(manifests: list[Manifest]) -> list[str]:
    """Objects Kubernetes itself would refuse: one line each, with file and line."""
    problems = []
    seen: dict[tuple[str, str, str], Manifest] = {}
    for manifest in manifests:
        if manifest.kind not in (*WORKLOAD_KINDS, "CronJob", "Service", "Ingress"):
            continue
        if not manifest.name:
            problems.append(f"{manifest.file}:{manifest.line}: {manifest.kind} without metadata.name")
            continue
        key = (manifest.kind, manifest.namespace, manifest.name)
        if key in seen:
            problems.append(f"{manifest.where}: defined twice in namespace {manifest.namespace} (also at "
                            f"{seen[key].file}:{seen[key].line}); keep one")
        seen[key] = manifest
        spec = manifest.body.get("spec")
        if not isinstance(spec, dict):
            problems.append(f"{manifest.where}: no spec; every {manifest.kind} needs one")
            continue
        if manifest.kind in WORKLOAD_KINDS:
            where, pod = "spec.template.spec.containers", pod_spec(manifest.body)
        elif manifest.kind == "CronJob":
            where = "spec.jobTemplate.spec.template.spec.containers"
            pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        else:
            continue
        containers = pod.get("containers")
        if not isinstance(containers, list) or not containers:
            problems.append(f"{manifest.where}: {where}: no container; a pod runs at least one")
        elif not all(isinstance(c, dict) and c.get("image") for c in containers):
            problems.append(f"{manifest.where}: {where}: a container without an image")
    return problems
