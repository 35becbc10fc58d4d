"""Table-level Bayesian view and power analysis, for the dbt Python models of models/marts/decision_aids.

Both read one row per row of ``fct_metric_results`` (``metric_decision_aid_inputs``) and return one row
per input row, keyed the same way (experiment_id, experiment_version, population, variant_id, metric_id,
estimator). The relative lift's standard error is recovered exactly from its interval: relative intervals
are always delta-method normal (:mod:`readout.stats.results`), so ``se = (upper - lower) / (2 z_{1-alpha/2})``.
A row without an interval (the frequentist estimate failed) gets NaN figures and a ``status_reason``; no row
can make a call raise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bayes import bayesian_relative_lift
from .estimate import se_from_normal_interval
from .power import days_to_sample_size, minimum_detectable_effect, required_sample_size

__all__ = [
    "BAYES_OUTPUT_COLUMNS",
    "DECISION_AID_INPUT_COLUMNS",
    "POWER_OUTPUT_COLUMNS",
    "compute_bayesian_views",
    "compute_power_analysis",
]

KEYS = ["experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator"]
DECISION_AID_INPUT_COLUMNS = (
    *KEYS,
    "metric_role",
    "direction",
    "readout_status",
    "alpha",
    "n_units_control",
    "n_units_variant",
    "relative_lift",
    "relative_lift_ci_lower",
    "relative_lift_ci_upper",
    "n_units_entered",
    "entry_days",
)
BAYES_OUTPUT_COLUMNS = (
    *KEYS,
    "metric_role",
    "direction",
    "readout_status",
    "status_reason",
    "prior_mean",
    "prior_sd",
    "relative_lift",
    "posterior_mean",
    "posterior_sd",
    "credible_interval_level",
    "credible_lower",
    "credible_upper",
    "chance_to_beat_control",
    "expected_loss",
)
POWER_OUTPUT_COLUMNS = (
    *KEYS,
    "metric_role",
    "readout_status",
    "status_reason",
    "alpha",
    "power",
    "n_units",
    "relative_lift_std_error",
    "minimum_detectable_effect",
    "planned_minimum_effect",
    "n_units_required",
    "n_units_entered",
    "entry_days",
    "days_to_required_units",
)


def _require(df: pd.DataFrame, function: str) -> None:
    missing = [c for c in DECISION_AID_INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{function}: missing input columns {missing}")


def _relative_se(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The relative lift's standard error from its interval, and the reason when there is none."""
    alpha = pd.to_numeric(df["alpha"], errors="coerce").to_numpy(dtype=float)
    lower = pd.to_numeric(df["relative_lift_ci_lower"], errors="coerce").to_numpy(dtype=float)
    upper = pd.to_numeric(df["relative_lift_ci_upper"], errors="coerce").to_numpy(dtype=float)
    valid_alpha = (alpha > 0) & (alpha < 1)
    se = np.asarray(se_from_normal_interval(lower, upper, np.where(valid_alpha, alpha, 0.05)), dtype=float)
    ok = valid_alpha & np.isfinite(se) & (se > 0)
    reason = np.where(ok, None, "no relative-lift interval to start from (see fct_metric_results.status_reason)")
    return np.where(ok, se, np.nan), reason


def compute_bayesian_views(df: pd.DataFrame, prior_mean: float = 0.0, prior_sd: float = 0.3) -> pd.DataFrame:
    """One Bayesian view (readout.stats.bayes) per fct_metric_results row, at the row's own alpha."""
    _require(df, "compute_bayesian_views")
    out = df[[*KEYS, "metric_role", "direction", "readout_status"]].copy().reset_index(drop=True)
    se, reason = _relative_se(df)
    lift = pd.to_numeric(df["relative_lift"], errors="coerce").to_numpy(dtype=float)
    alpha = pd.to_numeric(df["alpha"], errors="coerce").fillna(0.05).to_numpy(dtype=float)
    direction = df["direction"].where(df["direction"].isin(["increase", "decrease"]), "increase").to_numpy(dtype=object)
    columns = {
        name: np.full(len(df), np.nan)
        for name in (
            "posterior_mean",
            "posterior_sd",
            "credible_lower",
            "credible_upper",
            "chance_to_beat_control",
            "expected_loss",
        )
    }
    for a in np.unique(alpha):
        rows = alpha == a
        view = bayesian_relative_lift(
            lift[rows], se[rows], direction[rows], alpha=float(a), prior_mean=prior_mean, prior_sd=prior_sd
        )
        for name in columns:
            columns[name][rows] = getattr(view, name)
    out["status_reason"] = reason
    out["prior_mean"] = float(prior_mean)
    out["prior_sd"] = float(prior_sd)
    out["relative_lift"] = lift
    for name, values in columns.items():
        out[name] = values
    out["credible_interval_level"] = 1.0 - alpha
    return out[list(BAYES_OUTPUT_COLUMNS)]


def compute_power_analysis(df: pd.DataFrame, power: float = 0.8, planned_minimum_effect: float = 0.05) -> pd.DataFrame:
    """Minimum detectable effect at the current units, units needed for the planned effect, days to them."""
    _require(df, "compute_power_analysis")
    out = df[[*KEYS, "metric_role", "readout_status"]].copy().reset_index(drop=True)
    se, reason = _relative_se(df)
    alpha = pd.to_numeric(df["alpha"], errors="coerce").fillna(0.05).to_numpy(dtype=float)
    n = (
        pd.to_numeric(df["n_units_control"], errors="coerce") + pd.to_numeric(df["n_units_variant"], errors="coerce")
    ).to_numpy(dtype=float)
    entered = pd.to_numeric(df["n_units_entered"], errors="coerce").to_numpy(dtype=float)
    days = pd.to_numeric(df["entry_days"], errors="coerce").to_numpy(dtype=float)
    mde = np.full(len(df), np.nan)
    needed = np.full(len(df), np.nan)
    for a in np.unique(alpha):
        rows = alpha == a
        mde[rows] = minimum_detectable_effect(se[rows], float(a), power)
        needed[rows] = required_sample_size(se[rows], n[rows], planned_minimum_effect, float(a), power)
    # the units needed are analysed units; units entered but still in their metric window count towards them
    remaining_days = days_to_sample_size(needed, entered, days)
    out["status_reason"] = reason
    out["alpha"] = alpha
    out["power"] = float(power)
    out["n_units"] = n
    out["relative_lift_std_error"] = se
    out["minimum_detectable_effect"] = mde
    out["planned_minimum_effect"] = float(planned_minimum_effect)
    out["n_units_required"] = np.ceil(needed)
    out["n_units_entered"] = entered
    out["entry_days"] = days
    out["days_to_required_units"] = remaining_days
    return out[list(POWER_OUTPUT_COLUMNS)]
