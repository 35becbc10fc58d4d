"""``readout freeze`` and ``readout restate``: frozen readouts, kept as files under version control.

``readout freeze EXPERIMENT --version V --reason TEXT`` records the readout of one experiment version as it is
served (``published.fct_metric_results``; ``marts.`` in a warehouse built before publishing) in the seed
``readouts/frozen_metric_results.csv``: every result row, with what its numbers were computed from (the metric's
definition fingerprint and the sufficient statistics' fingerprint, from ``marts.metric_results_current``; the
landing watermark; the metric catalog's sha256; the code and contract versions as ``readout build`` computes
them), who froze it, when and why, and a record fingerprint
(sha256 over the record's rows as written) so that a hand-edited record is refused. dbt reads the seed on every
build: ``fct_metric_results`` then serves the frozen rows, byte for byte (floats are written with ``repr``, the
shortest string that reads back as the same double), and ``fct_readout_restatements`` lists every row whose
numbers would now differ.

``readout restate EXPERIMENT --version V --reason TEXT`` is the only way a frozen number changes: it moves the
record into ``readouts/restated_metric_results.csv`` beside the numbers the last build computed
(``marts.metric_results_frozen_compared``: frozen and current numbers, the cause of each move) and removes it
from the frozen seed; the next build serves today's numbers.

Both change nothing when anything is wrong (an unknown experiment or version, freezing twice, restating what is
not frozen, a hand-edited record, a warehouse not built): one line naming the problem, exit code 2. Files are
replaced atomically. Like the rest of the package, this module imports nothing from dbt.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import hashlib
import io
import os
import subprocess
import tempfile
from pathlib import Path

import duckdb

from readout.build import code_version, contract_versions
from readout.landing import project_file
from readout.paths import warehouse_path
from readout.warehouse import has_table, latest_build

#: the records' folder (a dbt seed path, see dbt_project.yml): readouts/, or $READOUT_RECORDS_DIR (relative to the
#: project), as the demo sets it so that it never edits the committed records
RECORDS_DIR = os.environ.get("READOUT_RECORDS_DIR") or "readouts"
FROZEN_SEED = Path(RECORDS_DIR) / "frozen_metric_results.csv"
RESTATED_SEED = Path(RECORDS_DIR) / "restated_metric_results.csv"
METRIC_CATALOG = Path("seeds") / "metric_catalog.csv"
#: what readers are served: the published layer (a build whose audits failed never replaced it), or the mart in
#: a warehouse built in one dbt step before publishing existed; and what the numbers would now be
PUBLISHED_RELATION = "published.fct_metric_results"
SERVED_RELATION = "marts.fct_metric_results"
CURRENT_RELATION = "marts.metric_results_current"
COMPARED_RELATION = "marts.metric_results_frozen_compared"
STAGED_EVENTS_RELATION = "staging.stg_landing__events"
KEY_COLUMNS = ("experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator")
#: from metric_results_current, beside the served columns
INPUT_COLUMNS = ("definition_fingerprint", "statistics_fingerprint")
#: the freeze's metadata, the last columns of the frozen seed
METADATA_COLUMNS = (
    "frozen_at",
    "frozen_by",
    "freeze_reason",
    "landing_watermark_at",
    "metric_catalog_fingerprint",
    "code_version",
    "contract_versions",
    "record_fingerprint",
)
#: who restated, when and why: the last columns of the restated seed (the others are metric_results_frozen_compared's)
RESTATEMENT_COLUMNS = ("restated_at", "restated_by", "restatement_reason")
#: how each change_cause reads in the summary `readout restate` prints
CAUSE_WORDS = {
    "late_events": "late events for units already counted",
    "new_units": "new units",
    "units_removed": "units removed",
    "metric_definition_change": "a metric-definition change",
    "correction_family_change": "a move elsewhere in the correction family",
    "code_change": "a code change",
    "added": "rows added",
    "removed": "rows removed",
}


class FreezeError(ValueError):
    """A problem the user can fix; printed as one line by the CLI (exit code 2), with nothing changed."""


# ------------------------------------------------------------------------------------------- the record
def format_value(value: object) -> str:
    """One CSV field as the seed holds it: empty for null, true/false, ``repr`` for a float (the shortest string
    DuckDB parses back to the same double), ISO 8601 for a timestamp (UTC, no offset)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # nan, inf and -inf included: DuckDB reads them back
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def record_fingerprint(header: list[str], rows: list[dict[str, str]]) -> str:
    """sha256 over a record's rows as written (every column but record_fingerprint, in header order), rows in key
    order: the metadata is on every row, so it is covered too."""
    columns = [name for name in header if name != "record_fingerprint"]
    lines = sorted("\x1f".join(row[name] for name in columns) for row in rows)
    return hashlib.sha256("\x1e".join(lines).encode()).hexdigest()


