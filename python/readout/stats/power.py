"""Power and sample size for a lift whose standard error is known at the current sample size.

A two-sided z test at level ``alpha`` has power ``1 - beta`` against an effect ``delta`` when

    |delta| = (z_{1 - alpha/2} + z_{1 - beta}) * se

(ignoring the far tail's rejections, which add under ``alpha / 2``). Hence:

* ``minimum_detectable_effect(se, alpha, power)``: the effect the experiment detects with the given
  power at its current sample size (on the scale of ``se``: relative when ``se`` is the relative
  lift's standard error).
* ``required_sample_size(se, n, effect, alpha, power)``: standard errors shrink as ``1 / sqrt(n)`` for a
  fixed split, so the ``n`` (same units as the given ``n``) at which ``effect`` is the minimum detectable
  effect is ``n * (mde / effect) ** 2``.
* ``days_to_sample_size(n_needed, n, days_elapsed)``: at the rate observed so far (``n / days_elapsed``
  units a day), the days still needed; 0 when ``n`` already suffices.

Scalars or arrays; NaN in gives NaN out. statsmodels' ``NormalIndPower`` gives the same figures (checked
in the tests); this closed form works on any standard error (Welch, delta method, CUPED, ratio), which
the standardized-effect API does not.
"""

from __future__ import annotations

import numpy as np
import scipy.stats as sps

from .estimate import as_output, validate_alpha

__all__ = ["DEFAULT_POWER", "days_to_sample_size", "minimum_detectable_effect", "required_sample_size"]

DEFAULT_POWER = 0.8


def _validate_power(power: float) -> float:
    if not 0.0 < float(power) < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, got {power!r}")
    return float(power)


def _z_sum(alpha: float, power: float) -> float:
    return float(sps.norm.ppf(1.0 - validate_alpha(alpha) / 2.0) + sps.norm.ppf(_validate_power(power)))


def minimum_detectable_effect(se, alpha: float = 0.05, power: float = DEFAULT_POWER):
    """The smallest effect detected with ``power`` by a two-sided level-``alpha`` test with this ``se``."""
    se = np.asarray(se, dtype=float)
    return as_output(np.where(se > 0, _z_sum(alpha, power) * se, np.nan))


def required_sample_size(se, n, effect, alpha: float = 0.05, power: float = DEFAULT_POWER):
    """The sample size at which ``effect`` becomes the minimum detectable effect (``se`` measured at ``n``)."""
    mde = np.asarray(minimum_detectable_effect(se, alpha, power), dtype=float)
    n = np.asarray(n, dtype=float)
    effect = np.abs(np.asarray(effect, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = n * (mde / effect) ** 2
    return as_output(np.where((effect > 0) & (n > 0), needed, np.nan))


def days_to_sample_size(n_needed, n, days_elapsed):
    """Days still needed to reach ``n_needed`` at the rate observed so far (0 when already reached)."""
    n_needed = np.asarray(n_needed, dtype=float)
    n = np.asarray(n, dtype=float)
    days_elapsed = np.asarray(days_elapsed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = n / days_elapsed
        days = np.maximum(n_needed - n, 0.0) / rate
    return as_output(np.where((days_elapsed > 0) & (n > 0), days, np.nan))
