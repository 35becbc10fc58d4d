"""CUPED (regression adjustment on a pre-period covariate) from sufficient statistics.

Theta is pooled *within arms* across the two arms being compared:

    theta = (S_xy,c + S_xy,t) / (S_xx,c + S_xx,t),   S_xy,a = sum_a(x y) - sum_a(x) sum_a(y) / n_a

This is exactly the common slope of the OLS regression ``y ~ 1 + treatment + (x - xbar)`` fitted
on the two arms' raw rows (Frisch–Waugh–Lovell), so the CUPED lift equals that regression's
treatment coefficient, and the adjusted arm means

    m_a = ybar_a - theta (xbar_a - xbar),   xbar = pooled covariate mean of both arms,

equal the regression's intercept and intercept + treatment coefficient.

Absolute lift ``m_t - m_c`` uses the per-arm adjusted variance
``s_y^2 - 2 theta s_xy + theta^2 s_x^2`` in a Welch t interval (theta treated as known: its
sampling error enters the lift only at order ``1/n``). Relative lift ``m_t / m_c - 1`` uses the
delta method on the four arm means ``(ybar_t, xbar_t, ybar_c, xbar_c)``, including the dependence
of both adjusted means on the pooled ``xbar``; normal interval.

Ratio metrics are not CUPED-adjusted here (see :mod:`readout.stats.results`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .estimate import LiftEstimate, normal_estimate, power, require_positive_se, t_estimate, validate_alpha
from .sufficient import CovariateStats, require_n_at_least_2
from .welch import delta_relative_lift, welch_absolute_lift, welch_satterthwaite_df

__all__ = [
    "CupedComparison",
    "pooled_theta",
    "cuped_adjusted_means",
    "cuped_variance_reduction",
    "cuped_absolute_lift",
    "cuped_relative_lift",
    "cuped_compare",
]


def _check_pair(control: CovariateStats, treatment: CovariateStats) -> None:
    require_n_at_least_2(control.n, "control")
    require_n_at_least_2(treatment.n, "variant")


def pooled_theta(control: CovariateStats, treatment: CovariateStats):
    """Within-arm pooled ``cov(x, y) / var(x)``; ``ValueError`` if the covariate is constant."""
    _check_pair(control, treatment)
    sxx = control.centred_xx + treatment.centred_xx
    if np.any(~(sxx > 0.0)):
        raise ValueError("zero covariate variance")
    return (control.centred_xy + treatment.centred_xy) / sxx


def _theta(control, treatment, theta):
    return pooled_theta(control, treatment) if theta is None else np.asarray(theta, dtype=float)


def _adjusted_variance(stats: CovariateStats, theta):
    y, x = stats.outcome, stats.covariate
    v = y.variance - 2.0 * theta * stats.covariance + theta * theta * x.variance
    return np.maximum(v, 0.0)


def cuped_adjusted_means(control: CovariateStats, treatment: CovariateStats, theta=None):
    """``(m_c, m_t)``: arm means adjusted to the pooled covariate mean of both arms."""
    theta = _theta(control, treatment, theta)
    n_c, n_t = np.asarray(control.n, float), np.asarray(treatment.n, float)
    xbar = (np.asarray(control.x_sum, float) + np.asarray(treatment.x_sum, float)) / (n_c + n_t)
    m_c = control.outcome.mean - theta * (control.covariate.mean - xbar)
    m_t = treatment.outcome.mean - theta * (treatment.covariate.mean - xbar)
    return m_c, m_t


def _se_adjusted(control, treatment, theta):
    v_c, v_t = _adjusted_variance(control, theta), _adjusted_variance(treatment, theta)
    n_c, n_t = np.asarray(control.n, float), np.asarray(treatment.n, float)
    return v_c, v_t, np.sqrt(v_c / n_c + v_t / n_t)


def cuped_variance_reduction(control: CovariateStats, treatment: CovariateStats, theta=None):
    """``1 - Var(adjusted lift) / Var(unadjusted lift)`` (in [0, 1) when theta is pooled)."""
    _check_pair(control, treatment)
    theta = _theta(control, treatment, theta)
    _, _, se_adj = _se_adjusted(control, treatment, theta)
    se_raw2 = control.outcome.variance / np.asarray(control.n, float) + treatment.outcome.variance / np.asarray(
        treatment.n, float
    )
    require_positive_se(se_raw2, "zero variance")
    return 1.0 - se_adj**2 / se_raw2


def cuped_absolute_lift(
    control: CovariateStats, treatment: CovariateStats, alpha: float = 0.05, theta=None
) -> LiftEstimate:
    """CUPED-adjusted ``m_t - m_c`` with a Welch t interval on the adjusted variances."""
    alpha = validate_alpha(alpha)
    _check_pair(control, treatment)
    theta = _theta(control, treatment, theta)
    m_c, m_t = cuped_adjusted_means(control, treatment, theta)
    v_c, v_t, se = _se_adjusted(control, treatment, theta)
    require_positive_se(se, "zero variance")
    df = welch_satterthwaite_df(v_c, control.n, v_t, treatment.n)
    return t_estimate(m_t - m_c, se, df, alpha, "cuped_welch")


def cuped_relative_lift(
    control: CovariateStats, treatment: CovariateStats, alpha: float = 0.05, theta=None
) -> LiftEstimate:
    """CUPED-adjusted ``m_t / m_c - 1`` with a delta-method normal interval."""
    alpha = validate_alpha(alpha)
    _check_pair(control, treatment)
    theta = _theta(control, treatment, theta)
    m_c, m_t = cuped_adjusted_means(control, treatment, theta)
    if np.any(m_c == 0.0):
        raise ValueError("zero baseline mean")
    n_c, n_t = np.asarray(control.n, float), np.asarray(treatment.n, float)
    w_c, w_t = n_c / (n_c + n_t), n_t / (n_c + n_t)
    # gradient of m_t/m_c - 1 with respect to (ybar_t, xbar_t) and (ybar_c, xbar_c)
    k = theta * (w_c / m_c + w_t * m_t / power(m_c, 2))
    g_ty, g_tx = 1.0 / m_c, -k
    g_cy, g_cx = -m_t / power(m_c, 2), k

    def quad(stats, gy, gx):
        return gy * gy * stats.outcome.variance + 2.0 * gy * gx * stats.covariance + gx * gx * stats.covariate.variance

    var = quad(treatment, g_ty, g_tx) / n_t + quad(control, g_cy, g_cx) / n_c
    se = np.sqrt(np.maximum(var, 0.0))
    require_positive_se(se, "zero variance")
    return normal_estimate(m_t / m_c - 1.0, se, alpha, "cuped_delta_relative")


@dataclass(frozen=True)
class CupedComparison:
    """CUPED-adjusted estimates reported beside the unadjusted ones."""

    theta: float | np.ndarray
    variance_reduction: float | np.ndarray
    mean_control: float | np.ndarray
    mean_variant: float | np.ndarray
    mean_control_adjusted: float | np.ndarray
    mean_variant_adjusted: float | np.ndarray
    unadjusted_absolute: LiftEstimate
    unadjusted_relative: LiftEstimate
    adjusted_absolute: LiftEstimate
    adjusted_relative: LiftEstimate


def cuped_compare(control: CovariateStats, treatment: CovariateStats, alpha: float = 0.05) -> CupedComparison:
    """Unadjusted (Welch / delta) and CUPED estimates side by side, with the pooled theta."""
    theta = pooled_theta(control, treatment)
    m_c, m_t = cuped_adjusted_means(control, treatment, theta)
    return CupedComparison(
        theta=theta,
        variance_reduction=cuped_variance_reduction(control, treatment, theta),
        mean_control=control.outcome.mean,
        mean_variant=treatment.outcome.mean,
        mean_control_adjusted=m_c,
        mean_variant_adjusted=m_t,
        unadjusted_absolute=welch_absolute_lift(control.outcome, treatment.outcome, alpha),
        unadjusted_relative=delta_relative_lift(control.outcome, treatment.outcome, alpha),
        adjusted_absolute=cuped_absolute_lift(control, treatment, alpha, theta),
        adjusted_relative=cuped_relative_lift(control, treatment, alpha, theta),
    )
