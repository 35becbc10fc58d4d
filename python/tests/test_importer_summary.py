"""Issue 14: summary-statistics exports (kind: summary) against scipy, degenerate rows, repeated looks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from readout.cli import UsageError
from readout.importer.aggregates import (
    REASON_MISSING_VARIANCE,
    REASON_ZERO_COUNT,
    REASON_ZERO_VARIANCE,
    parse_summary_mapping,
    summary_results,
    summary_statistics,
)

MAPPING = {
    "kind": "summary",
    "experiment_id": "paper",
    "control": "control",
    "columns": {
        "variant": "arm",
        "metric": "metric",
        "checkpoint": "day",
        "n": "users",
        "mean": "mean",
        "variance": "var",
    },
    "metrics": [
        {"metric_id": "revenue", "type": "mean"},
        {"metric_id": "conversion", "type": "proportion"},
        {"metric_id": "broken", "type": "mean"},
        {"metric_id": "flat", "type": "mean"},
    ],
}


def _export() -> pd.DataFrame:
    rows = []
    for day, scale in ((1, 1), (2, 2), (3, 3)):
        rows += [
            ("control", "revenue", day, 1000 * scale, 10.0, 25.0),
            ("treatment", "revenue", day, 1010 * scale, 10.4 + 0.01 * day, 27.0),
            ("control", "conversion", day, 1000 * scale, 0.10, None),  # proportion: no variance needed
            ("treatment", "conversion", day, 1010 * scale, 0.11, None),
            ("control", "broken", day, 0, None, None),  # a zero count
            ("treatment", "broken", day, 500, 3.0, None),  # a missing variance
            ("control", "flat", day, 300, 1.0, 0.0),  # zero variance in both arms
            ("treatment", "flat", day, 300, 1.0, 0.0),
        ]
    return pd.DataFrame(rows, columns=["arm", "metric", "day", "users", "mean", "var"])


def test_final_checkpoint_equals_scipy_and_degenerate_rows_have_reasons():
    mapping = parse_summary_mapping(MAPPING)
    stats, counts = summary_statistics(mapping, _export())
    assert counts == {"rows": 24, "rows_zero_count": 3, "rows_missing_variance": 3, "checkpoints": 3}
    results = summary_results(stats, alpha=0.05)
    final = results[results.is_final_checkpoint].set_index("metric_id")
    assert len(results) == 12 and (final.checkpoint == 3).all()
    revenue = final.loc["revenue"]
    t, p = scipy_stats.ttest_ind_from_stats(10.43, np.sqrt(27.0), 3030, 10.0, np.sqrt(25.0), 3000, equal_var=False)
    assert revenue.absolute_lift == pytest.approx(0.43, rel=1e-9)
    assert revenue.p_value == pytest.approx(p, rel=1e-9)
    assert revenue.status_reason is None or pd.isna(revenue.status_reason)
    p_c, p_t = 0.10, 0.11
    var_c, var_t = p_c * (1 - p_c) * 3000 / 2999, p_t * (1 - p_t) * 3030 / 3029
    _, p = scipy_stats.ttest_ind_from_stats(p_t, np.sqrt(var_t), 3030, p_c, np.sqrt(var_c), 3000, equal_var=False)
    assert final.loc["conversion"].p_value == pytest.approx(p, rel=1e-9)
    assert REASON_ZERO_COUNT in final.loc["broken"].status_reason
    assert REASON_MISSING_VARIANCE in final.loc["broken"].status_reason
    assert pd.isna(final.loc["broken"].p_value)
    assert final.loc["flat"].status_reason.startswith(REASON_ZERO_VARIANCE) and pd.isna(final.loc["flat"].p_value)


def test_sequence_over_checkpoints_controls_false_positives_under_repeated_looks():
    """The simulation of tests/stats/test_sequential.py (A/A, 20 looks) through the summary path: per-arm
    aggregates at every look of 300 experiments, the planned size as the sequence's target."""
    rng = np.random.default_rng(71)
    sims, n, looks = 300, 1_000, np.linspace(50, 1_000, 20).astype(int)
    rows = []
    for arm in ("control", "treatment"):
        x = rng.normal(1.0, 1.0, (sims, n))
        s = np.cumsum(x, axis=1)[:, looks - 1]
        ss = np.cumsum(x * x, axis=1)[:, looks - 1]
        for j, look in enumerate(looks):
            rows.append(
                pd.DataFrame(
                    {
                        "exp": [f"e{i}" for i in range(sims)],
                        "arm": arm,
                        "metric": "m",
                        "look": j,
                        "n": look,
                        "sum": s[:, j],
                        "ss": ss[:, j],
                    }
                )
            )
    export = pd.concat(rows, ignore_index=True)
    mapping = parse_summary_mapping(
        {
            "kind": "summary",
            "control": "control",
            "metrics": [{"metric_id": "m", "type": "mean"}],
            "columns": {
                "experiment": "exp",
                "variant": "arm",
                "metric": "metric",
                "checkpoint": "look",
                "n": "n",
                "sum": "sum",
                "sum_of_squares": "ss",
            },
        }
    )
    stats, _ = summary_statistics(mapping, export)
    results = summary_results(stats, alpha=0.05, planned_sample_size=2 * n)
    per_experiment = results.groupby("experiment_id")
    stopped_by_sequence = per_experiment.first_stop_checkpoint.first().notna().mean()
    peeking_fixed = per_experiment.apply(lambda g: (g.p_value < 0.05).any(), include_groups=False).mean()
    assert stopped_by_sequence <= 0.05, stopped_by_sequence
    assert peeking_fixed > 0.05, peeking_fixed
    assert peeking_fixed > stopped_by_sequence  # looking 20 times at the fixed-horizon test inflates its error


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "units"}, "kind is 'units'"),
        ({"columns": {"variant": "a", "metric": "m", "n": "n"}}, "give mean .* or sum .*, one of the two"),
        ({"columns": {"variant": "a", "metric": "m", "n": "n", "sum": "s"}}, "sum needs sum_of_squares"),
        ({"metrics": [{"metric_id": "m", "type": "ratio"}]}, r"metrics\[1\].type is 'ratio'"),
    ],
)
def test_summary_mapping_errors(change, message):
    with pytest.raises(UsageError, match=message):
        parse_summary_mapping({**MAPPING, **change})


def test_readout_import_says_summary_mappings_are_not_landed_yet(tmp_path):
    import yaml

    from readout.importer.mapping import load_mapping

    (tmp_path / "m.yml").write_text(yaml.safe_dump(MAPPING))
    with pytest.raises(UsageError, match="kind: summary .* is not imported into the landing zone yet"):
        load_mapping(tmp_path / "m.yml")
