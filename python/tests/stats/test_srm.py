"""Sample ratio mismatch: chi-square against scipy, the not-applicable path, weight validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from readout.stats import sample_ratio_mismatch, validate_weights

RTOL = 1e-9


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([5_000, 5_100], [0.5, 0.5]),
        ([10_210, 9_790], [0.5, 0.5]),
        ([3_300, 3_350, 3_200], [1 / 3, 1 / 3, 1 / 3]),
        ([9_000, 500, 480], [0.9, 0.05, 0.05]),
        ([2_000, 2_300, 2_100, 3_900], [0.2, 0.2, 0.2, 0.4]),
    ],
)
def test_chi_square_matches_scipy(observed, weights):
    result = sample_ratio_mismatch(observed, weights)
    expected = np.sum(observed) * np.asarray(weights)
    ref = sps.chisquare(observed, f_exp=expected)
    assert result.chi_square == pytest.approx(ref.statistic, rel=RTOL)
    assert result.p_value == pytest.approx(ref.pvalue, rel=RTOL)
    assert result.degrees_of_freedom == len(observed) - 1
    np.testing.assert_allclose(result.expected, expected, rtol=RTOL)
    assert result.is_mismatch == (ref.pvalue < 0.001)
    assert result.reason is None


def test_clear_mismatch_is_flagged_and_threshold_is_configurable():
    assert sample_ratio_mismatch([10_500, 9_500], [0.5, 0.5]).is_mismatch
    borderline = sample_ratio_mismatch([10_150, 9_850], [0.5, 0.5])  # p ~ 0.034
    assert not borderline.is_mismatch
    assert sample_ratio_mismatch([10_150, 9_850], [0.5, 0.5], threshold=0.05).is_mismatch


def test_low_expected_count_is_not_applicable_not_an_error():
    result = sample_ratio_mismatch([20, 1], [0.95, 0.05])  # expected 1.05 in the small arm
    assert result.p_value is None and result.chi_square is None
    assert result.is_mismatch is False
    assert not result.is_applicable
    assert "expected count below minimum (5)" in result.reason
    assert sample_ratio_mismatch([20, 1], [0.95, 0.05], min_expected=1).is_applicable


def test_no_units_is_not_applicable():
    result = sample_ratio_mismatch([0, 0], [0.5, 0.5])
    assert result.p_value is None and result.reason == "no units observed"


@pytest.mark.parametrize(
    ("observed", "weights", "message"),
    [
        ([100, 100], [0.5, 0.4], "sum to 1"),
        ([100, 100, 100], [0.5, 0.5, 0.0], "positive"),
        ([100, 100], [1.2, -0.2], "positive"),
        ([100, 100], [0.5, float("nan")], "finite"),
        ([100, 100], [0.3, 0.3, 0.4], "3 entries but there are 2"),
    ],
)
def test_bad_weights_raise(observed, weights, message):
    with pytest.raises(ValueError, match=message):
        sample_ratio_mismatch(observed, weights)


def test_weights_within_tolerance_are_accepted():
    np.testing.assert_allclose(validate_weights([0.5 + 5e-7, 0.5]), [0.5 + 5e-7, 0.5])


@pytest.mark.parametrize(("observed", "message"), [([100], "at least 2"), ([100, -1], "non-negative")])
def test_bad_counts_raise(observed, message):
    with pytest.raises(ValueError, match=message):
        sample_ratio_mismatch(observed, [1.0] if len(observed) == 1 else [0.5, 0.5])


def test_false_alarm_rate_under_correct_allocation():
    """Multinomial draws with the configured weights: the alarm rate at threshold 0.05 is ~5 %."""
    rng = np.random.default_rng(91)
    weights = np.array([0.5, 0.25, 0.25])
    counts = rng.multinomial(20_000, weights, size=4_000)
    alarms = np.mean([sample_ratio_mismatch(c, weights, threshold=0.05).is_mismatch for c in counts])
    assert 0.035 <= alarms <= 0.065, alarms
