"""Always-valid confidence sequences for a difference in means (continuous monitoring).

Method: the asymptotic confidence sequence (AsympCS) of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas (2023), "Time-uniform central limit theory and asymptotic confidence sequences", Annals of
Statistics (Theorem 2.2 there). For an estimator that is asymptotically a mean of ``t``
i.i.d. influence values with standard deviation ``sigma``, the interval

    estimate ± sigma_hat * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )

covers the target at *every* ``t`` simultaneously with probability ``>= 1 - alpha``
asymptotically, so it may be looked at after every batch of data ("peeking") without inflating
the error rate.

For a two-arm difference in means (or a ratio / CUPED lift) we take ``t = n_c + n_t`` (all units
so far) and ``sigma_hat = std_error * sqrt(t)``, where ``std_error`` is the fixed-horizon
standard error of the lift (Welch / delta / CUPED). With allocation ``pi`` to treatment,
``sigma_hat^2 = s_t^2/pi + s_c^2/(1-pi)`` is the variance of the difference-in-means influence
function, as in the paper's randomised-experiment section.

Tuning: ``rho`` fixes the sample size at which the sequence is tightest. It must be chosen
*before* looking at the data (a data-dependent ``rho`` voids the guarantee). For a planned total
sample size ``t*`` the paper's closed-form choice is

    rho = sqrt( (-2 log alpha + log(-2 log alpha + 1)) / t* ),

which minimises the radius at ``t*`` up to a Lambert-W approximation (within 0.01 % of the
exact minimum for ``alpha`` in [0.01, 0.1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .estimate import as_output, validate_alpha
from .sufficient import SampleStats, require_n_at_least_2
from .welch import welch_absolute_lift

__all__ = [
    "SequentialInterval",
    "optimal_rho",
    "asymptotic_cs_radius",
    "asymptotic_confidence_sequence",
    "sequential_difference_in_means",
]


@dataclass(frozen=True)
class SequentialInterval:
    """An always-valid interval at the current sample size ``n`` (total units)."""

    estimate: float | np.ndarray
    lower: float | np.ndarray
    upper: float | np.ndarray
    radius: float | np.ndarray
    n: float | np.ndarray
    rho: float
    alpha: float
    method: str = "asymptotic_cs"


def optimal_rho(target_n: float, alpha: float = 0.05) -> float:
    """The tuning ``rho`` that makes the sequence tightest at total sample size ``target_n``."""
    alpha = validate_alpha(alpha)
    target_n = float(target_n)
    if not (np.isfinite(target_n) and target_n > 0):
        raise ValueError(f"target_n must be positive and finite, got {target_n}")
    a = -2.0 * np.log(alpha)
    return float(np.sqrt((a + np.log(a + 1.0)) / target_n))


def asymptotic_cs_radius(sigma, n, alpha: float = 0.05, rho: float = 1.0):
    """Radius of the AsympCS for a mean of ``n`` values with standard deviation ``sigma``."""
    alpha = validate_alpha(alpha)
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be positive and finite, got {rho}")
    n = np.asarray(n, dtype=float)
    if np.any(~(n > 0)):
        raise ValueError("n must be positive")
    sigma = np.asarray(sigma, dtype=float)
    tr2 = n * rho * rho
    return sigma * np.sqrt(2.0 * (tr2 + 1.0) / (n * tr2) * np.log(np.sqrt(tr2 + 1.0) / alpha))


def asymptotic_confidence_sequence(
    estimate, std_error, n, alpha: float = 0.05, target_n: float | None = None, rho: float | None = None
) -> SequentialInterval:
    """Always-valid interval around ``estimate`` whose fixed-horizon standard error at total
    sample size ``n`` is ``std_error``. Give exactly one of ``target_n`` (planned total units)
    or ``rho``."""
    alpha = validate_alpha(alpha)
    if (target_n is None) == (rho is None):
        raise ValueError("give exactly one of target_n or rho")
    rho = optimal_rho(target_n, alpha) if rho is None else float(rho)
    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    if np.any(~(std_error > 0)):
        raise ValueError("zero variance")
    n = np.asarray(n, dtype=float)
    radius = asymptotic_cs_radius(std_error * np.sqrt(n), n, alpha, rho)
    return SequentialInterval(
        estimate=as_output(estimate),
        lower=as_output(estimate - radius),
        upper=as_output(estimate + radius),
        radius=as_output(radius),
        n=as_output(n),
        rho=rho,
        alpha=alpha,
    )


def sequential_difference_in_means(
    control: SampleStats,
    treatment: SampleStats,
    alpha: float = 0.05,
    target_n: float | None = None,
    rho: float | None = None,
) -> SequentialInterval:
    """AsympCS for ``mean_t - mean_c`` from the arms' sufficient statistics so far."""
    require_n_at_least_2(control.n, "control")
    require_n_at_least_2(treatment.n, "variant")
    fixed = welch_absolute_lift(control, treatment, alpha)
    n = np.asarray(control.n, float) + np.asarray(treatment.n, float)
    return asymptotic_confidence_sequence(fixed.estimate, fixed.std_error, n, alpha, target_n=target_n, rho=rho)
