"""docs/catalog-reference.md is what the schema says: every key with its description, kept in sync like
`render --check` keeps out/ (refresh with `make golden`)."""

from __future__ import annotations

import json

from conftest import REPO
from generator.catalog.reference import catalog_reference


def test_the_committed_reference_is_current() -> None:
    assert (REPO / "docs" / "catalog-reference.md").read_text() == catalog_reference(), "refresh it with: make golden"


def test_every_described_key_of_the_schema_is_in_the_reference() -> None:
    schema = json.loads((REPO / "schemas" / "catalog.schema.json").read_text())
    reference = catalog_reference()
    described: list[tuple[str, str]] = []

    def walk(node: object) -> None:  # every `properties` entry with a description, at any depth
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                if isinstance(sub, dict) and "description" in sub:
                    described.append((key, sub["description"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert len(described) > 100
    for key, description in described:
        assert f"| `{key}` |" in reference and description.replace("|", "\\|").replace("\n", " ") in reference, key
