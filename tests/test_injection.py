"""Hostile strings in every free-text field: rejected with a clear error, or inert literals.

"Inert" is checked three ways: python-hcl2 reads back exactly the catalog's string,
the parsed files hold no extra blocks, and Terraform itself (`console`, `validate`)
evaluates the escaped literal to the same string without running anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import orbit_data, run_terraform, terraform_path, write_yaml
from generator import api
from generator.errors import CatalogError
from generator.render.hcl import quote
from hcl_reading import blocks, literal, load

PAYLOADS = [
    'x"} resource "aws_iam_user" "evil" {',
    '${file("/etc/passwd")}',
    "%{ for x in [1] }x%{ endfor }",
    "first line\nresource \"aws_iam_user\" \"evil\" {}",
    "\u0430pi.example",  # Cyrillic a: looks like "api"
    "back\\slash \\n \\u0041 $${escaped}",
    "tab\tcarriage\rreturn \u2028 \u202e \x00 \x1b[31m",
    "lone $ and % and $$ and %% and } {",
]


def _service(data: dict[str, Any]) -> dict[str, Any]:
    return data["services"]["storefront"]


# field -> how to put a payload there
FIELDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "services.storefront.environment.GREETING": lambda d, p: _service(d)["environment"].update(GREETING=p),
    "environments.live.environment.TZ": lambda d, p: d["environments"]["live"]["environment"].update(TZ=p),
    "services.storefront.description": lambda d, p: _service(d).update(description=p),
    "services.storefront.routes[0].paths[0]": lambda d, p: _service(d)["routes"][0].update(paths=[p]),
    "services.storefront.routes[0].hosts[0]": lambda d, p: _service(d)["routes"][0].update(hosts=[p]),
    "services.storefront.health_check_path": lambda d, p: _service(d).update(health_check_path=p),
    "services.storefront.secrets.API_SECRET": lambda d, p: _service(d).update(secrets={"API_SECRET": p}),
    "environments.live.tags.Owner": lambda d, p: d["environments"]["live"]["tags"].update(Owner=p),
    "environments.live.domain": lambda d, p: d["environments"]["live"].update(domain=p),
    "environments.live.alerting.pagerduty_endpoint_secret": lambda d, p: d["environments"]["live"]["alerting"].update(pagerduty_endpoint_secret="a/" + p),
    "groups.edge.description": lambda d, p: d["groups"]["edge"].update(description=p),
    "data_stores.mysql.description": lambda d, p: d["data_stores"]["mysql"].update(description=p),
}

# Free text that is allowed to carry anything; all other fields must reject every payload.
FREE_TEXT_FIELDS = {"services.storefront.environment.GREETING", "environments.live.environment.TZ"}
COMMENT_FIELDS = {"services.storefront.description", "groups.edge.description", "data_stores.mysql.description"}


def _render(tmp_path: Path, data: dict[str, Any]) -> Path | CatalogError:
    catalog = write_yaml(tmp_path / "orbit.yaml", data)
    try:
        api.render(catalog, tmp_path / "out")
    except CatalogError as error:
        return error
    return tmp_path / "out"


def _structure(out: Path) -> dict[str, list[str]]:
    """Every block label in every file: what an injection would change."""
    shape = {}
    for path in sorted(out.rglob("*.tf")):
        parsed = load(path)
        shape[str(path.relative_to(out))] = sorted(
            f"{kind}:{label}" for kind in ("resource", "data", "module", "variable", "output")
            for label in (blocks(parsed, kind) if kind in ("module", "variable", "output") else
                          {f"{t}.{n}" for block in parsed.get(kind, []) for t, named in block.items() for n in named})
        )
    return shape


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    out = _render(tmp_path_factory.mktemp("baseline"), orbit_data())
    assert isinstance(out, Path)
    return _structure(out)


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_is_rejected_or_inert(field: str, payload: str, tmp_path: Path, baseline: dict[str, list[str]]) -> None:
    data = orbit_data()
    FIELDS[field](data, payload)
    result = _render(tmp_path, data)
    if isinstance(result, CatalogError):
        assert field not in FREE_TEXT_FIELDS, f"free text must be accepted: {result}"
        # Rejected at exactly the field that carries the payload, nowhere else.
        assert {p.path for p in result.problems} == {field}, str(result)
        assert not (tmp_path / "out").exists()
        return
    assert field in FREE_TEXT_FIELDS | COMMENT_FIELDS, f"{field} accepted {payload!r}; the schema should reject it"
    assert _structure(result) == baseline, "the payload changed the structure of the generated code"
    if field in FREE_TEXT_FIELDS:
        variables = literal(blocks(load(result / "environments" / "live" / "services.tf"), "module")["service_storefront"]["environment_variables"])
        assert payload in variables.values()


def test_terraform_evaluates_escaped_literals_to_the_same_string(tmp_path: Path, terraform_env: dict[str, str]) -> None:
    # hcl2 cannot parse every escape Terraform accepts; Terraform is the final word.
    root = tmp_path / "console"
    root.mkdir()
    expression = "jsonencode([" + ", ".join(quote(p) for p in PAYLOADS) + "])"
    completed = subprocess.run([terraform_path(), "console"], input=expression + "\n", cwd=root, env=terraform_env,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(json.loads(completed.stdout.strip())) == PAYLOADS


def test_payload_catalog_passes_terraform_validate(tmp_path: Path, terraform_env: dict[str, str]) -> None:
    data = orbit_data()
    _service(data)["environment"] = {f"PAYLOAD_{i}": payload for i, payload in enumerate(PAYLOADS)}
    _service(data)["description"] = PAYLOADS[0]
    out = _render(tmp_path, data)
    assert isinstance(out, Path)
    root = out / "environments" / "live"
    for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
        result = run_terraform(args, root, terraform_env)
        assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(root / ".terraform")
