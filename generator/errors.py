"""Catalog problems as values: each names the file, line, catalog path and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass

import click

CatalogPath = tuple[str | int, ...]


def format_path(path: CatalogPath) -> str:
    """`("services", "auth", "routes", 0, "priority")` -> `services.auth.routes[0].priority`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a catalog."""

    line: int
    path: str
    message: str
    file: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}"


class CatalogError(click.ClickException):
    """The catalog cannot be used; carries every problem found, in file order."""

    exit_code = 1

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the catalog; nothing was written."
        super().__init__("\n".join([*(p.render() for p in self.problems), header]))

    def format_message(self) -> str:
        return self.message
