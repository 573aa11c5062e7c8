"""The README of each Terraform module (inputs and outputs, as terraform-aws-modules documents its
modules), read from the rendered module with python-hcl2.

The modules do not depend on the catalog, so neither do their READMEs: they are written once per
template change into `templates/modules/<module>/README.md` (`make golden`, or
`python -m generator.render.module_docs`), which `render` copies, and a test fails while one is stale.
Reading HCL with a parser here, at development time, keeps python-hcl2 out of `render`'s imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath

import hcl2

from generator.paths import TEMPLATES_DIR
from generator.render.hcl import read_back_string
from generator.render.tree import MODULE_PURPOSES, MODULES, doc_template_environment, render_modules


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Output:
    name: str
    description: str


def _expression(value: object) -> str:
    """A value as python-hcl2 reads it, shown as HCL: expressions lose the `${...}` wrapper."""
    if isinstance(value, str):
        return value[2:-1] if value.startswith("${") and value.endswith("}") else value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True)


def module_interface(variables_tf: str, outputs_tf: str) -> tuple[tuple[Input, ...], tuple[Output, ...]]:
    """Inputs and outputs of a module, sorted by name."""
    inputs = []
    for block in hcl2.loads(variables_tf).get("variable", []):
        for name, body in block.items():
            inputs.append(Input(read_back_string(name), _expression(body.get("type", "any")),
                                _expression(body["default"]) if "default" in body else "n/a (required)",
                                read_back_string(body.get("description", '""'))))
    outputs = [Output(read_back_string(name), read_back_string(body.get("description", '""')))
               for block in hcl2.loads(outputs_tf).get("output", []) for name, body in block.items()]
    return tuple(sorted(inputs, key=lambda item: item.name)), tuple(sorted(outputs, key=lambda item: item.name))


def module_readmes() -> dict[str, str]:
    """README text by module name, from the modules as `render` writes them."""
    files = render_modules()
    readmes = {}
    for module in MODULES:
        inputs, outputs = module_interface(files[PurePosixPath("modules", module, "variables.tf")],
                                           files[PurePosixPath("modules", module, "outputs.tf")])
        readmes[module] = doc_template_environment().get_template("docs/module-README.md.j2").render(
            module=module, purpose=MODULE_PURPOSES[module], inputs=inputs, outputs=outputs)
    return readmes


def main() -> None:
    for module, text in module_readmes().items():
        (TEMPLATES_DIR / "modules" / module / "README.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
