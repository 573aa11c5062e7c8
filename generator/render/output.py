"""Rendered files -> output directory, file by file, under a lock; Terraform's own files never move.

Why not build a staging tree and swap it in with renames (what this module did before): the
environment roots hold Terraform's working files and possibly local state, and any scheme that moves
the directories holding them can strand or delete them when a run is killed between two renames or
races another run. So a write goes:

1. Take an exclusive `flock` on the output directory itself. The kernel drops it when the process
   dies, so a killed render never leaves a stale lock, and a second render waits for the first.
2. Under the lock: finish what an interrupted run left (its temporary files are deleted; state a
   render of the old swapping writer left in `.out.previous-*` is moved back), refuse entries the
   generator did not write, and compare the rendered files with what is in place.
3. Write every added or changed file to a temporary file beside it and fsync it. Any failure deletes
   the temporaries: nothing anyone can see has changed.
4. Rename each temporary over its file (atomic per file), delete the files the catalog no longer
   renders and the directories that became empty.

A kill inside step 4 (a few milliseconds for a whole environment) leaves every file complete, each
either the old or the new version; the next render finishes the job and says so. Files and
directories named in TERRAFORM_WORKING_FILES are never opened, moved or deleted.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import os
import secrets
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import click

from generator.render.tree import GENERATED_MARKER

# What Terraform and its users keep in a root module; the generator never touches these.
TERRAFORM_WORKING_FILES = (
    ".terraform", ".terraform.lock.hcl", ".terraform.tfstate.lock.info", "terraform.tfstate",
    "terraform.tfstate.backup", "terraform.tfstate.d", "override.tf", "override.tf.json", "*_override.tf",
    "*_override.tf.json", "*.tfplan", "crash.log",
)
TEMPORARY_INFIX = ".generator-tmp-"
LOCK_TIMEOUT_SECONDS = float(os.environ.get("GENERATOR_LOCK_TIMEOUT", "120"))
_MARKERS = (GENERATED_MARKER.encode(), b"<!-- " + GENERATED_MARKER[2:].encode())


class OutputError(click.ClickException):
    """The output directory cannot be written; nothing was changed."""


@dataclass
class TreeDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    finished_interrupted_run: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        return (
            [f"  added:   {path}" for path in self.added]
            + [f"  changed: {path}" for path in self.changed]
            + [f"  removed: {path}" for path in self.removed]
        )


@dataclass
class _Scan:
    """What an output directory holds, by relative path."""

    generated: dict[str, Path] = field(default_factory=dict)
    temporaries: list[Path] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    working: list[str] = field(default_factory=list)


def is_working_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TERRAFORM_WORKING_FILES)


def _has_marker(path: Path) -> bool:
    """Open without following links or blocking (a FIFO must never hang a render)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        head = os.read(descriptor, len(GENERATED_MARKER) + 8).lstrip(b"\xef\xbb\xbf")
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return head.startswith(_MARKERS)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a file"


def _scan(root: Path) -> _Scan:
    """Classify every entry under `root` without following links or opening anything but regular files."""
    scan = _Scan()
    if not root.is_dir():
        return scan
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            raise OutputError(f"cannot read {directory}: {error.strerror}") from None
        for entry in entries:
            relative = Path(entry.path).relative_to(root).as_posix()
            if is_working_file(entry.name):
                scan.working.append(relative)
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            if TEMPORARY_INFIX in entry.name and stat.S_ISREG(mode):
                scan.temporaries.append(Path(entry.path))
            elif stat.S_ISDIR(mode):
                pending.append(Path(entry.path))
            elif stat.S_ISREG(mode) and _has_marker(Path(entry.path)):
                scan.generated[relative] = Path(entry.path)
            else:
                scan.foreign.append(f"{relative} ({_kind(mode)} the generator did not write)")
    return scan


def encode(files: dict[PurePosixPath, str]) -> dict[str, bytes]:
    return {str(relative): text.encode("utf-8") for relative, text in files.items()}


