"""The imported catalog as a file: checked in memory first (refused sidecars and variables left out and
reported), then written as YAML the catalog's own loader reads back to the same values."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import yaml

from generator.catalog.loader import reads_as_non_string
from generator.errors import Problem
from generator.kube.importer import Import
from generator.kube.report import DROPPED, Finding


def checked(result: Import, sources: list[str]) -> tuple[str, list[Problem]]:
    """The catalog text, checked in memory before anything is written. What the importer can fix, it fixes and
    reports (a sidecar or variable the catalog refuses is left out); the problems left are returned."""
    from generator import api
    from generator.errors import CatalogError

    problems: list[Problem] = []
    for _ in range(3):
        text = catalog_text(result, sources)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "catalog.yaml"
            path.write_text(text, encoding="utf-8")
            try:
                api.validate(path)
                return text, []
            except CatalogError as error:
                problems = error.problems
        if not _fix(result, problems):
            break
    return text, problems


_FIXABLE = re.compile(r"^services\.(?P<service>[a-z0-9-]+)\.(?P<what>sidecars|environment)\.(?P<name>[A-Za-z0-9_-]+)")


def _fix(result: Import, problems: list[Problem]) -> bool:
    """Leave out what the catalog refuses where that leaves a service that still runs: a sidecar, a variable."""
    fixed = False
    for problem in problems:
        match = _FIXABLE.match(problem.path)
        service = result.catalog["services"].get(match.group("service")) if match else None
        if service is None or match.group("name") not in service.get(match.group("what"), {}):
            continue
        del service[match.group("what")][match.group("name")]
        if not service[match.group("what")]:
            del service[match.group("what")]
        result.findings.append(Finding("(catalog)", problem.path, f"left out: {problem.message}", DROPPED,
                                       f"service {match.group('service')}"))
        fixed = True
    return fixed


class _CatalogDumper(yaml.SafeDumper):
    """Quotes every string the catalog's YAML 1.2 loader would read as something else (`0123456789` is an
    integer there, a string to PyYAML)."""


def _represent_string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if reads_as_non_string(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_CatalogDumper.add_representer(str, _represent_string)


def catalog_text(result: Import, sources: list[str]) -> str:
    """The catalog YAML with the review list as a comment block on top."""
    notes = result.notes
    lines = ["# yaml-language-server: $schema=../schemas/catalog.schema.json",
             "# Imported from Kubernetes manifests by `python -m generator import`:",
             *(f"#   {source}" for source in sources),
             "#",
             "# Review before use. Not mapped, or mapped by a guess:" if notes else "# Nothing was left unmapped.",
             *(f"# - {note}" for note in notes),
             ""]
    body = yaml.dump(result.catalog, Dumper=_CatalogDumper, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body


def write_catalog(text: str, out: Path) -> None:
    """Atomic: a failed write leaves no half catalog."""
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out)
