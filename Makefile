# Two entry points (see README): `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

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

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.signing
	$(BIN)/python -m bench.http_verify
	$(BIN)/python -m bench.batch_verify
	$(BIN)/python -m bench.batch_issue
	$(BIN)/python -m bench.hostile_bodies
	$(BIN)/python -m bench.federation_verify
	$(BIN)/python -m bench.issuance_scale

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