def _read_seed(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise FreezeError(f"{path} not found: is this the readout project? (pass --project-dir)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise FreezeError(f"{path} has no header line: restore it from git")
        rows = []
        for number, values in enumerate(reader, start=2):
            if len(values) != len(header):
                raise FreezeError(
                    f"{path} line {number} has {len(values)} fields, its header {len(header)}: "
                    "restore the file from git"
                )
            rows.append(dict(zip(header, values)))
    return header, rows


def _csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[name] for name in header])
    return out.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _version_key(row: dict[str, str]) -> tuple[str, str]:
    return row["experiment_id"], row["experiment_version"]


def _records(rows: list[dict[str, str]]) -> dict[tuple[str, str], list[dict[str, str]]]:
    records: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        records.setdefault(_version_key(row), []).append(row)
    return records


def verify_frozen_records(project_dir: str | os.PathLike) -> None:
    """Raise FreezeError (one line) when a frozen record of ``readouts/frozen_metric_results.csv`` no longer matches
    its record_fingerprint (edited by hand), or the file is malformed; return None when every record is intact."""
    path = Path(project_dir) / FROZEN_SEED
    header, rows = _read_seed(path)
    missing = [name for name in (*KEY_COLUMNS, *METADATA_COLUMNS) if name not in header]
    if missing:
        raise FreezeError(f"{path} lacks the column(s) {', '.join(missing)}: restore its header from git")
    for (experiment_id, version), record in _records(rows).items():
        recorded = {row["record_fingerprint"] for row in record}
        actual = record_fingerprint(header, record)
        if recorded != {actual}:
            raise FreezeError(
                f"{path}: the frozen record of {experiment_id} v{version} was edited by hand (its record_fingerprint "
                f"{min(recorded)[:12]} no longer matches its rows, {actual[:12]}): restore it from git "
                f"(`git checkout -- {FROZEN_SEED}`); only `readout restate` changes a frozen readout"
            )


def _describe(record: list[dict[str, str]]) -> str:
    first = record[0]
    return f"by {first['frozen_by']} on {first['frozen_at'][:10]}: {first['freeze_reason']}"


# -------------------------------------------------------------------------------------------- warehouse
def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.is_file():
        raise FreezeError(f"warehouse {warehouse} not found: build it first (`make build`)")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise FreezeError(
            f"cannot open the warehouse {warehouse} (a build running?): {str(exc).splitlines()[0]}"
        ) from None


def _require(con: duckdb.DuckDBPyConnection, warehouse: Path, *relations: str) -> None:
    for relation in relations:
        if not has_table(con, *relation.split(".")):
            raise FreezeError(f"the warehouse {warehouse} holds no {relation}: build it first (`make build`)")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, object]]:
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def _check_version_exists(con: duckdb.DuckDBPyConnection, relation: str, experiment_id: str, version: int) -> None:
    versions = con.execute(f"select distinct experiment_id, experiment_version from {relation} order by all").fetchall()
    known = sorted({experiment for experiment, _ in versions})
    if experiment_id not in known:
        raise FreezeError(
            f"unknown experiment {experiment_id!r}: {relation} has {', '.join(known) if known else 'no experiment'}"
        )
    if (experiment_id, version) not in versions:
        found = ", ".join(f"v{v}" for e, v in versions if e == experiment_id)
        raise FreezeError(f"{experiment_id} has no version {version} in {relation} (it has {found})")


