"""Sample ratio mismatch (SRM): chi-square goodness of fit of observed units to the configured
allocation weights.

``chi2 = sum_i (o_i - e_i)^2 / e_i`` with ``e_i = N w_i`` and ``k - 1`` degrees of freedom. A
mismatch is flagged when ``p < threshold`` (default 0.001, the usual SRM alarm level: the check
runs on every experiment every day, so it must be strict). When any expected count is below
``min_expected`` the chi-square approximation is not trusted and the result says so
(``p_value`` None, ``is_mismatch`` False, ``reason`` set) instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["SrmResult", "sample_ratio_mismatch", "validate_weights"]

WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SrmResult:
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None
    is_mismatch: bool
    threshold: float
    reason: str | None = None

    @property
    def is_applicable(self) -> bool:
        return self.p_value is not None


def validate_weights(weights, k: int | None = None) -> np.ndarray:
    """Allocation weights: finite, positive, summing to 1 within 1e-6, and ``k`` of them."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty 1-d sequence")
    if k is not None and w.size != k:
        raise ValueError(f"weights has {w.size} entries but there are {k} variants")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    if np.any(w <= 0):
        raise ValueError("weights must be positive")
    if abs(w.sum() - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"weights must sum to 1 (within {WEIGHT_TOLERANCE}), got {w.sum():.9g}")
    return w


def sample_ratio_mismatch(observed, weights, threshold: float = 0.001, min_expected: float = 5.0) -> SrmResult:
    """Chi-square SRM test of ``observed`` unit counts (one per variant) against ``weights``."""
    obs = np.asarray(observed, dtype=float)
    if obs.ndim != 1:
        raise ValueError("observed must be a 1-d sequence of counts")
    if obs.size < 2:
        raise ValueError("need at least 2 variants for a sample ratio check")
    if not np.all(np.isfinite(obs)) or np.any(obs < 0):
        raise ValueError("observed counts must be finite and non-negative")
    w = validate_weights(weights, obs.size)
    if not (0.0 < threshold < 1.0):
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if not (min_expected >= 0):
        raise ValueError(f"min_expected must be non-negative, got {min_expected}")
    total = obs.sum()
    expected = total * w
    dof = obs.size - 1
    low = np.flatnonzero(expected < min_expected)
    if total == 0 or low.size:
        reason = (
            "no units observed"
            if total == 0
            else f"expected count below minimum ({min_expected:g}) for {low.size} variant(s)"
        )
        return SrmResult(tuple(obs), tuple(expected), None, dof, None, False, threshold, reason)
    chi = float(np.sum((obs - expected) ** 2 / expected))
    p = float(sps.chi2.sf(chi, dof))
    return SrmResult(tuple(obs), tuple(expected), chi, dof, p, p < threshold, threshold, None)
