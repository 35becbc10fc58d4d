"""Per-experiment statistical settings (dbt model ``int_experiment_settings``) applied to the statistics.

One row per experiment version: ``alpha`` (null: the project's var ``alpha``), ``planned_sample_size``
(the confidence sequence is tightest there; null: ``DEFAULT_SEQUENTIAL_TARGET_N`` = 10,000 units),
``decision_estimator`` (read by the decision logic), ``planned_split`` ('declared' | 'assumed_equal' |
'unknown'). An experiment whose planned split is unknown gets no sample-ratio test: its rows say so in
``status_reason`` rather than testing against an invented split. Pure: no dbt, no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from readout.stats.results import DEFAULT_SEQUENTIAL_TARGET_N, compute_metric_results, compute_sample_ratio_checks

__all__ = [
    "DEFAULT_SEQUENTIAL_TARGET_N",
    "SETTINGS_KEYS",
    "SPLIT_UNKNOWN_REASON",
    "metric_results_with_settings",
    "sample_ratio_checks_with_settings",
]

SETTINGS_KEYS = ("experiment_id", "experiment_version")
SPLIT_UNKNOWN_REASON = "planned split unknown (the mapping declares none): no sample-ratio test"


def _with_settings(frame: pd.DataFrame, settings: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """``frame`` with the settings' ``columns`` joined on (NaN/None where an experiment has none)."""
    out = frame.copy()
    if settings is None or settings.empty:
        for column in columns:
            out[column] = np.nan
        return out
    wanted = settings[[*SETTINGS_KEYS, *columns]].drop_duplicates(list(SETTINGS_KEYS))
    merged = out.merge(wanted, on=list(SETTINGS_KEYS), how="left", suffixes=("", "__setting"))
    merged.index = out.index
    return merged


def metric_results_with_settings(
    stats: pd.DataFrame, settings: pd.DataFrame | None, alpha: float, correction: str
) -> pd.DataFrame:
    """:func:`compute_metric_results` with each experiment's own alpha and planned sample size.

    Correction families never span experiments, so computing each alpha's experiments apart is exact."""
    frame = _with_settings(stats, settings, ["alpha", "planned_sample_size"])
    sizes = pd.to_numeric(frame["planned_sample_size"], errors="coerce")
    frame["sequential_target_n"] = sizes.where(sizes > 0)
    alphas = pd.to_numeric(frame["alpha"], errors="coerce").fillna(float(alpha))
    frame = frame.drop(columns=["alpha", "planned_sample_size"])
    parts = [
        compute_metric_results(frame[alphas == value], alpha=float(value), correction=correction)
        for value in sorted(alphas.unique())
    ]
    if not parts:
        return compute_metric_results(frame, alpha=float(alpha), correction=correction)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    order = (out["estimator"] == "cuped").astype(int)
    keys = ["experiment_id", "experiment_version", "population", "metric_id", "variant_id"]
    return (
        out.assign(_order=order).sort_values([*keys, "_order"], kind="stable", ignore_index=True).drop(columns="_order")
    )


def sample_ratio_checks_with_settings(
    counts: pd.DataFrame, settings: pd.DataFrame | None, threshold: float, min_expected: float
) -> pd.DataFrame:
    """:func:`compute_sample_ratio_checks`, not testing experiments whose planned split is unknown."""
    frame = _with_settings(counts, settings, ["planned_split"])
    unknown = (frame["planned_split"] == "unknown").to_numpy()
    frame = frame.drop(columns=["planned_split"])
    frame.loc[unknown, "expected_share"] = np.nan
    out = compute_sample_ratio_checks(frame, threshold=threshold, min_expected=min_expected)
    if unknown.any() and not out.empty:
        keys = frame.loc[unknown, list(SETTINGS_KEYS)].drop_duplicates()
        marked = out[list(SETTINGS_KEYS)].merge(keys.assign(_unknown=True), on=list(SETTINGS_KEYS), how="left")
        mask = marked["_unknown"].fillna(False).to_numpy(dtype=bool)
        out.loc[mask, "status_reason"] = SPLIT_UNKNOWN_REASON
        out.loc[mask, "expected_units"] = np.nan
    return out
