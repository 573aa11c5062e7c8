"""`make mutation`: plant realistic one-line bugs, one at a time, and see whether `make test` notices.

For each mutant: copy the repository (without virtualenvs), apply the one-line change,
regenerate `out/` and the golden tree as someone making that change would (so golden and
in-sync tests cannot catch it by comparison alone), then run the test suite (`pytest -x`,
the same tests as `make test`). A mutant is caught when the suite fails.

Usage: python tests/mutation/run.py [--jobs N] [NAME_SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutants import MUTANTS, Mutant

REPO = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(".venv", ".venv-checkov", ".git", ".terraform", "__pycache__", ".pytest_cache")


def plant(mutant: Mutant, tree: Path) -> None:
    path = tree / mutant.path
    text = path.read_text(encoding="utf-8")
    start = -1
    for _ in range(mutant.occurrence):
        start = text.find(mutant.old, start + 1)
        if start < 0:
            raise SystemExit(f"mutant {mutant.name!r}: {mutant.old!r} (occurrence {mutant.occurrence}) not in {mutant.path}")
    path.write_text(text[:start] + mutant.new + text[start + len(mutant.old):], encoding="utf-8")


def run(mutant: Mutant) -> tuple[Mutant, str, float, str]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutant-") as temp:
        tree = Path(temp) / "repo"
        shutil.copytree(REPO, tree, ignore=IGNORED)
        plant(mutant, tree)
        python = str(REPO / ".venv" / "bin" / "python")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CHECKOV": str(REPO / ".venv-checkov" / "bin" / "checkov")}
        for catalog, out in (("catalog/nexus.yaml", "out"), ("tests/fixtures/orbit.yaml", "tests/fixtures/golden")):
            regenerated = subprocess.run([python, "-m", "generator", "render", "--catalog", catalog, "--out", out],
                                         cwd=tree, env=env, capture_output=True, text=True, check=False)
            if regenerated.returncode != 0:
                return mutant, "caught (render fails)", time.monotonic() - started, regenerated.stderr.strip()[-200:]
        # The same tests as `make test`; the fast wiring tests first so a caught mutant stops early.
        first = ["tests/test_wiring.py", "tests/test_rendered_hcl.py", "tests/test_migration.py", "tests/test_deploy.py"]
        # test_mutants_apply fails for every planted mutant by design (its line moved): it proves nothing here.
        tests = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "--ignore=tests/test_mutants_apply.py",
                                *first, "tests"],
                               cwd=tree, env=env, capture_output=True, text=True, check=False, timeout=1800)
        seconds = time.monotonic() - started
        if tests.returncode == 0:
            return mutant, "SURVIVED", seconds, ""
        failed = [line for line in tests.stdout.splitlines() if line.startswith("FAILED") or line.startswith("ERROR")]
        return mutant, "caught", seconds, (failed[0] if failed else tests.stdout.strip().splitlines()[-1])[:160]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("only", nargs="*")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(s in m.name for s in args.only)]
    for mutant in chosen:  # every bug must still apply to today's code before an hour is spent
        text = (REPO / mutant.path).read_text(encoding="utf-8")
        if text.count(mutant.old) < mutant.occurrence:
            sys.exit(f"mutant {mutant.name!r}: {mutant.old!r} (occurrence {mutant.occurrence}) is not in {mutant.path}; "
                     "update tests/mutation/mutants.py")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = []
        for result in pool.map(run, chosen):
            results.append(result)
            print(f"[{len(results)}/{len(chosen)}] {result[0].name}: {result[1]} ({result[2]:.0f} s)", flush=True)
    caught = sum(result != "SURVIVED" for _, result, _, _ in results)
    print(f"\n{'mutant':<58} {'file':<44} {'result':<22} {'s':>5}  first failing test")
    for mutant, result, seconds, detail in results:
        print(f"{mutant.name:<58} {mutant.path:<44} {result:<22} {seconds:5.0f}  {detail}")
    share = 100 * caught / len(results) if results else 0
    print(f"\n{caught} of {len(results)} mutants caught by the test suite ({share:.0f} %)")
    sys.exit(0 if share >= 90 else 1)


if __name__ == "__main__":
    main()
