"""The result type every lift estimator returns, and the interval helpers they share.

All estimators in :mod:`readout.stats` work on scalars *or* numpy arrays of the same shape
(one element per experiment), so the simulation tests can push thousands of experiments through
the production code in one call. A scalar input gives ``float`` fields; an array input gives
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["LiftEstimate", "validate_alpha"]


@dataclass(frozen=True)
class LiftEstimate:
    """A lift, its standard error, a two-sided ``1 - alpha`` interval and a two-sided p-value.

    ``df`` is the degrees of freedom of the reference t distribution; ``inf`` means the normal
    distribution was used. ``method`` names the machinery (``welch``, ``delta_relative``,
    ``delta_ratio``, ``cuped_welch``...).
    """

    estimate: float | np.ndarray
    std_error: float | np.ndarray
    ci_lower: float | np.ndarray
    ci_upper: float | np.ndarray
    p_value: float | np.ndarray
    df: float | np.ndarray
    alpha: float
    method: str


def validate_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def as_output(x: np.ndarray) -> float | np.ndarray:
    """A 0-d array becomes a Python float; anything else stays an array."""
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def power(x, k: int):
    """``x ** k``, element by element with the same C ``pow`` numpy uses for a scalar.

    numpy's vectorised power can differ from its scalar power in the last bit, so an estimator
    written with ``**`` would give an array of pairs (the batched path of
    :func:`readout.stats.compute_metric_results`) figures that differ in the last bits from the
    same pairs estimated one at a time. Scalars and 0-d arrays are left to ``**`` unchanged."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        return x**k
    arr = arr.astype(float, copy=False)
    return np.fromiter((v**k for v in arr.ravel()), dtype=float, count=arr.size).reshape(arr.shape)


def t_estimate(estimate: np.ndarray, std_error: np.ndarray, df: np.ndarray, alpha: float, method: str) -> LiftEstimate:
    """Interval and p-value from a t reference distribution (``df = inf`` gives the normal)."""
    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), np.broadcast_shapes(estimate.shape, std_error.shape))
    crit = np.where(np.isinf(df), sps.norm.ppf(1.0 - alpha / 2.0), sps.t.ppf(1.0 - alpha / 2.0, df))
    stat = estimate / std_error
    p = np.where(np.isinf(df), 2.0 * sps.norm.sf(np.abs(stat)), 2.0 * sps.t.sf(np.abs(stat), df))
    p = np.clip(p, 0.0, 1.0)
    return LiftEstimate(
        estimate=as_output(estimate),
        std_error=as_output(std_error),
        ci_lower=as_output(estimate - crit * std_error),
        ci_upper=as_output(estimate + crit * std_error),
        p_value=as_output(p),
        df=as_output(df),
        alpha=alpha,
        method=method,
    )


def normal_estimate(estimate: np.ndarray, std_error: np.ndarray, alpha: float, method: str) -> LiftEstimate:
    return t_estimate(estimate, std_error, np.inf, alpha, method)


def se_from_normal_interval(lower, upper, alpha):
    """The standard error behind a two-sided normal ``1 - alpha`` interval: ``(upper - lower) / (2 z_{1-alpha/2})``
    (exact for the marts' relative-lift intervals, which are delta-method normal)."""
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    return as_output((upper - lower) / (2.0 * sps.norm.ppf(1.0 - np.asarray(alpha, dtype=float) / 2.0)))


def require_positive_se(std_error: np.ndarray, what: str = "zero variance") -> None:
    """Raise ``ValueError(what)`` if any standard error is zero (nothing to test against)."""
    se = np.asarray(std_error, dtype=float)
    if np.any(~(se > 0.0)):
        raise ValueError(what)
