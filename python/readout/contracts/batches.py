"""A landing table of immutable files (``source.files: immutable``), validated file by file, each file once.

Landing files are immutable batches: a producer adds files, it never rewrites one. So each file is validated once,
in batches of at most ``batch_rows`` rows (DuckDB streams the file's rows, mapped onto the contract's shape, to the
suite's engine in pandas chunks, so memory does not grow with the landing zone), and the result is remembered by the
file's fingerprint (cache.py): per rule and partition the failing and the considered rows, and what the failing rows
feed. A refresh validates only the new files and adds every file's counts up, so it reports what one validation of
the whole landing zone reports, rule for rule and count for count (python/tests/test_contracts_batches.py holds them
equal):

* rules that compare rows across files (duplicates, conflicting payloads, one schema version per source, one
  event_id from two producers) are counted over the whole zone by DuckDB, from a narrow keys file each
  validated file leaves in the cache (zone.py);
* table-level rules combine the files' values: the row count adds up, a column's minimum is the least of
  the files' minima;
* rules on the reference time (rows in the future, freshness) are checked again at each run's as-of: a file
  keeps its counts only while the as-of moves none of its rows across a rule's bound (as_of.py);
* a file is validated again, and the summary says why, when the contract, the experiments export's ids, the
  dbt var events_begin or the validator changed since it was validated.

Small files (a refresh's new batch: 100 files of 10k rows at 100M events) are validated together: a run has a fixed
cost whatever the rows (about a second through GX; the fast engine's, a few milliseconds per expectation), so
consecutive files of one shape whose rows fit one batch go through one run, and each file's counts, table values,
ranges and keys are read off it by the file its rows came from (``_source``): each file's remembered validation is
the one it gets alone (validate_pack).

A landing file that changed or disappeared after it was validated is an error that names it (LandingChanged):
a rewritten batch is never silently validated again. ``--full`` validates the landing zone afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from . import BATCH_ROWS
from . import as_of as timing
from .cache import Cache, context_fingerprint, now
from .docs import Runner
from .engine import scalar, verdict
from .evaluate import (
    QUARANTINED,
    READOUT_COLUMNS,
    Batch,
    Readouts,
    Tally,
    considered_masks,
    outcomes,
    tally,
    tally_by_file,
)
from .keyindex import KeyIndex, state_key
from .load import Contract, ContractError, Rule
from .read import LandingFile, derived_sql, fetch_frame, ident, landing_rows_sql, needed_columns
from .results import Outcome
from .suites import SuiteSpec
from .zone import Split, split

#: table-level expectations whose value over the files combines the files' values: how
COMBINE = {"expect_table_row_count_to_be_between": "sum", **timing.TABLE_EXTREMES}


@dataclass(frozen=True)
class Plan:
    rows_spec: SuiteSpec  #: the whole rows suite (its rule order is the report's)
    batch_spec: SuiteSpec  #: the rules GX runs on every batch of a file: row by row, and table-level
    zone: Split  #: the rules counted over the whole zone, and the keys they read
    as_of: timing.AsOf
    frame_columns: tuple[str, ...]  #: the columns of a batch
    readout_columns: frozenset


def plan(contract: Contract, rows_spec: SuiteSpec) -> Plan:
    names = [*contract.columns(contract.first_version), "_source", *contract.derived_columns]
    zone = split(contract, rows_spec.rules, rows_spec.partition_by, names)
    batch_rules = tuple(r for r in rows_spec.rules if r not in zone.zone_rules)
    for rule in batch_rules:
        if rule.level == "table" and rule.expect not in COMBINE:
            raise ContractError(
                f"{contract.path.name}: table-level rule {rule.rule} ({rule.expect}) cannot be "
                f"combined across landing files; use one of {', '.join(COMBINE)}"
            )
    batch_spec = replace(rows_spec, rules=batch_rules)
    as_of = timing.analyse(contract.derived_columns, rows_spec.rules, batch_rules, zone.key_columns)
    wanted = set(needed_columns(batch_spec, names)) | set(zone.key_columns) | as_of.columns
    return Plan(
        rows_spec,
        batch_spec,
        zone,
        as_of,
        tuple(c for c in names if c in wanted),
        frozenset(c for c in READOUT_COLUMNS if c in wanted),
    )


# ----------------------------------------------------------------------------------------- table rules
def _combine(kind: str, a, b):
    if a is None or (isinstance(a, float) and pd.isna(a)):
        return b
    if b is None or (isinstance(b, float) and pd.isna(b)):
        return a
    return a + b if kind == "sum" else (min(a, b) if kind == "min" else max(a, b))


def table_value(plan_: Plan, rule: Rule, validations: list[dict], columns: timing.Columns):
    """A table-level rule's value over every file: the files' values combined or, for a column computed from
    the as-of, the column at this as-of over the ends of the files' anchor ranges."""
    kind = COMBINE[rule.expect]
    column = rule.kwargs.get("column")
    value = None
    for validation in validations:
        if column in plan_.as_of.anchors:
            for point in validation["anchors"].get(plan_.as_of.anchors[column][0], []):
                value = _combine(kind, value, columns(column, point))
        else:
            value = _combine(kind, value, validation["table"].get(rule.rule))
    return 0 if value is None and kind == "sum" else value


