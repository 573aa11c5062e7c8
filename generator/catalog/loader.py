"""YAML file -> plain Python data plus the source line of every value.

PyYAML is used only to parse and compose nodes; this module builds the values
itself so that it can:
- read YAML 1.2 core scalars (`yes`, `on`, `0755`, `12:30` stay what they look like
  instead of becoming booleans or numbers as YAML 1.1 would have it),
- report duplicate keys with both lines instead of silently keeping the last one,
- refuse tags that would construct anything but plain data,
- bound alias expansion, so a "billion laughs" file is refused at once.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import CatalogError, CatalogPath, Problem, format_path

MAX_CATALOG_BYTES = 8 * 1024 * 1024
# Deeper YAML cannot be a catalog, and would exhaust Python's recursion limit.
MAX_NESTING = 64
# Values reachable through aliases beyond their first appearance. Real catalogs
# reuse a few small blocks; an alias bomb needs millions.
MAX_ALIAS_EXPANSION = 100_000

_SURROGATE = re.compile("[\ud800-\udfff]")

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"


class _CoreSchemaResolver(yaml.resolver.BaseResolver):
    """Implicit typing of the YAML 1.2 core schema."""


for _tag, _regexp, _first in [
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    (NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    _CoreSchemaResolver.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def reads_as_non_string(text: str) -> bool:
    """Whether a plain (unquoted) scalar `text` would load as a bool, number or null in a catalog: writers of
    catalogs (import) quote such strings, since PyYAML's own YAML 1.1 rules differ (`0123456789`, `on`)."""
    resolvers = _CoreSchemaResolver.yaml_implicit_resolvers.get(text[:1], []) if text else \
        _CoreSchemaResolver.yaml_implicit_resolvers.get("", [])
    return any(regexp.match(text) for _, regexp in resolvers)


try:  # libyaml's parser and composer; the pure-Python one is about 20 times slower
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover
    _Parser = None


if _Parser is not None:

    class _NodeLoader(_Parser, _CoreSchemaResolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str):
            _Parser.__init__(self, stream)
            _CoreSchemaResolver.__init__(self)

else:  # pragma: no cover - libyaml missing: same behaviour, slower

    class _NodeLoader(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _CoreSchemaResolver
    ):
        def __init__(self, stream: str):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _CoreSchemaResolver.__init__(self)