def read_tree(root: Path) -> dict[str, bytes]:
    return {relative: path.read_bytes() for relative, path in _scan(root).generated.items()}


def _diff(new: dict[str, bytes], old: dict[str, Path]) -> TreeDiff:
    diff = TreeDiff()
    for relative in sorted(new):
        if relative not in old:
            diff.added.append(relative)
        elif new[relative] != old[relative].read_bytes():
            diff.changed.append(relative)
    diff.removed = sorted(set(old) - set(new))
    return diff


def diff_files(new: dict[str, bytes], old_root: Path) -> TreeDiff:
    """What writing the files `new` into `old_root` would add, change and remove."""
    return _diff(new, _scan(old_root).generated)


def _refuse_foreign_entries(out_dir: Path, scan: _Scan) -> None:
    """Never write into or delete from a directory holding what the generator did not write (`--out .`)."""
    if scan.foreign:
        listed = "; ".join(scan.foreign[:5]) + ("; ..." if len(scan.foreign) > 5 else "")
        raise OutputError(
            f"{out_dir} holds entries the generator did not write: {listed}. Move them out of the output "
            "directory or choose another --out (Terraform's own files, `*_override.tf` and `*.tfplan` are allowed)"
        )


def _refuse_orphaned_working_files(scan: _Scan, new: dict[str, bytes]) -> None:
    """Never abandon Terraform state: a root that holds working files must still be rendered."""
    kept_dirs = {str(PurePosixPath(relative).parent) for relative in new}
    orphaned = [path for path in scan.working if str(PurePosixPath(path).parent) not in kept_dirs]
    if orphaned:
        roots = sorted({str(PurePosixPath(path).parent) for path in orphaned})
        raise OutputError(
            f"the catalog no longer renders {', '.join(roots)}, which still holds Terraform working files or "
            f"state ({', '.join(orphaned)}); run `terraform destroy` there and move them away, or keep the "
            "environment in the catalog"
        )


