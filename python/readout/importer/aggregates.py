"""Summary-statistics exports (mapping ``kind: summary``): per-arm aggregates instead of units.

Many tools and papers publish, per experiment x variant x metric (often at several checkpoints over
time), the count of units and the mean and variance (or standard deviation, or the sum and the sum of
squares). :func:`summary_statistics` turns such a table into the sufficient-statistics shape the marts
use (``n_units``, ``metric_sum``, ``metric_sum_of_squares``: :data:`readout.stats.results.METRIC_INPUT_COLUMNS`),
one frame row per experiment x checkpoint x variant x metric; ``readout import`` lands it in
``imports/summaries/`` (:mod:`readout.importer.write`). In dbt, ``fct_variant_metric_stats`` takes the last
checkpoint (the fixed-horizon readout: the same statistics, sample-ratio check and report as any experiment)
and ``fct_metric_results_by_checkpoint`` reads every checkpoint with :func:`summary_results`: the always-valid
confidence sequence over the checkpoints says whether a team that peeked could have stopped early
(``first_stop_checkpoint``).

Rows that cannot be analysed (a missing mean or variance, a zero or missing count; a zero variance in both
arms) do not stop anything: the row lands with its ``row_reason``, its pair gets a result row whose
``status_reason`` names it, and :func:`summary_statistics` counts them for the import summary. A cell that is
not a number, a negative count or variance, a proportion outside [0, 1] or a repeated row is a bad export:
one error naming the column, the value and the row, before anything is written.

Mapping (``mappings/example_summary.yml`` is a commented example)::

    kind: summary
    experiment_id: paper_table_2           # or columns.experiment: one experiment per value
    control: control
    split: {control: 0.5, treatment: 0.5}  # or split: equal (assumed), or none: no sample-ratio test
    columns: {variant: arm, metric: metric, checkpoint: day, n: users, mean: mean, variance: var}
      # instead of variance: sd; instead of mean and variance: sum and sum_of_squares
      # checkpoint: numbers (an ordinal: day, week, look) or ISO-8601 timestamps
    metrics:
      - {metric_id: conversion, type: proportion, role: primary}   # proportion: variance may be empty
      - {metric_id: revenue, type: mean, direction: increase, role: guardrail, margin: 0.02}
    analysis: {alpha: 0.05, planned_sample_size: 20000}
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from readout.cli import UsageError
from readout.importer.mapping import (
    DIRECTIONS,
    ID_PATTERN,
    INT32_MAX,
    ROLES,
    Problems,
    _analysis,
    _check_keys,
    _choice,
    _split,
    _text,
)
from readout.importer.read import as_text

SUMMARY_KEYS = {
    "kind": False,
    "experiment_id": False,
    "experiment_version": False,
    "name": False,
    "control": True,
    "split": False,
    "columns": True,
    "control_columns": False,
    "metrics": True,
    "analysis": False,
}
COLUMN_KEYS = ("experiment", "variant", "metric", "checkpoint", "n", "mean", "variance", "sd", "sum", "sum_of_squares")
#: The per-arm statistics; a wide export (one row per treatment arm, the control's figures beside it, e.g. ASOS)
#: names the control's in ``control_columns`` with the same keys as ``columns``.
STATISTIC_KEYS = ("n", "mean", "variance", "sd", "sum", "sum_of_squares")
SUMMARY_METRIC_TYPES = ("mean", "proportion")
SUMMARY_METRIC_KEYS = {
    "metric_id": True,
    "type": True,
    "direction": False,
    "role": False,
    "margin": False,
    "description": False,
}
#: The key of one summary row; a repeated key is a bad export.
ROW_KEYS = ["experiment_id", "checkpoint", "variant_id", "metric_id"]
MAX_LISTED = 5

#: Row reasons (the row cannot be analysed); the pair's result row carries them in ``status_reason``.
REASON_MISSING_VARIANCE = "summary row without a variance"
REASON_MISSING_MEAN = "summary row without a mean (or sum)"
REASON_ZERO_COUNT = "summary row with a zero or missing count"
#: A pair reason: both arms of the pair have a zero variance (no standard error).
REASON_ZERO_VARIANCE = "zero variance in both arms"


@dataclass(frozen=True)
class SummaryMetric:
    metric_id: str
    type: str
    direction: str = "increase"
    role: str = "secondary"
    margin: float | None = None
    description: str | None = None


@dataclass(frozen=True)
class SummaryMapping:
    control: str
    columns: dict[str, str]
    metrics: tuple[SummaryMetric, ...]
    experiment_id: str | None = None
    control_columns: dict[str, str] | None = None  # wide layout: the control arm's statistics on each row
    experiment_version: int = 1
    name: str | None = None
    split: dict[str, float] | None = None  # declared weights; None: assumed equal or unknown (planned_split)
    planned_split: str = "unknown"  # declared | assumed_equal | unknown
    alpha: float | None = None
    planned_sample_size: int | None = None
    source: str = "<mapping>"

    def to_dict(self) -> dict[str, Any]:
        """The mapping as used, defaults filled in (written to the import manifest)."""
        return {
            "kind": "summary",
            "experiment_id": self.experiment_id,
            "experiment_version": self.experiment_version,
            "name": self.name,
            "control": self.control,
            "split": self.split,
            "planned_split": self.planned_split,
            "columns": dict(self.columns),
            "control_columns": None if self.control_columns is None else dict(self.control_columns),
            "metrics": [m.__dict__ for m in self.metrics],
            "analysis": {"alpha": self.alpha, "planned_sample_size": self.planned_sample_size},
        }


def parse_summary_mapping(data: Any, source: str = "<mapping>") -> SummaryMapping:
    """Validate a ``kind: summary`` mapping; every problem of the file is reported together."""
    problems = Problems(f"mapping {source}")
    if not isinstance(data, dict):
        raise UsageError(f"mapping {source}: expected a YAML mapping of keys, got {type(data).__name__}")
    _check_keys(data, SUMMARY_KEYS, "", problems)
    if data.get("kind", "summary") != "summary":
        problems.add(f"kind is {data.get('kind')!r}; a summary-statistics mapping says kind: summary")
    experiment_id = _text(data.get("experiment_id"), "experiment_id", problems, pattern=ID_PATTERN)
    version = data.get("experiment_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= INT32_MAX:
        problems.add(f"experiment_version must be a whole number >= 1, got {version!r}")
        version = 1
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        problems.add(f"name must be text, got {name!r}")
        name = None
    control = _text(data.get("control"), "control", problems)
    columns = _summary_columns(data.get("columns"), problems)
    if experiment_id is None and "experiment" not in columns:
        problems.add("give experiment_id, or columns.experiment for a file of several experiments")
    control_columns = None
    if data.get("control_columns") is not None:
        control_columns = _control_columns(data["control_columns"], columns, problems)
    metrics = _summary_metrics(data.get("metrics"), problems)
    raw_split = data.get("split")
    split, planned_split = None, "unknown"
    if isinstance(raw_split, dict):
        split, planned_split = _split(raw_split, problems), "declared"
        if control is not None and split and control not in split:
            problems.add(f"control {control!r} is not among the variants of split ({', '.join(split)})")
    elif raw_split == "equal":
        planned_split = "assumed_equal"
    elif raw_split is not None:
        problems.add(f"split must be a mapping variant_id -> weight or the word equal, got {raw_split!r}")
    alpha, planned_sample_size, estimator = _analysis(data.get("analysis"), problems)
    if estimator == "cuped":
        problems.add("analysis.decision_estimator: a summary export has no pre-period covariate; CUPED needs units")
    problems.raise_if_any()
    assert control is not None
    return SummaryMapping(
        control=control,
        columns=columns,
        metrics=metrics,
        experiment_id=experiment_id,
        control_columns=control_columns,
        experiment_version=version,
        name=name.strip() if name and name.strip() else None,
        split=split,
        planned_split=planned_split,
        alpha=alpha,
        planned_sample_size=planned_sample_size,
        source=source,
    )


def _summary_columns(data: Any, problems: Problems) -> dict[str, str]:
    columns: dict[str, str] = {}
    if not isinstance(data, dict):
        problems.add("columns must map roles (variant, metric, n, mean, variance, ...) to the export's columns")
        return columns
    for key, value in data.items():
        if key not in COLUMN_KEYS:
            problems.add(f"columns: unknown key {key!r} (allowed: {', '.join(COLUMN_KEYS)})")
            continue
        column = _text(value, f"columns.{key}", problems)
        if column is not None:
            columns[key] = column
    for key in ("variant", "metric", "n"):
        if key not in columns:
            problems.add(f"columns: missing required key {key!r}")
    by_moments, by_sums = "mean" in columns, "sum" in columns
    if by_moments == by_sums:
        problems.add("columns: give mean (with variance or sd) or sum (with sum_of_squares), one of the two")
    if "variance" in columns and "sd" in columns:
        problems.add("columns: give variance or sd, not both")
    if by_sums and "sum_of_squares" not in columns:
        problems.add("columns: sum needs sum_of_squares")
    return columns


def _control_columns(data: Any, columns: dict[str, str], problems: Problems) -> dict[str, str] | None:
    """Wide layout: the control's statistics columns, the same keys as the statistics in ``columns``."""
    if not isinstance(data, dict):
        problems.add("control_columns must map statistics (n, mean, variance, ...) to the control's columns")
        return None
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in STATISTIC_KEYS:
            problems.add(f"control_columns: unknown key {key!r} (allowed: {', '.join(STATISTIC_KEYS)})")
            continue
        column = _text(value, f"control_columns.{key}", problems)
        if column is not None:
            out[key] = column
    wanted = [key for key in STATISTIC_KEYS if key in columns]
    if set(out) != set(wanted) and len(out) == len(data):
        problems.add(
            f"control_columns must name the control's column for each statistic of columns ({', '.join(wanted)}), "
            f"got {', '.join(out) or 'none'}"
        )
    return out


