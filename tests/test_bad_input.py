"""Hostile and broken catalogs: one clear message per problem, exit 1, no traceback, output untouched."""

from __future__ import annotations

import os

from pathlib import Path

import pytest

from conftest import NEXUS_CATALOG, snapshot_tree
from generator import api

VALID = NEXUS_CATALOG.read_text(encoding="utf-8")

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)

# name -> (file bytes, expected line or None, fragments of the message)
CASES: dict[str, tuple[bytes, int | None, list[str]]] = {
    "syntax error": (b"platform:\n  name: [nexus\nsizing: {}\n", 3, ["YAML syntax error"]),
    "tab indentation": (b"platform:\n\tname: nexus\n", 2, ["YAML syntax error"]),
    "duplicate key": (
        VALID.replace("  user-service:\n", "  auth-service:\n", 1).encode(),
        None,
        ["services.auth-service: duplicate key 'auth-service' (first defined on line"],
    ),
    "alias bomb": (BILLION_LAUGHS.encode(), None, ["aliases expand to more than 100,000 values"]),
    "recursive alias": (b"a: &a\n  b: *a\n", 2, ["an alias refers to the block that contains it"]),
    "not utf-8": (b"platform:\n  name: nex\xffus\n", 2, ["is not UTF-8 text (byte 0xff"]),
    "utf-16": ("platform: {}\n".encode("utf-16"), 1, ["is not UTF-8 text"]),
    "empty file": (b"", 1, ["the catalog is empty"]),
    "only a comment": (b"# nothing here\n", 1, ["the catalog is empty"]),
    "top-level list": (b"- platform\n- services\n", 1, ["(top level): expected a mapping, found a list"]),
    "top-level scalar": (b"hello\n", 1, ["expected a mapping, found string 'hello'"]),
    "unknown key with suggestion": (
        VALID.replace("    port: 3001\n", "    prot: 3001\n", 1).encode(),
        None,
        ["services.auth-service.prot: unknown key 'prot'; did you mean 'port'?"],
    ),
    "wrong type": (
        VALID.replace("    port: 3001\n", "    port: '3001'\n", 1).encode(),
        None,
        ["services.auth-service.port: expected a whole number, found string '3001'"],
    ),
    "yaml 1.1 boolean": (
        VALID.replace("deletion_protection: true", "deletion_protection: yes", 1).encode(),
        None,
        ["environments.prod.deletion_protection: expected true or false, found string 'yes'"],
    ),
    "python object tag": (
        b"platform: !!python/object/apply:os.system ['touch /tmp/pwned']\n", 1, ["unsupported YAML tag"],
    ),
    "merge key": (b"a: &a {x: 1}\nb:\n  <<: *a\n", 3, ["merge keys (`<<`) are not supported"]),
    "lone surrogate": (b'platform: "\\ud800"\n', 1, ["invalid Unicode character escape code"]),
    "control character": (b"platform: \x07\n", 1, ["not valid YAML"]),
    "not a number": (
        VALID.replace("cpu_target: 70", "cpu_target: .nan", 1).encode(),
        None,
        ["defaults.autoscaling.cpu_target: expected a finite number, found nan"],
    ),
    "newline smuggled into a host": (
        VALID.replace("hosts: [admin]", 'hosts: ["admin\\n"]', 1).encode(),
        None,
        ["services.admin.routes[0].hosts[0]: string 'admin\\n' is not allowed"],
    ),
    "look-alike host": (
        VALID.replace("hosts: [admin]", "hosts: [\u0430dmin]", 1).encode(),  # Cyrillic a
        None,
        ["services.admin.routes[0].hosts[0]: string '\u0430dmin' is not allowed"],
    ),
    "missing required key": (
        VALID.replace("    group: frontend\n    port: 4002\n", "    port: 4002\n", 1).encode(),
        None,
        ["services.admin: missing required key 'group'"],
    ),
}


def line_of(text: bytes, fragment: str) -> int:
    return text.decode("utf-8").splitlines().index(fragment) + 1


@pytest.fixture
def existing_out(tmp_path: Path) -> tuple[Path, dict[str, tuple[bytes, int]]]:
    out = tmp_path / "out"
    api.render(NEXUS_CATALOG, out)
    return out, snapshot_tree(out)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_catalog(name: str, tmp_path: Path, cli, existing_out) -> None:
    content, line, fragments = CASES[name]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_bytes(content)
    out, before = existing_out
    for args in (["validate"], ["render", "--out", str(out)]):
        result = cli(*args, "--catalog", catalog)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        for fragment in fragments:
            assert fragment in result.output, result.output
        prefix = f"{catalog}:{line}:" if line else f"{catalog}:"
        assert result.output.startswith("Error: " + prefix), result.output
        assert "nothing was written" in result.output
    assert snapshot_tree(out) == before


