"""Align `=` the way `terraform fmt` does, in memory.

Templates are written in `terraform fmt` layout already; what they cannot know is
how wide the names in a run of attributes will be. `terraform fmt` (hclwrite's
formatCells) aligns the `=` of consecutive lines that each hold one whole
`name = value` assignment; any other line (blank, comment, block header, closing
bracket, or an assignment that opens a multi-line value) ends the run. This module
applies exactly that rule, so rendering needs no Terraform binary and no
subprocess. The tests hold the result to `terraform fmt -check`.
"""

from __future__ import annotations

import re
from functools import lru_cache

# `name = value` where the name is an identifier or a plain quoted key, and the value
# holds no template interpolation: the common case, decided without a character scan.
_SIMPLE_ASSIGNMENT = re.compile(r'^(\s*(?:[A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*"))\s*=(?![=>])\s*(.*)$')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

_OPENING = "{[("
_CLOSING = "}])"
_NOT_ASSIGNMENT_AFTER = "=>"  # `==` and `=>` are operators, not assignment
_NOT_ASSIGNMENT_BEFORE = "=!<>"


@lru_cache(maxsize=1 << 16)  # most lines repeat across services (`kms_key_arn = module.cluster.kms_key_arn`)
def _split_assignment(line: str) -> tuple[str, str] | None:
    """(name part, value part) of a one-line `name = value`, else None."""
    if "=" not in line:
        return None
    simple = _SIMPLE_ASSIGNMENT.match(line)
    if simple and "${" not in simple.group(2):
        code = _STRING.sub('""', simple.group(2)).split("#", 1)[0]
        if '"' not in code.replace('""', ""):
            depth = (code.count("{") + code.count("[") + code.count("(")
                     - code.count("}") - code.count("]") - code.count(")"))
            return (simple.group(1), simple.group(2)) if depth == 0 else None
    return _scan_assignment(line)


def _scan_assignment(line: str) -> tuple[str, str] | None:
    """The same decision by a full scan, for lines with interpolations or unusual names."""
    index = 0
    length = len(line)
    in_string = False
    template_depth = 0
    equals_at = -1
    brackets = 0
    while index < length:
        char = line[index]
        if in_string:
            if char == "\\":
                index += 2
                continue
            if char == "$" and line.startswith("${", index) and not line.startswith("$${", index - 1):
                template_depth += 1
                index += 2
                continue
            if char == "}" and template_depth:
                template_depth -= 1
            elif char == '"' and not template_depth:
                in_string = False
            index += 1
            continue
        if char == '"':
            in_string = True
        elif char == "#" or line.startswith("//", index):
            break
        elif equals_at < 0 and char == "=":
            following = line[index + 1] if index + 1 < length else ""
            preceding = line[index - 1] if index else ""
            if following not in _NOT_ASSIGNMENT_AFTER and preceding not in _NOT_ASSIGNMENT_BEFORE:
                if not line[:index].strip():
                    return None
                equals_at = index
        elif equals_at >= 0 and char in _OPENING:
            brackets += 1
        elif equals_at >= 0 and char in _CLOSING:
            brackets -= 1
        index += 1
    if equals_at < 0 or brackets != 0:
        return None
    return line[:equals_at].rstrip(), line[equals_at + 1:].lstrip()


def _flush(run: list[tuple[str, str]], output: list[str]) -> None:
    if len(run) == 1:
        name, value = run[0]
        output.append(f"{name} = {value}")
    else:
        width = max([len(name) for name, _ in run])
        output.extend([f"{name.ljust(width)} = {value}" for name, value in run])
    run.clear()


def align_assignments(text: str) -> str:
    output: list[str] = []
    run: list[tuple[str, str]] = []
    for line in text.split("\n"):
        parts = _split_assignment(line) if "=" in line else None
        if parts is None:
            if run:
                _flush(run, output)
            output.append(line)
        else:
            run.append(parts)
    if run:
        _flush(run, output)
    return "\n".join(output)
