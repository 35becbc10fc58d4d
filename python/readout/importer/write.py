"""Writing an import into the landing zone.

Layout (one set of files per experiment_id; re-importing replaces them, nothing else is touched)::

    <landing>/imports/units/<experiment_id>.parquet      one row per source row
    <landing>/imports/outcomes/<experiment_id>.parquet   one row per source row x outcome
    <landing>/imports/metrics/<experiment_id>.parquet    one row per outcome
    <landing>/imports/settings/<experiment_id>.parquet   the mapping's analysis settings
    <landing>/imports/denominators/<experiment_id>.parquet  ratio and conditional outcomes
    <landing>/imports/unit_attributes/<experiment_id>.parquet  segments: one row per unit x attribute
    <landing>/imports/summaries/<experiment_id>.parquet  kind: summary, instead of units and outcomes:
                                                          one row per checkpoint x variant x metric
    <landing>/imports/manifest_<experiment_id>.json      counts and the mapping used
    <landing>/experiments/import_<experiment_id>.parquet the platform-export rows (contract types)

Files are written to a hidden temporary name and renamed into place, so a reader never sees half a
file. Nothing depends on the clock: importing the same file twice gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from readout.cli import UsageError
from readout.contract import (
    EXPERIMENT_COLUMNS,
    EXPERIMENTS_DIR,
    IMPORT_DENOMINATOR_COLUMNS,
    IMPORT_METRIC_COLUMNS,
    IMPORT_OUTCOME_COLUMNS,
    IMPORT_SETTING_COLUMNS,
    IMPORT_SUMMARY_COLUMNS,
    IMPORT_UNIT_ATTRIBUTE_COLUMNS,
    IMPORT_UNIT_COLUMNS,
    IMPORTS_DIR,
)
from readout.importer.transform import ImportData
from readout.landing import arrow_schema, ensure_landing_tables

UNITS_DIR = f"{IMPORTS_DIR}/units"
OUTCOMES_DIR = f"{IMPORTS_DIR}/outcomes"
METRICS_DIR = f"{IMPORTS_DIR}/metrics"
SETTINGS_DIR = f"{IMPORTS_DIR}/settings"
DENOMINATORS_DIR = f"{IMPORTS_DIR}/denominators"
SUMMARIES_DIR = f"{IMPORTS_DIR}/summaries"
UNIT_ATTRIBUTES_DIR = f"{IMPORTS_DIR}/unit_attributes"
EXPERIMENT_FILE_PREFIX = "import_"
STATUS = "concluded"
UNIT_TYPE = "user_id"

UNITS_SCHEMA = arrow_schema(IMPORT_UNIT_COLUMNS)
OUTCOMES_SCHEMA = arrow_schema(IMPORT_OUTCOME_COLUMNS)
METRICS_SCHEMA = arrow_schema(IMPORT_METRIC_COLUMNS)
SETTINGS_SCHEMA = arrow_schema(IMPORT_SETTING_COLUMNS)
DENOMINATORS_SCHEMA = arrow_schema(IMPORT_DENOMINATOR_COLUMNS)
EXPERIMENTS_SCHEMA = arrow_schema(EXPERIMENT_COLUMNS)
SUMMARIES_SCHEMA = arrow_schema(IMPORT_SUMMARY_COLUMNS)
UNIT_ATTRIBUTES_SCHEMA = arrow_schema(IMPORT_UNIT_ATTRIBUTE_COLUMNS)


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write atomically (temporary name, then rename); no pandas metadata, fixed options."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table.replace_schema_metadata(None), tmp, compression="zstd", row_group_size=1 << 20)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_text(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_experiment_id_free(landing: Path, experiment_id: str | list[str]) -> None:
    """Refuse an experiment_id that another producer's export in ``experiments/`` already uses (an import's own
    ``import_<experiment_id>.parquet`` files do not count: re-importing replaces them)."""
    directory = Path(landing) / EXPERIMENTS_DIR
    if not directory.is_dir():
        return
    wanted = [experiment_id] if isinstance(experiment_id, str) else list(experiment_id)
    own = {f"{EXPERIMENT_FILE_PREFIX}{e}.parquet" for e in wanted}
    for path in sorted(directory.rglob("*.parquet")):
        if path.name in own and path.parent == directory:
            continue
        try:
            ids = pq.read_table(path, columns=["experiment_id"])["experiment_id"]
            used = pc.filter(ids.cast(pa.string()), pc.is_in(ids.cast(pa.string()), value_set=pa.array(wanted)))
        except (pa.ArrowException, OSError, KeyError):
            continue  # not ours to judge; dbt will report an unreadable file
        if len(used):
            raise UsageError(
                f"experiment_id {used[0].as_py()!r} is already used by {path} (another producer's export); "
                "choose another experiment_id in the mapping"
            )


def experiments_table(data: ImportData) -> pa.Table:
    """The platform-export rows: one per variant, in the order of ``split``."""
    mapping = data.mapping
    variants = mapping.variants
    k = len(variants)
    started = data.started_at.as_py() if data.started_at is not None else None
    ended = data.ended_at.as_py() if data.ended_at is not None else None
    return pa.table(
        {
            "experiment_id": [mapping.experiment_id] * k,
            "experiment_version": [mapping.experiment_version] * k,
            "name": [mapping.display_name] * k,
            "status": [STATUS] * k,
            "started_at": [started] * k,
            "ended_at": [ended] * k,
            "unit_type": [UNIT_TYPE] * k,
            "variant_id": variants,
            "is_control": [v == mapping.control for v in variants],
            "allocation_weight": [mapping.split[v] for v in variants],
        },
        schema=EXPERIMENTS_SCHEMA,
    )


def metrics_table(data: ImportData) -> pa.Table:
    outcomes = data.mapping.outcomes
    return pa.table(
        {
            "experiment_id": [data.mapping.experiment_id] * len(outcomes),
            "metric_id": [o.metric_id for o in outcomes],
            "metric_type": [o.metric_type for o in outcomes],
            "direction": [o.direction for o in outcomes],
            "role": [o.role for o in outcomes],
            "description": [o.description for o in outcomes],
        },
        schema=METRICS_SCHEMA,
    )


def settings_table(data: ImportData) -> pa.Table:
    """The mapping's analysis settings, one row per setting that is set (dbt: int_experiment_settings)."""
    m = data.mapping
    rows: list[tuple[str | None, str, float | None, str | None]] = [
        (None, "planned_split", None, m.planned_split),
        (None, "several_variants", None, m.several_variants),
    ]
    if m.alpha is not None:
        rows.append((None, "alpha", m.alpha, None))
    if m.planned_sample_size is not None:
        rows.append((None, "planned_sample_size", float(m.planned_sample_size), None))
    if m.decision_estimator is not None:
        rows.append((None, "decision_estimator", None, m.decision_estimator))
    rows += [(o.metric_id, "non_inferiority_margin", o.margin, None) for o in m.outcomes if o.margin is not None]
    return pa.table(
        {
            "experiment_id": [m.experiment_id] * len(rows),
            "experiment_version": [m.experiment_version] * len(rows),
            "metric_id": [r[0] for r in rows],
            "setting": [r[1] for r in rows],
            "value_double": [r[2] for r in rows],
            "value_text": [r[3] for r in rows],
        },
        schema=SETTINGS_SCHEMA,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(landing: Path, experiment_id: str) -> dict[str, Path]:
    landing = Path(landing)
    return {
        "units": landing / UNITS_DIR / f"{experiment_id}.parquet",
        "outcomes": landing / OUTCOMES_DIR / f"{experiment_id}.parquet",
        "metrics": landing / METRICS_DIR / f"{experiment_id}.parquet",
        "settings": landing / SETTINGS_DIR / f"{experiment_id}.parquet",
        "denominators": landing / DENOMINATORS_DIR / f"{experiment_id}.parquet",
        "unit_attributes": landing / UNIT_ATTRIBUTES_DIR / f"{experiment_id}.parquet",
        "summaries": landing / SUMMARIES_DIR / f"{experiment_id}.parquet",
        "experiments": landing / EXPERIMENTS_DIR / f"{EXPERIMENT_FILE_PREFIX}{experiment_id}.parquet",
        "manifest": landing / IMPORTS_DIR / f"manifest_{experiment_id}.json",
    }


def write_import(data: ImportData, landing: Path, source_file: Path) -> dict[str, Path]:
    """Write (or replace) the experiment's files; return them by role."""
    landing = Path(landing)
    experiment_id = data.mapping.experiment_id
    check_experiment_id_free(landing, experiment_id)
    files = landing_files(landing, experiment_id)
    _write_parquet(data.units.cast(UNITS_SCHEMA), files["units"])
    _write_parquet(data.outcomes.cast(OUTCOMES_SCHEMA), files["outcomes"])
    _write_parquet(metrics_table(data), files["metrics"])
    _write_parquet(settings_table(data), files["settings"])
    for role, table, schema in (
        ("denominators", data.denominators, DENOMINATORS_SCHEMA),
        ("unit_attributes", data.unit_attributes, UNIT_ATTRIBUTES_SCHEMA),
    ):
        if table is not None:
            _write_parquet(table.cast(schema), files[role])
        else:
            _unlink(files.pop(role))  # a re-import without ratio outcomes or segments
    _unlink(files.pop("summaries"))  # a unit-level re-import of a former summary import
    _write_parquet(experiments_table(data), files["experiments"])
    ensure_landing_tables(landing)
    source_file = Path(source_file)
    manifest = {
        "experiment_id": experiment_id,
        "experiment_version": data.mapping.experiment_version,
        "source_file": {
            "name": source_file.name,
            "bytes": source_file.stat().st_size,
            "sha256": _sha256(source_file),
        },
        "mapping_file": Path(data.mapping.source).name,
        "counts": data.counts,
        "started_at": data.started_at.as_py().isoformat() if data.started_at is not None else None,
        "ended_at": data.ended_at.as_py().isoformat() if data.ended_at is not None else None,
        "files": {role: path.relative_to(landing).as_posix() for role, path in files.items()},
        "mapping": data.mapping.to_dict(),
    }
    _write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", files["manifest"])
    return files


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot remove {path}: {exc.strerror or exc}") from None


def _manifest(landing: Path, files: dict[str, Path], source: dict, head: dict, tail: dict) -> None:
    manifest = {
        **head,
        "source_file": source,
        **tail,
        "files": {role: path.relative_to(landing).as_posix() for role, path in files.items()},
    }
    _write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", files["manifest"])


def write_summary_import(mapping, stats, counts: dict, landing: Path, source_file: Path) -> dict[str, dict[str, Path]]:
    """Write (or replace) the files of a summary-statistics import (``kind: summary``), one set per experiment
    of the export: its per-arm aggregates, metrics, settings, platform-export rows and manifest."""
    landing = Path(landing)
    written: dict[str, dict[str, Path]] = {}
    check_experiment_id_free(landing, list(dict.fromkeys(stats.experiment_id)))
    source_file = Path(source_file)
    source = {"name": source_file.name, "bytes": source_file.stat().st_size, "sha256": _sha256(source_file)}
    for experiment_id, rows in stats.groupby("experiment_id", sort=False):
        files = landing_files(landing, experiment_id)
        for role in ("units", "outcomes", "denominators", "unit_attributes"):
            _unlink(files.pop(role))  # a summary re-import of a former unit-level import
        summaries = pa.Table.from_pandas(
            pd.DataFrame(
                {
                    "experiment_id": rows.experiment_id.astype(str),
                    "experiment_version": rows.experiment_version.astype("int32"),
                    "checkpoint_index": rows.checkpoint.astype("int32"),
                    "checkpoint_label": rows.checkpoint_label,
                    "checkpoint_at": rows.checkpoint_at.astype("datetime64[us]"),
                    "variant_id": rows.variant_id,
                    "metric_id": rows.metric_id,
                    "n_units": rows.n_units.astype("int64"),
                    "metric_sum": rows.metric_sum.astype(float),
                    "metric_sum_of_squares": rows.metric_sum_of_squares.astype(float),
                    "row_reason": rows.row_reason,
                    "source_row": rows.source_row.astype("int64"),
                }
            ),
            schema=SUMMARIES_SCHEMA,
            preserve_index=False,
        )
        _write_parquet(summaries, files["summaries"])
        metrics = [m for m in mapping.metrics if m.metric_id in set(rows.metric_id)]
        _write_parquet(
            pa.table(
                {
                    "experiment_id": [experiment_id] * len(metrics),
                    "metric_id": [m.metric_id for m in metrics],
                    "metric_type": [m.type for m in metrics],
                    "direction": [m.direction for m in metrics],
                    "role": [m.role for m in metrics],
                    "description": [m.description for m in metrics],
                },
                schema=METRICS_SCHEMA,
            ),
            files["metrics"],
        )
        settings = [(None, "planned_split", None, mapping.planned_split)]
        if mapping.alpha is not None:
            settings.append((None, "alpha", mapping.alpha, None))
        if mapping.planned_sample_size is not None:
            settings.append((None, "planned_sample_size", float(mapping.planned_sample_size), None))
        settings += [(m.metric_id, "non_inferiority_margin", m.margin, None) for m in metrics if m.margin is not None]
        _write_parquet(
            pa.table(
                {
                    "experiment_id": [experiment_id] * len(settings),
                    "experiment_version": [mapping.experiment_version] * len(settings),
                    "metric_id": [r[0] for r in settings],
                    "setting": [r[1] for r in settings],
                    "value_double": [r[2] for r in settings],
                    "value_text": [r[3] for r in settings],
                },
                schema=SETTINGS_SCHEMA,
            ),
            files["settings"],
        )
        variants = list(mapping.split) if mapping.split else list(dict.fromkeys([mapping.control, *rows.variant_id]))
        weights = mapping.split or {v: 1.0 / len(variants) for v in variants}
        at = rows.checkpoint_at.dropna()
        started = at.min().to_pydatetime() if len(at) else None
        ended = at.max().to_pydatetime() if len(at) else None
        k = len(variants)
        _write_parquet(
            pa.table(
                {
                    "experiment_id": [experiment_id] * k,
                    "experiment_version": [mapping.experiment_version] * k,
                    "name": [mapping.name or experiment_id] * k,
                    "status": [STATUS] * k,
                    "started_at": [started] * k,
                    "ended_at": [ended] * k,
                    "unit_type": [UNIT_TYPE] * k,
                    "variant_id": variants,
                    "is_control": [v == mapping.control for v in variants],
                    "allocation_weight": [weights[v] for v in variants],
                },
                schema=EXPERIMENTS_SCHEMA,
            ),
            files["experiments"],
        )
        own = {key: int(value) for key, value in _experiment_counts(rows).items()}
        _manifest(
            landing,
            files,
            source,
            {"experiment_id": experiment_id, "experiment_version": mapping.experiment_version, "kind": "summary"},
            {"mapping_file": Path(mapping.source).name, "counts": {**counts, **own}, "mapping": mapping.to_dict()},
        )
        written[experiment_id] = files
    ensure_landing_tables(landing)
    return written


def _experiment_counts(rows) -> dict:
    return {
        "experiment_rows": len(rows),
        "experiment_checkpoints": rows.checkpoint.nunique(),
        "experiment_rows_with_reason": rows.row_reason.notna().sum(),
    }


def remove_import(landing: Path, experiment_id: str) -> list[Path]:
    """Take an import back out of the landing zone: delete its files (``readout import --remove``).

    Raises UsageError when the landing zone holds no import of that experiment_id. Empty table folders get
    their zero-row placeholder back, so dbt sources still resolve."""
    landing = Path(landing)
    files = [path for path in landing_files(landing, experiment_id).values() if path.exists()]
    if not files:
        imported = sorted(p.stem.removeprefix("manifest_") for p in (landing / IMPORTS_DIR).glob("manifest_*.json"))
        known = f"; imports there: {', '.join(imported)}" if imported else "; it holds no import"
        raise UsageError(f"no import of experiment_id {experiment_id!r} in {landing}{known}")
    for path in files:
        try:
            path.unlink()
        except OSError as exc:
            raise UsageError(f"cannot remove {path}: {exc.strerror or exc}") from None
    ensure_landing_tables(landing)
    return files
