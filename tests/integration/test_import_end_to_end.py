"""Issue 7: two real exports go through `readout import` and `dbt build`; readouts match independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from e2e import PROJECT, SHARED_DATA, dbt_build, project_env, query, readout

UDACITY = SHARED_DATA / "udacity_ab_data" / "ab_data.csv.gz"
COOKIE_CATS = SHARED_DATA / "cookie_cats" / "cookie_cats.csv"

pytestmark = pytest.mark.skipif(
    not (UDACITY.exists() and COOKIE_CATS.exists()), reason=f"shared data sets not found under {SHARED_DATA}"
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("imports")
    landing, warehouse = root / "landing", root / "readout.duckdb"
    env = project_env(landing, warehouse)
    readout("import", str(PROJECT / "mappings" / "udacity_ab_data.yml"), "--file", str(UDACITY), "--landing", str(landing), env=env)
    readout("import", str(PROJECT / "mappings" / "cookie_cats.yml"), "--file", str(COOKIE_CATS), "--landing", str(landing), env=env)
    dbt_build(landing, warehouse)
    return warehouse


def welch(control: np.ndarray, variant: np.ndarray, alpha: float = 0.05):
    """Independent Welch interval and p-value for variant - control (statsmodels)."""
    compare = CompareMeans(DescrStatsW(variant), DescrStatsW(control))
    lower, upper = compare.tconfint_diff(alpha=alpha, usevar="unequal")
    _, p_value, _ = compare.ttest_ind(usevar="unequal")
    return variant.mean() - control.mean(), lower, upper, p_value


def result_row(warehouse, experiment_id: str, metric_id: str, population: str = "exposed") -> pd.Series:
    rows = query(
        warehouse,
        f"""
        select * from marts.fct_metric_results
        where experiment_id = '{experiment_id}' and metric_id = '{metric_id}'
            and population = '{population}' and estimator = 'unadjusted'
        """,
    )
    assert len(rows) == 1, rows
    return rows.iloc[0]


def assert_matches(row: pd.Series, control: np.ndarray, variant: np.ndarray) -> None:
    lift, lower, upper, p_value = welch(control, variant, alpha=float(row.alpha))
    assert row.n_units_control == len(control) and row.n_units_variant == len(variant)
    assert row.absolute_lift == pytest.approx(lift, rel=1e-9, abs=1e-12)
    assert row.absolute_lift_ci_lower == pytest.approx(lower, rel=1e-9)
    assert row.absolute_lift_ci_upper == pytest.approx(upper, rel=1e-9)
    assert row.p_value == pytest.approx(p_value, rel=1e-7)


def udacity_cleaned() -> pd.DataFrame:
    """The documented policy, computed independently: drop users seen in more than one variant
    (assigned group or page shown), then keep each remaining user's first row."""
    raw = pd.read_csv(UDACITY)
    raw["row"] = np.arange(1, len(raw) + 1)
    raw["shown"] = raw.landing_page.map({"old_page": "control", "new_page": "treatment"})
    variants = pd.concat([raw[["user_id", "group"]].rename(columns={"group": "v"}), raw[["user_id", "shown"]].rename(columns={"shown": "v"})])
    several = variants.groupby("user_id").v.nunique()
    clean_users = several[several == 1].index
    kept = raw[raw.user_id.isin(clean_users)].sort_values(["timestamp", "row"]).drop_duplicates("user_id")
    return kept


def test_udacity_mismatched_rows_are_flagged_counted_and_excluded(warehouse):
    raw = pd.read_csv(UDACITY)
    mismatched = raw[(raw.group == "treatment") != (raw.landing_page == "new_page")]
    flagged = query(warehouse, "select * from intermediate.int_import_exposure_mismatches where experiment_id = 'udacity_landing_page'")
    assert len(flagged) == len(mismatched) == 3893
    units = query(warehouse, "select * from marts.fct_experiment_units where experiment_id = 'udacity_landing_page'")
    mismatched_units = set(mismatched.user_id.astype(str))
    out = units[units.unit_id.isin(mismatched_units)]
    assert len(out) == len(mismatched_units)
    assert out.is_in_several_variants.all() and not out.is_in_exposed_population.any()