def _summary_metrics(data: Any, problems: Problems) -> tuple[SummaryMetric, ...]:
    if not isinstance(data, list) or not data:
        problems.add("metrics must be a non-empty list of {metric_id, type: mean | proportion}")
        return ()
    metrics: list[SummaryMetric] = []
    for index, item in enumerate(data, start=1):
        where = f"metrics[{index}]"
        if not isinstance(item, dict):
            problems.add(f"{where} must be a mapping with metric_id and type, got {item!r}")
            continue
        _check_keys(item, SUMMARY_METRIC_KEYS, where, problems)
        metric_id = _text(item.get("metric_id"), f"{where}.metric_id", problems, pattern=ID_PATTERN)
        type_ = _choice(item.get("type"), f"{where}.type", SUMMARY_METRIC_TYPES, "mean", problems)
        direction = _choice(item.get("direction"), f"{where}.direction", DIRECTIONS, "increase", problems)
        role = _choice(item.get("role"), f"{where}.role", ROLES, "secondary", problems)
        margin = item.get("margin")
        if margin is not None and (
            isinstance(margin, bool)
            or not isinstance(margin, (int, float))
            or not 0 < margin < 1
            or role != "guardrail"
        ):
            problems.add(f"{where}.margin must be a fraction between 0 and 1 on a guardrail, got {margin!r}")
            margin = None
        description = item.get("description")
        if description is not None and not isinstance(description, str):
            problems.add(f"{where}.description must be text")
            description = None
        if metric_id is not None and any(m.metric_id == metric_id for m in metrics):
            problems.add(f"metric_id {metric_id!r} appears in more than one metric")
        elif metric_id is not None:
            margin = float(margin) if margin is not None else None
            metrics.append(SummaryMetric(metric_id, type_, direction, role, margin, description))
    return tuple(metrics)


