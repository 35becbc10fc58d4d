"""Table-level entry points for the dbt Python models: the only functions here that touch pandas.

``compute_metric_results``
    One row per experiment_id x experiment_version x population x treatment variant_id x
    metric_id x estimator. ``estimator`` is ``'unadjusted'`` for every metric, plus ``'cuped'``
    for proportion / mean / count metrics that carry a pre-period covariate. Ratio metrics get
    no CUPED row (the delta-method ratio is not regression-adjusted here), and neither do metrics
    whose covariate columns are NaN in every row of the experiment x population x metric group.
    A row that cannot be estimated is still emitted, with NaN figures and a ``status_reason``;
    nothing in one group can make the call raise. Only structural problems raise ``ValueError``
    (missing columns, bad ``alpha`` / ``correction``). The table is read into plain dicts once
    and every pair of one kind (welch, delta_ratio, cuped_welch) is estimated in one array call
    (:mod:`readout.stats.batch`); the figures equal, bit for bit, estimating each pair on its own.

``compute_sample_ratio_checks``
    One row per experiment x version x population x variant with the experiment-level
    chi-square SRM test repeated on each row.

Conventions
    * Lifts are treatment minus control (``absolute_*``) and treatment / control - 1
      (``relative_*``). ``mean_*`` are arm means for proportion / mean / count metrics, the arm
      ratios ``sum(num) / sum(den)`` for ratio metrics, and CUPED-adjusted arm means on
      ``'cuped'`` rows.
    * ``ci_method`` names the absolute-lift interval: ``welch`` (Welch t), ``delta_ratio``
      (delta-method normal) or ``cuped_welch`` (Welch t on CUPED-adjusted variances). Relative
      intervals are always delta-method normal. ``p_value`` tests absolute lift = 0.
    * Proportions are 0/1 values, so their sum of squares *is* ``metric_sum``; the
      ``metric_sum_of_squares`` column is ignored for them.
    * CUPED theta is pooled within arms over the control and the one treatment compared.
    * ``adjusted_p_value``: Holm or Benjamini–Hochberg across all metrics x treatment variants of
      one experiment_id x experiment_version x population x estimator. A row that cannot be
      estimated (NaN p-value) stays in the family, counted conservatively as p = 1, so it never
      shrinks the family and lowers the others' adjusted p-values; its own adjusted p-value is NaN.
      ``correction_method`` and ``correction_family_size`` (the number of hypotheses m, every row of
      the family) are repeated on each row. ``is_significant = adjusted_p_value < alpha`` (NA when
      there is no p-value).
    * ``sequential_ci_*``: always-valid asymptotic confidence sequence (see
      :mod:`readout.stats.sequential`) around the absolute lift, tuned for
      ``sequential_target_n`` total units (the optional input column ``sequential_target_n``
      overrides it per row; it must be fixed before the experiment starts).
    * ``guardrail_status`` (guardrail rows only): non-inferiority of the relative-lift interval
      against ``non_inferiority_margin`` (see :func:`readout.stats.multiple_testing.guardrail_status`);
      ``inconclusive`` when the interval or the margin is missing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .batch import PairBatch
from .cuped import cuped_absolute_lift, cuped_adjusted_means, cuped_relative_lift
from .estimate import validate_alpha
from .multiple_testing import CORRECTIONS, adjust_p_values, family_size, guardrail_status
from .ratio import ratio_absolute_lift, ratio_relative_lift
from .sequential import asymptotic_confidence_sequence
from .srm import sample_ratio_mismatch
from .sufficient import CovariateStats, RatioStats, SampleStats
from .welch import delta_relative_lift, welch_absolute_lift

__all__ = [
    "compute_metric_results",
    "compute_sample_ratio_checks",
    "METRIC_INPUT_COLUMNS",
    "METRIC_OPTIONAL_INPUT_COLUMNS",
    "METRIC_OUTPUT_COLUMNS",
    "SRM_INPUT_COLUMNS",
    "SRM_OUTPUT_COLUMNS",
    "DEFAULT_SEQUENTIAL_TARGET_N",
]

#: Planned total units (both arms) the confidence sequence is tuned for, unless overridden.
DEFAULT_SEQUENTIAL_TARGET_N = 10_000

METRIC_KEYS = ("experiment_id", "experiment_version", "population", "metric_id")

METRIC_INPUT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "population",
    "variant_id",
    "metric_id",
    "is_control",
    "metric_type",
    "direction",
    "role",
    "non_inferiority_margin",
    "n_units",
    "metric_sum",
    "metric_sum_of_squares",
)
#: Treated as NaN when absent (then no ratio metric can be estimated and no CUPED row appears).
METRIC_OPTIONAL_INPUT_COLUMNS = (
    "denominator_sum",
    "denominator_sum_of_squares",
    "metric_denominator_cross_sum",
    "covariate_sum",
    "covariate_sum_of_squares",
    "metric_covariate_cross_sum",
)
_COVARIATE_COLUMNS = ("covariate_sum", "covariate_sum_of_squares", "metric_covariate_cross_sum")
_RATIO_COLUMNS = ("denominator_sum", "denominator_sum_of_squares", "metric_denominator_cross_sum")

METRIC_OUTPUT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "population",
    "variant_id",
    "metric_id",
    "estimator",
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
    "correction_method",
    "correction_family_size",
    "is_significant",
    "sequential_ci_lower",
    "sequential_ci_upper",
    "ci_method",
    "alpha",
    "guardrail_status",
    "status_reason",
)
_FLOAT_OUTPUT_COLUMNS = (
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
    "sequential_ci_lower",
    "sequential_ci_upper",
    "alpha",
)

_TEXT_OUTPUT_COLUMNS = (
    "estimator",
    "control_variant_id",
    "ci_method",
    "guardrail_status",
    "status_reason",
    "correction_method",
)
#: A NaN p-value stays in its correction family as p = 1 (see multiple_testing.adjust_p_values).
_MISSING_P_VALUES = "as_one"

SRM_KEYS = ("experiment_id", "experiment_version", "population")
SRM_INPUT_COLUMNS = (*SRM_KEYS, "variant_id", "observed_units", "expected_share")
SRM_OUTPUT_COLUMNS = (
    *SRM_KEYS,
    "variant_id",
    "observed_units",
    "expected_share",
    "expected_units",
    "chi_square",
    "degrees_of_freedom",
    "p_value",
    "is_sample_ratio_mismatch",
    "status_reason",
)

METRIC_TYPES = ("proportion", "mean", "count", "ratio")
_CUPED_METRIC_TYPES = ("proportion", "mean", "count")
_NAN = float("nan")


def _require_columns(df: pd.DataFrame, required, function: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{function}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{function}: missing required column(s): {', '.join(missing)}")


def _num(value: Any) -> float:
    """A cell as float; None / NA / non-numeric become NaN."""
    if value is None or value is pd.NA:
        return _NAN
    try:
        return float(value)
    except (TypeError, ValueError):
        return _NAN


def _is_true(value: Any) -> bool:
    """``is_control`` as a strict boolean; text such as ``"false"`` is read, not truth-tested."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes", "y")
    return bool(value)


