"""``readout history``: the builds in the readout history (history.fct_readout_history), and its export.

Prints one line per build (when, code version, rows, statuses), what changed between the last two
(history.fct_readout_changes: moves by cause, significance and status flips) and what a restatement of a frozen
readout would move; ``--export FILE.parquet`` writes every history row to a Parquet file (the history is
append-only and survives ``--full-refresh``; the export is how it leaves the warehouse).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from readout.paths import warehouse_path
from readout.warehouse import has_table, quoted, schema_of

HISTORY_TABLE = "fct_readout_history"


class HistoryError(ValueError):
    """A problem the user can fix; printed as one line by the CLI (exit code 2)."""


def _history_relation(con: duckdb.DuckDBPyConnection) -> str:
    schema = schema_of(con, HISTORY_TABLE)
    if schema is None:
        raise HistoryError(f"the warehouse holds no {HISTORY_TABLE} yet: build it first (`make build`)")
    return f"{quoted(schema)}.{HISTORY_TABLE}"


def builds(warehouse: Path) -> list[tuple]:
    """(build_id, built_at, code_version, metric rows, statuses) per build, oldest first."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relation = _history_relation(con)
        return con.execute(
            f"""
            select build_id, min(built_at) as built_at, min(code_version) as code_version,
                   count(*) filter (where record_type = 'metric_result') as metric_rows,
                   coalesce(string_agg(distinct readout_status, ', ' order by readout_status), '') as statuses
            from {relation}
            group by build_id
            order by built_at, build_id
            """
        ).fetchall()


def changes(warehouse: Path) -> list[str]:
    """What changed between the last two builds (history.fct_readout_changes), in a few lines; none before the
    history holds two builds."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if not has_table(con, "history", "fct_readout_changes"):
            return []
        causes = con.execute("""
            select change_cause, count(*) as n from history.fct_readout_changes
            where change_cause <> 'none' group by 1 order by 2 desc, 1""").fetchall()
        totals = con.execute("""
            select count(*), count(*) filter (where has_moved), count(*) filter (where is_significance_flip),
                   count(*) filter (where is_status_flip), coalesce(max(units_added) filter (where row_change =
                   'compared'), 0)
            from history.fct_readout_changes""").fetchone()
        flips = con.execute("""
            select previous_readout_status || ' -> ' || readout_status as flip, count(*)
            from history.fct_readout_changes
            where is_status_flip group by 1 order by 2 desc, 1""").fetchall()
        restated = []
        if has_table(con, "history", "fct_readout_restatements"):
            restated = con.execute("""
                select experiment_id, experiment_version, count(*) as n,
                       string_agg(distinct change_cause, ', ' order by change_cause) as causes
                from history.fct_readout_restatements where restatement_state = 'pending'
                group by all order by all""").fetchall()
    rows, moved, significance, status, units = totals
    lines = [
        f"frozen {experiment} v{version}: served as frozen; {n} results would now differ ({causes}): "
        "history.fct_readout_restatements; `readout restate` makes them current"
        for experiment, version, n, causes in restated
    ]
    if rows == 0:
        return lines
    lines += [
        f"since the previous build: {moved} of {rows} results moved"
        + (f" ({', '.join(f'{cause}: {n}' for cause, n in causes)})" if causes else "")
        + f"; {significance} significance flips; {status} status flips"
        + (f" ({', '.join(f'{flip}: {n}' for flip, n in flips)})" if flips else "")
        + (f"; up to {units:,} units added per result" if units else "")
    ]
    return lines


def export(warehouse: Path, out: Path) -> int:
    """Write every history row to ``out`` (Parquet); the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relation = _history_relation(con)
        target = str(out).replace("'", "''")
        con.execute(f"copy (select * from {relation} order by built_at, build_id) to '{target}' (format parquet)")
        return con.execute(f"select count(*) from {relation}").fetchone()[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse", help="DuckDB warehouse (default: $READOUT_DUCKDB_PATH or warehouse/readout.duckdb)"
    )
    parser.add_argument("--export", metavar="FILE.parquet", help="write every history row to this Parquet file")


def run(args: argparse.Namespace) -> int:
    warehouse = warehouse_path(args.warehouse)
    if not warehouse.is_file():
        raise HistoryError(f"warehouse {warehouse} not found: build it first (`make build`)")
    if args.export:
        rows = export(warehouse, Path(args.export))
        print(f"wrote {rows} history rows to {args.export}")
        return 0
    listed = builds(warehouse)
    print(f"{len(listed)} builds in the readout history (oldest first):")
    for build_id, built_at, code, metric_rows, statuses in listed:
        print(
            f"  {built_at:%Y-%m-%d %H:%M:%S} UTC  build {build_id[:8]}  code {code[:20]}  "
            f"{metric_rows} results  status: {statuses or '-'}"
        )
    for line in changes(warehouse):
        print(line)
    return 0
