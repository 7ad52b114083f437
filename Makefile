# Two commands for a newcomer:  `make demo`  and  `make test`.
# Each creates (or reuses) a virtual environment and installs what it needs.
#
# torch: where the venv has none, install TORCH_SPEC (default: the CPU build
# torch==2.13.0). Choose another build with e.g.  make demo TORCH_SPEC="torch==2.5.1"
# An unpinned torch would pull several GB of CUDA packages onto a CPU machine.

VENV       ?= .venv
PYTHON     ?= python3
TORCH_SPEC ?= torch==2.13.0
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.latentatlas-installed

.PHONY: demo test test-fast durations lint browser bench clean-venv

# The suite on every core (pytest-xdist; a test file stays on one worker, so its module
# fixtures are built once), the 25 slowest printed so growth is seen.
PYTEST_JOBS ?= auto
PYTEST     := $(PY) -m pytest -q -n $(PYTEST_JOBS) --dist loadfile

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	@$(PY) -m pip install -q -e ".[test]"
	@# numba compiles pynndescent's and umap's cached kernels on first import (~15 s); do it once
	@# here, so that no run, demo or test process pays it again
	@$(PY) -c "import pynndescent, umap" 2>/dev/null || true
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/latentatlas run --preset demo --out runs/demo

# The report test drives a real headless browser (Debian's chromium); install it
# when we can (root with apt-get), else the test says why it cannot run.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "note: chromium not installed; the browser test of the report will be skipped"; }

test: $(STAMP) browser
	$(PYTEST) --durations=25

# The tests measured under a second (tests/durations.json; tests/conftest.py marks the rest slow).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# Measure every test again: the source of the slow marker.
durations: $(STAMP)
	$(PYTEST) --record-durations --durations=25

# The layers (import-linter's contracts in pyproject.toml) and ruff.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
