"""Property-based: mutated catalogs never crash the tool; the only failure is a CatalogError."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NEXUS_CATALOG, ORBIT_CATALOG, nexus_data, orbit_data
from generator.errors import CatalogError
from generator.catalog.loader import parse_catalog_text
from generator.render.tree import render_catalog
from generator.catalog.validate import check_catalog

BASES = [nexus_data(), orbit_data()]
TEXTS = [NEXUS_CATALOG.read_text(), ORBIT_CATALOG.read_text()]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["${file(\"/etc/passwd\")}", "x\"} resource \"a\" \"b\" {", "%{ for x in [1] }x%{ endfor }",
                                           "line\nbreak", "\u0430pi", "/api/*", "api", "256", "FARGATE", "-1"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=3)), max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _run(text: str) -> None:
    try:
        catalog = check_catalog(parse_catalog_text(text, "fuzz.yaml"))
    except CatalogError as error:
        assert error.problems, "a CatalogError must carry at least one problem"
        for problem in error.problems:
            assert problem.file == "fuzz.yaml" and problem.message
        return
    render_catalog(catalog)  # a catalog that passes every check must render


# derandomize: the same examples on every run, so a failure in CI reproduces locally.
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_structural_mutations_never_crash(data: st.DataObject) -> None:
    base = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    paths = [p for p in _paths(base) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = base
        try:
            for part in path[:-1]:
                parent = parent[part]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    _run(yaml.safe_dump(base, sort_keys=False, allow_unicode=True))


# derandomize: the same examples on every run, so a failure in CI reproduces locally.
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_text_mutations_never_crash(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(TEXTS))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        insert = data.draw(st.one_of(st.text(max_size=8), st.sampled_from(["&a ", "*a", "<<: ", "!!binary ", "- ", ": ", "\t", "{", "]", "\x00"])))
        cut = data.draw(st.integers(0, 8))
        text = text[:position] + insert + text[position + cut:]
    _run(text)