def read_readout(warehouse: Path, experiment_id: str, version: int) -> list[dict[str, object]]:
    """The experiment version's rows as readers are served them (SERVED_RELATION), with the fingerprints of what
    their numbers were computed from (CURRENT_RELATION); FreezeError when the warehouse, the experiment or the
    version is missing."""
    with _connect(warehouse) as con:
        served = PUBLISHED_RELATION if has_table(con, *PUBLISHED_RELATION.split(".")) else SERVED_RELATION
        _require(con, warehouse, served, CURRENT_RELATION)
        _check_version_exists(con, served, experiment_id, version)
        join = " and ".join(f"served.{key} = current_rows.{key}" for key in KEY_COLUMNS)
        rows = _fetch(
            con,
            f"""
            select served.*, {", ".join(f"current_rows.{name}" for name in INPUT_COLUMNS)}
            from {served} as served
            left join {CURRENT_RELATION} as current_rows on {join}
            where served.experiment_id = ? and served.experiment_version = ?
            order by {", ".join(f"served.{key}" for key in KEY_COLUMNS)}""",
            [experiment_id, version],
        )
        if any(row["readout_status"] == "frozen" for row in rows):
            raise FreezeError(
                f"the warehouse still serves an earlier frozen readout of {experiment_id} v{version} "
                "(restated since): run `make build` first, then freeze"
            )
        if any(row.get("watermark_at") is None for row in rows):
            try:
                latest = con.execute(
                    f"select max(received_at) from {STAGED_EVENTS_RELATION} "
                    "where experiment_id = ? and experiment_version = ?",
                    [experiment_id, version],
                ).fetchall()[0][0]
            except duckdb.Error:
                latest = None
            for row in rows:
                row["_latest_received_at"] = latest
        return rows


def read_compared(warehouse: Path, experiment_id: str, version: int, fingerprint: str) -> list[dict[str, object]]:
    """The last build's comparison of one frozen record with today's numbers (COMPARED_RELATION)."""
    with _connect(warehouse) as con:
        _require(con, warehouse, COMPARED_RELATION)
        rows = _fetch(
            con,
            f"select * from {COMPARED_RELATION} where experiment_id = ? and experiment_version = ? "
            f"and record_fingerprint = ? order by {', '.join(KEY_COLUMNS)}",
            [experiment_id, version, fingerprint],
        )
    if not rows:
        raise FreezeError(
            f"the warehouse {warehouse} has not been built since {experiment_id} v{version} was frozen "
            f"(record {fingerprint[:12]}), so it has no numbers to restate it with: run `make build`, "
            "then restate"
        )
    return rows


