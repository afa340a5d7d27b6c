# Two entry points (see README): `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-scale clean browser-deps screenshots

# constraints.txt pins every package the tests ran with (warnings are errors in the
# tests, so an unpinned upstream release could turn CI red overnight). Refresh it with
# `.venv/bin/pip freeze --exclude-editable > constraints.txt` after changing dependencies.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/registry demo

lint: $(STAMP)
	$(BIN)/ruff check registry tests bench
	$(BIN)/ruff format --check registry tests bench
	$(BIN)/mypy

# axe-core (npm) for the accessibility check of the browser tests, pinned in
# tests/browser/package.json; node_modules stays out of git. Without npm the browser
# tests' accessibility check skips on a developer's machine (CI installs npm).
AXE := tests/browser/node_modules/axe-core/axe.min.js

$(AXE): tests/browser/package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/browser --no-audit --no-fund --no-package-lock --loglevel=error && touch $@; \
	else echo "npm not found: the browser tests' accessibility check will skip"; fi

browser-deps: $(AXE)

test: lint browser-deps
	$(BIN)/pytest

# The pictures README shows (docs/screenshots/*.png), taken by the browser tests in
# headless Chromium; Chinese text needs a CJK font (Debian: fonts-wqy-zenhei).
screenshots: $(STAMP) browser-deps
	REGISTRY_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

bench: $(STAMP)
	$(BIN)/python -m bench.signing
	$(BIN)/python -m bench.http_verify
	$(BIN)/python -m bench.routing
	$(BIN)/python -m bench.batch_verify
	$(BIN)/python -m bench.batch_issue
	$(BIN)/python -m bench.hostile_bodies
	$(BIN)/python -m bench.federation_verify
	$(BIN)/python -m bench.issuance_scale
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.workers
	$(BIN)/python -m bench.rdfc

# A PostgreSQL node at 100,000, 1,000,000 and 10,000,000 credentials (bench/fill.py loads
# them, about 40 minutes and 40 GB for the largest; the databases are kept for the next
# run), then each measured (bench/scale.py). PostgreSQL at REGISTRY_SCALE_DATABASE_URL
# (default postgresql://postgres@127.0.0.1:5432/registry_scale, a database per size).
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale --sizes 100000,1000000,10000000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/browser/node_modules
