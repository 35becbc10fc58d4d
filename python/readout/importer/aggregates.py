"""Summary-statistics exports (mapping ``kind: summary``): per-arm aggregates instead of units.

Many tools and papers publish, per experiment x variant x metric (often at several checkpoints over
time), the count of units and the mean and variance (or standard deviation, or the sum and the sum of
squares). :func:`summary_statistics` turns such a table into the sufficient-statistics shape the marts
use (``n_units``, ``metric_sum``, ``metric_sum_of_squares``: :data:`readout.stats.results.METRIC_INPUT_COLUMNS`),
one frame row per experiment x checkpoint x variant x metric; :func:`summary_results` reads it with the
same statistics as ``fct_metric_results`` (Welch, relative lift, the confidence sequence at the planned
sample size): the last checkpoint is the fixed-horizon readout, the sequence over all checkpoints says
whether a team that peeked could have stopped early (``first_stop_checkpoint``).

Rows that cannot be analysed (a missing variance, a zero count, a zero variance in both arms) do not stop
anything: their pair gets a result row with a ``status_reason`` and :func:`summary_statistics` counts them.

Status: pure library (mapping validation, conversion, statistics, tests). Not yet wired into ``readout
import`` and the dbt marts (that needs a landing table and a branch in ``fct_variant_metric_stats``).

Mapping::

    kind: summary
    experiment_id: paper_table_2           # or columns.experiment: one experiment per value
    control: control
    columns: {variant: arm, metric: metric, checkpoint: day, n: users, mean: mean, variance: var}
      # instead of variance: sd; instead of mean and variance: sum and sum_of_squares
    metrics:
      - {metric_id: conversion, type: proportion, role: primary}   # proportion: variance may be empty
      - {metric_id: revenue, type: mean, direction: increase, role: guardrail, margin: 0.02}
    analysis: {alpha: 0.05, planned_sample_size: 20000}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from readout.cli import UsageError
from readout.importer.mapping import (
    DIRECTIONS,
    ID_PATTERN,
    ROLES,
    Problems,
    _analysis,
    _check_keys,
    _choice,
    _text,
)
from readout.stats.results import compute_metric_results

SUMMARY_KEYS = {
    "kind": True,
    "experiment_id": False,
    "experiment_version": False,
    "name": False,
    "control": True,
    "split": False,
    "columns": True,
    "metrics": True,
    "analysis": False,
}
COLUMN_KEYS = ("experiment", "variant", "metric", "checkpoint", "n", "mean", "variance", "sd", "sum", "sum_of_squares")
SUMMARY_METRIC_TYPES = ("mean", "proportion")
SUMMARY_METRIC_KEYS = {
    "metric_id": True,
    "type": True,
    "direction": False,
    "role": False,
    "margin": False,
    "description": False,
}

#: Status reasons of rows that cannot be analysed (the pair's result row carries them).
REASON_MISSING_VARIANCE = "summary row without a variance"
REASON_ZERO_COUNT = "summary row with a zero count"
REASON_ZERO_VARIANCE = "zero variance in both arms"


@dataclass(frozen=True)
class SummaryMetric:
    metric_id: str
    type: str
    direction: str = "increase"
    role: str = "secondary"
    margin: float | None = None


@dataclass(frozen=True)
class SummaryMapping:
    control: str
    columns: dict[str, str]
    metrics: tuple[SummaryMetric, ...]
    experiment_id: str | None = None
    experiment_version: int = 1
    alpha: float | None = None
    planned_sample_size: int | None = None
    source: str = "<mapping>"


def parse_summary_mapping(data: Any, source: str = "<mapping>") -> SummaryMapping:
    """Validate a ``kind: summary`` mapping; every problem of the file is reported together."""
    problems = Problems(f"mapping {source}")
    if not isinstance(data, dict):
        raise UsageError(f"mapping {source}: expected a YAML mapping of keys, got {type(data).__name__}")
    _check_keys(data, SUMMARY_KEYS, "", problems)
    if data.get("kind") != "summary":
        problems.add(f"kind is {data.get('kind')!r}; a summary-statistics mapping says kind: summary")
    experiment_id = _text(data.get("experiment_id"), "experiment_id", problems, pattern=ID_PATTERN)
    control = _text(data.get("control"), "control", problems)
    columns_data = data.get("columns")
    columns: dict[str, str] = {}
    if not isinstance(columns_data, dict):
        problems.add("columns must map roles (variant, metric, n, mean, variance, ...) to the export's columns")
    else:
        for key, value in columns_data.items():
            if key not in COLUMN_KEYS:
                problems.add(f"columns: unknown key {key!r} (allowed: {', '.join(COLUMN_KEYS)})")
                continue
            column = _text(value, f"columns.{key}", problems)
            if column is not None:
                columns[key] = column
        for key in ("variant", "metric", "n"):
            if key not in columns:
                problems.add(f"columns: missing required key {key!r}")
        by_moments = "mean" in columns
        by_sums = "sum" in columns
        if by_moments == by_sums:
            problems.add("columns: give mean (with variance or sd) or sum (with sum_of_squares), one of the two")
        if "variance" in columns and "sd" in columns:
            problems.add("columns: give variance or sd, not both")
        if by_sums and "sum_of_squares" not in columns:
            problems.add("columns: sum needs sum_of_squares")
    if experiment_id is None and "experiment" not in columns:
        problems.add("give experiment_id, or columns.experiment for a file of several experiments")
    metrics: list[SummaryMetric] = []
    metrics_data = data.get("metrics")
    if not isinstance(metrics_data, list) or not metrics_data:
        problems.add("metrics must be a non-empty list of {metric_id, type: mean | proportion}")
    else:
        for index, item in enumerate(metrics_data, start=1):
            where = f"metrics[{index}]"
            if not isinstance(item, dict):
                problems.add(f"{where} must be a mapping with metric_id and type, got {item!r}")
                continue
            _check_keys(item, SUMMARY_METRIC_KEYS, where, problems)
            metric_id = _text(item.get("metric_id"), f"{where}.metric_id", problems)
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
            if metric_id is not None:
                metrics.append(
                    SummaryMetric(metric_id, type_, direction, role, float(margin) if margin is not None else None)
                )
    alpha, planned_sample_size, _ = _analysis(data.get("analysis"), problems)
    problems.raise_if_any()
    assert control is not None
    return SummaryMapping(
        control=control,
        columns=columns,
        metrics=tuple(metrics),
        experiment_id=experiment_id,
        experiment_version=int(data.get("experiment_version", 1)),
        alpha=alpha,
        planned_sample_size=planned_sample_size,
        source=source,
    )


def summary_statistics(mapping: SummaryMapping, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The export as per-arm sufficient statistics (one row per experiment x checkpoint x variant x metric,
    ``checkpoint`` 0 when the export has none) and counts of the rows that cannot be analysed."""
    cols = mapping.columns
    missing = [c for c in cols.values() if c not in frame.columns]
    if missing:
        raise UsageError(
            f"summary export: columns not in the file: {', '.join(missing)}; "
            f"the file's columns are: {', '.join(map(str, frame.columns))}"
        )
    metric_by_id = {m.metric_id: m for m in mapping.metrics}
    unknown = sorted(set(frame[cols["metric"]].astype(str)) - set(metric_by_id))
    if unknown:
        raise UsageError(
            f"summary export: column {cols['metric']!r} names metrics the mapping does not declare: "
            f"{', '.join(map(repr, unknown[:5]))}"
        )
    out = pd.DataFrame(
        {
            "experiment_id": frame[cols["experiment"]].astype(str) if "experiment" in cols else mapping.experiment_id,
            "experiment_version": mapping.experiment_version,
            "population": "assigned",
            "checkpoint": frame[cols["checkpoint"]] if "checkpoint" in cols else 0,
            "variant_id": frame[cols["variant"]].astype(str),
            "metric_id": frame[cols["metric"]].astype(str),
        }
    )
    if not (out.variant_id == mapping.control).groupby([out.experiment_id, out.checkpoint, out.metric_id]).any().all():
        raise UsageError(
            f"summary export: some experiment x checkpoint x metric has no {mapping.control!r} (control) row"
        )
    n = pd.to_numeric(frame[cols["n"]], errors="coerce").to_numpy(float)
    kinds = out.metric_id.map(lambda m: metric_by_id[m].type).to_numpy()
    if "sum" in cols:
        total = pd.to_numeric(frame[cols["sum"]], errors="coerce").to_numpy(float)
        squares = pd.to_numeric(frame[cols["sum_of_squares"]], errors="coerce").to_numpy(float)
    else:
        mean = pd.to_numeric(frame[cols["mean"]], errors="coerce").to_numpy(float)
        if "variance" in cols:
            variance = pd.to_numeric(frame[cols["variance"]], errors="coerce").to_numpy(float)
        elif "sd" in cols:
            variance = pd.to_numeric(frame[cols["sd"]], errors="coerce").to_numpy(float) ** 2
        else:
            variance = np.full(len(frame), np.nan)
        total = n * mean
        # a proportion's sum of squares is its sum (0/1 values); otherwise (n - 1) s^2 + n mean^2
        squares = np.where(kinds == "proportion", total, (n - 1.0) * variance + n * mean * mean)
    bad_count = ~(n > 0)
    no_variance = ~bad_count & np.isnan(squares)
    if np.isnan(total[~bad_count]).any():
        raise UsageError("summary export: a row with a count has no mean (or sum)")
    out["metric_type"] = kinds
    out["direction"] = out.metric_id.map(lambda m: metric_by_id[m].direction)
    out["role"] = out.metric_id.map(lambda m: metric_by_id[m].role)
    out["non_inferiority_margin"] = out.metric_id.map(lambda m: metric_by_id[m].margin).astype(float)
    out["is_control"] = out.variant_id == mapping.control
    out["n_units"] = np.where(bad_count, 0, n)
    out["metric_sum"] = np.where(bad_count, 0.0, total)
    out["metric_sum_of_squares"] = np.where(bad_count, 0.0, squares)
    out["row_reason"] = np.select([bad_count, no_variance], [REASON_ZERO_COUNT, REASON_MISSING_VARIANCE], None)
    counts = {
        "rows": len(out),
        "rows_zero_count": int(bad_count.sum()),
        "rows_missing_variance": int(no_variance.sum()),
        "checkpoints": int(out.checkpoint.nunique()),
    }
    return out, counts


