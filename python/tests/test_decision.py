"""readout.decision: the sample-ratio levels, the four guardrail verdicts, the decision estimator, the Bonferroni
interval and one verdict per experiment version (issue 13). Pure: no dbt."""

import math

import pytest
from scipy import stats as sps

from readout.decision import (
    GUARDRAIL_VERDICTS,
    SRM_LEVELS,
    VERDICT_CODES,
    Verdict,
    decision_estimator,
    guardrail_verdict,
    simultaneous_interval,
    srm_level,
    version_verdict,
)


@pytest.mark.parametrize(
    ("p_value", "level"),
    [
        (0.0086, "warning"),  # the case: against srm_threshold 0.001 it is not "ok"
        (0.5, "ok"),
        (0.01, "ok"),
        (0.00999, "warning"),
        (0.001, "warning"),
        (0.000999, "mismatch"),
        (0.0, "mismatch"),
        (None, "not_tested"),
        (math.nan, "not_tested"),
    ],
)
def test_srm_has_three_levels_and_not_tested(p_value, level):
    assert srm_level(p_value, 0.001) == level
    assert level in SRM_LEVELS


def test_srm_warning_threshold_is_configurable():
    assert srm_level(0.03, 0.001, warning_threshold=0.05) == "warning"
    assert srm_level(0.03, 0.05) == "mismatch"  # a threshold above the warning level: mismatch wins


@pytest.mark.parametrize(
    ("lower", "upper", "margin", "direction", "verdict"),
    [
        # good way up, margin 2%
        (-0.05, -0.03, 0.02, "increase", "fail"),  # wholly beyond -2%
        (-0.03, -0.01, 0.02, "increase", "harmed"),  # wholly below zero, straddles the margin
        (-0.015, -0.005, 0.02, "increase", "harmed"),  # wholly below zero, within the margin: still harmed
        (-0.01, 0.03, 0.02, "increase", "pass"),  # harmful end within the margin
        (-0.03, 0.02, 0.02, "increase", "inconclusive"),  # straddles the margin and zero
        (-0.02, 0.01, 0.02, "increase", "inconclusive"),  # touches the margin: not strictly within (as the marts)
        (-0.04, -0.02, 0.02, "increase", "harmed"),  # touches the margin from beyond: not wholly beyond
        (-0.04, -0.0200001, 0.02, "increase", "fail"),
        (-0.02, 0.0, 0.01, "increase", "inconclusive"),  # touches zero: not wholly on the harmful side
        # good way down (e.g. latency): harm is an increase
        (0.03, 0.05, 0.02, "decrease", "fail"),
        (0.01, 0.03, 0.02, "decrease", "harmed"),
        (-0.03, 0.01, 0.02, "decrease", "pass"),
        (-0.01, 0.03, 0.02, "decrease", "inconclusive"),
        # no margin: zero is the margin, and harm is "harmed", never "fail"
        (-0.05, -0.03, None, "increase", "harmed"),
        (0.01, 0.03, None, "increase", "pass"),
        (0.0, 0.03, None, "increase", "inconclusive"),
        (-0.01, 0.03, math.nan, "increase", "inconclusive"),
        (0.01, 0.03, None, "decrease", "harmed"),
        (math.nan, math.nan, 0.02, "increase", "inconclusive"),  # not estimable
    ],
)
def test_guardrail_verdicts(lower, upper, margin, direction, verdict):
    assert guardrail_verdict(lower, upper, margin, direction) == verdict
    assert verdict in GUARDRAIL_VERDICTS


def test_guardrail_rejects_a_bad_direction_margin_or_interval():
    with pytest.raises(ValueError, match="direction"):
        guardrail_verdict(-0.1, 0.1, 0.02, "up")
    with pytest.raises(ValueError, match="margin"):
        guardrail_verdict(-0.1, 0.1, -0.02, "increase")
    with pytest.raises(ValueError, match="exceeds"):
        guardrail_verdict(0.1, -0.1, 0.02, "increase")


