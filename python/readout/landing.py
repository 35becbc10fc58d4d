"""Read-only facts about a landing zone: whether its files match the contract, and the event-time range a
backfill must cover.

``readout event-time-range`` is the preflight ``make build`` runs before dbt:

1. every landing file's Parquet footer is checked against the instrumentation contract
   (``readout.contract``): a missing or retyped column is a one-line contract error (exit 2) naming the
   file and the column; an added column is a one-line warning on stderr (staging ignores it);
2. it prints ``--event-time-start``/``--event-time-end``, the days holding the events staging will
   accept. Rows staging quarantines for their timestamps do not move the range: unparseable ones,
   ``event_at`` before ``events_begin``, ``event_at`` beyond ``received_at`` + tolerance, and either
   timestamp beyond the as-of time + tolerance. ``events_begin`` and ``future_tolerance_minutes`` are
   read from ``dbt_project.yml`` (one source of truth with staging).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from readout.contract import EVENTS_DIR, LANDING_TABLE_VERSIONS, LANDING_TABLES
from readout.paths import landing_path

EMPTY_FILE = "_empty.parquet"
PROJECT_FILE = "dbt_project.yml"
MISSING_TYPE = "(missing)"
NOT_IN_CONTRACT = "(not in the contract)"
#: Arrow spellings of one contract type (a writer may pick any of them).
ARROW_ALIASES = {"large_string": "string", "string_view": "string", "large_utf8": "string", "utf8": "string"}
MAX_LISTED = 5


class LandingError(ValueError):
    """The landing zone cannot be used as it is: printed as one line, exit code 2."""


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """An Arrow schema from a contract column map (type names as in ``readout.contract``)."""
    return pa.schema([(name, pa.type_for_alias(type_name)) for name, type_name in columns.items()])


def arrow_type_name(type_: pa.DataType) -> str:
    """The contract's name for an Arrow type (``large_string`` reads ``string``)."""
    name = str(type_)
    return ARROW_ALIASES.get(name, name)


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


# --------------------------------------------------------------------------------- project variables
@dataclass(frozen=True)
class IngestionBounds:
    """The timestamp rules staging applies (dbt vars ``events_begin`` and ``future_tolerance_minutes``)."""

    events_begin: dt.datetime
    future_tolerance: dt.timedelta


def project_file(project_dir: str | os.PathLike | None = None) -> Path:
    """``dbt_project.yml`` of ``project_dir``, else of ``$DBT_PROJECT_DIR``, the working directory, or the
    repository this package is installed from (editable install), whichever has one first."""
    candidates = [Path(project_dir)] if project_dir else []
    if not project_dir:
        if os.environ.get("DBT_PROJECT_DIR"):
            candidates.append(Path(os.environ["DBT_PROJECT_DIR"]))
        candidates += [Path.cwd(), Path(__file__).resolve().parents[2]]
    for directory in candidates:
        if (directory / PROJECT_FILE).is_file():
            return directory / PROJECT_FILE
    raise FileNotFoundError(f"{PROJECT_FILE} not found in {candidates[0]} (pass --project-dir)")


