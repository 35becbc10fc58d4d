"""``readout contracts validate``: run the contracts' suites, count failing rows, apply the thresholds, alert.

Two stages:

* ``raw`` (before ``dbt build``): the landing zone's Parquet files, read with DuckDB. Each file's schema is
  checked against its declared schema version; the rows of every known version are mapped onto the first
  version's shape. A table of immutable files (``source.files: immutable``, the events) is validated file
  by file in bounded batches, each file once, remembered in a cache (batches.py); a snapshot (the
  experiments export) is validated whole on every run.
* ``marts`` (after it): curated tables and marts read from the DuckDB warehouse (opened read-only).

Severity. A row-level rule counts its failing rows per partition (e.g. per source system): a warning
above ``warn_above`` of the partition's rows, an error above ``error_above`` (the materiality
threshold). Rows failing a rule with a ``quarantine_reason`` are the rows staging quarantines; above
``quarantined_share_error_above`` of one partition that is an error too. A table-level rule (a
missing column, a changed type, stale data, an empty table) is an error (or the warning its contract
names) as soon as it fails. Errors make the command exit 1; the build goes on past warnings.

Modules: results.py (outcomes, report, alert sentences), evaluate.py (GX results to counts to outcomes),
engine.py (the suites with GX's semantics, vectorized: the default engine),
read.py (DuckDB reading), batches.py, zone.py, as_of.py and cache.py (the landing zone file by file,
remembered), docs.py (the engines' runner, GX, Data Docs).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
from tqdm import tqdm

from ..landing import resolve_as_of  # noqa: F401 - re-exported: `from readout.contracts.validate import resolve_as_of`
from . import BATCH_ROWS, ENGINE_ENV, batches
from .cache import Cache, check_unchanged, fingerprint
from .docs import Runner
from .engine import scalar, verdict
from .evaluate import READOUT_COLUMNS, Readouts, Tally, evaluate, readouts_affected, tally  # noqa: F401
from .evaluate import outcomes as outcomes_of
from .load import Contract, ContractError, Rule, select
from .read import (
    LandingFile,
    connect,
    derived_sql,
    landing_paths,
    landing_rows_sql,
    needed_columns,
    read_landing_file,
    register_landing_experiments,
    schema_frame,
    set_as_of,
    set_events_begin,
)
from .results import Outcome, PartitionCount, Report, alert_sentence  # noqa: F401 - re-exported
from .suites import SOURCE_COLUMN, VERSION_COLUMN, SuiteSpec, suite_specs
from .zone import count_zone, split


def _not_validated(contract: Contract, spec: SuiteSpec, message: str) -> Outcome:
    rule = Rule(rule="readable", expect="(read)", kwargs={}, level="table", says="could not be read", severity="error")
    outcome = Outcome(contract, spec.name, rule, severity="error", count=1, view=spec.view)
    outcome.problem = message
    return outcome


def _file_outcomes(
    contract: Contract, files: list[LandingFile], specs: dict[str, SuiteSpec], runner: Runner
) -> tuple[list[Outcome], dict[int, list[LandingFile]]]:
    """Unreadable files, the schema version each file declares and each version's columns and types (one
    small frame per suite, one row per file or file x column); the files grouped by their one version."""
    outcomes: list[Outcome] = []
    for f in files:
        if f.unreadable:
            outcomes.append(
                _not_validated(
                    contract,
                    specs["rows"],
                    f"has a file that is not readable Parquet ({f.source}: {f.declared[12:].strip()[:120]})",
                )
            )
    if "files" in specs:
        frame = pd.DataFrame(
            {SOURCE_COLUMN: [f.source for f in files], VERSION_COLUMN: [f.declared for f in files]}
        ).astype(object)
        outcomes += evaluate(specs["files"], frame, runner.run(specs["files"], frame))
    groups: dict[int, list[LandingFile]] = {}
    for f in files:
        if f.version is not None:
            groups.setdefault(f.version, []).append(f)
    for version, members in sorted(groups.items()):
        spec = specs[f"schema_v{version}"]
        frame = schema_frame(contract, version, [(f.source, f.columns) for f in members])
        outcomes += evaluate(spec, frame, runner.run(spec, frame))
    return outcomes, groups


def _remembered(cache: Cache, path: Path, landing: Path) -> LandingFile | None:
    """A landing file as the cache read it (check_unchanged has held its fingerprint equal), without reading
    its rows again for the schema versions they declare."""
    entry = cache.files.get(path.relative_to(landing).as_posix())
    if not entry or not all(key in entry for key in ("columns", "rows", "declared", "version")):
        return None
    return LandingFile(
        path,
        path.relative_to(landing).as_posix(),
        dict(entry["columns"]),
        int(entry["rows"]),
        str(entry["declared"]),
        entry["version"],
    )


def validate_landing(
    contract: Contract,
    landing: Path,
    runner: Runner,
    as_of: dt.datetime,
    *,
    cache_dir: Path | None = None,
    full: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
    summaries: list | None = None,
) -> list[Outcome]:
    """A landing table's outcomes: file by file through the cache for immutable files, else in one frame."""
    immutable = contract.source.get("files") == "immutable"
    con = connect()
    cache = Cache(contract, landing, cache_dir) if immutable else None
    try:
        set_as_of(con, as_of)
        set_events_begin(con, contract)
        known = register_landing_experiments(con, landing)
        paths = landing_paths(contract, landing)
        if cache is not None:  # before anything is read: a changed file stops the run
            fingerprints = {p.relative_to(landing).as_posix(): fingerprint(p) for p in paths}
            if not full:
                check_unchanged(cache.files, landing, fingerprints)
        # a remembered file (same fingerprint) is not read again: its columns and declared versions are cached
        files = [_remembered(cache, p, landing) if cache is not None and not full else None for p in paths]
        specs = {
            spec.kind if spec.kind != "schema" else f"schema_v{spec.version}": spec for spec in suite_specs(contract)
        }
        unread = sum(f is None for f in files)
        with batches.activity(f"{contract.name}: reading the schemas of {unread:,} landing file(s)", progress):
            files = [f or read_landing_file(contract, landing, p, con) for f, p in zip(files, paths)]
            outcomes, groups = _file_outcomes(contract, files, specs, runner)
        rows_spec = specs["rows"]
        if not groups:
            outcomes.append(_not_validated(contract, rows_spec, "has no file of a schema version the contract defines"))
            return outcomes
        known_for_readouts = known if contract.name != "raw_experiments" else None
        if cache is not None:
            cache.record(files, fingerprints, full)
            validated = [f for f in files if f.version is not None]
            found, summary = batches.validate_rows(
                contract,
                rows_spec,
                validated,
                landing,
                con,
                runner,
                as_of,
                known_for_readouts,
                cache,
                batch_rows=batch_rows,
                progress=progress,
            )
            if summaries is not None:
                summaries.append(summary)
            return outcomes + found
        names = [*contract.columns(contract.first_version), "_source", *contract.derived_columns]
        sql = derived_sql(
            landing_rows_sql(contract, groups, landing), contract.derived_columns, keep=needed_columns(rows_spec, names)
        )
        with batches.activity(f"{contract.name}: validating the rows of {len(paths):,} landing file(s)", progress):
            try:
                frame = con.execute(sql).df()
            except duckdb.Error as exc:
                outcomes.append(_not_validated(contract, rows_spec, f"could not be read: {str(exc).splitlines()[0]}"))
                return outcomes
            return outcomes + evaluate(
                rows_spec,
                frame,
                runner.run(rows_spec, frame),
                known=known_for_readouts,
                context={"as_of": as_of},
                quarantine=True,
            )
    finally:
        con.close()
        if cache is not None:
            cache.close()


