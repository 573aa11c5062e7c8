# Everything bootstraps the project's own virtualenv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CATALOG ?= catalog/nexus.yaml
OUT ?= out
# Filesystem mirror of the hashicorp/aws provider; with internet access set it empty.
export TF_PLUGIN_MIRROR ?= /opt/tf-plugins

CHECKOV_VENV ?= .venv-checkov

.PHONY: render test test-fast check validate golden e2e bench scan mutation diagrams clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov gets its own virtualenv: it pins old packaging/networkx and ships a module named hcl2.
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $@

render: $(BIN)/.installed  ## Render the NEXUS catalog into out/
	$(BIN)/python -m generator render --catalog $(CATALOG) --out $(OUT)

validate: $(BIN)/.installed  ## Check the catalog only
	$(BIN)/python -m generator validate --catalog $(CATALOG)

check: $(BIN)/.installed  ## Fail if out/ is not what the catalog renders to (CI drift check)
	$(BIN)/python -m generator validate --catalog $(CATALOG)
	$(BIN)/python -m generator render --catalog $(CATALOG) --out $(OUT) --check

test: $(BIN)/.installed $(CHECKOV_VENV)/.installed  ## Unit, golden, hostile-input, terraform and checkov tests
	$(BIN)/python -m pytest -q tests

test-fast: $(BIN)/.installed  ## The edit-test loop: everything but the tests marked slow (terraform, checkov, pip, emulator)
	$(BIN)/python -m pytest -q tests -m "not slow and not e2e"

e2e: $(BIN)/.installed  ## Apply, re-plan and destroy against a local AWS emulator
	$(BIN)/python -m pytest -m e2e -s -v tests/e2e

scan: $(CHECKOV_VENV)/.installed  ## Security scan of out/
	CKV_PARSE_ERROR_FAIL=true $(CHECKOV_VENV)/bin/checkov -d $(OUT) --framework terraform --skip-download --compact --quiet

bench: $(BIN)/.installed  ## Speed table: nexus and synthetic 100/1,000/5,000-service catalogs
	$(BIN)/python tests/bench/benchmark.py

mutation: $(BIN)/.installed $(CHECKOV_VENV)/.installed  ## Plant one-line bugs; table of which `make test` catches (>= 90 %)
	cd tests/mutation && ../../$(BIN)/python run.py --jobs 2

# mermaid-cli from npm, in Debian's Chromium (apt-get install chromium): what GitHub renders.
MERMAID_DIR ?= .mermaid
CHROMIUM ?= /usr/bin/chromium

$(MERMAID_DIR)/.installed:
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install npm (Node.js 18+)"; exit 1; }
	mkdir -p $(MERMAID_DIR)
	cd $(MERMAID_DIR) && PUPPETEER_SKIP_DOWNLOAD=1 npm install --silent --no-audit --no-fund @mermaid-js/mermaid-cli@12.2.0
	echo '{"executablePath": "$(CHROMIUM)", "args": ["--no-sandbox", "--disable-gpu"]}' > $(MERMAID_DIR)/puppeteer.json
	touch $@

diagrams: $(BIN)/.installed $(MERMAID_DIR)/.installed  ## Render every README diagram with mermaid-cli; fail on any error
	@test -x $(CHROMIUM) || { echo "Chromium is missing at $(CHROMIUM): apt-get install chromium (or set CHROMIUM)"; exit 1; }
	$(BIN)/python tests/diagrams/render_diagrams.py $(MERMAID_DIR)/node_modules/.bin/mmdc $(MERMAID_DIR)/puppeteer.json \
		$${TMPDIR:-/tmp}/platform-diagrams $(OUT)/environments/*/README.md tests/fixtures/golden/environments/*/README.md

golden: $(BIN)/.installed  ## Refresh the module READMEs, the golden tree and the imported catalogs after an intended change
	$(BIN)/python -m generator.render.module_docs
	$(BIN)/python -m generator render --catalog tests/fixtures/orbit.yaml --out tests/fixtures/golden
	$(BIN)/python -m generator import --platform shop --env prod --out tests/fixtures/k8s/shop-kubectl/catalog.yaml tests/fixtures/k8s/shop-kubectl/list.yaml 2>/dev/null
	$(BIN)/python -m generator.catalog.reference > docs/catalog-reference.md
	$(BIN)/python -m generator import --platform books --env prod --out tests/fixtures/k8s/bookstore/catalog.yaml \
		--report tests/fixtures/k8s/bookstore/report.md tests/fixtures/k8s/bookstore/manifests 2>/dev/null

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(MERMAID_DIR) .pytest_cache
