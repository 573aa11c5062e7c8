"""Rendered files -> formatted tree -> output directory, replaced whole or not at all.

The rendered files are compared with what is in place; identical output touches
nothing. Otherwise the new tree is written to a staging directory beside the
output directory. Otherwise unchanged files keep their modification
times, Terraform's own working files (`.terraform/`, lock files, local state) move
across, and two renames swap the trees. Any failure removes the staging directory
and leaves the output directory as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import click

from generator.render import GENERATED_MARKER

# Files Terraform creates in a root module that belong to the user, not to us.
TERRAFORM_WORKING_FILES = (".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup")


class OutputError(click.ClickException):
    """The output directory cannot be written; nothing was changed."""


@dataclass
class TreeDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        return (
            [f"  added:   {path}" for path in self.added]
            + [f"  changed: {path}" for path in self.changed]
            + [f"  removed: {path}" for path in self.removed]
        )


def _is_working_file(relative: PurePosixPath) -> bool:
    return any(part in TERRAFORM_WORKING_FILES for part in relative.parts)


def _generated_files(root: Path) -> dict[str, Path]:
    """Files under `root` by relative path, skipping Terraform's working files."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in TERRAFORM_WORKING_FILES)
        for name in filenames:
            path = Path(dirpath, name)
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if not _is_working_file(relative):
                found[str(relative)] = path
    return found


def encode(files: dict[PurePosixPath, str]) -> dict[str, bytes]:
    return {str(relative): text.encode("utf-8") for relative, text in files.items()}


def read_tree(root: Path) -> dict[str, bytes]:
    return {relative: path.read_bytes() for relative, path in _generated_files(root).items()}


def diff_files(new: dict[str, bytes], old_root: Path) -> TreeDiff:
    """What replacing `old_root` with the files `new` would add, change and remove."""
    old = _generated_files(old_root)
    diff = TreeDiff()
    for relative in sorted(new):
        if relative not in old:
            diff.added.append(relative)
        elif new[relative] != old[relative].read_bytes():
            diff.changed.append(relative)
    diff.removed = sorted(set(old) - set(new))
    return diff


def _refuse_foreign_files(out_dir: Path) -> None:
    """Never delete what the generator did not write (e.g. `--out .` by mistake)."""
    for relative, path in sorted(_generated_files(out_dir).items()):
        try:
            with path.open("rb") as handle:
                head = handle.read(len(GENERATED_MARKER) + 8)
        except OSError:
            head = b""
        head = head.lstrip(b"\xef\xbb\xbf")
        # Terraform and YAML files start with the `#` marker line, Markdown with it in an HTML comment.
        if not (head.startswith(GENERATED_MARKER.encode()) or head.startswith(b"<!-- " + GENERATED_MARKER[2:].encode())):
            raise OutputError(
                f"{out_dir / relative} was not written by the generator, and replacing {out_dir} would delete it; "
                "move it out of the output directory or choose another --out"
            )


def _refuse_orphaned_working_files(out_dir: Path, new: dict[str, bytes]) -> None:
    """Never drop Terraform state: a root that holds working files must stay in the new tree."""
    kept_dirs = {str(PurePosixPath(relative).parent) for relative in new}
    orphaned = []
    for dirpath, dirnames, filenames in os.walk(out_dir):
        for name in sorted([*dirnames, *filenames]):
            if name in TERRAFORM_WORKING_FILES:
                relative_dir = Path(dirpath).relative_to(out_dir).as_posix()
                if relative_dir not in kept_dirs:
                    orphaned.append(f"{relative_dir}/{name}")
        dirnames[:] = [d for d in dirnames if d not in TERRAFORM_WORKING_FILES]
    if orphaned:
        raise OutputError(
            f"the catalog no longer renders {', '.join(sorted({o.rsplit('/', 1)[0] for o in orphaned}))}, which still "
            f"holds Terraform working files or state ({', '.join(orphaned)}); run `terraform destroy` there and move "
            "them away, or keep the environment in the catalog"
        )


def _stage(files: dict[str, bytes], parent: Path, out_name: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{out_name}.staging-", dir=parent))
    try:
        for relative, content in sorted(files.items()):
            target = staging.joinpath(*PurePosixPath(relative).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def write_tree(files: dict[PurePosixPath, str], out_dir: Path, check: bool = False) -> TreeDiff:
    """Make `out_dir` hold exactly `files`; with `check`, only report the difference."""
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory; choose another --out")
    content = encode(files)
    diff = diff_files(content, out_dir)
    if check or diff.empty:
        return diff
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {parent}: {error.strerror}") from None
    if out_dir.exists():
        _refuse_foreign_files(out_dir)
        _refuse_orphaned_working_files(out_dir, content)
    try:
        staging = _stage(content, parent, out_dir.name)
    except OSError as error:
        raise OutputError(f"cannot write beside {out_dir}: {error.strerror}") from None
    backup: Path | None = None
    try:
        if out_dir.exists():
            _keep_modification_times(out_dir, staging, diff)
            backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.previous-", dir=parent))
            backup.rmdir()
            os.rename(out_dir, backup)
        try:
            os.rename(staging, out_dir)
        except OSError:
            if backup is not None:
                os.rename(backup, out_dir)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if backup is not None:
        _move_working_files(backup, out_dir)
        shutil.rmtree(backup, ignore_errors=True)
    return diff


def _keep_modification_times(out_dir: Path, staging: Path, diff: TreeDiff) -> None:
    touched = set(diff.changed) | set(diff.added)
    for relative, new_path in _generated_files(staging).items():
        if relative not in touched:
            old = (out_dir / relative).stat()
            os.utime(new_path, ns=(old.st_atime_ns, old.st_mtime_ns))


def _move_working_files(old_root: Path, new_root: Path) -> None:
    """Move `.terraform/`, lock files and local state of the previous tree into the new one."""
    for dirpath, dirnames, filenames in os.walk(old_root):
        for name in sorted([*dirnames, *filenames]):
            if name in TERRAFORM_WORKING_FILES:
                source = Path(dirpath, name)
                target = new_root / source.relative_to(old_root)
                if target.parent.is_dir() and not target.exists():
                    os.rename(source, target)
        dirnames[:] = [d for d in dirnames if d not in TERRAFORM_WORKING_FILES]
