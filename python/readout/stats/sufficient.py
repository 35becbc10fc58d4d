"""Sufficient statistics: the only input the estimators see (never raw rows).

Every field may be a scalar or a numpy array (one element per experiment); all fields of one
object must broadcast together. Construction checks that the figures are finite and internally
consistent (``sum**2 <= n * sum_squares``); whether there is *enough* data to estimate anything
(``n >= 2``, non-zero variance...) is checked by the estimators, which know which arm they are
looking at and say so in their ``ValueError``.

Variances are sample variances (``ddof=1``). Centred sums of squares are computed as
``sum_squares - sum**2 / n`` and treated as exactly zero when they fall below ``1e-12`` of the
raw sum of squares (floating-point cancellation on constant data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SampleStats", "RatioStats", "CovariateStats", "require_n_at_least_2"]

#: Centred sums of squares below this fraction of the raw sum of squares count as zero.
_CANCELLATION_TOLERANCE = 1e-12


def _array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _check_n(n: np.ndarray) -> None:
    if np.any(n < 0):
        raise ValueError(f"n must be non-negative, got {n}")


def _centred_ss(n: np.ndarray, total: np.ndarray, total_squares: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        css = total_squares - total * total / n
    css = np.where(css <= _CANCELLATION_TOLERANCE * np.abs(total_squares), 0.0, css)
    return np.where(n > 0, css, np.nan)


def _centred_cross(n: np.ndarray, a_sum: np.ndarray, b_sum: np.ndarray, cross: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, cross - a_sum * b_sum / n, np.nan)


def _check_cauchy_schwarz(name: str, n: np.ndarray, total: np.ndarray, total_squares: np.ndarray) -> None:
    if np.any(total_squares < 0):
        raise ValueError(f"{name} sum of squares must be non-negative")
    # (sum x)^2 <= n * sum x^2 for any real data
    slack = 1e-9 * np.maximum(n * total_squares, 1.0)
    if np.any(total * total > n * total_squares + slack):
        raise ValueError(f"inconsistent sufficient statistics for {name}: sum**2 > n * sum_squares")


def require_n_at_least_2(n, arm: str) -> None:
    """``ValueError("n < 2 in <arm>")`` when any element of ``n`` is below 2."""
    if np.any(np.asarray(n, dtype=float) < 2):
        raise ValueError(f"n < 2 in {arm}")


def _variance(css: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= 2, css / (n - 1.0), np.nan)


@dataclass(frozen=True)
class SampleStats:
    """One arm of a mean / proportion / count metric: ``n`` units, ``sum`` of the metric and
    ``sum_squares`` (sum of the squared per-unit values; equals ``sum`` for a 0/1 proportion)."""

    n: float | np.ndarray
    sum: float | np.ndarray
    sum_squares: float | np.ndarray

    def __post_init__(self) -> None:
        n = _array("n", self.n)
        s = _array("sum", self.sum)
        ss = _array("sum_squares", self.sum_squares)
        _check_n(n)
        _check_cauchy_schwarz("metric", n, s, ss)

    @classmethod
    def from_proportion(cls, n, successes) -> SampleStats:
        """A 0/1 metric: the sum of squares equals the sum."""
        return cls(n=n, sum=successes, sum_squares=successes)

    @property
    def mean(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.sum, dtype=float) / np.asarray(self.n, dtype=float)

    @property
    def variance(self):
        """Sample variance (``ddof=1``); NaN when ``n < 2``."""
        n = np.asarray(self.n, dtype=float)
        css = _centred_ss(n, np.asarray(self.sum, dtype=float), np.asarray(self.sum_squares, dtype=float))
        return _variance(css, n)


@dataclass(frozen=True)
class RatioStats:
    """One arm of a ratio metric ``sum(numerator) / sum(denominator)`` with the unit (not the
    denominator) as the randomisation and analysis unit."""

    n: float | np.ndarray
    num_sum: float | np.ndarray
    num_sum_squares: float | np.ndarray
    den_sum: float | np.ndarray
    den_sum_squares: float | np.ndarray
    cross_sum: float | np.ndarray

    def __post_init__(self) -> None:
        n = _array("n", self.n)
        _check_n(n)
        for name in ("num_sum", "num_sum_squares", "den_sum", "den_sum_squares", "cross_sum"):
            _array(name, getattr(self, name))
        _check_cauchy_schwarz("numerator", n, np.asarray(self.num_sum, float), np.asarray(self.num_sum_squares, float))
        _check_cauchy_schwarz(
            "denominator", n, np.asarray(self.den_sum, float), np.asarray(self.den_sum_squares, float)
        )

    @property
    def numerator(self) -> SampleStats:
        return SampleStats(self.n, self.num_sum, self.num_sum_squares)

    @property
    def denominator(self) -> SampleStats:
        return SampleStats(self.n, self.den_sum, self.den_sum_squares)

    @property
    def ratio(self):
        """``sum(numerator) / sum(denominator)``; NaN/inf when the denominator sum is zero."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.num_sum, dtype=float) / np.asarray(self.den_sum, dtype=float)

    @property
    def covariance(self):
        """Sample covariance of per-unit numerator and denominator (``ddof=1``)."""
        n = np.asarray(self.n, dtype=float)
        c = _centred_cross(
            n,
            np.asarray(self.num_sum, float),
            np.asarray(self.den_sum, float),
            np.asarray(self.cross_sum, float),
        )
        return _variance(c, n)


@dataclass(frozen=True)
class CovariateStats:
    """One arm of a metric ``y`` with a pre-period covariate ``x`` (for CUPED)."""

    n: float | np.ndarray
    y_sum: float | np.ndarray
    y_sum_squares: float | np.ndarray
    x_sum: float | np.ndarray
    x_sum_squares: float | np.ndarray
    xy_sum: float | np.ndarray

    def __post_init__(self) -> None:
        n = _array("n", self.n)
        _check_n(n)
        for name in ("y_sum", "y_sum_squares", "x_sum", "x_sum_squares", "xy_sum"):
            _array(name, getattr(self, name))
        _check_cauchy_schwarz("metric", n, np.asarray(self.y_sum, float), np.asarray(self.y_sum_squares, float))
        _check_cauchy_schwarz("covariate", n, np.asarray(self.x_sum, float), np.asarray(self.x_sum_squares, float))

    @property
    def outcome(self) -> SampleStats:
        """The metric alone (what the unadjusted estimate uses)."""
        return SampleStats(self.n, self.y_sum, self.y_sum_squares)

    @property
    def covariate(self) -> SampleStats:
        return SampleStats(self.n, self.x_sum, self.x_sum_squares)

    @property
    def centred_xx(self):
        """Within-arm centred sum of squares of the covariate."""
        n = np.asarray(self.n, dtype=float)
        return _centred_ss(n, np.asarray(self.x_sum, float), np.asarray(self.x_sum_squares, float))

    @property
    def centred_xy(self):
        """Within-arm centred cross sum of covariate and metric."""
        n = np.asarray(self.n, dtype=float)
        return _centred_cross(
            n, np.asarray(self.x_sum, float), np.asarray(self.y_sum, float), np.asarray(self.xy_sum, float)
        )

    @property
    def covariance(self):
        """Sample covariance of metric and covariate (``ddof=1``)."""
        return _variance(self.centred_xy, np.asarray(self.n, dtype=float))