def ingestion_bounds(project_dir: str | os.PathLike | None = None) -> IngestionBounds:
    """``events_begin`` and ``future_tolerance_minutes`` from the dbt project's ``vars:``."""
    path = project_file(project_dir)
    try:
        variables = (yaml.safe_load(path.read_text()) or {}).get("vars") or {}
    except yaml.YAMLError as exc:
        raise LandingError(f"{path} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    begin, tolerance = variables.get("events_begin"), variables.get("future_tolerance_minutes")
    try:
        events_begin = dt.datetime.fromisoformat(str(begin))
    except ValueError:
        raise LandingError(f"{path}: vars.events_begin must be a date such as 2026-01-01, got {begin!r}") from None
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise LandingError(f"{path}: vars.future_tolerance_minutes must be a whole number >= 0, got {tolerance!r}")
    if events_begin.tzinfo is not None:
        events_begin = events_begin.astimezone(dt.UTC).replace(tzinfo=None)
    return IngestionBounds(events_begin, dt.timedelta(minutes=tolerance))


def resolve_as_of(text: str | None, landing: Path | None) -> dt.datetime:
    """``None``/``now``: the wall clock; ``manifest``: the landing zone manifest's as-of (the simulator's
    ``--as-of`` or, without one, its newest received_at); else an ISO-8601 timestamp (UTC unless an offset).
    Naive UTC."""
    if text is None or text == "now":
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if text == "manifest":
        if landing is None:
            raise ValueError("--as-of manifest needs a landing zone")
        path = Path(landing) / "manifest.json"
        if not path.exists():
            raise FileNotFoundError(f"--as-of manifest: {path} not found")
        try:
            manifest = json.loads(path.read_text())
        except ValueError:
            raise ValueError(f"--as-of manifest: {path} is not valid JSON") from None
        value = (manifest.get("arguments") or {}).get("as_of") or (manifest.get("date_range") or {}).get(
            "received_at_max"
        )
        if not value:
            raise ValueError(f"--as-of manifest: {path} has neither arguments.as_of nor date_range.received_at_max")
        text = value
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"--as-of: expected 'now', 'manifest' or an ISO-8601 timestamp such as 2026-02-15T06:00:00Z, got {text!r}"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


# -------------------------------------------------------------------------------------- schema check
@dataclass(frozen=True)
class ColumnFinding:
    """One column of one landing file that differs from the contract."""

    source: str  #: the file, relative to the landing zone
    column: str
    found: str  #: its type in the file, or "(missing)"
    expected: str  #: the contract's type, or "(not in the contract)"
    version: int  #: the schema version the file was checked against

    @property
    def is_error(self) -> bool:
        """Missing and retyped columns are errors; an added column is a warning."""
        return self.expected != NOT_IN_CONTRACT

    def __str__(self) -> str:
        if self.found == MISSING_TYPE:
            return (
                f"{self.source}: column {self.column} is missing "
                f"(schema version {self.version} requires {self.expected})"
            )
        if not self.is_error:
            return f"{self.source}: column {self.column} ({self.found}) is not in schema version {self.version}"
        return (
            f"{self.source}: column {self.column} is {self.found} where schema version {self.version} "
            f"says {self.expected}"
        )


def _compare(source: str, columns: dict[str, str], version: int, expected: dict[str, str]) -> list[ColumnFinding]:
    findings = [
        ColumnFinding(source, name, columns.get(name, MISSING_TYPE), type_, version)
        for name, type_ in expected.items()
        if columns.get(name) != type_
    ]
    findings += [
        ColumnFinding(source, name, type_, NOT_IN_CONTRACT, version)
        for name, type_ in columns.items()
        if name not in expected
    ]
    return findings


def check_landing_schemas(landing: Path) -> list[ColumnFinding]:
    """Every landing file's footer against the contract. A file of a table with several schema versions
    is checked against the version it matches best (fewest missing or retyped columns). An unreadable
    file raises ``LandingError``."""
    landing = Path(landing)
    findings: list[ColumnFinding] = []
    for folder, versions in LANDING_TABLE_VERSIONS.items():
        directory = landing / folder
        for path in sorted(directory.rglob("*.parquet")) if directory.is_dir() else []:
            source = str(path.relative_to(landing))
            try:
                schema = pq.read_schema(path)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a corrupt footer
                detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                raise LandingError(
                    f"{source} is not readable Parquet ({detail}); move it out of the landing zone or replace it"
                ) from None
            columns = {field.name: arrow_type_name(field.type) for field in schema}
            candidates = [
                _compare(source, columns, version, expected) for version, expected in sorted(versions.items())
            ]
            findings += min(candidates, key=lambda found: sum(f.is_error for f in found))
    return findings


def _listed(findings: list[ColumnFinding]) -> str:
    shown = "; ".join(map(str, findings[:MAX_LISTED]))
    more = len(findings) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def preflight(landing: Path, warn=None) -> None:
    """Raise ``LandingError`` (one line) when a landing file breaks the contract's schema; report added
    columns through ``warn`` (one line)."""
    findings = check_landing_schemas(landing)
    errors = [f for f in findings if f.is_error]
    if errors:
        noun = "column breaks" if len(errors) == 1 else "columns break"
        raise LandingError(
            f"contract error: {len(errors)} {noun} the landing contract, so dbt would fail or "
            f"misread them: {_listed(errors)} (contracts/instrumentation_contract.md)"
        )
    extra = [f for f in findings if not f.is_error]
    if extra and warn is not None:
        noun = "column" if len(extra) == 1 else "columns"
        warn(f"{len(extra)} {noun} not in the contract, ignored by staging: {_listed(extra)}")


# -------------------------------------------------------------------------------------- event time
def event_time_range(
    landing: Path, as_of: dt.datetime | None = None, bounds: IngestionBounds | None = None
) -> tuple[dt.date, dt.date] | None:
    """First day and the day after the last day (exclusive end) of the event time staging will accept.

    Rows staging quarantines for their timestamps do not move the range (see the module docstring);
    ``as_of`` is the build's reference time (default now, naive UTC). None when no event has usable
    timestamps (for example a landing zone that holds only imported exports).
    """
    bounds = bounds or ingestion_bounds()
    as_of = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    events = Path(landing) / EVENTS_DIR
    files = sorted(events.rglob("*.parquet")) if events.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no Parquet files under {events}; run `readout simulate` or `readout import` first")
    glob = str(events / "**" / "*.parquet").replace("'", "''")
    tolerance = int(bounds.future_tolerance.total_seconds())
    latest = as_of + bounds.future_tolerance
    con = duckdb.connect()
    try:
        first_event, last_event = con.execute(
            f"""
            with parsed as (
                select
                    timezone('UTC', try_cast(cast(event_at as varchar) as timestamptz)) as event_at,
                    timezone('UTC', try_cast(cast(received_at as varchar) as timestamptz)) as received_at
                from read_parquet('{glob}', union_by_name = true)
            )
            select min(event_at), max(event_at)
            from parsed
            where event_at >= ? and event_at <= ? and received_at <= ?
                and event_at <= received_at + to_seconds({tolerance})
            """,
            [bounds.events_begin, latest, latest],
        ).fetchone()
    except duckdb.Error as exc:
        raise LandingError(f"cannot read the events under {events}: {str(exc).strip().splitlines()[0]}") from None
    finally:
        con.close()
    if first_event is None or last_event is None:
        return None
    return first_event.date(), last_event.date() + dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)")
    parser.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="TIME",
        help="the build's reference time, as dbt's var as_of: 'now' (default, as dbt's run start), "
        "'manifest' (the landing manifest's, for simulated data) or an ISO-8601 time",
    )
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="check the landing files' schemas against the contract and print nothing else: the "
        "preflight `make build` runs (staging ingests by landing file, so a build needs no "
        "event-time range, and computing one scans every landing row)",
    )
    parser.add_argument(
        "--project-dir",
        default=None,
        metavar="PATH",
        help="dbt project whose vars (events_begin, future_tolerance_minutes) apply "
        "(default: $DBT_PROJECT_DIR or the working directory)",
    )


def _warn(message: str) -> None:
    print(f"readout event-time-range: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    landing = landing_path(args.landing)
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
            "`readout simulate` writes one)"
        )
    preflight(landing, warn=_warn)
    if args.check_only:
        return 0
    bounds = ingestion_bounds(args.project_dir)
    as_of = resolve_as_of(args.as_of, landing)
    found = event_time_range(landing, as_of, bounds)
    # With no usable events, one empty batch (today) keeps the incremental model cheap and valid.
    today = dt.datetime.now(dt.UTC).date()
    start, end = found if found else (today, today + dt.timedelta(days=1))
    print(f"--event-time-start {start.isoformat()} --event-time-end {end.isoformat()}")
    return 0
