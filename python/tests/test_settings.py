"""readout.settings: each experiment's alpha, planned sample size and planned split applied to the statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from readout.settings import SPLIT_UNKNOWN_REASON, metric_results_with_settings, sample_ratio_checks_with_settings
from readout.stats.results import compute_metric_results, compute_sample_ratio_checks


def _stats(experiment_id: str, shift: float) -> pd.DataFrame:
    rows = []
    for variant, n, mean in (("control", 400, 1.0), ("treatment", 420, 1.0 + shift)):
        rows.append(
            dict(
                experiment_id=experiment_id,
                experiment_version=1,
                population="assigned",
                variant_id=variant,
                metric_id="m",
                is_control=variant == "control",
                metric_type="mean",
                direction="increase",
                role="primary",
                non_inferiority_margin=np.nan,
                n_units=n,
                metric_sum=n * mean,
                metric_sum_of_squares=n * (mean * mean + 4.0),
            )
        )
    return pd.DataFrame(rows)


def test_each_experiment_gets_its_alpha_and_planned_size_and_the_rest_the_defaults():
    stats = pd.concat([_stats("a", 0.3), _stats("b", 0.2)], ignore_index=True)
    settings = pd.DataFrame(
        {"experiment_id": ["a"], "experiment_version": [1], "alpha": [0.10], "planned_sample_size": [900]}
    )
    out = metric_results_with_settings(stats, settings, alpha=0.05, correction="holm")
    a = compute_metric_results(_stats("a", 0.3).assign(sequential_target_n=900.0), alpha=0.10)
    b = compute_metric_results(_stats("b", 0.2), alpha=0.05)
    expected = pd.concat([a, b], ignore_index=True)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected, check_dtype=False)
    assert out.groupby("experiment_id").alpha.first().to_dict() == {"a": 0.10, "b": 0.05}


def test_an_unknown_split_is_not_tested_and_says_so():
    counts = pd.DataFrame(
        {
            "experiment_id": ["a", "a", "b", "b"],
            "experiment_version": 1,
            "population": "assigned",
            "variant_id": ["c", "t"] * 2,
            "observed_units": [100, 140, 100, 140],
            "expected_share": 0.5,
        }
    )
    settings = pd.DataFrame(
        {"experiment_id": ["a", "b"], "experiment_version": [1, 1], "planned_split": ["unknown", "assumed_equal"]}
    )
    out = sample_ratio_checks_with_settings(counts, settings, threshold=0.001, min_expected=5)
    a, b = out[out.experiment_id == "a"], out[out.experiment_id == "b"]
    assert a.p_value.isna().all() and (a.status_reason == SPLIT_UNKNOWN_REASON).all()
    assert not a.is_sample_ratio_mismatch.any()
    reference = compute_sample_ratio_checks(counts[counts.experiment_id == "b"], threshold=0.001, min_expected=5)
    assert b.p_value.tolist() == reference.p_value.tolist() and b.status_reason.isna().all()
