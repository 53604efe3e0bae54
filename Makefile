# Everything runs from a private virtualenv built from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := src tests scripts main.py $(wildcard bench)

.PHONY: install demo test chaos docker-test lint fmt bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	@# Byte-compile now: a CLI that compiles itself on every start is slow to start.
	$(BIN)/python -m compileall -q src
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

chaos: $(STAMP)
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

# Builds the image and runs it (tests/docker); starts and stops a Docker engine if needed.
docker-test: $(STAMP)
	PYTHON=$(BIN)/python scripts/docker-test.sh

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
