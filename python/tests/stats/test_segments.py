"""Per-segment results and sample-ratio checks: each segment analysed exactly as a population of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare, ttest_ind_from_stats

from readout.stats import compute_metric_results, compute_sample_ratio_checks
from readout.stats.segments import compute_segment_readout


def _stats(rng):
    rows = []
    for segment_value in ("ios", "web"):
        for metric_id, role in (("conversion", "primary"), ("sessions", "secondary")):
            for variant_id, is_control in (("control", True), ("treatment", False)):
                n = int(rng.integers(200, 400))
                values = rng.poisson(1.5, n) if metric_id == "sessions" else rng.binomial(1, 0.2, n)
                rows.append(
                    dict(
                        experiment_id="exp",
                        experiment_version=1,
                        population="exposed",
                        segment_type="exposure_platform",
                        segment_value=segment_value,
                        variant_id=variant_id,
                        metric_id=metric_id,
                        is_control=is_control,
                        metric_type="count" if metric_id == "sessions" else "proportion",
                        direction="increase",
                        role=role,
                        non_inferiority_margin=np.nan,
                        n_units=n,
                        metric_sum=float(values.sum()),
                        metric_sum_of_squares=float((values**2).sum()),
                    )
                )
    return pd.DataFrame(rows)


def _counts():
    rows = []
    for segment_value, (c, t) in {"ios": (500, 430), "web": (700, 690)}.items():
        for variant_id, units in (("control", c), ("treatment", t)):
            rows.append(
                dict(
                    experiment_id="exp",
                    experiment_version=1,
                    population="exposed",
                    segment_type="exposure_platform",
                    segment_value=segment_value,
                    variant_id=variant_id,
                    observed_units=units,
                    expected_share=0.5,
                )
            )
    return pd.DataFrame(rows)


def test_each_segment_is_its_own_population_and_family():
    stats, counts = _stats(np.random.default_rng(3)), _counts()
    out = compute_segment_readout(stats, counts, alpha=0.05, correction="holm")
    for segment_value, group in stats.groupby("segment_value"):
        alone = compute_metric_results(
            group.drop(columns=["segment_type", "segment_value"]), alpha=0.05, correction="holm"
        )
        mine = out[out["segment_value"] == segment_value].drop(
            columns=[
                "segment_type",
                "segment_value",
                "segment_units",
                "srm_p_value",
                "is_sample_ratio_mismatch",
                "srm_status_reason",
                "metric_role",
                "direction",
                "is_exploratory",
            ]
        )
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone.reset_index(drop=True))
        # a family: the segment's 2 metrics x 1 treatment of one estimator, not the 4 of both segments
        assert (out.loc[out["segment_value"] == segment_value, "correction_family_size"] == 2).all()
    # the figures are Welch's t (scipy) on the segment's own units
    row = out[(out.segment_value == "web") & (out.metric_id == "sessions") & (out.estimator == "unadjusted")].iloc[0]
    arms = stats[(stats.segment_value == "web") & (stats.metric_id == "sessions")].set_index("variant_id")
    sd = {
        v: np.sqrt(
            (arms.loc[v, "metric_sum_of_squares"] - arms.loc[v, "metric_sum"] ** 2 / arms.loc[v, "n_units"])
            / (arms.loc[v, "n_units"] - 1)
        )
        for v in arms.index
    }
    mean = {v: arms.loc[v, "metric_sum"] / arms.loc[v, "n_units"] for v in arms.index}
    ref = ttest_ind_from_stats(
        mean["treatment"],
        sd["treatment"],
        arms.loc["treatment", "n_units"],
        mean["control"],
        sd["control"],
        arms.loc["control", "n_units"],
        equal_var=False,
    )
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert out["is_exploratory"].all() and set(out["metric_role"]) == {"primary", "secondary"}


def test_segment_sample_ratio_is_a_chi_square_per_segment():
    out = compute_segment_readout(_stats(np.random.default_rng(4)), _counts())
    for segment_value, (c, t) in {"ios": (500, 430), "web": (700, 690)}.items():
        rows = out[out["segment_value"] == segment_value]
        np.testing.assert_allclose(rows["srm_p_value"], chisquare([c, t]).pvalue, rtol=1e-9)
        assert (rows["segment_units"] == c + t).all()
    srm = compute_sample_ratio_checks(
        _counts().query("segment_value == 'ios'").drop(columns=["segment_type", "segment_value"])
    )
    assert out.loc[out.segment_value == "ios", "srm_p_value"].iloc[0] == pytest.approx(
        srm["p_value"].iloc[0], rel=1e-12
    )


def test_a_separator_inside_a_segment_is_refused():
    counts = _counts()
    counts.loc[0, "segment_value"] = "i\x1fos"
    with pytest.raises(ValueError, match="U\\+001F"):
        compute_segment_readout(_stats(np.random.default_rng(1)), counts)
