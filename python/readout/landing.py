"""Read-only facts about a landing zone, e.g. the event-time range a backfill must cover."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from readout.contract import EVENTS_DIR, LANDING_TABLES
from readout.paths import landing_path

EMPTY_FILE = "_empty.parquet"


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """An Arrow schema from a contract column map (type names as in ``readout.contract``)."""
    return pa.schema([(name, pa.type_for_alias(type_name)) for name, type_name in columns.items()])


def ensure_landing_tables(landing: Path) -> list[Path]:
    """Give every landing table at least one (zero-row) Parquet file, so dbt sources always resolve.

    A table folder that already holds a Parquet file is left alone. Returns the files written.
    """
    written = []
    for folder, columns in LANDING_TABLES.items():
        directory = Path(landing) / folder
        if directory.is_dir() and any(directory.rglob("*.parquet")):
            continue
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / EMPTY_FILE
        pq.write_table(arrow_schema(columns).empty_table(), path)
        written.append(path)
    return written


def event_time_range(landing: Path) -> tuple[dt.date, dt.date] | None:
    """First day of parseable event time and the day after the last receipt (exclusive end).

    Rows whose ``event_at`` cannot be parsed or lies in the future do not move the range: staging
    quarantines them, so no batch needs to cover them. None when no event has usable timestamps
    (for example a landing zone that holds only imported exports).
    """
    events = Path(landing) / EVENTS_DIR
    files = sorted(events.rglob("*.parquet")) if events.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no Parquet files under {events}; run `readout simulate` or `readout import` first")
    glob = str(events / "**" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        first_event, last_received = con.execute(
            f"""
            with parsed as (
                select
                    timezone('UTC', try_cast(event_at as timestamptz)) as event_at,
                    timezone('UTC', try_cast(received_at as timestamptz)) as received_at
                from read_parquet('{glob}', union_by_name = true)
            )
            select min(event_at) filter (where event_at <= received_at + interval 1 hour), max(received_at)
            from parsed
            """
        ).fetchone()
    finally:
        con.close()
    if first_event is None or last_received is None:
        return None
    return first_event.date(), (last_received + dt.timedelta(hours=1)).date() + dt.timedelta(days=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)")


def run(args: argparse.Namespace) -> int:
    found = event_time_range(landing_path(args.landing))
    # With no usable events, one empty batch (today) keeps the incremental model cheap and valid.
    today = dt.datetime.now(dt.timezone.utc).date()
    start, end = found if found else (today, today + dt.timedelta(days=1))
    print(f"--event-time-start {start.isoformat()} --event-time-end {end.isoformat()}")
    return 0
