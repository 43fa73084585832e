# Two commands do all the set-up on a fresh machine:
#   make demo   -> builds the environment, then simulates a real Pilatus-style frame into out/demo/
#   make test   -> builds the environment, then runs the default test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nb-installed

.PHONY: demo test lint env bench

$(STAMP): constraints.txt requirements-dev.txt packages/nb-core/pyproject.toml packages/nb-cli/pyproject.toml packages/nb-parity/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt \
		-e packages/nb-core -e packages/nb-cli -e packages/nb-parity
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nb demo --outdir out/demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pyright
