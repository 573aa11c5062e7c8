"""What `import` decided, per Kubernetes object: the migration report (`import --report PATH`).

Every finding carries the manifest's `file:line`, the object and the field. Nothing is dropped
silently: after the mapping, every leaf field of every imported object is either one the importer
reads (READ), one with no meaning on ECS Fargate (NO_MEANING, each with the reason), or it is
reported here as not mapped.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterator

# What a finding is, in the order the report lists them.
MAPPED, GUESSED, TO_DO, DROPPED = "mapped", "guessed", "to do", "dropped"
KINDS = (TO_DO, DROPPED, GUESSED, MAPPED)
HEADINGS = {TO_DO: "To do by hand", DROPPED: "Not mapped", GUESSED: "Mapped by a guess", MAPPED: "Mapped"}


@dataclass(frozen=True)
class Finding:
    where: str  # `file:line: Kind/name`, or `(catalog)` for catalog-wide decisions
    field: str
    text: str
    kind: str = TO_DO
    subject: str = ""  # the object the report groups it under (Kind/name); empty: catalog-wide

    def line(self) -> str:
        return f"{self.where} {self.field}: {self.text}"


# Pod-template fields, relative to the pod spec, that the importer reads.
_POD_READ = (
    "containers[].name", "containers[].image", "containers[].command[]", "containers[].args[]",
    "containers[].ports[].*", "containers[].env[].*", "containers[].env[].valueFrom.*", "containers[].envFrom[].*",
    "containers[].resources.*", "containers[].readinessProbe.*", "containers[].livenessProbe.*",
    "containers[].startupProbe.*", "containers[].volumeMounts[].*", "containers[].securityContext.readOnlyRootFilesystem",
    "initContainers[].*", "volumes[].*", "nodeSelector.*", "affinity.nodeAffinity.*", "serviceAccountName",
    "terminationGracePeriodSeconds",
)
# Pod-template fields with no meaning on ECS Fargate, and why.
_POD_NO_MEANING = {
    "containers[].imagePullPolicy": "ECS pulls the task definition's image at every task start",
    "containers[].terminationMessagePath": "Kubernetes' termination log; ECS keeps the stop reason itself",
    "containers[].terminationMessagePolicy": "Kubernetes' termination log",
    "containers[].securityContext.*": "Fargate runs no privileged containers; users and capabilities come from the image",
    "containers[].workingDir": "taken from the image (not in the catalog)",
    "containers[].stdin": "ECS tasks have no attached terminal", "containers[].tty": "ECS tasks have no attached terminal",
    "containers[].lifecycle.*": "ECS sends SIGTERM then SIGKILL after the stop timeout; hooks must move into the image",
    "securityContext.*": "Fargate runs no privileged containers; users and groups come from the image",
    "dnsPolicy": "Fargate tasks use the VPC resolver", "dnsConfig.*": "Fargate tasks use the VPC resolver",
    "restartPolicy": "ECS replaces stopped tasks of a service", "schedulerName": "Fargate places tasks itself",
    "priorityClassName": "Fargate has no pod priorities", "tolerations[].*": "Fargate has no nodes to taint",
    "affinity.podAntiAffinity.*": "Fargate spreads a service's tasks over the subnets' zones",
    "affinity.podAffinity.*": "Fargate places tasks itself",
    "topologySpreadConstraints[].*": "Fargate spreads a service's tasks over the subnets' zones",
    "imagePullSecrets[].*": "images come from ECR with the execution role", "enableServiceLinks": "no Kubernetes Services on ECS",
    "automountServiceAccountToken": "no Kubernetes API on ECS", "serviceAccount": "see serviceAccountName",
    "hostname": "ECS names tasks itself", "subdomain": "ECS names tasks itself",
    "shareProcessNamespace": "not in the catalog", "preemptionPolicy": "Fargate has no pod priorities",
    "readinessGates[].*": "the target group's health check gates traffic",
}
_WORKLOAD_READ = ("spec.replicas", "spec.volumeClaimTemplates[].*", "metadata.name", "metadata.namespace",
                  "metadata.annotations.description", "spec.template.metadata.labels.*")
_METADATA_NO_MEANING = {
    "apiVersion": "the object's schema version", "kind": "the object's type",
    "metadata.*": "Kubernetes bookkeeping (labels, annotations, uid, managedFields); ECS resources are tagged by the platform",
    "status.*": "what the cluster observed, not what is wanted",
}
_WORKLOAD_NO_MEANING = {
    **_METADATA_NO_MEANING,
    "spec.selector.*": "ties the workload to its pods; an ECS service owns its tasks",
    "spec.strategy.*": "ECS rolling deployments with the circuit breaker (design section 6)",
    "spec.updateStrategy.*": "ECS rolling deployments with the circuit breaker (design section 6)",
    "spec.revisionHistoryLimit": "ECS keeps task definition revisions; the deploy history is in SSM",
    "spec.progressDeadlineSeconds": "the deployment circuit breaker decides", "spec.minReadySeconds": "the health-check grace period decides",
    "spec.serviceName": "a StatefulSet's headless Service; Service Connect names the service",
    "spec.podManagementPolicy": "ECS starts tasks in parallel",
    "spec.persistentVolumeClaimRetentionPolicy.*": "EFS data outlives the service",
    "spec.template.metadata.*": "pod labels and annotations",
}
# Per kind: (fields read, fields with no meaning). A kind not here is reported as not imported as a whole.
COVERAGE: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "Deployment": (_WORKLOAD_READ + tuple(f"spec.template.spec.{f}" for f in _POD_READ),
                   {**_WORKLOAD_NO_MEANING, **{f"spec.template.spec.{k}": v for k, v in _POD_NO_MEANING.items()}}),
    "StatefulSet": (_WORKLOAD_READ + tuple(f"spec.template.spec.{f}" for f in _POD_READ),
                    {**_WORKLOAD_NO_MEANING, **{f"spec.template.spec.{k}": v for k, v in _POD_NO_MEANING.items()}}),
    "CronJob": (("metadata.name", "metadata.namespace", "spec.schedule", "spec.timeZone",
                 *(f"spec.jobTemplate.spec.template.spec.{f}" for f in _POD_READ)),
                {**_METADATA_NO_MEANING,
                 "spec.concurrencyPolicy": "EventBridge Scheduler starts one task per schedule",
                 "spec.successfulJobsHistoryLimit": "task history is in CloudWatch Logs",
                 "spec.failedJobsHistoryLimit": "task history is in CloudWatch Logs",
                 "spec.startingDeadlineSeconds": "the Scheduler's retry policy decides", "spec.suspend": "not in the catalog",
                 "spec.jobTemplate.metadata.*": "job labels", "spec.jobTemplate.spec.template.metadata.*": "pod labels",
                 "spec.jobTemplate.spec.backoffLimit": "the Scheduler's retry policy decides",
                 "spec.jobTemplate.spec.activeDeadlineSeconds": "not in the catalog",
                 "spec.jobTemplate.spec.ttlSecondsAfterFinished": "stopped ECS tasks are cleaned up by ECS",
                 **{f"spec.jobTemplate.spec.template.spec.{k}": v for k, v in _POD_NO_MEANING.items()}}),
    "Service": (("metadata.name", "metadata.namespace", "spec.selector.*", "spec.ports[].*", "spec.type"),
                {**_METADATA_NO_MEANING,
                 "spec.clusterIP": "Service Connect gives each service its name", "spec.clusterIPs[]": "Service Connect names",
                 "spec.ipFamilies[]": "the VPC's", "spec.ipFamilyPolicy": "the VPC's",
                 "spec.sessionAffinity": "ALB stickiness is set per migration step", "spec.sessionAffinityConfig.*": "ALB stickiness",
                 "spec.internalTrafficPolicy": "Service Connect routes within the cluster",
                 "spec.externalTrafficPolicy": "the ALB targets tasks directly (target type ip)",
                 "spec.publishNotReadyAddresses": "a headless Service's DNS records",
                 "spec.loadBalancerSourceRanges[]": "the ALB's security group and WAF decide",
                 "spec.allocateLoadBalancerNodePorts": "the ALB targets tasks directly",
                 "spec.healthCheckNodePort": "the ALB targets tasks directly"}),
    "Ingress": (("metadata.name", "metadata.namespace", "metadata.annotations.alb.ingress.kubernetes.io/scheme",
                 "spec.rules[].*", "spec.defaultBackend.*", "spec.backend.*"),
                {**_METADATA_NO_MEANING, "spec.ingressClassName": "the environment's ALB takes every route",
                 "spec.tls[].*": "the ALB's certificate (certificate_domain) covers the hosts"}),
    "HorizontalPodAutoscaler": (("metadata.name", "spec.*"), _METADATA_NO_MEANING),
    "ConfigMap": (("metadata.name", "data.*"), {**_METADATA_NO_MEANING,
                                                "binaryData.*": "bake binary files into the image"}),
    "Secret": (("metadata.name", "data.*", "stringData.*"),
               {**_METADATA_NO_MEANING, "type": "Secrets Manager secrets have no type"}),
    "ServiceAccount": (("metadata.name", "metadata.annotations.eks.amazonaws.com/role-arn"),
                       {**_METADATA_NO_MEANING, "secrets[].*": "tokens of the Kubernetes API",
                        "imagePullSecrets[].*": "images come from ECR", "automountServiceAccountToken": "no Kubernetes API"}),
}


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path with `[]` for list items, value) of every leaf; map keys with dots are kept whole."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for item in value:
            yield from leaves(item, f"{prefix}[]")
    else:
        yield prefix, value


def _matches(path: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        base = pattern[:-2]
        return path == base or path.startswith(base + ".") or path.startswith(base + "[]")
    return fnmatch.fnmatchcase(path, pattern.replace("[", "[[]")) or path == pattern


def unmapped_fields(kind: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """Leaf fields of an object of `kind` that are neither read nor documented as meaningless on ECS."""
    read, no_meaning = COVERAGE.get(kind, ((), {}))
    found, seen = [], set()
    for path, value in leaves(body):
        if any(_matches(path, pattern) for pattern in (*read, *no_meaning)):
            continue
        if path not in seen:
            seen.add(path)
            found.append((path, value))
    return found


def no_meaning_reason(kind: str, path: str) -> str | None:
    for pattern, reason in COVERAGE.get(kind, ((), {}))[1].items():
        if _matches(path, pattern):
            return reason
    return None


def markdown(findings: list[Finding], sources: list[str], catalog_path: str, summary: dict[str, int]) -> str:
    """The migration report: a summary, then per object what was mapped, guessed, dropped and left to do."""
    by_subject: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_subject[finding.subject or "(catalog)"].append(finding)
    counts = {kind: sum(1 for f in findings if f.kind == kind) for kind in KINDS}
    lines = ["# Migration report", "",
             f"`python -m generator import` wrote `{catalog_path}` from:", "",
             *(f"- `{source}`" for source in sources), "",
             "| | count |", "|---|---|",
             *(f"| {label} | {value} |" for label, value in summary.items()),
             *(f"| {HEADINGS[kind].lower()} | {counts[kind]} |" for kind in KINDS), "",
             "Every field of every object read is listed below as mapped, guessed or not mapped, or is on the "
             "importer's list of fields with no meaning on ECS Fargate (`generator/kube/report.py`, COVERAGE).", ""]
    ordered = sorted(by_subject, key=lambda subject: (subject != "(catalog)", subject))
    for subject in ordered:
        items = by_subject[subject]
        lines += [f"## {subject}", ""]
        for kind in KINDS:
            chosen = [f for f in items if f.kind == kind]
            if not chosen:
                continue
            lines += [f"### {HEADINGS[kind]}", ""]
            lines += [f"- `{_location(f.where)}` `{f.field}`: {_escape(f.text)}" for f in chosen]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _location(where: str) -> str:
    return where.split(": ", 1)[0]


def _escape(text: str) -> str:
    return re.sub(r"([<>|])", r"\\\1", text)
