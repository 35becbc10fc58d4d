# readout: two commands. `make demo` installs everything and runs the main job; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := demo

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

.PHONY: install demo build rebuild test bench clean

$(VENV)/.installed: requirements.lock python/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing pinned dependencies into $(VENV) (first run only)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e python
	@touch $@

install: $(VENV)/.installed

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

# `make build` is incremental: staging reads only the landing files no build has read yet (a changed or deleted
# one is an error naming it), and when nothing changed at all (no new landing file, no edited model, seed, macro
# or setting) dbt is not run: the marts are current. `make rebuild` starts over (--full-refresh); both publish
# identical marts. FORCE=1 runs dbt anyway; DBT_FLAGS="--select ..." passes arguments to dbt build.
build: install
	@mkdir -p $(dir $(READOUT_DUCKDB_PATH))
	@readout build $(BUILD_FLAGS) $(if $(FORCE),--force) $(if $(DBT_FLAGS),-- $(DBT_FLAGS))

rebuild: build

test: install
	@readout contracts generate --check
	@pytest -q

# Not part of `make test`: simulates, builds and times 1M, 10M and 100M events (`make bench EVENTS=N`: one
# size; BENCH_ARGS="--pandas --skip raw_validation ...": see `python scripts/bench.py --help`) into build/bench/
# and writes target/bench.json.
BENCH_SIZES ?= 1000000 10000000 100000000
bench: install
	@$(BIN)/python scripts/bench.py $(if $(filter file,$(origin EVENTS)),$(BENCH_SIZES),$(EVENTS)) $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse data build
