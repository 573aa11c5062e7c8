"""Command line: `python -m generator validate|render|import|migration-plan|migration-check|preflight|deploy|rollback|deploy-status|cost`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from generator import __version__, api
from generator.catalog.model import Catalog, Environment

CATALOG_OPTION = click.option(
    "--catalog",
    "catalog_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=True, exists=False),
    help="Path of the catalog YAML file, e.g. catalog/nexus.yaml.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Generate ECS Fargate Terraform from a platform catalog."""


@main.command()
@CATALOG_OPTION
def validate(catalog_path: Path) -> None:
    """Check a catalog: schema, references and AWS rules. Exit 1 listing every problem."""
    catalog = api.validate(catalog_path)
    click.echo(
        f"{catalog_path}: valid ({len(catalog.services)} services, {len(catalog.environments)} environments)"
    )


@main.command()
@CATALOG_OPTION
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output directory; replaced as a whole.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that would change.")
def render(catalog_path: Path, out_dir: Path, check: bool) -> None:
    """Render a catalog into Terraform modules and one root module per environment."""
    warnings: list[str] = []
    rendered_by = api.rendered_by(out_dir) if check else None
    diff = api.render(catalog_path, out_dir, check=check, warnings=warnings)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if check:
        if diff.empty:
            click.echo(f"{out_dir} is up to date with {catalog_path}")
            return
        if rendered_by != __version__:
            click.echo(f"{out_dir} was rendered by {'generator ' + rendered_by if rendered_by else 'a generator before 0.7.0'}"
                       f", this is {__version__}: differences can come from the upgrade (CHANGELOG.md says what each "
                       "version changes); render and review them in their own pull request", err=True)
        click.echo(f"{out_dir} is stale; `render` would change:", err=True)
        click.echo("\n".join(diff.lines()), err=True)
        click.echo(f"Run: python -m generator render --catalog {catalog_path} --out {out_dir}", err=True)
        sys.exit(1)
    if diff.finished_interrupted_run:
        click.echo(f"note: an interrupted render had left temporary files in {out_dir}; removed them", err=True)
    if diff.empty:
        click.echo(f"{out_dir} is already up to date; nothing written")
    else:
        click.echo(f"{out_dir}: {len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed")
        _echo_touched_roots(out_dir, [*diff.added, *diff.changed, *diff.removed])


def _echo_touched_roots(out_dir: Path, changed: list[str]) -> None:
    """Which Terraform roots to plan and apply after this render, in order."""
    from generator.render.roots import root_directories, touched_roots

    touched = touched_roots(changed, root_directories(out_dir))
    if not touched.all:
        click.echo("no Terraform root changed (documentation and records only)")
        return
    why = " (a module changed: every root)" if touched.every_root else ""
    if len(touched.all) > 12:  # a first render or a module change: the count, not a wall of paths
        click.echo(f"roots to plan and apply{why}: {len(touched.all)}, {len(touched.first)} single roots and platform "
                   f"stacks first, then {len(touched.then)} service stacks (`python -m generator stacks changed` lists them)")
        return
    click.echo(f"roots to plan and apply{why}: " + ", ".join(touched.first)
               + (f"; then {', '.join(touched.then)}" if touched.first and touched.then else ", ".join(touched.then)))


ENV_OPTION = click.option("--env", "environment_name", required=True, help="Environment of the catalog, e.g. prod.")


def _environment(catalog: Catalog, name: str) -> Environment:
    for environment in catalog.environments:
        if environment.name == name:
            return environment
    known = ", ".join(environment.name for environment in catalog.environments)
    raise click.ClickException(f"unknown environment {name!r}; the catalog has: {known}")


@main.command("migration-plan")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {environment, waves: [{wave, services: [{name, ecs_percent}]}]}.")
def migration_plan(catalog_path: Path, environment_name: str, as_json: bool) -> None:
    """Waves in which services move from Kubernetes to ECS, with each one's share and next step."""
    import json

    from generator.operate import migration

    catalog = api.validate(catalog_path)
    environment = _environment(catalog, environment_name)
    waves = migration.plan_waves(catalog, environment)
    if as_json:
        click.echo(json.dumps(migration.as_json(environment, waves), indent=2))
    else:
        click.echo(migration.as_text(environment, waves))


