"""`readout report` as a readout a decision can be taken on (issue 13): a verdict per experiment version, the
decision estimator marked and the other a sensitivity line, both p-values labelled, the Bonferroni interval of
the family beside the 95% one, metrics ordered primary, guardrail, secondary, guardrail verdicts with their
margin, three sample-ratio levels with the planned split, a draft note, and --experiment. No dbt: the marts
are written by hand with every column the report reads."""

import re

import duckdb
import pandas as pd
import pytest
from scipy import stats as sps

from readout import cli
from readout.report import render

RESULT = {
    "population": "exposed",
    "variant_id": "treatment",
    "direction": "increase",
    "correction_method": "holm",
    "alpha": 0.05,
    "is_significant": False,
    "guardrail_status": None,
    "status_reason": None,
    "n_units_control": 5000,
    "n_units_variant": 5010,
    "readout_status": "confirmed",
    "status_reasons": None,
    "status_reason_text": "Confirmed: the version ended.",
}


def _result(
    experiment_version,
    metric_id,
    role,
    estimator,
    lift,
    lower,
    upper,
    p_value,
    adjusted,
    *,
    significant=False,
    mean_control=0.1,
    family=3,
    **extra,
):
    return {
        **RESULT,
        "experiment_id": "ab",
        "experiment_version": experiment_version,
        "metric_id": metric_id,
        "metric_role": role,
        "estimator": estimator,
        "relative_lift": lift,
        "relative_lift_ci_lower": lower,
        "relative_lift_ci_upper": upper,
        "p_value": p_value,
        "adjusted_p_value": adjusted,
        "is_significant": significant,
        "mean_control": mean_control,
        "mean_variant": None if mean_control is None else mean_control * (1 + lift),
        "correction_family_size": family if estimator == "cuped" else family + 1,
        **extra,
    }


def _results() -> pd.DataFrame:
    rows = []
    for version, retention in ((1, (-0.025, -0.04, -0.01)), (2, (0.01, -0.01, 0.03))):
        # secondary and guardrail rows first: the report orders them by role, not by the mart's order
        rows += [
            _result(version, "revenue", "secondary", "cuped", 0.02, -0.05, 0.09, 0.6, 1.0, mean_control=20.5),
            _result(version, "revenue", "secondary", "unadjusted", 0.03, -0.06, 0.12, 0.5, 1.0, mean_control=20.5),
            _result(
                version,
                "retention_d7",
                "guardrail",
                "cuped",
                *retention,
                0.002,
                0.004,
                significant=version == 1,
                mean_control=0.7,
            ),
            _result(version, "retention_d7", "guardrail", "unadjusted", *retention, 0.01, 0.03, mean_control=0.7),
            # CUPED significant, unadjusted not: they disagree, and CUPED is the one to decide on
            _result(version, "conversion", "primary", "cuped", 0.05, 0.02, 0.08, 0.001, 0.003, significant=True),
            _result(version, "conversion", "primary", "unadjusted", 0.04, -0.01, 0.09, 0.03, 0.12),
        ]
    # a metric that cannot be estimated: null numbers, a null is_significant (pandas' NA) and the mart's reason
    rows.append(
        _result(
            1,
            "sessions",
            "secondary",
            "unadjusted",
            None,
            None,
            None,
            None,
            None,
            significant=None,
            mean_control=None,
            status_reason="n < 2 in control",
        )
    )
    frame = pd.DataFrame(rows)
    return frame.astype({"is_significant": "boolean"})


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    srm = pd.DataFrame(
        [
            # 0.0086 against a 50/50 split: a warning, not "ok" (and not the mismatch the threshold 0.001 calls)
            ("ab", 1, "exposed", "control", 5000, 0.5, 0.0086, False, None),
            ("ab", 1, "exposed", "treatment", 5010, 0.5, 0.0086, False, None),
            ("ab", 2, "exposed", "control", 5000, 0.5, 0.5, False, None),
            ("ab", 2, "exposed", "treatment", 5010, 0.5, 0.5, False, None),
            ("dr", 1, "exposed", "control", 0, 0.9, None, None, "no units observed"),
            ("dr", 1, "exposed", "treatment", 0, 0.1, None, None, "no units observed"),
        ],
        columns=[
            "experiment_id",
            "experiment_version",
            "population",
            "variant_id",
            "observed_units",
            "expected_share",
            "p_value",
            "is_sample_ratio_mismatch",
            "status_reason",
        ],
    )
    stats = pd.DataFrame(
        [
            ("ab", version, "exposed", variant, metric, kind, margin)
            for version in (1, 2)
            for variant in ("control", "treatment")
            for metric, kind, margin in (
                ("conversion", "proportion", None),
                ("retention_d7", "proportion", 0.02),
                ("revenue", "mean", None),
            )
        ],
        columns=[
            "experiment_id",
            "experiment_version",
            "population",
            "variant_id",
            "metric_id",
            "metric_type",
            "non_inferiority_margin",
        ],
    )
    versions = pd.DataFrame(
        [("ab", 1, "A/B test", "concluded"), ("ab", 2, "A/B test", "concluded"), ("dr", 1, "Draft test", "draft")],
        columns=["experiment_id", "experiment_version", "experiment_name", "experiment_status"],
    )
    results = _results()
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        for name, frame in (
            ("marts.fct_sample_ratio_checks", srm),
            ("marts.fct_metric_results", results),
            ("marts.fct_variant_metric_stats", stats),
            ("intermediate.int_experiment_versions", versions),
        ):
            con.register("frame", frame)
            con.execute(f"create table {name} as select * from frame")
            con.unregister("frame")
        con.execute("alter table marts.fct_sample_ratio_checks alter p_value type double")
        con.execute("alter table marts.fct_sample_ratio_checks alter is_sample_ratio_mismatch type boolean")
        con.execute("alter table marts.fct_metric_results alter guardrail_status type varchar")
        con.execute("alter table marts.fct_metric_results alter status_reason type varchar")
        con.execute("alter table marts.fct_metric_results alter status_reasons type varchar")
    return path


