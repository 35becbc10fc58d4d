"""Results and sample-ratio checks per segment (exploratory cuts of an experiment version).

A segment is a segment type and value (``exposure_platform = ios``, ``tenure = new``). Each segment is
analysed like a population of its own: :func:`readout.stats.compute_metric_results` and
:func:`readout.stats.compute_sample_ratio_checks` run with the segment folded into the ``population`` key,
so every segment is its own multiple-testing family (its metrics x variants), corrected separately from
the version's primary family, and its sample ratio is tested against the planned weights. Segment results
are exploratory: many cuts are looked at, so a significant one is a lead, not a finding.
"""

from __future__ import annotations

import pandas as pd

from .results import DEFAULT_SEQUENTIAL_TARGET_N, compute_metric_results, compute_sample_ratio_checks

__all__ = [
    "SEGMENT_COLUMNS",
    "compute_segment_metric_results",
    "compute_segment_readout",
    "compute_segment_sample_ratio_checks_by_unit",
]

SEGMENT_COLUMNS = ("segment_type", "segment_value")
_SEP = "\x1f"  # a separator no population, segment type or value contains (checked)


def _fold(df: pd.DataFrame, function: str) -> pd.DataFrame:
    missing = [c for c in ("population", *SEGMENT_COLUMNS) if c not in df.columns]
    if missing:
        raise ValueError(f"{function}: missing input columns {missing}")
    parts = df[["population", *SEGMENT_COLUMNS]].astype(str)
    if parts.apply(lambda column: column.str.contains(_SEP, regex=False)).to_numpy().any():
        raise ValueError(f"{function}: a population or segment contains the control character U+001F")
    out = df.drop(columns=list(SEGMENT_COLUMNS)).copy()
    out["population"] = parts["population"] + _SEP + parts["segment_type"] + _SEP + parts["segment_value"]
    # the warehouse hands rows over in no set order, and sums in floating point depend on it: sort, so two
    # builds of the same data give the same last digit
    order = [c for c in ("experiment_id", "experiment_version", "population", "metric_id", "variant_id") if c in out]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def _unfold(df: pd.DataFrame) -> pd.DataFrame:
    split = df["population"].str.split(_SEP, n=2, expand=True, regex=False)
    out = df.copy()
    if out.empty:
        for column in SEGMENT_COLUMNS:
            out[column] = pd.Series(dtype=object)
        return out
    out["population"], out["segment_type"], out["segment_value"] = split[0], split[1], split[2]
    return out


def _order(df: pd.DataFrame) -> list[str]:
    columns = list(df.columns.drop(list(SEGMENT_COLUMNS)))
    at = columns.index("population") + 1
    return columns[:at] + list(SEGMENT_COLUMNS) + columns[at:]


def compute_segment_metric_results(
    stats: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    sequential_target_n: float = DEFAULT_SEQUENTIAL_TARGET_N,
) -> pd.DataFrame:
    """compute_metric_results per segment: the input and output gain segment_type and segment_value."""
    out = _unfold(
        compute_metric_results(_fold(stats, "compute_segment_metric_results"), alpha, correction, sequential_target_n)
    )
    return out[_order(out)]


def compute_segment_sample_ratio_checks_by_unit(
    counts: pd.DataFrame, threshold: float = 0.001, min_expected: float = 5.0
) -> pd.DataFrame:
    """compute_sample_ratio_checks per segment: the input and output gain segment_type and segment_value."""
    out = _unfold(
        compute_sample_ratio_checks(
            _fold(counts, "compute_segment_sample_ratio_checks_by_unit"), threshold, min_expected
        )
    )
    return out[_order(out)]


def compute_segment_readout(
    stats: pd.DataFrame,
    counts: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    srm_threshold: float = 0.001,
    srm_min_expected: float = 5.0,
) -> pd.DataFrame:
    """Segment results with their segment's sample-ratio check beside them (p-value, mismatch flag, reason)."""
    results = compute_segment_metric_results(stats, alpha, correction)
    srm = compute_segment_sample_ratio_checks_by_unit(counts, srm_threshold, srm_min_expected)
    keys = ["experiment_id", "experiment_version", "population", *SEGMENT_COLUMNS]
    per_segment = (
        srm.groupby(keys, sort=False, dropna=False)
        .agg(
            segment_units=("observed_units", "sum"),
            srm_p_value=("p_value", "first"),
            is_sample_ratio_mismatch=("is_sample_ratio_mismatch", "first"),
            srm_status_reason=("status_reason", "first"),
        )
        .reset_index()
    )
    out = results.merge(per_segment, on=keys, how="left", validate="many_to_one")
    metric_keys = ["experiment_id", "experiment_version", "metric_id"]
    roles = (
        stats[[*metric_keys, "role", "direction"]].drop_duplicates(metric_keys).rename(columns={"role": "metric_role"})
    )
    out = out.merge(roles, on=metric_keys, how="left", validate="many_to_one")
    out["is_exploratory"] = True
    return out