def test_duplicate_key_names_both_lines(tmp_path: Path, cli) -> None:
    text = VALID.replace("  user-service:\n", "  auth-service:\n", 1)
    (tmp_path / "c.yaml").write_text(text)
    first = text.splitlines().index("  auth-service:") + 1
    second = text.splitlines().index("  auth-service:", first) + 1
    result = cli("validate", "--catalog", tmp_path / "c.yaml")
    assert f"c.yaml:{second}: services.auth-service: duplicate key 'auth-service' (first defined on line {first})" in result.output


def test_schema_error_points_at_the_line(tmp_path: Path, cli) -> None:
    text = VALID.replace("    port: 3001\n", "    port: 70000\n", 1)
    (tmp_path / "c.yaml").write_text(text)
    line = text.splitlines().index("    port: 70000") + 1
    result = cli("validate", "--catalog", tmp_path / "c.yaml")
    assert f"c.yaml:{line}: services.auth-service.port: 70000 is out of range; must be at least 1 and at most 65535" in result.output


@pytest.mark.parametrize("kind", ["device", "fifo", "deep", "huge number"])
def test_input_that_would_hang_or_crash(kind: str, tmp_path: Path, cli) -> None:
    """Devices and FIFOs never end or block; 330 nested brackets exhausted Python's recursion;
    a 4,300-digit number was reported as an unsupported tag."""
    target = tmp_path / "catalog.yaml"
    if kind == "device":
        target = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "deep":
        target.write_text("a: " + "[" * 330 + "]" * 330 + "\n")
    else:
        text = NEXUS_CATALOG.read_text().replace("cpu: 512, memory: 1024, min_tasks: 2, max_tasks: 10", "cpu: " + "9" * 4300 + ", memory: 1024, min_tasks: 2, max_tasks: 10", 1)
        target.write_text(text)
    expected = {"device": "is not a regular file", "fifo": "is not a regular file", "deep": "nested more than 64 levels deep",
                "huge number": "a 4300-digit number is not allowed"}[kind]
    result = cli("validate", "--catalog", target)
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output, result.output
    assert len(result.output) < 4000


@pytest.mark.parametrize("kind", ["directory", "missing", "too large"])
def test_unusable_paths(kind: str, tmp_path: Path, cli, existing_out) -> None:
    out, before = existing_out
    target = tmp_path / "catalog.yaml"
    expected = {"directory": "is a directory", "missing": "no such file", "too large": "catalogs are limited to 8 MiB"}[kind]
    if kind == "directory":
        target.mkdir()
    elif kind == "too large":
        target.write_bytes(b"# padding\n" * 1_048_576)  # 10 MiB
    result = cli("render", "--catalog", target, "--out", out)
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output
    assert snapshot_tree(out) == before


def test_unknown_flag_is_a_usage_error(cli) -> None:
    result = cli("render", "--catalgo", "x")
    assert result.exit_code == 2


def test_a_catalog_file_name_that_is_not_utf8_renders(tmp_path: Path) -> None:
    """The OS hands such a name to Python as surrogate escapes, which no generated file may hold."""
    directory = os.fsencode(tmp_path)
    catalog = Path(os.fsdecode(directory + b"/nexus-\xff.yaml"))
    catalog.write_bytes(NEXUS_CATALOG.read_bytes())
    out = tmp_path / "out"
    api.render(catalog, out)
    header = (out / "environments" / "prod" / "main.tf").read_text(encoding="utf-8").splitlines()[1]
    assert "nexus-\N{REPLACEMENT CHARACTER}.yaml" in header


@pytest.mark.parametrize("which", ["catalog", "out"])
def test_a_path_longer_than_the_file_system_allows_is_one_line(which: str, tmp_path: Path, cli) -> None:
    long_name = "x" * 300
    catalog = tmp_path / f"{long_name}.yaml" if which == "catalog" else NEXUS_CATALOG
    out = tmp_path / (long_name if which == "out" else "out")
    result = cli("render", "--catalog", catalog, "--out", out)
    expected = "File name too long" if which == "catalog" else "the path is too long for the file system"
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_a_float_priority_renders_exactly_like_the_integer(tmp_path: Path) -> None:
    """`priority: 100.0` is an integer to JSON Schema; it must not change what Terraform sees."""
    catalog = tmp_path / NEXUS_CATALOG.name
    catalog.write_text(NEXUS_CATALOG.read_text().replace("priority: 100,", "priority: 100.0,", 1))
    assert "priority: 100.0," in catalog.read_text()
    api.render(NEXUS_CATALOG, tmp_path / "integer")
    api.render(catalog, tmp_path / "float")
    assert snapshot_tree(tmp_path / "integer").keys() == snapshot_tree(tmp_path / "float").keys()
    for relative in snapshot_tree(tmp_path / "integer"):
        assert (tmp_path / "integer" / relative).read_bytes() == (tmp_path / "float" / relative).read_bytes(), relative
