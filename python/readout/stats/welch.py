"""Difference in means with Welch's t interval, and relative lift by the delta method.

Absolute lift ``mean_t - mean_c``: standard error ``sqrt(s_t^2/n_t + s_c^2/n_c)`` and the
Welch–Satterthwaite degrees of freedom

    df = (s_t^2/n_t + s_c^2/n_c)^2 / ((s_t^2/n_t)^2/(n_t-1) + (s_c^2/n_c)^2/(n_c-1)),

which reproduces ``scipy.stats.ttest_ind(treatment, control, equal_var=False)``.

Relative lift ``mean_t / mean_c - 1``: first-order delta method with independent arms,

    Var ~= s_t^2/(n_t mean_c^2) + mean_t^2 s_c^2/(n_c mean_c^4),

normal interval and normal two-sided p-value.

Proportions use the same machinery on 0/1 values (``sum_squares == sum``).
"""

from __future__ import annotations

import numpy as np

from .estimate import LiftEstimate, normal_estimate, power, require_positive_se, t_estimate, validate_alpha
from .sufficient import SampleStats, require_n_at_least_2

__all__ = ["welch_absolute_lift", "delta_relative_lift", "welch_satterthwaite_df"]


def welch_satterthwaite_df(var_c, n_c, var_t, n_t):
    """Welch–Satterthwaite degrees of freedom for two independent sample means."""
    a = np.asarray(var_t, dtype=float) / np.asarray(n_t, dtype=float)
    b = np.asarray(var_c, dtype=float) / np.asarray(n_c, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return power(a + b, 2) / (a * a / (np.asarray(n_t, float) - 1.0) + b * b / (np.asarray(n_c, float) - 1.0))


def _check_pair(control: SampleStats, treatment: SampleStats) -> None:
    require_n_at_least_2(control.n, "control")
    require_n_at_least_2(treatment.n, "variant")


def welch_absolute_lift(control: SampleStats, treatment: SampleStats, alpha: float = 0.05) -> LiftEstimate:
    """``mean_t - mean_c`` with a Welch t interval and two-sided p-value.

    Raises ``ValueError`` for ``n < 2`` in either arm and for zero variance in both arms.
    """
    alpha = validate_alpha(alpha)
    _check_pair(control, treatment)
    var_c, var_t = control.variance, treatment.variance
    n_c, n_t = np.asarray(control.n, float), np.asarray(treatment.n, float)
    se = np.sqrt(var_t / n_t + var_c / n_c)
    require_positive_se(se, "zero variance")
    df = welch_satterthwaite_df(var_c, n_c, var_t, n_t)
    return t_estimate(treatment.mean - control.mean, se, df, alpha, "welch")


def delta_relative_lift(control: SampleStats, treatment: SampleStats, alpha: float = 0.05) -> LiftEstimate:
    """``mean_t / mean_c - 1`` with a delta-method normal interval and p-value.

    Raises ``ValueError`` for ``n < 2``, zero variance in both arms and a zero control mean.
    """
    alpha = validate_alpha(alpha)
    _check_pair(control, treatment)
    m_c, m_t = control.mean, treatment.mean
    if np.any(m_c == 0.0):
        raise ValueError("zero baseline mean")
    var_c, var_t = control.variance, treatment.variance
    n_c, n_t = np.asarray(control.n, float), np.asarray(treatment.n, float)
    se = np.sqrt(var_t / (n_t * power(m_c, 2)) + power(m_t, 2) * var_c / (n_c * power(m_c, 4)))
    require_positive_se(se, "zero variance")
    return normal_estimate(m_t / m_c - 1.0, se, alpha, "delta_relative")
