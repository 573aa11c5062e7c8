"""Stacks: the order to apply an environment's roots in, and moving a single root's state into them.

An environment with `layout: stacks` is a `platform` root and one root per service stack. Their
resources keep the addresses they had in the single root (`module.service_api.aws_ecs_service.this`,
`module.iam.aws_iam_role.task["api"]`), so moving an environment that was applied as one root is a
partition of its state, not a change to any resource:

    terraform state pull > single.tfstate                      # in environments/<env>/, before re-rendering
    python -m generator stacks split-state --catalog ... --env <env> --state single.tfstate --out states/
    terraform state push states/<stack>.tfstate                 # in each stack's directory, `platform` first

after which `terraform plan` in every stack reports no changes (`make e2e` proves it on NEXUS dev).
Each managed resource instance goes to exactly one stack, by the rule that decides where the stack
templates put it; data sources are left out (every plan reads them again).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

import click

from generator.catalog.model import Deployment, PLATFORM_STACK


class StackError(click.ClickException):
    """The stacks cannot be ordered or the state cannot be split; one line, nothing written."""


# Resources of these modules are keyed by service name: a keyed instance belongs to that service's stack.
_PER_SERVICE_MODULES = ("module.iam", "module.security_groups")
# ...except the security groups themselves, which the platform stack creates for every service.
_PLATFORM_TYPES_IN_PER_SERVICE_MODULES = ("aws_security_group",)
PLATFORM_OUTPUTS = ("cluster_name", "alb_dns_name", "ci_deploy_role_arn")


@dataclass(frozen=True)
class StackOrder:
    """Roots of an environment in apply order: `platform`, then the service stacks (independent of each other)."""

    environment: str
    platform: str
    service_stacks: tuple[str, ...]


def order(deployment: Deployment) -> StackOrder:
    stacks = deployment.stacks
    if not stacks:
        raise StackError(f"environment {deployment.environment.name!r} is one root (`layout: single`); "
                             "it has no stacks. Set `layout: stacks` on it in the catalog to cut it into stacks")
    return StackOrder(deployment.environment.name, stacks[0].name, tuple(stack.name for stack in stacks[1:]))


def _instance_stack(module: str, resource_type: str, index: Any, service_stack: dict[str, str],
                    module_stack: dict[str, str], where: str) -> str:
    top = ".".join(module.split(".")[:2])
    if top in module_stack:
        return module_stack[top]
    if top.startswith("module.service_"):
        raise StackError(f"the state holds {where}, of a service this environment does not run in the catalog: "
                             "apply the single root with the current catalog first, then split its state")
    if top in _PER_SERVICE_MODULES and isinstance(index, str) and resource_type not in _PLATFORM_TYPES_IN_PER_SERVICE_MODULES:
        owner = index.split("->", 1)[0]  # `caller->callee`, `service->store`: the first service's catalog entry makes it
        if owner in service_stack:
            return service_stack[owner]
        if "->" in index or top == "module.iam":
            raise StackError(f"the state holds {where}, of service {owner!r}, which this environment does not run "
                                 "in the catalog: apply the single root with the current catalog first")
    return PLATFORM_STACK


def split_state(state: dict[str, Any], deployment: Deployment) -> dict[str, dict[str, Any]]:
    """The single root's state (`terraform state pull`) as one state per stack, by stack name."""
    stacks = order(deployment)
    if not isinstance(state, dict) or state.get("version") != 4 or not isinstance(state.get("resources"), list):
        raise StackError("not a Terraform state (version 4, with `resources`): give the output of `terraform state pull`")
    service_stack = {svc.name: stack.name for stack in deployment.stacks for svc in stack.services}
    module_stack = {f"module.{svc.module_name}": stack.name for stack in deployment.stacks for svc in stack.services}
    names = (stacks.platform, *stacks.service_stacks)
    resources: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for resource in state["resources"]:
        if resource.get("mode") != "managed":
            continue  # data sources: read again by every plan
        module = resource.get("module", "")
        by_stack: dict[str, list[dict[str, Any]]] = {}
        for instance in resource.get("instances", []):
            index = instance.get("index_key")
            where = f"{module + '.' if module else ''}{resource['type']}.{resource['name']}" + (
                f"[{json.dumps(index)}]" if index is not None else "")
            by_stack.setdefault(_instance_stack(module, resource["type"], index, service_stack, module_stack, where),
                                []).append(instance)
        for stack, instances in by_stack.items():
            part = {key: value for key, value in resource.items() if key != "instances"}
            part["instances"] = instances
            resources[stack].append(part)
    outputs = state.get("outputs", {})
    split: dict[str, dict[str, Any]] = {}
    for stack in deployment.stacks:
        kept = resources[stack.name]
        addresses = {_address(resource) for resource in kept}
        for resource in kept:
            for instance in resource["instances"]:
                # Dependencies on resources now in another state are not this state's to order.
                instance["dependencies"] = [d for d in instance.get("dependencies", []) if _without_index(d) in addresses]
        if stack.is_platform:
            stack_outputs = {name: copy.deepcopy(outputs[name]) for name in PLATFORM_OUTPUTS if name in outputs}
        else:
            service_names = [svc.names.ecs_service for svc in stack.services]
            stack_outputs = {"service_names": {"value": service_names, "type": ["tuple", ["string"] * len(service_names)]}}
        split[stack.name] = {
            "version": 4,
            "terraform_version": state.get("terraform_version", ""),
            "serial": 1,
            "lineage": str(uuid.uuid4()),
            "outputs": stack_outputs,
            "resources": kept,
            "check_results": None,
        }
    return split


def instance_count(state: dict[str, Any]) -> int:
    """Managed resource instances in a state (what `terraform state list` lists, data sources aside)."""
    return sum(len(resource.get("instances", [])) for resource in state.get("resources", [])
               if resource.get("mode") == "managed")


def _address(resource: dict[str, Any]) -> str:
    module = resource.get("module", "")
    return f"{module + '.' if module else ''}{resource['type']}.{resource['name']}"


def _without_index(address: str) -> str:
    """`module.a["x"].aws_b.c[0]` -> `module.a.aws_b.c` (the state's resource address, without instance keys)."""
    out, depth = [], 0
    for char in address:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)
