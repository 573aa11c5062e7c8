"""The generator's version: in pyproject.toml for packaging, here for what `render` records in `generator.yaml`
(so `render --check` can tell an upgrade from a catalog change). See CHANGELOG.md."""

VERSION = "0.7.0"
RENDER_RECORD = "generator.yaml"