class _Lock:
    """An exclusive flock on the output directory; the kernel releases it when the process dies."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.descriptor = -1

    def __enter__(self) -> _Lock:
        try:
            self.descriptor = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise OutputError(f"cannot open {self.directory}: {error.strerror}") from None
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        told = False
        while True:
            try:
                fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.descriptor)
                    raise OutputError(
                        f"another render has been writing {self.directory} for {LOCK_TIMEOUT_SECONDS:.0f} s; "
                        "wait for it to finish or stop it (the lock is released when that process ends)"
                    ) from None
                if not told and time.monotonic() > deadline - LOCK_TIMEOUT_SECONDS + 1:
                    print(f"waiting for another render writing {self.directory} ...", file=sys.stderr)
                    told = True
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        os.close(self.descriptor)  # closing releases the flock


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_temporary(target: Path, content: bytes) -> Path:
    temporary = target.with_name(f".{target.name}{TEMPORARY_INFIX}{os.getpid()}-{secrets.token_hex(4)}")
    # 0o666 minus the umask: the modes a plain `open()` gives, not mkstemp's 0600.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view):]
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return temporary


def _os_failure(error: OSError, path: Path) -> OutputError:
    reasons = {
        errno.EROFS: "the file system is read-only",
        errno.EPERM: "the operating system refused (an immutable or protected file?)",
        errno.EACCES: "permission denied",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENAMETOOLONG: "the path is too long for the file system",
    }
    reason = reasons.get(error.errno or 0, error.strerror or str(error))
    return OutputError(f"cannot write {path}: {reason}; nothing under the output directory was changed")


def _recover_previous_writer_leftovers(out_dir: Path) -> None:
    """The swapping writer this module replaced could leave `.out.previous-*` (with state) and
    `.out.staging-*` beside the output directory when it was killed: put working files back, drop the rest."""
    parent = out_dir.parent
    for leftover in sorted(parent.glob(f".{out_dir.name}.previous-*")) + sorted(parent.glob(f".{out_dir.name}.staging-*")):
        if not leftover.is_dir() or leftover.is_symlink():
            continue
        scan = _scan(leftover)
        for relative in scan.working:
            source, target = leftover / relative, out_dir / relative
            if target.exists() or target.is_symlink():
                raise OutputError(
                    f"an interrupted render left Terraform's {source}, and {target} exists too; compare them, "
                    f"keep the right one in {out_dir} and delete {leftover}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
            print(f"recovered {relative} that an interrupted render left in {leftover.name}", file=sys.stderr)
        if scan.foreign:
            raise OutputError(f"{leftover} (left by an interrupted render) holds files the generator did not write: "
                              f"{'; '.join(scan.foreign[:5])}; move them and delete {leftover}")
        for path in scan.generated.values():
            path.unlink()
        for path in scan.temporaries:
            path.unlink()
        for directory in sorted((p for p in leftover.rglob("*") if p.is_dir()), reverse=True):
            directory.rmdir()
        leftover.rmdir()


def write_tree(files: dict[PurePosixPath, str], out_dir: Path, check: bool = False) -> TreeDiff:
    """Make `out_dir` hold exactly `files` (next to Terraform's own); with `check`, only report the difference."""
    out_dir = Path(os.path.abspath(out_dir))
    try:
        return _write_tree(files, out_dir, check)
    except OSError as error:  # any failure on the path the user gave: one line, never a traceback
        raise _os_failure(error, Path(error.filename) if error.filename else out_dir) from None


def _write_tree(files: dict[PurePosixPath, str], out_dir: Path, check: bool) -> TreeDiff:
    content = encode(files)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory; choose another --out")
    if check:
        scan = _scan(out_dir)
        _refuse_foreign_entries(out_dir, scan)
        return _diff(content, scan.generated)
    created = False
    if not out_dir.exists():
        try:
            out_dir.mkdir(parents=True)
            created = True
        except FileExistsError:
            pass  # another render created it first
        except OSError as error:
            raise _os_failure(error, out_dir) from None
    try:
        with _Lock(out_dir):
            return _write_locked(content, out_dir)
    except BaseException:
        if created:
            try:
                out_dir.rmdir()  # only if still empty: a failed first render leaves no trace
            except OSError:
                pass
        raise


def _write_locked(content: dict[str, bytes], out_dir: Path) -> TreeDiff:
    _recover_previous_writer_leftovers(out_dir)
    scan = _scan(out_dir)
    for temporary in scan.temporaries:  # an interrupted run's; it never renamed them, so they are not in use
        temporary.unlink(missing_ok=True)
    _refuse_foreign_entries(out_dir, scan)
    diff = _diff(content, scan.generated)
    diff.finished_interrupted_run = bool(scan.temporaries)
    if diff.empty:
        return diff
    _refuse_orphaned_working_files(scan, content)

    staged: list[tuple[Path, Path]] = []
    created_dirs: list[Path] = []
    try:
        for relative in diff.added + diff.changed:
            target = out_dir.joinpath(*PurePosixPath(relative).parts)
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            for directory in reversed(missing):
                directory.mkdir()
                created_dirs.append(directory)
            staged.append((_write_temporary(target, content[relative]), target))
    except BaseException as failure:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for directory in reversed(created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass
        if isinstance(failure, OSError):
            raise _os_failure(failure, Path(failure.filename or out_dir)) from None
        raise

    # From here on only renames and unlinks: each atomic, none can fail short of a crash.
    touched_dirs = {target.parent for _, target in staged}
    for temporary, target in staged:
        os.replace(temporary, target)
    for relative in diff.removed:
        path = scan.generated[relative]
        path.unlink(missing_ok=True)
        touched_dirs.add(path.parent)
        for directory in path.parents:
            if directory == out_dir or not directory.is_relative_to(out_dir):
                break
            try:
                directory.rmdir()  # only empty ones; a root that still holds state stays
            except OSError:
                break
    for directory in sorted(d for d in touched_dirs if d.is_dir()):
        _fsync_directory(directory)
    return diff
