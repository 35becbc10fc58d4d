"""Power and sample size (readout.stats.power) against statsmodels and by simulation with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from readout.stats.power import days_to_sample_size, minimum_detectable_effect, required_sample_size


@pytest.mark.parametrize("n1, ratio, sigma, alpha, power", [(1000, 1.0, 1.0, 0.05, 0.8), (5000, 0.5, 3.0, 0.01, 0.9)])
def test_mde_equals_statsmodels(n1, ratio, sigma, alpha, power):
    se = sigma * np.sqrt(1 / n1 + 1 / (n1 * ratio))
    mde = minimum_detectable_effect(se, alpha, power)
    # statsmodels' power at the MDE, one-sided at alpha / 2 (the two-sided test without its far tail), is exact
    achieved = NormalIndPower().power(mde / sigma, nobs1=n1, alpha=alpha / 2, ratio=ratio, alternative="larger")
    assert achieved == pytest.approx(power, rel=1e-9)
    # statsmodels' root finder for the two-sided test lands on the same effect, up to the far tail and its tolerance
    d2 = NormalIndPower().solve_power(nobs1=n1, ratio=ratio, alpha=alpha, power=power, alternative="two-sided")
    assert mde == pytest.approx(d2 * sigma, rel=1e-4)


def test_required_sample_size_equals_statsmodels_and_is_consistent():
    sigma, n1, effect = 2.0, 800, 0.25
    se = sigma * np.sqrt(2 / n1)
    needed = required_sample_size(se, 2 * n1, effect, alpha=0.05, power=0.8)
    achieved = NormalIndPower().power(effect / sigma, nobs1=needed / 2, alpha=0.025, ratio=1.0, alternative="larger")
    assert achieved == pytest.approx(0.8, rel=1e-9)
    # at the needed size the effect is the minimum detectable one
    assert minimum_detectable_effect(sigma * np.sqrt(4 / needed)) == pytest.approx(effect, rel=1e-12)


def test_power_by_simulation_at_the_mde():
    # known truth: a true difference equal to the MDE is detected in 80% of experiments
    rng = np.random.default_rng(7)
    sims, n, sigma = 4000, 400, 1.0
    se = sigma * np.sqrt(2 / n)
    delta = minimum_detectable_effect(se, 0.05, 0.8)
    control = rng.normal(0.0, sigma, (sims, n))
    treatment = rng.normal(delta, sigma, (sims, n))
    diff = treatment.mean(axis=1) - control.mean(axis=1)
    se_hat = np.sqrt(treatment.var(axis=1, ddof=1) / n + control.var(axis=1, ddof=1) / n)
    rejected = np.abs(diff / se_hat) > 1.959963984540054
    assert rejected.mean() == pytest.approx(0.8, abs=3 * np.sqrt(0.8 * 0.2 / sims) + 0.005)


def test_days_to_sample_size():
    assert days_to_sample_size(3000, 1000, 10) == pytest.approx(20.0)
    assert days_to_sample_size(500, 1000, 10) == 0.0
    assert np.isnan(days_to_sample_size(500, 1000, 0))
    assert np.isnan(required_sample_size(0.1, 100, 0.0))
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect(0.1, power=1.0)
