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

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BeforeValidator, PrivateAttr, ValidationError, model_validator

from readout.cli import UsageError
from readout.importer.mapping import (
    DIRECTIONS,
    ID_PATTERN,
    ROLES,
    AnalysisSpec,
    Id,
    Margin,
    Version,
    _split_field,
    _split_problems,
)
from readout.importer.read import as_text
from readout.yamlschema import StrictModel, Text, format_validation_error, problem

#: The per-arm statistics; a wide export (one row per treatment arm, the control's figures beside it, e.g. ASOS)
#: names the control's in ``control_columns`` with the same keys as ``columns`` (SummaryColumnsSpec).
STATISTIC_KEYS = ("n", "mean", "variance", "sd", "sum", "sum_of_squares")
SUMMARY_METRIC_TYPES = ("mean", "proportion")
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


# ------------------------------------------------------------------------------------------- schema
# The YAML shape of a summary mapping as pydantic models (readout.yamlschema, as readout.importer.mapping's
# MappingSpec): types, choices, required and unknown keys are declared, the checks across keys are in the
# models' check(); every problem of a file is reported together, one line each naming the key, value and fix.
class _Roles(StrictModel):
    """A mapping role -> export column; :meth:`as_dict` keeps the order the file wrote them in."""

    _written: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, data: Any, handler: Any) -> Any:
        result = handler(data)
        if isinstance(data, dict):
            result._written = tuple(key for key in data if key in cls.model_fields)
        return result

    def as_dict(self) -> dict[str, str]:
        written = [*self._written, *(key for key in type(self).model_fields if key not in self._written)]
        return {key: getattr(self, key) for key in written if getattr(self, key) is not None}


class SummaryStatisticsSpec(_Roles):
    """``control_columns``: the control's column for each statistic (the keys of ``columns``' statistics)."""

    n: Text | None = None
    mean: Text | None = None
    variance: Text | None = None
    sd: Text | None = None
    sum: Text | None = None
    sum_of_squares: Text | None = None


class SummaryColumnsSpec(_Roles):
    """``columns``: which column of the export holds each role (the statistics by moments or by sums)."""

    experiment: Text | None = None
    variant: Text
    metric: Text
    checkpoint: Text | None = None
    n: Text
    mean: Text | None = None
    variance: Text | None = None
    sd: Text | None = None
    sum: Text | None = None
    sum_of_squares: Text | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if (self.mean is None) == (self.sum is None):
            yield (), "give mean (with variance or sd) or sum (with sum_of_squares), one of the two"
        if self.variance is not None and self.sd is not None:
            yield (), "give variance or sd, not both"
        if self.sum is not None and self.sum_of_squares is None:
            yield (), "sum needs sum_of_squares"


class SummaryMetricSpec(StrictModel):
    label_key = "metric_id"
    metric_id: Id
    type: Literal[SUMMARY_METRIC_TYPES]
    direction: Literal[DIRECTIONS] = "increase"
    role: Literal[ROLES] = "secondary"
    margin: Margin | None = None  # guardrails: a fraction of the control mean
    description: str | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.margin is not None and self.role != "guardrail":
            yield ("margin",), f"is a non-inferiority margin: set role: guardrail (role is {self.role!r})"

    def metric(self) -> SummaryMetric:
        return SummaryMetric(**self.model_dump())


def _summary_kind(value: Any) -> Any:
    if value != "summary":
        raise problem(f"must be summary for per-arm aggregates (a unit-level export leaves kind out), got {value!r}")
    return value


def _metric_list(data: Any) -> Any:
    if not isinstance(data, list) or not data:
        raise problem(f"must be a non-empty list of {{metric_id, type: mean | proportion}}, got {data!r}")
    return data


class SummaryMappingSpec(StrictModel):
    kind: Annotated[str, BeforeValidator(_summary_kind)] = "summary"
    experiment_id: Id | None = None
    experiment_version: Version = 1
    name: str | None = None
    control: Text
    split: Annotated[Any, BeforeValidator(_split_field)] = None  # {variant_id: weight} | "equal" | None
    columns: SummaryColumnsSpec
    control_columns: SummaryStatisticsSpec | None = None
    metrics: Annotated[list[SummaryMetricSpec], BeforeValidator(_metric_list)]
    analysis: AnalysisSpec | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.experiment_id is None and self.columns.experiment is None:
            yield (), "give experiment_id, or columns.experiment for a file of several experiments"
        if isinstance(self.split, dict):
            yield from _split_problems(self.split)
            if self.control not in self.split:
                yield ("control",), f"{self.control!r} is not among the variants of split ({', '.join(self.split)})"
        if self.control_columns is not None:
            wanted = [key for key in STATISTIC_KEYS if getattr(self.columns, key) is not None]
            given = self.control_columns.as_dict()
            if set(given) != set(wanted):
                yield (
                    ("control_columns",),
                    f"must name the control's column for each statistic of columns ({', '.join(wanted)}), "
                    f"got {', '.join(given) or 'none'}",
                )
        if self.analysis is not None and self.analysis.decision_estimator == "cuped":
            yield (
                ("analysis", "decision_estimator"),
                "must be unadjusted (or left out), got 'cuped': a summary export has no pre-period covariate; "
                "CUPED needs units",
            )
        ids = [metric.metric_id for metric in self.metrics]
        for metric_id in sorted({m for m in ids if ids.count(m) > 1}):
            yield (), f"metric_id {metric_id!r} appears in more than one metric"

    def mapping(self, source: str) -> SummaryMapping:
        analysis = self.analysis or AnalysisSpec()
        split = self.split if isinstance(self.split, dict) else None
        planned_split = "declared" if split else "assumed_equal" if self.split == "equal" else "unknown"
        return SummaryMapping(
            control=self.control,
            columns=self.columns.as_dict(),
            metrics=tuple(metric.metric() for metric in self.metrics),
            experiment_id=self.experiment_id,
            control_columns=None if self.control_columns is None else self.control_columns.as_dict(),
            experiment_version=self.experiment_version,
            name=self.name.strip() if self.name and self.name.strip() else None,
            split=split,
            planned_split=planned_split,
            alpha=analysis.alpha,
            planned_sample_size=analysis.planned_sample_size,
            source=source,
        )


def parse_summary_mapping(data: Any, source: str = "<mapping>") -> SummaryMapping:
    """Validate a ``kind: summary`` mapping; every problem of the file is reported together."""
    if not isinstance(data, dict):
        raise UsageError(f"mapping {source}: expected a YAML mapping of keys, got {type(data).__name__}")
    try:
        spec = SummaryMappingSpec.model_validate(data)
    except ValidationError as err:
        raise UsageError(format_validation_error(err, source=f"mapping {source}")) from None
    return spec.mapping(source)


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
