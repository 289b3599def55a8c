# q2-aam: every target bootstraps itself (scripts/bootstrap.sh is idempotent).
#   make test                 # pytest suite (unit + Artifact API + qiime CLI),
#                             # then tests/core+bench on the newest stack (test-newest)
#   make test NEWEST=0        # the Debian QIIME 2 venv only
#   make test-newest          # tests/core + tests/bench in .venv-newest (newest numpy, pandas,
#                             # scikit-bio, torch; no QIIME 2)
#   make newest-refresh       # re-resolve the newest releases, rewrite
#                             # scripts/newest-stack.txt, rebuild .venv-newest
#   make test-rachis          # tests/plugin in .venv-rachis: rachis 2026.4 (QIIME 2
#                             # 2026.4's framework), pandas 2, numpy 2, scikit-bio 0.7,
#                             # Debian's 2022.11 plugins as stand-ins (not in `make test`;
#                             # docs/newest-qiime2.md)
#   make demo                 # CLI walk-through on examples/oral-age-mini
#   make bench                # throughput benchmark (writes benchmarks/results/)
#   make bench-accuracy       # accuracy vs random forest (long; BENCH_ARGS=...)
#   make bench-time           # time to a result: default recipe vs forest (~6 min)
#   make bench-scaling        # pretraining/prediction at 1k-100k samples (~15 min)
#   make gpu-check            # every CUDA path on one GPU (skips without CUDA)
#   make test TORCH_SPEC=2.13.0   # choose the torch version for a fresh venv
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
TORCH_SPEC ?= 2.13.0
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
NEWEST ?= 1
NEWEST_VENV ?= $(CURDIR)/.venv-newest
NEWEST_PYTEST_ARGS ?= $(PYTEST_ARGS)
RACHIS_VENV ?= $(CURDIR)/.venv-rachis
RACHIS_PYTEST_ARGS ?= $(PYTEST_ARGS)
RACHIS_ALL ?= 0
export VENV TORCH_SPEC NEWEST_VENV RACHIS_VENV

# The venv's bin first, so tests that call `qiime` get the venv's q2cli.
RUN := PATH="$(VENV)/bin:$$PATH"

.PHONY: all bootstrap bootstrap-newest test test-newest newest-refresh demo bench \
	bootstrap-rachis test-rachis rachis-refresh \
	bench-accuracy bench-time bench-scaling gpu-check example-data clean distclean

all: test

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	$(RUN) $(PYTHON) -m pytest tests -ra $(PYTEST_ARGS)
ifneq ($(NEWEST),0)
	@$(MAKE) --no-print-directory test-newest
endif

# The newest numpy/pandas/scipy/scikit-bio/biom-format/h5py/torch, pip only,
# isolated from Debian's packages (scripts/newest-stack.txt has the versions).
bootstrap-newest:
	bash scripts/bootstrap-newest.sh

# aam_core, the `aam` command and the benchmark helpers import no QIIME 2:
# tests/core and tests/bench run there (tests/conftest.py leaves out what
# needs QIIME 2; the one test that round-trips through `qiime` skips).
test-newest: bootstrap-newest
	PATH="$(NEWEST_VENV)/bin:$$PATH" $(NEWEST_VENV)/bin/python -m pytest tests/core tests/bench \
	    -ra -p no:cacheprovider $(NEWEST_PYTEST_ARGS)

newest-refresh:
	bash scripts/bootstrap-newest.sh --refresh

# rachis 2026.4.0 (the framework of QIIME 2 2026.4) with the newest numpy,
# pandas 2, scikit-bio and torch, pip only; Debian's 2022.11 plugins are
# copied in as stand-ins (bootstrap first: it installs them). Versions in
# scripts/rachis-stack.txt; what passes and why the rest fails:
# docs/newest-qiime2.md.
bootstrap-rachis: bootstrap
	bash scripts/bootstrap-rachis.sh

# The tests of scripts/rachis-known-failures.txt (each with its cause, all in
# the stand-in plugins) are left out unless RACHIS_ALL=1.
RACHIS_DESELECT := $(shell sed -n 's/^\(tests\/[^ \#]*\).*/--deselect \1/p' \
    scripts/rachis-known-failures.txt 2>/dev/null)
test-rachis: bootstrap-rachis
	PATH="$(RACHIS_VENV)/bin:$$PATH" $(RACHIS_VENV)/bin/python -m pytest tests/plugin \
	    -ra -p no:cacheprovider $(if $(filter 0,$(RACHIS_ALL)),$(RACHIS_DESELECT)) \
	    $(RACHIS_PYTEST_ARGS)

rachis-refresh: bootstrap
	bash scripts/bootstrap-rachis.sh --refresh

demo: bootstrap
	$(RUN) bash scripts/demo.sh

# Training throughput and memory (a few minutes).
bench: bootstrap
	$(RUN) $(PYTHON) -m benchmarks.throughput

# q2-aam vs the random forest, 5-fold grouped CV on ../shared/data/oral-age (long).
bench-accuracy: bootstrap
	$(RUN) $(PYTHON) -m benchmarks.accuracy --jobs 2 $(BENCH_ARGS)

# The default recipe end to end beside q2-sample-classifier's forest, by phase.
bench-time: bootstrap
	$(RUN) $(PYTHON) -m benchmarks.time_to_result $(BENCH_ARGS)

# Resampled tables up to 100,000 samples: epoch time, memory, prediction.
bench-scaling: bootstrap
	$(RUN) $(PYTHON) -m benchmarks.scaling $(BENCH_ARGS)

# fp32 / bf16 / fp16 / compile / batch cap on one CUDA GPU (exit 0 without one).
gpu-check: bootstrap
	$(RUN) $(PYTHON) -m benchmarks.gpu_check $(BENCH_ARGS)

example-data: bootstrap
	$(PYTHON) scripts/make_example_data.py

# Generated files; keeps the venv (rebuilding it reinstalls torch).
clean:
	rm -rf demo-output build dist .pytest_cache *.egg-info
	find . \( -path ./.venv -o -path ./.venv-newest -o -path ./.venv-rachis \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also the venv: the next target rebuilds it from scratch.
distclean: clean
	rm -rf $(VENV) $(NEWEST_VENV) $(RACHIS_VENV)
