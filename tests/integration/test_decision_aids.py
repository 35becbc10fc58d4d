"""The Bayesian view and the power analysis in the warehouse, against independent computations over the
published fct_metric_results (scipy's normal distribution, statsmodels' power): one row per result row,
every figure equal to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sps
from e2e import query
from statsmodels.stats.power import NormalIndPower

KEYS = ["experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator"]


def _joined(warehouse, mart):
    return query(
        warehouse,
        f"""
        select results.*, aid.* exclude ({", ".join(KEYS)}, metric_role, readout_status)
        from published.fct_metric_results as results
        full outer join published.{mart} as aid using ({", ".join(KEYS)})
        order by all
        """,
    )


def test_bayesian_view_equals_a_conjugate_normal_posterior(clean_simulation):
    df = _joined(clean_simulation["warehouse"], "fct_metric_results_bayesian")
    assert len(df) > 20 and df["prior_sd"].notna().all(), "every result row has its Bayesian view"
    ok = df["relative_lift_ci_lower"].notna()
    assert ok.sum() > 20 and df.loc[~ok, "chance_to_beat_control"].isna().all()
    assert df.loc[~ok, "status_reason"].notna().all() and df.loc[ok, "status_reason"].isna().all()
    d = df[ok]
    z = sps.norm.ppf(1 - d["alpha"] / 2)
    se = (d["relative_lift_ci_upper"] - d["relative_lift_ci_lower"]) / (2 * z)
    tau2 = d["prior_sd"] ** 2
    mean = (d["relative_lift"] * tau2 + d["prior_mean"] * se**2) / (tau2 + se**2)
    sd = np.sqrt(tau2 * se**2 / (tau2 + se**2))
    good = np.where(d["direction"] == "decrease", -1.0, 1.0)
    np.testing.assert_allclose(d["posterior_mean"], mean, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(d["posterior_sd"], sd, rtol=1e-9)
    np.testing.assert_allclose(d["credible_lower"], sps.norm.ppf(d["alpha"] / 2, mean, sd), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(d["credible_upper"], sps.norm.ppf(1 - d["alpha"] / 2, mean, sd), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(d["chance_to_beat_control"], sps.norm.sf(0, good * mean, sd), rtol=1e-9, atol=1e-15)
    # expected loss: E[max(0, -X)] of X ~ N(good * mean, sd), by sps.norm.expect (numerical integration)
    expected = [
        sps.norm(m, s).expect(lambda x: -x, ub=0.0, epsabs=1e-14, epsrel=1e-12) for m, s in zip(good * mean, sd)
    ]
    np.testing.assert_allclose(d["expected_loss"], expected, rtol=1e-9, atol=1e-13)


def test_power_analysis_reaches_the_asked_power(clean_simulation):
    df = _joined(clean_simulation["warehouse"], "fct_metric_power")
    ok = df["relative_lift_ci_lower"].notna()
    assert ok.sum() > 20 and df.loc[~ok, "minimum_detectable_effect"].isna().all()
    d = df[ok]
    z = sps.norm.ppf(1 - d["alpha"] / 2)
    se = (d["relative_lift_ci_upper"] - d["relative_lift_ci_lower"]) / (2 * z)
    np.testing.assert_allclose(d["relative_lift_std_error"], se, rtol=1e-9)
    np.testing.assert_array_equal(d["n_units"], d["n_units_control"] + d["n_units_variant"])
    # statsmodels: a z test whose standard error is se has power 80% against the MDE (far tail left out);
    # with two units per arm and unit standard deviation, statsmodels' standardized effect has standard error 1
    achieved = [
        NormalIndPower().power(mde / s, nobs1=2, alpha=a / 2, ratio=1.0, alternative="larger")
        for mde, s, a in zip(d["minimum_detectable_effect"], se, d["alpha"])
    ]
    np.testing.assert_allclose(achieved, d["power"], rtol=1e-9)
    # units for the planned effect: the MDE shrinks as 1 / sqrt(n)
    required = d["n_units"] * (d["minimum_detectable_effect"] / d["planned_minimum_effect"]) ** 2
    np.testing.assert_array_equal(d["n_units_required"], np.ceil(required))
    pace = d["n_units_entered"] / d["entry_days"]
    np.testing.assert_allclose(
        d["days_to_required_units"], np.maximum(required - d["n_units_entered"], 0) / pace, rtol=1e-9
    )
    assert (d["n_units_entered"] >= d["n_units"]).all(), "units entered include every analysed unit"


def test_statsmodels_agrees_on_the_mde_of_an_equal_variance_design():
    # the closed form the mart uses, on the design statsmodels parameterizes (standardized effect, n per arm)
    n, sigma = 2500, 1.7
    se = sigma * np.sqrt(2 / n)
    mde = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * se
    assert NormalIndPower().power(mde / sigma, nobs1=n, alpha=0.025, ratio=1.0, alternative="larger") == pytest.approx(
        0.8, rel=1e-9
    )