def test_decision_estimator_defaults_to_cuped_where_a_covariate_exists():
    assert decision_estimator(True) == "cuped"
    assert decision_estimator(False) == "unadjusted"
    assert decision_estimator(True, "unadjusted") == "unadjusted"
    assert decision_estimator(False, "cuped") == "unadjusted"  # no CUPED row to decide on
    assert decision_estimator(True, math.nan) == "cuped"  # a null setting read through pandas
    with pytest.raises(ValueError, match="decision_estimator"):
        decision_estimator(True, "bayes")


def test_simultaneous_interval_is_the_bonferroni_normal_interval():
    z = sps.norm.ppf(0.975)
    lower, upper = simultaneous_interval(0.1, 0.1 - z * 0.02, 0.1 + z * 0.02, 0.05, 4)
    half = sps.norm.ppf(1 - 0.05 / 8) * 0.02
    assert lower == pytest.approx(0.1 - half, abs=1e-12) and upper == pytest.approx(0.1 + half, abs=1e-12)
    # a family of one is the raw interval
    assert simultaneous_interval(0.1, 0.05, 0.15, 0.05, 1) == pytest.approx((0.05, 0.15), abs=1e-12)
    assert all(math.isnan(v) for v in simultaneous_interval(math.nan, math.nan, math.nan, 0.05, 3))
    with pytest.raises(ValueError):
        simultaneous_interval(0.1, 0.05, 0.15, 0.05, 0)


def _metric(variant="treatment", metric="conversion", lift=0.05, significant=True, direction="increase", verdict=None):
    entry = {
        "metric_id": metric,
        "variant_id": variant,
        "lift": lift,
        "lower": lift - 0.02,
        "upper": lift + 0.02,
        "p_value_adjusted": 0.001 if significant else 0.4,
        "is_significant": significant,
        "direction": direction,
    }
    if verdict is not None:
        entry["guardrail_verdict"] = verdict
    return entry


WIN = _metric()
FLAT = _metric(lift=0.01, significant=False)
PASS = _metric(metric="retention_d7", lift=0.0, significant=False, verdict="pass")


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"is_draft": True, "srm": "mismatch"}, "draft", "draft"),
        ({"srm": "mismatch"}, "do_not_trust_data", "Sample ratio mismatch"),
        ({"status_reasons": ["sample_ratio_mismatch"]}, "do_not_trust_data", "Sample ratio mismatch"),
        (
            {"status": "provisional", "status_reasons": ["experiment_running", "volume_shortfall"]},
            "do_not_trust_data",
            "volume shortfall",
        ),
        ({"status_reasons": ["contract_error"]}, "do_not_trust_data", "data contract error"),
        (
            {"guardrails": [_metric(metric="retention_d7", lift=-0.05, verdict="fail")]},
            "do_not_ship",
            "fails its margin",
        ),
        ({"guardrails": [_metric(metric="retention_d7", lift=-0.01, verdict="harmed")]}, "do_not_ship", "is harmed"),
        (
            {
                "status": "provisional",
                "status_reasons": ["experiment_running"],
                "guardrails": [_metric(metric="retention_d7", lift=-0.05, verdict="fail")],
            },
            "do_not_ship",
            "provisional",
        ),
        ({"primary": [_metric(lift=-0.05)]}, "do_not_ship", "significantly worse"),
        ({"primary": [_metric(lift=-0.05, direction="decrease")]}, "ship", "significantly better"),
        (
            {"status": "provisional", "status_reasons": ["experiment_running", "windows_in_progress"]},
            "keep_running",
            "still running; metric windows",
        ),
        ({"status": "provisional", "status_reasons": []}, "keep_running", "provisional"),
        ({"primary": [_metric(lift=math.nan, significant=False)]}, "keep_running", "estimated"),
        ({"primary": []}, "keep_running", "estimated"),
        ({}, "ship", "treatment conversion (+5.0%)"),
        ({"status": "frozen", "status_reasons": ["frozen"]}, "ship", "Ship"),
        ({"srm": "warning"}, "ship", "borderline"),
        (
            {"guardrails": [_metric(metric="retention_d7", lift=-0.01, significant=False, verdict="inconclusive")]},
            "keep_running",
            "cannot yet rule out harm",
        ),
        # an inconclusive guardrail of a variant that did not win does not hold the winner back
        (
            {
                "primary": [WIN, _metric(variant="b", lift=0.0, significant=False)],
                "guardrails": [
                    PASS,
                    _metric(variant="b", metric="retention_d7", lift=0.0, significant=False, verdict="inconclusive"),
                ],
            },
            "ship",
            "Ship",
        ),
        ({"primary": [FLAT]}, "do_not_ship", "no primary metric moved"),
        ({"primary": [FLAT], "status": "frozen", "status_reasons": ["frozen"]}, "do_not_ship", "final"),
    ],
)
def test_version_verdict_branches(kwargs, code, words):
    arguments = {
        "status": "confirmed",
        "status_reasons": [],
        "srm": "ok",
        "primary": [WIN],
        "guardrails": [PASS],
        **kwargs,
    }
    verdict = version_verdict(**arguments)
    assert isinstance(verdict, Verdict) and verdict.code in VERDICT_CODES
    assert verdict.code == code and words in verdict.reason, verdict


