"""The tree writer under kill -9, SIGTERM, Ctrl-C and concurrent renders (issue #10).

Forked children write one of two renders (A: the orbit fixture; B: orbit without its `live`
environment and with another log retention, so a switch adds, changes and removes files) into one
output directory whose `qa` root holds Terraform state, a provider cache, a lock file and a workspace.
The parent kills each child after a random delay drawn from the measured length of a write, then
checks what an operator would find. Seeded: set CRASH_SEED to replay a failure.
"""

from __future__ import annotations

import os
import random
import signal
import time
import warnings
from pathlib import Path, PurePosixPath

import yaml

from conftest import ORBIT_CATALOG
from generator import api
from generator.render.output import TEMPORARY_INFIX, write_tree
from generator.render.tree import render_catalog

SEED = int(os.environ.get("CRASH_SEED", "20261129"))
KILLS = int(os.environ.get("CRASH_KILLS", "300"))
CONCURRENT_ROUNDS, RUNS_PER_ROUND = 5, 8
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}

WORKING_FILES = {
    "environments/qa/terraform.tfstate": b'{"version": 4, "serial": 42, "resources": []}',
    "environments/qa/terraform.tfstate.backup": b'{"version": 4, "serial": 41}',
    "environments/qa/.terraform.lock.hcl": b'provider "registry.terraform.io/hashicorp/aws" {}\n',
    "environments/qa/.terraform/providers/marker": b"provider cache",
    "environments/qa/terraform.tfstate.d/feature/terraform.tfstate": b'{"serial": 5}',
}


def _renders(tmp_path: Path) -> tuple[dict[PurePosixPath, str], dict[PurePosixPath, str]]:
    data = yaml.safe_load(ORBIT_CATALOG.read_text())
    del data["environments"]["live"]
    for service in data["services"].values():
        service.get("overrides", {}).pop("live", None)
    data["environments"]["qa"]["log_retention_days"] = 14
    variant = tmp_path / "variant" / ORBIT_CATALOG.name  # same name: the headers name the catalog
    variant.parent.mkdir()
    variant.write_text(yaml.safe_dump(data, sort_keys=False))
    return render_catalog(api.validate(ORBIT_CATALOG)), render_catalog(api.validate(variant))


def _plant_working_files(out: Path) -> None:
    for relative, content in WORKING_FILES.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(content)


