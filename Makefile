# pgstampede — `make demo` runs the quick start, `make test` runs the whole test suite (as CI
# does), `make test-fast` the fast tier (unit tests and a few end-to-end ones, under 3
# minutes here), `make bench` runs the benchmarks (BENCH_ARGS=--quick for a short pass) and prints their goals.
# `setup` is idempotent: it installs only what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
SCENARIO ?= scenarios/quickstart.toml
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: setup system-packages browser demo test test-fast bench lint typecheck docs clean-runs

setup: system-packages $(VENV)/.installed

system-packages:
	@need=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	{ command -v pgbouncer || test -x /usr/sbin/pgbouncer; } >/dev/null 2>&1 || need="$$need pgbouncer"; \
	{ command -v pgpool || test -x /usr/sbin/pgpool; } >/dev/null 2>&1 || need="$$need pgpool2"; \
	{ command -v ip || test -x /usr/sbin/ip; } >/dev/null 2>&1 || need="$$need iproute2"; \
	$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || need="$$need python3-venv"; \
	command -v node >/dev/null 2>&1 || need="$$need nodejs"; \
	command -v npm >/dev/null 2>&1 || need="$$need npm"; \
	if [ -n "$$need" ]; then \
	  echo "installing Debian packages:$$need"; \
	  $(APT) update -q && $(APT) install -y -q --no-install-recommends $$need; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (browser test of the report)"; \
	  $(APT) update -q && $(APT) install -y -q --no-install-recommends chromium; }

demo: setup
	$(BIN)/pgstampede run $(SCENARIO)

test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the fast tier on every core (pytest-xdist; a module's tests stay on one worker, so its
# module fixtures are built once); the whole suite runs one test at a time, as CI does
test-fast: setup
	$(BIN)/python -m pytest -m fast --hypothesis-profile=fast -n auto --dist loadfile $(PYTEST_ARGS)

bench: setup
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (benchmarks)"; \
	  $(APT) update -q && $(APT) install -y -q --no-install-recommends wrk; }
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check harness targets tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck:
	$(BIN)/mypy

# docs/reference/ and the generated blocks of README.md and docs/ from the code; then lists any
# doc naming a flag, scenario key or metric that does not exist (tests/unit/test_docs.py)
docs: $(VENV)/.installed
	$(BIN)/python -m harness.docs

clean-runs:
	$(BIN)/pgstampede clean