def block(text: str, key: str) -> str:
    start = text.index(f"\n{key}")
    end = text.find("\n\n", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _bonferroni(lift, lower, upper, family):
    se = (upper - lower) / (2 * sps.norm.ppf(0.975))
    half = sps.norm.ppf(1 - 0.05 / (2 * family)) * se
    return f"Bonferroni m={family} {lift - half:+.1%}, {lift + half:+.1%}"


def test_sample_ratio_levels_and_the_planned_split(warehouse):
    text = render(warehouse)
    assert "  ab v1: control 5000, treatment 5010 (planned 50% / 50%); p = 0.0086  warning: borderline" in text
    assert "  ab v2: control 5000, treatment 5010 (planned 50% / 50%); p = 0.5  ok" in text
    assert "  dr v1: control 0, treatment 0 (planned 90% / 10%); p = n/a  n/a: no units observed" in text
    assert "sample ratio is borderline" in block(text, "ab v1")


def test_the_decision_estimator_leads_and_the_other_is_a_sensitivity_check(warehouse):
    version = block(render(warehouse), "ab v1")
    lines = version.splitlines()
    decision = lines.index(next(line for line in lines if line.startswith("    treatment conversion [cuped, decide]")))
    assert lines[decision] == (
        f"    treatment conversion [cuped, decide]: +5.0% (95% +2.0%, +8.0%; {_bonferroni(0.05, 0.02, 0.08, 3)}), "
        "p raw 0.001, p holm 0.003; control 10.00% vs 10.50%, n 5,000 vs 5,010  significant  [confirmed]"
    )
    assert lines[decision + 1] == (
        f"      sensitivity [unadjusted]: +4.0% (95% -1.0%, +9.0%; {_bonferroni(0.04, -0.01, 0.09, 4)}), "
        "p raw 0.03, p holm 0.12; control 10.00% vs 10.40%, n 5,000 vs 5,010  [confirmed]"
    )


def test_roles_in_order_and_a_harmed_guardrail_with_its_margin_blocks_shipping(warehouse):
    version = block(render(warehouse), "ab v1")
    headers = [line.strip() for line in version.splitlines() if re.fullmatch(r"  [a-z]+", line)]
    assert headers == ["primary", "guardrail", "secondary"]
    assert version.startswith(
        "\nab v1 (A/B test): DO NOT SHIP\n  verdict: Do not ship: guardrail treatment retention_d7 is harmed (-2.5%)."
    )
    assert (
        "    treatment retention_d7 [cuped, decide]: -2.5% (95% -4.0%, -1.0%; "
        f"{_bonferroni(-0.025, -0.04, -0.01, 3)}), p raw 0.002, p holm 0.004; control 70.00% vs 68.25%, "
        "n 5,000 vs 5,010  significant; guardrail HARMED (margin -2.0%)  [confirmed]"
    ) in version
    assert "    treatment revenue [cuped, decide]: +2.0% " in version and "control 20.5 vs 20.91" in version
    assert (
        "    treatment sessions [unadjusted, decide]: n/a (95% n/a, n/a), p raw n/a, p holm n/a, n 5,000 vs 5,010  "
        "n < 2 in control  [confirmed]"
    ) in version


def test_a_passing_guardrail_and_a_significant_primary_ship_unless_the_settings_decide_on_unadjusted(warehouse):
    assert block(render(warehouse), "ab v2").startswith(
        "\nab v2 (A/B test): SHIP\n  verdict: Ship: treatment conversion (+5.0%) significantly better"
    )
    assert "guardrail pass (margin -2.0%)" in block(render(warehouse), "ab v2")
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table intermediate.int_experiment_settings as select 'ab' as experiment_id, "
            "2 as experiment_version, 'unadjusted' as decision_estimator"
        )
    version = block(render(warehouse), "ab v2")
    assert version.startswith("\nab v2 (A/B test): DO NOT SHIP\n  verdict: Do not ship: no primary metric moved")
    assert "    treatment conversion [unadjusted, decide]: +4.0%" in version
    assert "      sensitivity [cuped]: +5.0%" in version
    assert "    treatment conversion [cuped, decide]" in block(render(warehouse), "ab v1")  # v1 keeps the default


def test_a_draft_says_so(warehouse):
    assert block(render(warehouse), "dr v1").startswith(
        "\ndr v1 (Draft test): DRAFT\n  verdict: A draft experiment: its numbers are a preview, not a readout to "
        "decide on.\n  note: this experiment is a draft"
    )


def test_one_experiment_and_an_unknown_one(warehouse, capsys):
    text = render(warehouse, experiment="ab", version=2)
    assert "\nab v2 (A/B test): SHIP" in text and "ab v1" not in text and "dr v1" not in text
    assert cli.main(["report", "--warehouse", str(warehouse), "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == (f"readout report: error: no experiment 'nope' in the readout of {warehouse}; known: ab, dr\n")
    assert cli.main(["report", "--warehouse", str(warehouse), "--experiment", "ab", "--version", "3"]) == 2
    assert capsys.readouterr().err == (
        f"readout report: error: no version 3 of ab in the readout of {warehouse}; known: v1, v2\n"
    )