@dataclass
class LoadedCatalog:
    """The catalog's data and where each value came from."""

    file: str
    data: Any
    lines: dict[CatalogPath, int] = field(default_factory=dict)

    def line_of(self, path: CatalogPath) -> int:
        """Line of the value at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: CatalogPath, message: str) -> Problem:
        return Problem(line=self.line_of(path), path=format_path(path), message=message, file=self.file)


def display_name(path: Path) -> str:
    """How a catalog is named in messages and generated headers: as the user gave it."""
    return os.path.normpath(str(path))


def load_catalog(path: Path) -> LoadedCatalog:
    """Read and parse a catalog file; raise CatalogError with every problem found."""
    name = display_name(path)

    def fail(message: str, line: int = 0) -> CatalogError:
        return CatalogError([Problem(line=line, path="(file)", message=message, file=name)])

    too_big = (f"is larger than {MAX_CATALOG_BYTES // 1048576} MiB; catalogs are limited to "
               f"{MAX_CATALOG_BYTES // 1048576} MiB (a 5,000-service catalog is about 2 MiB); is this the right file?")
    try:
        status = path.stat()
    except FileNotFoundError:
        raise fail("no such file; pass the catalog's path with --catalog (e.g. catalog/nexus.yaml)") from None
    except OSError as error:
        raise fail(f"cannot be read: {error.strerror}") from None
    if stat.S_ISDIR(status.st_mode):
        raise fail("is a directory; pass the catalog YAML file inside it with --catalog")
    if not stat.S_ISREG(status.st_mode):
        # Devices (/dev/zero), FIFOs and sockets would block or never end.
        raise fail("is not a regular file (a device, pipe or socket); pass a YAML file")
    if status.st_size > MAX_CATALOG_BYTES:
        raise fail(too_big)
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the check still cannot hang the read.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise fail("is not a regular file (a device, pipe or socket); pass a YAML file")
            raw = handle.read(MAX_CATALOG_BYTES + 1)  # hard limit, whatever st_size said
    except OSError as error:
        raise fail(f"cannot be read: {error.strerror}") from None
    if len(raw) > MAX_CATALOG_BYTES:
        raise fail(too_big)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise fail(f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); save it as UTF-8", line)
    return parse_catalog_text(text, name)


def parse_catalog_text(text: str, name: str) -> LoadedCatalog:
    try:
        loader = _NodeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except RecursionError:
        raise CatalogError([Problem(line=0, path="(syntax)", file=name,
                                    message=f"nested more than {MAX_NESTING} levels deep; a catalog needs fewer than 10")]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        detail = " ".join(part for part in (error.context, error.problem) if part)
        raise CatalogError([Problem(line=line, path="(syntax)", message=f"YAML syntax error: {detail}", file=name)])
    except yaml.YAMLError as error:  # reader errors: characters YAML does not allow
        position = getattr(error, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else 0
        raise CatalogError([Problem(line=line, path="(syntax)", message=f"not valid YAML: {error}", file=name)])
    if node is None:
        raise CatalogError(
            [Problem(line=1, path="(top level)", message="the catalog is empty; expected a mapping with "
                     "platform, sizing, groups, data_stores, services and environments", file=name)]
        )
    builder = _Builder(name)
    data = builder.build(node, ())
    if builder.problems:
        raise CatalogError(builder.problems)
    return LoadedCatalog(file=name, data=data, lines=builder.lines)


class _Builder:
    """Turns composed YAML nodes into plain data, recording lines and problems."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[CatalogPath, int] = {}
        self.problems: list[Problem] = []
        self._built: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        self._in_progress: set[int] = set()
        self._alias_expansion = 0
        self._too_deep = False

    def _problem(self, node: yaml.Node, path: CatalogPath, message: str, line: int | None = None) -> None:
        line = line if line is not None else node.start_mark.line + 1
        self.problems.append(Problem(line=line, path=format_path(path), message=message, file=self.file))

    def _size(self, node: yaml.Node) -> int:
        """Number of values under `node` once aliases are expanded (memoised, so linear)."""
        key = id(node)
        if key not in self._sizes:
            if key in self._in_progress:
                return 1
            self._in_progress.add(key)
            if isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            else:
                size = 1
            self._in_progress.discard(key)
            self._sizes[key] = min(size, 10 * MAX_ALIAS_EXPANSION)
        return self._sizes[key]

    def build(self, node: yaml.Node, path: CatalogPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if len(path) > MAX_NESTING:
            if not self._too_deep:
                self._problem(node, path, f"nested more than {MAX_NESTING} levels deep; a catalog needs fewer than 10")
                self._too_deep = True
            return None
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if key in self._in_progress:
            self._problem(node, path, "an alias refers to the block that contains it; remove the recursive alias",
                          line=self.lines[path])
            return None
        if key in self._built:  # a second appearance: an alias
            self._alias_expansion += self._size(node)
            if self._alias_expansion > MAX_ALIAS_EXPANSION:
                self._problem(
                    node, path,
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (an alias bomb?); "
                    "write the values out or use groups and sizing for reuse",
                    line=self.lines[path],
                )
                raise CatalogError(self.problems)
            return self._built[key]
        self._in_progress.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                value = self._mapping(node, path)
            else:
                value = self._sequence(node, path)
        finally:
            self._in_progress.discard(key)
        self._built[key] = value
        return value

    def _mapping(self, node: yaml.MappingNode, path: CatalogPath) -> dict[str, Any]:
        if node.tag != MAP:
            self._problem(node, path, f"unsupported YAML tag {node.tag}; only plain mappings are allowed")
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (STR, INT, BOOL, FLOAT, NULL):
                self._problem(key_node, path, "mapping keys must be plain strings")
                continue
            if key_node.value == "<<" and not key_node.style:  # plain `<<`, not the quoted string "<<"
                self._problem(key_node, path, "merge keys (`<<`) are not supported; use groups, sizing and defaults for reuse")
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line:
                self._problem(
                    key_node, (*path, key),
                    f"duplicate key {key!r} (first defined on line {first_line[key]}); YAML would silently keep "
                    "only the last one: remove or rename one of them",
                )
                continue
            first_line[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _sequence(self, node: yaml.SequenceNode, path: CatalogPath) -> list[Any]:
        if node.tag != SEQ:
            self._problem(node, path, f"unsupported YAML tag {node.tag}; only plain lists are allowed")
        return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]

    def _scalar(self, node: yaml.ScalarNode, path: CatalogPath) -> Any:
        value = node.value
        tag = node.tag
        if _SURROGATE.search(value):
            self._problem(node, path, "contains an unpaired UTF-16 surrogate escape, which is not a character")
            return None
        try:
            if tag == STR:
                return value
            if tag == INT:
                if value.startswith(("0o", "0x")):
                    return int(value, 0)
                return int(value, 10)
            if tag == FLOAT:
                lowered = value.lower().lstrip("+")
                if lowered in (".inf", "-.inf"):
                    return -math.inf if lowered.startswith("-") else math.inf
                if lowered == ".nan":
                    return math.nan
                number = float(value)
                # `priority: 100.0` is the integer 100 to JSON Schema; keep it one, so it renders as `100`
                # everywhere (a float would show as `100.0` in documents and differ from the same catalog
                # written with `100`).
                return int(number) if number.is_integer() and abs(number) < 2**53 else number
            if tag == BOOL:
                return value.lower() == "true"
            if tag == NULL:
                return None
        except ValueError:
            pass
        self._problem(
            node, path,
            f"unsupported YAML tag {tag} for {value[:40]!r}; use plain strings, numbers, true/false and null",
        )
        return None
