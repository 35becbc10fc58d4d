"""`make build` (readout build) does not run dbt when nothing it reads has changed since the last successful
build, and runs it as soon as something has (here a landing file rewritten: its mtime moves). And the readout
history (issue 12): every build appends its readout, `--full-refresh` keeps what is there, and two builds of the
same data and code are compared as 'nothing moved'."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest
from e2e import build_log_rows, project_env, query, readout

HISTORY = "history.fct_readout_history"


@pytest.fixture(scope="module")
def refreshed(clean_rebuild, tmp_path_factory) -> dict:
    """The shared rebuild (tests/integration/conftest.py: the clean landing zone and warehouse copied, a
    ``readout build`` that found nothing changed, a full refresh), copied again and carried on: a build after the
    full refresh, one after a landing file is touched, and one more."""
    root = tmp_path_factory.mktemp("build_skips")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copytree(clean_rebuild["landing"], landing)  # copy2: modification times are kept
    shutil.copy2(clean_rebuild["warehouse"], warehouse)
    env = project_env(landing, warehouse)
    steps = {key: clean_rebuild[key] for key in ("log_rows_at_start", "skipped", "log_rows_after_skip", "full_refresh")}
    steps["skipped_after_full_refresh"] = readout("build", env=env).stdout
    touched = sorted((landing / "events").rglob("*.parquet"))[0]
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    steps["after_touch"] = readout("build", env=env).stdout
    steps["log_rows_at_end"] = build_log_rows(warehouse)
    steps["skipped_at_end"] = readout("build", env=env).stdout
    return {"warehouse": warehouse, **steps}


def test_a_refresh_with_nothing_changed_skips_dbt(refreshed):
    assert "nothing changed since build" in refreshed["skipped"], refreshed["skipped"]
    assert refreshed["log_rows_after_skip"] == refreshed["log_rows_at_start"]  # dbt did not run: no log row
    assert "nothing changed since build" in refreshed["skipped_after_full_refresh"]  # the full refresh was recorded


def test_a_changed_input_runs_dbt_and_that_build_is_recorded(refreshed):
    assert "nothing changed" not in refreshed["full_refresh"] + refreshed["after_touch"]
    # the full refresh and the refresh after the touch: two dbt invocations each (write and audit, then the
    # status and publishing: readout build), a started and a finished row per invocation
    assert refreshed["log_rows_at_end"] == refreshed["log_rows_after_skip"] + 8
    assert "nothing changed since build" in refreshed["skipped_at_end"]


def test_every_build_appends_its_readout_and_a_full_refresh_keeps_the_history(refreshed):
    warehouse = refreshed["warehouse"]
    builds = query(
        warehouse,
        f"select build_id, count(*) as n from {HISTORY} where record_type = 'metric_result' "
        "group by build_id order by min(built_at)",
    )
    results = int(query(warehouse, "select count(*) as n from marts.fct_metric_results").n[0])
    assert len(builds) == 3 and set(builds.n) == {results}  # the fixture's build, the full refresh, the refresh
    latest = query(
        warehouse,
        f"""
        select count(*) as n from {HISTORY} as history
        inner join marts.fct_metric_results as results using (experiment_id, experiment_version, population,
                                                                variant_id, metric_id, estimator)
        where history.build_id = '{builds.build_id.iloc[-1]}'
            and history.relative_lift is not distinct from results.relative_lift
            and history.p_value is not distinct from results.p_value
            and history.readout_status = results.readout_status""",
    )
    assert int(latest.n[0]) == results


def test_two_builds_of_the_same_data_and_code_changed_nothing(refreshed):
    changes = query(
        refreshed["warehouse"],
        "select row_change, change_cause, has_moved, units_added, "
        "is_significance_flip, is_status_flip from history.fct_readout_changes",
    )
    assert len(changes) > 0
    assert set(changes.row_change) == {"compared"} and set(changes.change_cause) == {"none"}
    assert not changes.has_moved.any() and (changes.units_added == 0).all()
    assert not changes.is_significance_flip.any() and not changes.is_status_flip.any()


def test_readout_history_lists_the_builds_and_exports_every_row(refreshed, tmp_path):
    warehouse = refreshed["warehouse"]
    env = project_env(warehouse.parent / "landing", warehouse)
    listed = readout("history", "--warehouse", str(warehouse), env=env).stdout.splitlines()
    assert listed[0] == "3 builds in the readout history (oldest first):"
    assert len([line for line in listed if " build " in line]) == 3
    assert listed[-1].startswith("since the previous build: 0 of ") and "results moved;" in listed[-1]
    out = tmp_path / "history.parquet"
    readout("history", "--warehouse", str(warehouse), "--export", str(out), env=env)
    rows = int(query(warehouse, f"select count(*) as n from {HISTORY}").n[0])
    exported = duckdb.connect().execute(f"select count(*) from read_parquet('{out}')").fetchone()[0]
    assert exported == rows > 0
    missing = readout("history", "--warehouse", str(tmp_path / "none.duckdb"), env=env, check=False)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
