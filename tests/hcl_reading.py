"""Reading generated HCL back with python-hcl2, for assertions."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import hcl2

_ESCAPE = re.compile(r'\\(["\\nrt]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})|\$\$\{|%%\{')
_SIMPLE = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def literal(text: Any) -> Any:
    """The value of a python-hcl2 string (which keeps HCL's quotes and escapes); other values unchanged."""
    if isinstance(text, list):
        return [literal(item) for item in text]
    if isinstance(text, dict):
        return {literal(key): literal(value) for key, value in text.items() if not str(key).startswith("__")}
    if not (isinstance(text, str) and len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text

    def decode(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        body = match.group(1)
        return _SIMPLE[body] if body in _SIMPLE else chr(int(body[1:], 16))

    return _ESCAPE.sub(decode, text[1:-1])


def load(path: Path) -> dict[str, Any]:
    """The parsed file; a file parsed before (same path, size and modification time) is not parsed again:
    python-hcl2 takes about a second for a NEXUS services.tf, and many tests read the same committed files."""
    status = path.stat()
    return copy.deepcopy(_parsed(str(path), status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return hcl2.load(handle)


def blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """`module`/`output`/`variable` blocks by their label."""
    return {literal(label): body for block in parsed.get(kind, []) for label, body in block.items()}


def resources(parsed: dict[str, Any], kind: str = "resource") -> dict[tuple[str, str], Any]:
    """Resource or data blocks by (type, name)."""
    found = {}
    for block in parsed.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                found[(literal(rtype), literal(name))] = body
    return found


# An environment is one root (`environments/<env>/*.tf`) or, with `layout: stacks`, a `platform` root and
# one root per service stack (`environments/<env>/<stack>/*.tf`). Tests read the files where they are.

def environment_roots(out: Path, environment: str) -> list[Path]:
    """The directories of an environment's roots: the single root, or `platform` then the service stacks."""
    base = out / "environments" / environment
    if (base / "main.tf").is_file():
        return [base]
    stacks = sorted(path for path in base.iterdir() if path.is_dir() and (path / "main.tf").is_file())
    assert base / "platform" in stacks, f"{base} holds neither main.tf nor a platform stack"
    return [base / "platform", *(path for path in stacks if path.name != "platform")]


def platform_file(out: Path, environment: str, name: str = "main.tf") -> Path:
    """The file of the root that holds the cluster, load balancers and CI role."""
    return environment_roots(out, environment)[0] / name


def service_modules(out: Path, environment: str) -> dict[str, Any]:
    """Every service and scheduled-task module block of an environment, by label, whichever root holds it."""
    found: dict[str, Any] = {}
    for root in environment_roots(out, environment):
        if not (root / "services.tf").is_file():
            continue  # a platform stack without scheduled tasks
        for label, body in blocks(load(root / "services.tf"), "module").items():
            assert label not in found, f"module {label} is in two roots of {environment}"
            found[label] = body
    return found


def module_in_roots(out: Path, environment: str, label: str, key: str) -> dict[str, Any]:
    """`key` (a map such as `services`) of module `label`, merged over every root that calls the module."""
    merged: dict[str, Any] = {}
    for root in environment_roots(out, environment):
        module = blocks(load(root / "main.tf"), "module").get(label)
        if module is not None:
            merged.update(literal(module).get(key) or {})
    return merged
