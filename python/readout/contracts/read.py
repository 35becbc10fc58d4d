"""Reading what the contracts guard, with DuckDB: the landing zone's Parquet files (each schema version mapped
onto the first one's shape, plus the contract's derived columns) and the warehouse.

DuckDB's memory is bounded here as in a dbt build: ``memory_limit``, ``threads`` and ``temp_directory`` come
from the same environment variables as profiles.yml (READOUT_DUCKDB_MEMORY_LIMIT, READOUT_DUCKDB_THREADS,
READOUT_DUCKDB_TEMP_DIRECTORY) with the same defaults, so what does not fit spills to disk.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..landing import PROJECT_FILE, arrow_type_name, ingestion_bounds
from .load import Contract
from .suites import (
    AS_OF_VARIABLE,
    COLUMN_NAME,
    CONTRACT_COLUMN,
    DATA_TYPE,
    EVENTS_BEGIN_VARIABLE,
    EXPECTED_TYPE,
    MISSING_TYPE,
    NOT_IN_CONTRACT,
    SOURCE_COLUMN,
    SuiteSpec,
)

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp[us]": "TIMESTAMP",
}
#: environment variable -> DuckDB setting, default (as in profiles.yml; None: DuckDB's own)
DUCKDB_SETTINGS = {
    "READOUT_DUCKDB_MEMORY_LIMIT": ("memory_limit", "2.5GB"),  # the profile's default (profiles.yml)
    "READOUT_DUCKDB_THREADS": ("threads", "2"),
    "READOUT_DUCKDB_TEMP_DIRECTORY": ("temp_directory", None),
}
_COLUMN_REFERENCE = re.compile(r"\bt\.([A-Za-z_][A-Za-z0-9_]*)")


def q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Arrow integer and boolean types -> the masked pandas dtype DuckDB's ``df()`` gives a column of them holding a null
_MASKED = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


#: the DuckDB column types (``DuckDBPyType.id``) whose Arrow form ``_arrow_as_duckdb`` maps; any other goes to ``df()``
_ARROW_MAPPED = frozenset(
    {
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "boolean",
        "varchar",
        "float",
        "double",
        "timestamp",
        "timestamp with time zone",
        "timestamp_s",
        "timestamp_ms",
        "timestamp_ns",
    }
)


def _arrow_as_duckdb(column: pa.ChunkedArray) -> pd.Series | None:
    """``column`` as DuckDB's ``df()`` gives it, or None for a type this does not map (DuckDB reads it then)."""
    kind = column.type
    if kind in _MASKED:  # numpy's dtype without nulls, the masked one with (Arrow alone would give float or object)
        return column.to_pandas(types_mapper=_MASKED.get if column.null_count else None)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):  # pandas' str; all null (or none): object
        if column.null_count == len(column):
            return pd.Series([None] * len(column), dtype=object)
        return column.to_pandas()
    if pa.types.is_floating(kind) or pa.types.is_timestamp(kind):
        return column.to_pandas()
    return None


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The rows of ``sql`` as ``con.execute(sql).df()`` gives them (the same dtypes and values; python/tests/
    test_contracts_read.py), fetched through Arrow: half the time at 250k rows, most of ``df()``'s being the
    conversion of text to pandas' Arrow-backed strings. A column of a type not mapped here (dates, decimals, nested
    types) makes it ``df()``, decided from the query's bound column types before it runs, so it runs once. Rows come
    in the query's order, which, like ``df()``'s, only an ``order by`` fixes."""
    relation = con.sql(sql)
    names = relation.columns
    if not names or len(set(names)) < len(names) or any(kind.id not in _ARROW_MAPPED for kind in relation.types):
        return relation.df()
    table = relation.to_arrow_table()
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        series = _arrow_as_duckdb(column)
        if series is None:  # a type the bound types did not foretell: DuckDB reads it again (not seen so far)
            return con.execute(sql).df()
        columns[name] = series.reset_index(drop=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows), copy=False)


def connect(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the build's memory settings (an in-memory one spills to a temp folder)."""
    config = {}
    for variable, (setting, default) in DUCKDB_SETTINGS.items():
        value = os.environ.get(variable) or default
        if value is None and setting == "temp_directory" and database == ":memory:":
            value = str(Path(tempfile.gettempdir()) / f"readout-contracts-{os.getpid()}.tmp")
        if value is not None:
            config[setting] = value
    try:
        return duckdb.connect(database, read_only=read_only, config=config)
    except duckdb.Error as exc:
        names = ", ".join(f"{v}={os.environ[v]}" for v in DUCKDB_SETTINGS if os.environ.get(v))
        raise ValueError(
            f"cannot open DuckDB{' ' + database if database != ':memory:' else ''}"
            f"{' with ' + names if names else ''}: {str(exc).splitlines()[0]}"
        ) from None


