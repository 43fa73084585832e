# Two commands do all the set-up on a fresh machine:
#   make demo   -> builds the environment, then simulates a real Pilatus-style frame into out/demo/
#   make test   -> builds the environment, then runs the default test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nb-installed

.PHONY: demo test lint env bench bytecode

$(STAMP): constraints.txt requirements-dev.txt packages/nb-core/pyproject.toml packages/nb-cli/pyproject.toml packages/nb-parity/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt \
		-e packages/nb-core -e packages/nb-cli -e packages/nb-parity
	touch $(STAMP)

# Byte-compile nb's own sources: editable installs are not, and where PYTHONDONTWRITEBYTECODE
# is set every start would compile them again (about a second on a slow core).
bytecode: $(STAMP)
	@$(PY) -m compileall -q packages/nb-core/src packages/nb-cli/src packages/nb-parity/src >/dev/null

env: $(STAMP)

demo: bytecode
	$(VENV)/bin/nb demo --outdir out/demo

test: bytecode
	$(PY) -m pytest -q

bench: bytecode
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pyright
