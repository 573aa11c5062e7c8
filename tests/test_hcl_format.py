"""The in-memory `=` alignment agrees with `terraform fmt` on the shapes templates produce."""

from __future__ import annotations

import subprocess

from conftest import terraform_path
from generator.render.hcl_format import align_assignments

SNIPPET = """\
locals {
  a = 1
  long_name = "x = y"
  opens = {
    inner = "v"
    much_longer_inner = true
    "quoted key" = { a = 1, b = [2, 3] }
    "k" = 2
  }
  after = var.x == null ? "a" : "b"
  arrow = { for k, v in var.m : k => v }
  template = "${var.name}-{x}"
  escaped = "$${not} %%{ if } \\" = \\\\"
  comment_after = 1 # a = b
  list = [
    { a = 1 },
  ]

  separate_run = 2
  x = 3
}

resource "aws_x" "y" {
  #checkov:skip=CKV_X:why = because
  name = "n"
  dynamic "setting" {
    for_each = []
    content {}
  }
  tags = var.tags
}
"""


def test_alignment_matches_terraform_fmt(terraform_env: dict[str, str]) -> None:
    formatted = subprocess.run(
        [terraform_path(), "fmt", "-"], input=SNIPPET, capture_output=True, text=True, env=terraform_env, timeout=60, check=True
    ).stdout
    assert align_assignments(SNIPPET) == formatted


def test_alignment_is_idempotent() -> None:
    once = align_assignments(SNIPPET)
    assert align_assignments(once) == once
