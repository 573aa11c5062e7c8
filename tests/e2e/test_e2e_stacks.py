"""`make e2e`, issue #21: NEXUS dev applied as the single root it was before, its state moved into the
stacks the committed out/ holds (`layout: stacks`) with an empty plan in every stack, a one-service edit
planned both ways on the same world (the before/after the note reports), applied in its stack alone,
and every stack destroyed, platform last. Then a catalog whose routes need several load balancers,
applied as stacks and followed host by host through CloudFront to the load balancer with its rules."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks import World, assert_applied_world_matches, assert_nothing_left
from conftest import COMMITTED_OUT, NEXUS_CATALOG, REPO
from generator import api
from generator.operate.stacks import instance_count
from harness import SUMMARY, STACK_LINES, PhaseLog, add_overrides, count, emulator, prepare_root, seed_existing_world, terraform

pytestmark = pytest.mark.e2e

PARALLELISM = "-parallelism=4"
ENVIRONMENT = "dev"
PLAN_REPEATS = 3  # each plan timing is the median of this many runs


def _catalog_with(tmp_path: Path, name: str, edit: Any) -> Path:
    data = yaml.safe_load(NEXUS_CATALOG.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "catalogs" / name / NEXUS_CATALOG.name  # the file's name is in every header
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _single(data: dict[str, Any]) -> None:
    data["environments"][ENVIRONMENT]["layout"] = "single"


def _edited_service(data: dict[str, Any]) -> str:
    """The service the one-service edit changes: the first with its own `stack` in the catalog file."""
    return next(name for name, service in data["services"].items() if "stack" in service)


def _variable_edit(service: str) -> Any:
    """The everyday edit: one environment variable of one service (a new task definition revision)."""
    def edit(data: dict[str, Any]) -> None:
        data["services"][service].setdefault("environment", {})["FEATURE_FLAGS"] = "stacks-e2e"
    return edit


def _copy_tf(source: Path, target: Path) -> None:
    """A re-rendered root's .tf files over a working copy that keeps its .terraform and state."""
    for path in source.glob("*.tf"):
        shutil.copyfile(path, target / path.name)


def _timed_plan(root: Path, env: dict[str, str], expect: int) -> float:
    seconds = []
    for _ in range(PLAN_REPEATS):
        started = time.monotonic()
        result = terraform(["plan", "-detailed-exitcode", "-input=false", "-lock=false"], root, env, 900)
        seconds.append(time.monotonic() - started)
        assert result.returncode == expect, f"plan in {root} exited {result.returncode}, expected {expect}:\n{result.stdout[-4000:]}{result.stderr[-3000:]}"
    return statistics.median(seconds)


def _destroy_stacks(roots: list[Path], terraform_env: dict[str, str]) -> int:
    """The service stacks, then the platform they stand on; resources destroyed. The service stacks could go in
    parallel (none reads another), but the emulator is inconsistent under more than ~4 concurrent calls."""
    def destroy(root: Path) -> int:
        result = terraform(["destroy", "-auto-approve", "-input=false", PARALLELISM], root, terraform_env, 1200)
        assert result.returncode == 0, f"destroy of {root.name} failed:\n{result.stdout[-3000:]}{result.stderr[-4000:]}"
        return count(r"Destroy complete! Resources: (\d+) destroyed", result.stdout) or 0

    platform, *services = roots
    return sum(destroy(root) for root in reversed(services)) + destroy(platform)


