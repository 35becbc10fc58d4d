"""Ratio metrics ``sum(numerator) / sum(denominator)`` per arm, by the delta method.

The unit (user / device) is the randomisation unit, so numerator and denominator of one unit are
correlated. With per-unit means ``xbar`` (numerator), ``ybar`` (denominator), sample variances
``s_x^2``, ``s_y^2`` and covariance ``s_xy`` (all ``ddof=1``) and ``R = xbar / ybar``:

    Var(R) ~= (s_x^2 - 2 R s_xy + R^2 s_y^2) / (n ybar^2)

(the sample variance of the linearised values ``(x_i - R y_i) / ybar`` divided by ``n``).
Absolute lift ``R_t - R_c`` has variance ``Var(R_t) + Var(R_c)``; relative lift ``R_t/R_c - 1``
has ``Var(R_t)/R_c^2 + R_t^2 Var(R_c)/R_c^4``. Intervals and p-values are normal.
"""

from __future__ import annotations

import numpy as np

from .estimate import LiftEstimate, normal_estimate, power, require_positive_se, validate_alpha
from .sufficient import RatioStats, require_n_at_least_2

__all__ = ["ratio_variance", "ratio_absolute_lift", "ratio_relative_lift"]


def _check_arm(stats: RatioStats, arm: str) -> None:
    require_n_at_least_2(stats.n, arm)
    if np.any(np.asarray(stats.den_sum, dtype=float) == 0.0):
        raise ValueError(f"zero denominator in {arm}")


def ratio_variance(stats: RatioStats):
    """Delta-method variance of the arm's ratio estimator ``sum(num) / sum(den)``."""
    _check_arm(stats, "arm")
    n = np.asarray(stats.n, dtype=float)
    r = stats.ratio
    ybar = stats.denominator.mean
    lin = stats.numerator.variance - 2.0 * r * stats.covariance + r * r * stats.denominator.variance
    lin = np.maximum(lin, 0.0)  # guard against rounding below zero
    return lin / (n * ybar * ybar)


def _arm_variances(control: RatioStats, treatment: RatioStats):
    _check_arm(control, "control")
    _check_arm(treatment, "variant")
    return ratio_variance(control), ratio_variance(treatment)


def ratio_absolute_lift(control: RatioStats, treatment: RatioStats, alpha: float = 0.05) -> LiftEstimate:
    """``R_t - R_c`` with a delta-method normal interval and p-value."""
    alpha = validate_alpha(alpha)
    v_c, v_t = _arm_variances(control, treatment)
    se = np.sqrt(v_c + v_t)
    require_positive_se(se, "zero variance")
    return normal_estimate(treatment.ratio - control.ratio, se, alpha, "delta_ratio")


def ratio_relative_lift(control: RatioStats, treatment: RatioStats, alpha: float = 0.05) -> LiftEstimate:
    """``R_t / R_c - 1`` with a delta-method normal interval and p-value."""
    alpha = validate_alpha(alpha)
    v_c, v_t = _arm_variances(control, treatment)
    r_c, r_t = control.ratio, treatment.ratio
    if np.any(r_c == 0.0):
        raise ValueError("zero baseline mean")
    se = np.sqrt(v_t / power(r_c, 2) + power(r_t, 2) * v_c / power(r_c, 4))
    require_positive_se(se, "zero variance")
    return normal_estimate(r_t / r_c - 1.0, se, alpha, "delta_ratio")
