"""Issue 10 (staging hardening): one staging build over a small crafted landing zone that holds every fault at once.

NaN and infinite revenue, a purchase without revenue, a file whose revenue column arrived as text ("12.50",
"abc"), an added column, timestamps in 2099 or before the history, a receipt after the build's as-of time,
and an event_id sent by two producers. Each fault is quarantined with its reason, counted exactly; the
legitimate rows around them are staged; every raw row is accounted for (the conservation test passes). The
landing folder's name holds a quote, so the build also proves the path is quoted, not pasted, into the SQL.
The retyped file is also what the preflight (`readout event-time-range`, run first by `make build`) stops.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e import PROJECT, dbt, project_env, query, readout

from readout import contract as instrumentation
from readout.landing import arrow_schema, ensure_landing_tables, event_time_range, ingestion_bounds

AS_OF = dt.datetime(2026, 2, 1)  #: the build's reference time (dbt var as_of)
EXPERIMENT = dict(
    experiment_id="exp_a",
    experiment_version=1,
    name="exp_a",
    status="running",
    started_at=dt.datetime(2026, 1, 5),
    ended_at=None,
    unit_type="anonymous_id",
)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(event_id: str, day: int, **values) -> dict:
    at = dt.datetime(2026, 1, day, 12)
    row = {name: None for name in instrumentation.EVENT_COLUMNS_V1}
    row.update(
        event_id=event_id,
        event_name="session_start",
        event_at=iso(at),
        received_at=iso(at + dt.timedelta(seconds=5)),
        schema_version=1,
        source_system="web",
        anonymous_id=f"u-{event_id}",
        consent_granted=True,
        properties="{}",
    )
    row.update(values)
    return row


def purchase(event_id: str, revenue, **values) -> dict:
    return event(event_id, 12, event_name="purchase", revenue=revenue, currency="USD", **values)


def v2(row: dict) -> dict:
    out = {instrumentation.EVENT_RENAMES_V2.get(k, k): v for k, v in row.items()}
    out["schema_version"] = 2
    return out


#: quarantine reason -> the exact number of rows planted with it
PLANTED = {
    "non_finite_revenue": 3,  # NaN (v1), +inf (v2 revenue_amount), -inf (v1)
    "negative_revenue": 1,  # the -inf one
    "missing_revenue": 2,  # a purchase with a null revenue, in the typed file and in the text file
    "unparseable_revenue": 1,  # "abc" in the text file
    "future_event_at": 5,  # the five 2099 rows
    "future_received_at": 6,  # the five 2099 rows and one received two hours after as_of
    "event_at_before_history": 1,
}


def write_landing(landing: Path) -> dict:
    far = iso(dt.datetime(2099, 3, 1))
    typed = [
        *[event(f"ok{i}", 10 + i) for i in range(5)],
        dict(event("ok0", 10), received_at=iso(dt.datetime(2026, 1, 10, 12, 9))),  # an identical retry
        event("shared-1", 14),  # the same id from web and from ios: two events, both staged
        event("shared-1", 14, source_system="ios", anonymous_id="u-ios"),
        purchase("paid", 9.5),
        purchase("nan", float("nan")),
        purchase("neg-inf", float("-inf")),
        purchase("no-revenue", None),
        *[event(f"y2099-{i}", 12, event_at=far, received_at=far) for i in range(5)],
        event("received-late", 30, received_at=iso(AS_OF + dt.timedelta(hours=2))),
        event("before-history", 12, event_at=iso(dt.datetime(2025, 6, 1))),
    ]
    android = [
        v2(purchase("android-inf", float("inf"), source_system="android")),
        v2(purchase("android-paid", 3.0, source_system="android")),
    ]
    text_schema = arrow_schema(instrumentation.EVENT_COLUMNS_V1)
    text_schema = text_schema.set(text_schema.get_field_index("revenue"), pa.field("revenue", pa.string()))
    text = [purchase("text-ok", "12.50"), purchase("text-abc", "abc"), purchase("text-null", None)]
    added_schema = arrow_schema(instrumentation.EVENT_COLUMNS_V1).append(pa.field("app_build", pa.string()))
    added = [dict(event(f"added{i}", 15), app_build="7.1") for i in range(2)]

    events = landing / "events"
    events.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(typed, schema=arrow_schema(instrumentation.EVENT_COLUMNS_V1)), events / "part-0.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist(android, schema=arrow_schema(instrumentation.EVENT_COLUMNS_V2)),
        events / "part-0-v2.parquet",
    )
    pq.write_table(pa.Table.from_pylist(text, schema=text_schema), events / "part-text.parquet")
    pq.write_table(pa.Table.from_pylist(added, schema=added_schema), events / "part-added.parquet")
    (landing / "experiments").mkdir()
    variants = [
        dict(EXPERIMENT, variant_id=v, is_control=v == "control", allocation_weight=0.5)
        for v in ("control", "treatment")
    ]
    pq.write_table(
        pa.Table.from_pylist(variants, schema=arrow_schema(instrumentation.EXPERIMENT_COLUMNS)),
        landing / "experiments" / "experiments.parquet",
    )
    ensure_landing_tables(landing)
    return {"raw": len(typed) + len(android) + len(text) + len(added)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("staging_hardening")
    landing, warehouse = root / "it's a landing zone", root / "hardening.duckdb"
    counts = write_landing(landing)
    # the preflight would stop this build (the text revenue file), so the range is computed directly: staging
    # must survive the retyped file on its own
    start, end = event_time_range(landing, AS_OF, ingestion_bounds(PROJECT))
    result = dbt(
        "build",
        "--select",
        "staging",
        "--full-refresh",
        "--event-time-start",
        start.isoformat(),
        "--event-time-end",
        end.isoformat(),
        "--vars",
        json.dumps({"as_of": iso(AS_OF)}),
        landing=landing,
        warehouse=warehouse,
        check=False,
    )
    return {"landing": landing, "warehouse": warehouse, "counts": counts, "result": result, "range": (start, end)}


def test_the_build_passes_every_staging_test_including_conservation(built):
    result = built["result"]
    assert result.returncode == 0, "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert "assert_landing_rows_conserved_per_source_system" in result.stdout
    # the accepted events span 2026-01-10 to 01-15: neither the 2099 rows, the one before events_begin nor the
    # one received after as_of (event day 01-30) widen the backfill
    assert built["range"] == (dt.date(2026, 1, 10), dt.date(2026, 1, 16))


def test_each_fault_is_quarantined_with_its_reason_exactly(built):
    reasons = query(
        built["warehouse"],
        """
        select reason, count(*) as n
        from staging.stg_landing__events_quarantined, unnest(string_split(quarantine_reasons, ',')) as r(reason)
        group by reason""",
    )
    assert dict(zip(reasons.reason, reasons.n)) == PLANTED
    quarantined = query(
        built["warehouse"], "select event_id, quarantine_reasons from staging.stg_landing__events_quarantined"
    )
    by_id = dict(zip(quarantined.event_id, quarantined.quarantine_reasons))
    assert by_id["neg-inf"] == "non_finite_revenue,negative_revenue"
    assert by_id["y2099-0"] == "future_event_at,future_received_at"
    assert by_id["received-late"] == "future_received_at"


def test_legitimate_rows_around_the_faults_are_staged(built):
    staged = query(built["warehouse"], "select event_id, source_system, revenue from staging.stg_landing__events")
    assert sorted(staged[staged.event_id == "shared-1"].source_system) == ["ios", "web"]
    revenue = dict(zip(staged.event_id, staged.revenue))
    assert revenue["text-ok"] == 12.5 and revenue["paid"] == 9.5 and revenue["android-paid"] == 3.0
    assert {"added0", "added1", "ok0"} <= set(staged.event_id)
    duplicates = query(
        built["warehouse"], "select event_id, source_system, duplicate_type from staging.stg_landing__event_duplicates"
    )
    assert duplicates.to_dict("records") == [
        {"event_id": "ok0", "source_system": "web", "duplicate_type": "identical_retry"}
    ]


def test_every_raw_row_is_accounted_for(built):
    totals = query(
        built["warehouse"],
        """
        select
            (select count(*) from staging.stg_landing__events) as staged,
            (select count(*) from staging.stg_landing__events_quarantined) as quarantined,
            (select count(*) from staging.stg_landing__event_duplicates) as duplicates""",
    )
    row = totals.iloc[0]
    assert int(row.staged + row.quarantined + row.duplicates) == built["counts"]["raw"]
    assert int(row.quarantined) == 3 + 2 + 1 + 5 + 1 + 1  # rows, not reasons: the 2099 rows carry two each


def test_the_preflight_stops_make_build_before_dbt_runs(built, tmp_path):
    env = project_env(built["landing"], tmp_path / "never.duckdb")
    result = readout("event-time-range", env=env, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.startswith(
            "readout event-time-range: error: contract error: 1 column breaks the landing contract"
        )
        and result.stderr.count("\n") == 1
    )
    assert "events/part-text.parquet: column revenue is string where schema version 1 says double" in result.stderr
    if subprocess.run(["make", "-q", ".venv/.installed"], cwd=PROJECT).returncode != 0:
        pytest.skip("the virtual environment is out of date with requirements.lock; `make install` first")
    make = subprocess.run(
        ["make", "--no-print-directory", "build"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    assert make.returncode != 0, make.stdout
    assert "contract error" in make.stderr and "Running with dbt" not in make.stdout + make.stderr
    assert not (tmp_path / "never.duckdb").exists()