def derived_sql(base_sql: str, derived: dict[str, str], keep: list[str] | None = None) -> str:
    """Each derived column in its own layer (so later ones may use earlier ones); ``keep``: the columns returned."""
    layers = [f"d0 as ({base_sql})"]
    for i, (name, expression) in enumerate(derived.items(), start=1):
        layers.append(f"d{i} as (select t.*, {expression} as {ident(name)} from d{i - 1} as t)")
    columns = ", ".join(map(ident, keep)) if keep else "*"
    return "with " + ",\n".join(layers) + f"\nselect {columns} from d{len(derived)}"


def referenced_columns(expression: str) -> set[str]:
    """The columns a derived column's SQL reads (written ``t.<name>``, as the contracts do)."""
    return set(_COLUMN_REFERENCE.findall(expression))


# ------------------------------------------------------------------------------------------ landing
@dataclass
class LandingFile:
    path: Path
    source: str  #: relative to the landing zone, e.g. events/part-00000.parquet
    columns: dict[str, str]
    rows: int
    declared: str  #: the schema version(s) its rows declare ("1", "1,2", "null"), or "unreadable: ..."
    version: int | None  #: the one schema version of the contract its rows declare, else None

    @property
    def unreadable(self) -> bool:
        return self.declared.startswith("unreadable")


def landing_paths(contract: Contract, landing: Path) -> list[Path]:
    folder = landing / contract.landing_folder
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
            "`readout simulate` writes one)"
        )
    paths = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not paths:
        raise FileNotFoundError(f"no Parquet files under {folder} (landing table of contract {contract.name})")
    return paths


def read_landing_file(contract: Contract, landing: Path, path: Path, con: duckdb.DuckDBPyConnection) -> LandingFile:
    """A landing file's columns (from its footer) and the schema version(s) its rows declare."""
    source = path.relative_to(landing).as_posix()
    try:
        metadata = pq.read_metadata(path)
        schema = metadata.schema.to_arrow_schema()
        rows = metadata.num_rows
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a contract breach, reported by the caller
        return LandingFile(path, source, {}, 0, f"unreadable: {exc}", None)
    columns = {field.name: arrow_type_name(field.type) for field in schema}
    vc, first = contract.version_column, contract.first_version
    if not vc:
        declared, version = str(first), first
    elif vc not in columns:
        declared, version = "", None
    elif rows == 0:
        declared, version = str(first), first
    else:
        values = _single_value(metadata, vc)
        if values is None:  # the footer cannot tell: read the column
            query = f"select distinct {ident(vc)} from read_parquet({q(path)}) order by 1"
            values = [v for (v,) in con.execute(query).fetchall()]
        declared = ",".join("null" if v is None else str(v) for v in values)
        version = values[0] if len(values) == 1 and values[0] in contract.schema_versions else None
    return LandingFile(path, source, columns, rows, declared, version)


def _single_value(metadata, column: str) -> list | None:
    """``[v]`` when the footer's statistics show that every row of ``column`` holds ``v`` (no null, every row
    group's minimum and maximum ``v``), else None (the rows must be read to tell)."""
    index = metadata.schema.names.index(column) if column in metadata.schema.names else None
    if index is None or metadata.num_row_groups == 0:
        return None
    if metadata.schema.column(index).physical_type not in ("INT32", "INT64"):  # other types: as DuckDB reads them
        return None
    seen = set()
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        if group.num_rows == 0:
            continue
        stats = group.column(index).statistics
        if stats is None or not stats.has_min_max or not stats.has_null_count or stats.null_count != 0:
            return None
        seen |= {stats.min, stats.max}
    return list(seen) if len(seen) == 1 else None


def schema_frame(contract: Contract, version: int, sources: list[tuple[str, dict[str, str]]]) -> pd.DataFrame:
    """One row per source x column: the contract's columns (type "(missing)" when absent) and any extra ones
    (no contract name, expected type "(not in the contract)")."""
    expected = contract.columns(version)
    records = []
    for source, columns in sources:
        for column, type_ in expected.items():
            records.append((source, column, column, columns.get(column, MISSING_TYPE), type_))
        for column, type_ in columns.items():
            if column not in expected:
                records.append((source, column, None, type_, NOT_IN_CONTRACT))
    return pd.DataFrame.from_records(
        records, columns=[SOURCE_COLUMN, COLUMN_NAME, CONTRACT_COLUMN, DATA_TYPE, EXPECTED_TYPE]
    ).astype(object)