# ------------------------------------------------------------------------------------ conversion
def _column(frame: pd.DataFrame | pa.Table, name: str) -> pa.ChunkedArray:
    if isinstance(frame, pa.Table):
        return frame[name]
    series = frame[name]
    if series.dtype == object:  # mixed Python values: read as text, as from a CSV
        series = series.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return pa.chunked_array([pa.array(series, from_pandas=True)])


#: The file row (1-based) of each frame row while one export is converted (a wide export's controls move).
_SOURCE_ROWS: ContextVar[np.ndarray | None] = ContextVar("_SOURCE_ROWS", default=None)


def _bad_cells(label: str, column: str, text: pd.Series, bad: np.ndarray, what: str) -> UsageError:
    rows = np.flatnonzero(bad)
    file_rows = _SOURCE_ROWS.get()
    shown = ", ".join(
        f"{text.iloc[r]!r} (row {r + 1 if file_rows is None else file_rows[r]})" for r in rows[:MAX_LISTED]
    )
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    return UsageError(f"{label}: column {column!r} has {what}: {shown}{more}")


def _numbers(frame, column: str, label: str) -> np.ndarray:
    """float64 per row, NaN where the cell is empty; a cell that is not a finite number is an error."""
    raw = _column(frame, column)
    if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
        values = raw.cast(pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
        text = pd.Series(as_text(raw).to_numpy(zero_copy_only=False), dtype=object)
        bad = np.isinf(values)
    else:
        text = pd.Series(as_text(raw).to_numpy(zero_copy_only=False), dtype=object)
        values = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
        bad = text.notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        raise _bad_cells(label, column, text, bad, "values that are not numbers")
    return values


def _labels(frame, column: str, label: str) -> pd.Series:
    text = pd.Series(as_text(_column(frame, column)).to_numpy(zero_copy_only=False), dtype=object)
    if text.isna().any():
        raise _bad_cells(label, column, text.fillna(""), text.isna().to_numpy(), "empty cells")
    return text


def _checkpoints(frame, column: str, label: str) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """(sort key, label text, timestamp or NaT) per row: numbers are ordinals, else ISO-8601 timestamps."""
    text = _labels(frame, column, label)
    raw = _column(frame, column)
    if pa.types.is_timestamp(raw.type) or pa.types.is_date(raw.type):
        at = pd.Series(raw.cast(pa.timestamp("us")).to_pandas()).astype("datetime64[us]")
        return at.astype("int64").to_numpy(float), text, at
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(float), text, pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        raise _bad_cells(
            label, column, text, parsed.isna().to_numpy(), "values that are neither numbers nor ISO-8601 timestamps"
        )
    at = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return at.astype("int64").to_numpy(float), text, at


def _long_from_wide(mapping: SummaryMapping, frame: pd.DataFrame | pa.Table, label: str) -> pd.DataFrame:
    """A wide export (each row: one treatment arm and, in ``control_columns``, its control) as long rows:
    the treatment arms, then each control once per experiment x checkpoint x metric (a control whose figures
    differ between the rows of two treatment arms is a bad export). ``_source_row`` keeps the file row."""
    cols, control_cols = mapping.columns, mapping.control_columns or {}
    frame = frame.to_pandas() if isinstance(frame, pa.Table) else frame.reset_index(drop=True)
    frame = frame.assign(_source_row=np.arange(1, len(frame) + 1, dtype=np.int64))
    variants = as_text(pa.chunked_array([pa.array(frame[cols["variant"]], from_pandas=True)]))
    frame[cols["variant"]] = pd.Series(variants.to_numpy(zero_copy_only=False), dtype=object)
    keys = [cols[k] for k in ("experiment", "checkpoint", "metric") if k in cols]
    control = frame.drop(columns=[cols[k] for k in control_cols]).rename(
        columns={control_cols[k]: cols[k] for k in control_cols}
    )
    control[cols["variant"]] = mapping.control
    statistics = [cols[k] for k in control_cols]
    first = control.drop_duplicates(keys)
    distinct = control.drop_duplicates([*keys, *statistics])
    if len(distinct) != len(first):
        clash = distinct[distinct.duplicated(keys, keep=False)].iloc[0]
        where = ", ".join(f"{c} {clash[c]!r}" for c in keys)
        raise UsageError(
            f"{label}: the control's figures ({', '.join(control_cols.values())}) differ between the rows of one "
            f"experiment x checkpoint x metric ({where}, row {clash['_source_row']}); a wide export repeats the "
            "same control beside each treatment arm"
        )
    treated = frame.drop(columns=list(control_cols.values()))
    return pd.concat([treated, first[treated.columns]], ignore_index=True)


def summary_statistics(
    mapping: SummaryMapping, frame: pd.DataFrame | pa.Table, label: str = "summary export"
) -> tuple[pd.DataFrame, dict]:
    """The export as per-arm sufficient statistics and counts of the rows that cannot be analysed.

    One row per experiment x checkpoint x variant x metric: ``checkpoint`` is the 1-based rank of the
    checkpoint within its experiment (1 when the export has no checkpoint column), ``checkpoint_label`` its
    text in the file and ``checkpoint_at`` its timestamp (NaT for an ordinal); ``source_row`` the 1-based
    data row in the file; ``row_reason`` why the row cannot be analysed (None when it can)."""
    token = _SOURCE_ROWS.set(None)
    try:
        return _summary_statistics(mapping, frame, label)
    finally:
        _SOURCE_ROWS.reset(token)


def _summary_statistics(
    mapping: SummaryMapping, frame: pd.DataFrame | pa.Table, label: str
) -> tuple[pd.DataFrame, dict]:
    cols = mapping.columns
    names = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    wanted = [*cols.values(), *(mapping.control_columns or {}).values()]
    missing = [c for c in dict.fromkeys(wanted) if c not in names]
    if missing:
        raise UsageError(
            f"{label}: columns not in the file: {', '.join(map(repr, missing))}; "
            f"the file's columns are: {', '.join(map(str, names))}"
        )
    if len(frame) == 0:
        raise UsageError(f"{label} has a header but no data rows")
    rows_read = len(frame)
    source_rows = np.arange(1, rows_read + 1, dtype=np.int64)
    if mapping.control_columns:
        frame = _long_from_wide(mapping, frame, label)
        source_rows = frame.pop("_source_row").to_numpy(np.int64)
        _SOURCE_ROWS.set(source_rows)
    n_rows = len(frame)
    metric_by_id = {m.metric_id: m for m in mapping.metrics}
    metric_ids = _labels(frame, cols["metric"], label)
    unknown = ~metric_ids.isin(list(metric_by_id)).to_numpy()
    if unknown.any():
        raise _bad_cells(label, cols["metric"], metric_ids, unknown, "metrics the mapping does not declare")
    out = pd.DataFrame(
        {
            "experiment_id": _labels(frame, cols["experiment"], label)
            if "experiment" in cols
            else np.full(n_rows, mapping.experiment_id, dtype=object),
            "experiment_version": mapping.experiment_version,
            "population": "assigned",
            "variant_id": _labels(frame, cols["variant"], label),
            "metric_id": metric_ids,
            "source_row": source_rows,
        }
    )
    if "experiment" in cols:
        bad = ~out.experiment_id.str.match(ID_PATTERN.pattern).to_numpy()
        if bad.any():
            raise _bad_cells(label, cols["experiment"], out.experiment_id, bad, "ids that are not [a-z0-9][a-z0-9_]*")
    if "checkpoint" in cols:
        key, text, at = _checkpoints(frame, cols["checkpoint"], label)
        out["checkpoint"] = (
            pd.Series(key).groupby(out.experiment_id.to_numpy()).rank(method="dense").astype("int64").to_numpy()
        )
        out["checkpoint_label"], out["checkpoint_at"] = text.to_numpy(), at.to_numpy()
    else:
        out["checkpoint"], out["checkpoint_label"] = 1, None
        out["checkpoint_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
    repeated = out.duplicated(ROW_KEYS, keep=False).to_numpy()
    if repeated.any():
        first = out[repeated].iloc[0]
        raise UsageError(
            f"{label}: {int(repeated.sum())} rows repeat an experiment x checkpoint x variant x metric "
            f"(first: {first.variant_id!r}, {first.metric_id!r} at checkpoint "
            f"{first.checkpoint_label or first.checkpoint!r}, row {first.source_row})"
        )
    has_control = (out.variant_id == mapping.control).groupby([out.experiment_id, out.checkpoint, out.metric_id]).any()
    if not has_control.all():
        experiment, checkpoint, metric = has_control[~has_control].index[0]
        raise UsageError(
            f"{label}: no {mapping.control!r} (control) row for experiment {experiment!r}, metric {metric!r} at "
            f"checkpoint {checkpoint} ({int((~has_control).sum())} such groups); is control the right variant?"
        )
    if mapping.split is not None:
        unknown = ~out.variant_id.isin(list(mapping.split)).to_numpy()
        if unknown.any():
            raise _bad_cells(label, cols["variant"], out.variant_id, unknown, "variants that split does not name")

    n = _numbers(frame, cols["n"], label)
    kinds = out.metric_id.map(lambda m: metric_by_id[m].type).to_numpy()
    whole = np.isnan(n) | ((n >= 0) & (n == np.floor(n)))
    if not whole.all():
        raise _bad_cells(label, cols["n"], pd.Series(n), ~whole, "counts that are not whole numbers >= 0")
    if "sum" in cols:
        total = _numbers(frame, cols["sum"], label)
        squares = _numbers(frame, cols["sum_of_squares"], label)
        mean = total / np.where(n > 0, n, np.nan)
        if (squares < 0).any():
            raise _bad_cells(label, cols["sum_of_squares"], pd.Series(squares), squares < 0, "negative values")
    else:
        mean = _numbers(frame, cols["mean"], label)
        if "variance" in cols:
            variance = _numbers(frame, cols["variance"], label)
            spread_column = cols["variance"]
        elif "sd" in cols:
            variance = _numbers(frame, cols["sd"], label) ** 2
            spread_column = cols["sd"]
            if (_numbers(frame, cols["sd"], label) < 0).any():
                raise _bad_cells(label, spread_column, pd.Series(variance), variance < 0, "negative values")
        else:
            variance, spread_column = np.full(n_rows, np.nan), None
        if spread_column is not None and (variance < 0).any():
            raise _bad_cells(label, spread_column, pd.Series(variance), variance < 0, "negative values")
        total = n * mean
        # a proportion's sum of squares is its sum (0/1 values); otherwise (n - 1) s^2 + n mean^2
        squares = np.where(kinds == "proportion", total, (n - 1.0) * variance + n * mean * mean)
    outside = (kinds == "proportion") & ((mean < 0) | (mean > 1))
    if outside.any():
        column = cols.get("mean", cols.get("sum"))
        raise _bad_cells(label, column, pd.Series(mean), outside, "proportions outside [0, 1]")

    zero_count = ~(n > 0)
    no_mean = ~zero_count & np.isnan(total)
    no_variance = ~zero_count & ~no_mean & np.isnan(squares)
    out["metric_type"] = kinds
    out["direction"] = out.metric_id.map(lambda m: metric_by_id[m].direction)
    out["role"] = out.metric_id.map(lambda m: metric_by_id[m].role)
    out["non_inferiority_margin"] = out.metric_id.map(lambda m: metric_by_id[m].margin).astype(float)
    out["is_control"] = out.variant_id == mapping.control
    out["n_units"] = np.where(zero_count, 0, n).astype("int64")
    # no unit: sums of zero (exact; the statistics then say n < 2); a missing mean or variance: null
    out["metric_sum"] = np.where(zero_count, 0.0, np.where(no_mean, np.nan, total))
    out["metric_sum_of_squares"] = np.where(zero_count, 0.0, np.where(no_mean, np.nan, squares))
    out["row_reason"] = np.select(
        [zero_count, no_mean, no_variance], [REASON_ZERO_COUNT, REASON_MISSING_MEAN, REASON_MISSING_VARIANCE], None
    )
    out["row_reason"] = out["row_reason"].where(out["row_reason"].astype(bool), None)
    final = out.checkpoint == out.groupby("experiment_id").checkpoint.transform("max")
    zero_pairs = _zero_variance_pairs(out[final])
    counts = {
        "rows_read": rows_read,
        "rows": len(out),
        "experiments": int(out.experiment_id.nunique()),
        "checkpoints": int(out.groupby("experiment_id").checkpoint.max().max()),
        "rows_zero_count": int(zero_count.sum()),
        "rows_missing_mean": int(no_mean.sum()),
        "rows_missing_variance": int(no_variance.sum()),
        "pairs_zero_variance_final": int(zero_pairs),
    }
    return out, counts


def _zero_variance(frame: pd.DataFrame) -> pd.Series:
    """True where an arm with at least two units has (numerically) zero variance."""
    n = frame.n_units.where(frame.n_units > 0)
    spread = frame.metric_sum_of_squares - frame.metric_sum**2 / n
    return (frame.n_units >= 2) & (spread.abs() <= 1e-12 * np.maximum(1.0, frame.metric_sum_of_squares.abs()))


def _zero_variance_pairs(frame: pd.DataFrame) -> int:
    keys = ["experiment_id", "experiment_version", "checkpoint", "metric_id"]
    arms = frame.assign(_zero=_zero_variance(frame))
    control = arms[arms.is_control][[*keys, "_zero"]]
    treated = arms[~arms.is_control][[*keys, "_zero"]]
    pairs = treated.merge(control, on=keys, suffixes=("_t", "_c"))
    return int((pairs._zero_t & pairs._zero_c).sum())


# ------------------------------------------------------------------------------------ statistics
#: Columns of :func:`summary_results`, in order (the dbt model fct_metric_results_by_checkpoint types them).
CHECKPOINT_RESULT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "population",
    "variant_id",
    "metric_id",
    "checkpoint",
    "checkpoint_label",
    "checkpoint_at",
    "control_variant_id",
    "n_units_control",
    "n_units_variant",
    "mean_control",
    "mean_variant",
    "absolute_lift",
    "absolute_lift_ci_lower",
    "absolute_lift_ci_upper",
    "relative_lift",
    "relative_lift_ci_lower",
    "relative_lift_ci_upper",
    "p_value",
    "adjusted_p_value",
    "is_significant",
    "sequential_ci_lower",
    "sequential_ci_upper",
    "is_sequentially_significant",
    "alpha",
    "final_checkpoint",
    "is_final_checkpoint",
    "first_stop_checkpoint",
    "could_have_stopped_early",
    "status_reason",
)


def summary_results(
    stats: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    planned_sample_size: float | None = None,
    settings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The unadjusted readout of every checkpoint (the last is the fixed-horizon one; one correction family per
    checkpoint, as a team looking then would have had), with each pair's ``status_reason`` naming a row that
    could not be analysed, and the confidence sequence over the checkpoints: ``is_sequentially_significant``
    where it excludes zero, ``first_stop_checkpoint`` the first such checkpoint (null when none) and
    ``could_have_stopped_early`` when that came before the last checkpoint.

    ``stats`` is :func:`summary_statistics`' frame or dbt's ``int_import_summary_stats`` (``checkpoint_index``
    for ``checkpoint``). Each experiment's alpha and planned sample size (the sequence is tightest there) come
    from ``settings`` (``int_experiment_settings``), as in ``fct_metric_results``
    (readout.settings.metric_results_with_settings); ``planned_sample_size`` applies to every experiment when
    ``settings`` is not given. Columns: :data:`CHECKPOINT_RESULT_COLUMNS`."""
    from readout.settings import metric_results_with_settings  # readout.settings imports the stats package
    from readout.stats.results import METRIC_INPUT_COLUMNS

    stats = stats.rename(columns={"checkpoint_index": "checkpoint"})
    if settings is None and planned_sample_size is not None:
        settings = stats[["experiment_id", "experiment_version"]].drop_duplicates()
        settings = settings.assign(alpha=np.nan, planned_sample_size=float(planned_sample_size))
    keys = ["experiment_id", "experiment_version", "population", "metric_id", "variant_id"]
    labels = stats[["experiment_id", "experiment_version", "checkpoint", "checkpoint_label", "checkpoint_at"]]
    labels = labels.drop_duplicates(["experiment_id", "experiment_version", "checkpoint"])
    parts = []
    for checkpoint, group in stats.groupby("checkpoint", sort=True):
        frame = group[list(METRIC_INPUT_COLUMNS)]
        result = metric_results_with_settings(frame, settings, alpha=alpha, correction=correction)
        result = result[result.estimator == "unadjusted"].copy()
        result["checkpoint"] = checkpoint
        parts.append(_with_row_reasons(result, group))
    if not parts:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in CHECKPOINT_RESULT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out = out.merge(labels, on=["experiment_id", "experiment_version", "checkpoint"], how="left")
    out["is_sequentially_significant"] = (out.sequential_ci_lower > 0) | (out.sequential_ci_upper < 0)
    first = out[out.is_sequentially_significant].groupby(keys, sort=False).checkpoint.min()
    out = out.merge(first.rename("first_stop_checkpoint"), on=keys, how="left")
    out["final_checkpoint"] = out.groupby(keys).checkpoint.transform("max")
    out["is_final_checkpoint"] = out.checkpoint == out.final_checkpoint
    out["could_have_stopped_early"] = (out.first_stop_checkpoint < out.final_checkpoint).fillna(False).astype(bool)
    out = out.sort_values([*keys, "checkpoint"], kind="stable", ignore_index=True)
    return out[list(CHECKPOINT_RESULT_COLUMNS)]


def _with_row_reasons(result: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    """Put the rows' own reasons (zero count, missing mean or variance; zero variance in both arms) before
    the statistics' own reason."""
    keys = ["experiment_id", "experiment_version", "metric_id"]
    arms = group.assign(_zero_var=_zero_variance(group))
    control = arms[arms.is_control][[*keys, "row_reason", "_zero_var"]].rename(
        columns={"row_reason": "_reason_c", "_zero_var": "_zero_c"}
    )
    variant = arms[[*keys, "variant_id", "row_reason", "_zero_var"]].rename(
        columns={"row_reason": "_reason_t", "_zero_var": "_zero_t"}
    )
    merged = result.merge(control, on=keys, how="left").merge(variant, on=[*keys, "variant_id"], how="left")
    for column in ("_zero_c", "_zero_t"):
        merged[column] = merged[column].astype("boolean").fillna(False).astype(bool)
    reasons = []
    for reason_c, reason_t, zero_c, zero_t, existing in zip(
        merged._reason_c, merged._reason_t, merged._zero_c, merged._zero_t, merged.status_reason, strict=True
    ):
        found = [f"control: {reason_c}" if isinstance(reason_c, str) else None]
        found += [f"variant: {reason_t}" if isinstance(reason_t, str) else None]
        found = [r for r in found if r]
        if not found and zero_c and zero_t:
            found = [REASON_ZERO_VARIANCE]
        if found:  # the statistics' own reason repeats the cause in its words (n < 2, not finite, zero variance)
            reasons.append("; ".join(found))
        elif isinstance(existing, str) and existing not in ("None", "nan", ""):
            reasons.append(existing)
        else:
            reasons.append(None)
    merged["status_reason"] = reasons
    return merged.drop(columns=["_reason_c", "_reason_t", "_zero_c", "_zero_t"])
