# readout: two commands. `make demo` installs everything and runs the main job; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := default

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SEED ?= 42
EVENTS ?= 1000000

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export DBT_PROFILES_DIR := $(CURDIR)
export READOUT_LANDING_PATH ?= data/landing
export READOUT_DUCKDB_PATH ?= warehouse/readout.duckdb
export PATH := $(BIN):$(PATH)

.PHONY: default help install install-dev install-spark lock lint docs demo build rebuild test test-spark bench clean

# `make` alone: says what it is about to do, then runs the demo
default:
	@echo "==> make (no target) runs \`make demo\`: installs on the first run (about a minute), simulates $(EVENTS) events,"
	@echo "    builds and refreshes the readout and prints it (about 2 minutes). \`make help\` lists every target."
	@$(MAKE) --no-print-directory demo

help:
	@echo "make              = make demo (says so first)"
	@echo "make demo         install if needed, simulate $(EVENTS) events with planted faults, build, refresh, print the readout"
	@echo "make test         every test (pytest on 2 workers: the package, dbt builds of simulated and real data, DuckDB vs Spark), make lint beside it"
	@echo "make test-spark   the DuckDB vs Spark equality test alone (Java 17; 3-4 min)"
	@echo "make lint         sqlfluff (dbt templater) over models, macros, tests, analyses; ruff check + format --check"
	@echo "make build        incremental build (readout build): only new landing files; nothing changed = dbt not run"
	@echo "make build TARGET=spark   the same on a local Spark (Java 17; installs requirements-spark.lock; docs/spark.md)"
	@echo "make rebuild      full rebuild (--full-refresh) of the warehouse; the history is kept"
	@echo "make bench        time 1M, 10M and 100M events (EVENTS=N: one size); not part of make test"
	@echo "make docs         dbt's documentation as one file that opens offline (after make demo; GX Data Docs: build/gx_docs)"
	@echo "make install      create .venv and install requirements.lock with --require-hashes (the demo's needs)"
	@echo "make install-dev  install requirements-dev.lock too (tests and lint; make test and make lint do this)"
	@echo "make install-spark install requirements-spark.lock too (dbt-spark, PySpark; make build TARGET=spark does this)"
	@echo "make lock         regenerate the hashed locks from requirements.in, requirements-spark.in and requirements-dev.in (uv)"
	@echo "make clean        remove target, logs, warehouse, data and build"
	@echo "make help         this list"

# The installer is uv, hash-pinned in requirements-tools.lock and installed into its own venv (build/tools: never the
# project's, whose packages are exactly the lock's). It installs the lock and nothing else: every package pinned with
# its hashes (--require-hashes: a file whose hash differs is refused), none resolved beyond it (--no-deps: the lock is
# complete); `pip check` then proves the set is consistent. It lists each package it installs and the time taken. The
# local package goes in last without dependencies. uv downloads and unpacks in parallel: `make install-dev` from a
# fresh clone took 43 s here with a warm uv cache and 69 s with an empty one, against 89 s for pip with a warm cache.
# --compile-bytecode: these machines set PYTHONDONTWRITEBYTECODE=1, so a module not compiled at install would be
# compiled again by every process that imports it (dbt, GX, pandas and scipy: 9.8 s of CPU instead of 3.0 s).
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-tools.lock)
TOOLS := build/tools
UV := $(TOOLS)/bin/uv
UV_PIP = $(UV) pip install --python $(BIN)/python --no-deps
UV_INSTALL = $(UV_PIP) --require-hashes --compile-bytecode
PIP_CHECK = $(BIN)/python -m pip check --disable-pip-version-check

$(UV): requirements-tools.lock
	@echo "==> installing uv $(UV_VERSION) (the installer, requirements-tools.lock) into $(TOOLS)"
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-tools.lock
	@touch $@

$(VENV)/.installed: requirements.lock python/pyproject.toml
	@$(MAKE) --no-print-directory --silent $(UV)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing requirements.lock ($$(grep -c '^[a-zA-Z]' requirements.lock) packages, pinned with hashes) into $(VENV) (first run only)"
	@start=$$SECONDS; $(UV_INSTALL) -r requirements.lock \
		&& $(UV_PIP) --no-build-isolation -e python \
		&& $(PIP_CHECK) >/dev/null \
		&& echo "==> installed in $$((SECONDS - start)) s"
	@touch $@