# ----------------------------------------------------------------------------------------------- actions
def _one_line(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text or "\n" in text or "\r" in text:
        raise FreezeError(f"{what} must be one non-empty line of text (got {text!r})")
    return text


def default_author(project_dir: Path) -> str:
    """git's user.name in the project, else $USER, else the login name."""
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], cwd=project_dir, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        name = ""
    if name:
        return name
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def freeze(
    project_dir: Path,
    warehouse: Path,
    experiment_id: str,
    version: int,
    reason: str,
    by: str,
    now: dt.datetime | None = None,
) -> dict:
    """Append the experiment version's served readout to the frozen seed; a summary of what was frozen."""
    reason, by = _one_line(reason, "--reason"), _one_line(by, "--by")
    seed = project_dir / FROZEN_SEED
    verify_frozen_records(project_dir)
    header, existing = _read_seed(seed)
    already = _records(existing).get((experiment_id, str(version)))
    if already:
        raise FreezeError(
            f"{experiment_id} v{version} is already frozen ({_describe(already)}): "
            "`readout restate` replaces a frozen readout"
        )
    rows = read_readout(warehouse, experiment_id, version)
    result_columns = [name for name in rows[0] if not name.startswith("_") and name not in INPUT_COLUMNS]
    expected = [*result_columns, *INPUT_COLUMNS, *METADATA_COLUMNS]
    if header != expected:
        extra, lacking = sorted(set(header) - set(expected)), sorted(set(expected) - set(header))
        raise FreezeError(
            f"{seed} does not match {SERVED_RELATION} (columns only in the seed: {extra or 'none'}; "
            f"only in the warehouse: {lacking or 'none'}; or another order): update its header and "
            "seeds/_seeds.yml"
        )
    watermarks = [row["watermark_at"] for row in rows if row["watermark_at"] is not None]
    landing_watermark = max(watermarks) if watermarks else rows[0].get("_latest_received_at")
    catalog = project_dir / METRIC_CATALOG
    metadata = {
        "frozen_at": format_value(now or _now()),
        "frozen_by": by,
        "freeze_reason": reason,
        "landing_watermark_at": format_value(landing_watermark),
        "metric_catalog_fingerprint": hashlib.sha256(catalog.read_bytes()).hexdigest() if catalog.is_file() else "",
        "code_version": code_version(project_dir),
        "contract_versions": contract_versions(project_dir),
        "record_fingerprint": "",
    }
    record = [
        {**{name: format_value(row[name]) for name in (*result_columns, *INPUT_COLUMNS)}, **metadata} for row in rows
    ]
    fingerprint = record_fingerprint(header, record)
    for row in record:
        row["record_fingerprint"] = fingerprint
    _write_atomically(seed, _csv_text(header, existing + record))
    statuses = sorted({row["readout_status"] for row in record})
    return {
        "rows": len(record),
        "statuses": statuses,
        "fingerprint": fingerprint,
        "seed": seed,
        "code_version": metadata["code_version"],
        "watermark": metadata["landing_watermark_at"],
    }


def _failed_last_build(warehouse: Path) -> str | None:
    """How the warehouse's last build (the build log's latest dbt invocation) ended when it did not succeed;
    None when it succeeded or the warehouse keeps no build log."""
    with _connect(warehouse) as con:
        latest = latest_build(con)
    if latest is None or latest.outcome == "success":
        return None
    return "never finished" if latest.outcome is None else f"failed ({latest.failed_nodes or 'see readout report'})"


def restate(
    project_dir: Path,
    warehouse: Path,
    experiment_id: str,
    version: int,
    reason: str,
    by: str,
    now: dt.datetime | None = None,
) -> dict:
    """Move the frozen record into the restated seed with the last build's numbers; a summary of what moved."""
    reason, by = _one_line(reason, "--reason"), _one_line(by, "--by")
    frozen_seed, restated_seed = project_dir / FROZEN_SEED, project_dir / RESTATED_SEED
    verify_frozen_records(project_dir)
    frozen_header, frozen_rows = _read_seed(frozen_seed)
    records = _records(frozen_rows)
    record = records.get((experiment_id, str(version)))
    if not record:
        frozen = ", ".join(f"{e} v{v}" for e, v in sorted(records)) or "nothing"
        raise FreezeError(
            f"{experiment_id} v{version} is not frozen, so there is nothing to restate "
            f"(frozen: {frozen}); `readout freeze` freezes a readout"
        )
    fingerprint = record[0]["record_fingerprint"]
    restated_header, restated_rows = _read_seed(restated_seed)
    compared = read_compared(warehouse, experiment_id, version, fingerprint)
    failed = _failed_last_build(warehouse)
    if failed:
        raise FreezeError(
            f"the last build of {warehouse} {failed}: its numbers were never published, so they cannot "
            f"replace a frozen readout; fix it and `make build`, then restate {experiment_id} v{version}"
        )
    copied = [name for name in restated_header if name not in RESTATEMENT_COLUMNS]
    lacking = sorted(set(copied) - set(compared[0]))
    if lacking or restated_header[-len(RESTATEMENT_COLUMNS) :] != list(RESTATEMENT_COLUMNS):
        raise FreezeError(
            f"{restated_seed} does not match {COMPARED_RELATION} (columns it lacks there: "
            f"{lacking or 'none'}): update its header and seeds/_seeds.yml"
        )
    stamp = {"restated_at": format_value(now or _now()), "restated_by": by, "restatement_reason": reason}
    new_rows = [{**{name: format_value(row[name]) for name in copied}, **stamp} for row in compared]
    remaining = [row for row in frozen_rows if _version_key(row) != (experiment_id, str(version))]
    # both files or neither: the restated log first (it only grows), then the frozen seed; undo on failure
    before = restated_seed.read_text(encoding="utf-8")
    _write_atomically(restated_seed, _csv_text(restated_header, restated_rows + new_rows))
    try:
        _write_atomically(frozen_seed, _csv_text(frozen_header, remaining))
    except BaseException:
        _write_atomically(restated_seed, before)
        raise
    moved = [row for row in compared if row["has_moved"]]
    causes: dict[str, int] = {}
    for row in moved:
        causes[row["change_cause"]] = causes.get(row["change_cause"], 0) + 1
    return {
        "rows": len(new_rows),
        "moved": len(moved),
        "causes": causes,
        "flips": sum(bool(row["is_significance_flip"]) for row in compared),
        "fingerprint": fingerprint,
        "seed": restated_seed,
        "frozen": _describe(record),
    }