def test_udacity_duplicate_policy_keeps_one_row_per_consistent_user(warehouse):
    kept = udacity_cleaned()
    units = query(warehouse, "select * from marts.fct_experiment_units where experiment_id = 'udacity_landing_page' and is_in_exposed_population")
    assert len(units) == len(kept)
    assert set(units.unit_id) == set(kept.user_id.astype(str))


def test_udacity_conversion_matches_statsmodels_on_the_same_cleaned_data(warehouse):
    kept = udacity_cleaned()
    row = result_row(warehouse, "udacity_landing_page", "converted")
    assert_matches(
        row,
        kept[kept.group == "control"].converted.to_numpy(float),
        kept[kept.group == "treatment"].converted.to_numpy(float),
    )


def test_cookie_cats_sample_ratio_check_reports_the_imbalance(warehouse):
    raw = pd.read_csv(COOKIE_CATS)
    counts = raw.version.value_counts().reindex(["gate_30", "gate_40"]).to_numpy()
    chi_square, p_value = scipy_stats.chisquare(counts, f_exp=[counts.sum() / 2] * 2)
    srm = query(warehouse, "select * from marts.fct_sample_ratio_checks where experiment_id = 'cookie_cats_gate' and population = 'assigned' order by variant_id")
    assert srm.observed_units.tolist() == counts.tolist() == [44700, 45489]
    assert srm.expected_units.tolist() == [counts.sum() / 2] * 2
    assert srm.chi_square.tolist() == pytest.approx([chi_square] * 2, rel=1e-9)
    assert srm.p_value.tolist() == pytest.approx([p_value] * 2, rel=1e-9)
    # The imbalance is real (p about 0.009) but does not cross the default 0.001 threshold.
    assert p_value < 0.01
    assert not srm.is_sample_ratio_mismatch.any()


@pytest.mark.parametrize("metric_id", ["retention_1", "retention_7", "sum_gamerounds"])
def test_cookie_cats_readouts_match_independent_computation(warehouse, metric_id):
    raw = pd.read_csv(COOKIE_CATS)
    values = raw[metric_id].astype(float)
    row = result_row(warehouse, "cookie_cats_gate", metric_id)
    assert_matches(row, values[raw.version == "gate_30"].to_numpy(), values[raw.version == "gate_40"].to_numpy())


def test_the_build_log_holds_a_started_and_a_finished_row_of_the_build(warehouse):
    """The on-run-start/on-run-end hooks (macros/build_log.sql) wrote both rows of each of the fixture's build's
    two dbt invocations (readout build: write and audit, then the status and publishing), and `readout report`
    reads them: no warning, the build's time in its header."""
    log = query(warehouse, "select * from main.readout_build_log order by started_at, event desc")
    assert log.event.tolist() == ["started", "finished", "started", "finished"]
    assert log.invocation_id.nunique() == 2 and (log.command == "build --full-refresh").all()
    built = set()
    for invocation in log.invocation_id.unique():
        started, finished = log[log.invocation_id == invocation].iloc[0], log[log.invocation_id == invocation].iloc[1]
        assert started.status == "started" and pd.isna(started.finished_at)
        assert finished.status == "success" and finished.started_at == started.started_at <= finished.finished_at
        assert finished.error_count == finished.test_failure_count == finished.skipped_count == 0
        assert pd.isna(finished.failed_nodes)
        built |= set(finished.built_models.split(", "))
    assert log.node_count.sum() > 50
    assert {"fct_metric_results", "fct_sample_ratio_checks", "published__fct_metric_results"} <= built
    report = readout("report", "--warehouse", str(warehouse), env=project_env(warehouse.parent / "landing", warehouse))
    first_line = report.stdout.splitlines()[0]
    assert first_line.startswith(f"readout: {warehouse} (published readout; population: exposed; last successful build ")
    assert "WARNING" not in report.stdout