install: $(VENV)/.installed

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	@$(MAKE) --no-print-directory --silent $(UV)
	@echo "==> installing requirements-dev.lock (tests and lint: $$(grep -c '^[a-zA-Z]' requirements-dev.lock) packages, the runtime ones included)"
	@start=$$SECONDS; $(UV_INSTALL) -r requirements-dev.lock && $(PIP_CHECK) \
		&& echo "==> installed in $$((SECONDS - start)) s"
	@touch $@

install-dev: $(VENV)/.installed-dev

# The Spark target's packages (dbt-spark, PySpark: about 450 MB), for `make build TARGET=spark`; requirements-dev.lock
# holds them too. Java 17 comes from the system (docs/spark.md).
$(VENV)/.installed-spark: requirements-spark.lock $(VENV)/.installed
	@$(MAKE) --no-print-directory --silent $(UV)
	@echo "==> installing requirements-spark.lock (the Spark target: $$(grep -c '^[a-zA-Z]' requirements-spark.lock) packages, the runtime ones included)"
	@start=$$SECONDS; $(UV_INSTALL) -r requirements-spark.lock && $(PIP_CHECK) \
		&& echo "==> installed in $$((SECONDS - start)) s"
	@touch $@

install-spark: $(VENV)/.installed-spark

# `make lock` re-resolves requirements-dev.in (which includes requirements-spark.in, which includes requirements.in)
# into requirements-dev.lock, then requirements.in into requirements.lock and requirements-spark.in into
# requirements-spark.lock within it (same versions, same hashes). Existing pins are kept unless a
# requirement changed; LOCK_FLAGS="--upgrade-package NAME" (or --upgrade) moves them. uv runs from its own venv
# (build/tools), never the project's; requirements-tools.lock pins it (edit the version there, then make lock to
# regenerate its hashes too).
LOCK_COMPILE = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --custom-compile-command "make lock"
lock: $(UV)
	@$(LOCK_COMPILE) requirements-tools.in -o requirements-tools.lock
	@$(LOCK_COMPILE) $(LOCK_FLAGS) requirements-dev.in -o requirements-dev.lock
	@$(LOCK_COMPILE) $(LOCK_FLAGS) requirements.in -c requirements-dev.lock -o requirements.lock
	@$(LOCK_COMPILE) $(LOCK_FLAGS) requirements-spark.in -c requirements-dev.lock -o requirements-spark.lock
	@echo "==> requirements.lock: $$(grep -c '^[a-zA-Z]' requirements.lock) packages; requirements-spark.lock: $$(grep -c '^[a-zA-Z]' requirements-spark.lock); requirements-dev.lock: $$(grep -c '^[a-zA-Z]' requirements-dev.lock); make install-dev installs them"

