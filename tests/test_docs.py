"""The generated READMEs: every service, data store and host in the diagrams, every rule in
priority order, every module variable and output documented."""

from __future__ import annotations

import re

import pytest

from catalog_expectations import raw_catalog, scheduled_task_in, services_in, services_on_ecs
from conftest import COMMITTED_OUT, GOLDEN_TREE, NEXUS_CATALOG, ORBIT_CATALOG
from hcl_reading import blocks, load

CASES = [(NEXUS_CATALOG, COMMITTED_OUT), (ORBIT_CATALOG, GOLDEN_TREE)]


@pytest.mark.parametrize("catalog, tree", CASES, ids=["nexus", "orbit"])
def test_environment_readme_shows_the_catalog(catalog, tree) -> None:
    raw = raw_catalog(catalog)
    for env_name, env in raw["environments"].items():
        text = (tree / "environments" / env_name / "README.md").read_text()
        diagrams = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
        assert len(diagrams) == 2
        running = services_in(raw, env)  # overrides applied; services left out of this environment dropped
        for name in raw["services"]:
            shown = f'["{name}' in diagrams[0] and f'["{name}"]' in diagrams[1]
            assert shown is (name in running), (env_name, name)
        for store in raw["data_stores"]:
            assert f'[("{store}")]' in diagrams[1]
        # Internal services still on Kubernetes have no rule on either load balancer.
        on_ecs = services_on_ecs(raw, env)
        routed = [s for name, s in running.items() if not s.get("internal") or name in on_ecs]
        hosts = {f"{label}.{env['domain']}" for s in routed for r in s.get("routes", []) for label in r.get("hosts", [])}
        for host in hosts:
            assert host in diagrams[0], host
        table = text.split("## Listener rules, in evaluation order", 1)[1].split("##", 1)[0]
        priorities = [int(row.split("|")[1]) for row in table.splitlines() if re.match(r"^\| \d+ \|", row)]
        want = sorted(r["priority"] for s in routed for r in s.get("routes", []))
        assert priorities == want, "every rule, in the order the listener evaluates them"


@pytest.mark.parametrize("catalog, tree", CASES, ids=["nexus", "orbit"])
def test_the_diagram_draws_the_edge_the_catalog_has(catalog, tree) -> None:
    """Users reach each host where its DNS record points (design 1.1 and the catalog's `dns`): CloudFront in front
    of the ALB where the environment has `edge`, the Kubernetes ingress where it has `legacy`, the internal
    load balancer only from inside the VPC."""
    raw = raw_catalog(catalog)
    checked = 0
    for env_name, env in raw["environments"].items():
        diagram = re.findall(r"```mermaid\n(.*?)```", (tree / "environments" / env_name / "README.md").read_text(),
                             re.DOTALL)[0]
        entries = {(m.group(1), m.group(3)): m.group(2) for m in re.finditer(
            r'^  (users|cloudfront|vpc|alb) -- "([^"]*)" --> (cloudfront|alb|k8s|internal_alb)$', diagram, re.MULTILINE)}
        running = services_in(raw, env)
        labels = {label for s in running.values() if not s.get("internal") for r in s.get("routes", [])
                  for label in r.get("hosts", []) if not label.startswith("*")}
        default = "unmanaged" if "legacy" in env else "edge" if "edge" in env else "alb"
        for label in labels:
            mode = env.get("dns", {}).get(label, default)
            host = f"{label}.{env['domain']}"
            target = {"edge": "cloudfront", "alb": "alb", "legacy": "k8s",
                      "unmanaged": "k8s" if "legacy" in env else "alb"}[mode]
            assert host in entries.get(("users", target), "").split(", ") or \
                f"{host} (DNS not managed here)" in entries.get(("users", target), ""), (env_name, host, entries)
            if mode != "edge":
                assert host not in entries.get(("users", "cloudfront"), ""), (env_name, host)
        assert (("cloudfront", "alb") in entries) is ("edge" in env), (env_name, entries)
        assert (("alb", "k8s") in entries) is ("legacy" in env), (env_name, entries)
        has_internal = any(s.get("internal") and s.get("routes") for s in running.values())
        assert (("vpc", "internal_alb") in entries) is has_internal or "legacy" in env, (env_name, entries)
        checked += 1
    assert checked == len(raw["environments"])


@pytest.mark.parametrize("module", sorted(path.name for path in (COMMITTED_OUT / "modules").iterdir()))
def test_module_readme_lists_every_variable_and_output(module: str) -> None:
    root = COMMITTED_OUT / "modules" / module
    readme = (root / "README.md").read_text()
    inputs = readme.split("## Inputs", 1)[1].split("## Outputs", 1)[0]
    outputs = readme.split("## Outputs", 1)[1]
    names_in = re.findall(r"^\| `([a-z0-9_]+)` \|", inputs, re.MULTILINE)
    names_out = re.findall(r"^\| `([a-z0-9_]+)` \|", outputs, re.MULTILINE)
    variables = blocks(load(root / "variables.tf"), "variable")
    assert names_in == sorted(variables)
    assert names_out == sorted(blocks(load(root / "outputs.tf"), "output"))
    for name, body in variables.items():
        row = next(line for line in inputs.splitlines() if line.startswith(f"| `{name}` |"))
        assert ("default" in body) != ("`n/a (required)`" in row), name


def test_the_committed_module_readmes_are_current() -> None:
    from generator.render.module_docs import module_readmes
    from generator.paths import TEMPLATES_DIR

    for module, text in module_readmes().items():
        assert (TEMPLATES_DIR / "modules" / module / "README.md").read_text() == text, (
            f"templates/modules/{module}/README.md is stale: refresh it with make golden")


def test_environment_readme_lists_the_scheduled_tasks() -> None:
    raw = raw_catalog(ORBIT_CATALOG)
    assert raw["scheduled_tasks"], "the orbit fixture has a scheduled task"
    for env_name in raw["environments"]:
        tasks = {name: run for name, task in raw["scheduled_tasks"].items()
                 if (run := scheduled_task_in(task, env_name)) is not None}
        text = (GOLDEN_TREE / "environments" / env_name / "README.md").read_text()
        table = text.split("## Scheduled tasks", 1)[1].split("##", 1)[0]
        rows = [row.split("|")[1:-1] for row in table.splitlines() if row.startswith("| ") and not row.startswith("| task")]
        assert [cells[0].strip() for cells in rows] == list(tasks)
        for cells, (name, task) in zip(rows, tasks.items()):
            assert cells[1].strip() == task["schedule"] and cells[2].strip() == task.get("timezone", "UTC"), name
            assert cells[3].strip() == f"{task.get('cpu', 256)} / {task.get('memory', 512)}", name