@main.command("migration-check")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--service", "service_name", default=None, help="Check one service; default: every service on ECS there.")
def migration_check(catalog_path: Path, environment_name: str, service_name: str | None) -> None:
    """Check in AWS that a service may take its next migration step: tasks, targets, alarms, secrets, image."""
    from generator.operate import migration_check as checks

    catalog = api.validate(catalog_path)
    environment = _environment(catalog, environment_name)
    deployment = catalog.deployment(environment)
    if service_name is not None and service_name not in {svc.name for svc in deployment.services}:
        if service_name in {service.name for service in catalog.services}:
            raise click.ClickException(f"{service_name!r} is not on ECS in {environment_name!r} yet; "
                                       "nothing to check until its first step (`migration: {name: 10}`)")
        raise click.ClickException(f"unknown service {service_name!r}")
    results = checks.run_checks(deployment, service_name)
    for result in results:
        click.echo(result.line())
    failed = [result for result in results if not result.passed]
    click.echo(f"{len(results) - len(failed)} of {len(results)} checks passed")
    if failed:
        sys.exit(1)


def _talking_to_aws() -> Any:
    """One line and exit 4 instead of a traceback when AWS cannot be used (see generator/operate/aws.py)."""
    import contextlib

    from generator.operate import aws

    stack = contextlib.ExitStack()
    stack.enter_context(aws.errors())
    stack.enter_context(aws.answers())
    return stack


@main.command("preflight")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {environment, passed, checks: [{status, check, detail, fix}]}.")
def preflight_command(catalog_path: Path, environment_name: str, as_json: bool) -> None:
    """Before the first apply: check that the account has what the environment reads, and the quotas it needs.

    One line per check (PASS, WARN, FAIL and what to do). Exit codes: 0 ready (WARNs allowed); 1 a check
    failed; 4 AWS could not be used."""
    import json

    from generator.operate import aws, preflight

    catalog = api.validate(catalog_path)
    deployment = catalog.deployment(_environment(catalog, environment_name))
    results = preflight.run(deployment, aws.Session(deployment.platform.region).client)
    if as_json:
        click.echo(json.dumps(preflight.as_json(deployment, results), indent=2))
    else:
        for result in results:
            click.echo(result.line())
        failed = sum(1 for result in results if result.status == preflight.FAIL)
        click.echo(f"{len(results) - failed} of {len(results)} checks passed" + (f"; {failed} failed" if failed else ""))
    if any(result.status == preflight.FAIL for result in results):
        sys.exit(1)


SERVICE_OPTION = click.option("--service", "service_name", required=True, help="Service name, as in the catalog.")
TIMEOUT_OPTION = click.option("--timeout", type=click.IntRange(1, 86400), default=900, show_default=True,
                              help="Seconds to wait for the rollout before rolling back.")


def _deployer(catalog_path: Path, environment_name: str, service_name: str | None = None) -> "Any":
    """The deployer of an environment; None (after saying so) when `service_name` is left out of it, so a
    pipeline that deploys every service through every environment passes over that one (exit 0)."""
    from generator.operate import aws, deploy

    catalog = api.validate(catalog_path)
    environment = _environment(catalog, environment_name)
    service = next((service for service in catalog.services if service.name == service_name), None)
    if service is not None and service.in_environment(environment.name) is None:
        click.echo(f"{service_name!r} is left out of {environment.name!r} (services.{service_name}.overrides."
                   f"{environment.name}.enabled: false): nothing to do there")
        return None
    deployment = catalog.deployment(environment)
    return deploy.Deployer(deployment, aws.Session(deployment.platform.region))


@main.command("deploy")
@CATALOG_OPTION
@ENV_OPTION
@SERVICE_OPTION
@click.option("--image", "image", required=True,
              help="An immutable tag or a digest (sha256:...) in the service's repository, or the full reference.")
@TIMEOUT_OPTION
@click.option("--override-gates", "override_reason", default=None, metavar="REASON",
              help="Deploy although a gate refuses (emergency); the reason is printed and recorded.")
@click.option("--poll-seconds", type=click.FloatRange(0.1, 60), default=5.0, hidden=True)
def deploy_command(catalog_path: Path, environment_name: str, service_name: str, image: str, timeout: int,
                   override_reason: str | None, poll_seconds: float) -> None:
    """Deploy an image: new revision, update, wait; on failure roll back and exit 1 naming the cause.

    Exit codes: 0 deployed and healthy (or the service is left out of the environment); 1 failed (rolled
    back) or an error; 3 refused by a gate."""
    deployer = _deployer(catalog_path, environment_name, service_name)
    if deployer is None:
        return
    deployer.poll_seconds = poll_seconds
    started = time.monotonic()
    with _talking_to_aws():
        deployer.deploy(service_name, image, timeout, override_reason)
    click.echo(f"done in {time.monotonic() - started:.0f} s")


