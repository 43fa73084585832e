# Two commands do all the set-up on a fresh machine:
#   make demo   -> builds the environment, then simulates a real Pilatus-style frame into out/demo/
#   make test   -> builds the environment, then runs the default test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nb-installed
NOISE_JIT := $(VENV)/.nb-noise-jit

.PHONY: demo test lint env bench bytecode

$(STAMP): constraints.txt requirements-dev.txt packages/nb-core/pyproject.toml packages/nb-cli/pyproject.toml packages/nb-parity/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt \
		-e packages/nb-core -e "packages/nb-cli[dask]" -e packages/nb-parity
	touch $(STAMP)

# Byte-compile nb's own sources: editable installs are not, and where PYTHONDONTWRITEBYTECODE
# is set every start would compile them again (about a second on a slow core).
bytecode: $(STAMP) $(NOISE_JIT)
	@$(PY) -m compileall -q packages/nb-core/src packages/nb-cli/src packages/nb-parity/src >/dev/null

# Compile the noise loop (numba) into its on-disk cache once, so that the first large noise
# image does not pay the ~3 s compile.
$(NOISE_JIT): $(STAMP) packages/nb-core/src/nb_core/_noise_jit.py
	@$(PY) -c "import numpy as n; from nb_core.noise import poisson_noise_image as p; p(n.ones((2, 2), n.float32), seed=1, compiled=True)"
	@touch $@

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