def _day_two_on_stacks(raw: dict[str, Any], catalog_path: Path, roots: dict[str, Path], tmp_path: Path, url: str,
                       terraform_env: dict[str, str], log: PhaseLog) -> tuple[Any, list[str]]:
    """Day-2 edits that cross stacks, as a team's pipeline runs them: render, apply the roots whose files changed
    (platform first; service stacks first when a service goes away, since the platform then deletes its security
    group), an empty re-plan in each, and one untouched stack still planning empty. Returns the final deployment
    and the services removed on the way."""
    data = yaml.safe_load(catalog_path.read_text(encoding="utf-8"))
    services = data["services"]
    stack_of = lambda name: services[name].get("stack", services[name]["group"])  # noqa: E731 - from the catalog file
    new, callee, group = "reviews-service", "user-service", "frontend"
    host = next(label for body in services.values() if body["group"] == group for route in body.get("routes", [])
                for label in route.get("hosts", []))
    # Ahead of every rule: a lower number is evaluated first, and no catch-all rule can then hide it.
    priority = min(route["priority"] for body in services.values() for route in body.get("routes", [])) - 1
    assert priority > 0

    def add(d: dict[str, Any]) -> None:
        d["services"][new] = {"group": group, "port": 3100, "calls": [callee],
                              "routes": [{"priority": priority, "hosts": [host], "paths": ["/reviews/*"]}]}

    def move_port(d: dict[str, Any]) -> None:
        d["services"][callee]["port"] += 10

    def remove(d: dict[str, Any]) -> None:
        del d["services"][new]

    callers = lambda d: {stack_of(name) for name, body in d["services"].items() if callee in body.get("calls", [])}  # noqa: E731
    edits = [
        ("a new service in frontend calling user-service", add, False, lambda d: {"platform", group}),
        ("user-service's port, which services in other stacks call", move_port, False,
         lambda d: {"platform", stack_of(callee), *callers(d)}),
        ("the new service removed again", remove, True, lambda d: {"platform", group}),
    ]
    started = time.monotonic()
    for number, (label, change, services_first, expected) in enumerate(edits, 1):
        change(data)
        path = tmp_path / "catalogs" / f"day-two-{number}" / NEXUS_CATALOG.name
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        rendered = tmp_path / f"day-two-{number}"
        api.render(path, rendered)
        touched = []
        for name, root in roots.items():
            new_files = {p.name: p.read_bytes() for p in (rendered / "environments" / ENVIRONMENT / name).glob("*.tf")}
            old_files = {p.name: p.read_bytes() for p in root.glob("*.tf") if not p.name.endswith("_override.tf")}
            if new_files != old_files:
                touched.append(name)
                _copy_tf(rendered / "environments" / ENVIRONMENT / name, root)
        assert set(touched) == expected(data), f"{label}: render changed {touched}"
        order = [name for name in touched if name != "platform"] + ["platform"] if services_first else touched
        for name in order:
            for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false", PARALLELISM]):
                result = terraform(args, roots[name], terraform_env, 1200)
                assert result.returncode == 0, f"{label}: terraform {args[0]} in {name}:\n{result.stdout[-3000:]}{result.stderr[-4000:]}"
            replanned = terraform(["plan", "-detailed-exitcode", "-input=false"], roots[name], terraform_env, 900)
            assert replanned.returncode == 0, f"{label}: re-plan of {name} not empty:\n{replanned.stdout[-4000:]}"
        untouched = next(name for name in roots if name not in touched)
        assert terraform(["plan", "-detailed-exitcode", "-input=false"], roots[untouched], terraform_env, 900).returncode == 0
        STACK_LINES.append(f"day-2 on stacks: {label}: applied {', '.join(order)}; {untouched} untouched, still empty")
        print(f"    [{ENVIRONMENT}] {STACK_LINES[-1]}", flush=True)
        catalog = api.validate(path)
        deployment = catalog.deployment(next(e for e in catalog.environments if e.name == ENVIRONMENT))
        assert_applied_world_matches(url, deployment)
    log.seconds["day-2"] = time.monotonic() - started
    return deployment, [new]