@main.command("rollback")
@CATALOG_OPTION
@ENV_OPTION
@SERVICE_OPTION
@TIMEOUT_OPTION
@click.option("--poll-seconds", type=click.FloatRange(0.1, 60), default=5.0, hidden=True)
def rollback_command(catalog_path: Path, environment_name: str, service_name: str, timeout: int, poll_seconds: float) -> None:
    """Run the previous successful deploy's image again (on the current task shape) and wait for it."""
    deployer = _deployer(catalog_path, environment_name, service_name)
    if deployer is None:
        return
    deployer.poll_seconds = poll_seconds
    started = time.monotonic()
    with _talking_to_aws():
        deployer.rollback(service_name, timeout)
    click.echo(f"done in {time.monotonic() - started:.0f} s")


@main.command("deploy-status")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--service", "service_name", default=None, help="One service; default: all on ECS there.")
def deploy_status_command(catalog_path: Path, environment_name: str, service_name: str | None) -> None:
    """What runs where: revision, rollout state, running/desired tasks and image per service."""
    deployer = _deployer(catalog_path, environment_name)
    with _talking_to_aws():
        lines = deployer.status(service_name)
    for line in lines:
        click.echo(line)


@main.command("cost")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {environment, currency, monthly: {min, max}, services: {NAME: {min, max}}}.")
@click.option("--prices", "prices_path", type=click.Path(path_type=Path, dir_okay=True), default=None,
              help="A price table of your own (same shape as generator/data/aws-prices.json).")
def cost_command(catalog_path: Path, environment_name: str, as_json: bool, prices_path: Path | None) -> None:
    """Monthly cost at minimum and maximum tasks, per service and in total, and what Spot saves."""
    import json

    from generator.catalog import cost

    catalog = api.validate(catalog_path)
    deployment = catalog.deployment(_environment(catalog, environment_name))
    try:
        estimate = cost.estimate(deployment, cost.load_prices(prices_path))
    except cost.PriceTableError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(estimate.as_json(), indent=2) if as_json else cost.as_text(estimate))


@main.command("import")
@click.option("--platform", "platform_name", required=True, help="Platform name of the new catalog, e.g. nexus.")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Catalog file to write, e.g. catalog/imported.yaml.")
@click.option("--env", "environment_name", default="dev", show_default=True, help="Name of the one environment written.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the migration report (Markdown): per object what was mapped, guessed, dropped and left "
                   "to do, with file:line.")
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def import_command(platform_name: str, out_path: Path, environment_name: str, report_path: Path | None,
                   manifests: tuple[Path, ...]) -> None:
    """Write a catalog from Kubernetes manifests (helm template, kustomize build, kubectl get -o yaml).

    The catalog is checked before it is written. What could not be mapped, or was mapped by a guess, is
    listed on stderr, at the top of the catalog and in the report. Exit 1 when the manifests cannot be read
    (nothing written) or the catalog written does not validate yet (the problems are listed)."""
    from generator.kube import catalog_file, importer, report as import_report
    from generator.kube.manifests import ImportError_

    try:
        result = importer.import_manifests(manifests, platform_name, environment_name)
    except ImportError_ as error:
        raise click.ClickException("\n".join(error.problems) + "\nnothing was written") from None
    sources = [str(path) for path in manifests]
    text, problems = catalog_file.checked(result, sources)
    services = result.catalog["services"]
    summary = {"services": len(services), "data stores to replace": len(result.catalog["data_stores"]),
               "scheduled tasks": len(result.catalog.get("scheduled_tasks", {})),
               "routes": sum(len(s.get("routes", [])) for s in services.values()),
               "calls": sum(len(s.get("calls", [])) for s in services.values())}
    try:
        catalog_file.write_catalog(text, out_path)
        if report_path is not None:
            catalog_file.write_catalog(import_report.markdown(result.findings, sources, str(out_path), summary), report_path)
    except OSError as error:
        raise click.ClickException(f"cannot write {error.filename or out_path}: {error.strerror}") from None
    for note in result.notes:
        click.echo(f"review: {note}", err=True)
    if problems:
        click.echo(f"{out_path}: {len(services)} services imported; the catalog does not validate yet:", err=True)
        click.echo("\n".join(problem.render() for problem in problems), err=True)
        sys.exit(1)
    click.echo(f"{out_path}: {len(services)} services imported, {len(result.notes)} items to review; it validates"
               + (f"; report in {report_path}" if report_path else ""))


