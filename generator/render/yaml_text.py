"""Catalog values on their way into generated YAML (the GitHub Actions workflows).

The one place YAML quoting happens, as `hcl.py` is for HCL: every value is written as
a JSON string, which is a valid YAML double-quoted scalar whatever it holds (quotes,
`#`, `: `, `${{`, newlines, control characters). Keys must be plain identifiers.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class YamlText(str):
    """Text already fit for a YAML file."""


def value(item: Any) -> YamlText:
    if isinstance(item, bool) or item is None or isinstance(item, (int, float)):
        return YamlText(json.dumps(item))
    return YamlText(json.dumps(str(item), ensure_ascii=True))


def key(item: Any) -> YamlText:
    if not isinstance(item, str) or not _KEY.match(item):
        raise ValueError(f"{item!r} cannot be a YAML key here: letters, digits, `_` and `-` only")
    return YamlText(item)


def comment(item: Any) -> YamlText:
    """Text inside a `#` comment or a plain-text field: one line, unusual characters escaped."""
    return YamlText(json.dumps(str(item), ensure_ascii=True)[1:-1])


_EXPRESSION = re.compile(r"^[a-z_]+(\.[A-Za-z_]+)+$")


def expression(reference: str) -> YamlText:
    """A GitHub Actions expression, `${{ inputs.service }}`; plain references only."""
    if not _EXPRESSION.match(reference):
        raise ValueError(f"{reference!r} is not a plain GitHub Actions reference")
    return YamlText("${{ " + reference + " }}")
