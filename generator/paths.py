"""Where the templates and the schema are: beside the package when installed (`pip install .`
ships them as package data), at the top of the checkout when run from it."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _located(name: str) -> Path:
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


TEMPLATES_DIR = _located("templates")
DATA_DIR = _PACKAGE / "data"  # inside the package in a checkout too
SCHEMAS_DIR = _located("schemas")
