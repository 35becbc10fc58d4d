"""`readout event-time-range`, the preflight `make build` runs before dbt: the landing files' schemas against the
contract, and an event-time range that rows staging quarantines for their timestamps never widen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from readout import contract as instrumentation
from readout.cli import main
from readout.landing import (
    ColumnFinding,
    LandingError,
    arrow_schema,
    check_landing_schemas,
    event_time_range,
    ingestion_bounds,
)

REPO = Path(__file__).resolve().parents[2]
VARS = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
AS_OF = dt.datetime(2026, 2, 1)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(event_id: str, event_at: str, received_at: str, **values) -> dict:
    row = {name: None for name in instrumentation.EVENT_COLUMNS_V1}
    row.update(
        event_id=event_id,
        event_name="session_start",
        event_at=event_at,
        received_at=received_at,
        schema_version=1,
        source_system="web",
        anonymous_id="u1",
        consent_granted=True,
    )
    row.update(values)
    return row


def write(landing: Path, rows: list[dict], name: str = "part-0.parquet", schema: pa.Schema | None = None) -> Path:
    (landing / "events").mkdir(parents=True, exist_ok=True)
    path = landing / "events" / name
    pq.write_table(pa.Table.from_pylist(rows, schema=schema or arrow_schema(instrumentation.EVENT_COLUMNS_V1)), path)
    return path


def good_rows() -> list[dict]:
    """Accepted events from 2026-01-10 to 2026-01-20 (event day), received within seconds."""
    return [
        event(f"g{i}", iso(dt.datetime(2026, 1, 10 + i, 12)), iso(dt.datetime(2026, 1, 10 + i, 12, 0, 5)))
        for i in range(11)
    ]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["event-time-range", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------- the range
def test_rows_staging_quarantines_for_their_timestamps_do_not_move_the_range(tmp_path):
    far = iso(dt.datetime(2099, 6, 1))
    quarantined = [
        *[event(f"future{i}", far, far) for i in range(5)],  # five rows dated 2099 (both timestamps)
        event("old", iso(dt.datetime(2025, 6, 1)), iso(dt.datetime(2026, 1, 15))),  # before events_begin
        event("ahead", iso(dt.datetime(2026, 1, 29)), iso(dt.datetime(2026, 1, 15))),  # event_at >> received_at
        event(
            "late_receipt", iso(dt.datetime(2026, 1, 25)), iso(AS_OF + dt.timedelta(hours=2))
        ),  # received after as-of
        event("bad", "not-a-date", iso(dt.datetime(2026, 1, 15))),
        event("bad_receipt", iso(dt.datetime(2026, 1, 27)), "garbage"),
    ]
    landing = tmp_path / "landing"
    write(landing, good_rows() + quarantined)
    assert event_time_range(landing, AS_OF) == (dt.date(2026, 1, 10), dt.date(2026, 1, 21))
    # a row within the tolerances is accepted by staging, so it moves the range
    write(
        landing,
        [event("edge", iso(AS_OF + dt.timedelta(minutes=59)), iso(AS_OF + dt.timedelta(minutes=30)))],
        name="part-1.parquet",
    )
    assert event_time_range(landing, AS_OF) == (dt.date(2026, 1, 10), dt.date(2026, 2, 2))


def test_the_bounds_are_the_dbt_project_vars(tmp_path):
    bounds = ingestion_bounds(REPO)
    assert bounds.events_begin == dt.datetime.fromisoformat(VARS["events_begin"])
    assert bounds.future_tolerance == dt.timedelta(minutes=VARS["future_tolerance_minutes"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text(
        yaml.safe_dump({"vars": {"events_begin": "2026-01-15", "future_tolerance_minutes": 0}})
    )
    landing = tmp_path / "landing"
    write(landing, good_rows())
    assert event_time_range(landing, AS_OF, ingestion_bounds(project)) == (dt.date(2026, 1, 15), dt.date(2026, 1, 21))
    (project / "dbt_project.yml").write_text(yaml.safe_dump({"vars": {"events_begin": "soon"}}))
    with pytest.raises(LandingError, match="vars.events_begin must be a date"):
        ingestion_bounds(project)


def test_cli_prints_the_flags_and_takes_as_of_like_the_contracts_validator(tmp_path, capsys):
    landing = tmp_path / "landing"
    write(landing, good_rows() + [event("late", iso(dt.datetime(2026, 1, 25)), iso(dt.datetime(2026, 1, 25, 1)))])
    assert cli(capsys, "--landing", str(landing), "--as-of", "2026-01-26T00:00:00Z") == (
        0,
        "--event-time-start 2026-01-10 --event-time-end 2026-01-26\n",
        "",
    )
    # as of the 24th the row received on the 25th is in the future: quarantined, outside the range
    assert (
        cli(capsys, "--landing", str(landing), "--as-of", "2026-01-24T00:00:00Z")[1]
        == "--event-time-start 2026-01-10 --event-time-end 2026-01-21\n"
    )
    code, out, err = cli(capsys, "--landing", str(landing), "--as-of", "yesterday")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "--as-of: expected 'now', 'manifest'" in err


def test_a_landing_path_with_a_quote_is_read(tmp_path, capsys):
    landing = tmp_path / "it's landing"
    write(landing, good_rows())
    assert cli(capsys, "--landing", str(landing), "--as-of", "2026-02-01")[:2] == (
        0,
        "--event-time-start 2026-01-10 --event-time-end 2026-01-21\n",
    )


# --------------------------------------------------------------------------------- one-line errors
def test_a_corrupt_file_is_a_one_line_error_not_a_traceback(tmp_path, capsys):
    landing = tmp_path / "landing"
    write(landing, good_rows())
    (landing / "events" / "part-9.parquet").write_bytes(b"PAR1 this is not parquet")
    code, out, err = cli(capsys, "--landing", str(landing))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("readout event-time-range: error: events/part-9.parquet is not readable Parquet (")


def test_a_missing_landing_zone_is_a_one_line_error(tmp_path, capsys):
    code, out, err = cli(capsys, "--landing", str(tmp_path / "nowhere"))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "not found" in err


# ------------------------------------------------------------------------------------ schema check
def _retyped(rows: list[dict], column: str, values: list) -> tuple[list[dict], pa.Schema]:
    schema = arrow_schema(instrumentation.EVENT_COLUMNS_V1)
    schema = schema.set(schema.get_field_index(column), pa.field(column, pa.string()))
    return [dict(r, **{column: v}) for r, v in zip(rows, values)], schema


def test_a_retyped_or_missing_column_is_a_contract_error_naming_file_and_column(tmp_path, capsys):
    landing = tmp_path / "landing"
    write(landing, good_rows())
    rows, schema = _retyped(good_rows()[:2], "revenue", ["12.50", "abc"])
    write(landing, rows, name="part-text.parquet", schema=schema)
    code, out, err = cli(capsys, "--landing", str(landing))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("readout event-time-range: error: contract error: 1 column breaks the landing contract")
    assert "events/part-text.parquet: column revenue is string where schema version 1 says double" in err

    write(
        landing,
        [{k: v for k, v in r.items() if k != "session_id"} for r in good_rows()],
        name="part-text.parquet",
        schema=pa.schema([f for f in arrow_schema(instrumentation.EVENT_COLUMNS_V1) if f.name != "session_id"]),
    )
    code, out, err = cli(capsys, "--landing", str(landing))
    assert (
        code == 2 and "events/part-text.parquet: column session_id is missing (schema version 1 requires string)" in err
    )
    # the preflight alone (what `make build` runs) stops the same way, and prints no flags when the files are fine
    code, out, err = cli(capsys, "--landing", str(landing), "--check-only")
    assert code == 2 and out == "" and "column session_id is missing" in err and err.count("\n") == 1
    write(landing, good_rows(), name="part-text.parquet")
    assert cli(capsys, "--landing", str(landing), "--check-only") == (0, "", "")


def test_an_added_column_is_a_one_line_warning_and_the_flags_still_print(tmp_path, capsys):
    landing = tmp_path / "landing"
    write(landing, good_rows())
    schema = arrow_schema(instrumentation.EVENT_COLUMNS_V1).append(pa.field("app_build", pa.string()))
    write(landing, [dict(r, app_build="7.1") for r in good_rows()], name="part-added.parquet", schema=schema)
    code, out, err = cli(capsys, "--landing", str(landing), "--as-of", "2026-02-01")
    assert (code, out) == (0, "--event-time-start 2026-01-10 --event-time-end 2026-01-21\n")
    assert err == (
        "readout event-time-range: warning: 1 column not in the contract, ignored by staging: "
        "events/part-added.parquet: column app_build (string) is not in schema version 1\n"
    )


def test_each_file_is_checked_against_the_schema_version_it_matches(tmp_path):
    landing = tmp_path / "landing"
    write(landing, good_rows())
    v2 = [
        {instrumentation.EVENT_RENAMES_V2.get(k, k): v for k, v in dict(r, schema_version=2).items()}
        for r in good_rows()
    ]
    write(landing, v2, name="part-v2.parquet", schema=arrow_schema(instrumentation.EVENT_COLUMNS_V2))
    (landing / "experiments").mkdir()
    pq.write_table(
        arrow_schema(instrumentation.EXPERIMENT_COLUMNS).empty_table(), landing / "experiments" / "x.parquet"
    )
    assert check_landing_schemas(landing) == []
    broken = arrow_schema(instrumentation.EXPERIMENT_COLUMNS)
    broken = broken.set(broken.get_field_index("allocation_weight"), pa.field("allocation_weight", pa.string()))
    pq.write_table(broken.empty_table(), landing / "experiments" / "x.parquet")
    assert check_landing_schemas(landing) == [
        ColumnFinding("experiments/x.parquet", "allocation_weight", "string", "double", 1)
    ]
