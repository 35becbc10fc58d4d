"""Builds that several integration modules read, made once per test session (a dbt build costs 15-40 s on
two cores, so modules share them rather than each building its own):

- ``clean_simulation``: a simulation with no fault (seed 5, 40,000 events), validated against the raw and
  mart contracts; the fault matrix's baseline (no alarm may fire on it), the volume checks' clean side and
  the first of the two builds the byte-identical-rebuild test compares.
- ``clean_rebuild``: the clean landing zone built a second time, into another warehouse, for the
  byte-identical-rebuild checks.
- ``imported_simulation``: the Udacity and Cookie Cats exports imported (``readout import``) and built: a
  warehouse with only imported experiments.
- ``all_faults_simulation``: every simulator fault (seed 5, 100,000 events: variant_logging_loss needs about
  this many units) plus a one-day iOS outage in one variant (tests/integration/faults.py), built and
  validated against the mart contracts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e import PROJECT, SHARED_DATA, build, dbt_build, project_env, readout, simulate
from faults import OUTAGE, plant_variant_platform_outage

from readout.contracts import load_contracts
from readout.contracts.validate import resolve_as_of, validate

CLEAN_EVENTS = 40_000
ALL_FAULTS_EVENTS = 100_000
CONTRACTS = load_contracts(PROJECT / "contracts")


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shared_builds")


@pytest.fixture(scope="session")
def clean_simulation(shared_root) -> dict:
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
    dbt_status, _ = build(landing, warehouse)
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
def clean_rebuild(shared_root, clean_simulation) -> Path:
    warehouse = shared_root / "clean_rebuild.duckdb"
    dbt_status, _ = build(clean_simulation["landing"], warehouse)
    assert dbt_status.startswith("pass"), dbt_status
    return warehouse


@pytest.fixture(scope="session")
def all_faults_simulation(shared_root) -> dict:
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
    landing, warehouse = shared_root / "imports", shared_root / "imports.duckdb"
    env = project_env(landing, warehouse)
    for mapping, export in exports.items():
        readout(
            "import", str(PROJECT / "mappings" / mapping), "--file", str(export), "--landing", str(landing), env=env
        )
    dbt_build(landing, warehouse)
    return warehouse