def landing_rows_sql(contract: Contract, groups: dict[int, list[LandingFile]], landing: Path) -> str:
    """The rows of the files, every schema version mapped onto the first one's columns (try_cast: a value of
    the wrong type reads as null), with ``_source`` the file they come from."""
    base_columns = contract.columns(contract.first_version)
    selects = []
    prefix = str(landing.resolve()) + os.sep
    for version, files in sorted(groups.items()):
        renames = contract.renames.get(version, {})
        observed = set().union(*(f.columns for f in files))
        items = []
        for column, type_ in base_columns.items():
            source = renames.get(column, column)
            duck = DUCKDB_TYPES[type_]
            if source in observed:
                items.append(f"try_cast({ident(source)} as {duck}) as {ident(column)}")
            else:
                items.append(f"cast(null as {duck}) as {ident(column)}")
        items.append(f"replace(filename, {q(prefix)}, '') as _source")
        paths = "[" + ", ".join(q(f.path.resolve()) for f in files) + "]"
        selects.append(f"select {', '.join(items)} from read_parquet({paths}, union_by_name = true, filename = true)")
    return "\nunion all by name\n".join(selects)


# ----------------------------------------------------------------------------------------- context
def register_landing_experiments(con: duckdb.DuckDBPyConnection, landing: Path) -> set[tuple[str, int]]:
    """The experiments export as the temp view ``landing_experiments`` (derived columns look ids up in it);
    returns its (experiment_id, version) pairs."""
    folder = landing / "experiments"
    empty = (
        "select cast(null as varchar) as experiment_id, cast(null as integer) as experiment_version, "
        "cast(null as varchar) as variant_id where false"
    )
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        glob = q(str(folder / "**" / "*.parquet"))
        sql = f"select * from read_parquet({glob}, union_by_name = true) union all by name {empty}"
    else:
        sql = empty
    try:
        con.execute(f"create or replace temp view landing_experiments as {sql}")
    except duckdb.Error:
        con.execute(f"create or replace temp view landing_experiments as {empty}")
    rows = con.execute(
        "select distinct experiment_id, try_cast(experiment_version as integer) "
        "from landing_experiments where experiment_id is not null"
    ).fetchall()
    return {(e, v) for e, v in rows}


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None) -> None:
    """Derived columns read the reference time as getvariable('as_of')."""
    moment = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(f"set variable {AS_OF_VARIABLE} = timestamp '{moment:%Y-%m-%d %H:%M:%S.%f}'")


def events_begin(contract: Contract) -> dt.datetime:
    """The first day of history: the dbt var events_begin of the project holding the contracts folder, so
    staging and the contract share one value."""
    project = contract.path.resolve().parent.parent
    return ingestion_bounds(project if (project / PROJECT_FILE).is_file() else None).events_begin


def set_events_begin(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Derived columns read the first day of history as getvariable('events_begin')."""
    con.execute(f"set variable {EVENTS_BEGIN_VARIABLE} = timestamp '{events_begin(contract):%Y-%m-%d %H:%M:%S}'")


def rule_columns(rule) -> set[str]:
    """The columns one rule reads: its kwargs' columns, condition, count keys and detail fields."""
    wanted = set()
    for key in ("column", "column_A", "column_B"):
        if isinstance(rule.kwargs.get(key), str):
            wanted.add(rule.kwargs[key])
    wanted.update(rule.kwargs.get("column_list") or [])
    wanted.update(rule.where or {})
    wanted.update(rule.count_key)
    if rule.count_value:
        wanted.add(rule.count_value)
    if rule.detail:
        wanted.update(name for _, name, _, _ in string.Formatter().parse(rule.detail) if name)
    return wanted


def needed_columns(spec: SuiteSpec, columns: list[str]) -> list[str]:
    """The columns the suite's rules, partitions, counts, details and readouts read (a narrower frame is
    much faster for GX to filter)."""
    wanted = set(spec.partition_by) | {"experiment_id", "experiment_version", "event_name", "metric_id"}
    for rule in spec.rules:
        wanted |= rule_columns(rule)
    return [c for c in columns if c in wanted]
