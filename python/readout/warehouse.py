"""Small lookups in the DuckDB warehouse that several commands share (no dbt imports)."""

from __future__ import annotations

from typing import NamedTuple

import duckdb

#: the build log the project's dbt hooks write (macros/build_log.sql), in the target schema
BUILD_LOG_TABLE = "readout_build_log"


class LatestBuild(NamedTuple):
    invocation_id: str
    outcome: str | None  #: success | failed; None: never finished (killed, or still running)
    finished_at: object
    failed_nodes: str | None


def schema_of(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The schema holding ``table`` (the first by name), or None when the warehouse has no such table."""
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema limit 1",
        [table],
    ).fetchone()
    return found[0] if found else None


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchall()
    )


def quoted(name: str) -> str:
    """An identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def latest_build(con: duckdb.DuckDBPyConnection) -> LatestBuild | None:
    """The build log's latest dbt invocation (by start) and how it ended; None without a log or a build."""
    schema = schema_of(con, BUILD_LOG_TABLE)
    if schema is None:
        return None
    row = con.execute(f"""
        select invocation_id, max(case when event = 'finished' then status end), max(finished_at),
               max(failed_nodes)
        from {quoted(schema)}.{BUILD_LOG_TABLE}
        group by invocation_id
        order by min(started_at) desc
        limit 1""").fetchone()
    return LatestBuild(*row) if row else None
