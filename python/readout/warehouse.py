"""Small lookups in the DuckDB warehouse that several commands share (no dbt imports)."""

from __future__ import annotations

import duckdb


def schema_of(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The schema holding ``table`` (the first by name), or None when the warehouse has no such table."""
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema limit 1",
        [table],
    ).fetchone()
    return found[0] if found else None


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select 1 from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, table]).fetchall())


def quoted(name: str) -> str:
    """An identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'
