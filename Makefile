# Everything bootstraps the project's own virtualenv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CATALOG ?= catalog/nexus.yaml
OUT ?= out
# Filesystem mirror of the hashicorp/aws provider; with internet access set it empty.
export TF_PLUGIN_MIRROR ?= /opt/tf-plugins

.PHONY: render test check validate golden e2e bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

render: $(BIN)/.installed  ## Render the NEXUS catalog into out/
	$(BIN)/python -m generator render --catalog $(CATALOG) --out $(OUT)

validate: $(BIN)/.installed  ## Check the catalog only
	$(BIN)/python -m generator validate --catalog $(CATALOG)

check: $(BIN)/.installed  ## Fail if out/ is not what the catalog renders to (CI drift check)
	$(BIN)/python -m generator validate --catalog $(CATALOG)
	$(BIN)/python -m generator render --catalog $(CATALOG) --out $(OUT) --check

test: $(BIN)/.installed  ## Unit, golden, terraform fmt/validate tests
	$(BIN)/python -m pytest -q tests

golden: $(BIN)/.installed  ## Refresh the golden tree after an intended change
	$(BIN)/python -m generator render --catalog tests/fixtures/orbit.yaml --out tests/fixtures/golden

clean:
	rm -rf $(VENV) .pytest_cache