def _join(reasons: list[str]) -> str | None:
    unique = list(dict.fromkeys(r for r in reasons if r))
    return "; ".join(unique) if unique else None


def _sample_stats(row, metric_type: str) -> SampleStats:
    total = _num(row["metric_sum"])
    squares = total if metric_type == "proportion" else _num(row["metric_sum_of_squares"])
    return SampleStats(_num(row["n_units"]), total, squares)


def _ratio_stats(row) -> RatioStats:
    return RatioStats(
        _num(row["n_units"]),
        _num(row["metric_sum"]),
        _num(row["metric_sum_of_squares"]),
        _num(row["denominator_sum"]),
        _num(row["denominator_sum_of_squares"]),
        _num(row["metric_denominator_cross_sum"]),
    )


def _covariate_stats(row, metric_type: str) -> CovariateStats:
    total = _num(row["metric_sum"])
    squares = total if metric_type == "proportion" else _num(row["metric_sum_of_squares"])
    return CovariateStats(
        _num(row["n_units"]),
        total,
        squares,
        _num(row["covariate_sum"]),
        _num(row["covariate_sum_of_squares"]),
        _num(row["metric_covariate_cross_sum"]),
    )


def _has_covariate(row) -> bool:
    return all(np.isfinite(_num(row[c])) for c in _COVARIATE_COLUMNS)


