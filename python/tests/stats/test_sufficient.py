"""Sufficient statistics: moments against numpy on raw data, and construction-time validation."""

from __future__ import annotations

import numpy as np
import pytest

from readout.stats import CovariateStats, RatioStats, SampleStats

RTOL = 1e-9


def _sample(x):
    return SampleStats(x.size, x.sum(), (x * x).sum())


def test_sample_stats_mean_and_variance_match_numpy():
    rng = np.random.default_rng(11)
    x = rng.lognormal(1.0, 1.0, 5_000)
    s = _sample(x)
    np.testing.assert_allclose(s.mean, x.mean(), rtol=RTOL)
    np.testing.assert_allclose(s.variance, x.var(ddof=1), rtol=RTOL)


def test_sample_stats_proportion_constructor():
    x = (np.random.default_rng(3).random(999) < 0.3).astype(float)
    s = SampleStats.from_proportion(x.size, x.sum())
    np.testing.assert_allclose(s.variance, x.var(ddof=1), rtol=RTOL)


def test_sample_stats_vectorised():
    rng = np.random.default_rng(5)
    x = rng.normal(3, 2, (7, 400))
    s = SampleStats(np.full(7, 400.0), x.sum(1), (x * x).sum(1))
    np.testing.assert_allclose(s.variance, x.var(axis=1, ddof=1), rtol=RTOL)


def test_constant_data_has_exactly_zero_variance():
    x = np.full(1_000, 3.7)
    assert _sample(x).variance == 0.0


def test_ratio_stats_moments_match_numpy():
    rng = np.random.default_rng(12)
    den = rng.poisson(3, 2_000).astype(float)
    num = rng.gamma(np.maximum(den, 1e-12), 2.0) * (den > 0)
    r = RatioStats(den.size, num.sum(), (num**2).sum(), den.sum(), (den**2).sum(), (num * den).sum())
    np.testing.assert_allclose(r.ratio, num.sum() / den.sum(), rtol=RTOL)
    np.testing.assert_allclose(r.covariance, np.cov(num, den, ddof=1)[0, 1], rtol=RTOL)
    np.testing.assert_allclose(r.numerator.variance, num.var(ddof=1), rtol=RTOL)
    np.testing.assert_allclose(r.denominator.variance, den.var(ddof=1), rtol=RTOL)


def test_covariate_stats_moments_match_numpy():
    rng = np.random.default_rng(13)
    x = rng.normal(5, 1, 1_500)
    y = 2 + 0.5 * x + rng.normal(0, 1, x.size)
    c = CovariateStats(x.size, y.sum(), (y**2).sum(), x.sum(), (x**2).sum(), (x * y).sum())
    np.testing.assert_allclose(c.covariance, np.cov(y, x, ddof=1)[0, 1], rtol=RTOL)
    np.testing.assert_allclose(c.centred_xx, ((x - x.mean()) ** 2).sum(), rtol=RTOL)
    np.testing.assert_allclose(c.centred_xy, ((x - x.mean()) * (y - y.mean())).sum(), rtol=RTOL)
    np.testing.assert_allclose(c.outcome.mean, y.mean(), rtol=RTOL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=-1, sum=0, sum_squares=0), "non-negative"),
        (dict(n=10, sum=float("nan"), sum_squares=1), "finite"),
        (dict(n=10, sum=1, sum_squares=float("inf")), "finite"),
        (dict(n=10, sum="abc", sum_squares=1), "numeric"),
        (dict(n=10, sum=1, sum_squares=-1), "non-negative"),
        (dict(n=10, sum=100, sum_squares=1), "inconsistent"),
    ],
)
def test_sample_stats_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampleStats(**kwargs)


def test_ratio_and_covariate_stats_reject_inconsistent_input():
    with pytest.raises(ValueError, match="denominator"):
        RatioStats(10, 5, 10, 100, 1, 20)
    with pytest.raises(ValueError, match="covariate"):
        CovariateStats(10, 5, 10, 100, 1, 20)
    with pytest.raises(ValueError, match="finite"):
        CovariateStats(10, 5, 10, float("nan"), 1, 20)


def test_variance_is_nan_below_two_units():
    assert np.isnan(SampleStats(1, 2.0, 4.0).variance)
