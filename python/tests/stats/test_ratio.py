"""Ratio metrics by the delta method.

* exact agreement (rtol 1e-9) with an independent computation on raw per-unit arrays: the
  variance of the ratio estimator as the sample variance of its linearisation (influence
  function) ``(num_i - R den_i) / mean(den)``, divided by ``n``;
* vectorised simulations with a known true ratio: coverage of absolute and relative lift and the
  A/A false-positive rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from readout.stats import RatioStats, ratio_absolute_lift, ratio_relative_lift, ratio_variance

from ._simulation import Simulator, coverage

RTOL = 1e-9
SIMS = 10_000
N = 1_000


def _reduce(num: np.ndarray, den: np.ndarray) -> RatioStats:
    return RatioStats(num.size, num.sum(), num @ num, den.sum(), den @ den, num @ den)


def _raw_arm(rng, n, revenue_per_session, sessions_mean=3.0):
    den = rng.poisson(sessions_mean, n).astype(float)  # sessions (zeros allowed)
    num = rng.gamma(den, revenue_per_session)  # revenue: sum of `den` exponential amounts
    return num, den


def _influence_variance(num: np.ndarray, den: np.ndarray) -> float:
    r = num.sum() / den.sum()
    z = (num - r * den) / den.mean()
    return np.var(z, ddof=1) / num.size


def test_ratio_variance_matches_linearisation_on_raw_data():
    rng = np.random.default_rng(21)
    num, den = _raw_arm(rng, 3_000, 4.0)
    np.testing.assert_allclose(ratio_variance(_reduce(num, den)), _influence_variance(num, den), rtol=RTOL)


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_ratio_lifts_match_raw_array_computation(alpha):
    rng = np.random.default_rng(22)
    num_c, den_c = _raw_arm(rng, 2_500, 4.0)
    num_t, den_t = _raw_arm(rng, 2_300, 4.3, sessions_mean=3.2)
    control, treatment = _reduce(num_c, den_c), _reduce(num_t, den_t)
    r_c, r_t = num_c.sum() / den_c.sum(), num_t.sum() / den_t.sum()
    v_c, v_t = _influence_variance(num_c, den_c), _influence_variance(num_t, den_t)
    z = sps.norm.isf(alpha / 2)

    absolute = ratio_absolute_lift(control, treatment, alpha)
    se = np.sqrt(v_c + v_t)
    np.testing.assert_allclose(
        [absolute.estimate, absolute.ci_lower, absolute.ci_upper, absolute.p_value],
        [r_t - r_c, r_t - r_c - z * se, r_t - r_c + z * se, 2 * sps.norm.sf(abs(r_t - r_c) / se)],
        rtol=RTOL,
    )

    # relative lift: linearise R_t / R_c through the two arms' influence values
    relative = ratio_relative_lift(control, treatment, alpha)
    se_rel = np.sqrt(v_t / r_c**2 + v_c * r_t**2 / r_c**4)
    lift = r_t / r_c - 1
    np.testing.assert_allclose(
        [relative.estimate, relative.ci_lower, relative.ci_upper, relative.p_value],
        [lift, lift - z * se_rel, lift + z * se_rel, 2 * sps.norm.sf(abs(lift) / se_rel)],
        rtol=RTOL,
    )


def test_ratio_of_unit_denominators_reduces_to_welch_normal_interval():
    """With every denominator equal to 1 the ratio is a plain mean; the delta variance is s^2/n."""
    rng = np.random.default_rng(23)
    x = rng.normal(5, 2, 1_000)
    stats = _reduce(x, np.ones_like(x))
    np.testing.assert_allclose(ratio_variance(stats), x.var(ddof=1) / x.size, rtol=RTOL)


# --- validation -------------------------------------------------------------------------------


def test_ratio_validation_errors():
    ok = RatioStats(10, 20, 50, 10, 12, 22)
    with pytest.raises(ValueError, match="n < 2 in control"):
        ratio_absolute_lift(RatioStats(1, 2, 4, 1, 1, 2), ok)
    with pytest.raises(ValueError, match="zero denominator in variant"):
        ratio_absolute_lift(ok, RatioStats(10, 0, 0, 0, 0, 0))
    with pytest.raises(ValueError, match="zero baseline mean"):
        ratio_relative_lift(RatioStats(10, 0, 0, 10, 12, 0), ok)
    with pytest.raises(ValueError, match="zero variance"):
        # every unit has num = 2, den = 1: the ratio is exactly 2 in both arms
        ratio_absolute_lift(RatioStats(10, 20, 40, 10, 10, 20), RatioStats(5, 10, 20, 5, 5, 10))


# --- simulation with known truth ---------------------------------------------------------------


def _draw(revenue_per_session):
    def draw(rng, shape):
        den = rng.poisson(3.0, shape).astype(float)
        return rng.gamma(den, revenue_per_session), den

    return draw


def _stats(d) -> RatioStats:
    return RatioStats(d["n"], d["a_sum"], d["a_sum_squares"], d["b_sum"], d["b_sum_squares"], d["ab_sum"])


def test_simulated_ratio_coverage():
    """E[num | den] = mu * den, so the true ratio E[num] / E[den] is exactly mu per arm."""
    sim = Simulator(seed=31)
    mu_c, mu_t = 10.0, 10.5
    control, treatment = (
        _stats(sim.paired_stats(SIMS, N, _draw(mu_c))),
        _stats(sim.paired_stats(SIMS, N, _draw(mu_t))),
    )
    absolute = ratio_absolute_lift(control, treatment)
    relative = ratio_relative_lift(control, treatment)
    abs_cov = coverage(absolute.ci_lower, absolute.ci_upper, mu_t - mu_c)
    rel_cov = coverage(relative.ci_lower, relative.ci_upper, mu_t / mu_c - 1)
    assert 0.935 <= abs_cov <= 0.965, abs_cov
    assert 0.935 <= rel_cov <= 0.965, rel_cov


def test_simulated_ratio_aa_false_positive_rate():
    sim = Simulator(seed=32)
    control, treatment = (
        _stats(sim.paired_stats(SIMS, N, _draw(10.0))),
        _stats(sim.paired_stats(SIMS, N, _draw(10.0))),
    )
    fpr_abs = float(np.mean(ratio_absolute_lift(control, treatment).p_value < 0.05))
    fpr_rel = float(np.mean(ratio_relative_lift(control, treatment).p_value < 0.05))
    assert 0.035 <= fpr_abs <= 0.065, fpr_abs
    assert 0.035 <= fpr_rel <= 0.065, fpr_rel
