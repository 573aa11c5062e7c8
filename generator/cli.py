"""Command line: `python -m generator validate|render`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator import api

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
    diff = api.render(catalog_path, out_dir, check=check, warnings=warnings)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if check:
        if diff.empty:
            click.echo(f"{out_dir} is up to date with {catalog_path}")
            return
        click.echo(f"{out_dir} is stale; `render` would change:", err=True)
        click.echo("\n".join(diff.lines()), err=True)
        click.echo(f"Run: python -m generator render --catalog {catalog_path} --out {out_dir}", err=True)
        sys.exit(1)
    if diff.empty:
        click.echo(f"{out_dir} is already up to date; nothing written")
    else:
        click.echo(f"{out_dir}: {len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed")