def _warehouse_rows(
    contract: Contract,
    rows_spec: SuiteSpec,
    columns: list[str],
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    batch_rows: int,
    progress: bool,
) -> list[Outcome]:
    """A warehouse table's rows suite in bounded memory: DuckDB streams the rules' columns to the engine in batches
    of at most ``batch_rows`` rows and the batches' counts add up (as a landing file's do, batches.py); the
    rules that compare rows with each other (uniqueness, duplicates) or read a windowed derived column are
    counted by DuckDB over the whole table (zone.count_zone). Counts, severities, details and readouts are
    those of one validation of the whole table (python/tests/test_contracts_warehouse.py holds them equal)."""
    names = [*columns, *contract.derived_columns]
    zone = split(contract, rows_spec.rules, rows_spec.partition_by, names)
    batch_spec = replace(rows_spec, rules=tuple(r for r in rows_spec.rules if r not in zone.zone_rules))
    for rule in batch_spec.rules:
        if rule.level == "table" and rule.expect not in batches.COMBINE:
            raise ContractError(
                f"{contract.path.name}: table-level rule {rule.rule} ({rule.expect}) cannot be combined "
                f"across batches; use one of {', '.join(batches.COMBINE)}"
            )
    readout_columns = frozenset(c for c in READOUT_COLUMNS if c in names)
    relation = f"select * from {contract.relation}"
    sql = derived_sql(relation, zone.local_columns, keep=needed_columns(batch_spec, names))
    total = con.execute(f"select count(*) from {contract.relation}").fetchone()[0]
    found = {r.rule: Tally(readouts=Readouts(0, readout_columns)) for r in batch_spec.rules if r.level == "row"}
    table: dict[str, object] = {r.rule: None for r in batch_spec.rules if r.level == "table"}
    errors: dict[str, str] = {}
    result = con.execute(sql)
    rows = 0
    with tqdm(
        total=total,
        unit="row",
        unit_scale=True,
        file=sys.stderr,
        delay=2,
        desc=f"{contract.name}: validating {contract.relation}",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        while True:
            frame = result.fetch_df_chunk(max(1, batch_rows // duckdb.__standard_vector_size__))
            if frame.empty and rows:
                break
            frame.index = pd.RangeIndex(rows, rows + len(frame))
            rows += len(frame)
            batch = tally(batch_spec, frame, runner.run(batch_spec, frame))
            for rule in batch_spec.rules:
                got = batch.tallies.get(rule.rule)
                if got is None or got.error:
                    errors.setdefault(rule.rule, got.error if got else "the rule did not run")
                elif rule.level == "table":
                    table[rule.rule] = batches._combine(
                        batches.COMBINE[rule.expect], table[rule.rule], scalar(got.observed)
                    )
                else:
                    found[rule.rule].add(got)
            bar.update(len(frame))
            if frame.empty:  # an empty table: validated once, as one empty frame
                break
    with batches.activity(f"{contract.name}: rules across the rows of {contract.relation}", progress):
        base = derived_sql(relation, zone.local_columns, keep=list(zone.key_columns))
        found.update(count_zone(con, zone, rows_spec.partition_by, [], readout_columns, base=base))
    for rule in batch_spec.rules:
        if rule.level == "table":
            value = table[rule.rule]
            value = 0 if value is None and batches.COMBINE[rule.expect] == "sum" else value
            found[rule.rule] = Tally(observed=value, success=verdict(rule.kwargs, value))
    for rule_id, message in errors.items():
        found[rule_id] = Tally(error=message)
    return outcomes_of(rows_spec, found)


def validate_warehouse(
    contract: Contract,
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
) -> list[Outcome]:
    schema_name, table_name = contract.relation.split(".", 1)
    specs = suite_specs(contract)
    columns = dict(
        con.execute(
            "select column_name, lower(data_type) from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema_name, table_name],
        ).fetchall()
    )
    schema_spec = next(s for s in specs if s.kind == "schema")
    if not columns:
        return [
            _not_validated(
                contract, schema_spec, f"does not exist in the warehouse (relation {contract.relation}; was it built?)"
            )
        ]
    outcomes: list[Outcome] = []
    frame = schema_frame(contract, schema_spec.version, [(contract.relation, columns)])
    outcomes += evaluate(schema_spec, frame, runner.run(schema_spec, frame))
    rows_spec = next(s for s in specs if s.kind == "rows")
    try:
        outcomes += _warehouse_rows(contract, rows_spec, list(columns), con, runner, batch_rows, progress)
    except duckdb.Error as exc:
        outcomes.append(_not_validated(contract, rows_spec, f"could not be read: {str(exc).splitlines()[0]}"))
        return outcomes
    for spec in specs:
        if spec.kind != "view":
            continue
        view = next(v for v in contract.views if v.name == spec.view)
        try:
            data = con.execute(view.sql).df()
        except duckdb.Error as exc:
            outcomes.append(
                _not_validated(contract, spec, f"view {view.name} could not be computed: {str(exc).splitlines()[0]}")
            )
            continue
        outcomes += evaluate(spec, data, runner.run(spec, data))
    return outcomes


# ---------------------------------------------------------------------------------------------- run
def validate(
    stage: str,
    contracts: dict[str, Contract],
    *,
    names: list[str] | None = None,
    landing: Path | None = None,
    warehouse: Path | None = None,
    as_of: dt.datetime | None = None,
    docs_dir: Path | None = None,
    cache_dir: Path | None = None,
    full: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
    engine: str | None = None,
) -> Report:
    """Validate the contracts of ``stage`` (raw, marts or all). User errors raise FileNotFoundError/ValueError
    (a landing file changed since it was validated: cache.LandingChanged).

    ``cache_dir``: where immutable landing files' results are remembered (None: nothing is remembered, every
    file is validated); ``full``: validate every landing file again and replace the cache; ``engine``: fast (GX's
    semantics, vectorized, GX where it does not mirror a suite) or gx (docs.Runner); by default
    $READOUT_CONTRACT_ENGINE or fast (so `readout build`'s mart contracts follow the setting too)."""
    runner = Runner(docs_dir, engine or os.environ.get(ENGINE_ENV) or "fast")  # an unknown engine: ValueError
    chosen = select(contracts, names, stage)
    if not chosen:
        raise ValueError(f"no contract for stage {stage!r}" + (f" among {', '.join(names)}" if names else ""))
    as_of = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    needs_landing = any(c.is_landing for c in chosen)
    needs_warehouse = any(not c.is_landing for c in chosen)
    if needs_landing and (landing is None or not Path(landing).is_dir()):
        raise FileNotFoundError(
            f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
            "`readout simulate` writes one)"
        )
    if needs_warehouse and (warehouse is None or not Path(warehouse).is_file()):
        raise FileNotFoundError(
            f"warehouse {warehouse} not found (set READOUT_DUCKDB_PATH or pass --warehouse; `dbt build` writes it)"
        )
    # every step that can take more than two seconds shows itself on stderr with its elapsed time (unless quiet)
    # GX: at once for the GX engine; for the fast engine's Data Docs, in a thread, started where the work is
    # DuckDB's and leaves the GIL to the import: beside a landing zone's key index (batches.validate_rows), else here
    if runner.engine == "gx" or not any(c.is_landing and c.source.get("files") == "immutable" for c in chosen):
        with batches.activity("starting Great Expectations", progress):
            runner.start()
    try:
        outcomes: list[Outcome] = []
        summaries: list[batches.Summary] = []
        for contract in (c for c in chosen if c.is_landing):
            outcomes += validate_landing(
                contract,
                Path(landing),
                runner,
                as_of,
                cache_dir=cache_dir,
                full=full,
                batch_rows=batch_rows,
                progress=progress,
                summaries=summaries,
            )
        runner.start()  # (started already, unless no landing file was read)
        if needs_warehouse:
            try:
                con = connect(str(warehouse), read_only=True)
            except ValueError as exc:
                reason = str(exc).split(": ", 1)[-1]
                raise ValueError(f"cannot open warehouse {warehouse} read-only: {reason}") from None
            try:
                set_as_of(con, as_of)
                for contract in (c for c in chosen if not c.is_landing):
                    outcomes += validate_warehouse(contract, con, runner, batch_rows=batch_rows, progress=progress)
            finally:
                con.close()
    except Exception:  # an error to report (not Ctrl-C): GX may be starting in its thread, not left importing at exit
        runner.close()
        raise
    with batches.activity(f"writing the Data Docs ({docs_dir})", progress and docs_dir is not None):
        docs = runner.build_docs()
    return Report(
        stage=stage,
        outcomes=outcomes,
        as_of=as_of if needs_landing else None,
        docs=docs,
        contracts=[c.name for c in chosen],
        batches=summaries,
        engine={"name": runner.engine, "runs": dict(runner.runs), "gx_ran": dict(runner.fallbacks)},
    )
