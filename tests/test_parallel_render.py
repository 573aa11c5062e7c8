"""A large catalog renders its environments in forked processes: the bytes are those of one process."""

from __future__ import annotations

import sys
from pathlib import Path

from generator import api
from generator.render import tree as render

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from synthetic_catalog import catalog  # noqa: E402


def test_forked_environments_render_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "synthetic.yaml"
    path.write_text(catalog(600), encoding="utf-8")
    model = api.validate(path)
    assert len(model.services) * len(model.environments) >= render.PARALLEL_FROM_SERVICES, "large enough to fork"
    forked = render.render_catalog(model)
    monkeypatch.setattr(render, "PARALLEL_FROM_SERVICES", 10**9)
    assert render.render_catalog(model) == forked
