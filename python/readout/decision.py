"""What a readout lets a reader decide (issue 13): the sample-ratio level, the guardrail verdicts, the estimator
to decide on, a Bonferroni interval consistent with the multiple-testing correction, and one verdict per
experiment version. Pure: no dbt, no I/O; the terminal report (:mod:`readout.report`) and the HTML report
(:mod:`readout.html`) both call it on numbers read from the marts.

The rules, in the words the reports print:

* **Sample ratio** (:func:`srm_level`): ``mismatch`` below ``var('srm_threshold')`` (0.001), ``warning`` below
  0.01 (a p of 0.0086 against a 50/50 split is no longer "ok", but it is not the mismatch the build blocks on),
  ``ok`` at or above 0.01, ``not_tested`` when the check did not run (too few units).
* **Guardrails** (:func:`guardrail_verdict`), from the relative-lift interval and the catalog's
  non-inferiority margin, checked in this order: ``fail`` (the whole interval lies beyond the margin on the
  harmful side), ``harmed`` (the whole interval lies on the harmful side of zero, not all of it beyond the
  margin), ``pass`` (non-inferior: the interval's harmful end is strictly within the margin, the same strict
  rule as the marts' ``guardrail_status``), else ``inconclusive``. Without a margin the margin is zero: ``pass``
  needs the whole interval strictly on the good side of zero, and an interval wholly on the harmful side is
  ``harmed`` (``fail`` needs a margin to be beyond).
* **Estimator** (:func:`decision_estimator`): CUPED where the metric has a CUPED row (a pre-exposure
  covariate), unless the experiment's setting (``int_experiment_settings.decision_estimator``) says otherwise;
  the other estimator is a sensitivity check.
* **Verdict** (:func:`version_verdict`), first rule that applies: a draft is a draft; a sample ratio mismatch
  or an error-level data alarm means ``do_not_trust_data``; a guardrail that fails or is harmed, or a primary
  metric significantly worse, means ``do_not_ship``; a readout still provisional (running, windows in progress,
  lookback open) means ``keep_running``; a variant significantly better on a primary metric with every
  guardrail passing means ``ship``; a winner whose guardrail is inconclusive means ``keep_running``; no
  significant primary lift means ``do_not_ship`` once the readout is confirmed or frozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from readout.stats.estimate import se_from_normal_interval

SRM_LEVELS = ("ok", "warning", "mismatch", "not_tested")
GUARDRAIL_VERDICTS = ("pass", "harmed", "fail", "inconclusive")
VERDICT_CODES = ("ship", "do_not_ship", "keep_running", "do_not_trust_data", "draft")
ESTIMATORS = ("cuped", "unadjusted")
DIRECTIONS = ("increase", "decrease")
#: status reason codes that only say the readout is not final yet (the data may be trusted so far)
PROVISIONAL_REASONS = ("experiment_running", "windows_in_progress", "lookback_open")
#: status reason codes of error-level alarms: the numbers themselves are in doubt
DATA_ALARM_REASONS = ("sample_ratio_mismatch", "segment_sample_ratio_mismatch", "volume_shortfall", "contract_error")
_ALARM_WORDS = {
    "sample_ratio_mismatch": "a sample ratio mismatch",
    "segment_sample_ratio_mismatch": "a sample ratio mismatch on a platform or day",
    "volume_shortfall": "an event volume shortfall",
    "contract_error": "a data contract error",
}
_PROVISIONAL_WORDS = {
    "experiment_running": "the experiment is still running",
    "windows_in_progress": "metric windows are still open",
    "lookback_open": "the late-data lookback has not closed",
}


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def srm_level(p_value: float | None, threshold: float, warning_threshold: float = 0.01) -> str:
    """``mismatch`` below ``threshold``, ``warning`` below ``warning_threshold``, ``ok`` at or above it,
    ``not_tested`` when there is no p-value (None or NaN)."""
    if _missing(p_value):
        return "not_tested"
    if p_value < threshold:
        return "mismatch"
    if p_value < warning_threshold:
        return "warning"
    return "ok"


def guardrail_verdict(lower: float, upper: float, margin: float | None, direction: str) -> str:
    """``fail``, ``harmed``, ``pass`` or ``inconclusive`` for a guardrail's relative-lift interval (a fraction,
    treatment vs control); ``direction`` is the good way (``increase`` or ``decrease``), ``margin`` the
    non-inferiority margin as a positive fraction or None (see the module docstring for the rules)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    if _missing(lower) or _missing(upper):
        return "inconclusive"
    has_margin = not _missing(margin)
    if has_margin and float(margin) < 0:
        raise ValueError(f"the non-inferiority margin must be a positive fraction, got {margin}")
    if lower > upper:
        raise ValueError(f"interval lower bound {lower} exceeds upper bound {upper}")
    bound = float(margin) if has_margin else 0.0
    # harm measured as a positive number: the harmful end and the least harmful end of the interval
    worst, best = (-lower, -upper) if direction == "increase" else (upper, lower)
    if has_margin and best > bound:
        return "fail"
    if best > 0:
        return "harmed"
    if worst < bound:
        return "pass"
    return "inconclusive"


