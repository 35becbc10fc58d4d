"""Issue 14: summary-statistics exports (kind: summary) against scipy, degenerate rows, repeated looks, landing.

Pure: no dbt. The dbt path (fct_variant_metric_stats at the last checkpoint, fct_metric_results_by_checkpoint)
is tested in tests/integration/test_import_end_to_end.py on mappings/example_summary.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats as scipy_stats
from stats.test_sequential import DRAWS, LOOKS, N

from readout.cli import UsageError
from readout.importer import SummaryImportResult, import_export, load_import_mapping, remove_import, summary
from readout.importer.aggregates import (
    REASON_MISSING_VARIANCE,
    REASON_ZERO_COUNT,
    REASON_ZERO_VARIANCE,
    parse_summary_mapping,
    summary_results,
    summary_statistics,
)
from readout.stats import SampleStats, sequential_difference_in_means

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
ASOS = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "external"
    / "asos_digital_experiments"
    / "asos_digital_experiments_dataset.parquet"
)
RTOL = 1e-9

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
    assert counts == {
        "rows_read": 24,
        "rows": 24,
        "experiments": 1,
        "checkpoints": 3,
        "rows_zero_count": 3,
        "rows_missing_mean": 0,
        "rows_missing_variance": 3,
        "pairs_zero_variance_final": 1,
    }
    results = summary_results(stats, alpha=0.05)
    final = results[results.is_final_checkpoint].set_index("metric_id")
    assert len(results) == 12 and (final.checkpoint == 3).all()
    revenue = final.loc["revenue"]
    _, p = scipy_stats.ttest_ind_from_stats(10.43, np.sqrt(27.0), 3030, 10.0, np.sqrt(25.0), 3000, equal_var=False)
    assert revenue.absolute_lift == pytest.approx(0.43, rel=RTOL)
    assert revenue.p_value == pytest.approx(p, rel=RTOL)
    assert revenue.status_reason is None or pd.isna(revenue.status_reason)
    p_c, p_t = 0.10, 0.11
    var_c, var_t = p_c * (1 - p_c) * 3000 / 2999, p_t * (1 - p_t) * 3030 / 3029
    _, p = scipy_stats.ttest_ind_from_stats(p_t, np.sqrt(var_t), 3030, p_c, np.sqrt(var_c), 3000, equal_var=False)
    assert final.loc["conversion"].p_value == pytest.approx(p, rel=RTOL)
    assert final.loc["broken"].status_reason == f"control: {REASON_ZERO_COUNT}; variant: {REASON_MISSING_VARIANCE}"
    assert pd.isna(final.loc["broken"].p_value)
    assert final.loc["flat"].status_reason == REASON_ZERO_VARIANCE and pd.isna(final.loc["flat"].p_value)


def test_example_summary_import_lands_every_checkpoint_and_equals_scipy(tmp_path):
    """mappings/example_summary.yml through readout import: the landed aggregates give, at the last checkpoint,
    scipy's ttest_ind_from_stats on the file's means and sds; every checkpoint's sequence is readout.stats'."""
    landing = tmp_path / "landing"
    result = import_export(MAPPINGS / "example_summary.yml", MAPPINGS / "example_summary.csv", landing)
    assert isinstance(result, SummaryImportResult)
    text = summary(result)
    assert "rows not analysable    4 rows: 3 zero or missing count, 0 missing mean, 1 missing variance" in text
    assert "1 variant x metric pairs with zero variance in both arms" in text
    landed = pq.read_table(landing / "imports" / "summaries" / "example_summary.parquet").to_pandas()
    assert len(landed) == 30 and sorted(landed.checkpoint_index.unique()) == [1, 2, 3]
    source = pd.read_csv(MAPPINGS / "example_summary.csv")
    # the landed rows in the shape dbt's int_import_summary_stats gives them (types from the mapping)
    mapping = result.mapping
    types = {m.metric_id: m for m in mapping.metrics}
    stats = landed.assign(
        population="assigned",
        metric_type=landed.metric_id.map(lambda m: types[m].type),
        direction=landed.metric_id.map(lambda m: types[m].direction),
        role=landed.metric_id.map(lambda m: types[m].role),
        non_inferiority_margin=landed.metric_id.map(lambda m: types[m].margin).astype(float),
        is_control=landed.variant_id == "control",
    )
    results = summary_results(stats, planned_sample_size=mapping.planned_sample_size)
    for row in results.itertuples():
        arms = source[(source.metric == row.metric_id) & (source.week_ending == row.checkpoint_label)]
        c, t = arms[arms.arm == "control"].iloc[0], arms[arms.arm == "new_checkout"].iloc[0]
        if row.metric_id == "conversion":  # a proportion: its variance from its mean
            sd_c, sd_t = (np.sqrt(x["mean"] * (1 - x["mean"]) * x.users / (x.users - 1)) for x in (c, t))
        else:
            sd_c, sd_t = c.sd, t.sd
        if min(c.users, t.users) >= 2 and not np.isnan([sd_c, sd_t]).any() and max(sd_c, sd_t) > 0:
            _, p = scipy_stats.ttest_ind_from_stats(t["mean"], sd_t, t.users, c["mean"], sd_c, c.users, equal_var=False)
            assert row.p_value == pytest.approx(p, rel=RTOL)
            assert row.absolute_lift == pytest.approx(t["mean"] - c["mean"], rel=RTOL)
            seq = sequential_difference_in_means(
                SampleStats(c.users, c.users * c["mean"], (c.users - 1) * sd_c**2 + c.users * c["mean"] ** 2),
                SampleStats(t.users, t.users * t["mean"], (t.users - 1) * sd_t**2 + t.users * t["mean"] ** 2),
                alpha=0.05,
                target_n=mapping.planned_sample_size,
            )
            assert (row.sequential_ci_lower, row.sequential_ci_upper) == pytest.approx((seq.lower, seq.upper), rel=RTOL)
        else:
            assert pd.isna(row.p_value) and isinstance(row.status_reason, str)
    conversion = results[results.metric_id == "conversion"]
    assert (conversion.first_stop_checkpoint == 2).all() and conversion.could_have_stopped_early.all()
    # --remove takes every file of the import back out (the tables keep a placeholder)
    removed = {p.relative_to(landing).as_posix() for p in remove_import(landing, "example_summary")}
    assert "imports/summaries/example_summary.parquet" in removed and len(removed) == 5
    assert (landing / "imports" / "summaries" / "_empty.parquet").exists()


def _simulated_export(draw, rng, sims: int) -> pd.DataFrame:
    """The per-arm aggregates of ``sims`` A/A experiments at the 20 looks of tests/stats/test_sequential.py."""
    parts = []
    for arm in ("control", "treatment"):
        x = draw(rng, (sims, N))
        s, ss = np.cumsum(x, axis=1)[:, LOOKS - 1], np.cumsum(x * x, axis=1)[:, LOOKS - 1]
        for j, look in enumerate(LOOKS):
            experiments = [f"e{i}" for i in range(sims)]
            parts.append(
                pd.DataFrame({"exp": experiments, "arm": arm, "look": j, "n": look, "s": s[:, j], "ss": ss[:, j]})
            )
    return pd.concat(parts, ignore_index=True).assign(metric="m")


@pytest.mark.parametrize("metric", sorted(DRAWS))
def test_sequence_over_checkpoints_controls_false_positives_under_repeated_looks(metric, tmp_path):
    """tests/stats/test_sequential.py's simulation (A/A, 20 looks, the same draws) through the summary path:
    a CSV of per-arm aggregates, readout import (kind: summary), the landed rows, summary_results (what dbt's
    fct_metric_results_by_checkpoint runs). The sequence keeps the any-look false-positive rate <= alpha; the
    fixed-horizon test peeked at the same looks does not."""
    draw, _ = DRAWS[metric]
    sims = 200
    export = _simulated_export(draw, np.random.default_rng(71 + sorted(DRAWS).index(metric)), sims)
    export.to_csv(tmp_path / "looks.csv", index=False)
    (tmp_path / "looks.yml").write_text(
        yaml.safe_dump(
            {
                "kind": "summary",
                "control": "control",
                "split": "equal",
                "metrics": [{"metric_id": "m", "type": "mean"}],
                "columns": {
                    "experiment": "exp",
                    "variant": "arm",
                    "metric": "metric",
                    "checkpoint": "look",
                    "n": "n",
                    "sum": "s",
                    "sum_of_squares": "ss",
                },
                "analysis": {"planned_sample_size": 2 * N},
            }
        )
    )
    landing = tmp_path / "landing"
    result = import_export(tmp_path / "looks.yml", tmp_path / "looks.csv", landing)
    assert result.counts["experiments"] == sims and result.counts["checkpoints"] == len(LOOKS)
    landed = pq.read_table(landing / "imports" / "summaries").to_pandas()
    stats = landed.assign(
        population="assigned",
        metric_type="mean",
        direction="increase",
        role="secondary",
        non_inferiority_margin=np.nan,
        is_control=landed.variant_id == "control",
    )
    results = summary_results(stats, alpha=0.05, planned_sample_size=2 * N)
    per_experiment = results.groupby("experiment_id")
    stopped_by_sequence = per_experiment.first_stop_checkpoint.first().notna().mean()
    peeking_fixed = per_experiment.p_value.min().lt(0.05).mean()
    final_fixed = results[results.is_final_checkpoint].p_value.lt(0.05).mean()
    assert stopped_by_sequence <= 0.05, stopped_by_sequence
    assert peeking_fixed > 0.05, peeking_fixed
    assert peeking_fixed > max(stopped_by_sequence, final_fixed)  # peeking at the fixed-horizon test inflates it


@pytest.mark.skipif(not ASOS.exists(), reason="ASOS Digital Experiments Dataset not found under ../shared")
def test_asos_wide_export_final_checkpoint_equals_scipy(tmp_path):
    """mappings/asos_digital_experiments.yml on the real wide export: at each series' last checkpoint, every
    pair with its counts and variances gives scipy's ttest_ind_from_stats; the others give a reason."""
    mapping = load_import_mapping(MAPPINGS / "asos_digital_experiments.yml")
    source = pd.read_parquet(ASOS)
    stats, counts = summary_statistics(mapping, source)
    assert counts["rows_read"] == len(source) and counts["experiments"] == source.experiment_id.nunique()
    final = stats[stats.checkpoint == stats.groupby("experiment_id").checkpoint.transform("max")]
    results = summary_results(final, alpha=0.05).set_index(["experiment_id", "variant_id", "metric_id"])
    last = source[source.time_since_start == source.groupby("experiment_id").time_since_start.transform("max")]
    assert len(results) == len(last)
    checked = 0
    for row in last.itertuples():
        got = results.loc[(row.experiment_id, str(row.variant_id), str(row.metric_id))]
        usable = min(row.count_c, row.count_t) >= 2 and not np.isnan([row.variance_c, row.variance_t]).any()
        if not usable:
            assert pd.isna(got.p_value) and isinstance(got.status_reason, str)
            continue
        _, p = scipy_stats.ttest_ind_from_stats(
            row.mean_t, np.sqrt(row.variance_t), row.count_t, row.mean_c, np.sqrt(row.variance_c), row.count_c, False
        )
        assert got.p_value == pytest.approx(p, rel=RTOL, abs=1e-300)
        checked += 1
    assert checked > 0.8 * len(last)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "units"}, "kind must be summary .*, got 'units'"),
        ({"columns": {"variant": "a", "metric": "m", "n": "n"}}, "give mean .* or sum .*, one of the two"),
        ({"columns": {"variant": "a", "metric": "m", "n": "n", "sum": "s"}}, "sum needs sum_of_squares"),
        (
            {"metrics": [{"metric_id": "m", "type": "ratio"}]},
            r"metrics\[1\] \(m\)\.type must be one of mean, proportion, got 'ratio'",
        ),
        ({"split": {"control": 0.5, "treatment": 50}}, "split weights sum to 50.5"),
        ({"control_columns": {"n": "n_c"}}, "control_columns must name the control's column for each statistic"),
        ({"analysis": {"decision_estimator": "cuped"}}, "CUPED needs units"),
        ({"control": None}, "missing required key 'control'"),  # was an AssertionError
        ({"metrics": [{"metric_id": "m", "type": "mean", "margin": 0.02}]}, "margin is a non-inferiority margin"),
    ],
)
def test_summary_mapping_errors(change, message):
    with pytest.raises(UsageError, match=message):
        parse_summary_mapping({**MAPPING, **change})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.assign(users=f.users.astype(object).where(f.index != 4, "many")), r"'many' \(row 5\)"),
        (lambda f: f.assign(var=f["var"].where(f.index != 1, -1.0)), "column 'var' has negative values"),
        (lambda f: f.assign(mean=f["mean"].where(f.index != 2, 1.5)), r"proportions outside \[0, 1\]"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "rows repeat an experiment x checkpoint x variant x metric"),
        (lambda f: f[f.arm != "control"], "no 'control' \\(control\\) row"),
        (lambda f: f.assign(day=f.day.astype(object).where(f.index != 3, "soon")), "neither numbers nor ISO-8601"),
    ],
)
def test_bad_cells_are_one_error_naming_the_column_and_row(edit, message):
    with pytest.raises(UsageError, match=message):
        summary_statistics(parse_summary_mapping(MAPPING), edit(_export()))


def test_readout_import_reads_either_kind(tmp_path):
    from readout.importer.mapping import load_mapping

    (tmp_path / "m.yml").write_text(yaml.safe_dump(MAPPING))
    assert load_import_mapping(tmp_path / "m.yml").experiment_id == "paper"
    with pytest.raises(UsageError, match="kind: summary .* is read by readout.importer.load_import_mapping"):
        load_mapping(tmp_path / "m.yml")
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({**MAPPING, "kind": "aggregate"}))
    with pytest.raises(UsageError, match="kind is 'aggregate'; expected units"):
        load_import_mapping(tmp_path / "bad.yml")
