# The two commands: `make demo` runs the product, `make test` passes the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# make demo DEMO_ARGS="--port 9000 --emulator-port 9101" to serve on other ports
DEMO_ARGS ?=

demo: install
	$(BIN)/crmsync demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -n 2 --dist loadfile -q

test: lint typecheck unit

bench: install
	$(BIN)/python bench/backfill.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
