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

.PHONY: demo test test-fast browser bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	@$(PY) -m pip install -q -e ".[test]"
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
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
