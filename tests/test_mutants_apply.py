"""`make mutation` plants each mutant by finding its line: a template or module edit that moves the line must
update tests/mutation/mutants.py in the same change, or the mutation run stops at that mutant."""

from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "mutation"))
from mutants import MUTANTS  # noqa: E402


def test_every_mutant_finds_its_line() -> None:
    stale = [f"{mutant.name!r}: {mutant.old!r} (occurrence {mutant.occurrence}) not in {mutant.path}"
             for mutant in MUTANTS if (REPO / mutant.path).read_text(encoding="utf-8").count(mutant.old) < mutant.occurrence]
    assert not stale, "update tests/mutation/mutants.py:\n" + "\n".join(stale)
