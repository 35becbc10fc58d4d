"""CUPED with a within-arm pooled theta.

Exact equivalences tested (rtol 1e-9), on raw rows of two arms:

1. ``statsmodels`` OLS ``y ~ 1 + treatment + (x - xbar)`` (one common slope, ``xbar`` the mean
   of x over both arms): its slope equals the pooled within-arm theta
   ``(S_xy,c + S_xy,t) / (S_xx,c + S_xx,t)`` (Frisch–Waugh–Lovell: partialling out the
   treatment dummy centres x and y within arms), its treatment coefficient equals the CUPED
   absolute lift, and its intercept / intercept + coefficient equal the adjusted arm means.
2. The CUPED interval equals ``scipy.stats.ttest_ind(equal_var=False)`` on the raw adjusted values
   ``y - theta (x - xbar)`` with theta held fixed (the documented variance: theta treated as
   known; its sampling error is O(1/n)).
3. The CUPED relative-lift delta method equals a complex-step numerical gradient of
   ``f(ybar_t, xbar_t, ybar_c, xbar_c)`` applied to per-arm covariance matrices from ``np.cov``.

The OLS (homoscedastic) standard error is *not* the same formula; it agrees only
asymptotically, which is checked loosely. Simulations check coverage, the A/A false-positive
rate and that CUPED narrows the interval by about ``sqrt(1 - rho^2)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from readout.stats import (
    CovariateStats,
    cuped_absolute_lift,
    cuped_adjusted_means,
    cuped_compare,
    cuped_relative_lift,
    cuped_variance_reduction,
    delta_relative_lift,
    pooled_theta,
    welch_absolute_lift,
)

from ._simulation import Simulator, coverage

RTOL = 1e-9
SIMS = 10_000
N = 1_000


def _reduce(y: np.ndarray, x: np.ndarray) -> CovariateStats:
    return CovariateStats(y.size, y.sum(), y @ y, x.sum(), x @ x, x @ y)


def _raw(rng):
    x_c = rng.gamma(4.0, 0.5, 1_200)
    x_t = rng.gamma(4.0, 0.5, 1_000) + 0.05  # a chance covariate imbalance
    y_c = 3.0 + 0.8 * x_c + rng.normal(0, 1, x_c.size)
    y_t = 3.3 + 0.8 * x_t + rng.normal(0, 1.2, x_t.size)
    return y_c, x_c, y_t, x_t


@pytest.fixture(scope="module")
def raw():
    return _raw(np.random.default_rng(41))


def test_cuped_matches_ols_with_common_slope(raw):
    y_c, x_c, y_t, x_t = raw
    y = np.concatenate([y_c, y_t])
    x = np.concatenate([x_c, x_t])
    treat = np.concatenate([np.zeros(y_c.size), np.ones(y_t.size)])
    design = np.column_stack([np.ones_like(y), treat, x - x.mean()])
    fit = sm.OLS(y, design).fit()
    intercept, coef, slope = fit.params

    control, treatment = _reduce(y_c, x_c), _reduce(y_t, x_t)
    np.testing.assert_allclose(pooled_theta(control, treatment), slope, rtol=RTOL)
    np.testing.assert_allclose(cuped_absolute_lift(control, treatment).estimate, coef, rtol=RTOL)
    m_c, m_t = cuped_adjusted_means(control, treatment)
    np.testing.assert_allclose([m_c, m_t], [intercept, intercept + coef], rtol=RTOL)

    # The standard errors differ in formula (pooled residual variance vs per-arm Welch) but agree
    # asymptotically; a loose sanity check only.
    assert cuped_absolute_lift(control, treatment).std_error == pytest.approx(fit.HC2_se[1], rel=0.02)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_cuped_interval_equals_welch_on_adjusted_raw_values(raw, alpha):
    y_c, x_c, y_t, x_t = raw
    control, treatment = _reduce(y_c, x_c), _reduce(y_t, x_t)
    theta = pooled_theta(control, treatment)
    xbar = np.concatenate([x_c, x_t]).mean()
    adj_c, adj_t = y_c - theta * (x_c - xbar), y_t - theta * (x_t - xbar)
    ref = sps.ttest_ind(adj_t, adj_c, equal_var=False)
    ci = ref.confidence_interval(confidence_level=1 - alpha)
    est = cuped_absolute_lift(control, treatment, alpha=alpha)
    np.testing.assert_allclose([est.ci_lower, est.ci_upper, est.p_value], [ci.low, ci.high, ref.pvalue], rtol=RTOL)
    np.testing.assert_allclose(est.estimate, adj_t.mean() - adj_c.mean(), rtol=RTOL)
    np.testing.assert_allclose(
        cuped_variance_reduction(control, treatment),
        1
        - (adj_t.var(ddof=1) / adj_t.size + adj_c.var(ddof=1) / adj_c.size)
        / (y_t.var(ddof=1) / y_t.size + y_c.var(ddof=1) / y_c.size),
        rtol=RTOL,
    )


def test_cuped_relative_lift_matches_complex_step_delta_method(raw):
    y_c, x_c, y_t, x_t = raw
    control, treatment = _reduce(y_c, x_c), _reduce(y_t, x_t)
    theta = pooled_theta(control, treatment)
    n_c, n_t = y_c.size, y_t.size

    def relative(means):
        yt, xt, yc, xc = means
        xbar = (n_t * xt + n_c * xc) / (n_t + n_c)
        return (yt - theta * (xt - xbar)) / (yc - theta * (xc - xbar)) - 1

    point = np.array([y_t.mean(), x_t.mean(), y_c.mean(), x_c.mean()])
    h = 1e-20
    grad = np.array([(relative(point + 1j * h * e)).imag / h for e in np.eye(4)])
    cov = np.zeros((4, 4))
    cov[:2, :2] = np.cov(np.vstack([y_t, x_t]), ddof=1) / n_t
    cov[2:, 2:] = np.cov(np.vstack([y_c, x_c]), ddof=1) / n_c
    se = np.sqrt(grad @ cov @ grad)
    lift = relative(point)
    z = sps.norm.isf(0.025)

    est = cuped_relative_lift(control, treatment, alpha=0.05)
    np.testing.assert_allclose(
        [est.estimate, est.std_error, est.ci_lower, est.ci_upper, est.p_value],
        [lift, se, lift - z * se, lift + z * se, 2 * sps.norm.sf(abs(lift) / se)],
        rtol=RTOL,
    )


def test_cuped_compare_reports_unadjusted_beside_adjusted(raw):
    y_c, x_c, y_t, x_t = raw
    control, treatment = _reduce(y_c, x_c), _reduce(y_t, x_t)
    result = cuped_compare(control, treatment)
    ref = sps.ttest_ind(y_t, y_c, equal_var=False)
    np.testing.assert_allclose(result.unadjusted_absolute.p_value, ref.pvalue, rtol=RTOL)
    np.testing.assert_allclose([result.mean_control, result.mean_variant], [y_c.mean(), y_t.mean()], rtol=RTOL)
    assert result.adjusted_absolute.std_error < result.unadjusted_absolute.std_error
    assert 0 < result.variance_reduction < 1
    assert result.adjusted_absolute.method == "cuped_welch"


def test_cuped_with_zero_theta_equals_unadjusted():
    """A covariate with zero within-arm covariance with the metric gives theta = 0 and the Welch answer."""
    y_c, y_t = np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 3, 5])
    x_c, x_t = np.array([1.0, -1, -1, 1]), np.array([0.0, 0, 0, 0])  # S_xy = 0 within arms
    control, treatment = _reduce(y_c, x_c), _reduce(y_t, x_t)
    assert pooled_theta(control, treatment) == 0.0
    a = cuped_absolute_lift(control, treatment)
    b = welch_absolute_lift(control.outcome, treatment.outcome)
    np.testing.assert_allclose([a.ci_lower, a.ci_upper, a.p_value], [b.ci_lower, b.ci_upper, b.p_value], rtol=RTOL)


# --- validation -------------------------------------------------------------------------------


def test_cuped_validation_errors():
    ok = _reduce(np.array([1.0, 2, 3]), np.array([1.0, 3, 2]))
    with pytest.raises(ValueError, match="n < 2 in control"):
        cuped_absolute_lift(_reduce(np.array([1.0]), np.array([2.0])), ok)
    with pytest.raises(ValueError, match="zero covariate variance"):
        constant_x = _reduce(np.array([1.0, 2, 3]), np.array([2.0, 2, 2]))
        cuped_absolute_lift(constant_x, constant_x)
    with pytest.raises(ValueError, match="zero baseline mean"):
        cuped_relative_lift(
            _reduce(np.array([-1.0, 0, 1]), np.array([1.0, 2, 3])),
            _reduce(np.array([-1.0, 0, 1]), np.array([1.0, 2, 3])),
        )


# --- simulation with known truth ---------------------------------------------------------------

RHO = 0.7


def _draw(mu):
    def draw(rng, shape):
        x = rng.gamma(4.0, 0.5, shape)  # skewed pre-period metric, mean 2, sd 1
        y = mu + RHO * (x - 2.0) + np.sqrt(1 - RHO**2) * rng.standard_normal(shape)
        return y, x

    return draw


def _stats(d) -> CovariateStats:
    return CovariateStats(d["n"], d["a_sum"], d["a_sum_squares"], d["b_sum"], d["b_sum_squares"], d["ab_sum"])


def test_simulated_cuped_coverage_and_narrower_intervals():
    sim = Simulator(seed=51)
    mu_c, mu_t = 10.0, 10.1
    control, treatment = (
        _stats(sim.paired_stats(SIMS, N, _draw(mu_c))),
        _stats(sim.paired_stats(SIMS, N, _draw(mu_t))),
    )
    adjusted = cuped_absolute_lift(control, treatment)
    adjusted_rel = cuped_relative_lift(control, treatment)
    raw_abs = welch_absolute_lift(control.outcome, treatment.outcome)
    raw_rel = delta_relative_lift(control.outcome, treatment.outcome)

    for est, truth in ((adjusted, mu_t - mu_c), (adjusted_rel, mu_t / mu_c - 1), (raw_abs, mu_t - mu_c)):
        cov = coverage(est.ci_lower, est.ci_upper, truth)
        assert 0.935 <= cov <= 0.965, (est.method, cov)

    width_ratio = np.mean(adjusted.ci_upper - adjusted.ci_lower) / np.mean(raw_abs.ci_upper - raw_abs.ci_lower)
    rel_width_ratio = np.mean(adjusted_rel.ci_upper - adjusted_rel.ci_lower) / np.mean(
        raw_rel.ci_upper - raw_rel.ci_lower
    )
    assert width_ratio < 0.8
    assert width_ratio == pytest.approx(np.sqrt(1 - RHO**2), abs=0.02)
    assert rel_width_ratio < 0.8


def test_simulated_cuped_aa_false_positive_rate():
    sim = Simulator(seed=52)
    control, treatment = (
        _stats(sim.paired_stats(SIMS, N, _draw(10.0))),
        _stats(sim.paired_stats(SIMS, N, _draw(10.0))),
    )
    fpr_abs = float(np.mean(cuped_absolute_lift(control, treatment).p_value < 0.05))
    fpr_rel = float(np.mean(cuped_relative_lift(control, treatment).p_value < 0.05))
    assert 0.035 <= fpr_abs <= 0.065, fpr_abs
    assert 0.035 <= fpr_rel <= 0.065, fpr_rel
