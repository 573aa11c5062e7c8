"""Issue #21, stacks: an environment with `layout: stacks` is a platform root and one root per service stack.
Expectations come from the catalog file (`layout`, `group`, `stack`) and the design's names; the state split
is checked on a state shaped like `terraform state pull` output (the e2e split a real one, tests/e2e/test_stacks.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from catalog_expectations import raw_catalog, services_on_ecs
from conftest import COMMITTED_OUT, NEXUS_CATALOG, ORBIT_CATALOG
from generator import api
from generator.cli import main
from generator.errors import CatalogError
from generator.operate import stacks
from generator.render.roots import touched_roots
from hcl_reading import blocks, environment_roots, literal, load, resources

STACKED = [name for name, env in raw_catalog(NEXUS_CATALOG)["environments"].items() if env.get("layout") == "stacks"]


@pytest.fixture(scope="module")
def nexus_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NEXUS rendered now (the committed out/ is checked against it by test_output.py)."""
    out = tmp_path_factory.mktemp("nexus") / "out"
    api.render(NEXUS_CATALOG, out)
    return out


def expected_stack(service: dict[str, Any]) -> str:
    return service.get("stack", service["group"])


def test_nexus_has_a_stacked_environment_and_a_single_one() -> None:
    layouts = {env.get("layout", "single") for env in raw_catalog(NEXUS_CATALOG)["environments"].values()}
    assert layouts == {"single", "stacks"}


@pytest.mark.parametrize("env_name", STACKED)
def test_every_service_is_in_the_stack_the_catalog_names(env_name: str, nexus_out: Path) -> None:
    data = raw_catalog(NEXUS_CATALOG)
    env = data["environments"][env_name]
    roots = environment_roots(nexus_out, env_name)
    assert roots[0].name == "platform"
    on_ecs = services_on_ecs(data, env)
    expected = {expected_stack(service) for service in on_ecs.values()}
    assert {root.name for root in roots[1:]} == expected
    for root in roots[1:]:
        modules = blocks(load(root / "services.tf"), "module")
        names = {literal(module["name"]) for module in modules.values()}
        assert names == {name for name, service in on_ecs.items() if expected_stack(service) == root.name}, root.name
        assert len(names) <= data["platform"].get("max_services_per_stack", 5)
        for module in modules.values():
            assert literal(module["source"]) == "../../../modules/ecs-service"
    # The platform stack holds no service; NEXUS has no scheduled task, so it has no services.tf at all.
    assert not (roots[0] / "services.tf").exists()


@pytest.mark.parametrize("env_name", STACKED)
def test_each_stack_owns_its_own_resources(env_name: str, nexus_out: Path) -> None:
    """No stack creates what another creates: the shared modules are the platform's, a service stack's
    security-group module creates rules only and its IAM module no CI role."""
    data = raw_catalog(NEXUS_CATALOG)
    env = data["environments"][env_name]
    platform, *services = environment_roots(nexus_out, env_name)
    shared = blocks(load(platform / "main.tf"), "module")
    assert {"cluster", "security_groups", "alb", "iam"} <= set(shared)
    assert shared["security_groups"]["service_rules"] is False
    assert literal(shared["iam"]["services"]) == {}
    assert literal(shared["iam"]["ci_github_subject"]) == f"repo:{data['platform']['github_repository']}:environment:{env_name}"
    for root in services:
        own = blocks(load(root / "main.tf"), "module")
        assert set(own) == {"security_groups", "iam"}, root.name
        assert "existing_security_groups" in own["security_groups"] and "alb_security_group_name" not in own["security_groups"]
        assert literal(own["iam"]["ci_deploy_principals"]) == [] and own["iam"]["ci_github_subject"] is None
        assert not resources(load(root / "main.tf"))  # every resource is in a module
        in_stack = {name for name, service in services_on_ecs(data, env).items() if expected_stack(service) == root.name}
        assert set(literal(own["iam"]["services"])) == in_stack
        assert set(literal(own["security_groups"]["services"])) == in_stack


