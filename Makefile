# duban — the two commands: `make run` and `make test` (plus `make bench` and `make soak`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Offline: `make wheelhouse` (with the index) writes every wheel duban needs to $(WHEELHOUSE); with
# DUBAN_WHEELHOUSE=<that directory> set, `make run` / `make test` install from it alone (--no-index).
WHEELHOUSE ?= wheelhouse
PIP_FROM   := $(if $(DUBAN_WHEELHOUSE),--no-index --find-links $(DUBAN_WHEELHOUSE),)
BOOTSTRAP  := 'pip>=25.3' 'setuptools>=78.1.1' wheel

.PHONY: run test lint typecheck pytest bench bench-peers soak install audit clean scale-out wheelhouse

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_FROM) --upgrade $(BOOTSTRAP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_FROM) -e '.[dev,bench]'
	@touch $(STAMP)

# Every wheel of duban and its dependencies (dev and bench included) plus pip, setuptools and wheel, for a
# machine without the package index: copy the directory over and set DUBAN_WHEELHOUSE (README "Operating duban").
wheelhouse:
	$(PYTHON) -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE) $(BOOTSTRAP) '.[dev,bench]'

install: $(STAMP)

run: $(STAMP)
	$(BIN)/duban run

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy core domain models tasks flows api cli notifications bench scripts simulation

# The suite runs in two processes (pytest-xdist; each with its own databases, temporary directory and Prefect
# server): about half the time of one. The multi-process tests (crash harness, process races, scale-out) share one
# xdist group, so they run one after another on one worker and never beside each other. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test: lint typecheck pytest

# B6's year against SpiffWorkflow at 1,000 townships takes hours on 2 CPUs: `make bench` leaves it out (its last
# figure is carried over in bench/results.json) and `make bench-peers` runs B6 whole.
bench: $(STAMP)
	BENCH_PEERS_YEAR=0 $(BIN)/python -m bench

bench-peers: $(STAMP)
	$(BIN)/python -m bench b6

# The process-level tests of `make test` at their large sizes (bench/soak.py, README "Reliability"): the crash
# harness × 20 cycles, 500+ races of 2-10 processes, schemathesis with 10,000+ cases, three campaign years simulated
# with every fault on. One table, written to bench/soak.json. SOAK_PARTS=crash,race runs only those parts.
SOAK_PARTS ?=
SOAK_JOBS  ?= 2

soak: $(STAMP)
	SOAK_PARTS='$(SOAK_PARTS)' SOAK_JOBS='$(SOAK_JOBS)' $(BIN)/python -m bench.soak

# PostgreSQL + Prefect server + a work-pool worker + 2 API processes (scripts/scale_out.py; README "Scaling out").
scale-out: $(STAMP)
	$(BIN)/python -m scripts.scale_out

# Known vulnerabilities in the installed packages, from PyPI's advisory data (needs network; findings: SECURITY.md).
# --strict: a package that could not be checked fails the audit instead of passing as "no known vulnerabilities".
audit: $(STAMP)
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(WHEELHOUSE)