def test_single_root_moves_to_stacks(tmp_path: Path, terraform_env: dict[str, str]) -> None:
    raw = yaml.safe_load(NEXUS_CATALOG.read_text(encoding="utf-8"))
    assert raw["environments"][ENVIRONMENT].get("layout") == "stacks", "the catalog's dev is expected as stacks"
    single_catalog = _catalog_with(tmp_path, "single", _single)
    catalog = api.validate(NEXUS_CATALOG)
    deployment = catalog.deployment(next(e for e in catalog.environments if e.name == ENVIRONMENT))
    stack_names = [stack.name for stack in deployment.stacks]
    log = PhaseLog(f"nexus/{ENVIRONMENT} 1->stacks")
    SUMMARY.append(log)
    print(f"\n==> {log.name}", flush=True)

    single_tree = tmp_path / "single-rendered"
    api.render(single_catalog, single_tree)
    with emulator() as url:
        started = time.monotonic()
        seed_existing_world(url, deployment)
        single_root = prepare_root(single_tree, ENVIRONMENT, url, catalog.platform.region, tmp_path / "single")
        log.seconds["seed"] = time.monotonic() - started

        def run(name: str, args: list[str], root: Path, timeout: int = 1200) -> str:
            started = time.monotonic()
            result = terraform(args, root, terraform_env, timeout)
            log.seconds[name] = log.seconds.get(name, 0.0) + time.monotonic() - started
            assert result.returncode == 0, f"terraform {args[0]} in {root} failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
            return result.stdout

        run("init", ["init", "-input=false"], single_root)
        applied = run("apply", ["apply", "-auto-approve", "-input=false", PARALLELISM], single_root)
        log.applied = count(r"Apply complete! Resources: (\d+) added", applied)
        started = time.monotonic()
        facts = assert_applied_world_matches(url, deployment)  # what the catalog says, whichever layout made it
        log.seconds["check"] = time.monotonic() - started
        print(f"    [{ENVIRONMENT}] {facts} facts of the catalog found in the emulator", flush=True)

        # The move: the single root's state, split by the tool, pushed into each stack of the committed out/.
        pulled = terraform(["state", "pull"], single_root, terraform_env, 120)
        assert pulled.returncode == 0, pulled.stderr
        state_file = tmp_path / "single.tfstate"
        state_file.write_text(pulled.stdout, encoding="utf-8")
        in_single = instance_count(json.loads(pulled.stdout))
        split = subprocess.run(
            [sys.executable, "-m", "generator", "stacks", "split-state", "--catalog", str(NEXUS_CATALOG), "--env",
             ENVIRONMENT, "--state", str(state_file), "--out", str(tmp_path / "states")],
            cwd=REPO, capture_output=True, text=True, check=False)
        assert split.returncode == 0, split.stderr
        print("    " + split.stdout.replace("\n", "\n    ").rstrip(), flush=True)
        assert in_single > 0

        stacks_tree = tmp_path / "stacks"
        shutil.copytree(COMMITTED_OUT, stacks_tree, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
        roots = {name: add_overrides(stacks_tree / "environments" / ENVIRONMENT / name, url, catalog.platform.region)
                 for name in stack_names}
        started = time.monotonic()
        resources_per_stack: dict[str, int] = {}
        for name, root in roots.items():  # platform first: the others' data sources read what it made
            run("init", ["init", "-input=false"], root)
            run("push", ["state", "push", str(tmp_path / "states" / f"{name}.tfstate")], root)
            listed = terraform(["state", "list"], root, terraform_env, 120).stdout.split()
            resources_per_stack[name] = len([a for a in listed if ".data." not in f".{a}" and not a.startswith("data.")])
            planned = terraform(["plan", "-detailed-exitcode", "-input=false"], root, terraform_env, 900)
            assert planned.returncode == 0, (f"stack {name}: the plan after the move is not empty (exit {planned.returncode}):\n"
                                             f"{planned.stdout[-6000:]}{planned.stderr[-3000:]}")
        log.seconds["move"] = time.monotonic() - started
        log.plan_result = "No changes"
        total = sum(resources_per_stack.values())
        assert total == instance_count(json.loads(pulled.stdout)), "the stacks do not hold every resource of the single root"
        STACK_LINES.append(f"stacks of nexus/{ENVIRONMENT} after the move (managed resources): "
                           + ", ".join(f"{name} {n}" for name, n in resources_per_stack.items()) + f"; total {total}")

        # One service's environment variable, planned as the single root (before) and as its stack (after), same world.
        edited_service = _edited_service(raw)
        stack = next(s.name for s in deployment.stacks if any(svc.name == edited_service for svc in s.services))
        edited_single = tmp_path / "edited-single"
        api.render(_catalog_with(tmp_path, "edited-single", lambda d: (_single(d), _variable_edit(edited_service)(d))), edited_single)
        edited_stacks = tmp_path / "edited-stacks"
        edited_catalog = _catalog_with(tmp_path, "edited-stacks", _variable_edit(edited_service))
        api.render(edited_catalog, edited_stacks)
        changed_roots = sorted({path.parent.name for path in (edited_stacks / "environments" / ENVIRONMENT).glob("*/*.tf")
                                if path.read_bytes() != (COMMITTED_OUT / path.relative_to(edited_stacks)).read_bytes()})
        assert changed_roots == [stack], f"a one-service edit changed the files of {changed_roots}, expected only {stack!r}"
        _copy_tf(edited_single / "environments" / ENVIRONMENT, single_root)
        before = _timed_plan(single_root, terraform_env, expect=2)
        _copy_tf(edited_stacks / "environments" / ENVIRONMENT / stack, roots[stack])
        after = _timed_plan(roots[stack], terraform_env, expect=2)
        STACK_LINES.append(f"plan of a one-service edit ({edited_service} environment variable), median of {PLAN_REPEATS}: single root "
                           f"({in_single} resources) {before:.1f} s, stack {stack!r} ({resources_per_stack[stack]}) {after:.1f} s")
        print(f"    [{ENVIRONMENT}] {STACK_LINES[-1]}", flush=True)
        run("edit", ["apply", "-auto-approve", "-input=false", PARALLELISM], roots[stack])
        assert terraform(["plan", "-detailed-exitcode", "-input=false"], roots[stack], terraform_env, 900).returncode == 0
        edited = api.validate(edited_catalog)
        deployment = edited.deployment(next(e for e in edited.environments if e.name == ENVIRONMENT))
        assert_applied_world_matches(url, deployment)

        deployment, removed = _day_two_on_stacks(raw, edited_catalog, roots, tmp_path, url, terraform_env, log)

        started = time.monotonic()
        log.destroyed = _destroy_stacks([roots[name] for name in stack_names], terraform_env)
        log.seconds["destroy"] = time.monotonic() - started
        assert log.destroyed == total
        # A removed service's log group outlives it by design (skip_destroy).
        assert_nothing_left(url, deployment, frozenset(f"/ecs/{deployment.names.prefix}/{name}" for name in removed))


def test_routes_spread_over_load_balancers_apply_as_stacks(tmp_path: Path, terraform_env: dict[str, str]) -> None:
    """A catalog shaped like a larger company's (teams on their own hosts, CloudFront in front), with the
    security-group quota lowered so that each team needs a load balancer of its own: platform first, then the
    teams' stacks; each host resolves through its own distribution to the load balancer holding its rules."""
    sys.path.insert(0, str(REPO / "tests" / "bench"))
    from synthetic_catalog import spread_catalog

    data = yaml.safe_load(spread_catalog(6, team_size=3))
    data["platform"]["load_balancer_quotas"] = {"security_group_rules": 4}  # 80 % of it: 3 services per load balancer
    data["environments"]["prod"]["deletion_protection"] = False  # the test destroys it
    catalog_path = tmp_path / "catalog" / "wide.yaml"
    catalog_path.parent.mkdir()
    catalog_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    teams = sorted({body["group"] for body in data["services"].values()})
    env_name, env = "prod", data["environments"]["prod"]
    catalog = api.validate(catalog_path)
    deployment = catalog.deployment(catalog.environments[0])
    tree = tmp_path / "rendered"
    api.render(catalog_path, tree)
    log = PhaseLog("wide/prod lbs")
    SUMMARY.append(log)
    print(f"\n==> {log.name}", flush=True)
    with emulator() as url:
        seed_existing_world(url, deployment)
        roots = [add_overrides(root, url, catalog.platform.region)
                 for root in sorted((tree / "environments" / env_name).iterdir(), key=lambda p: (p.name != "platform", p.name))
                 if root.is_dir()]
        assert roots[0].name == "platform" and len(roots) == 1 + len(teams)

        def run(name: str, args: list[str], root: Path) -> str:
            started = time.monotonic()
            result = terraform(args, root, terraform_env, 1200)
            log.seconds[name] = log.seconds.get(name, 0.0) + time.monotonic() - started
            assert result.returncode == 0, f"terraform {args[0]} in {root.name} failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
            return result.stdout

        applied = 0
        for root in roots:
            run("init", ["init", "-input=false"], root)
            applied += count(r"Apply complete! Resources: (\d+) added",
                             run("apply", ["apply", "-auto-approve", "-input=false", PARALLELISM], root)) or 0
        log.applied = applied

        started = time.monotonic()
        world = World(url, catalog.platform.region)
        edge_world = World(url, "us-east-1")
        balancers = {lb["LoadBalancerName"]: lb for lb in world.elbv2.describe_load_balancers()["LoadBalancers"]}
        assert sorted(balancers) == sorted(["wide-prod-alb"] + [f"wide-prod-alb-{n}" for n in range(2, len(teams) + 1)])
        holder: dict[str, str] = {}  # host -> load balancer whose listener has its rules
        for name, balancer in balancers.items():
            listener = next(l for l in world.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
                            if l["Port"] == 443)
            for rule in world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                for condition in rule["Conditions"]:
                    if condition["Field"] == "host-header":
                        for host in condition.get("HostHeaderConfig", {}).get("Values") or condition.get("Values", []):
                            assert holder.setdefault(host, name) == name, f"{host} has rules on two load balancers"
        assert sorted(holder) == sorted(f"{team}.{env['domain']}" for team in teams)
        assert len(set(holder.values())) == len(teams)  # one team per load balancer, as the quota says
        zone = world.route53.list_hosted_zones_by_name(DNSName=env["dns_zone"])["HostedZones"][0]
        records = {r["Name"].rstrip("."): r for r in world.route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]}
        distributions = edge_world.cloudfront.list_distributions()["DistributionList"]["Items"]
        for host, balancer in holder.items():
            alias = records[host]["AliasTarget"]["DNSName"].rstrip(".").lower()
            distribution = next(d for d in distributions if d["DomainName"].lower() == alias)
            config = edge_world.cloudfront.get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
            assert config["Aliases"]["Items"] == [host]
            origin = config["Origins"]["Items"][0]["DomainName"]
            origin_target = records[origin]["AliasTarget"]["DNSName"].rstrip(".").lower()
            assert origin_target == balancers[balancer]["DNSName"].lower(), (host, origin, balancer)
            # The load balancer's own group sends only to its team's services.
            group = world.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [balancer]}])["SecurityGroups"][0]
            team = host.split(".", 1)[0]
            egress = {rule["ReferencedGroupInfo"]["GroupId"] for rule in world.ec2.describe_security_group_rules(
                Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])["SecurityGroupRules"]
                if rule["IsEgress"] and rule.get("ReferencedGroupInfo")}
            services = [name for name, body in data["services"].items() if body["group"] == team]
            wanted = {g["GroupId"] for g in world.ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [f"wide-prod-{name}" for name in services]}])["SecurityGroups"]}
            assert egress == wanted and len(wanted) == len(services), (balancer, team)
        log.seconds["check"] = time.monotonic() - started
        STACK_LINES.append(f"wide/prod: {len(data['services'])} routed services in {len(teams)} teams on "
                           f"{len(balancers)} load balancers, each host through its own CloudFront distribution to the "
                           f"load balancer that holds its rules; {len(roots)} stacks, {applied} resources")
        for root in roots:
            planned = terraform(["plan", "-detailed-exitcode", "-input=false"], root, terraform_env, 900)
            assert planned.returncode == 0, f"{root.name}: plan not empty:\n{planned.stdout[-4000:]}"
        log.plan_result = "No changes"
        started = time.monotonic()
        log.destroyed = _destroy_stacks(roots, terraform_env)
        log.seconds["destroy"] = time.monotonic() - started
        assert log.destroyed == applied
        assert_nothing_left(url, deployment)