@main.group("stacks")
def stacks_group() -> None:
    """Environments with `layout: stacks`: apply order, and moving a single root's state into stacks."""


@stacks_group.command("order")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {environment, platform, service_stacks: [...]}.")
def stacks_order_command(catalog_path: Path, environment_name: str, as_json: bool) -> None:
    """Print the environment's roots in the order to apply them: `platform`, then the service stacks (in parallel)."""
    import json

    from generator.operate import stacks

    catalog = api.validate(catalog_path)
    found = stacks.order(catalog.deployment(_environment(catalog, environment_name)))
    if as_json:
        click.echo(json.dumps({"environment": found.environment, "platform": found.platform,
                               "service_stacks": list(found.service_stacks)}, indent=2))
        return
    click.echo(f"1. environments/{found.environment}/{found.platform}")
    for name in found.service_stacks:
        click.echo(f"2. environments/{found.environment}/{name}   (the 2s are independent: apply them in parallel)"
                   if name == found.service_stacks[0] else f"2. environments/{found.environment}/{name}")


@stacks_group.command("split-state")
@CATALOG_OPTION
@ENV_OPTION
@click.option("--state", "state_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The single root's state: the output of `terraform state pull` in environments/<env>/.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory for one <stack>.tfstate per stack (created; existing files are not overwritten).")
def split_state_command(catalog_path: Path, environment_name: str, state_path: Path, out_dir: Path) -> None:
    """Split an environment's single-root state into its stacks' states; `terraform state push` each, platform first."""
    import json

    from generator.operate import stacks

    catalog = api.validate(catalog_path)
    deployment = catalog.deployment(_environment(catalog, environment_name))
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise click.ClickException(f"cannot read {state_path}: {error.strerror}") from None
    except ValueError as error:
        raise click.ClickException(f"{state_path} is not JSON ({error}): give the output of `terraform state pull`") from None
    split = stacks.split_state(state, deployment)
    before, after = stacks.instance_count(state), sum(stacks.instance_count(part) for part in split.values())
    if before != after:  # every managed instance lands in exactly one stack
        raise click.ClickException(f"the split holds {after} resource instances, the state {before}; nothing was written")
    targets = {name: out_dir / f"{name}.tfstate" for name in split}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing:
        raise click.ClickException(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                                   "nothing was written (remove them or choose another --out)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, part in split.items():
            targets[name].write_text(json.dumps(part, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {error.filename or out_dir}: {error.strerror}") from None
    click.echo(f"{state_path}: {before} resource instances split into {len(split)} stacks:")
    for name, part in split.items():
        click.echo(f"  {name:<24} {stacks.instance_count(part):>5}  {targets[name]}")
    click.echo("Next, in each stack's directory, platform first: terraform init && terraform state push "
               "<its file>; then `terraform plan` in each must report no changes.")


@stacks_group.command("changed")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The output tree (its roots are expanded when a module changed).")
def stacks_changed_command(out_dir: Path) -> None:
    """Read changed file paths (one per line, relative to the repository or to --out) on stdin; print JSON
    {"first": [ROOT...], "then": [ROOT...]}, ROOT = {name, environment, path}: the roots to plan and apply,
    single roots and platform stacks before service stacks. The generated terraform workflow's matrices."""
    import json

    from generator.render.roots import root_directories, touched_roots

    prefix = out_dir.as_posix().rstrip("/") + "/"
    paths = [line.strip().removeprefix(prefix) for line in sys.stdin if line.strip()]
    touched = touched_roots(paths, root_directories(out_dir))
    def entry(root: str) -> dict[str, str]:
        environment = root.split("/")[1]
        return {"name": root.removeprefix("environments/"), "environment": environment, "path": f"{prefix}{root}"}

    click.echo(json.dumps({"first": [entry(root) for root in touched.first], "then": [entry(root) for root in touched.then]}))