def decision_estimator(has_covariate: bool, setting: str | None = None) -> str:
    """The estimator to decide on: the experiment's setting when it names one (CUPED only where a covariate
    exists), else CUPED where a covariate exists, else unadjusted."""
    if setting is not None and not (isinstance(setting, float) and math.isnan(setting)):
        if setting not in ESTIMATORS:
            raise ValueError(f"decision_estimator must be 'cuped' or 'unadjusted', got {setting!r}")
        return "cuped" if setting == "cuped" and has_covariate else "unadjusted"
    return "cuped" if has_covariate else "unadjusted"


def simultaneous_interval(
    lift: float, lower: float, upper: float, alpha: float, family_size: int
) -> tuple[float, float]:
    """The Bonferroni interval (level ``1 - alpha / family_size``) of a relative lift, from its delta-method
    normal ``1 - alpha`` interval in the marts (``se = (upper - lower) / (2 z_{1 - alpha/2})``; exact, the marts'
    relative intervals are normal). It is the interval whose level matches the correction's family: for a test
    on the same normal statistic, excluding zero implies significance under Holm and BH too (their adjusted
    p-values never exceed Bonferroni's), while Holm and BH can call significant a result whose Bonferroni interval
    touches zero (step-wise procedures have no exact interval). The marts' p-values test the absolute lift (Welch
    t), so on a small or skewed sample the relative interval and the p-value can disagree."""
    if any(_missing(value) for value in (lift, lower, upper, alpha)) or _missing(family_size):
        return math.nan, math.nan
    if not 0 < alpha < 1 or int(family_size) < 1:
        raise ValueError(f"alpha must be in (0, 1) and the family size at least 1, got {alpha}, {family_size}")
    se = se_from_normal_interval(lower, upper, alpha)
    z = sps.norm.ppf(1.0 - alpha / (2.0 * int(family_size)))
    return lift - z * se, lift + z * se


@dataclass(frozen=True)
class Verdict:
    code: str  #: one of VERDICT_CODES
    reason: str  #: one plain sentence


def _codes(status_reasons) -> list[str]:
    if isinstance(status_reasons, str):
        status_reasons = status_reasons.split(",")
    return [code.strip() for code in (status_reasons or []) if code and code.strip()]


def _better(entry: dict) -> bool | None:
    """True: significantly better; False: significantly worse; None: not significant or not estimable."""
    if not entry.get("is_significant") or _missing(entry.get("lift")) or entry.get("lift") == 0:
        return None
    good_up = entry.get("direction", "increase") != "decrease"
    return (entry["lift"] > 0) == good_up


def _name(entry: dict) -> str:
    return f"{entry.get('variant_id')} {entry.get('metric_id')}"


def _lift(entry: dict) -> str:
    lift = entry.get("lift")
    return "" if _missing(lift) else f" ({lift:+.1%})"


