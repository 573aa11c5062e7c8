"""The schema's `default`s and the model's cannot disagree: a catalog with every default written out renders
to the same bytes as the catalog that leaves them out (NEXUS and orbit). The schema is the documentation a
catalog author reads; the model is what renders; this test is what keeps them one source in effect."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import NEXUS_CATALOG, ORBIT_CATALOG, REPO
from generator import api
from generator.render.tree import render_catalog

SCHEMA = json.loads((REPO / "schemas" / "catalog.schema.json").read_text())


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = SCHEMA
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _default_of(sub: dict[str, Any]) -> Any:
    """A property's own default. One borrowed through a `$ref` to another definition's property (an override's
    `cpu` refers to the task's `cpu` for its bounds) is not this property's: left out means "inherit" there."""
    if "default" in sub:
        return sub["default"]
    if "$ref" in sub and "/properties/" not in sub["$ref"]:
        return _resolve(sub).get("default", _NO_DEFAULT)
    return _NO_DEFAULT


_NO_DEFAULT = object()
# Defaults that hold only beside another key: `protocol` is what the port speaks (a worker has none, and the
# validator refuses a protocol there).
NEEDS = {"protocol": "port"}


def fill_defaults(schema: dict[str, Any], node: Any, path: tuple[Any, ...], filled: list[tuple[Any, ...]]) -> None:
    """Write every schema default the node leaves out into it (in place); `filled` gets the paths."""
    schema = _resolve(schema)
    if isinstance(node, dict):
        for key, sub in schema.get("properties", {}).items():
            default = _default_of(sub)
            if key in NEEDS and NEEDS[key] not in node:
                continue
            if key not in node and default is not _NO_DEFAULT:
                node[key] = copy.deepcopy(default)
                filled.append((*path, key))
            elif key in node:
                fill_defaults(sub, node[key], (*path, key), filled)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in node.items():
                if key not in schema.get("properties", {}):
                    fill_defaults(extra, value, (*path, key), filled)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(node):
            fill_defaults(schema["items"], value, (*path, index), filled)


def _render(data: dict[str, Any], directory: Path) -> dict[Any, str]:
    directory.mkdir()
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return render_catalog(api.validate(path))


@pytest.mark.parametrize("catalog", [NEXUS_CATALOG, ORBIT_CATALOG], ids=["nexus", "orbit"])
def test_every_schema_default_is_the_models(catalog: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(catalog.read_text())
    filled: list[tuple[Any, ...]] = []
    explicit = copy.deepcopy(data)
    fill_defaults(SCHEMA, explicit, (), filled)
    assert len(filled) > 20, filled  # the catalogs leave plenty of defaults out
    before, after = _render(data, tmp_path / "implicit"), _render(explicit, tmp_path / "explicit")
    differing = sorted(str(path) for path in before if before[path] != after.get(path))
    assert not differing, f"writing out the schema's defaults changes {differing[:5]}; filled: {filled[:10]}"