def summary_results(
    stats: pd.DataFrame, alpha: float = 0.05, correction: str = "holm", planned_sample_size: float | None = None
) -> pd.DataFrame:
    """The unadjusted readout of every checkpoint (the last is the fixed-horizon one) with each pair's
    ``status_reason`` naming a row that could not be analysed, and ``first_stop_checkpoint``: the first
    checkpoint at which the confidence sequence excluded zero (null when it never did)."""
    parts = []
    for checkpoint, group in stats.groupby("checkpoint", sort=True):
        frame = group.drop(columns=["checkpoint", "row_reason"]).copy()
        if planned_sample_size is not None:
            frame["sequential_target_n"] = float(planned_sample_size)
        result = compute_metric_results(frame, alpha=alpha, correction=correction)
        result = result[result.estimator == "unadjusted"].copy()
        result.insert(2, "checkpoint", checkpoint)
        parts.append(_with_row_reasons(result, group))
    out = pd.concat(parts, ignore_index=True)
    keys = ["experiment_id", "experiment_version", "population", "metric_id", "variant_id"]
    excludes = (out.sequential_ci_lower > 0) | (out.sequential_ci_upper < 0)
    first = out[excludes].groupby(keys, sort=False).checkpoint.min().rename("first_stop_checkpoint")
    out = out.merge(first, on=keys, how="left")
    out["is_final_checkpoint"] = out.checkpoint == out.groupby(keys).checkpoint.transform("max")
    return out


