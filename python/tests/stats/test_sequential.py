"""Always-valid asymptotic confidence sequences (Waudby-Smith et al. 2023).

* the radius against a direct transcription of the paper's formula;
* the closed-form ``rho`` against a numerical minimisation of the radius at the target size;
* a vectorised simulation with 20 interim looks: the confidence sequence keeps the any-look
  false-positive rate <= alpha while the fixed-horizon interval, peeked at the same 20 looks,
  exceeds it; and the sequence covers the true lift at all looks at once.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from readout.stats import (
    SampleStats,
    asymptotic_confidence_sequence,
    asymptotic_cs_radius,
    optimal_rho,
    sequential_difference_in_means,
    welch_absolute_lift,
)

RTOL = 1e-9


def _paper_radius(sigma, t, rho, alpha):
    # Waudby-Smith et al. (2023), Theorem 2.2:
    # sigma * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))
    return sigma * math.sqrt(2 * (t * rho**2 + 1) / (t**2 * rho**2) * math.log(math.sqrt(t * rho**2 + 1) / alpha))


@pytest.mark.parametrize(
    ("sigma", "t", "rho", "alpha"), [(1.0, 100, 0.1, 0.05), (3.5, 20_000, 0.02, 0.01), (0.2, 7, 1.0, 0.1)]
)
def test_radius_matches_paper_formula(sigma, t, rho, alpha):
    assert asymptotic_cs_radius(sigma, t, alpha, rho) == pytest.approx(_paper_radius(sigma, t, rho, alpha), rel=RTOL)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("target_n", [500, 20_000])
def test_optimal_rho_minimises_radius_at_target(alpha, target_n):
    rho = optimal_rho(target_n, alpha)
    best = minimize_scalar(
        lambda log_rho: asymptotic_cs_radius(1.0, target_n, alpha, math.exp(log_rho)),
        bounds=(-12, 3),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert asymptotic_cs_radius(1.0, target_n, alpha, rho) <= best.fun * (1 + 1e-4)


def test_sequence_is_wider_than_fixed_interval_and_shrinks():
    rng = np.random.default_rng(61)
    a, b = rng.normal(0, 1, 2_000), rng.normal(0.1, 1, 2_000)
    radii = []
    for n in (100, 500, 2_000):
        control = SampleStats(n, a[:n].sum(), a[:n] @ a[:n])
        treatment = SampleStats(n, b[:n].sum(), b[:n] @ b[:n])
        fixed = welch_absolute_lift(control, treatment)
        seq = sequential_difference_in_means(control, treatment, target_n=4_000)
        assert seq.estimate == pytest.approx(fixed.estimate, rel=RTOL)
        assert seq.lower < fixed.ci_lower < fixed.estimate < fixed.ci_upper < seq.upper
        radii.append(seq.radius)
    assert radii[0] > radii[1] > radii[2]


def test_sequence_uses_total_units_and_standard_error():
    seq = asymptotic_confidence_sequence(0.5, 0.1, 400, alpha=0.05, rho=0.05)
    assert seq.radius == pytest.approx(_paper_radius(0.1 * math.sqrt(400), 400, 0.05, 0.05), rel=RTOL)
    assert (seq.lower, seq.upper) == pytest.approx((0.5 - seq.radius, 0.5 + seq.radius), rel=RTOL)


def test_sequential_validation():
    with pytest.raises(ValueError, match="exactly one"):
        asymptotic_confidence_sequence(0.0, 1.0, 100)
    with pytest.raises(ValueError, match="exactly one"):
        asymptotic_confidence_sequence(0.0, 1.0, 100, target_n=100, rho=0.1)
    with pytest.raises(ValueError, match="target_n"):
        optimal_rho(0)
    with pytest.raises(ValueError, match="zero variance"):
        asymptotic_confidence_sequence(0.0, 0.0, 100, target_n=100)
    with pytest.raises(ValueError, match="n < 2 in control"):
        sequential_difference_in_means(SampleStats(1, 1, 1), SampleStats(5, 2, 2), target_n=100)


# --- simulation: continuous monitoring ---------------------------------------------------------

SIMS = 4_000
N = 1_000
LOOKS = np.linspace(N / 20, N, 20).astype(int)  # 20 equally spaced looks, 50 ... 1000 per arm


def _looks(rng, draw):
    """Per-arm sufficient statistics at every look, shape (SIMS, 20), from cumulative sums."""
    x = draw(rng, (SIMS, N))
    s = np.cumsum(x, axis=1)[:, LOOKS - 1]
    ss = np.cumsum(x * x, axis=1)[:, LOOKS - 1]
    return SampleStats(np.broadcast_to(LOOKS.astype(float), s.shape), s, ss)


DRAWS = {
    "normal": (lambda rng, shape: rng.normal(1.0, 1.0, shape), 1.0),
    "proportion": (lambda rng, shape: (rng.random(shape) < 0.2) * 1.0, 0.2),
    "lognormal_sigma1": (lambda rng, shape: rng.lognormal(0.0, 1.0, shape), math.exp(0.5)),
}


@pytest.mark.parametrize("metric", sorted(DRAWS))
def test_peeking_twenty_times_sequence_controls_false_positives(metric):
    draw, _ = DRAWS[metric]
    rng = np.random.default_rng(71 + sorted(DRAWS).index(metric))
    control, treatment = _looks(rng, draw), _looks(rng, draw)  # A/A: true lift 0
    fixed = welch_absolute_lift(control, treatment, alpha=0.05)
    seq = asymptotic_confidence_sequence(fixed.estimate, fixed.std_error, 2 * control.n, alpha=0.05, target_n=2 * N)
    fixed_any = np.mean(np.any((fixed.ci_lower > 0) | (fixed.ci_upper < 0), axis=1))
    seq_any = np.mean(np.any((seq.lower > 0) | (seq.upper < 0), axis=1))
    final_look_fixed = np.mean((fixed.ci_lower[:, -1] > 0) | (fixed.ci_upper[:, -1] < 0))
    assert seq_any <= 0.05, seq_any
    assert fixed_any > 0.05, fixed_any
    assert fixed_any > 2 * final_look_fixed  # peeking inflates the error well beyond one look's


def test_sequence_covers_true_lift_at_all_looks_simultaneously():
    rng = np.random.default_rng(81)
    control = _looks(rng, lambda r, shape: r.normal(1.0, 1.0, shape))
    treatment = _looks(rng, lambda r, shape: r.normal(1.1, 1.5, shape))
    seq = sequential_difference_in_means(control, treatment, alpha=0.05, target_n=2 * N)
    simultaneous = np.mean(np.all((seq.lower <= 0.1) & (seq.upper >= 0.1), axis=1))
    assert simultaneous >= 0.95, simultaneous