def _safe_mean(total: Any, n: Any) -> float:
    total, n = _num(total), _num(n)
    return total / n if np.isfinite(total) and np.isfinite(n) and n > 0 else _NAN


def _safe_ratio(num: Any, den: Any) -> float:
    num, den = _num(num), _num(den)
    return num / den if np.isfinite(num) and np.isfinite(den) and den != 0 else _NAN


def _base_row(keys: tuple, variant_id: Any, estimator: str, control, variant, alpha: float) -> dict:
    row = dict(zip(METRIC_KEYS, keys, strict=True))
    row.update(
        variant_id=variant_id,
        estimator=estimator,
        control_variant_id=None if control is None else control["variant_id"],
        n_units_control=_NAN if control is None else _num(control["n_units"]),
        n_units_variant=_num(variant["n_units"]),
        ci_method=None,
        alpha=alpha,
        guardrail_status=None,
        status_reason=None,
    )
    for col in _FLOAT_OUTPUT_COLUMNS:
        row.setdefault(col, _NAN)
    row["alpha"] = alpha
    return row


def _estimate_row(
    row: dict, stats_c, stats_t, absolute, relative, alpha: float, target_n: float, reasons: list[str]
) -> None:
    """Fill the lift columns of ``row`` from one pair of arm statistics; failures become reasons."""
    try:
        abs_est = absolute(stats_c, stats_t, alpha)
    except ValueError as exc:
        reasons.append(str(exc))
        abs_est = None
    if abs_est is not None:
        row.update(
            absolute_lift=abs_est.estimate,
            absolute_lift_ci_lower=abs_est.ci_lower,
            absolute_lift_ci_upper=abs_est.ci_upper,
            p_value=abs_est.p_value,
        )
        try:
            n_total = _num(stats_c.n) + _num(stats_t.n)
            seq = asymptotic_confidence_sequence(abs_est.estimate, abs_est.std_error, n_total, alpha, target_n=target_n)
            row.update(sequential_ci_lower=seq.lower, sequential_ci_upper=seq.upper)
        except ValueError as exc:
            reasons.append(f"sequential interval: {exc}")
    try:
        rel_est = relative(stats_c, stats_t, alpha)
        row.update(
            relative_lift=rel_est.estimate,
            relative_lift_ci_lower=rel_est.ci_lower,
            relative_lift_ci_upper=rel_est.ci_upper,
        )
    except ValueError as exc:
        reasons.append(str(exc))


def _fill_unadjusted(row, metric_type, control, variant, alpha, target_n, reasons) -> None:
    if metric_type == "ratio":
        row["ci_method"] = "delta_ratio"
        row["mean_control"] = _safe_ratio(control["metric_sum"], control["denominator_sum"])
        row["mean_variant"] = _safe_ratio(variant["metric_sum"], variant["denominator_sum"])
        build, absolute, relative = _ratio_stats, ratio_absolute_lift, ratio_relative_lift
    else:
        row["ci_method"] = "welch"
        row["mean_control"] = _safe_mean(control["metric_sum"], control["n_units"])
        row["mean_variant"] = _safe_mean(variant["metric_sum"], variant["n_units"])

        def build(r):
            return _sample_stats(r, metric_type)

        absolute, relative = welch_absolute_lift, delta_relative_lift
    try:
        stats_c, stats_t = build(control), build(variant)
    except ValueError as exc:
        reasons.append(str(exc))
        return
    _estimate_row(row, stats_c, stats_t, absolute, relative, alpha, target_n, reasons)