def _with_row_reasons(result: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    """Put the rows' own reasons (zero count, missing variance; zero variance in both arms) before the
    statistics' own reason."""
    keys = ["experiment_id", "experiment_version", "metric_id"]
    arms = group.assign(
        _zero_var=(group.n_units >= 2)
        & (
            np.abs(group.metric_sum_of_squares - group.metric_sum**2 / group.n_units.where(group.n_units > 0))
            <= 1e-12 * np.maximum(1.0, group.metric_sum_of_squares.abs())
        )
    )
    control = arms[arms.is_control][[*keys, "row_reason", "_zero_var"]].rename(
        columns={"row_reason": "_reason_c", "_zero_var": "_zero_c"}
    )
    variant = arms[[*keys, "variant_id", "row_reason", "_zero_var"]].rename(
        columns={"row_reason": "_reason_t", "_zero_var": "_zero_t"}
    )
    merged = result.merge(control, on=keys, how="left").merge(variant, on=[*keys, "variant_id"], how="left")
    reasons = []
    for reason_c, reason_t, zero_c, zero_t, existing in zip(
        merged._reason_c, merged._reason_t, merged._zero_c, merged._zero_t, merged.status_reason, strict=True
    ):
        found = [r for r in (reason_c, reason_t) if isinstance(r, str)]
        if not found and zero_c and zero_t:
            found = [REASON_ZERO_VARIANCE]
        if isinstance(existing, str) and existing not in ("None", "nan", ""):
            found.append(existing)
        reasons.append("; ".join(dict.fromkeys(found)) if found else None)
    merged["status_reason"] = reasons
    return merged.drop(columns=["_reason_c", "_reason_t", "_zero_c", "_zero_t"])