@pytest.mark.parametrize("env_name", STACKED)
def test_service_stacks_find_the_platform_by_the_designs_names(env_name: str, nexus_out: Path) -> None:
    data = raw_catalog(NEXUS_CATALOG)
    env = data["environments"][env_name]
    prefix = f"{data['platform']['name']}-{env_name}"  # design 2.1: nexus-<environment>
    on_ecs = services_on_ecs(data, env)
    for root in environment_roots(nexus_out, env_name)[1:]:
        found = resources(load(root / "main.tf"), "data")
        assert literal(found[("aws_ecs_cluster", "this")]["cluster_name"]) == prefix
        assert literal(found[("aws_sns_topic", "alerts")]["name"]) == f"{prefix}-alerts"
        assert literal(found[("aws_kms_alias", "cluster")]["name"]) == f"alias/{prefix}"
        if any(service.get("routes") for name, service in on_ecs.items() if expected_stack(service) == root.name):
            assert literal(found[("aws_lb", "alb")]["name"]) == f"{prefix}-alb"
        groups = literal(found[("aws_security_group", "service")]["for_each"])
        own = {name for name, service in on_ecs.items() if expected_stack(service) == root.name}
        callees = {callee for name in own for callee in on_ecs[name].get("calls", []) if callee in on_ecs}
        assert groups == {name: f"{prefix}-{name}" for name in own | callees}, root.name


@pytest.mark.parametrize("env_name", STACKED)
def test_each_stack_has_its_own_state_key(env_name: str, nexus_out: Path) -> None:
    env = raw_catalog(NEXUS_CATALOG)["environments"][env_name]
    keys = []
    for root in environment_roots(nexus_out, env_name):
        backend = load(root / "versions.tf")["terraform"][0]["backend"][0]['"s3"']
        assert literal(backend["bucket"]) == env["backend"]["bucket"]
        keys.append(literal(backend["key"]))
    assert keys == [f"nexus/{env_name}/{root.name}/terraform.tfstate" for root in environment_roots(nexus_out, env_name)]