def _fill_cuped(row, metric_type, control, variant, alpha, target_n, reasons) -> None:
    row["ci_method"] = "cuped_welch"
    missing = [arm for arm, r in (("control", control), ("variant", variant)) if not _has_covariate(r)]
    if missing:
        reasons.append(f"covariate missing in {' and '.join(missing)}")
        return
    try:
        stats_c, stats_t = _covariate_stats(control, metric_type), _covariate_stats(variant, metric_type)
    except ValueError as exc:
        reasons.append(str(exc))
        return
    try:
        m_c, m_t = cuped_adjusted_means(stats_c, stats_t)
        row.update(mean_control=float(m_c), mean_variant=float(m_t))
    except ValueError:
        pass  # the estimators below report the same reason
    _estimate_row(row, stats_c, stats_t, cuped_absolute_lift, cuped_relative_lift, alpha, target_n, reasons)


def _pair_rows(keys, metric, control, variant, group_reason, cuped_wanted, alpha, default_target_n) -> list[dict]:
    """The 'unadjusted' (and, when wanted, 'cuped') rows of one treatment variant vs the control."""
    metric_type = metric["metric_type"]
    target_n = _num(variant.get("sequential_target_n", _NAN))
    target_n = target_n if np.isfinite(target_n) and target_n > 0 else default_target_n

    rows = []
    for estimator in ("unadjusted", "cuped") if cuped_wanted else ("unadjusted",):
        row = _base_row(keys, variant["variant_id"], estimator, control, variant, alpha)
        reasons: list[str] = []
        if group_reason:
            reasons.append(group_reason)
        elif estimator == "unadjusted":
            _fill_unadjusted(row, metric_type, control, variant, alpha, target_n, reasons)
        else:
            _fill_cuped(row, metric_type, control, variant, alpha, target_n, reasons)
        if metric["role"] == "guardrail":
            row["guardrail_status"] = _guardrail(metric, row, reasons)
        row["status_reason"] = _join(reasons)
        rows.append(row)
    return rows


def _guardrail(metric, row: dict, reasons: list[str]) -> str:
    margin = _num(metric["non_inferiority_margin"])
    if not np.isfinite(margin):
        reasons.append("no non-inferiority margin configured")
        return "inconclusive"
    try:
        return guardrail_status(
            row["relative_lift_ci_lower"], row["relative_lift_ci_upper"], metric["direction"], margin
        )
    except ValueError as exc:
        reasons.append(f"guardrail: {exc}")
        return "inconclusive"


def _group_plan(records: list[dict]):
    """``(metric, control, variants, group_reason, cuped_wanted)`` of one experiment x population x
    metric group, from its input rows as plain dicts."""
    controls = [r for r in records if _is_true(r["is_control"])]
    variants = [r for r in records if not _is_true(r["is_control"])]
    control = controls[0] if len(controls) == 1 else None
    metric = dict(control if control is not None else records[0])

    group_reason = None
    variant_ids = [r["variant_id"] for r in records]
    if not controls:
        group_reason = "no control variant"
    elif len(controls) > 1:
        group_reason = "multiple control variants"
    elif len(set(variant_ids)) != len(variant_ids):
        group_reason = "duplicate variant rows"
    elif metric["metric_type"] not in METRIC_TYPES:
        group_reason = f"unknown metric_type {metric['metric_type']!r}"
    metric_type = metric["metric_type"]

    # CUPED rows exist for non-ratio metrics whose group carries a covariate at all.
    cuped_wanted = metric_type in _CUPED_METRIC_TYPES and any(
        any(np.isfinite(_num(r[c])) for c in _COVARIATE_COLUMNS) for r in records
    )
    return metric, control, variants, group_reason, cuped_wanted


