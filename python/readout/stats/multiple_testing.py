"""Multiple-testing adjustments (Holm, Benjamini–Hochberg) and guardrail non-inferiority.

The adjustments are vectorised and NaN-safe: NaN p-values pass through as NaN. ``holm`` and
``benjamini_hochberg`` leave them out of the number of hypotheses ``m`` and match
``statsmodels.stats.multitest.multipletests(p, method="holm" | "fdr_bh")`` on the non-NaN part.
``adjust_p_values(..., missing="as_one")`` keeps them in the family instead, conservatively as p = 1,
so a hypothesis that could not be tested never shrinks the family (``family_size`` says how large it is).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "holm",
    "benjamini_hochberg",
    "adjust_p_values",
    "family_size",
    "guardrail_status",
    "CORRECTIONS",
    "MISSING_POLICIES",
    "GUARDRAIL_STATUSES",
]

CORRECTIONS = ("holm", "bh", "none")
#: What a NaN p-value does to the family: ``exclude`` (not counted in m) or ``as_one`` (counted, as p = 1).
MISSING_POLICIES = ("exclude", "as_one")
GUARDRAIL_STATUSES = ("pass", "fail", "inconclusive")


def _prepare(p_values) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=float)
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    return p, finite


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate)."""
    p, finite = _prepare(p_values)
    out = np.full(p.shape, np.nan)
    q = p[finite]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        scaled = (m - np.arange(m)) * q[order]
        adj = np.minimum(np.maximum.accumulate(scaled), 1.0)
        res = np.empty(m)
        res[order] = adj
        out[finite] = res
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate)."""
    p, finite = _prepare(p_values)
    out = np.full(p.shape, np.nan)
    q = p[finite]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        scaled = q[order] * m / np.arange(1, m + 1)
        adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        res = np.empty(m)
        res[order] = adj
        out[finite] = res
    return out


def adjust_p_values(p_values, method: str = "holm", missing: str = "exclude") -> np.ndarray:
    """Dispatch on ``method``: ``"holm"``, ``"bh"`` or ``"none"`` (copy of the input).

    ``missing`` decides what a NaN p-value (a hypothesis that could not be tested) does to the others:
    ``"exclude"`` leaves it out of the family; ``"as_one"`` keeps it in, as p = 1, so the family has
    the size it was planned with and every other adjusted p-value is at least as large. Either way the
    NaN's own adjusted p-value stays NaN.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    p, finite = _prepare(p_values)
    if missing == "as_one":
        p = np.where(finite, p, 1.0)
    if method == "holm":
        out = holm(p)
    elif method == "bh":
        out = benjamini_hochberg(p)
    else:
        out = p.copy()
    out[~finite] = np.nan
    return out


def family_size(p_values, missing: str = "exclude") -> int:
    """The number of hypotheses ``m`` the adjustment of ``p_values`` divides among (see ``adjust_p_values``)."""
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    p, finite = _prepare(p_values)
    return int(p.size if missing == "as_one" else finite.sum())


def guardrail_status(relative_ci_lower: float, relative_ci_upper: float, direction: str, margin: float) -> str:
    """Non-inferiority judgement of a guardrail metric from its relative-lift interval.

    ``margin`` is the tolerated relative deterioration (0.02 = 2 %). With ``direction``
    ``"increase"`` (higher is better) the bad side is the lower bound:

    * ``"pass"``  – non-inferior: lower bound > ``-margin`` (the whole interval is better than a
      ``margin`` deterioration);
    * ``"fail"``  – inferior: upper bound < ``-margin`` (the deterioration is beyond the margin);
    * ``"inconclusive"`` – the interval straddles ``-margin``, or it is missing (NaN).

    ``"decrease"`` mirrors this around ``+margin``. A two-sided ``1 - alpha`` interval gives a
    one-sided test at level ``alpha / 2``.
    """
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    margin = float(margin)
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"non-inferiority margin must be finite and >= 0, got {margin}")
    lo, hi = float(relative_ci_lower), float(relative_ci_upper)
    if np.isnan(lo) or np.isnan(hi):
        return "inconclusive"
    if lo > hi:
        raise ValueError(f"interval lower bound {lo} exceeds upper bound {hi}")
    if direction == "increase":
        if lo > -margin:
            return "pass"
        if hi < -margin:
            return "fail"
    else:
        if hi < margin:
            return "pass"
        if lo > margin:
            return "fail"
    return "inconclusive"