def version_verdict(
    status: str,
    status_reasons: list[str],
    srm: str,
    primary: list[dict],
    guardrails: list[dict],
    is_draft: bool = False,
    planning: str = "",
    detectable: str = "",
) -> Verdict:
    """One verdict for an experiment version from its readout status and reason codes, its sample-ratio level
    (:func:`srm_level`), its primary metrics and its guardrails (one dict per metric x treatment variant of the
    decision estimator: metric_id, variant_id, lift, lower, upper, p_value_adjusted, is_significant, direction;
    guardrails also guardrail_verdict). The first rule that applies wins (module docstring). ``planning``, a
    sentence on power (how many units and days the planned effect still needs: :func:`planning_note`), is added
    to every "keep running" reason; ``detectable`` (:func:`detectable_note`) to a final "do not ship" where no
    primary metric moved."""
    if is_draft:
        return Verdict("draft", "A draft experiment: its numbers are a preview, not a readout to decide on.")
    codes = _codes(status_reasons)
    note = (
        " The sample ratio is borderline (p below 0.01): check the assignment before acting."
        if (srm == "warning")
        else ""
    )
    if srm == "mismatch" or "sample_ratio_mismatch" in codes:
        return Verdict(
            "do_not_trust_data",
            "Sample ratio mismatch: the variants did not get the planned split of "
            "units, so the comparison may be biased; find the cause before reading "
            "any lift.",
        )
    alarms = [_ALARM_WORDS[code] for code in DATA_ALARM_REASONS if code in codes]
    if alarms:
        return Verdict(
            "do_not_trust_data", f"The data has {' and '.join(alarms)}: fix or explain it before reading any lift."
        )
    bad_guardrails = [g for g in guardrails if g.get("guardrail_verdict") in ("fail", "harmed")]
    worse = [p for p in primary if _better(p) is False]
    if bad_guardrails or worse:
        parts = [
            f"guardrail {_name(g)} {'fails its margin' if g['guardrail_verdict'] == 'fail' else 'is harmed'}{_lift(g)}"
            for g in bad_guardrails
        ]
        parts += [f"primary {_name(p)} is significantly worse{_lift(p)}" for p in worse]
        when = " (so far; the readout is provisional)" if status == "provisional" else ""
        return Verdict("do_not_ship", f"Do not ship: {'; '.join(parts)}{when}.{note}")
    waiting = [_PROVISIONAL_WORDS[code] for code in PROVISIONAL_REASONS if code in codes]
    if status == "provisional" or waiting:
        why = "; ".join(waiting) or "the readout is provisional"
        return Verdict("keep_running", f"Keep running: {why}.{note}{planning}")
    estimable = [p for p in primary if not _missing(p.get("lift"))]
    if not estimable:
        return Verdict("keep_running", "Keep running: no primary metric could be estimated yet." + note + planning)
    winners = [p for p in primary if _better(p) is True]
    if winners:
        variants = sorted({p.get("variant_id") for p in winners})
        unclear = [g for g in guardrails if g.get("variant_id") in variants and g.get("guardrail_verdict") != "pass"]
        if unclear:
            names = ", ".join(_name(g) for g in unclear)
            return Verdict(
                "keep_running",
                f"Keep running: the primary metric improved, but guardrail {names} cannot "
                f"yet rule out harm beyond its margin.{note}{planning}",
            )
        names = ", ".join(f"{_name(p)}{_lift(p)}" for p in winners)
        return Verdict(
            "ship",
            f"Ship: {names} significantly better after the multiple-testing correction, every "
            f"guardrail non-inferior.{note}",
        )
    return Verdict(
        "do_not_ship",
        "Do not ship: no primary metric moved significantly, and the readout is final." + note + detectable,
    )


def detectable_note(power: list[dict]) -> str:
    """For a final readout where nothing moved: the smallest effect it could detect (the largest of the primary
    metrics' minimum detectable effects, fct_metric_power). Empty without a figure."""
    effects = [r["minimum_detectable_effect"] for r in power if not _missing(r.get("minimum_detectable_effect"))]
    if not effects:
        return ""
    power_level = next((r.get("power") for r in power if not _missing(r.get("power"))), 0.8)
    return f" It could not detect effects smaller than about {max(effects):.1%} ({power_level:.0%} power)."


def planning_note(power: list[dict]) -> str:
    """One sentence on power for a "keep running" verdict, from fct_metric_power rows (primary metrics, decision
    estimator): the row that needs the most days decides. Empty when no row has a figure."""
    rows = [r for r in power if not _missing(r.get("n_units_required"))]
    if not rows:
        return ""
    row = max(rows, key=lambda r: -1.0 if _missing(r.get("days_to_required_units")) else r["days_to_required_units"])
    name = f"{row.get('metric_id')} ({row.get('variant_id')})"
    effect, mde = row.get("planned_minimum_effect"), row.get("minimum_detectable_effect")
    now = "" if _missing(mde) else f"; detectable now: {mde:.1%}"
    days = row.get("days_to_required_units")
    if _missing(days):
        pace = "the pace of entry is unknown"
    elif days <= 0:
        return (
            f" Power: enough units have entered to detect the planned {effect:.0%} effect on {name} once their "
            f"windows complete{now}."
        )
    else:
        pace = f"about {days:.0f} more days at the pace so far"
    return (
        f" Power: the planned {effect:.0%} effect on {name} needs {int(row['n_units_required']):,} units "
        f"({int(row.get('n_units_entered') or 0):,} entered), {pace}{now}."
    )
