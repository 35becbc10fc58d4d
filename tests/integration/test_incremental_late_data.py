"""Issues 4 and 11: incremental ingestion by landing batch equals a full refresh, row for row.

A simulated timeline: the landing zone as it stood on each run day arrives as NEW immutable files holding only
the rows received since the previous run (the simulator rewrites events/ on each `--as-of`, so each snapshot's
new rows are copied into a batch file), late events of earlier days among them; the last batch also holds
retries and conflicting copies of events accepted in the first batch, days later. The first run is a full
build, the middle ones refresh staging only, the last one is a plain `dbt build` (no flag) of the whole
project. Everything, marts included, equals one full refresh of the final landing zone; every batch is
conserved (raw = staged + quarantined + duplicates per file); a refresh with no new file reads nothing; a
landing file changed or deleted after it was processed is a one-line error naming it.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e import dbt, project_env, query, readout

SEED = 11
EVENTS = "30000"
#: Days the scheduled runs happen on (as if each ran at 06:00 UTC that day); the last batch is everything.
RUN_DAYS = [dt.date(2026, 1, 25), dt.date(2026, 2, 5), dt.date(2026, 2, 14)]
RETRIES, CONFLICTS = 5, 3  #: copies of batch-1 events re-sent in the last batch
STAGING = [
    "staging.stg_landing__events",
    "staging.stg_landing__events_quarantined",
    "staging.stg_landing__event_duplicates",
]
DOWNSTREAM = [
    "intermediate.int_unit_metric_aggregates",
    "intermediate.int_unit_metric_values",
    "marts.fct_experiment_units",
    "marts.fct_variant_metric_stats",
    "marts.fct_metric_results",
    "marts.fct_sample_ratio_checks",
    "marts.fct_volume_checks",
]
#: columns that name the build, not the data
BUILD_COLUMNS = ["processed_invocation_id", "processed_at", "built_invocation_id", "files_processed_through"]


def simulate(out, as_of=None):
    args = ["simulate", "--seed", str(SEED), "--events", EVENTS, "--out", str(out), "--quiet", "--force"]
    if as_of is not None:
        args += ["--as-of", f"{as_of.isoformat()}T06:00:00Z"]
    readout(*args, env=project_env(out, out / "unused.duckdb"))


def new_rows(snapshot, previous) -> dict[str, pa.Table]:
    """Per events file of ``snapshot``: its rows not in the same file of ``previous`` (multiset difference)."""
    out = {}
    con = duckdb.connect()
    for path in sorted((snapshot / "events").glob("*.parquet")):
        table = pq.read_table(path)
        before = previous / "events" / path.name if previous else None
        if before is not None and before.exists():
            con.register("now_rows", table)
            con.register("old_rows", pq.read_table(before))
            table = (
                con.sql("select * from now_rows except all select * from old_rows").to_arrow_table().cast(table.schema)
            )
        if table.num_rows:
            out[path.name] = table
    con.close()
    return out


def land_batch(landing, batch: int, tables: dict[str, pa.Table]) -> None:
    for name, table in tables.items():
        pq.write_table(table, landing / "events" / f"batch-{batch:02d}-{name}")


def late_copies(landing) -> pa.Table:
    """Identical retries and conflicting copies of accepted batch-1 events, received ten days later."""
    first = pq.read_table(landing / "events" / "batch-01-part-00000.parquet")
    con = duckdb.connect()
    con.register("first", first)
    picked = con.sql(f"""
        select * from first
        where event_name = 'session_start' and event_id is not null and try_cast(received_at as timestamptz) is not null
        qualify count(*) over (partition by source_system, event_id) = 1
        order by event_id limit {RETRIES + CONFLICTS}""").to_arrow_table()
    rows = picked.to_pylist()
    for i, row in enumerate(rows):
        received = dt.datetime.fromisoformat(row["received_at"].replace("Z", "+00:00")) + dt.timedelta(days=10)
        row["received_at"] = received.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if i >= RETRIES:
            row["properties"] = '{"conflict": true}'
    con.close()
    return pa.Table.from_pylist(rows, schema=first.schema)


def build_timeline(root):
    landing, warehouse = root / "landing", root / "incremental.duckdb"
    snapshots = root / "snapshots"
    previous = None
    outputs = []
    for batch, day in enumerate([*RUN_DAYS, None], start=1):
        snapshot = snapshots / f"s{batch}"
        simulate(snapshot, as_of=day)
        if previous is None:
            shutil.copytree(snapshot, landing, ignore=shutil.ignore_patterns("events"))
            (landing / "events").mkdir()
        else:
            shutil.copy(
                snapshot / "experiments" / "experiments.parquet", landing / "experiments" / "experiments.parquet"
            )
        land_batch(landing, batch, new_rows(snapshot, previous))
        as_of = {"as_of": f"{day.isoformat()}T06:00:00Z"} if day else {}
        vars_flag = ["--vars", str(as_of)] if as_of else []
        if batch == 1:
            outputs.append(dbt("build", "--full-refresh", *vars_flag, landing=landing, warehouse=warehouse))
        elif day is not None:
            outputs.append(dbt("build", "--select", "staging", *vars_flag, landing=landing, warehouse=warehouse))
        else:
            pq.write_table(late_copies(landing), landing / "events" / f"batch-{batch:02d}-late-copies.parquet")
            outputs.append(dbt("build", landing=landing, warehouse=warehouse))  # a plain `dbt build`: no flag
        previous = snapshot
    return landing, warehouse, outputs


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    landing, warehouse, outputs = build_timeline(root)
    no_change = dbt("build", "--select", "staging", landing=landing, warehouse=warehouse)
    full = root / "full.duckdb"
    dbt("build", "--full-refresh", landing=landing, warehouse=full)
    return {
        "root": root,
        "landing": landing,
        "incremental": warehouse,
        "full": full,
        "outputs": outputs,
        "no_change": no_change,
    }


def read_all(warehouse, table) -> pd.DataFrame:
    frame = query(warehouse, f"select * from {table}")
    return frame.drop(columns=[c for c in BUILD_COLUMNS if c in frame.columns])


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame, table: str) -> None:
    """Row for row and exact on every column, doubles included: the sums behind the statistics are
    exact (readout.exact_sum), so an incremental build publishes the same bits as a full refresh."""
    assert list(a.columns) == list(b.columns), table
    assert len(a) == len(b), f"{table}: {len(a)} rows vs {len(b)}"
    a = a.sort_values(list(a.columns), na_position="first").reset_index(drop=True)
    b = b.sort_values(list(b.columns), na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True, obj=table)


def test_incremental_batches_equal_a_full_refresh_row_for_row(timeline):
    files = query(timeline["incremental"], "select count(*) as n from staging.stg_landing__files_processed").n[0]
    assert files >= 2 * (len(RUN_DAYS) + 1), "each run should land new files"
    late = query(
        timeline["full"],
        "select count(*) as n from staging.stg_landing__events where received_at > event_at + interval 4 day",
    ).n[0]
    assert late > 0, "the simulation should hold events later than the old 3-day lookback"
    tables = [*STAGING, "staging.stg_landing__events_checked", "staging.stg_landing__files_processed", *DOWNSTREAM]
    for table in tables:
        assert_same_rows(read_all(timeline["incremental"], table), read_all(timeline["full"], table), table)


def test_retries_and_conflicts_arriving_in_a_later_batch_are_duplicates(timeline):
    duplicates = query(
        timeline["incremental"],
        """
        select duplicate_type, count(*) as n from staging.stg_landing__event_duplicates
        where file_path like '%late-copies%' group by duplicate_type""",
    )
    assert dict(zip(duplicates.duplicate_type, duplicates.n)) == {
        "identical_retry": RETRIES,
        "conflicting_payload": CONFLICTS,
    }
    flagged = query(
        timeline["incremental"],
        """
        select count(*) as n from staging.stg_landing__events as events
        inner join staging.stg_landing__event_duplicates as copies using (source_system, event_id)
        where copies.file_path like '%late-copies%' and events.has_conflicting_duplicate""",
    ).n[0]
    assert flagged == CONFLICTS  # the kept row, written by batch 1, is rewritten with its flag


def test_every_batch_is_conserved_in_every_build(timeline):
    for result in [*timeline["outputs"], timeline["no_change"]]:
        assert "assert_landing_rows_conserved_per_file" in result.stdout
        assert "assert_landing_rows_conserved_per_source_system" in result.stdout
    per_file = query(
        timeline["incremental"],
        """
        select file_path, file_row_count, checked_row_count from staging.stg_landing__files_processed""",
    )
    assert (per_file.file_row_count == per_file.checked_row_count).all()


def test_a_refresh_with_no_new_file_reads_nothing(timeline):
    assert "stg_landing__events_checked: 0 new landing file(s)" in timeline["no_change"].stdout


def test_a_refresh_with_no_new_file_recounts_no_unit(timeline, tmp_path):
    """Issue 11: the unit-level counting (int_unit_metric_aggregates, delete+insert by unit x experiment version)
    recounts only what new landing files or changed windows touch: with neither, every row stays as written."""
    warehouse = tmp_path / "incremental.duckdb"
    shutil.copy(timeline["incremental"], warehouse)
    shutil.copytree(timeline["root"] / "target-incremental", tmp_path / "target-incremental")
    table = "intermediate.int_unit_metric_aggregates"
    before = query(warehouse, f"select * from {table}")
    dbt("build", "--select", "int_unit_metric_aggregates", landing=timeline["landing"], warehouse=warehouse)
    after = query(warehouse, f"select * from {table}")
    assert set(after.built_invocation_id) == set(before.built_invocation_id)  # no row rewritten
    assert_same_rows(after, before, table)


def test_a_landing_file_changed_or_deleted_after_processing_is_an_error_naming_it(timeline, tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "incremental.duckdb"
    shutil.copytree(timeline["landing"], landing)
    shutil.copy(timeline["incremental"], warehouse)
    # the same dbt target folder name as the timeline's, copied: dbt parses partially, as on a scheduled run
    shutil.copytree(timeline["root"] / "target-incremental", tmp_path / "target-incremental")
    rewritten, deleted = (
        landing / "events" / "batch-02-part-00000.parquet",
        landing / "events" / "batch-03-part-00000.parquet",
    )
    table = pq.read_table(rewritten)
    pq.write_table(table.slice(0, table.num_rows - 1), rewritten)
    deleted.unlink()
    result = dbt("build", "--select", "stg_landing__events_checked", landing=landing, warehouse=warehouse, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() if "landing files events/" in line]
    assert len(lines) == 1, result.stdout[-2000:]
    assert "events/batch-02-part-00000.parquet changed after it was processed" in lines[0]
    assert "events/batch-03-part-00000.parquet was deleted after it was processed" in lines[0]
    assert "make rebuild" in lines[0]
    staged = query(warehouse, "select count(*) as n from staging.stg_landing__events_checked").n[0]
    assert (
        staged == query(timeline["incremental"], "select count(*) as n from staging.stg_landing__events_checked").n[0]
    )


def test_the_readout_history_compares_the_first_build_with_the_last_and_names_the_new_units(timeline):
    """Issue 12: the staging-only refreshes leave the history alone; the two whole-project builds are in it,
    and fct_readout_changes attributes the moves between them to the units the later batches added."""
    warehouse = timeline["incremental"]
    builds = query(warehouse, "select count(distinct build_id) as n from history.fct_readout_history")
    assert int(builds.n[0]) == 2
    changes = query(warehouse, "select * from history.fct_readout_changes")
    compared = changes[changes.row_change == "compared"]
    assert len(compared) > 0 and "code_change" not in set(changes.change_cause)
    moved_with_new_units = compared[(compared.units_added > 0) & compared.has_moved]
    assert len(moved_with_new_units) > 0 and set(moved_with_new_units.change_cause) == {"new_units"}
    latest = query(
        warehouse,
        "select experiment_id, experiment_version, population, variant_id, metric_id, "
        "estimator, relative_lift from marts.fct_metric_results",
    )
    merged = changes.merge(
        latest,
        on=["experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator"],
        suffixes=("", "_mart"),
    )
    assert len(merged) == len(latest)
    assert (
        (merged.relative_lift == merged.relative_lift_mart)
        | (merged.relative_lift.isna() & merged.relative_lift_mart.isna())
    ).all()
