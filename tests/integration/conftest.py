"""Builds that several integration modules read, made once per test run (a dbt build costs 15-40 s on two
cores, so modules share them rather than each building its own). Under pytest-xdist the first worker that needs
one builds it, holding a lock, and the others wait for it and reuse it (``once_per_run``): the modules read the
shared warehouses only, read-only; a test that writes copies it first.

- ``clean_simulation``: a simulation with no fault (seed 5, 40,000 events), validated against the raw and
  mart contracts; the fault matrix's baseline (no alarm may fire on it), the volume checks' clean side and
  the first of the two builds the byte-identical-rebuild test compares. Its build is the one that runs dbt's
  unit tests on DuckDB (``readout build --unit-tests``; the other builds leave them out, as a production
  build does; the Spark equality test runs them on Spark).
- ``clean_rebuild``: the clean landing zone and warehouse copied and built a second time (``readout build``,
  which skips dbt: nothing changed, then ``readout build --full-refresh``), for the byte-identical-rebuild checks;
  the no-change test (test_build_skips_when_nothing_changed.py) goes on from a copy of it.
- ``imported_simulation``: the Udacity and Cookie Cats exports imported (``readout import``) and built: a
  warehouse with only imported experiments.
- ``all_faults_simulation``: every simulator fault (seed 5, 100,000 events: variant_logging_loss needs about
  this many units) plus a one-day iOS outage in one variant (tests/integration/faults.py), built and
  validated against the mart contracts.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import e2e
import pytest
import spark_builds
from e2e import PROJECT, SHARED_DATA, build, build_log_rows, dbt_build, project_env, readout, simulate
from faults import OUTAGE, plant_variant_platform_outage

from readout import spark as readout_spark
from readout.contracts import load_contracts
from readout.contracts.validate import resolve_as_of, validate

#: the test modules that take longest (their own builds: on Spark, or several on DuckDB), longest first. pytest-xdist
#: hands modules to its workers in collection order (`make test` passes --no-loadscope-reorder, or xdist would put
#: the modules with the most tests first, which puts the four-test Spark module near the end), so these start at
#: once and the short ones fill in around them.
LONGEST_FIRST = (
    "test_contract_fault_matrix.py",
    "test_html_report.py",
    "test_incremental_late_data.py",
    "test_freeze_and_restate.py",
    "test_readout_status.py",
    "test_import_end_to_end.py",
    "test_simulated_end_to_end.py",
    "test_build_skips_when_nothing_changed.py",
)
#: ...and the DuckDB vs Spark equality module last: its builds run in the background from the start of the run
#: (spark_builds.py), beside the other modules, so the module only compares them, once they are done
LAST = "test_spark_equality.py"
CLEAN_EVENTS = 40_000
ALL_FAULTS_EVENTS = 100_000
CONTRACTS = load_contracts(PROJECT / "contracts")


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    rank[LAST] = len(rank) + 1
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: the others keep their order


def pytest_collection_finish(session) -> None:
    """The equality module's builds start now, in the background, when it is to run and Java is here (without
    Java its fixture skips or fails, saying why)."""
    if session.config.option.collectonly or not any(item.path.name == LAST for item in session.items):
        return
    if readout_spark.java_problem() is None:
        root = _shared_root(session.config._tmp_path_factory)
        once_per_run(root, "spark_builds", lambda: spark_builds.start(root / "spark_equality"))


def _shared_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared_builds"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory) -> Path:
    """One folder for the whole run: every xdist worker's base temp folder sits in the run's own."""
    return _shared_root(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def shared_parse_state(shared_root) -> Path:
    """dbt's parse state, shared by the run's builds of the project (e2e.parse_shared): the first build to finish
    leaves it here, and each later build on a target folder of its own starts from it."""
    e2e.PARSE_STATE = shared_root / "partial_parse.msgpack"
    return e2e.PARSE_STATE


def once_per_run(shared_root: Path, name: str, make: Callable[[], object]):
    """``make()`` run once for the whole test run: the first worker to get here runs it under a lock and leaves its
    result (pickled) beside the lock; a worker that waited reads it. If ``make`` fails, the next one tries again
    (and fails the same way, in its own tests)."""
    with open(shared_root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared_root / f"{name}.pickle"
        if done.exists():
            return pickle.loads(done.read_bytes())
        result = make()
        done.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="session")
def clean_simulation(shared_root) -> dict:
    return once_per_run(shared_root, "clean", lambda: _clean_simulation(shared_root))


def _clean_simulation(shared_root: Path) -> dict:
    landing = shared_root / "clean"
    manifest = simulate(landing, "none", CLEAN_EVENTS)
    raw = validate(
        "raw",
        CONTRACTS,
        names=["raw_events", "raw_experiments"],
        landing=landing,
        as_of=resolve_as_of("manifest", landing),
    )
    warehouse = shared_root / "clean.duckdb"
    dbt_status, _ = build(landing, warehouse, unit_tests=True)  # the suite's one DuckDB run of dbt's unit tests
    marts = validate("marts", CONTRACTS, warehouse=warehouse)
    return {
        "landing": landing,
        "manifest": manifest,
        "raw": raw,
        "warehouse": warehouse,
        "dbt": dbt_status,
        "marts": marts,
    }


@pytest.fixture(scope="session")
def clean_rebuild(shared_root, clean_simulation) -> dict:
    return once_per_run(shared_root, "clean_rebuild", lambda: _clean_rebuild(shared_root, clean_simulation))


def _clean_rebuild(shared_root: Path, clean_simulation: dict) -> dict:
    """The clean landing zone and warehouse copied (modification times kept), then ``readout build``, which finds
    nothing changed and does not run dbt, and ``readout build --full-refresh``, which rebuilds every model from the
    same landing files (the history is kept). Its outputs and build-log counts are kept for the no-change test."""
    root = shared_root / "rebuild"
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copytree(clean_simulation["landing"], landing)  # copy2: modification times are kept
    shutil.copy2(clean_simulation["warehouse"], warehouse)
    env = project_env(landing, warehouse)
    steps = {"landing": landing, "warehouse": warehouse, "log_rows_at_start": build_log_rows(warehouse)}
    steps["skipped"] = readout("build", env=env).stdout
    steps["log_rows_after_skip"] = build_log_rows(warehouse)
    steps["full_refresh"] = readout("build", "--full-refresh", env=env).stdout
    return steps


@pytest.fixture(scope="session")
def all_faults_simulation(shared_root) -> dict:
    return once_per_run(shared_root, "all_faults", lambda: _all_faults_simulation(shared_root))


def _all_faults_simulation(shared_root: Path) -> dict:
    landing = shared_root / "all"
    manifest = simulate(landing, "all", ALL_FAULTS_EVENTS)
    outage = plant_variant_platform_outage(landing, **OUTAGE)
    warehouse = shared_root / "all.duckdb"
    dbt_status, _ = build(landing, warehouse)
    marts = validate("marts", CONTRACTS, warehouse=warehouse)
    return {
        "landing": landing,
        "manifest": manifest,
        "outage": outage,
        "warehouse": warehouse,
        "dbt": dbt_status,
        "marts": marts,
    }


@pytest.fixture(scope="session")
def imported_simulation(shared_root) -> Path:
    """The two real exports of the shared data sets (Udacity, Cookie Cats) imported and built: a warehouse holding
    only imported experiments (skipped when the data sets are not found)."""
    exports = {
        "udacity_ab_data.yml": SHARED_DATA / "udacity_ab_data" / "ab_data.csv.gz",
        "cookie_cats.yml": SHARED_DATA / "cookie_cats" / "cookie_cats.csv",
    }
    if not all(path.exists() for path in exports.values()):
        pytest.skip(f"shared data sets not found under {SHARED_DATA}")
    return once_per_run(shared_root, "imported", lambda: _imported_simulation(shared_root, exports))


def _imported_simulation(shared_root: Path, exports: dict[str, Path]) -> Path:
    landing, warehouse = shared_root / "imports", shared_root / "imports.duckdb"
    env = project_env(landing, warehouse)
    for mapping, export in exports.items():
        readout(
            "import", str(PROJECT / "mappings" / mapping), "--file", str(export), "--landing", str(landing), env=env
        )
    dbt_build(landing, warehouse)
    return warehouse
