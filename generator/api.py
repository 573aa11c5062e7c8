"""The generator as a Python API; the CLI only parses options and calls these."""

from __future__ import annotations

from pathlib import Path

from generator.render.changes import replacement_warnings
from generator.catalog.loader import load_catalog
from generator.catalog.model import Catalog
from generator.render.output import TreeDiff, write_tree
from generator.render.record import load_balancer_memory
from generator.render.tree import render_catalog
from generator.catalog.validate import check_catalog


def validate(catalog_path: Path) -> Catalog:
    """Load and check a catalog; raise CatalogError listing every problem."""
    return check_catalog(load_catalog(catalog_path))


def render(catalog_path: Path, out_dir: Path, check: bool = False, warnings: list[str] | None = None) -> TreeDiff:
    """Render a catalog into `out_dir` (or, with `check`, report what would change).

    `warnings`, when given, receives one line per service whose next apply replaces or
    deletes something that carries traffic (see generator/render/changes.py)."""
    catalog = validate(catalog_path)
    # Groups stay on the load balancer the previous render put them on while they fit (catalog/placement.py).
    catalog = catalog.with_load_balancer_memory(load_balancer_memory(catalog, out_dir))
    if warnings is not None:
        warnings.extend(replacement_warnings(catalog, out_dir))
    return write_tree(render_catalog(catalog), out_dir, check=check)


def rendered_by(out_dir: Path) -> str | None:
    """The generator version recorded in an output tree (`generator.yaml`); None when there is none."""
    import yaml

    from generator.version import RENDER_RECORD

    try:
        recorded = yaml.safe_load((out_dir / RENDER_RECORD).read_text(encoding="utf-8"))
        return str(recorded["generator_version"])
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None
