"""The Bayesian view (readout.stats.bayes) against independent computations: numerical integration of
prior x likelihood, a Beta-Binomial Monte Carlo, posterior sampling, and calibration with known truth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate as spi
import scipy.stats as sps

from readout.stats import SampleStats, delta_relative_lift
from readout.stats.bayes import (
    DEFAULT_PRIOR_SD,
    bayesian_relative_lift,
    chance_to_beat_control,
    expected_loss,
    normal_posterior,
)


@pytest.mark.parametrize("lift, se", [(0.04, 0.02), (-0.1, 0.08), (0.5, 0.4), (0.01, 0.01)])
def test_posterior_equals_numerical_integration_of_prior_times_likelihood(lift, se):
    mean, sd = normal_posterior(lift, se)
    prior = sps.norm(0.0, DEFAULT_PRIOR_SD)

    def density(effect):
        return prior.pdf(effect) * sps.norm.pdf(lift, effect, se)

    lo, hi = lift - 12 * se, lift + 12 * se
    evidence = spi.quad(density, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    first = spi.quad(lambda e: e * density(e), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] / evidence
    second = spi.quad(lambda e: (e - first) ** 2 * density(e), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert mean == pytest.approx(first, rel=1e-9, abs=1e-12)
    assert sd == pytest.approx(np.sqrt(second / evidence), rel=1e-9)
    # chance to beat control and expected loss: integrals of the posterior
    post = sps.norm(first, np.sqrt(second / evidence))
    assert chance_to_beat_control(mean, sd) == pytest.approx(post.sf(0.0), rel=1e-9, abs=1e-15)
    loss = (
        spi.quad(lambda e: -e * post.pdf(e), first - 12 * sd, 0.0, epsabs=1e-15, epsrel=1e-12)[0]
        if first - 12 * sd < 0
        else 0.0
    )
    assert expected_loss(mean, sd) == pytest.approx(loss, rel=1e-7, abs=1e-14)


def test_flat_prior_gives_back_the_frequentist_interval():
    control, treatment = (
        SampleStats(n=5000, sum=510.0, sum_squares=510.0),
        SampleStats(n=5000, sum=560.0, sum_squares=560.0),
    )
    freq = delta_relative_lift(control, treatment, alpha=0.05)
    view = bayesian_relative_lift(freq.estimate, freq.std_error, prior_sd=None)
    assert view.credible_lower == pytest.approx(freq.ci_lower, rel=1e-12)
    assert view.credible_upper == pytest.approx(freq.ci_upper, rel=1e-12)
    # the one-sided p-value and the chance to beat control are two sides of one coin under a flat prior
    assert view.chance_to_beat_control == pytest.approx(1 - freq.p_value / 2, rel=1e-12)


def test_direction_decrease_flips_the_good_side():
    up = bayesian_relative_lift(0.03, 0.02, direction="increase")
    down = bayesian_relative_lift(0.03, 0.02, direction="decrease")
    assert up.chance_to_beat_control + down.chance_to_beat_control == pytest.approx(1.0, abs=1e-15)
    assert down.expected_loss > up.expected_loss > 0
    # E[max(0, -x)] - E[max(0, x)] = -E[x]
    assert down.expected_loss - up.expected_loss == pytest.approx(up.posterior_mean, rel=1e-12)


def test_monte_carlo_from_the_posterior_agrees():
    rng = np.random.default_rng(11)
    view = bayesian_relative_lift(0.021, 0.015, alpha=0.1)
    draws = rng.normal(view.posterior_mean, view.posterior_sd, 2_000_000)
    assert np.mean(draws > 0) == pytest.approx(view.chance_to_beat_control, abs=0.002)
    assert np.mean(np.maximum(0.0, -draws)) == pytest.approx(view.expected_loss, rel=0.01)
    assert np.quantile(draws, [0.05, 0.95]) == pytest.approx([view.credible_lower, view.credible_upper], abs=5e-4)


def test_gaussian_approximation_matches_a_beta_binomial_posterior():
    # conversions: Beta(1 + x, 1 + n - x) per arm (uniform priors), the relative lift sampled from them
    rng = np.random.default_rng(5)
    n_c, x_c, n_t, x_t = 20_000, 2_000, 20_000, 2_110
    p_c = rng.beta(1 + x_c, 1 + n_c - x_c, 1_000_000)
    p_t = rng.beta(1 + x_t, 1 + n_t - x_t, 1_000_000)
    lift_draws = p_t / p_c - 1
    freq = delta_relative_lift(
        SampleStats(n=n_c, sum=float(x_c), sum_squares=float(x_c)),
        SampleStats(n=n_t, sum=float(x_t), sum_squares=float(x_t)),
    )
    view = bayesian_relative_lift(freq.estimate, freq.std_error, prior_sd=None)
    assert np.mean(lift_draws > 0) == pytest.approx(view.chance_to_beat_control, abs=0.01)
    assert np.mean(lift_draws) == pytest.approx(view.posterior_mean, abs=0.002)
    assert np.std(lift_draws) == pytest.approx(view.posterior_sd, rel=0.03)


def test_calibrated_when_the_prior_is_the_truth():
    # known truth: effects drawn from the prior, one noisy estimate each; 95% credible intervals must cover
    # 95% of the true effects, and among variants given a 80-90% chance to win, 80-90% must truly win
    rng = np.random.default_rng(2026)
    sims = 200_000
    truth = rng.normal(0.0, DEFAULT_PRIOR_SD, sims)
    se = rng.uniform(0.05, 0.5, sims)
    observed = rng.normal(truth, se)
    view = bayesian_relative_lift(observed, se)
    covered = (view.credible_lower <= truth) & (truth <= view.credible_upper)
    assert covered.mean() == pytest.approx(0.95, abs=3 * np.sqrt(0.95 * 0.05 / sims))
    band = (view.chance_to_beat_control > 0.8) & (view.chance_to_beat_control < 0.9)
    assert (truth[band] > 0).mean() == pytest.approx(view.chance_to_beat_control[band].mean(), abs=0.01)
    # expected loss is the mean loss actually suffered by shipping
    assert np.maximum(0, -truth).mean() == pytest.approx(view.expected_loss.mean(), rel=0.02)


def test_bad_input_is_a_clear_error_and_nan_propagates():
    with pytest.raises(ValueError, match="direction"):
        bayesian_relative_lift(0.1, 0.1, direction="up")
    with pytest.raises(ValueError, match="prior_sd"):
        normal_posterior(0.1, 0.1, prior_sd=0.0)
    view = bayesian_relative_lift(np.array([np.nan, 0.1]), np.array([0.1, 0.0]))
    assert np.isnan(view.chance_to_beat_control).all() and np.isnan(view.credible_lower).all()
