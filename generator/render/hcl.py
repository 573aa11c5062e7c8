"""The only way a value reaches generated HCL.  SECURITY-RELEVANT.

Catalog strings are written as HCL quoted-string literals with every character
that HCL could interpret escaped: quotes and backslashes, the template
introducers `${` and `%{` (which would otherwise run expressions such as
`${file("/etc/passwd")}` at apply time), newlines and every other control or
format character. JSON escaping is not a substitute: HCL rejects `\\/` and `\\b`.
Templates cannot print a value without going through `hcl` or `ident`
(see `render.require_hcl`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Printable ASCII that needs no escape: no quote, backslash, `$`, `%` or control character.
_NEEDS_NO_ESCAPE = re.compile(r"[\x20\x21\x23\x26-\x5b\x5d-\x7e]*")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class HclText(str):
    """Text that is already valid HCL syntax (an escaped literal or a checked identifier)."""


class HclEscapeError(ValueError):
    """A value that cannot be written as HCL (never reached with a validated catalog)."""


def _needs_unicode_escape(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def quote(text: str) -> HclText:
    """`text` as an HCL quoted-string literal that evaluates to exactly `text`."""
    if not isinstance(text, str):
        raise HclEscapeError(f"expected a string, got {type(text).__name__}")
    if _NEEDS_NO_ESCAPE.fullmatch(text):
        return HclText(f'"{text}"')
    out = ['"']
    length = len(text)
    for index, char in enumerate(text):
        following = text[index + 1] if index + 1 < length else ""
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif char in "$%" and following == "{":
            out.append(char * 2)  # `${` -> `$${`, `%{` -> `%%{`: literal, never a template
        elif _needs_unicode_escape(char):
            code = ord(char)
            if 0xD800 <= code <= 0xDFFF:
                raise HclEscapeError(f"unpaired surrogate U+{code:04X} is not a character")
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(char)
    out.append('"')
    return HclText("".join(out))


def ident(name: str) -> HclText:
    """A block label or attribute name that must be a bare HCL identifier."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise HclEscapeError(f"{name!r} is not an HCL identifier")
    return HclText(name)


def value(item: Any) -> HclText:
    """Any model value as an HCL expression on one line."""
    if isinstance(item, HclText):
        return item
    if item is None:
        return HclText("null")
    if isinstance(item, bool):
        return HclText("true" if item else "false")
    if isinstance(item, int):
        return HclText(str(item))
    if isinstance(item, float):
        if item != item or item in (float("inf"), float("-inf")):
            raise HclEscapeError(f"{item} is not a number HCL can hold")
        return HclText(str(int(item)) if item.is_integer() else repr(item))
    if isinstance(item, str):
        return quote(item)
    if isinstance(item, (list, tuple)):
        return HclText("[" + ", ".join(value(element) for element in item) + "]")
    if isinstance(item, dict):
        if not item:
            return HclText("{}")
        return HclText("{ " + ", ".join(f"{quote(str(key))} = {value(val)}" for key, val in item.items()) + " }")
    raise HclEscapeError(f"cannot write {type(item).__name__} as HCL")


def read_back_string(value: object) -> object:
    """A string as python-hcl2 reads it (quotes kept, escapes as written) -> its text; anything else unchanged.
    For the readers of rendered HCL (module READMEs, roots rendered before the render record)."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    return value