# sqlfluff (config: .sqlfluff, .sqlfluffignore) with the dbt templater compiles the project into its own target and
# warehouse under build/lint, so it never touches the demo's; ruff (config: python/pyproject.toml). Every check runs;
# the target fails if any failed.
LINT_SQL := models macros tests analyses
LINT_PY := python tests
# sqlfluff's processes: two when `make lint` runs alone (the wall time: 125 s here with two, 145 s with one, on a slow
# day); one when `make test` runs it beside the suite, where the CPU is what counts (sqlfluff 146 s of it with one
# process; the whole `make lint` 198 s with two)
LINT_PROCESSES ?= 2
LINT_ENV := READOUT_DUCKDB_PATH=build/lint/lint.duckdb DBT_TARGET_PATH=build/lint/target DBT_LOG_PATH=build/lint/logs
# models that read a seed while compiling (the metric catalog) need it in the linter's warehouse
build/lint/lint.duckdb: $(wildcard seeds/*.csv) | $(VENV)/.installed-dev
	@echo "==> dbt seed into $@ (the models sqlfluff compiles read the seeds)"
	@mkdir -p build/lint && rm -f $@ && $(LINT_ENV) dbt seed --quiet
lint: install-dev build/lint/lint.duckdb
	@echo "==> sqlfluff lint $(LINT_SQL) (the dbt templater compiles the project first: 1-4 minutes; macros are skipped, dbt compiles none alone)"
	@status=0; start=$$SECONDS; \
	$(LINT_ENV) sqlfluff lint --processes $(LINT_PROCESSES) $(LINT_SQL) || status=1; \
	echo "==> ruff check $(LINT_PY)"; ruff check $(LINT_PY) || status=1; \
	echo "==> ruff format --check $(LINT_PY)"; ruff format --check $(LINT_PY) || status=1; \
	if [ $$status -ne 0 ]; then echo "==> lint failed ($$((SECONDS - start)) s): to fix what can be fixed: ruff format $(LINT_PY); ruff check --fix $(LINT_PY); sqlfluff fix $(LINT_SQL)"; \
	else echo "==> lint passed ($$((SECONDS - start)) s)"; fi; exit $$status

# The demo is a timeline: the landing zone as it stood mid-experiment is built (every readout provisional, and
# says why), then the rest of the data lands as new files (late events included) and an incremental build
# refreshes it (readouts confirmed, or held back by the alarms the planted faults raise); the history says what
# changed between the two builds.
DEMO_MIDPOINT ?= 2026-02-06T00:00:00Z
DEMO_END ?= 2026-02-23T12:00:00Z
DEMO_FROZEN ?= exp_checkout_button
# the demo freezes a readout into its own copy of the records (readouts/ holds the committed ones)
demo: export READOUT_RECORDS_DIR := build/demo/readouts
demo: install
	@echo "==> a fresh start: the demo rebuilds $(READOUT_DUCKDB_PATH) (its history included) from a new landing zone"
	@rm -f $(READOUT_DUCKDB_PATH) $(READOUT_DUCKDB_PATH).wal
	@echo "==> simulating $(EVENTS) events (seed $(SEED)) as they had landed by $(DEMO_MIDPOINT), into $(READOUT_LANDING_PATH)"
	@readout simulate --seed $(SEED) --events $(EVENTS) --as-of $(DEMO_MIDPOINT) --out $(READOUT_LANDING_PATH)
	@echo "==> raw data contracts (landing zone)"
	@readout contracts validate --stage raw --landing $(READOUT_LANDING_PATH) --as-of manifest --full
	@rm -rf $(READOUT_RECORDS_DIR) && mkdir -p $(READOUT_RECORDS_DIR) && cp readouts/*.csv $(READOUT_RECORDS_DIR)/
	@$(MAKE) --no-print-directory rebuild
	@echo
	@readout history
	@echo
	@echo "==> a decision is taken on $(DEMO_FROZEN) v1 as it stands: readout freeze (into $(READOUT_RECORDS_DIR))"
	@readout freeze $(DEMO_FROZEN) --version 1 --by "make demo" --reason "decision at the mid-experiment review (demo)"
	@echo "==> the rest of the data lands (readout simulate --append to $(DEMO_END): new files, late events included)"
	@readout simulate --append --as-of $(DEMO_END) --out $(READOUT_LANDING_PATH)
	@echo "==> raw data contracts (the new files; the others are remembered)"
	@readout contracts validate --stage raw --landing $(READOUT_LANDING_PATH) --as-of manifest
	@$(MAKE) --no-print-directory build
	@echo "==> mart data contracts (the demo plants faults on purpose: their alarms are reported, not fatal)"
	@readout contracts validate --stage marts --warehouse $(READOUT_DUCKDB_PATH) --fail-on never
	@echo
	@readout report
	@echo
	@readout history
	@echo
	@echo "landing zone: $(READOUT_LANDING_PATH) (ground truth and planted faults: $(READOUT_LANDING_PATH)/manifest.json)"
	@echo "warehouse:    $(READOUT_DUCKDB_PATH) (readout: published.fct_metric_results, published.fct_sample_ratio_checks; history: history.fct_readout_history, history.fct_readout_changes)"
	@rm -rf build/report && readout report --html build/report

# dbt's documentation site as one file that opens from disk with no network (`dbt docs generate --static`, then
# readout.dbt_docs rewrites its two links that would fail offline). The catalog reads the warehouse: make demo first.
docs: install
	@test -f $(READOUT_DUCKDB_PATH) || { echo "error: no warehouse at $(abspath $(READOUT_DUCKDB_PATH)): run make demo first"; exit 2; }
	@echo "==> dbt docs generate --static (about 30 s)"
	@dbt docs generate --static --quiet
	@$(BIN)/python -m readout.dbt_docs $${DBT_TARGET_PATH:-target}/static_index.html
	@echo "GX Data Docs (written by the contract validations of make demo): build/gx_docs/raw/index.html, build/gx_docs/marts/index.html"

# `make build` is incremental: staging reads only the landing files no build has read yet (a changed or deleted
# one is an error naming it), and when nothing changed at all (no new landing file, no edited model, seed, macro
# or setting) dbt is not run: the marts are current. `make rebuild` starts over (--full-refresh); both publish
# identical marts. FORCE=1 runs dbt anyway; DBT_FLAGS="--select ..." passes arguments to dbt build.
# TARGET=spark builds on a local Spark instead (profiles.yml `spark`, docs/spark.md: Java 17, the Spark lock, tables
# under READOUT_SPARK_DIR, default build/spark): dbt, `readout infer` for the statistics, dbt again; never skipped.
TARGET ?=
build: install $(if $(filter spark,$(TARGET)),install-spark)
	@mkdir -p $(dir $(READOUT_DUCKDB_PATH))
	@readout build $(if $(TARGET),--target $(TARGET)) $(BUILD_FLAGS) $(if $(FORCE),--force) $(if $(DBT_FLAGS),-- $(DBT_FLAGS))

rebuild: BUILD_FLAGS := --full-refresh
rebuild: build

# The suite runs on TEST_WORKERS processes (pytest-xdist), a test module on one worker (its module fixtures built
# once), the longest modules first (tests/integration/conftest.py: LONGEST_FIRST); the builds several modules
# share are built once for the run, by the first worker that needs them.
TEST_WORKERS ?= 2
# The DuckDB vs Spark equality test (tests/integration/test_spark_equality.py) is part of it: it needs Java 17
# (.ci/run installs it; without Java it skips, saying so, unless READOUT_REQUIRE_SPARK is set).
# The linters run beside the suite, not before it: the suite keeps both cores busy, so the lint's CPU costs it
# less than the lint's own wall time before it did (make lint took 1-2 minutes of the run on its own). Their output
# goes to build/lint/test.log and is printed when the suite is done; either failing fails `make test`. The lint's
# make is called as `make`, not $(MAKE): a recipe line naming $(MAKE) runs even under `make -n`, suite and all.
test: install-dev
	@readout contracts generate --check
	@mkdir -p build/lint; \
	make --no-print-directory lint LINT_PROCESSES=1 > build/lint/test.log 2>&1 & lint=$$!; \
	trap 'kill $$lint 2>/dev/null' INT TERM; \
	echo "==> make lint runs beside the tests (its output: build/lint/test.log, printed when both are done)"; \
	pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "==> make lint (run beside the tests):"; cat build/lint/test.log; \
	if [ $$tests -ne 0 ] || [ $$linted -ne 0 ]; then \
		echo "==> make test failed:$$( [ $$tests -ne 0 ] && echo ' tests')$$( [ $$linted -ne 0 ] && echo ' lint')"; exit 1; \
	fi

# The DuckDB vs Spark equality test alone (one landing zone built on both targets, every public mart compared row
# for row, the crafted staging cases among its files): 3-4 minutes here. Needs Java 17 (docs/spark.md).
test-spark: install-dev
	@READOUT_REQUIRE_SPARK=1 pytest -q -s -m spark tests/integration/test_spark_equality.py

# Not part of `make test`: simulates, builds and times 1M, 10M and 100M events (`make bench EVENTS=N`: one
# size; BENCH_ARGS="--pandas --skip raw_validation ...": see `python scripts/bench.py --help`) into build/bench/
# and writes target/bench.json.
BENCH_SIZES ?= 1000000 10000000 100000000
bench: install
	@$(BIN)/python scripts/bench.py $(if $(filter file,$(origin EVENTS)),$(BENCH_SIZES),$(EVENTS)) $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse data build