def _group_rows(keys, records: list[dict], alpha: float, default_target_n: float) -> list[dict]:
    """The per-pair reference path: every pair estimated on its own, with scalar statistics."""
    metric, control, variants, group_reason, cuped_wanted = _group_plan(records)
    rows = []
    for variant in variants:
        rows.extend(_pair_rows(keys, metric, control, variant, group_reason, cuped_wanted, alpha, default_target_n))
    return rows


def _groups(df: pd.DataFrame):
    """``(keys, records)`` per METRIC_KEYS group, in the order (and with the keys and row order)
    of iterating ``df.groupby(METRIC_KEYS, sort=True, dropna=False)``, without building a frame
    per group."""
    if df.empty:
        return
    grouped = df.groupby(list(METRIC_KEYS), sort=True, dropna=False)
    ids = grouped.ngroup().to_numpy()
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    records = df.to_dict("records")
    for keys, positions in zip(grouped.size().index, np.split(order, bounds), strict=True):
        yield keys, [records[i] for i in positions]


def _sample_columns(r, metric_type: str) -> tuple:
    total = _num(r["metric_sum"])
    squares = total if metric_type == "proportion" else _num(r["metric_sum_of_squares"])
    return (_num(r["n_units"]), total, squares)


def _ratio_columns(r) -> tuple:
    return tuple(_num(r[c]) for c in ("n_units", "metric_sum", "metric_sum_of_squares", *_RATIO_COLUMNS))


def _covariate_columns(r, metric_type: str) -> tuple:
    return _sample_columns(r, metric_type) + tuple(_num(r[c]) for c in _COVARIATE_COLUMNS)


def _batched_rows(groups, alpha: float, default_target_n: float) -> list[dict]:
    """Every output row, the estimates computed in batches (equal to :func:`_group_rows`)."""
    welch = PairBatch(SampleStats, welch_absolute_lift, delta_relative_lift)
    ratio = PairBatch(RatioStats, ratio_absolute_lift, ratio_relative_lift)
    cuped = PairBatch(CovariateStats, cuped_absolute_lift, cuped_relative_lift, cuped_adjusted_means)
    rows: list[dict] = []
    pending: list[tuple[dict, dict, list[str]]] = []  # (row, metric, reasons) finished after the batches
    for keys, records in groups:
        metric, control, variants, group_reason, cuped_wanted = _group_plan(records)
        metric_type = metric["metric_type"]
        for variant in variants:
            target_n = _num(variant.get("sequential_target_n", _NAN))
            target_n = target_n if np.isfinite(target_n) and target_n > 0 else default_target_n
            for estimator in ("unadjusted", "cuped") if cuped_wanted else ("unadjusted",):
                row = _base_row(keys, variant["variant_id"], estimator, control, variant, alpha)
                reasons: list[str] = []
                if group_reason:
                    reasons.append(group_reason)
                elif estimator == "unadjusted" and metric_type == "ratio":
                    row["ci_method"] = "delta_ratio"
                    row["mean_control"] = _safe_ratio(control["metric_sum"], control["denominator_sum"])
                    row["mean_variant"] = _safe_ratio(variant["metric_sum"], variant["denominator_sum"])
                    ratio.add(row, reasons, target_n, _ratio_columns(control), _ratio_columns(variant))
                elif estimator == "unadjusted":
                    row["ci_method"] = "welch"
                    row["mean_control"] = _safe_mean(control["metric_sum"], control["n_units"])
                    row["mean_variant"] = _safe_mean(variant["metric_sum"], variant["n_units"])
                    welch.add(
                        row, reasons, target_n,
                        _sample_columns(control, metric_type), _sample_columns(variant, metric_type),
                    )  # fmt: skip
                else:
                    row["ci_method"] = "cuped_welch"
                    missing = [arm for arm, r in (("control", control), ("variant", variant)) if not _has_covariate(r)]
                    if missing:
                        reasons.append(f"covariate missing in {' and '.join(missing)}")
                    else:
                        cuped.add(
                            row, reasons, target_n,
                            _covariate_columns(control, metric_type), _covariate_columns(variant, metric_type),
                        )  # fmt: skip
                rows.append(row)
                pending.append((row, metric, reasons))
    for batch in (welch, ratio, cuped):
        batch.run(alpha)
    for row, metric, reasons in pending:
        if metric["role"] == "guardrail":
            row["guardrail_status"] = _guardrail(metric, row, reasons)
        row["status_reason"] = _join(reasons)
    return rows