# ------------------------------------------------------------------------------------------- one file
class _FileValidation:
    """One file's validation, added up batch by batch: its counts, its table-level values, its as-of ranges,
    and its keys file for the rules across files."""

    def __init__(self, plan_: Plan, keys_path: Path, key_schema: pa.Schema):
        spec = plan_.batch_spec
        self.plan, self.keys_path, self.key_schema = plan_, keys_path, key_schema
        self.tallies = {
            r.rule: Tally(readouts=Readouts(0, plan_.readout_columns)) for r in spec.rules if r.level == "row"
        }
        self.tallies[QUARANTINED] = Tally(readouts=Readouts(0, plan_.readout_columns))
        self.table = {r.rule: None for r in spec.rules if r.level == "table"}
        self.errors: dict[str, str] = {}
        self.ranges: dict[str, dict] = {}
        self.anchors: dict[str, list] = {}
        self.rows = 0
        keys_path.parent.mkdir(parents=True, exist_ok=True)
        self.temp_keys = keys_path.with_suffix(f".{os.getpid()}.tmp")
        self.writer = None

    def add(self, frame: pd.DataFrame, result, masks: dict | None = None) -> None:
        """One batch of the file (``frame``, indexed by the rows' positions in the file) and its GX result
        (``masks``: the rows each rule with a ``where`` considers, when known)."""
        batch = tally(self.plan.batch_spec, frame, result, quarantine=True, masks=masks)
        self.add_counted(batch, frame, frame[list(self.plan.zone.key_columns)])

    def add_counted(self, batch: Batch, frame: pd.DataFrame, keys: pd.DataFrame | pa.Table) -> None:
        """One batch of the file, counted (``batch``, :func:`tally`'s): ``frame`` holds at least its as-of
        columns, ``keys`` its key columns."""
        spec = self.plan.batch_spec
        self.rows += batch.rows
        for rule in spec.rules:
            found = batch.tallies.get(rule.rule)
            if found is None or found.error:
                self.errors.setdefault(rule.rule, found.error if found else "the rule did not run")
            elif rule.level == "table":
                self.table[rule.rule] = _combine(COMBINE[rule.expect], self.table[rule.rule], scalar(found.observed))
            else:
                self.tallies[rule.rule].add(found)
        self.tallies[QUARANTINED].add(batch.tallies[QUARANTINED])
        timing.record(self.plan.as_of, batch, frame, self.ranges, self.anchors)
        if isinstance(keys, pd.DataFrame):
            keys = pa.Table.from_pandas(keys, schema=self.key_schema, preserve_index=False)
        self.writer = self.writer or pq.ParquetWriter(self.temp_keys, self.key_schema)
        self.writer.write_table(keys)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def finish(self) -> dict:
        self.close()
        keys_sha256 = None
        if self.writer is not None:
            os.replace(self.temp_keys, self.keys_path)
            keys_sha256 = hashlib.sha256(self.keys_path.read_bytes()).hexdigest()
        return {
            "rows": self.rows,
            "tallies": {k: v.to_json() for k, v in self.tallies.items()},
            "table": self.table,
            "errors": self.errors,
            "as_of_ranges": self.ranges,
            "anchors": self.anchors,
            "keys": self.writer is not None,
            "keys_sha256": keys_sha256,
        }


def _rows_sql(plan_: Plan, files: list[LandingFile], landing: Path, extra: tuple[str, ...] = ()) -> str:
    return derived_sql(
        landing_rows_sql(plan_.batch_spec.contract, {files[0].version: files}, landing),
        plan_.zone.local_columns,
        keep=[*plan_.frame_columns, *extra],
    )