# --------------------------------------------------------------------------------------------------- CLI
def _common_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("experiment_id", metavar="EXPERIMENT", help="the experiment id, e.g. exp_checkout_button")
    parser.add_argument("--version", type=int, required=True, metavar="V", help="the experiment version")
    parser.add_argument("--reason", required=True, metavar="TEXT", help=f"why you {verb} it (one line, recorded)")
    parser.add_argument("--by", metavar="NAME", help="who you are (default: git user.name, else $USER)")
    parser.add_argument(
        "--warehouse", help="DuckDB warehouse (default: $READOUT_DUCKDB_PATH or warehouse/readout.duckdb)"
    )
    parser.add_argument(
        "--project-dir",
        default=None,
        metavar="PATH",
        help="the dbt project whose seeds/ hold the records (default: $DBT_PROJECT_DIR or the working directory)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "freeze")


def add_restate_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "restate")


def _context(args: argparse.Namespace) -> tuple[Path, Path, str]:
    project_dir = project_file(args.project_dir).parent
    return project_dir, warehouse_path(args.warehouse), args.by or default_author(project_dir)


def run(args: argparse.Namespace) -> int:
    project_dir, warehouse, by = _context(args)
    done = freeze(project_dir, warehouse, args.experiment_id, args.version, args.reason, by)
    print(
        f"froze {args.experiment_id} v{args.version}: {done['rows']} result rows "
        f"({', '.join(done['statuses'])} when frozen; data complete to {done['watermark'] or 'unknown'}; "
        f"code {done['code_version'][:20]}) into {FROZEN_SEED}, record {done['fingerprint'][:12]}"
    )
    print(
        f"next: `make build` serves them frozen (fct_readout_restatements logs what would move); commit the seed: "
        f"git add {FROZEN_SEED} && git commit -m 'Freeze {args.experiment_id} v{args.version}'"
    )
    return 0


def run_restate(args: argparse.Namespace) -> int:
    project_dir, warehouse, by = _context(args)
    done = restate(project_dir, warehouse, args.experiment_id, args.version, args.reason, by)
    causes = ", ".join(f"{count} {CAUSE_WORDS.get(cause, cause)}" for cause, count in sorted(done["causes"].items()))
    print(
        f"restated {args.experiment_id} v{args.version} (frozen {done['frozen']}): {done['rows']} rows moved "
        f"to {RESTATED_SEED} with today's numbers; {done['moved']} had moved ({causes or 'none'}), "
        f"{done['flips']} significance flip(s); the frozen record {done['fingerprint'][:12]} is removed from "
        f"{FROZEN_SEED}"
    )
    print(
        f"next: `make build` serves today's numbers; commit both seeds: git add {FROZEN_SEED} {RESTATED_SEED} && "
        f"git commit -m 'Restate {args.experiment_id} v{args.version}'"
    )
    return 0
