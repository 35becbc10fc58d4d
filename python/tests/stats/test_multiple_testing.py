"""Holm and Benjamini–Hochberg against statsmodels; NaN pass-through; guardrail judgements."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from readout.stats import adjust_p_values, benjamini_hochberg, guardrail_status, holm
from readout.stats.multiple_testing import family_size

RTOL = 1e-9


def _p_values(seed: int, m: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=m) ** 3  # plenty of small p-values
    p[: m // 5] = p[m // 5 : 2 * (m // 5)]  # ties
    return p


@pytest.mark.parametrize("m", [1, 2, 7, 50, 1_000])
def test_holm_matches_statsmodels(m):
    p = _p_values(m, m)
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=RTOL)


@pytest.mark.parametrize("m", [1, 2, 7, 50, 1_000])
def test_bh_matches_statsmodels(m):
    p = _p_values(m + 1, m)
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=RTOL)


@pytest.mark.parametrize(("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_nans_pass_through_and_do_not_count(method, sm_method):
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.2])
    adjusted = adjust_p_values(p, method)
    assert np.isnan(adjusted[[1, 4]]).all()
    finite = ~np.isnan(p)
    np.testing.assert_allclose(adjusted[finite], multipletests(p[finite], method=sm_method)[1], rtol=RTOL)
    assert np.all(adjusted[finite] >= p[finite])


@pytest.mark.parametrize(("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_missing_as_one_keeps_nans_in_the_family(method, sm_method):
    """A hypothesis that could not be tested counts as p = 1: the family keeps its size, the others'
    adjusted p-values never fall below their exclude-policy values, and the NaN's own stays NaN."""
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.2])
    adjusted = adjust_p_values(p, method, missing="as_one")
    finite = ~np.isnan(p)
    assert np.isnan(adjusted[~finite]).all()
    np.testing.assert_allclose(
        adjusted[finite], multipletests(np.where(finite, p, 1.0), method=sm_method)[1][finite], rtol=RTOL
    )
    assert np.all(adjusted[finite] >= adjust_p_values(p, method, missing="exclude")[finite])
    assert family_size(p, missing="as_one") == 6 and family_size(p, missing="exclude") == 4
    # nothing to keep: identical to the exclude policy
    clean = np.array([0.01, 0.04, 0.2])
    np.testing.assert_array_equal(adjust_p_values(clean, method, missing="as_one"), adjust_p_values(clean, method))


def test_missing_policy_is_validated():
    with pytest.raises(ValueError, match="missing"):
        adjust_p_values([0.1], "holm", missing="drop")
    with pytest.raises(ValueError, match="missing"):
        family_size([0.1], missing="drop")
    np.testing.assert_array_equal(adjust_p_values([0.2, np.nan], "none", missing="as_one"), [0.2, np.nan])


def test_edge_cases():
    assert adjust_p_values([], "holm").size == 0
    assert np.isnan(adjust_p_values([np.nan, np.nan], "bh")).all()
    np.testing.assert_array_equal(adjust_p_values([0.2, 0.01], "none"), [0.2, 0.01])
    with pytest.raises(ValueError, match="correction"):
        adjust_p_values([0.1], "bonferonni")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


@pytest.mark.parametrize(
    ("lower", "upper", "direction", "margin", "expected"),
    [
        # higher is better: the bad side is the lower bound, compared with -margin
        (-0.01, 0.03, "increase", 0.02, "pass"),
        (-0.015, -0.005, "increase", 0.02, "pass"),  # significantly worse, but within the margin
        (-0.03, 0.01, "increase", 0.02, "inconclusive"),
        (-0.05, -0.025, "increase", 0.02, "fail"),
        # lower is better (e.g. latency): the bad side is the upper bound, compared with +margin
        (-0.03, 0.01, "decrease", 0.02, "pass"),
        (-0.01, 0.03, "decrease", 0.02, "inconclusive"),
        (0.025, 0.05, "decrease", 0.02, "fail"),
        # zero margin: non-inferiority becomes "no worse at all"
        (0.001, 0.02, "increase", 0.0, "pass"),
        (-0.02, -0.001, "increase", 0.0, "fail"),
        (float("nan"), float("nan"), "increase", 0.02, "inconclusive"),
    ],
)
def test_guardrail_status(lower, upper, direction, margin, expected):
    assert guardrail_status(lower, upper, direction, margin) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-0.1, 0.1, "up", 0.02), "direction"),
        ((-0.1, 0.1, "increase", -0.02), "margin"),
        ((-0.1, 0.1, "increase", float("nan")), "margin"),
        ((0.1, -0.1, "increase", 0.02), "exceeds"),
    ],
)
def test_guardrail_validation(args, message):
    with pytest.raises(ValueError, match=message):
        guardrail_status(*args)