def test_status_reasons_may_come_as_the_marts_comma_separated_text():
    verdict = version_verdict("provisional", "experiment_running,lookback_open", "ok", [WIN], [PASS])
    assert verdict == Verdict(
        "keep_running", "Keep running: the experiment is still running; the late-data lookback has not closed."
    )


# --- power in the verdict (issue 16): fct_metric_power rows of the primary decision lines -------------------------

POWER_ROW = dict(
    metric_id="conversion",
    variant_id="treatment",
    minimum_detectable_effect=0.2,
    planned_minimum_effect=0.05,
    n_units_required=12000.0,
    n_units_entered=800,
    days_to_required_units=40.2,
    power=0.8,
)


def test_keep_running_says_how_many_units_and_days_the_planned_effect_needs():
    from readout.decision import planning_note

    note = planning_note([POWER_ROW, {**POWER_ROW, "metric_id": "revenue", "days_to_required_units": 3.0}])
    verdict = version_verdict("provisional", ["windows_in_progress"], "ok", [], [], planning=note)
    assert verdict.code == "keep_running"
    # the metric that needs the most days decides
    assert "planned 5% effect on conversion (treatment) needs 12,000 units (800 entered), about 40 more days" in (
        verdict.reason
    )
    assert "detectable now: 20.0%" in verdict.reason
    done = planning_note([{**POWER_ROW, "days_to_required_units": 0.0}])
    assert "enough units have entered" in done
    assert planning_note([{**POWER_ROW, "n_units_required": float("nan")}]) == ""


def test_a_final_readout_where_nothing_moved_says_what_it_could_have_detected():
    from readout.decision import detectable_note

    note = detectable_note([POWER_ROW, {**POWER_ROW, "minimum_detectable_effect": 0.35}])
    assert note == " It could not detect effects smaller than about 35.0% (80% power)."
    flat = [
        {
            "metric_id": "conversion",
            "variant_id": "treatment",
            "lift": 0.01,
            "lower": -0.1,
            "upper": 0.12,
            "p_value_adjusted": 0.8,
            "is_significant": False,
            "direction": "increase",
        }
    ]
    verdict = version_verdict("confirmed", [], "ok", flat, [], planning="ignored here", detectable=note)
    assert verdict.code == "do_not_ship" and verdict.reason.endswith(note.strip())
    assert "ignored here" not in verdict.reason
    assert detectable_note([]) == ""