def _tree(out: Path) -> tuple[dict[str, bytes], list[str], dict[str, bytes]]:
    """(generated files, temporaries, working files) as found on disk."""
    generated, temporaries, working = {}, [], {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        relative = path.relative_to(out).as_posix()
        if relative in WORKING_FILES:
            working[relative] = path.read_bytes()
        elif TEMPORARY_INFIX in path.name:
            temporaries.append(relative)
        else:
            generated[relative] = path.read_bytes()
    return generated, temporaries, working


def _child(files: dict[PurePosixPath, str], out: Path, start_gate: tuple[int, int] | None = None) -> None:
    """Runs in a forked process; never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if start_gate is not None:
            os.close(start_gate[1])
            os.read(start_gate[0], 1)  # all children start when the parent closes the pipe
        write_tree(files, out)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - the exit code is the report
        code = 1
    os._exit(code)


def _fork(files: dict[PurePosixPath, str], out: Path, start_gate: tuple[int, int] | None = None) -> int:
    # Signals stay blocked until the child is inside _child's try: a Ctrl-C that arrived earlier
    # would unwind the forked copy of pytest and run the rest of the test session in the child.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only writes files
            pid = os.fork()
        if pid == 0:
            _child(files, out, start_gate)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return pid


def _wait_all(pids: list[int], timeout: float) -> list[int]:
    """Exit statuses; a child still running after `timeout` is a hang: kill all and fail."""
    deadline, statuses = time.monotonic() + timeout, {}
    while len(statuses) < len(pids):
        for pid in pids:
            if pid not in statuses:
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    statuses[pid] = status
        if time.monotonic() > deadline:
            for pid in set(pids) - set(statuses):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            raise AssertionError(f"{len(pids) - len(statuses)} renders still running after {timeout} s: a hang")
        time.sleep(0.01)
    return [statuses[pid] for pid in pids]


def _encoded(files: dict[PurePosixPath, str]) -> dict[str, bytes]:
    return {str(relative): text.encode() for relative, text in files.items()}


def test_kills_never_lose_state_and_the_next_render_finishes_the_job(tmp_path: Path) -> None:
    render_a, render_b = _renders(tmp_path)
    a, b = _encoded(render_a), _encoded(render_b)
    assert set(a) - set(b) and set(b) <= set(a) and any(a[k] != b[k] for k in b), "A -> B must add, change and remove"
    out = tmp_path / "out"
    write_tree(render_a, out)
    _plant_working_files(out)

    started = time.monotonic()
    for _ in range(5):
        write_tree(render_b, out)
        write_tree(render_a, out)
    write_seconds = (time.monotonic() - started) / 10

    rng = random.Random(SEED)
    outcomes = {"killed mid-write": 0, "finished before the signal": 0, "temporaries left": 0, "mixed trees": 0}
    for kill in range(KILLS):
        context = f"(CRASH_SEED={SEED}, kill {kill})"
        target = rng.choice((render_a, render_b))
        pid = _fork(target, out)
        time.sleep(rng.uniform(0, 1.3 * write_seconds))
        os.kill(pid, rng.choice((signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGINT)))
        _, status = os.waitpid(pid, 0)
        outcomes["finished before the signal" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
                 else "killed mid-write"] += 1
        generated, temporaries, working = _tree(out)
        assert working == WORKING_FILES, f"Terraform's files changed or vanished {context}"
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")], f"leftovers beside out/ {context}"
        for relative, content in generated.items():
            assert content in (a.get(relative), b.get(relative)), f"{relative} is neither A's nor B's (torn) {context}"
        assert set(b) <= set(generated), f"files common to both renders went missing {context}"
        outcomes["temporaries left"] += bool(temporaries)
        outcomes["mixed trees"] += generated not in (a, b)
        if rng.random() < 0.3:
            final = rng.choice((render_a, render_b))
            write_tree(final, out)
            generated, temporaries, working = _tree(out)
            assert generated == _encoded(final) and not temporaries and working == WORKING_FILES, context
    print(f"\n{KILLS} kills, a write lasts {write_seconds * 1000:.1f} ms: {outcomes}")
    assert outcomes["killed mid-write"] >= KILLS // 5, "the delays missed the write phase; the test proves nothing"
    write_tree(render_b, out)
    generated, temporaries, working = _tree(out)
    assert generated == b and not temporaries and working == WORKING_FILES


def test_concurrent_renders_serialise_and_lose_nothing(tmp_path: Path) -> None:
    render_a, render_b = _renders(tmp_path)
    a, b = _encoded(render_a), _encoded(render_b)
    out = tmp_path / "out"
    write_tree(render_a, out)
    _plant_working_files(out)
    rng = random.Random(SEED)
    for round_number in range(CONCURRENT_ROUNDS):
        gate_read, gate_write = os.pipe()
        pids = [_fork(rng.choice((render_a, render_b)), out, (gate_read, gate_write)) for _ in range(RUNS_PER_ROUND)]
        os.close(gate_read)
        os.close(gate_write)  # releases every child at once
        statuses = _wait_all(pids, timeout=60)
        context = f"(CRASH_SEED={SEED}, round {round_number})"
        assert all(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in statuses), f"a render failed {context}"
        generated, temporaries, working = _tree(out)
        assert working == WORKING_FILES and not temporaries, context
        assert generated in (a, b), f"concurrent renders left a tree that is neither A nor B {context}"
