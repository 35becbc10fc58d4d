"""Reading a unit-level export: CSV, gzip-compressed CSV or Parquet, chosen by the file's suffix.

CSV cells are read as text (nothing is guessed: ``007`` stays ``007``); the importer parses each
mapped column itself so that a bad cell is reported with its column and row. Parquet columns keep
their types. Every failure is a :class:`readout.cli.UsageError` with one clear line.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from readout.cli import UsageError

SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Text cells that mean "no value" (compared after trimming, case-insensitively).
NULL_TOKENS = ("", "na", "n/a", "null", "nan", "none")
CSV_DELIMITERS = (",", ";", "\t")


def detect_format(path: Path) -> str:
    """``'csv'`` or ``'parquet'`` from the suffix (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``)."""
    name = path.name.lower()
    for suffix, kind in sorted(SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    raise UsageError(f"cannot tell the format of {path}: the file name must end in .csv, .csv.gz or .parquet")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass
class Export:
    """An export file whose header has been read; :meth:`read` loads the columns needed."""

    path: Path
    format: str
    columns: list[str]
    delimiter: str = ","

    @property
    def label(self) -> str:
        return str(self.path)

    def require(self, wanted: list[tuple[str, str]]) -> None:
        """Fail, naming every (mapping key, column) whose column is not in the file."""
        problems = []
        for key, column in wanted:
            count = self.columns.count(column)
            if count == 0:
                close = difflib.get_close_matches(column, self.columns, n=1, cutoff=0.6)
                close += [c for c in self.columns if c.strip().lower() == column.strip().lower() and c not in close]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{key}: column {column!r} is not in the file{hint}")
            elif count > 1:
                problems.append(f"{key}: column {column!r} appears {count} times in the header")
        if not problems:
            return
        listed = ", ".join(self.columns) if len(self.columns) <= 40 else ", ".join(self.columns[:40]) + ", ..."
        if len(problems) == 1:
            raise UsageError(f"{self.path}: {problems[0]}; the file's columns are: {listed}")
        lines = "\n".join(f"  - {p}" for p in problems)
        raise UsageError(
            f"{self.path}: {len(problems)} mapped columns are not usable:\n{lines}\n  the file's columns are: {listed}"
        )

    def read(self, columns: list[str]) -> pa.Table:
        """The named columns, in file row order (CSV: all text)."""
        wanted = list(dict.fromkeys(columns))
        if self.format == "parquet":
            try:
                return pq.read_table(self.path, columns=wanted)
            except (pa.ArrowException, OSError) as exc:
                raise UsageError(f"cannot read Parquet file {self.path}: {_first_line(exc)}") from None
        bad_rows: list[tuple[int | None, int, int]] = []

        def on_invalid_row(row) -> str:
            bad_rows.append((row.number, row.expected_columns, row.actual_columns))
            return "skip"

        try:
            table = pa_csv.read_csv(
                self.path,
                # Single-threaded so that a malformed row comes with its number (the file is read once).
                read_options=pa_csv.ReadOptions(use_threads=False),
                parse_options=pa_csv.ParseOptions(
                    delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in wanted},
                    include_columns=wanted,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except (pa.ArrowException, OSError, EOFError, gzip.BadGzipFile) as exc:
            message = _first_line(exc)
            if "utf8" in message.lower():
                where = re.search(r"column #(\d+): Row #(\d+)", message)
                if where and int(where.group(1)) < len(self.columns):
                    column, row = self.columns[int(where.group(1))], int(where.group(2)) - 1  # Row # counts the header
                    message = f"column {column!r} at row {row} is not UTF-8 text; save the file as UTF-8"
                else:
                    message = f"the file is not UTF-8 text; save it as UTF-8 ({message})"
            raise UsageError(f"cannot read CSV file {self.path}: {message}") from None
        if bad_rows:
            number, expected, actual = bad_rows[0]
            where = f"row {number - 1}" if number is not None else "a row"  # number counts the header
            more = f" ({len(bad_rows):,} malformed rows in all)" if len(bad_rows) > 1 else ""
            raise UsageError(
                f"cannot read CSV file {self.path}: {where} has {actual} fields but the header has {expected}{more}"
            )
        return table


def _csv_header(path: Path) -> tuple[list[str], str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            first_bytes = raw.readline()
        first = first_bytes.decode("utf-8-sig")
    except gzip.BadGzipFile:
        raise UsageError(f"cannot read {path}: the name ends in .gz but the file is not gzip-compressed") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"cannot read {path}: {_first_line(exc)}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: the header is not UTF-8 text") from None
    if not first.strip():
        raise UsageError(f"{path} is empty: expected a header line with column names")
    delimiter = next((d for d in CSV_DELIMITERS if d in first), ",")
    header = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter))
    return header, delimiter


def open_export(path: str | Path) -> Export:
    """Check the file exists and read its header (column names)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"export file not found: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; --file takes one CSV, CSV.gz or Parquet file")
    kind = detect_format(path)
    if kind == "parquet":
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"cannot read Parquet file {path}: {_first_line(exc)}") from None
        return Export(path, kind, list(schema.names))
    header, delimiter = _csv_header(path)
    return Export(path, kind, header, delimiter)


# ------------------------------------------------------------------------------- cell conversion
def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """A column as trimmed text with every null token (``''``, ``NA``, ``null``, ...) as null.

    Integers print as integers, whole floats without ``.0`` (an id read as float stays ``123``),
    booleans as ``true``/``false``.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
        type_ = column.type
    if pa.types.is_boolean(type_):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_floating(type_):
        whole = pc.and_(pc.is_finite(column), pc.equal(column, pc.trunc(column)))
        as_int = pc.cast(pc.if_else(whole, column, 0.0), pa.int64(), safe=False)
        text = pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(column, pa.string()))
    elif pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        text = column.cast(pa.string())
    elif pa.types.is_string(type_):
        text = column
    else:
        try:
            text = column.cast(pa.string())
        except pa.ArrowException as exc:
            raise UsageError(f"cannot read a column of type {type_} as text: {_first_line(exc)}") from None
    text = pc.utf8_trim_whitespace(text)
    is_null_token = pc.is_in(pc.utf8_lower(text), value_set=pa.array(NULL_TOKENS))
    return pc.if_else(is_null_token, pa.scalar(None, pa.string()), text)