def _render(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    catalog = tmp_path / name / NEXUS_CATALOG.name
    catalog.parent.mkdir()
    catalog.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = tmp_path / name / "out"
    result = CliRunner().invoke(main, ["render", "--catalog", str(catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_a_one_service_edit_touches_one_stack_and_render_says_which(tmp_path: Path) -> None:
    data = raw_catalog(NEXUS_CATALOG)
    env_name = STACKED[0]
    service = next(name for name, body in data["services"].items() if "stack" in body)
    before = _render(tmp_path, "before", data)
    edited = copy.deepcopy(data)
    edited["services"][service].setdefault("environment", {})["FEATURE"] = "on"
    catalog = tmp_path / "before" / NEXUS_CATALOG.name
    catalog.write_text(yaml.safe_dump(edited, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["render", "--catalog", str(catalog), "--out", str(before)])
    assert result.exit_code == 0, result.output
    stack = data["services"][service]["stack"]
    # The service runs in every environment: each single root and its stack in the stacked one.
    singles = sorted(f"environments/{name}" for name, env in data["environments"].items() if env.get("layout") != "stacks")
    assert f"roots to plan and apply: {', '.join(singles)}; then environments/{env_name}/{stack}" in result.output


def test_touched_roots_puts_service_stacks_after_platforms_and_expands_module_changes() -> None:
    known = ["environments/dev/ai", "environments/dev/platform", "environments/prod"]
    touched = touched_roots(["environments/dev/ai/services.tf", "environments/dev/README.md", "catalog/x.yaml"], known)
    assert (touched.first, touched.then, touched.every_root) == ((), ("environments/dev/ai",), False)
    touched = touched_roots(["modules/alb/main.tf"], known)
    assert touched.first == ("environments/dev/platform", "environments/prod") and touched.then == ("environments/dev/ai",)
    gone = touched_roots(["environments/dev/old-stack/main.tf"], known)  # a removed root still needs its destroy
    assert gone.then == ("environments/dev/old-stack",)


def test_stacks_changed_prints_the_workflow_matrices() -> None:
    result = CliRunner().invoke(main, ["stacks", "changed", "--out", "out"],
                                input="out/environments/dev/ai/main.tf\nout/environments/prod/services.tf\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "first": [{"name": "prod", "environment": "prod", "path": "out/environments/prod"}],
        "then": [{"name": "dev/ai", "environment": "dev", "path": "out/environments/dev/ai"}]}


def test_stacks_order_lists_platform_first() -> None:
    data = raw_catalog(NEXUS_CATALOG)
    env_name = STACKED[0]
    env = data["environments"][env_name]
    result = CliRunner().invoke(main, ["stacks", "order", "--catalog", str(NEXUS_CATALOG), "--env", env_name, "--json"])
    assert result.exit_code == 0, result.output
    order = json.loads(result.output)
    assert order["platform"] == "platform"
    assert order["service_stacks"] == list(dict.fromkeys(expected_stack(s) for s in services_on_ecs(data, env).values()))
    single = next(name for name, e in data["environments"].items() if e.get("layout") != "stacks")
    result = CliRunner().invoke(main, ["stacks", "order", "--catalog", str(NEXUS_CATALOG), "--env", single])
    assert result.exit_code == 1 and "layout: single" in result.output and "Traceback" not in result.output


# The state split ------------------------------------------------------------------------------------------

def _instance(index: Any = None, dependencies: tuple[str, ...] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {"schema_version": 0, "attributes": {"id": "x"}, "dependencies": list(dependencies)}
    if index is not None:
        found["index_key"] = index
    return found


def _resource(module: str, rtype: str, name: str, *instances: dict[str, Any], mode: str = "managed") -> dict[str, Any]:
    found = {"mode": mode, "type": rtype, "name": name, "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
             "instances": list(instances)}
    if module:
        found["module"] = module
    return found


def _state(*resources_: dict[str, Any]) -> dict[str, Any]:
    return {"version": 4, "terraform_version": "1.11.4", "serial": 9, "lineage": "l", "resources": list(resources_),
            "outputs": {"cluster_name": {"value": "nexus-dev", "type": "string"},
                        "service_names": {"value": ["a"], "type": ["tuple", ["string"]]}}}


def _dev() -> Any:
    catalog = api.validate(NEXUS_CATALOG)
    return catalog.deployment(next(e for e in catalog.environments if e.name == STACKED[0]))


def test_split_state_puts_each_instance_where_the_templates_put_its_resource() -> None:
    data = raw_catalog(NEXUS_CATALOG)
    on_ecs = services_on_ecs(data, data["environments"][STACKED[0]])
    caller = next(name for name, s in on_ecs.items() if any(c in on_ecs and expected_stack(on_ecs[c]) != expected_stack(s)
                                                             for c in s.get("calls", [])))
    callee = next(c for c in on_ecs[caller]["calls"] if expected_stack(on_ecs[c]) != expected_stack(on_ecs[caller]))
    module = "module.service_" + caller.replace("-", "_")
    state = _state(
        _resource("module.cluster", "aws_ecs_cluster", "this", _instance()),
        _resource("module.cluster", "aws_iam_policy_document", "kms", _instance(), mode="data"),
        _resource(module, "aws_ecs_service", "this", _instance(dependencies=(f"{module}.aws_ecs_task_definition.this",
                                                                             "module.cluster.aws_ecs_cluster.this"))),
        _resource(module, "aws_ecs_task_definition", "this", _instance()),
        _resource("module.iam", "aws_iam_role", "task", _instance(caller), _instance(callee)),
        _resource("module.iam", "aws_iam_role", "ci_deploy", _instance(0)),
        _resource("module.security_groups", "aws_security_group", "service", _instance(caller), _instance(callee)),
        _resource("module.security_groups", "aws_security_group", "alb", _instance(0)),
        _resource("module.security_groups", "aws_vpc_security_group_ingress_rule", "service_from_caller",
                  _instance(f"{caller}->{callee}")),
        _resource("module.security_groups", "aws_vpc_security_group_egress_rule", "alb_to_legacy", _instance("10.0.0.1")),
    )
    split = stacks.split_state(state, _dev())
    where = {stack: {(r.get("module", ""), r["type"], r["name"], i.get("index_key")) for r in part["resources"]
                     for i in r["instances"]} for stack, part in split.items()}
    mine, theirs = expected_stack(on_ecs[caller]), expected_stack(on_ecs[callee])
    assert where[mine] == {(module, "aws_ecs_service", "this", None), (module, "aws_ecs_task_definition", "this", None),
                           ("module.iam", "aws_iam_role", "task", caller),
                           ("module.security_groups", "aws_vpc_security_group_ingress_rule", "service_from_caller",
                            f"{caller}->{callee}")}
    assert where[theirs] == {("module.iam", "aws_iam_role", "task", callee)}
    assert where["platform"] == {("module.cluster", "aws_ecs_cluster", "this", None),
                                 ("module.iam", "aws_iam_role", "ci_deploy", 0),
                                 ("module.security_groups", "aws_security_group", "service", caller),
                                 ("module.security_groups", "aws_security_group", "service", callee),
                                 ("module.security_groups", "aws_security_group", "alb", 0),
                                 ("module.security_groups", "aws_vpc_security_group_egress_rule", "alb_to_legacy", "10.0.0.1")}
    assert sum(stacks.instance_count(part) for part in split.values()) == stacks.instance_count(state) == 11
    service = next(r for r in split[mine]["resources"] if r["type"] == "aws_ecs_service")
    assert service["instances"][0]["dependencies"] == [f"{module}.aws_ecs_task_definition.this"]  # the cluster is elsewhere
    assert split["platform"]["outputs"] == {"cluster_name": {"value": "nexus-dev", "type": "string"}}
    names = [name for name, s in on_ecs.items() if expected_stack(s) == mine]
    assert split[mine]["outputs"]["service_names"]["value"] == names
    assert len({part["lineage"] for part in split.values()}) == len(split)


def test_split_state_refuses_a_state_of_another_catalog() -> None:
    with pytest.raises(stacks.StackError, match="does not run in the catalog"):
        stacks.split_state(_state(_resource("module.service_gone", "aws_ecs_service", "this", _instance())), _dev())
    with pytest.raises(stacks.StackError, match="does not run"):
        stacks.split_state(_state(_resource("module.iam", "aws_iam_role", "task", _instance("gone"))), _dev())
    with pytest.raises(stacks.StackError, match="terraform state pull"):
        stacks.split_state({"version": 3}, _dev())


def test_split_state_command_writes_one_file_per_stack_and_never_overwrites(tmp_path: Path) -> None:
    state = tmp_path / "single.tfstate"
    state.write_text(json.dumps(_state(_resource("module.cluster", "aws_ecs_cluster", "this", _instance()))))
    args = ["stacks", "split-state", "--catalog", str(NEXUS_CATALOG), "--env", STACKED[0], "--state", str(state),
            "--out", str(tmp_path / "states")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    written = sorted(path.stem for path in (tmp_path / "states").glob("*.tfstate"))
    assert written == sorted(root.name for root in environment_roots(COMMITTED_OUT, STACKED[0]))
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "already exist" in again.output and "nothing was written" in again.output
    state.write_text("{not json")
    bad = CliRunner().invoke(main, [*args[:-1], str(tmp_path / "other")])
    assert bad.exit_code == 1 and "is not JSON" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "other").exists()


# Validation ------------------------------------------------------------------------------------------------

def _problems(data: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        api.validate(path)
    return str(error.value.format_message())


def test_a_stack_over_the_limit_is_refused_with_the_fix(tmp_path: Path) -> None:
    data = copy.deepcopy(raw_catalog(NEXUS_CATALOG))
    env_name = STACKED[0]
    for service in data["services"].values():
        service.pop("stack", None)
    message = _problems(data, tmp_path)
    biggest = max({s["group"] for s in data["services"].values()},
                  key=lambda g: sum(1 for s in data["services"].values() if s["group"] == g))
    assert f"stack {biggest!r} of environment {env_name!r} would hold" in message
    assert f"give this and later ones `stack: {biggest}-2`" in message


def test_stacks_and_a_legacy_side_are_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(raw_catalog(ORBIT_CATALOG))
    migrating = next(name for name, env in data["environments"].items() if "legacy" in env)
    data["environments"][migrating]["layout"] = "stacks"
    for service in data["services"].values():
        service["stack"] = "s-" + service["group"]
    data["platform"]["max_services_per_stack"] = 50
    message = _problems(data, tmp_path)
    assert f"environments.{migrating}.layout" in message and "keeps `layout: single`" in message


def test_a_stack_named_platform_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(raw_catalog(NEXUS_CATALOG))
    service = next(name for name, body in data["services"].items() if "stack" in body)
    data["services"][service]["stack"] = "platform"
    assert "'platform' is the name of the environment's shared stack" in _problems(data, tmp_path)


def test_removing_a_service_says_to_apply_its_stack_before_the_platform(tmp_path: Path) -> None:
    data = raw_catalog(NEXUS_CATALOG)
    env_name = STACKED[0]
    service = next(name for name, body in data["services"].items() if "stack" in body)
    out = _render(tmp_path, "before", data)
    removed = copy.deepcopy(data)
    del removed["services"][service]
    catalog = tmp_path / "before" / NEXUS_CATALOG.name
    catalog.write_text(yaml.safe_dump(removed, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["render", "--catalog", str(catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    stack = data["services"][service]["stack"]
    assert (f"apply environments/{env_name}/{stack} before environments/{env_name}/platform" in result.output), result.output
    single = next(name for name, env in data["environments"].items() if env.get("layout") != "stacks")
    assert f"apply environments/{single}/" not in result.output  # a single root has no order to keep
