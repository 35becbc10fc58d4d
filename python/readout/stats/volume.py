"""Volume checks: events missing from one variant on one platform and day, and the sample ratio per segment.

A platform outage that hits one variant (an iOS release that stops logging in the treatment, a collector
that drops one day of one arm's uploads) biases every metric of a readout while the whole-experiment
sample ratio barely moves. Two checks find it.

**Volume shortfall** (:func:`volume_shortfall`, :func:`compute_volume_checks`). For one experiment
version x platform x event name x day ``d`` x variant ``v``, let ``x`` be v's events on d, ``o`` the other
variants' events on d, and ``X``, ``O`` the same summed over the reference days: the days within
``reference_days`` of d on both sides, d itself excluded (both sides, so that a smooth trend in the
ratio, from the enrolment ramp or an effect that grows with time since exposure, cancels to first
order). Without a loss, v's share of a day's events is the same on d as on its reference days,
whatever the treatment does to the volume, since a real effect moves every day alike. Conditional on
the margins of the 2 x 2 table ``[[x, o], [X, O]]``, x is hypergeometric: the one-sided Fisher exact
test ``p = P(x' <= x)`` accounts for the noise of the reference ratio as well as the day's.

* ``expected = o X / O``: v's volume predicted from the other variants' volume on d;
* ``missing_share = 1 - x / expected``.

A cell is flagged when ``missing_share >= min_missing_share`` (material) and its Bonferroni-adjusted
p-value ``min(1, p m)`` is below ``alpha``, ``m`` being the number of cells tested in the experiment
version (every platform, event, day and variant of it): each readout's clean cells raise a false alarm
with probability at most ``alpha``, whatever the other experiments of the build, and a real drift of
the share well below ``min_missing_share`` (a treatment effect that changes with time since exposure,
the changing mix of units) does not raise one however large the counts. Only cells with ``expected >=
min_expected`` are tested (and counted in ``m``): smaller ones can hardly reach the corrected level, even
with every event missing, and would only dilute it.

A loss that is constant over the whole experiment is absorbed by the reference ratio; the sample ratio
per platform below, which compares new exposed units with the planned weights, catches that one.

**Sample ratio per segment** (:func:`compute_segment_sample_ratio_checks`). New exposed units per variant
in each segment (a platform over the whole experiment, a day over all platforms, a platform on one
day) against the planned weights, with the chi-square of :func:`readout.stats.srm.sample_ratio_mismatch`.
The p-values are Bonferroni-adjusted within each experiment version and segment type (a platform's
p-value times the version's platforms, a platform-day's times its platform-days, ...), as the
whole-experiment check of ``fct_sample_ratio_checks`` is one test per version; ``srm_status`` is
``mismatch`` when the adjusted p-value is below ``threshold``, ``warning`` below ``warning_threshold``,
else ``ok`` (``not_applicable``, with a ``status_reason``, when an expected count is too small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .srm import sample_ratio_mismatch

__all__ = [
    "VolumeShortfall",
    "volume_shortfall",
    "bonferroni",
    "reference_sums",
    "compute_volume_checks",
    "compute_segment_sample_ratio_checks",
    "VOLUME_INPUT_COLUMNS",
    "VOLUME_OUTPUT_COLUMNS",
    "SEGMENT_SRM_INPUT_COLUMNS",
    "SEGMENT_SRM_OUTPUT_COLUMNS",
]

_NAN = float("nan")


# ------------------------------------------------------------------------------------ the statistic
@dataclass(frozen=True)
class VolumeShortfall:
    """Per cell (arrays, or scalars for scalar input): the volume expected from the other variants,
    the share of it missing, and the one-sided Fisher exact p-value of the observed count."""

    expected: np.ndarray
    missing_share: np.ndarray
    p_value: np.ndarray


def _counts(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array < 0) or np.any(array != np.floor(array)):
        raise ValueError(f"{name} must be non-negative whole counts")
    return array


def volume_shortfall(observed, others, reference_observed, reference_others) -> VolumeShortfall:
    """Is ``observed`` (a variant's events on a day) short of what the other variants' events that day
    (``others``) predict, given the variant's ratio to them on the reference days (``reference_observed``
    / ``reference_others``)? Accepts scalars or equal-shaped arrays of whole counts.

    ``expected = others * reference_observed / reference_others`` (NaN when ``reference_others`` is 0);
    ``missing_share = 1 - observed / expected`` (NaN when ``expected`` is 0 or NaN); ``p_value``: the
    hypergeometric ``P(X <= observed)`` of the 2 x 2 table ``[[observed, others], [reference_observed,
    reference_others]]`` with its margins fixed (one-sided Fisher exact test; NaN when the reference days
    hold no event at all).
    """
    x = _counts("observed", observed)
    o = _counts("others", others)
    rx = _counts("reference_observed", reference_observed)
    ro = _counts("reference_others", reference_others)
    try:
        x, o, rx, ro = np.broadcast_arrays(x, o, rx, ro)
    except ValueError:
        raise ValueError("observed, others and the reference counts must have the same shape") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(ro > 0, o * rx / np.where(ro > 0, ro, 1.0), _NAN)
        missing = np.where(expected > 0, 1.0 - x / np.where(expected > 0, expected, 1.0), _NAN)
    total = x + o + rx + ro
    p = sps.hypergeom.cdf(x, total, x + rx, x + o)
    p = np.where(rx + ro > 0, np.clip(p, 0.0, 1.0), _NAN)
    if all(np.ndim(v) == 0 for v in (observed, others, reference_observed, reference_others)):
        return VolumeShortfall(float(expected), float(missing), float(p))
    return VolumeShortfall(expected, missing, p)


def bonferroni(p_values, family_size) -> np.ndarray:
    """``min(1, p * family_size)``, element-wise (``family_size`` a whole number or one per p-value; 0 is
    read as 1); NaN stays NaN."""
    size = np.asarray(family_size, dtype=float)
    if not np.all(np.isfinite(size)) or np.any(size < 0) or np.any(size != np.floor(size)):
        raise ValueError(f"family_size must be non-negative whole numbers, got {family_size}")
    p = np.asarray(p_values, dtype=float)
    return np.where(np.isnan(p), _NAN, np.minimum(1.0, p * np.maximum(size, 1.0)))


def reference_sums(days, values, reference_days: int, groups=None) -> np.ndarray:
    """For each element, the sum of ``values`` over the other days within ``reference_days`` of its day (both
    sides) in the same group. ``days``: whole numbers, distinct within a group; ``groups``: optional group
    codes (whole numbers), one per element; without them all elements form one group."""
    if int(reference_days) != reference_days or reference_days < 1:
        raise ValueError(f"reference_days must be a whole number >= 1, got {reference_days}")
    day = np.asarray(days, dtype=np.int64)
    value = np.asarray(values, dtype=float)
    group = np.zeros_like(day) if groups is None else np.asarray(groups, dtype=np.int64)
    if day.ndim != 1 or day.shape != value.shape or day.shape != group.shape:
        raise ValueError("days, values and groups must be 1-d and of the same length")
    if day.size == 0:
        return np.zeros(0)
    k = int(reference_days)
    # one sorted key for (group, day), groups spaced so that no window reaches into the next group
    stride = int(day.max() - day.min()) + 2 * k + 2
    key = (group - group.min()) * stride + (day - day.min())
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    if np.any(np.diff(sorted_key) == 0):
        raise ValueError("days must be distinct within a group")
    cumulative = np.concatenate([[0.0], np.cumsum(value[order])])
    low = np.searchsorted(sorted_key, sorted_key - k, side="left")
    high = np.searchsorted(sorted_key, sorted_key + k, side="right")
    out = np.empty_like(value)
    out[order] = cumulative[high] - cumulative[low] - value[order]
    return out


# ------------------------------------------------------------------------------------ volume checks
VOLUME_KEYS = ("experiment_id", "experiment_version", "source_system", "event_name")
VOLUME_INPUT_COLUMNS = (*VOLUME_KEYS, "event_class", "event_date", "variant_id", "event_count")
VOLUME_OUTPUT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "source_system",
    "event_class",
    "event_name",
    "event_date",
    "variant_id",
    "observed_events",
    "other_variants_events",
    "reference_day_count",
    "reference_observed_events",
    "reference_other_variants_events",
    "expected_events",
    "missing_share",
    "p_value",
    "adjusted_p_value",
    "family_size",
    "is_tested",
    "is_volume_shortfall",
    "status_reason",
    "alarm",
)


def _require(frame: pd.DataFrame, columns, caller: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{caller}: missing input column(s) {', '.join(missing)}")


def _validate_share(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def _volume_alarm(row) -> str:
    readout = f"{row.experiment_id} v{row.experiment_version}"
    return (
        f"{readout} {row.variant_id} on {row.source_system} on {pd.Timestamp(row.event_date):%Y-%m-%d}: "
        f"{row.missing_share:.0%} of the expected {row.event_class} events ({row.event_name}) are missing "
        f"({int(row.observed_events):,} of "
        f"~{row.expected_events:,.0f} expected from the other variants that day), so do not finalize the "
        f"{readout} readout until the missing events are found"
    )


def compute_volume_checks(
    counts: pd.DataFrame,
    reference_days: int = 7,
    min_missing_share: float = 0.10,
    alpha: float = 0.001,
    min_expected: float = 10.0,
) -> pd.DataFrame:
    """Volume shortfall per experiment version x platform x event name x day x variant.

    Input: :data:`VOLUME_INPUT_COLUMNS`, one row per cell with every configured variant of a day present
    (``event_count`` 0 when it logged nothing). Output: :data:`VOLUME_OUTPUT_COLUMNS`, one row per input
    row. ``family_size`` is the number of tested cells of the row's experiment version (the Bonferroni
    family); ``is_volume_shortfall`` is ``missing_share >= min_missing_share`` and ``adjusted_p_value <
    alpha``; ``alarm`` is the sentence to act on, set on flagged rows only.
    """
    _require(counts, VOLUME_INPUT_COLUMNS, "compute_volume_checks")
    min_missing_share = _validate_share("min_missing_share", min_missing_share)
    alpha = _validate_share("alpha", alpha)
    min_expected = float(min_expected)
    if not min_expected >= 0:
        raise ValueError(f"min_expected must be non-negative, got {min_expected}")
    if counts.empty:
        return pd.DataFrame(columns=list(VOLUME_OUTPUT_COLUMNS))
    frame = counts[list(VOLUME_INPUT_COLUMNS)].copy()
    frame["event_date"] = pd.to_datetime(frame["event_date"]).dt.normalize()
    frame["event_count"] = _counts("event_count", frame["event_count"].fillna(0))
    if frame.duplicated([*VOLUME_KEYS, "event_date", "variant_id"]).any():
        raise ValueError("compute_volume_checks: more than one row per cell")
    day_keys = [*VOLUME_KEYS, "event_date"]
    frame["day_total"] = frame.groupby(day_keys, dropna=False)["event_count"].transform("sum")
    frame["others"] = frame["day_total"] - frame["event_count"]
    frame["day_number"] = (frame["event_date"] - pd.Timestamp("1970-01-01")).dt.days
    frame = frame.sort_values([*VOLUME_KEYS, "variant_id", "event_date"], kind="stable")
    series = frame.groupby([*VOLUME_KEYS, "variant_id"], dropna=False, sort=False).ngroup().to_numpy()
    days = frame["day_number"].to_numpy()
    reference_observed = reference_sums(days, frame["event_count"].to_numpy(), reference_days, series)
    reference_others = reference_sums(days, frame["others"].to_numpy(), reference_days, series)
    reference_count = reference_sums(days, np.ones(len(frame)), reference_days, series)
    result = volume_shortfall(
        frame["event_count"].to_numpy(), frame["others"].to_numpy(), reference_observed, reference_others
    )
    tested = np.nan_to_num(result.expected, nan=-1.0) >= max(min_expected, np.finfo(float).tiny)
    tested &= ~np.isnan(result.p_value)
    family = (
        pd.Series(tested, index=frame.index)
        .groupby([frame["experiment_id"], frame["experiment_version"]], dropna=False)
        .transform("sum")
        .to_numpy()
        .astype(np.int64)
    )
    adjusted = np.where(tested, bonferroni(result.p_value, family), _NAN)
    flagged = tested & (result.missing_share >= min_missing_share) & (adjusted < alpha)
    reason = [
        "no events on the reference days"
        if rx + ro == 0
        else "the other variants logged nothing on the reference days"
        if ro == 0
        else f"expected events below the minimum ({min_expected:g})"
        if not is_tested
        else None
        for rx, ro, is_tested in zip(reference_observed, reference_others, tested, strict=True)
    ]
    out = pd.DataFrame(
        {
            "experiment_id": frame["experiment_id"].to_numpy(),
            "experiment_version": frame["experiment_version"].to_numpy(),
            "source_system": frame["source_system"].to_numpy(),
            "event_class": frame["event_class"].to_numpy(),
            "event_name": frame["event_name"].to_numpy(),
            "event_date": frame["event_date"].dt.date.to_numpy(),
            "variant_id": frame["variant_id"].to_numpy(),
            "observed_events": frame["event_count"].astype("int64").to_numpy(),
            "other_variants_events": frame["others"].astype("int64").to_numpy(),
            "reference_day_count": reference_count.astype("int64"),
            "reference_observed_events": reference_observed.astype("int64"),
            "reference_other_variants_events": reference_others.astype("int64"),
            "expected_events": result.expected,
            "missing_share": result.missing_share,
            "p_value": np.where(tested, result.p_value, _NAN),
            "adjusted_p_value": adjusted,
            "family_size": family,
            "is_tested": tested,
            "is_volume_shortfall": flagged,
            "status_reason": reason,
        }
    )
    alarms = np.full(len(out), None, dtype=object)
    for i in np.flatnonzero(flagged):
        alarms[i] = _volume_alarm(out.iloc[i])
    out["alarm"] = alarms
    return out.sort_values(
        ["experiment_id", "experiment_version", "source_system", "event_name", "event_date", "variant_id"],
        kind="stable",
    ).reset_index(drop=True)[list(VOLUME_OUTPUT_COLUMNS)]


# ---------------------------------------------------------------------------- sample ratio per segment
SEGMENT_KEYS = ("experiment_id", "experiment_version", "segment", "source_system", "exposure_date")
SEGMENT_SRM_INPUT_COLUMNS = (*SEGMENT_KEYS, "variant_id", "observed_units", "expected_share")
SEGMENT_SRM_OUTPUT_COLUMNS = (
    *SEGMENT_KEYS,
    "segment_label",
    "variant_id",
    "observed_units",
    "expected_share",
    "expected_units",
    "chi_square",
    "degrees_of_freedom",
    "p_value",
    "adjusted_p_value",
    "family_size",
    "srm_status",
    "is_sample_ratio_mismatch",
    "status_reason",
    "alarm",
)
SEGMENTS = ("platform", "day", "platform_day")


def _segment_label(keys: dict) -> str:
    """``ios``, ``2026-01-27 (all platforms)`` or ``ios on 2026-01-27``."""
    day = None if pd.isna(keys["exposure_date"]) else f"{pd.Timestamp(keys['exposure_date']):%Y-%m-%d}"
    if keys["segment"] == "platform":
        return str(keys["source_system"])
    if keys["segment"] == "day":
        return f"{day} (all platforms)"
    return f"{keys['source_system']} on {day}"


def _segment_alarm(keys: dict, records: list[dict], status: str, p: float, adjusted: float, family: int) -> str:
    observed = ", ".join(
        f"{r['variant_id']} {int(r['observed_units']):,} ({r['expected_units']:,.0f} expected)" for r in records
    )
    readout = f"{keys['experiment_id']} v{keys['experiment_version']}"
    verdict = "a sample ratio mismatch" if status == "mismatch" else "a possible sample ratio mismatch"
    action = (
        f"so do not finalize the {readout} readout until the cause is found"
        if status == "mismatch"
        else f"so check the {readout} readout's logging on this segment before finalizing it"
    )
    return (
        f"{readout} {keys['segment_label']}: new exposed units {observed} against the planned split, {verdict} "
        f"(p = {p:.1e}; {adjusted:.1e} after Bonferroni over the version's {family:,} {keys['segment']} segments), "
        f"{action}"
    )


def compute_segment_sample_ratio_checks(
    counts: pd.DataFrame,
    threshold: float = 0.001,
    warning_threshold: float = 0.01,
    min_expected: float = 5.0,
) -> pd.DataFrame:
    """Chi-square sample ratio check of new exposed units per segment against the planned weights.

    Input: :data:`SEGMENT_SRM_INPUT_COLUMNS`, every configured variant of a segment present (0 units when
    none), ``segment`` one of :data:`SEGMENTS` (``source_system`` null for ``day`` segments,
    ``exposure_date`` null for ``platform`` segments). Output: :data:`SEGMENT_SRM_OUTPUT_COLUMNS`, one
    row per input row with the segment's result repeated on each of its rows; ``adjusted_p_value`` is
    Bonferroni over the ``family_size`` applicable segments of the same experiment version and segment
    type, ``srm_status`` and
    ``is_sample_ratio_mismatch`` follow from it, and ``alarm`` is set on warning and mismatch rows.
    """
    _require(counts, SEGMENT_SRM_INPUT_COLUMNS, "compute_segment_sample_ratio_checks")
    threshold = _validate_share("threshold", threshold)
    warning_threshold = _validate_share("warning_threshold", warning_threshold)
    if warning_threshold < threshold:
        raise ValueError(f"warning_threshold ({warning_threshold}) must not be below threshold ({threshold})")
    unknown = sorted(set(counts["segment"].dropna()) - set(SEGMENTS)) + (
        ["null"] if counts["segment"].isna().any() else []
    )
    if unknown:
        raise ValueError(
            f"compute_segment_sample_ratio_checks: unknown segment(s) {', '.join(map(str, unknown))}; "
            f"use {', '.join(SEGMENTS)}"
        )
    if counts.empty:
        return pd.DataFrame(columns=list(SEGMENT_SRM_OUTPUT_COLUMNS))
    frame = counts[list(SEGMENT_SRM_INPUT_COLUMNS)].copy()
    frame["exposure_date"] = pd.to_datetime(frame["exposure_date"]).dt.normalize()
    frame["variant_id"] = frame["variant_id"].astype(str)
    frame = frame.sort_values([*SEGMENT_KEYS, "variant_id"], kind="stable", na_position="first")
    frame = frame.reset_index(drop=True)
    code = frame.groupby(list(SEGMENT_KEYS), dropna=False, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    duplicated = frame.duplicated([*SEGMENT_KEYS, "variant_id"]).to_numpy()
    observed = frame["observed_units"].to_numpy(dtype=float)
    shares = frame["expected_share"].to_numpy(dtype=float)
    segments = frame.iloc[starts][list(SEGMENT_KEYS)].reset_index(drop=True)
    n = len(segments)
    chi, p, dof = np.full(n, _NAN), np.full(n, _NAN), np.full(n, -1)
    reasons: list[str | None] = [None] * n
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        try:
            if duplicated[a:b].any():
                raise ValueError("duplicate variant rows")
            result = sample_ratio_mismatch(observed[a:b], shares[a:b], threshold=threshold, min_expected=min_expected)
        except ValueError as exc:
            reasons[i] = str(exc)
            continue
        dof[i], reasons[i] = result.degrees_of_freedom, result.reason
        if result.is_applicable:
            chi[i], p[i] = result.chi_square, result.p_value
    applicable = ~np.isnan(p)
    family = (
        pd.Series(applicable)
        .groupby([segments["experiment_id"], segments["experiment_version"], segments["segment"]], dropna=False)
        .transform("sum")
        .to_numpy()
        .astype(np.int64)
    )
    adjusted = bonferroni(p, family)
    status = np.where(
        ~applicable,
        "not_applicable",
        np.where(adjusted < threshold, "mismatch", np.where(adjusted < warning_threshold, "warning", "ok")),
    )
    labels = [_segment_label(keys) for keys in segments.to_dict("records")]
    totals = np.add.reduceat(np.nan_to_num(observed), starts) if len(frame) else np.zeros(0)
    expected_units = shares * np.repeat(totals, ends - starts)
    alarms: list[str | None] = [None] * n
    for i in np.flatnonzero((status == "warning") | (status == "mismatch")):
        keys = dict(segments.iloc[i], segment_label=labels[i])
        records = [
            {"variant_id": v, "observed_units": o, "expected_units": e}
            for v, o, e in zip(
                frame["variant_id"].to_numpy()[starts[i] : ends[i]],
                observed[starts[i] : ends[i]],
                expected_units[starts[i] : ends[i]],
                strict=True,
            )
        ]
        alarms[i] = _segment_alarm(keys, records, str(status[i]), float(p[i]), float(adjusted[i]), int(family[i]))
    at = np.repeat(np.arange(n), ends - starts)
    out = pd.DataFrame(
        {
            **{key: frame[key].to_numpy() for key in SEGMENT_KEYS},
            "segment_label": np.asarray(labels, dtype=object)[at],
            "variant_id": frame["variant_id"].to_numpy(),
            "observed_units": frame["observed_units"].to_numpy(dtype=np.int64),
            "expected_share": shares,
            "expected_units": expected_units,
            "chi_square": chi[at],
            "degrees_of_freedom": pd.array(np.where(dof[at] >= 0, dof[at], 0), dtype="Int64"),
            "p_value": p[at],
            "adjusted_p_value": adjusted[at],
            "family_size": family[at],
            "srm_status": status[at].astype(object),
            "is_sample_ratio_mismatch": status[at] == "mismatch",
            "status_reason": np.asarray(reasons, dtype=object)[at],
            "alarm": np.asarray(alarms, dtype=object)[at],
        }
    )
    out.loc[dof[at] < 0, "degrees_of_freedom"] = pd.NA
    out["exposure_date"] = out["exposure_date"].dt.date
    return out[list(SEGMENT_SRM_OUTPUT_COLUMNS)]
