"""Read-only facts about a landing zone, e.g. the event-time range a backfill must cover."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb

from readout.contract import EVENTS_DIR
from readout.paths import landing_path


def event_time_range(landing: Path) -> tuple[dt.date, dt.date]:
    """First day of parseable event time and the day after the last receipt (exclusive end).

    Rows whose ``event_at`` cannot be parsed or lies in the future do not move the range: staging
    quarantines them, so no batch needs to cover them.
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
        raise ValueError(f"no row under {events} has a parseable event_at and received_at")
    return first_event.date(), (last_received + dt.timedelta(hours=1)).date() + dt.timedelta(days=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)")


def run(args: argparse.Namespace) -> int:
    start, end = event_time_range(landing_path(args.landing))
    print(f"--event-time-start {start.isoformat()} --event-time-end {end.isoformat()}")
    return 0