def _int_or_float(series: pd.Series) -> pd.Series:
    try:
        return series.astype("Int64")
    except (TypeError, ValueError):
        return series.astype("float64")


def compute_metric_results(
    stats: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    sequential_target_n: float = DEFAULT_SEQUENTIAL_TARGET_N,
) -> pd.DataFrame:
    """Per treatment variant x metric x estimator lift estimates from per-arm sufficient statistics.

    Input: one row per experiment_id x experiment_version x population x variant_id x metric_id
    with :data:`METRIC_INPUT_COLUMNS` (and optionally :data:`METRIC_OPTIONAL_INPUT_COLUMNS` and
    ``sequential_target_n``). Output: :data:`METRIC_OUTPUT_COLUMNS`, in that order.
    """
    return _compute_metric_results(stats, alpha, correction, sequential_target_n, batched=True)


def _compute_metric_results(
    stats: pd.DataFrame, alpha: float, correction: str, sequential_target_n: float, batched: bool
) -> pd.DataFrame:
    """``compute_metric_results``; ``batched=False`` estimates every pair on its own (the
    reference the batched path is tested against)."""
    _require_columns(stats, METRIC_INPUT_COLUMNS, "compute_metric_results")
    alpha = validate_alpha(alpha)
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    sequential_target_n = float(sequential_target_n)
    if not (np.isfinite(sequential_target_n) and sequential_target_n > 0):
        raise ValueError(f"sequential_target_n must be positive, got {sequential_target_n}")

    df = stats.copy()
    for col in METRIC_OPTIONAL_INPUT_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan

    if batched:
        rows = _batched_rows(_groups(df), alpha, sequential_target_n)
    else:
        rows = []
        for keys, group in df.groupby(list(METRIC_KEYS), sort=True, dropna=False):
            rows.extend(_group_rows(keys, group.to_dict("records"), alpha, sequential_target_n))

    out = pd.DataFrame(rows, columns=list(METRIC_OUTPUT_COLUMNS))
    if out.empty:
        return out
    for col in _FLOAT_OUTPUT_COLUMNS:
        out[col] = out[col].astype("float64")
    for col in ("n_units_control", "n_units_variant"):
        out[col] = _int_or_float(out[col])

    family = ["experiment_id", "experiment_version", "population", "estimator"]
    adjusted = np.full(len(out), np.nan, dtype="float64")
    sizes = np.zeros(len(out), dtype="int64")
    p_all = out["p_value"].to_numpy(dtype=float)
    for idx in out.groupby(family, sort=False, dropna=False).indices.values():
        p_values = p_all[idx]
        adjusted[idx] = adjust_p_values(p_values, correction, missing=_MISSING_P_VALUES)
        sizes[idx] = family_size(p_values, missing=_MISSING_P_VALUES)
    out["adjusted_p_value"] = pd.Series(adjusted, index=out.index, dtype="float64")
    out["correction_method"] = correction
    out["correction_family_size"] = pd.Series(sizes, index=out.index, dtype="int64")
    significant = pd.array(out["adjusted_p_value"].to_numpy() < alpha, dtype="boolean")
    significant[out["adjusted_p_value"].isna().to_numpy()] = pd.NA
    out["is_significant"] = significant

    for col in _TEXT_OUTPUT_COLUMNS:
        out[col] = out[col].astype("str")
    out["_estimator_order"] = (out["estimator"] == "cuped").astype(int)  # unadjusted first
    out = out.sort_values(
        ["experiment_id", "experiment_version", "population", "metric_id", "variant_id", "_estimator_order"],
        kind="stable",
        ignore_index=True,
    )
    return out[list(METRIC_OUTPUT_COLUMNS)]


