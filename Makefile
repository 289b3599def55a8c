# q2-aam: every target bootstraps itself (scripts/bootstrap.sh is idempotent).
#   make test                 # pytest suite (unit + Artifact API + qiime CLI)
#   make demo                 # CLI walk-through on examples/oral-age-mini
#   make bench                # benchmarks (writes benchmarks/results/)
#   make test TORCH_SPEC=2.13.0   # choose the torch version for a fresh venv
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
TORCH_SPEC ?= 2.13.0
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_SCRIPT ?= benchmarks/run.py
export VENV TORCH_SPEC

# The venv's bin first, so tests that call `qiime` get the venv's q2cli.
RUN := PATH="$(VENV)/bin:$$PATH"

.PHONY: all bootstrap test demo bench example-data clean distclean

all: test

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	$(RUN) $(PYTHON) -m pytest tests -ra $(PYTEST_ARGS)

demo: bootstrap
	$(RUN) bash scripts/demo.sh

bench: bootstrap
	@test -f $(BENCH_SCRIPT) || { echo "no $(BENCH_SCRIPT) yet" >&2; exit 1; }
	$(RUN) $(PYTHON) $(BENCH_SCRIPT)

example-data: bootstrap
	$(PYTHON) scripts/make_example_data.py

# Generated files; keeps the venv (rebuilding it reinstalls torch).
clean:
	rm -rf demo-output build dist .pytest_cache *.egg-info
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also the venv: the next target rebuilds it from scratch.
distclean: clean
	rm -rf $(VENV)
