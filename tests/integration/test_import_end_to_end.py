"""Issue 7: two real exports go through `readout import` and `dbt build`; readouts match independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from e2e import PROJECT, SHARED_DATA, dbt_build, project_env, query, readout
from import_exports import survey_rows, visits, write_visits
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from readout.contracts import load_contracts
from readout.contracts.validate import validate
from readout.settings import SPLIT_UNKNOWN_REASON
from readout.stats.sequential import asymptotic_confidence_sequence

UDACITY = SHARED_DATA / "udacity_ab_data" / "ab_data.csv.gz"
COOKIE_CATS = SHARED_DATA / "cookie_cats" / "cookie_cats.csv"
SUMMARY = PROJECT / "mappings" / "example_summary.csv"

pytestmark = pytest.mark.skipif(
    not (UDACITY.exists() and COOKIE_CATS.exists()), reason=f"shared data sets not found under {SHARED_DATA}"
)


@pytest.fixture(scope="module")
def real_exports(imported_simulation):
    """The two real exports with their default mappings: the session's imported-only warehouse (conftest)."""
    return imported_simulation


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """One build of the mapping features: the Udacity export with the textbook cleaning, the crafted visits
    export read by mappings/example_survey.yml and example_unknown_split.yml (no timestamp), and the crafted
    summary-statistics export mappings/example_summary.csv (kind: summary, three weekly checkpoints)."""
    root = tmp_path_factory.mktemp("imports")
    landing, warehouse = root / "landing", root / "readout.duckdb"
    env = project_env(landing, warehouse)
    write_visits(root / "visits.csv")
    for mapping, export in (
        ("udacity_textbook.yml", UDACITY),
        ("example_survey.yml", root / "visits.csv"),
        ("example_unknown_split.yml", root / "visits.csv"),
        ("example_summary.yml", SUMMARY),
    ):
        mapping_file = str(PROJECT / "mappings" / mapping)
        readout("import", mapping_file, "--file", str(export), "--landing", str(landing), env=env)
    dbt_build(landing, warehouse)
    return warehouse


def welch(control: np.ndarray, variant: np.ndarray, alpha: float = 0.05):
    """Independent Welch interval and p-value for variant - control (statsmodels)."""
    compare = CompareMeans(DescrStatsW(variant), DescrStatsW(control))
    lower, upper = compare.tconfint_diff(alpha=alpha, usevar="unequal")
    _, p_value, _ = compare.ttest_ind(usevar="unequal")
    return variant.mean() - control.mean(), lower, upper, p_value


def result_row(warehouse, experiment_id: str, metric_id: str, population: str = "exposed") -> pd.Series:
    """The unadjusted readout row of one metric."""
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
    variants = pd.concat(
        [
            raw[["user_id", "group"]].rename(columns={"group": "v"}),
            raw[["user_id", "shown"]].rename(columns={"shown": "v"}),
        ]
    )
    several = variants.groupby("user_id").v.nunique()
    clean_users = several[several == 1].index
    kept = raw[raw.user_id.isin(clean_users)].sort_values(["timestamp", "row"]).drop_duplicates("user_id")
    return kept


def test_udacity_mismatched_rows_are_flagged_counted_and_excluded(real_exports):
    raw = pd.read_csv(UDACITY)
    mismatched = raw[(raw.group == "treatment") != (raw.landing_page == "new_page")]
    flagged = query(
        real_exports,
        "select * from intermediate.int_import_exposure_mismatches where experiment_id = 'udacity_landing_page'",
    )
    assert len(flagged) == len(mismatched) == 3893
    units = query(real_exports, "select * from marts.fct_experiment_units where experiment_id = 'udacity_landing_page'")
    mismatched_units = set(mismatched.user_id.astype(str))
    out = units[units.unit_id.isin(mismatched_units)]
    assert len(out) == len(mismatched_units)
    assert out.is_in_several_variants.all() and not out.is_in_exposed_population.any()
    # intent to treat: a user assigned one group stays in the assigned population whatever page it was shown
    groups = raw.assign(user_id=raw.user_id.astype(str)).groupby("user_id").group.nunique()
    assigned_once = out.unit_id.map(groups) == 1
    assert assigned_once.any() and (out.is_in_assigned_population == assigned_once).all()
    assert (out[assigned_once].variant_id == out[assigned_once].assigned_variant_id).all()


