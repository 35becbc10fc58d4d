"""Derived columns (``derive:``) and the row filter (``where:``) of a mapping, evaluated by DuckDB.

Expressions are DuckDB SQL over the export's columns: ``answer in ('yes', 'no')``,
``cast(visit_date as date) + to_hours(cast(visit_hour as integer))``, ``revenue / nullif(sessions, 0)``.
CSV cells are text (null tokens such as ``NA`` already null); comparing a text cell with a number compares
numbers (``age >= 18``), arithmetic needs a ``cast``. Derived columns are computed in the order written, so
a later one may use an earlier one; then the filter keeps the rows where the predicate is true (a null
predicate drops the row, as in SQL). The source row number of every kept row is preserved, so a bad cell is
still reported at its row in the file. DuckDB runs with external access off: an expression cannot read files.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from readout.cli import UsageError
from readout.importer.mapping import Mapping
from readout.importer.read import as_text

ROW_COLUMN = "__readout_source_row"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def apply_expressions(mapping: Mapping, table: pa.Table, label: str) -> tuple[pa.Table, np.ndarray]:
    """The table with the derived columns added and the filtered rows removed, and the 1-based source row
    of each remaining row. A bad expression is a one-line UsageError naming the mapping key."""
    n = table.num_rows
    for name, _ in mapping.derive:
        if name in table.column_names:
            raise UsageError(
                f"mapping {mapping.source}: derive.{name}: the export already has a column {name!r}; "
                "choose another name"
            )
    columns = {}
    for name in table.column_names:
        column = table[name]
        is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        columns[name] = as_text(column) if is_text or pa.types.is_dictionary(column.type) else column
    columns[ROW_COLUMN] = pa.array(np.arange(1, n + 1, dtype=np.int64))
    con = duckdb.connect()
    try:
        con.register("export_rows", pa.table(columns))
        con.execute("set enable_external_access = false")
        relation = "export_rows"
        for name, expression in mapping.derive:
            sql = f"select *, ({expression}) as {_quote(name)} from {relation}"
            relation = _check(con, sql, f"derive.{name}", expression, mapping, label)
        if mapping.where is not None:
            sql = f"select * from {relation} where ({mapping.where})"
            relation = _check(con, sql, "where", mapping.where, mapping, label)
        result = con.sql(f"select * from {relation} order by {ROW_COLUMN}").to_arrow_table()
    finally:
        con.close()
    rows = result[ROW_COLUMN].to_numpy()
    return result.drop_columns([ROW_COLUMN]), rows


def _check(con: duckdb.DuckDBPyConnection, sql: str, key: str, expression: str, mapping: Mapping, label: str) -> str:
    """Evaluate one step as a subquery (to report its error alone) and return it as the next relation."""
    try:
        con.execute(f"select count(*) from ({sql})").fetchall()
    except duckdb.Error as exc:
        message = _first_line(exc)
        if "Referenced column" in message or "not found in FROM clause" in message:
            message += f" (the export's columns: {', '.join(c for c in _columns(con) if c != ROW_COLUMN)})"
        raise UsageError(f"mapping {mapping.source}: {key} {expression!r} fails on {label}: {message}") from None
    return f"({sql})"


def _columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("describe export_rows").fetchall()]
