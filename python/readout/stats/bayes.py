"""A Bayesian view of a relative lift: chance to beat control, expected loss and a credible interval.

The same Gaussian approximation GrowthBook's engine uses. The data enter as the relative lift
``treatment / control - 1`` and its delta-method standard error (the frequentist estimate the readout
already carries), read as a normal likelihood ``lift ~ N(effect, se**2)``. The prior on the effect is
normal, ``N(prior_mean, prior_sd**2)``; conjugacy then gives a normal posterior:

    precision = 1 / se**2 + 1 / prior_sd**2
    post_mean = (lift / se**2 + prior_mean / prior_sd**2) / precision
    post_sd   = sqrt(1 / precision)

Default prior: ``N(0, 0.3**2)`` on the relative lift. It is weakly informative: it says effects
beyond +-60% (two prior standard deviations) are rare, which barely moves a readout with thousands
of units (its weight is ``se**2 / prior_sd**2``, under 1% once ``se`` < 3 points) but keeps a tiny
sample from claiming a 300% lift with certainty. ``prior_sd=None`` gives the flat (improper) prior,
under which the posterior is the likelihood and the credible interval equals the frequentist one.

* ``chance_to_beat_control``: the posterior probability that the effect is on the good side of zero
  (``direction`` 'increase' or 'decrease' says which side is good).
* ``expected_loss``: ``E[max(0, -effect)]`` in the good direction: the relative lift one expects to
  give up by shipping the variant, if it is in fact worse (GrowthBook's "risk"). Closed form:
  ``sd * phi(m / sd) - m * Phi(-m / sd)`` with ``m`` the posterior mean in the good direction.
* ``credible_interval``: the central ``1 - alpha`` posterior interval.

Everything accepts scalars or arrays; NaN in gives NaN out (a row that could not be estimated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats as sps

from .estimate import as_output, validate_alpha

__all__ = [
    "DEFAULT_PRIOR_MEAN",
    "DEFAULT_PRIOR_SD",
    "BayesianLift",
    "bayesian_relative_lift",
    "chance_to_beat_control",
    "expected_loss",
    "normal_posterior",
]

DEFAULT_PRIOR_MEAN = 0.0
DEFAULT_PRIOR_SD = 0.3


@dataclass(frozen=True)
class BayesianLift:
    posterior_mean: float | np.ndarray
    posterior_sd: float | np.ndarray
    credible_lower: float | np.ndarray
    credible_upper: float | np.ndarray
    chance_to_beat_control: float | np.ndarray
    expected_loss: float | np.ndarray


def _direction_sign(direction) -> np.ndarray:
    d = np.asarray(direction, dtype=object)
    bad = ~np.isin(d, ["increase", "decrease"])
    if np.any(bad):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {sorted(set(d[bad].ravel().tolist()))!r}")
    return np.where(d == "decrease", -1.0, 1.0)


def normal_posterior(lift, se, prior_mean: float = DEFAULT_PRIOR_MEAN, prior_sd: float | None = DEFAULT_PRIOR_SD):
    """Posterior mean and standard deviation of the effect under a normal prior and likelihood."""
    lift = np.asarray(lift, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(se > 0, se, np.nan)
        data_precision = 1.0 / se**2
        if prior_sd is None:
            return as_output(lift + 0.0 * se), as_output(se)
        if not prior_sd > 0:
            raise ValueError(f"prior_sd must be positive or None (flat prior), got {prior_sd!r}")
        prior_precision = 1.0 / prior_sd**2
        precision = data_precision + prior_precision
        mean = (lift * data_precision + prior_mean * prior_precision) / precision
        return as_output(mean), as_output(np.sqrt(1.0 / precision))


def chance_to_beat_control(posterior_mean, posterior_sd, direction="increase"):
    """P(effect on the good side of zero) under a normal posterior."""
    m = _direction_sign(direction) * np.asarray(posterior_mean, dtype=float)
    return as_output(sps.norm.cdf(m / np.asarray(posterior_sd, dtype=float)))


def expected_loss(posterior_mean, posterior_sd, direction="increase"):
    """E[max(0, -effect)] in the good direction: what shipping gives up if the variant is worse."""
    m = _direction_sign(direction) * np.asarray(posterior_mean, dtype=float)
    s = np.asarray(posterior_sd, dtype=float)
    z = m / s
    return as_output(s * sps.norm.pdf(z) - m * sps.norm.cdf(-z))


def bayesian_relative_lift(
    lift,
    se,
    direction="increase",
    alpha: float = 0.05,
    prior_mean: float = DEFAULT_PRIOR_MEAN,
    prior_sd: float | None = DEFAULT_PRIOR_SD,
) -> BayesianLift:
    """The whole Bayesian view of one or many relative lifts (see the module docstring)."""
    alpha = validate_alpha(alpha)
    mean, sd = normal_posterior(lift, se, prior_mean, prior_sd)
    z = sps.norm.ppf(1.0 - alpha / 2.0)
    mean_a, sd_a = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    return BayesianLift(
        posterior_mean=mean,
        posterior_sd=sd,
        credible_lower=as_output(mean_a - z * sd_a),
        credible_upper=as_output(mean_a + z * sd_a),
        chance_to_beat_control=chance_to_beat_control(mean_a, sd_a, direction),
        expected_loss=expected_loss(mean_a, sd_a, direction),
    )