def test_udacity_duplicate_policy_keeps_one_row_per_consistent_user(real_exports):
    kept = udacity_cleaned()
    units = query(
        real_exports,
        "select * from marts.fct_experiment_units "
        "where experiment_id = 'udacity_landing_page' and is_in_exposed_population",
    )
    assert len(units) == len(kept)
    assert set(units.unit_id) == set(kept.user_id.astype(str))


def test_udacity_conversion_matches_statsmodels_on_the_same_cleaned_data(real_exports):
    kept = udacity_cleaned()
    row = result_row(real_exports, "udacity_landing_page", "converted")
    assert_matches(
        row,
        kept[kept.group == "control"].converted.to_numpy(float),
        kept[kept.group == "treatment"].converted.to_numpy(float),
    )


def test_cookie_cats_sample_ratio_check_reports_the_imbalance(real_exports):
    raw = pd.read_csv(COOKIE_CATS)
    counts = raw.version.value_counts().reindex(["gate_30", "gate_40"]).to_numpy()
    chi_square, p_value = scipy_stats.chisquare(counts, f_exp=[counts.sum() / 2] * 2)
    srm = query(
        real_exports,
        "select * from marts.fct_sample_ratio_checks "
        "where experiment_id = 'cookie_cats_gate' and population = 'assigned' order by variant_id",
    )
    assert srm.observed_units.tolist() == counts.tolist() == [44700, 45489]
    assert srm.expected_units.tolist() == [counts.sum() / 2] * 2
    assert srm.chi_square.tolist() == pytest.approx([chi_square] * 2, rel=1e-9)
    assert srm.p_value.tolist() == pytest.approx([p_value] * 2, rel=1e-9)
    # The imbalance is real (p about 0.009) but does not cross the default 0.001 threshold.
    assert p_value < 0.01
    assert not srm.is_sample_ratio_mismatch.any()


@pytest.mark.parametrize("metric_id", ["retention_1", "retention_7", "sum_gamerounds"])
def test_cookie_cats_readouts_match_independent_computation(real_exports, metric_id):
    raw = pd.read_csv(COOKIE_CATS)
    values = raw[metric_id].astype(float)
    row = result_row(real_exports, "cookie_cats_gate", metric_id)
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
    assert first_line.startswith(
        f"readout: {warehouse} (published readout; population: exposed; last successful build "
    )
    assert "WARNING" not in report.stdout


# ------------------------------------------------------------------------------------ issue 14: mappings
def test_udacity_textbook_cleaning_by_mapping_gives_the_published_readout(warehouse):
    stats = query(
        warehouse,
        """
        select population, variant_id, n_units, metric_sum from marts.fct_variant_metric_stats
        where experiment_id = 'udacity_landing_page_textbook' and metric_id = 'converted'
        order by population, variant_id""",
    )
    published = [[17_489, 145_274], [17_264, 145_310]]
    for population in ("assigned", "exposed"):
        rows = stats[stats.population == population]
        assert rows[["metric_sum", "n_units"]].values.tolist() == published
    raw = pd.read_csv(UDACITY)
    raw["row"] = np.arange(1, len(raw) + 1)
    kept = raw[(raw.group == "treatment") == (raw.landing_page == "new_page")]  # the textbook's df2
    kept = kept.sort_values(["timestamp", "row"]).drop_duplicates("user_id")
    row = result_row(warehouse, "udacity_landing_page_textbook", "converted")
    assert_matches(
        row,
        kept[kept.group == "control"].converted.to_numpy(float),
        kept[kept.group == "treatment"].converted.to_numpy(float),
    )


def _survey_units(population: str = "exposed") -> pd.DataFrame:
    """The units of the survey example's analysis: one row per visitor (its first by time, then row). Exposed:
    only visitors whose kept rows are all in one variant, assigned and shown; assigned (intent to treat):
    visitors whose kept rows are all assigned one variant, whatever they were shown."""
    rows = survey_rows(visits())
    seen = rows[["visitor", "variant"]]
    if population == "exposed":
        shown = rows[["visitor", "shown_variant"]].set_axis(["visitor", "variant"], axis=1)
        seen = pd.concat([seen, shown])
    single = seen.groupby("visitor").variant.nunique()
    rows = rows[rows.visitor.isin(single[single == 1].index)]
    return rows.sort_values(["seen_at", "row"]).drop_duplicates("visitor")


