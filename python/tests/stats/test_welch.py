"""Welch absolute lift and delta-method relative lift.

* exact agreement (rtol 1e-9) with ``scipy.stats.ttest_ind(equal_var=False)`` and its
  ``confidence_interval()`` on raw data reduced to sufficient statistics;
* the relative-lift delta method against an independent influence-function computation on the
  raw arrays;
* vectorised simulations with known truth (>= 2,000 experiments per metric type):
  interval coverage and A/A false-positive rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from readout.stats import SampleStats, delta_relative_lift, welch_absolute_lift

from ._simulation import Simulator, coverage

RTOL = 1e-9
SIMS = 10_000
N = 1_000


def _reduce(x: np.ndarray) -> SampleStats:
    return SampleStats(x.size, x.sum(), np.dot(x, x))


DATASETS = {
    "normal_unequal_n_and_variance": lambda rng: (rng.normal(10, 2, 800), rng.normal(10.4, 3.5, 1_300)),
    "lognormal": lambda rng: (rng.lognormal(0, 1, 2_000), rng.lognormal(0.1, 1, 1_900)),
    "proportion": lambda rng: ((rng.random(3_000) < 0.1) * 1.0, (rng.random(2_800) < 0.12) * 1.0),
    "small_samples": lambda rng: (rng.normal(0, 1, 5), rng.normal(1, 4, 3)),
    "negative_mean": lambda rng: (rng.normal(-3, 1, 300), rng.normal(-2.5, 1, 200)),
}


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_matches_scipy_on_raw_data(name, alpha):
    rng = np.random.default_rng(sorted(DATASETS).index(name) + 100)
    control, treatment = DATASETS[name](rng)
    est = welch_absolute_lift(_reduce(control), _reduce(treatment), alpha=alpha)
    ref = sps.ttest_ind(treatment, control, equal_var=False)
    ci = ref.confidence_interval(confidence_level=1 - alpha)
    np.testing.assert_allclose(est.estimate, treatment.mean() - control.mean(), rtol=RTOL)
    np.testing.assert_allclose(est.p_value, ref.pvalue, rtol=RTOL)
    np.testing.assert_allclose(est.df, ref.df, rtol=RTOL)
    np.testing.assert_allclose([est.ci_lower, est.ci_upper], [ci.low, ci.high], rtol=RTOL)
    np.testing.assert_allclose(est.estimate / est.std_error, ref.statistic, rtol=RTOL)


def _relative_by_influence(control: np.ndarray, treatment: np.ndarray, alpha: float):
    """Independent delta method: per-unit influence values of mean_t / mean_c on the raw arrays."""
    m_c, m_t = control.mean(), treatment.mean()
    infl_t = (treatment - m_t) / m_c
    infl_c = -(m_t / m_c**2) * (control - m_c)
    se = np.sqrt(np.var(infl_t, ddof=1) / treatment.size + np.var(infl_c, ddof=1) / control.size)
    z = sps.norm.isf(alpha / 2)
    lift = m_t / m_c - 1
    return lift, lift - z * se, lift + z * se, 2 * sps.norm.sf(abs(lift / se))


@pytest.mark.parametrize("name", ["normal_unequal_n_and_variance", "lognormal", "proportion", "negative_mean"])
def test_relative_lift_matches_influence_function_computation(name):
    rng = np.random.default_rng(7)
    control, treatment = DATASETS[name](rng)
    est = delta_relative_lift(_reduce(control), _reduce(treatment), alpha=0.05)
    lift, lo, hi, p = _relative_by_influence(control, treatment, 0.05)
    np.testing.assert_allclose([est.estimate, est.ci_lower, est.ci_upper, est.p_value], [lift, lo, hi, p], rtol=RTOL)


# --- validation -------------------------------------------------------------------------------


def test_n_below_two_raises_naming_the_arm():
    ok = SampleStats(10, 5, 4)
    with pytest.raises(ValueError, match="n < 2 in control"):
        welch_absolute_lift(SampleStats(1, 1, 1), ok)
    with pytest.raises(ValueError, match="n < 2 in variant"):
        delta_relative_lift(ok, SampleStats(0, 0, 0))


def test_zero_variance_in_both_arms_raises():
    with pytest.raises(ValueError, match="zero variance"):
        welch_absolute_lift(SampleStats(10, 10, 10), SampleStats(20, 20, 20))


def test_zero_baseline_mean_raises_for_relative_lift_only():
    control, treatment = SampleStats(10, 0, 0), SampleStats(10, 3, 3)
    assert welch_absolute_lift(control, treatment).estimate == pytest.approx(0.3, rel=RTOL)
    with pytest.raises(ValueError, match="zero baseline mean"):
        delta_relative_lift(control, treatment)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5])
def test_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        welch_absolute_lift(SampleStats(10, 5, 4), SampleStats(10, 5, 4), alpha=alpha)


# --- simulation with known truth ---------------------------------------------------------------

METRICS = {
    # name: (control draw, treatment draw, true control mean, true treatment mean)
    "proportion": (
        lambda rng, shape: (rng.random(shape) < 0.10) * 1.0,
        lambda rng, shape: (rng.random(shape) < 0.11) * 1.0,
        0.10,
        0.11,
    ),
    "mean_lognormal_sigma1": (
        lambda rng, shape: rng.lognormal(0.0, 1.0, shape),
        lambda rng, shape: rng.lognormal(0.05, 1.0, shape),
        np.exp(0.5),
        np.exp(0.55),
    ),
    "count_negative_binomial": (  # overdispersed counts, mean = r (1 - p) / p with r = 2
        lambda rng, shape: rng.negative_binomial(2, 2 / (2 + 2.0), shape) * 1.0,
        lambda rng, shape: rng.negative_binomial(2, 2 / (2 + 2.1), shape) * 1.0,
        2.0,
        2.1,
    ),
}


def _stats(d):
    return SampleStats(d["n"], d["sum"], d["sum_squares"])


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_simulated_coverage_of_absolute_and_relative_lift(metric):
    draw_c, draw_t, mu_c, mu_t = METRICS[metric]
    sim = Simulator(seed=sorted(METRICS).index(metric) + 1)
    control, treatment = _stats(sim.sample_stats(SIMS, N, draw_c)), _stats(sim.sample_stats(SIMS, N, draw_t))
    absolute = welch_absolute_lift(control, treatment, alpha=0.05)
    relative = delta_relative_lift(control, treatment, alpha=0.05)
    abs_cov = coverage(absolute.ci_lower, absolute.ci_upper, mu_t - mu_c)
    rel_cov = coverage(relative.ci_lower, relative.ci_upper, mu_t / mu_c - 1)
    assert 0.935 <= abs_cov <= 0.965, abs_cov
    assert 0.935 <= rel_cov <= 0.965, rel_cov


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_simulated_aa_false_positive_rate(metric):
    draw_c, _, _, _ = METRICS[metric]
    sim = Simulator(seed=sorted(METRICS).index(metric) + 11)
    control, treatment = _stats(sim.sample_stats(SIMS, N, draw_c)), _stats(sim.sample_stats(SIMS, N, draw_c))
    fpr_abs = float(np.mean(welch_absolute_lift(control, treatment).p_value < 0.05))
    fpr_rel = float(np.mean(delta_relative_lift(control, treatment).p_value < 0.05))
    assert 0.035 <= fpr_abs <= 0.065, fpr_abs
    assert 0.035 <= fpr_rel <= 0.065, fpr_rel
