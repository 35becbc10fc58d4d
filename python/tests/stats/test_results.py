"""Table-level functions: exact output columns and grain, consistent values, per-group failure
reporting instead of exceptions, and agreement with the per-method functions and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from readout.stats import (
    CovariateStats,
    RatioStats,
    SampleStats,
    asymptotic_confidence_sequence,
    compute_metric_results,
    compute_sample_ratio_checks,
    cuped_absolute_lift,
    ratio_absolute_lift,
    ratio_relative_lift,
    welch_absolute_lift,
)

RTOL = 1e-9

EXPECTED_METRIC_COLUMNS = [
    "experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator",
    "control_variant_id", "n_units_control", "n_units_variant", "mean_control", "mean_variant",
    "absolute_lift", "absolute_lift_ci_lower", "absolute_lift_ci_upper", "relative_lift",
    "relative_lift_ci_lower", "relative_lift_ci_upper", "p_value", "adjusted_p_value",
    "correction_method", "correction_family_size", "is_significant", "sequential_ci_lower", "sequential_ci_upper",
    "ci_method", "alpha",
    "guardrail_status", "status_reason",
]  # fmt: skip
EXPECTED_SRM_COLUMNS = [
    "experiment_id", "experiment_version", "population", "variant_id", "observed_units",
    "expected_share", "expected_units", "chi_square", "degrees_of_freedom", "p_value",
    "is_sample_ratio_mismatch", "status_reason",
]  # fmt: skip

# metric_id: (metric_type, direction, role, margin, has_covariate)
METRICS = {
    "conversion": ("proportion", "increase", "primary", np.nan, True),
    "revenue": ("mean", "increase", "secondary", np.nan, True),
    "sessions": ("count", "increase", "secondary", np.nan, False),
    "revenue_per_session": ("ratio", "increase", "secondary", np.nan, False),
    "retention_d7": ("proportion", "increase", "guardrail", 0.02, True),
}
KEYS = ["experiment_id", "experiment_version", "population", "variant_id", "metric_id", "estimator"]


def _unit_data(rng, n, lift):
    """Raw per-unit values for every metric (kept for independent checks)."""
    pre = rng.gamma(2.0, 1.0, n)  # pre-period activity, the CUPED covariate
    sessions = rng.poisson(1.0 + pre)
    revenue = rng.gamma(np.maximum(sessions, 0) * 1.0, 4.0 * (1 + lift)) + 0.5 * pre
    conversion = (rng.random(n) < np.clip(0.05 + 0.03 * pre * (1 + lift), 0, 1)).astype(float)
    retention = (rng.random(n) < np.clip(0.3 + 0.05 * pre, 0, 1)).astype(float)
    return {
        "conversion": (conversion, None, pre),
        "revenue": (revenue, None, pre),
        "sessions": (sessions.astype(float), None, None),
        "revenue_per_session": (revenue, sessions.astype(float), None),
        "retention_d7": (retention, None, pre),
    }


def _stats_rows(experiment_id, version, population, variants, rng):
    rows, raw = [], {}
    for variant_id, (is_control, n, lift) in variants.items():
        data = _unit_data(rng, n, lift)
        for metric_id, (y, den, x) in data.items():
            metric_type, direction, role, margin, _ = METRICS[metric_id]
            raw[(experiment_id, version, population, variant_id, metric_id)] = (y, den, x)
            nan = float("nan")
            rows.append(
                dict(
                    experiment_id=experiment_id, experiment_version=version, population=population,
                    variant_id=variant_id, metric_id=metric_id, is_control=is_control,
                    metric_type=metric_type, direction=direction, role=role,
                    non_inferiority_margin=margin, n_units=n, metric_sum=y.sum(),
                    metric_sum_of_squares=y @ y,
                    denominator_sum=nan if den is None else den.sum(),
                    denominator_sum_of_squares=nan if den is None else den @ den,
                    metric_denominator_cross_sum=nan if den is None else y @ den,
                    covariate_sum=nan if x is None else x.sum(),
                    covariate_sum_of_squares=nan if x is None else x @ x,
                    metric_covariate_cross_sum=nan if x is None else x @ y,
                )
            )  # fmt: skip
    return rows, raw


@pytest.fixture(scope="module")
def stats_and_raw():
    rng = np.random.default_rng(101)
    rows, raw = [], {}
    designs = [
        ("exp_two", 1, "assigned", {"control": (True, 3_000, 0.0), "treatment": (False, 2_900, 0.05)}),
        ("exp_two", 1, "exposed", {"control": (True, 2_000, 0.0), "treatment": (False, 2_050, 0.05)}),
        ("exp_three", 2, "assigned",
         {"a_control": (True, 2_000, 0.0), "b": (False, 2_100, 0.0), "c": (False, 1_900, 0.2)}),
    ]  # fmt: skip
    for design in designs:
        r, w = _stats_rows(*design, rng)
        rows += r
        raw.update(w)
    return pd.DataFrame(rows), raw


@pytest.fixture(scope="module")
def results(stats_and_raw):
    return compute_metric_results(stats_and_raw[0], alpha=0.05, correction="holm")


def test_output_columns_and_grain(results):
    assert list(results.columns) == EXPECTED_METRIC_COLUMNS
    assert not results.duplicated(KEYS).any()
    # treatment pairs: exp_two x 2 populations x 1 + exp_three x 2 = 4; cuped for the 3 covariate metrics
    assert len(results) == 4 * (len(METRICS) + 3)
    per_metric = results.groupby("metric_id")["estimator"].agg(lambda s: tuple(sorted(set(s))))
    assert per_metric["revenue_per_session"] == ("unadjusted",)  # ratio: no CUPED
    assert per_metric["sessions"] == ("unadjusted",)  # no covariate: CUPED skipped
    assert per_metric["revenue"] == ("cuped", "unadjusted")
    assert set(results["variant_id"]) == {"treatment", "b", "c"}  # controls never appear as variants
    assert set(results.loc[results.experiment_id == "exp_three", "control_variant_id"]) == {"a_control"}
    assert results["status_reason"].isna().all()


def test_values_are_consistent(results):
    for est, lo, hi in [
        ("absolute_lift", "absolute_lift_ci_lower", "absolute_lift_ci_upper"),
        ("relative_lift", "relative_lift_ci_lower", "relative_lift_ci_upper"),
        ("absolute_lift", "sequential_ci_lower", "sequential_ci_upper"),
    ]:
        assert (results[lo] <= results[est]).all() and (results[est] <= results[hi]).all()
    assert results["p_value"].between(0, 1).all()
    assert results["adjusted_p_value"].between(0, 1).all()
    assert (results["adjusted_p_value"] >= results["p_value"]).all()
    assert (results["is_significant"] == (results["adjusted_p_value"] < 0.05)).all()
    # always-valid intervals are wider than the fixed-horizon ones
    assert (results["sequential_ci_lower"] < results["absolute_lift_ci_lower"]).all()
    assert (results["sequential_ci_upper"] > results["absolute_lift_ci_upper"]).all()
    np.testing.assert_allclose(
        results["relative_lift"], results["mean_variant"] / results["mean_control"] - 1, rtol=RTOL
    )
    np.testing.assert_allclose(results["absolute_lift"], results["mean_variant"] - results["mean_control"], rtol=1e-8)
    assert (results["alpha"] == 0.05).all()
    expected_method = np.where(
        results["estimator"] == "cuped", "cuped_welch",
        np.where(results["metric_id"] == "revenue_per_session", "delta_ratio", "welch"),
    )  # fmt: skip
    assert (results["ci_method"] == expected_method).all()


def test_guardrail_status_only_on_guardrail_rows(results):
    guard = results["metric_id"] == "retention_d7"
    assert results.loc[guard, "guardrail_status"].isin(["pass", "fail", "inconclusive"]).all()
    assert results.loc[~guard, "guardrail_status"].isna().all()


def _row(results, experiment_id, population, variant_id, metric_id, estimator="unadjusted"):
    sel = results[
        (results.experiment_id == experiment_id) & (results.population == population)
        & (results.variant_id == variant_id) & (results.metric_id == metric_id)
        & (results.estimator == estimator)
    ]  # fmt: skip
    assert len(sel) == 1
    return sel.iloc[0]


@pytest.mark.parametrize("metric_id", ["revenue", "sessions", "conversion"])
def test_unadjusted_rows_match_scipy_on_raw_data(stats_and_raw, results, metric_id):
    _, raw = stats_and_raw
    y_c = raw[("exp_three", 2, "assigned", "a_control", metric_id)][0]
    y_t = raw[("exp_three", 2, "assigned", "c", metric_id)][0]
    ref = sps.ttest_ind(y_t, y_c, equal_var=False)
    ci = ref.confidence_interval()
    row = _row(results, "exp_three", "assigned", "c", metric_id)
    np.testing.assert_allclose(
        [row.absolute_lift_ci_lower, row.absolute_lift_ci_upper, row.p_value],
        [ci.low, ci.high, ref.pvalue],
        rtol=RTOL,
    )
    assert row.n_units_control == y_c.size and row.n_units_variant == y_t.size


def test_ratio_and_cuped_rows_match_method_functions(stats_and_raw, results):
    _, raw = stats_and_raw
    key_c, key_t = ("exp_two", 1, "exposed", "control"), ("exp_two", 1, "exposed", "treatment")
    (num_c, den_c, _), (num_t, den_t, _) = (
        raw[(*key_c, "revenue_per_session")],
        raw[(*key_t, "revenue_per_session")],
    )
    rc = RatioStats(num_c.size, num_c.sum(), num_c @ num_c, den_c.sum(), den_c @ den_c, num_c @ den_c)
    rt = RatioStats(num_t.size, num_t.sum(), num_t @ num_t, den_t.sum(), den_t @ den_t, num_t @ den_t)
    row = _row(results, "exp_two", "exposed", "treatment", "revenue_per_session")
    a, r = ratio_absolute_lift(rc, rt), ratio_relative_lift(rc, rt)
    np.testing.assert_allclose(
        [
            row.mean_control,
            row.mean_variant,
            row.absolute_lift_ci_lower,
            row.relative_lift_ci_upper,
            row.p_value,
        ],
        [num_c.sum() / den_c.sum(), num_t.sum() / den_t.sum(), a.ci_lower, r.ci_upper, a.p_value],
        rtol=RTOL,
    )

    (y_c, _, x_c), (y_t, _, x_t) = raw[(*key_c, "revenue")], raw[(*key_t, "revenue")]
    cc = CovariateStats(y_c.size, y_c.sum(), y_c @ y_c, x_c.sum(), x_c @ x_c, x_c @ y_c)
    ct = CovariateStats(y_t.size, y_t.sum(), y_t @ y_t, x_t.sum(), x_t @ x_t, x_t @ y_t)
    cuped = _row(results, "exp_two", "exposed", "treatment", "revenue", "cuped")
    unadjusted = _row(results, "exp_two", "exposed", "treatment", "revenue")
    est = cuped_absolute_lift(cc, ct)
    np.testing.assert_allclose(
        [cuped.absolute_lift, cuped.absolute_lift_ci_lower], [est.estimate, est.ci_lower], rtol=RTOL
    )
    width = lambda row: row.absolute_lift_ci_upper - row.absolute_lift_ci_lower  # noqa: E731
    assert width(cuped) < width(unadjusted)  # the covariate is predictive in this data


@pytest.mark.parametrize(("correction", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjustment_family_is_experiment_population_estimator(stats_and_raw, correction, sm_method):
    out = compute_metric_results(stats_and_raw[0], correction=correction)
    family = out[(out.experiment_id == "exp_three") & (out.population == "assigned") & (out.estimator == "unadjusted")]
    assert len(family) == 2 * len(METRICS)  # metrics x treatment variants
    np.testing.assert_allclose(
        family["adjusted_p_value"], multipletests(family["p_value"], method=sm_method)[1], rtol=RTOL
    )
    assert (family["correction_family_size"] == len(family)).all()
    assert (out["correction_method"] == correction).all()
    sizes = out.groupby(["experiment_id", "experiment_version", "population", "estimator"])["correction_family_size"]
    assert (sizes.nunique() == 1).all() and (sizes.first() == sizes.size()).all()


@pytest.mark.parametrize(("correction", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_a_metric_that_cannot_be_estimated_stays_in_the_family(stats_and_raw, correction, sm_method):
    """Issue 10: a NaN revenue made two metrics unestimable and shrank the family from 5 to 3, lowering
    every other adjusted p-value. The unestimable rows now count as p = 1 and the family size is on every row."""
    stats = stats_and_raw[0].copy()
    broken = (stats.experiment_id == "exp_three") & (stats.metric_id.isin(["revenue", "sessions"]))
    stats.loc[broken & (stats.variant_id == "b"), "metric_sum"] = np.nan
    out = compute_metric_results(stats, correction=correction)
    family = out[(out.experiment_id == "exp_three") & (out.population == "assigned") & (out.estimator == "unadjusted")]
    lost = family.p_value.isna()
    assert lost.sum() == 2 and len(family) == 2 * len(METRICS)
    assert (family.correction_family_size == len(family)).all()
    assert family.loc[lost, "adjusted_p_value"].isna().all() and family.loc[lost, "is_significant"].isna().all()
    # the others are adjusted as if the lost hypotheses had p = 1: never smaller than without them
    as_one = family.p_value.fillna(1.0)
    expected = multipletests(as_one, method=sm_method)[1]
    np.testing.assert_allclose(family.loc[~lost, "adjusted_p_value"], expected[~lost.to_numpy()], rtol=RTOL)
    shrunk = multipletests(family.loc[~lost, "p_value"], method=sm_method)[1]
    assert (family.loc[~lost, "adjusted_p_value"].to_numpy() >= shrunk - 1e-15).all()
    assert (family.loc[~lost, "adjusted_p_value"].to_numpy() > shrunk).any()


def test_three_variant_experiment_detects_the_real_effect_only(results):
    rows = results[(results.experiment_id == "exp_three") & (results.metric_id == "revenue")]
    assert rows.loc[rows.variant_id == "c", "is_significant"].all()  # 20 % lift on revenue
    assert not rows.loc[rows.variant_id == "b", "is_significant"].any()  # A/A arm


# --- rows that cannot be estimated ---------------------------------------------------------------


def _base(**overrides):
    row = dict(
        experiment_id="e", experiment_version=1, population="assigned", variant_id="t", metric_id="m",
        is_control=False, metric_type="mean", direction="increase", role="secondary",
        non_inferiority_margin=np.nan, n_units=100, metric_sum=50.0, metric_sum_of_squares=80.0,
        denominator_sum=np.nan, denominator_sum_of_squares=np.nan, metric_denominator_cross_sum=np.nan,
        covariate_sum=np.nan, covariate_sum_of_squares=np.nan, metric_covariate_cross_sum=np.nan,
    )  # fmt: skip
    row.update(overrides)
    return row


def _pair(metric_id, control=None, variant=None, **common):
    return [
        _base(**{"metric_id": metric_id, "variant_id": "c", "is_control": True, **common, **(control or {})}),
        _base(**{"metric_id": metric_id, "variant_id": "t", **common, **(variant or {})}),
    ]


def test_bad_groups_produce_status_rows_not_exceptions():
    cov = dict(covariate_sum=40.0, covariate_sum_of_squares=60.0, metric_covariate_cross_sum=45.0)
    rows = (
        _pair("ok")
        + _pair("tiny_control", control=dict(n_units=1, metric_sum=1.0, metric_sum_of_squares=1.0))
        + _pair("constant", control=dict(metric_sum=100.0, metric_sum_of_squares=100.0),
                variant=dict(metric_sum=100.0, metric_sum_of_squares=100.0))
        + _pair("zero_base", control=dict(metric_sum=0.0, metric_sum_of_squares=0.0))
        + _pair("ratio_zero_den", metric_type="ratio", control=dict(
            denominator_sum=0.0, denominator_sum_of_squares=0.0, metric_denominator_cross_sum=0.0),
            variant=dict(denominator_sum=120.0, denominator_sum_of_squares=200.0,
                         metric_denominator_cross_sum=90.0))
        + _pair("cuped_partial", control=cov)
        + _pair("garbage", control=dict(metric_sum=np.nan))
        + _pair("guard_no_margin", role="guardrail")
        + [_base(metric_id="no_control", variant_id="t1"), _base(metric_id="no_control", variant_id="t2")]
        + _pair("weird_type", metric_type="quantile")
    )  # fmt: skip
    out = compute_metric_results(pd.DataFrame(rows))
    assert list(out.columns) == EXPECTED_METRIC_COLUMNS
    reason = {(r.metric_id, r.variant_id, r.estimator): r.status_reason for r in out.itertuples()}
    assert reason[("ok", "t", "unadjusted")] is None or pd.isna(reason[("ok", "t", "unadjusted")])
    assert reason[("tiny_control", "t", "unadjusted")] == "n < 2 in control"
    assert reason[("constant", "t", "unadjusted")] == "zero variance"
    assert reason[("zero_base", "t", "unadjusted")] == "zero baseline mean"
    assert reason[("ratio_zero_den", "t", "unadjusted")] == "zero denominator in control"
    assert reason[("cuped_partial", "t", "cuped")] == "covariate missing in variant"
    assert "finite" in reason[("garbage", "t", "unadjusted")]
    assert reason[("guard_no_margin", "t", "unadjusted")] == "no non-inferiority margin configured"
    assert reason[("no_control", "t1", "unadjusted")] == "no control variant"
    assert reason[("no_control", "t2", "unadjusted")] == "no control variant"
    assert reason[("weird_type", "t", "unadjusted")] == "unknown metric_type 'quantile'"

    by = out.set_index(["metric_id", "variant_id", "estimator"])
    assert by.loc[("tiny_control", "t", "unadjusted"), ["absolute_lift", "p_value", "adjusted_p_value"]].isna().all()
    assert pd.isna(by.loc[("tiny_control", "t", "unadjusted"), "is_significant"])
    # zero baseline: the absolute lift is still estimated, only the relative one is missing
    zero = by.loc[("zero_base", "t", "unadjusted")]
    assert np.isfinite(zero.absolute_lift) and np.isfinite(zero.p_value) and np.isnan(zero.relative_lift)
    assert by.loc[("guard_no_margin", "t", "unadjusted"), "guardrail_status"] == "inconclusive"
    # unestimable rows stay in the multiple-testing family (as p = 1): every unadjusted row counts
    ok = by.loc[("ok", "t", "unadjusted")]
    unadjusted = out[out.estimator == "unadjusted"]
    assert ok.adjusted_p_value >= ok.p_value
    assert (unadjusted.correction_family_size == len(unadjusted)).all() and len(
        unadjusted
    ) > unadjusted.p_value.notna().sum()


def test_missing_covariate_everywhere_skips_cuped():
    out = compute_metric_results(pd.DataFrame(_pair("m")))
    assert list(out["estimator"]) == ["unadjusted"]


def test_sequential_interval_uses_target_n_and_per_row_override():
    rows = _pair("m") + _pair("m2", sequential_target_n=500.0)
    df = pd.DataFrame(rows)
    df.loc[df.metric_id == "m", "sequential_target_n"] = np.nan  # falls back to the argument
    out = compute_metric_results(df, sequential_target_n=2_000).set_index("metric_id")
    control, variant = SampleStats(100, 50.0, 80.0), SampleStats(100, 50.0, 80.0)
    fixed = welch_absolute_lift(control, variant)
    for metric_id, target in (("m", 2_000), ("m2", 500)):
        seq = asymptotic_confidence_sequence(fixed.estimate, fixed.std_error, 200, target_n=target)
        assert out.loc[metric_id, "sequential_ci_upper"] == pytest.approx(seq.upper, rel=RTOL)
    assert out.loc["m", "sequential_ci_upper"] != pytest.approx(out.loc["m2", "sequential_ci_upper"])


def test_missing_columns_are_named():
    df = pd.DataFrame(_pair("m")).drop(columns=["n_units", "metric_sum"])
    with pytest.raises(ValueError, match="missing required column.*n_units, metric_sum"):
        compute_metric_results(df)


def test_optional_columns_may_be_absent():
    df = pd.DataFrame(_pair("m")).drop(columns=["covariate_sum", "denominator_sum"])
    out = compute_metric_results(df)
    assert len(out) == 1 and np.isfinite(out["p_value"].iloc[0])


@pytest.mark.parametrize(("kwargs", "message"), [(dict(alpha=1.5), "alpha"), (dict(correction="bonf"), "correction")])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_metric_results(pd.DataFrame(_pair("m")), **kwargs)


def test_empty_input_gives_empty_frame_with_columns():
    out = compute_metric_results(pd.DataFrame(columns=list(_base())))
    assert out.empty and list(out.columns) == EXPECTED_METRIC_COLUMNS


def test_proportion_uses_sum_as_sum_of_squares():
    """0/1 values: the sum of squares is the sum; the column is ignored (NaN here)."""
    rows = _pair("p", metric_type="proportion", control=dict(metric_sum=30.0, metric_sum_of_squares=np.nan),
                 variant=dict(metric_sum=45.0, metric_sum_of_squares=np.nan))  # fmt: skip
    out = compute_metric_results(pd.DataFrame(rows))
    control = np.r_[np.ones(30), np.zeros(70)]
    variant = np.r_[np.ones(45), np.zeros(55)]
    assert out["p_value"].iloc[0] == pytest.approx(sps.ttest_ind(variant, control, equal_var=False).pvalue, rel=RTOL)


def test_is_control_given_as_text_is_parsed():
    rows = _pair("m", control=dict(is_control="true"), variant=dict(is_control="false"))
    out = compute_metric_results(pd.DataFrame(rows))
    assert list(out["variant_id"]) == ["t"] and list(out["control_variant_id"]) == ["c"]


# --- the batched path equals the per-pair reference ------------------------------------------------


def _synthetic_stats(n_experiments, rng):
    """Per-arm sufficient statistics shaped like marts.fct_variant_metric_stats (and like the
    10,000-row frame of scripts/bench.py): experiments x 2 populations x 5 metrics x 2-3 variants,
    with covariates, so every estimator (welch, delta_ratio, cuped_welch) runs in one batch."""
    metrics = (("conversion", "proportion", "primary", np.nan), ("revenue", "mean", "secondary", np.nan),
               ("sessions", "count", "secondary", np.nan), ("revenue_per_session", "ratio", "secondary", np.nan),
               ("retention_d7", "proportion", "guardrail", 0.02))  # fmt: skip
    rows = []
    for e in range(n_experiments):
        variants = ["control", "treatment"] + (["treatment_b"] if e % 3 == 0 else [])
        for population in ("assigned", "exposed"):
            for metric_id, metric_type, role, margin in metrics:
                base = rng.uniform(0.05, 0.3) if metric_type == "proportion" else rng.uniform(1, 20)
                for variant_id in variants:
                    n = int(rng.integers(50, 50_000))
                    mean = base * (1.0 if variant_id == "control" else rng.uniform(0.97, 1.05))
                    sd = np.sqrt(mean * (1 - mean)) if metric_type == "proportion" else mean * rng.uniform(0.5, 3)
                    total = round(n * mean) if metric_type == "proportion" else n * mean
                    cov_mean, cov_sd, rho = mean * 0.9, sd * 1.1, rng.uniform(0.2, 0.7)
                    row = _base(
                        experiment_id=f"exp_{e:03d}", population=population, variant_id=variant_id,
                        metric_id=metric_id, is_control=variant_id == "control", metric_type=metric_type,
                        role=role, non_inferiority_margin=margin, n_units=n, metric_sum=total,
                        metric_sum_of_squares=n * (sd**2 + mean**2), covariate_sum=n * cov_mean,
                        covariate_sum_of_squares=n * (cov_sd**2 + cov_mean**2),
                        metric_covariate_cross_sum=n * (rho * sd * cov_sd + mean * cov_mean),
                    )  # fmt: skip
                    if metric_type == "ratio":
                        row.update(denominator_sum=n * 4.0, denominator_sum_of_squares=n * 20.0,
                                   metric_denominator_cross_sum=n * (0.3 * sd * 2.0 + mean * 4.0))  # fmt: skip
                    rows.append(row)
    return rows


def _with_failures(rows, rng):
    """Plant every kind of per-pair failure among good pairs, so failing pairs share a batch with
    good ones (the batched path splits such a batch until each failing pair is alone)."""
    rows = [dict(r) for r in rows]
    plants = [
        dict(n_units=1, metric_sum=1.0, metric_sum_of_squares=1.0),  # n < 2
        dict(n_units=-5),  # n must be non-negative
        dict(metric_sum=np.nan),  # not finite
        dict(metric_sum=0.0, metric_sum_of_squares=0.0),  # zero baseline mean (control)
        dict(metric_sum=1e6, metric_sum_of_squares=1.0),  # inconsistent sufficient statistics
        dict(covariate_sum=np.nan),  # covariate missing
        dict(covariate_sum=10.0, covariate_sum_of_squares=1.0),  # inconsistent covariate
        dict(denominator_sum=0.0, denominator_sum_of_squares=0.0, metric_denominator_cross_sum=0.0),
        dict(sequential_target_n=500.0),  # per-row override of the planned sample size
        dict(sequential_target_n=-1.0),  # invalid override: falls back to the argument
        dict(non_inferiority_margin=np.nan),
    ]
    for i in rng.choice(len(rows), size=3 * len(plants), replace=False):
        rows[i].update(plants[int(i) % len(plants)])
    for r in rows:
        r.setdefault("sequential_target_n", np.nan)
    # constant arms (zero variance) and a constant covariate (zero covariate variance)
    for r in rows[:10]:
        r.update(metric_sum=r["n_units"] * 2.0, metric_sum_of_squares=r["n_units"] * 4.0)
    for r in rows[10:20]:
        r.update(covariate_sum=r["n_units"] * 3.0, covariate_sum_of_squares=r["n_units"] * 9.0)
    return rows


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_batched_results_equal_the_per_pair_reference(stats_and_raw, correction):
    """compute_metric_results estimates all pairs of one kind in one array call (speed is
    measured by scripts/bench.py, not here); every figure and every status_reason must equal,
    bit for bit, estimating each pair on its own with scalar statistics."""
    from readout.stats.results import _compute_metric_results

    rng = np.random.default_rng(7)
    rows = _with_failures(_synthetic_stats(30, rng), rng)
    bad = pd.DataFrame(
        _pair("ok") + _pair("tiny", control=dict(n_units=1)) + _pair("weird", metric_type="quantile")
        + _pair("guard", role="guardrail")
    )  # fmt: skip
    frame = pd.concat([pd.DataFrame(rows), bad, stats_and_raw[0]], ignore_index=True)
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)  # input order must not matter

    batched = compute_metric_results(frame, alpha=0.1, correction=correction, sequential_target_n=5_000)
    reference = _compute_metric_results(frame, 0.1, correction, 5_000.0, batched=False)
    pd.testing.assert_frame_equal(batched, reference, check_exact=True)
    # the planted failures did reach the table, each with its reason
    reasons = batched["status_reason"].dropna()
    for needle in ("n < 2 in", "must be non-negative", "must be finite", "zero baseline mean",
                   "inconsistent sufficient statistics", "covariate missing in", "zero denominator in",
                   "zero variance", "zero covariate variance", "no non-inferiority margin",
                   "unknown metric_type"):  # fmt: skip
        assert reasons.str.contains(needle, regex=False).any(), needle
    assert batched["p_value"].notna().sum() > len(batched) // 2


# --- sample ratio checks ---------------------------------------------------------------------------


def _srm_frame():
    rows = [
        ("e1", 1, "assigned", "control", 10_000, 0.5),
        ("e1", 1, "assigned", "treatment", 10_600, 0.5),
        ("e1", 1, "exposed", "control", 4_000, 0.5),
        ("e1", 1, "exposed", "treatment", 4_020, 0.5),
        ("e2", 3, "assigned", "a", 3_000, 0.25),
        ("e2", 3, "assigned", "b", 3_050, 0.25),
        ("e2", 3, "assigned", "c", 5_900, 0.5),
        ("e3", 1, "assigned", "control", 30, 0.9),
        ("e3", 1, "assigned", "treatment", 2, 0.1),
        ("e4", 1, "assigned", "control", 500, 0.6),
        ("e4", 1, "assigned", "treatment", 500, 0.6),
    ]
    cols = [
        "experiment_id",
        "experiment_version",
        "population",
        "variant_id",
        "observed_units",
        "expected_share",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_sample_ratio_checks():
    out = compute_sample_ratio_checks(_srm_frame())
    assert list(out.columns) == EXPECTED_SRM_COLUMNS
    assert len(out) == len(_srm_frame())
    level = ["chi_square", "degrees_of_freedom", "p_value", "is_sample_ratio_mismatch", "status_reason"]
    for _, group in out.groupby(["experiment_id", "experiment_version", "population"]):
        assert len(group[level].astype(str).drop_duplicates()) == 1  # experiment-level figures repeated

    e1 = out[(out.experiment_id == "e1") & (out.population == "assigned")]
    ref = sps.chisquare([10_000, 10_600], f_exp=[10_300, 10_300])
    np.testing.assert_allclose(e1["chi_square"], ref.statistic, rtol=RTOL)
    np.testing.assert_allclose(e1["p_value"], ref.pvalue, rtol=RTOL)
    assert e1["is_sample_ratio_mismatch"].all() and (e1["degrees_of_freedom"] == 1).all()
    np.testing.assert_allclose(e1["expected_units"], [10_300, 10_300], rtol=RTOL)

    exposed = out[(out.experiment_id == "e1") & (out.population == "exposed")]
    assert not exposed["is_sample_ratio_mismatch"].any() and exposed["status_reason"].isna().all()

    e2 = out[out.experiment_id == "e2"]
    ref = sps.chisquare([3_000, 3_050, 5_900], f_exp=11_950 * np.array([0.25, 0.25, 0.5]))
    np.testing.assert_allclose(e2["p_value"], ref.pvalue, rtol=RTOL)
    assert (e2["degrees_of_freedom"] == 2).all()

    e3 = out[out.experiment_id == "e3"]  # expected 3.2 < 5 in treatment: not applicable
    assert e3["p_value"].isna().all() and not e3["is_sample_ratio_mismatch"].any()
    assert e3["status_reason"].str.contains("expected count below minimum").all()
    np.testing.assert_allclose(e3["expected_units"], [28.8, 3.2], rtol=RTOL)

    e4 = out[out.experiment_id == "e4"]  # shares sum to 1.2: reported, not raised
    assert e4["status_reason"].str.contains("sum to 1").all() and e4["p_value"].isna().all()


def test_sample_ratio_threshold_and_min_expected_are_configurable():
    default = compute_sample_ratio_checks(_srm_frame())
    loose = compute_sample_ratio_checks(_srm_frame(), threshold=0.9, min_expected=1)
    assert loose.loc[loose.experiment_id == "e3", "p_value"].notna().all()  # 3.2 expected >= 1
    exposed = (default.experiment_id == "e1") & (default.population == "exposed")  # p ~ 0.82
    assert not default.loc[exposed, "is_sample_ratio_mismatch"].any()
    assert loose.loc[exposed, "is_sample_ratio_mismatch"].all()


def test_sample_ratio_missing_columns_are_named():
    with pytest.raises(ValueError, match="missing required column.*expected_share"):
        compute_sample_ratio_checks(_srm_frame().drop(columns=["expected_share"]))


def test_sample_ratio_checks_do_not_depend_on_the_input_row_order():
    # A warehouse scan returns rows in no fixed order; the chi-square is a floating-point sum over
    # the variants, and for these counts summing in the reversed order moves its last bit.
    counts = pd.DataFrame(
        {
            "experiment_id": "e",
            "experiment_version": 1,
            "population": "assigned",
            "variant_id": ["a", "b", "c", "d"],
            "observed_units": [949, 962, 1073, 984],
            "expected_share": [0.1, 0.2, 0.3, 0.4],
        }
    )
    forward = compute_sample_ratio_checks(counts)
    backward = compute_sample_ratio_checks(counts.iloc[[3, 1, 0, 2]])
    pd.testing.assert_frame_equal(forward, backward, check_exact=True)
    assert list(forward["variant_id"]) == ["a", "b", "c", "d"]