def _delta_ratio(x_c, y_c, x_t, y_t, alpha):
    """Independent delta method for sum(x)/sum(y) per arm: (difference, lower, upper, p-value)."""

    def arm(x, y):
        r = x.mean() / y.mean()
        cov = np.cov(x, y, ddof=1)
        return r, (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (len(x) * y.mean() ** 2)

    (r_c, v_c), (r_t, v_t) = arm(x_c, y_c), arm(x_t, y_t)
    diff, se = r_t - r_c, np.sqrt(v_c + v_t)
    z = scipy_stats.norm.ppf(1 - alpha / 2)
    return diff, diff - z * se, diff + z * se, 2 * scipy_stats.norm.sf(abs(diff) / se)


@pytest.mark.parametrize("population", ["assigned", "exposed"])
@pytest.mark.parametrize(
    ("metric_id", "numerator", "denominator"),
    [
        (
            "yes_share",
            lambda u: (u.answer == "yes").astype(float),
            lambda u: u.answer.isin(["yes", "no"]).astype(float),
        ),
        ("revenue_per_session", lambda u: u.revenue.astype(float), lambda u: u.sessions.astype(float)),
    ],
)
def test_conditional_and_ratio_metrics_match_an_independent_delta_method(
    warehouse, population, metric_id, numerator, denominator
):
    units = _survey_units(population)
    row = result_row(warehouse, "survey_example", metric_id, population)
    assert row.alpha == 0.10  # the mapping's analysis.alpha
    c, t = units[units.variant == "control"], units[units.variant == "treatment"]
    diff, lower, upper, p_value = _delta_ratio(
        numerator(c).to_numpy(), denominator(c).to_numpy(), numerator(t).to_numpy(), denominator(t).to_numpy(), 0.10
    )
    assert (row.n_units_control, row.n_units_variant) == (len(c), len(t))
    assert row.absolute_lift == pytest.approx(diff, rel=1e-9, abs=1e-12)
    assert row.absolute_lift_ci_lower == pytest.approx(lower, rel=1e-9)
    assert row.absolute_lift_ci_upper == pytest.approx(upper, rel=1e-9)
    assert row.p_value == pytest.approx(p_value, rel=1e-9)


def test_guardrail_margin_alpha_and_planned_sample_size_reach_the_readout(warehouse):
    units = _survey_units()
    c = units[units.variant == "control"].orders.to_numpy(float)
    t = units[units.variant == "treatment"].orders.to_numpy(float)
    row = result_row(warehouse, "survey_example", "orders")
    assert_matches(row, c, t)  # Welch at the mapping's alpha 0.10
    stats = query(
        warehouse,
        "select distinct non_inferiority_margin, direction, role "
        "from marts.fct_variant_metric_stats "
        "where experiment_id = 'survey_example' and metric_id = 'orders'",
    )
    assert stats.values.tolist() == [[0.05, "increase", "guardrail"]]
    se = np.sqrt(c.var(ddof=1) / len(c) + t.var(ddof=1) / len(t))
    planned = asymptotic_confidence_sequence(t.mean() - c.mean(), se, len(c) + len(t), 0.10, target_n=600)
    default = asymptotic_confidence_sequence(t.mean() - c.mean(), se, len(c) + len(t), 0.10, target_n=10_000)
    assert (row.sequential_ci_lower, row.sequential_ci_upper) == pytest.approx((planned.lower, planned.upper), rel=1e-9)
    assert planned.lower != pytest.approx(default.lower, rel=1e-6)
    settings = query(warehouse, "select * from intermediate.int_experiment_settings order by experiment_id")
    survey = settings.set_index("experiment_id").loc["survey_example"]
    assert (survey.alpha, survey.planned_sample_size, survey.decision_estimator) == (0.10, 600, "unadjusted")
    assert (survey.planned_split, survey.several_variants_policy, survey.settings_source) == (
        "assumed_equal",
        "first_row",
        "mapping",
    )


def test_unknown_split_gets_no_sample_ratio_test(warehouse):
    srm = query(warehouse, "select * from marts.fct_sample_ratio_checks where experiment_id = 'unknown_split_example'")
    assert len(srm) == 4 and srm.p_value.isna().all() and not srm.is_sample_ratio_mismatch.any()
    assert (srm.status_reason == SPLIT_UNKNOWN_REASON).all()
    assumed = query(
        warehouse,
        "select * from marts.fct_sample_ratio_checks where experiment_id = 'survey_example' "
        "and population = 'assigned' order by variant_id",
    )
    counts = _survey_units("assigned").variant.value_counts().reindex(["control", "treatment"]).to_numpy()
    assert assumed.p_value.tolist() == pytest.approx([scipy_stats.chisquare(counts).pvalue] * 2, rel=1e-9)


def test_an_import_without_timestamps_passes_the_raw_contract(warehouse):
    """example_unknown_split.yml maps no timestamp, so no started_at: the raw contract `make demo` checks still
    holds, the rule being per row (a simulation beside it does not change the import's rows; the platform rows
    keep the rule)."""
    landing = warehouse.parent / "landing"
    experiments = pd.read_parquet(landing / "experiments" / "import_unknown_split_example.parquet")
    assert experiments.started_at.isna().all() and (experiments.status == "concluded").all()
    report = validate("raw", load_contracts(PROJECT / "contracts"), names=["raw_experiments"], landing=landing)
    assert not report.errors, [o.rule.rule for o in report.errors]


def test_imported_metrics_are_defined_by_their_mapping_not_blocked_by_the_catalog_rule(warehouse, real_exports):
    """fct_variant_metric_stats.metric_in_catalog guards catalog metrics; an import's metrics come from its mapping."""
    contracts = load_contracts(PROJECT / "contracts")
    for built in (warehouse, real_exports):
        report = validate("marts", contracts, names=["fct_variant_metric_stats"], warehouse=built)
        assert not report.errors, [o.rule.rule for o in report.errors]
    imported = query(
        warehouse,
        "select count(distinct metric_id) as n from marts.fct_variant_metric_stats "
        "where experiment_id <> 'example_summary'",
    )
    assert imported.n[0] == 4  # converted, yes_share, revenue_per_session, orders: all imported


def _summary_arms() -> pd.DataFrame:
    """mappings/example_summary.csv with each arm's sd (a proportion's from its mean) and sums, by pandas."""
    arms = pd.read_csv(SUMMARY)
    share = arms.metric == "conversion"
    p, n = arms["mean"][share], arms.users[share]
    arms.loc[share, "sd"] = np.sqrt(p * (1 - p) * n / (n - 1))
    return arms.assign(
        total=arms.users * arms["mean"], squares=(arms.users - 1) * arms.sd**2 + arms.users * arms["mean"] ** 2
    )


def test_summary_import_reaches_the_marts_at_its_last_checkpoint(warehouse):
    """kind: summary lands in fct_variant_metric_stats at the last checkpoint (both populations: exposure =
    assignment), and fct_metric_results gives scipy's ttest_ind_from_stats on the file's means and sds to 1e-9;
    the sample-ratio check counts each arm's units; degenerate pairs keep a result row with a reason."""
    arms = _summary_arms()
    last = arms[arms.week_ending == arms.week_ending.max()].set_index(["metric", "arm"])
    stats = query(warehouse, "select * from marts.fct_variant_metric_stats where experiment_id = 'example_summary'")
    assert sorted(stats.population.unique()) == ["assigned", "exposed"] and len(stats) == 2 * len(last)
    for row in stats.itertuples():
        assert row.n_units == last.loc[(row.metric_id, row.variant_id)].users
    results = query(
        warehouse,
        "select * from marts.fct_metric_results where experiment_id = 'example_summary' and population = 'assigned'",
    ).set_index("metric_id")
    assert set(results.index) == set(arms.metric) and (results.estimator == "unadjusted").all()
    for metric in ("conversion", "revenue"):
        c, t = last.loc[(metric, "control")], last.loc[(metric, "new_checkout")]
        _, p = scipy_stats.ttest_ind_from_stats(t["mean"], t.sd, t.users, c["mean"], c.sd, c.users, equal_var=False)
        assert results.loc[metric, "p_value"] == pytest.approx(p, rel=1e-9)
        assert results.loc[metric, "absolute_lift"] == pytest.approx(t["mean"] - c["mean"], rel=1e-9)
    for metric in ("refund_rate", "survey_score", "payment_errors"):  # missing sd, zero count, zero variance
        assert pd.isna(results.loc[metric, "p_value"])
    assert results.loc["refund_rate", "status_reason"] == "variant: summary row without a variance"  # the export's row
    assert results.loc["survey_score", "status_reason"] == "control: summary row with a zero or missing count"
    assert results.loc["payment_errors", "status_reason"] == "zero variance in both arms"
    srm = query(
        warehouse,
        "select * from marts.fct_sample_ratio_checks "
        "where experiment_id = 'example_summary' and population = 'assigned'",
    ).set_index("variant_id")
    units = last.groupby(level="arm").users.max()
    assert srm.observed_units.to_dict() == units.to_dict()
    assert srm.p_value.iloc[0] == pytest.approx(scipy_stats.chisquare(units.to_numpy()).pvalue, rel=1e-9)


def test_summary_checkpoints_give_the_always_valid_sequence(warehouse):
    """fct_metric_results_by_checkpoint: every checkpoint's fixed-horizon test (scipy) and confidence sequence
    (readout.stats' asymptotic_confidence_sequence at the mapping's planned size); the last checkpoint equals
    fct_metric_results; conversion's sequence excluded zero at week 2 of 3 (could have stopped early)."""
    arms = _summary_arms()
    by_checkpoint = query(
        warehouse,
        "select * from marts.fct_metric_results_by_checkpoint where experiment_id = 'example_summary' "
        "order by metric_id, checkpoint_index",
    )
    assert len(by_checkpoint) == 5 * 3 and set(by_checkpoint.checkpoint_label) == set(arms.week_ending)
    for row in by_checkpoint[by_checkpoint.metric_id.isin(["conversion", "revenue"])].itertuples():
        week = arms[(arms.week_ending == row.checkpoint_label) & (arms.metric == row.metric_id)].set_index("arm")
        c, t = week.loc["control"], week.loc["new_checkout"]
        _, p = scipy_stats.ttest_ind_from_stats(t["mean"], t.sd, t.users, c["mean"], c.sd, c.users, equal_var=False)
        assert row.p_value == pytest.approx(p, rel=1e-9)
        se = np.sqrt(t.sd**2 / t.users + c.sd**2 / c.users)
        seq = asymptotic_confidence_sequence(t["mean"] - c["mean"], se, t.users + c.users, alpha=0.05, target_n=30_000)
        assert (row.sequential_ci_lower, row.sequential_ci_upper) == pytest.approx((seq.lower, seq.upper), rel=1e-9)
        assert row.is_sequentially_significant == bool(seq.lower > 0 or seq.upper < 0)
    final = by_checkpoint[by_checkpoint.is_final_checkpoint].set_index("metric_id")
    served = query(
        warehouse,
        "select * from marts.fct_metric_results where experiment_id = 'example_summary' and population = 'assigned'",
    ).set_index("metric_id")
    columns = [
        "p_value",
        "absolute_lift_ci_lower",
        "absolute_lift_ci_upper",
        "sequential_ci_lower",
        "sequential_ci_upper",
    ]
    pd.testing.assert_frame_equal(final.loc[served.index, columns], served[columns], rtol=1e-12)
    conversion = final.loc["conversion"]
    assert conversion.first_stop_checkpoint_index == 2 and conversion.could_have_stopped_early
    assert not final.loc["revenue"].could_have_stopped_early and pd.isna(
        final.loc["revenue"].first_stop_checkpoint_index
    )
    reasons = final.status_reason.to_dict()
    assert reasons["refund_rate"] == "variant: summary row without a variance"
    assert reasons["survey_score"] == "control: summary row with a zero or missing count"
    assert reasons["payment_errors"] == "zero variance in both arms"