def compute_sample_ratio_checks(
    counts: pd.DataFrame, threshold: float = 0.001, min_expected: float = 5
) -> pd.DataFrame:
    """Chi-square sample ratio mismatch per experiment x version x population.

    Input: :data:`SRM_INPUT_COLUMNS` (``expected_share`` is the configured allocation weight; the
    shares of one experiment version must be positive and sum to 1). Output:
    :data:`SRM_OUTPUT_COLUMNS`, one row per input row, with the experiment-level ``chi_square``,
    ``degrees_of_freedom``, ``p_value`` and ``is_sample_ratio_mismatch`` repeated on each row.
    When the test is not applicable (an expected count below ``min_expected``, no units, invalid
    shares, fewer than 2 variants) ``p_value`` / ``chi_square`` are NaN,
    ``is_sample_ratio_mismatch`` is False and ``status_reason`` says why.
    """
    _require_columns(counts, SRM_INPUT_COLUMNS, "compute_sample_ratio_checks")
    threshold = float(threshold)
    if not (0.0 < threshold < 1.0):
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    min_expected = float(min_expected)
    if not (min_expected >= 0):
        raise ValueError(f"min_expected must be non-negative, got {min_expected}")

    # Variants in a fixed order (not the input's): the chi-square is a floating-point sum, so an input
    # read back in another order (a warehouse scan is not ordered) would otherwise move its last bits,
    # and a refresh would report a change that is not one.
    counts = counts.sort_values([*SRM_KEYS, "variant_id"], kind="stable", na_position="first")
    rows: list[dict] = []
    for keys, group in counts.groupby(list(SRM_KEYS), sort=True, dropna=False):
        records = group.to_dict("records")
        observed = [_num(r["observed_units"]) for r in records]
        shares = [_num(r["expected_share"]) for r in records]
        total = float(np.nansum(observed))
        chi = p = _NAN
        dof: Any = pd.NA
        mismatch = False
        reason = None
        ids = [r["variant_id"] for r in records]
        try:
            if len(set(ids)) != len(ids):
                raise ValueError("duplicate variant rows")
            result = sample_ratio_mismatch(observed, shares, threshold=threshold, min_expected=min_expected)
            dof = result.degrees_of_freedom
            if result.is_applicable:
                chi, p, mismatch = result.chi_square, result.p_value, result.is_mismatch
            else:
                reason = result.reason
        except ValueError as exc:
            reason = str(exc)
        for r, obs, share in zip(records, observed, shares, strict=True):
            rows.append(
                dict(
                    zip(SRM_KEYS, keys, strict=True),
                    variant_id=r["variant_id"],
                    observed_units=obs,
                    expected_share=share,
                    expected_units=total * share,
                    chi_square=chi,
                    degrees_of_freedom=dof,
                    p_value=p,
                    is_sample_ratio_mismatch=bool(mismatch),
                    status_reason=reason,
                )
            )
    out = pd.DataFrame(rows, columns=list(SRM_OUTPUT_COLUMNS))
    if out.empty:
        return out
    for col in ("expected_share", "expected_units", "chi_square", "p_value"):
        out[col] = out[col].astype("float64")
    out["observed_units"] = _int_or_float(out["observed_units"])
    out["degrees_of_freedom"] = out["degrees_of_freedom"].astype("Int64")
    out["is_sample_ratio_mismatch"] = out["is_sample_ratio_mismatch"].astype(bool)
    out["status_reason"] = out["status_reason"].astype("str")
    return out
