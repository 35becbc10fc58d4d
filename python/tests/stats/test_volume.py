"""Volume checks and the sample ratio per segment: the statistic against scipy, the reference window against
a brute-force sum, and by simulation: no more false alarms than the nominal level on clean cells (real
treatment effects included), and a planted outage found where it was planted, with its share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from readout.stats import (
    SEGMENT_SRM_OUTPUT_COLUMNS,
    VOLUME_OUTPUT_COLUMNS,
    bonferroni,
    compute_segment_sample_ratio_checks,
    compute_volume_checks,
    reference_sums,
    sample_ratio_mismatch,
    volume_shortfall,
)

RTOL = 1e-9
DAY0 = pd.Timestamp("2026-01-15")


# ----------------------------------------------------------------------------------- the statistic
@pytest.mark.parametrize(
    ("x", "o", "rx", "ro"),
    [(0, 150, 1_400, 1_500), (120, 150, 1_400, 1_500), (40, 60, 500, 520), (3, 9, 30, 80), (700, 640, 9_000, 8_800)],
)
def test_p_value_is_the_one_sided_fisher_exact_test(x, o, rx, ro):
    result = volume_shortfall(x, o, rx, ro)
    reference = sps.fisher_exact([[x, o], [rx, ro]], alternative="less").pvalue
    assert result.p_value == pytest.approx(reference, rel=RTOL)
    assert result.expected == pytest.approx(o * rx / ro, rel=RTOL)
    assert result.missing_share == pytest.approx(1 - x / (o * rx / ro), rel=RTOL)


def test_arrays_in_arrays_out():
    x, o, rx, ro = np.array([0, 50, 80]), np.array([60, 50, 40]), np.array([500, 500, 500]), np.array([500, 500, 250])
    result = volume_shortfall(x, o, rx, ro)
    assert result.p_value.shape == (3,)
    for i in range(3):
        one = volume_shortfall(int(x[i]), int(o[i]), int(rx[i]), int(ro[i]))
        assert result.p_value[i] == pytest.approx(one.p_value, rel=RTOL)
        assert result.expected[i] == pytest.approx(one.expected, rel=RTOL)
    np.testing.assert_allclose(result.expected, [60, 50, 80])
    np.testing.assert_allclose(result.missing_share, [1.0, 0.0, 0.0])


def test_undefined_ratios_are_nan_not_errors():
    no_reference = volume_shortfall(5, 5, 0, 0)
    assert np.isnan(no_reference.p_value) and np.isnan(no_reference.expected)
    others_silent_before = volume_shortfall(5, 5, 40, 0)
    assert np.isnan(others_silent_before.expected) and np.isnan(others_silent_before.missing_share)
    nothing_expected = volume_shortfall(0, 0, 40, 40)
    assert nothing_expected.expected == 0 and np.isnan(nothing_expected.missing_share)
    assert nothing_expected.p_value == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [-1, 2.5, float("nan"), float("inf")])
def test_counts_must_be_whole_and_non_negative(bad):
    with pytest.raises(ValueError, match="non-negative whole counts"):
        volume_shortfall(bad, 10, 10, 10)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="same shape"):
        volume_shortfall([1, 2], [1, 2, 3], [1, 2], [1, 2])


def test_bonferroni():
    np.testing.assert_allclose(bonferroni([1e-5, 0.2, np.nan], 10), [1e-4, 1.0, np.nan])
    np.testing.assert_allclose(bonferroni([0.3], 0), [0.3])
    np.testing.assert_allclose(bonferroni([0.01, 0.01], [3, 50]), [0.03, 0.5])
    with pytest.raises(ValueError, match="family_size"):
        bonferroni([0.1], -1)


def test_reference_sums_are_the_other_days_within_the_window():
    rng = np.random.default_rng(3)
    days = np.sort(rng.choice(60, size=35, replace=False))
    values = rng.integers(0, 100, size=35).astype(float)
    for k in (1, 3, 7):
        brute = [values[(np.abs(days - d) <= k) & (days != d)].sum() for d in days]
        np.testing.assert_allclose(reference_sums(days, values, k), brute)
    with pytest.raises(ValueError, match="reference_days"):
        reference_sums(days, values, 0)
    with pytest.raises(ValueError, match="distinct"):
        reference_sums([1, 1], [1, 2], 3)


# ------------------------------------------------------------------------------- simulated volumes
def simulate_counts(
    rng,
    versions: int,
    *,
    days: int = 28,
    base: float = 300.0,
    drift: float = 0.0,
    platforms=("web", "ios", "android"),
    weights=(0.5, 0.5),
) -> pd.DataFrame:
    """Daily events per version x platform x event x day x variant: a ramp (enrolment) times a weekly cycle,
    split by ``weights``; the last variant carries a real effect on outcome events that moves from +5% to
    ``+5% - drift`` over the experiment (an effect that changes with time since exposure)."""
    day = np.arange(days)
    ramp = np.minimum(1.0, (day + 1) / 10) * (1 + 0.15 * np.sin(2 * np.pi * day / 7))
    variants = [f"v{i}" for i in range(len(weights))]
    frames = []
    for event, event_class, scale in (("experiment_exposed", "exposure", 0.3), ("session_start", "outcome", 1.0)):
        effect = np.ones((len(weights), days))
        if event_class == "outcome":
            effect[-1] = 1.05 - drift * day / (days - 1)
        for version in range(versions):
            for platform, platform_share in zip(platforms, (0.5, 0.3, 0.2), strict=False):
                level = base * scale * platform_share * rng.gamma(20, 1 / 20)
                rate = level * ramp * np.asarray(weights)[:, None] * effect
                counts = rng.poisson(rate)
                frames.append(
                    pd.DataFrame(
                        {
                            "experiment_id": f"exp_{version:04d}",
                            "experiment_version": 1,
                            "source_system": platform,
                            "event_name": event,
                            "event_class": event_class,
                            "event_date": np.tile(DAY0 + pd.to_timedelta(day, unit="D"), len(weights)),
                            "variant_id": np.repeat(variants, days),
                            "event_count": counts.ravel(),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def test_output_shape_and_columns():
    counts = simulate_counts(np.random.default_rng(1), 2)
    out = compute_volume_checks(counts)
    assert list(out.columns) == list(VOLUME_OUTPUT_COLUMNS)
    assert len(out) == len(counts)
    assert (out.groupby(["experiment_id"])["family_size"].nunique() == 1).all()
    tested = out[out["is_tested"]]
    assert (tested.groupby("experiment_id").size() == tested.groupby("experiment_id")["family_size"].first()).all()
    untested = out[~out["is_tested"]]
    assert untested["p_value"].isna().all() and untested["status_reason"].notna().all()
    assert out["alarm"].isna().all()


def test_p_values_of_clean_cells_are_calibrated():
    out = compute_volume_checks(simulate_counts(np.random.default_rng(7), 60))
    p = out.loc[out["is_tested"], "p_value"].to_numpy()
    assert p.size > 10_000
    for level in (0.1, 0.01):
        rate = (p < level).mean()
        assert rate <= level + 3 * np.sqrt(level / p.size) + 0.002, (level, rate)
        assert rate >= 0.5 * level, (level, rate)  # discrete, hence a little conservative, but not dead


def test_family_wise_false_alarm_rate_is_at_most_alpha():
    """400 clean experiment versions, each its own Bonferroni family, at alpha = 0.05 with no materiality
    floor: the share of versions with any alarm stays below alpha."""
    out = compute_volume_checks(
        simulate_counts(np.random.default_rng(11), 400, base=150.0), alpha=0.05, min_missing_share=1e-9
    )
    versions_alarmed = out.groupby("experiment_id")["is_volume_shortfall"].any()
    rate = versions_alarmed.mean()
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400), rate


def test_a_real_effect_that_changes_over_time_raises_no_alarm_even_with_large_counts():
    """The treatment's effect drifts by 20 points over the experiment (like a novelty effect wearing off),
    at volumes where a 10% shortfall would be beyond doubt: the centred reference window follows the drift,
    where a reference of all other days would call its last days short."""
    counts = simulate_counts(np.random.default_rng(5), 20, base=20_000.0, drift=0.20)
    out = compute_volume_checks(counts)
    assert not out["is_volume_shortfall"].any()
    large = out[out["is_tested"] & (out["expected_events"] > 5_000)]  # noise below 2%: what is left is bias
    assert len(large) > 100 and large["missing_share"].abs().max() < 0.08
    all_days = compute_volume_checks(counts, reference_days=100)
    assert all_days["is_volume_shortfall"].any()
    assert set(all_days.loc[all_days["is_volume_shortfall"], "event_class"]) == {"outcome"}


@pytest.mark.parametrize(
    ("lost", "base", "caught"),
    [
        (1.0, 1_000.0, {"experiment_exposed", "session_start"}),  # the whole day
        (0.3, 6_000.0, {"session_start"}),  # 30% of it: exposures are too few to tell a 30% loss from chance
    ],
)
def test_a_planted_outage_is_found_where_it_was_planted_with_its_share(lost, base, caught):
    rng = np.random.default_rng(23)
    counts = simulate_counts(rng, 6, base=base)
    day = DAY0 + pd.Timedelta(days=16)
    target = (
        (counts["experiment_id"] == "exp_0003")
        & (counts["source_system"] == "ios")
        & (counts["event_date"] == day)
        & (counts["variant_id"] == "v1")
    )
    assert target.sum() == 2  # exposures and sessions
    counts.loc[target, "event_count"] = rng.binomial(counts.loc[target, "event_count"].to_numpy(), 1 - lost)
    out = compute_volume_checks(counts)
    flagged = out[out["is_volume_shortfall"]]
    assert set(flagged["experiment_id"]) == {"exp_0003"} and set(flagged["source_system"]) == {"ios"}
    assert set(flagged["variant_id"]) == {"v1"} and set(flagged["event_date"]) == {day.date()}
    assert set(flagged["event_name"]) == caught
    for row in flagged.itertuples():
        # the day's own noise and the expectation's (the other variant's count that day) both count
        sd = np.sqrt((1 - lost) / row.expected_events + (1 - lost) ** 2 / row.other_variants_events)
        assert row.missing_share == pytest.approx(lost, abs=4 * sd + 1e-9), row
        assert row.alarm.startswith(
            f"exp_0003 v1 v1 on ios on {day:%Y-%m-%d}: {row.missing_share:.0%} of the expected {row.event_class} events"
        )
        assert "so do not finalize the exp_0003 v1 readout" in row.alarm


def test_volume_input_is_validated():
    counts = simulate_counts(np.random.default_rng(2), 1)
    with pytest.raises(ValueError, match="missing input column"):
        compute_volume_checks(counts.drop(columns=["event_class"]))
    with pytest.raises(ValueError, match="more than one row per cell"):
        compute_volume_checks(pd.concat([counts, counts.head(1)]))
    with pytest.raises(ValueError, match="min_missing_share"):
        compute_volume_checks(counts, min_missing_share=1.5)
    assert compute_volume_checks(counts.head(0)).empty


# --------------------------------------------------------------------------- sample ratio per segment
def simulate_segments(rng, versions: int, weights=(0.5, 0.5), days: int = 14, units_per_day: float = 60.0):
    platforms = ("web", "ios", "android")
    rows = []
    for version in range(versions):
        per_day = rng.poisson(units_per_day, size=days)
        for d, total in enumerate(per_day):
            by_platform = rng.multinomial(total, (0.5, 0.3, 0.2))
            for platform, n in zip(platforms, by_platform, strict=True):
                for variant, units in enumerate(rng.multinomial(n, weights)):
                    rows.append(
                        (
                            f"exp_{version:04d}",
                            platform,
                            DAY0 + pd.Timedelta(days=d),
                            f"v{variant}",
                            units,
                            weights[variant],
                        )
                    )
    cells = pd.DataFrame(
        rows,
        columns=["experiment_id", "source_system", "exposure_date", "variant_id", "observed_units", "expected_share"],
    )
    cells["experiment_version"] = 1
    keys = ["experiment_id", "experiment_version", "variant_id", "expected_share"]
    platform = cells.groupby([*keys, "source_system"], as_index=False)["observed_units"].sum()
    platform["segment"], platform["exposure_date"] = "platform", pd.NaT
    day = cells.groupby([*keys, "exposure_date"], as_index=False)["observed_units"].sum()
    day["segment"], day["source_system"] = "day", None
    cells["segment"] = "platform_day"
    return pd.concat([platform, day, cells], ignore_index=True)


def test_segment_chi_square_matches_srm_and_bonferroni_is_per_version_and_segment_type():
    counts = simulate_segments(np.random.default_rng(4), 2)
    out = compute_segment_sample_ratio_checks(counts)
    assert list(out.columns) == list(SEGMENT_SRM_OUTPUT_COLUMNS) and len(out) == len(counts)
    keys = ["experiment_id", "experiment_version", "segment", "source_system", "exposure_date"]
    applicable = out[out["srm_status"] != "not_applicable"]
    sizes = applicable.drop_duplicates(keys).groupby(["experiment_id", "segment"]).size()
    assert sizes[("exp_0000", "platform")] == 3 and sizes[("exp_0000", "day")] == 14
    checked = 0
    for _, group in applicable.groupby(keys, dropna=False):
        reference = sample_ratio_mismatch(group["observed_units"], group["expected_share"])
        first = group.iloc[0]
        assert (group["p_value"] == first["p_value"]).all() and len(group) == 2
        assert first["p_value"] == pytest.approx(reference.p_value, rel=RTOL)
        assert first["chi_square"] == pytest.approx(reference.chi_square, rel=RTOL)
        assert first["family_size"] == sizes[(first["experiment_id"], first["segment"])]
        assert first["adjusted_p_value"] == pytest.approx(min(1.0, reference.p_value * first["family_size"]), rel=RTOL)
        np.testing.assert_allclose(group["expected_units"], reference.expected, rtol=RTOL)
        checked += 1
    assert checked == len(sizes.index) and checked > 0 or checked == sizes.sum()
    labels = dict(zip(out["segment"], out["segment_label"], strict=False))
    assert labels["platform"] in ("web", "ios", "android")
    assert labels["day"].endswith("(all platforms)") and " on 2026-01-" in labels["platform_day"]


def test_segment_status_levels_and_alarms():
    counts = simulate_segments(np.random.default_rng(8), 1, units_per_day=200.0)
    lost = (counts["segment"] == "platform_day") & (counts["source_system"] == "ios") & (counts["variant_id"] == "v1")
    lost &= counts["exposure_date"] == DAY0 + pd.Timedelta(days=5)
    counts.loc[lost, "observed_units"] = 0
    out = compute_segment_sample_ratio_checks(counts, threshold=0.001, warning_threshold=0.01)
    for row in out.itertuples():
        if row.srm_status == "not_applicable":
            assert np.isnan(row.p_value) and row.status_reason and pd.isna(row.alarm)
            continue
        expected = "mismatch" if row.adjusted_p_value < 0.001 else "warning" if row.adjusted_p_value < 0.01 else "ok"
        assert row.srm_status == expected and row.is_sample_ratio_mismatch == (expected == "mismatch")
        assert pd.isna(row.alarm) == (expected == "ok")
    hit = out[
        (out["segment"] == "platform_day")
        & (out["source_system"] == "ios")
        & (out["exposure_date"] == (DAY0 + pd.Timedelta(days=5)).date())
    ]
    assert (hit["srm_status"] == "mismatch").all() and len(hit) == 2
    assert hit["alarm"].iloc[0].startswith("exp_0000 v1 ios on 2026-01-20: new exposed units v0 ")
    assert "v1 0 (" in hit["alarm"].iloc[0] and "so do not finalize the exp_0000 v1 readout" in hit["alarm"].iloc[0]
    other_days = out[(out["segment"] == "platform_day") & ~out.index.isin(hit.index)]
    assert not (other_days["srm_status"] == "mismatch").any()


def test_segment_false_alarm_rate_per_family_is_at_most_the_level():
    out = compute_segment_sample_ratio_checks(
        simulate_segments(np.random.default_rng(9), 150), threshold=0.05, warning_threshold=0.1
    )
    families = out[out["srm_status"] != "not_applicable"].groupby(["experiment_id", "segment"])["srm_status"]
    alarmed = families.apply(lambda s: (s == "mismatch").any())
    assert len(alarmed) == 450
    assert alarmed.mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / len(alarmed)), alarmed.mean()


def test_a_platform_losing_a_third_of_one_arms_exposures_is_a_mismatch():
    counts = simulate_segments(np.random.default_rng(12), 1, units_per_day=400.0)
    ios_treatment = (counts["source_system"] == "ios") & (counts["variant_id"] == "v1")
    counts.loc[ios_treatment, "observed_units"] = (counts.loc[ios_treatment, "observed_units"] * 0.7).round()
    out = compute_segment_sample_ratio_checks(counts)
    platform = out[(out["segment"] == "platform")].set_index("source_system")
    assert platform.loc["ios", "srm_status"].iloc[0] == "mismatch"
    assert (platform.loc[["web", "android"], "srm_status"] == "ok").all()


def test_segment_input_is_validated():
    counts = simulate_segments(np.random.default_rng(2), 1)
    with pytest.raises(ValueError, match="unknown segment"):
        compute_segment_sample_ratio_checks(counts.assign(segment="week"))
    with pytest.raises(ValueError, match="warning_threshold"):
        compute_segment_sample_ratio_checks(counts, threshold=0.01, warning_threshold=0.001)
    with pytest.raises(ValueError, match="missing input column"):
        compute_segment_sample_ratio_checks(counts.drop(columns=["expected_share"]))
