"""Issue 4: incremental builds over several simulated days with late events equal a full refresh, row
for row, when the lookback covers the lateness; late events beyond the lookback are not lost silently
(the conservation test fails and names the source system)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from e2e import dbt, dbt_build, project_env, query, readout

SEED = 11
EVENTS = "80000"
#: Days the scheduled runs happen on (as if each ran at 06:00 UTC on that day).
RUN_DAYS = [dt.date(2026, 1, 20) + dt.timedelta(days=6 * i) for i in range(6)]
STAGED = "staging.stg_landing__events"
DOWNSTREAM = ["marts.fct_experiment_units", "marts.fct_variant_metric_stats"]


def simulate(landing, env, as_of=None):
    args = ["simulate", "--seed", str(SEED), "--events", EVENTS, "--out", str(landing), "--quiet", "--force"]
    if as_of is not None:
        args += ["--as-of", as_of.isoformat() + "T06:00:00Z"]
    readout(*args, env=env)


def run_incrementally(root, lookback_days: int):
    """Land the data as it stood on each run day and run the incremental model the way a daily
    schedule would have: each run re-processes `lookback_days` of batches before the run day."""
    landing, warehouse = root / "landing", root / "incremental.duckdb"
    env = project_env(landing, warehouse)
    vars_flag = ["--vars", f"{{lookback_days: {lookback_days}}}"]

    def run_staging(start: dt.date, end: dt.date) -> None:
        dbt(
            "run", "--select", "stg_landing__events_checked", "stg_landing__events",
            "--event-time-start", start.isoformat(), "--event-time-end", end.isoformat(),
            *vars_flag, landing=landing, warehouse=warehouse,
        )

    simulate(landing, env, as_of=RUN_DAYS[0])
    dbt_build(landing, warehouse, *vars_flag)  # the first run: a full build as of the first day
    for previous, day in zip(RUN_DAYS, RUN_DAYS[1:]):
        simulate(landing, env, as_of=day)
        run_staging(previous - dt.timedelta(days=lookback_days), day + dt.timedelta(days=1))
    simulate(landing, env)  # everything that ever arrives
    run_staging(RUN_DAYS[-1] - dt.timedelta(days=lookback_days), dt.date(2026, 3, 1))
    return landing, warehouse


def max_lateness_days(warehouse) -> float:
    return float(
        query(warehouse, f"select max(epoch(received_at) - epoch(event_at)) / 86400.0 as days from {STAGED}").days[0]
    )


def read_all(warehouse, table) -> pd.DataFrame:
    return query(warehouse, f"select * from {table}")


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame, table: str) -> None:
    """Row for row and exact on every column, doubles included: the sums behind the statistics are
    exact (readout.exact_sum), so an incremental build publishes the same bits as a full refresh."""
    assert list(a.columns) == list(b.columns), table
    assert len(a) == len(b), f"{table}: {len(a)} rows vs {len(b)}"
    a = a.sort_values(list(a.columns), na_position="first").reset_index(drop=True)
    b = b.sort_values(list(b.columns), na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True, obj=table)


@pytest.fixture(scope="module")
def full_refresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    landing, warehouse = root / "landing", root / "full.duckdb"
    simulate(landing, project_env(landing, warehouse))
    dbt_build(landing, warehouse)
    return warehouse


def test_incremental_with_a_covering_lookback_equals_full_refresh(tmp_path, full_refresh):
    lookback = math.ceil(max_lateness_days(full_refresh)) + 1
    landing, warehouse = run_incrementally(tmp_path, lookback)
    late = query(full_refresh, f"select count(*) as n from {STAGED} where received_at > event_at + interval 4 day").n[0]
    assert late > 0, "the simulation should contain events later than the default lookback"
    # downstream tables are rebuilt from the incremental model, as a scheduled `dbt build` would
    dbt("build", "--exclude", "stg_landing__events_checked", "stg_landing__events", landing=landing, warehouse=warehouse)
    for table in [STAGED, *DOWNSTREAM]:
        assert_same_rows(read_all(warehouse, table), read_all(full_refresh, table), table)


def test_late_events_beyond_the_lookback_fail_the_conservation_test(tmp_path, full_refresh):
    landing, warehouse = run_incrementally(tmp_path, lookback_days=1)
    staged = query(warehouse, f"select count(*) as n from {STAGED}").n[0]
    assert staged < query(full_refresh, f"select count(*) as n from {STAGED}").n[0]
    result = dbt("test", "--select", "assert_landing_rows_conserved_per_source_system", landing=landing, warehouse=warehouse, check=False)
    assert result.returncode != 0
    assert "assert_landing_rows_conserved_per_source_system" in result.stdout and "FAIL" in result.stdout