def _key_schema(plan_: Plan, con: duckdb.DuckDBPyConnection, sql: str) -> pa.Schema:
    columns = ", ".join(ident(c) for c in plan_.zone.key_columns)
    return con.sql(f"select {columns} from ({sql}) limit 0").to_arrow_table().schema


def validate_file(
    plan_: Plan,
    file: LandingFile,
    landing: Path,
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    keys_path: Path,
    batch_rows: int,
    bar: tqdm,
) -> dict:
    """Validate one landing file in batches of ``batch_rows`` rows: its counts, its table-level values, its
    as-of ranges, and its keys file for the rules across files."""
    sql = _rows_sql(plan_, [file], landing)
    state = _FileValidation(plan_, keys_path, _key_schema(plan_, con, sql))
    result = con.execute(sql)
    try:
        while True:
            frame = result.fetch_df_chunk(_chunk_rows(batch_rows) // duckdb.__standard_vector_size__)
            if frame.empty:
                break
            frame.index = pd.RangeIndex(state.rows, state.rows + len(frame))
            state.add(frame, runner.run(plan_.batch_spec, frame))
            bar.update(len(frame))
    finally:
        state.close()
    return state.finish()


# ------------------------------------------------------------------------------------- small files
#: validate small files of one shape together, one GX run for several (GX costs about a second per run
#: whatever the rows: 100 new files of 10k rows took 100 runs); off: one run per file, as before
PACK_FILES = True
#: the table-level rules a pack can answer per file: a file's row count is its rows in the pack; a numeric
#: column's minimum or maximum (GX's value: pandas' min or max, nulls skipped) that of its rows
_PACKABLE_TABLE_RULES = {"expect_table_row_count_to_be_between", *timing.TABLE_EXTREMES}


def _table_value(rule: Rule, frame: pd.DataFrame, rows: np.ndarray):
    """A table rule's value over ``rows`` of ``frame`` (positions): their count, or a column's minimum or maximum
    (GX's value: pandas', nulls skipped)."""
    if rule.expect == "expect_table_row_count_to_be_between":
        return len(rows)
    value = getattr(frame[rule.kwargs["column"]].iloc[rows], timing.TABLE_EXTREMES[rule.expect])()
    return None if pd.isna(value) else value


def _chunk_rows(batch_rows: int) -> int:
    """The rows of one batch of :func:`validate_file` (whole DuckDB vectors)."""
    return max(1, batch_rows // duckdb.__standard_vector_size__) * duckdb.__standard_vector_size__


def packs(plan_: Plan, files: list[LandingFile], batch_rows: int) -> list[list[LandingFile]]:
    """``files`` in order, consecutive small files of one shape (schema version and columns) grouped while
    their rows fit one batch of :func:`validate_file` (so each is one batch there too); a file alone when it
    does not, or when packing cannot answer a rule per file."""
    table_rules = {r.expect for r in plan_.batch_spec.rules if r.level == "table"}
    if not PACK_FILES or not table_rules <= _PACKABLE_TABLE_RULES:
        return [[f] for f in files]
    batch_rows = _chunk_rows(batch_rows)
    out: list[list[LandingFile]] = []
    rows = 0
    for f in files:
        last = out[-1] if out else None
        if (
            last is not None
            and rows + f.rows <= batch_rows
            and (f.version, f.columns) == (last[0].version, last[0].columns)
        ):
            last.append(f)
            rows += f.rows
        else:
            out.append([f])
            rows = f.rows
    return out


def validate_pack(
    plan_: Plan,
    files: list[LandingFile],
    landing: Path,
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    keys_paths: list[Path],
    batch_rows: int,
    bar: tqdm,
) -> list[dict]:
    """Validate small files together, one GX run for their rows, each file's validation what
    :func:`validate_file` gives it alone (python/tests/test_contracts_batches.py): its rows are told apart by
    ``_source``, the file each row was read from (when they do not add up to the files' row counts, or a rule
    cannot be answered per file, each file is validated alone)."""
    if len(files) == 1:
        return [validate_file(plan_, files[0], landing, con, runner, keys_paths[0], batch_rows, bar)]
    sql = _rows_sql(plan_, files, landing, extra=("_source",))
    frame = fetch_frame(con, sql)
    sources = frame.pop("_source").to_numpy()  # which file each row is from: read, not validated
    prefix = str(landing.resolve()) + os.sep
    codes, names = pd.factorize(sources)
    file_of = {str(f.path.resolve()).replace(prefix, ""): k for k, f in enumerate(files)}
    owner = np.array([file_of.get(name, -1) for name in names], dtype=np.int64)[codes]
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(len(files) + 1))
    positions = [order[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    extremes = [r.kwargs.get("column") for r in plan_.batch_spec.rules if r.expect in timing.TABLE_EXTREMES]
    if (
        (owner < 0).any()
        or any(len(at) != f.rows for at, f in zip(positions, files, strict=True))
        or not all(pd.api.types.is_numeric_dtype(frame[c]) for c in extremes)
    ):
        return [
            validate_file(plan_, f, landing, con, runner, keys_path, batch_rows, bar)
            for f, keys_path in zip(files, keys_paths, strict=True)
        ]
    result = runner.run(plan_.batch_spec, frame)
    # counted for every file at once (evaluate.tally_by_file), each file's batch as tally gives it alone
    counted = tally_by_file(
        plan_.batch_spec,
        frame,
        result,
        owner,
        positions,
        lambda rule, k: _table_value(rule, frame, positions[k]),
        considered_masks(plan_.batch_spec, frame),
    )
    key_schema = _key_schema(plan_, con, sql)
    keys = pa.Table.from_pandas(frame[list(plan_.zone.key_columns)], schema=key_schema, preserve_index=False)
    as_of_columns = [c for c in frame.columns if c in plan_.as_of.columns]
    validations = []
    for keys_path, at, batch in zip(keys_paths, positions, counted, strict=True):
        state = _FileValidation(plan_, keys_path, key_schema)
        if len(at):
            part = frame[as_of_columns].iloc[at]
            part.index = pd.RangeIndex(0, len(at))
            state.add_counted(batch, part, keys.take(at))
        validations.append(state.finish())
    bar.update(len(frame))
    return validations


# ------------------------------------------------------------------------------------------------ run
@contextmanager
def activity(description: str, enabled: bool):
    """A step without a count to show: after two seconds, stderr shows it with its elapsed time."""
    with tqdm(
        total=None, desc=description, bar_format="{desc}: {elapsed}", file=sys.stderr, delay=2, disable=not enabled
    ) as bar:
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(0.5):
                bar.update(0)  # redraws the elapsed time once the delay has passed

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()


@dataclass
class Summary:
    """What one run read: files and rows validated now and taken from the cache, and why any were validated
    again."""

    contract: str
    files: int = 0
    validated: int = 0
    validated_rows: int = 0
    cached: int = 0
    cached_rows: int = 0
    seconds: float = 0.0
    revalidated: dict[str, int] = field(default_factory=dict)  #: reason -> files
    cache: str | None = None

    @property
    def sentence(self) -> str:
        text = (
            f"{self.contract}: {self.validated:,} landing file(s) validated ({self.validated_rows:,} rows), "
            f"{self.cached:,} unchanged from the cache ({self.cached_rows:,} rows)"
        )
        if self.revalidated:
            text += "; validated again: " + ", ".join(f"{n:,} ({why})" for why, n in sorted(self.revalidated.items()))
        return text + f", in {self.seconds:.1f}s"

    def as_dict(self) -> dict:
        return {
            "contract": self.contract,
            "files": self.files,
            "validated": self.validated,
            "validated_rows": self.validated_rows,
            "cached": self.cached,
            "cached_rows": self.cached_rows,
            "revalidated": self.revalidated,
            "seconds": round(self.seconds, 3),
            "cache": self.cache,
        }


def validate_rows(
    contract: Contract,
    rows_spec: SuiteSpec,
    files: list[LandingFile],
    landing: Path,
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    as_of: dt.datetime,
    known: set | None,
    cache: Cache,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: bool = True,
) -> tuple[list[Outcome], Summary]:
    """The rows suite's outcomes over ``files`` (each of one schema version of the contract, recorded in the
    cache): the cached counts where they hold, the other files validated now."""
    started = time.monotonic()
    plan_ = plan(contract, rows_spec)
    context = context_fingerprint(contract, [r.rule for r in plan_.batch_spec.rules], con)
    summary = Summary(contract.name, files=len(files), cache=str(cache.path) if cache.persistent else None)
    columns = timing.Columns(con, plan_.as_of)
    cached = {f.source: cache.files[f.source].get("validation") for f in files}
    columns.compute(
        set().union(
            set(), *(timing.rule_points(plan_.as_of, v) for v in cached.values() if v and v["context"] == context)
        )
    )
    validations: dict[str, dict] = {}
    todo: list[LandingFile] = []
    for f in files:
        validation = cached[f.source]
        if validation is None:
            todo.append(f)
            continue
        if validation["context"] != context:
            reason = "the contract, the experiments export's ids, events_begin or the validator changed"
        elif validation["keys"] and not cache.keys_path(f.source).is_file():
            reason = "their keys file is missing from the cache"
        elif not timing.still_holds(plan_.as_of, validation, as_of, columns):
            reason = "the as-of time moved across a rule's bound for some of their rows"
        else:
            validations[f.source] = validation
            summary.cached += 1
            summary.cached_rows += validation["rows"]
            continue
        summary.revalidated[reason] = summary.revalidated.get(reason, 0) + 1
        todo.append(f)
    with tqdm(
        total=sum(f.rows for f in todo),
        unit="row",
        unit_scale=True,
        file=sys.stderr,
        delay=2,
        desc=f"{contract.name}: validating {len(todo)} landing file(s)",
        disable=not progress or not todo,
        dynamic_ncols=True,
    ) as bar:
        for pack in packs(plan_, todo, batch_rows):
            keys_paths = [cache.keys_path(f.source) for f in pack]
            done = validate_pack(plan_, pack, landing, con, runner, keys_paths, batch_rows, bar)
            for f, validation in zip(pack, done, strict=True):
                validation.update(context=context, as_of=as_of.isoformat(), validated_at=now())
                cache.files[f.source]["validation"] = validations[f.source] = validation
                summary.validated += 1
                summary.validated_rows += validation["rows"]
            cache.save(force=False)
        cache.save()
    ordered = [validations[f.source] for f in files]
    found = _add_up(plan_, ordered)
    runner.start()  # GX for the Data Docs, if wanted: its import (Python) beside the key index (DuckDB, no GIL)
    found.update(_across_files(plan_, contract, files, cache, con, context, as_of, progress))
    columns.compute(timing.table_points(plan_.as_of, plan_.batch_spec.rules, ordered))
    for rule in plan_.batch_spec.rules:
        if rule.level == "table" and rule.rule not in found:
            value = table_value(plan_, rule, ordered, columns)
            found[rule.rule] = Tally(observed=value, success=verdict(rule.kwargs, value))
    summary.seconds = time.monotonic() - started
    return outcomes(rows_spec, found, known=known, context={"as_of": as_of}), summary


def _across_files(
    plan_: Plan,
    contract: Contract,
    files: list[LandingFile],
    cache: Cache,
    con: duckdb.DuckDBPyConnection,
    context: str,
    as_of: dt.datetime,
    progress: bool,
) -> dict[str, Tally]:
    """The rules across files, from the key index (keyindex.py): brought up to date with the files' keys
    (only new or changed files are read), then its counts."""
    if not plan_.zone.zone_rules:
        return {}
    with_keys = {
        f.source: (str(cache.keys_path(f.source)), cache.files[f.source]["validation"]["keys_sha256"])
        for f in files
        if cache.files[f.source]["validation"]["keys"]
    }
    reads_as_of = plan_.as_of.pinned or any(timing.reads_as_of(sql) for sql in plan_.zone.zone_columns.values())
    index = KeyIndex(con, cache.index_path, plan_.zone, plan_.rows_spec.partition_by, plan_.readout_columns)
    rows = sum(cache.files[s]["validation"]["rows"] for s in with_keys)
    with activity(f"{contract.name}: rules across {len(with_keys):,} landing file(s), {rows:,} rows", progress):
        try:
            return index.tallies(with_keys, state_key(context, as_of.isoformat() if reads_as_of else None))
        except duckdb.Error as exc:
            message = f"counting across landing files failed: {str(exc).splitlines()[0][:160]}"
            return {rule.rule: Tally(error=message) for rule in plan_.zone.zone_rules}


def _add_up(plan_: Plan, validations: list[dict]) -> dict[str, Tally]:
    found = {
        r.rule: Tally(readouts=Readouts(0, plan_.readout_columns)) for r in plan_.batch_spec.rules if r.level == "row"
    }
    found[QUARANTINED] = Tally(readouts=Readouts(0, plan_.readout_columns))
    for validation in validations:
        for rule_id, data in validation["tallies"].items():
            if rule_id in found:
                found[rule_id].add(Tally.from_json(data))
        for rule_id, message in validation["errors"].items():
            found[rule_id] = Tally(error=message)
    return found
