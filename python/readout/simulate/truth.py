"""Ground truth: exact expectations of each catalog metric per experiment arm, in closed form.

The generative model, per clean human unit exposed at time e (first exposure):

* latent activity lambda ~ sum_j pi_j Gamma(shape_j, scale_j) (``config.ACTIVITY_MIXTURE``);
* sessions and purchases are Poisson processes with rate ``base_rate[platform] * lambda * m(t)``, where
  the arm's multiplier m(t) is ``early`` on [e, e + 7 days) and ``late`` from e + 7 days on;
* each purchase's revenue is price x quantity, price from a fixed list and quantity = 1 + Poisson(kappa).

So for a window [a, b) days the count N is mixed Poisson with mean lambda * r * c, c = the integrated
multiplier, and, with L(s) = E[exp(-s lambda)] = sum_j pi_j (1 + s scale_j)^-shape_j:

* ``any``:         P(N >= 1) = 1 - L(r c)
* ``count``:       E[N] = E[lambda] r c
* ``sum_revenue``: E[N] * E[price] * (1 + kappa)            (Wald's identity)
* ``ratio``:       E[numerator] / E[denominator]              (ratio of the arm's expectations)

averaged over the platform mix (``config.PLATFORM_WEIGHTS``). Exposure, consent and logging are
independent of lambda and arm in the clean model, so these are the expectations for the exposed
population of human, consenting, non-fault units. No simulation is involved.
"""

from __future__ import annotations

from . import config as C

EFFECT_SPLIT_DAYS = 7  #: an Effect's ``early`` multipliers apply before this day, ``late`` from it


def laplace(s: float) -> float:
    """E[exp(-s * lambda)] for the activity mixture."""
    return sum(weight * (1.0 + s * scale) ** (-shape) for weight, shape, scale in C.ACTIVITY_MIXTURE)


def mean_activity() -> float:
    return sum(weight * shape * scale for weight, shape, scale in C.ACTIVITY_MIXTURE)


def mean_price() -> float:
    """Expected price in currency units (not cents)."""
    return sum(p * w for p, w in zip(C.PRICES_CENTS, C.PRICE_WEIGHTS)) / 100.0


def integrated_multiplier(early: float, late: float, start_days: float, end_days: float) -> float:
    """Integral of the rate multiplier over [start_days, end_days) after first exposure, in days."""
    split = EFFECT_SPLIT_DAYS
    early_overlap = max(0.0, min(end_days, split) - max(start_days, 0.0))
    late_overlap = max(0.0, end_days - max(start_days, split))
    return early * early_overlap + late * late_overlap


def _event_expectation(effect: C.Effect, event: str, aggregation: str, start: float, end: float) -> float:
    if event == "session_start":
        rates, early, late = C.SESSION_RATE_PER_DAY, effect.sessions_early, effect.sessions_late
    elif event == "purchase":
        rates, early, late = C.PURCHASE_RATE_PER_DAY, effect.purchases_early, effect.purchases_late
    else:
        raise ValueError(f"the simulator has no truth for metrics on {event!r}")
    c = integrated_multiplier(early, late, start, end)
    total = 0.0
    for platform, weight in zip(C.PLATFORMS, C.PLATFORM_WEIGHTS):
        rate = rates[platform] * c
        if aggregation == "any":
            value = 1.0 - laplace(rate)
        elif aggregation == "count":
            value = mean_activity() * rate
        elif aggregation == "sum_revenue":
            if event != "purchase":
                raise ValueError("sum_revenue is defined on purchase events only")
            value = mean_activity() * rate * mean_price() * (1.0 + effect.kappa)
        else:
            raise ValueError(f"the simulator has no truth for aggregation {aggregation!r}")
        total += weight * value
    return total


def arm_metric(effect: C.Effect, metric: C.Metric) -> dict[str, float]:
    """{'mean': ...} and, for ratio metrics, the numerator and denominator expectations too."""
    start, end = metric.window_start_days, metric.window_end_days
    numerator = _event_expectation(effect, metric.numerator_event, metric.numerator_aggregation, start, end)
    if metric.metric_type != "ratio":
        return {"mean": numerator}
    denominator = _event_expectation(effect, metric.denominator_event, metric.denominator_aggregation, start, end)
    return {"mean": numerator / denominator, "numerator_mean": numerator, "denominator_mean": denominator}


def ground_truth(experiments=C.EXPERIMENTS, metrics=C.METRICS) -> dict:
    """The manifest's ``truth`` section."""
    arm_rows, lift_rows = [], []
    for experiment in experiments:
        for version in experiment.versions:
            if version.started_at is None:
                continue  # drafts have no units
            control = version.control
            control_values = {m.metric_id: arm_metric(control.effect, m) for m in metrics}
            for arm in version.arms:
                values = control_values if arm.is_control else {m.metric_id: arm_metric(arm.effect, m) for m in metrics}
                arm_rows.append(
                    {
                        "experiment_id": experiment.experiment_id,
                        "experiment_version": version.version,
                        "variant_id": arm.variant_id,
                        "is_control": arm.is_control,
                        "allocation_weight": arm.weight,
                        "metrics": values,
                    }
                )
                if arm.is_control:
                    continue
                for metric in metrics:
                    control_mean = control_values[metric.metric_id]["mean"]
                    variant_mean = values[metric.metric_id]["mean"]
                    lift_rows.append(
                        {
                            "experiment_id": experiment.experiment_id,
                            "experiment_version": version.version,
                            "variant_id": arm.variant_id,
                            "control_variant_id": control.variant_id,
                            "metric_id": metric.metric_id,
                            "metric_type": metric.metric_type,
                            "control_mean": control_mean,
                            "variant_mean": variant_mean,
                            "absolute_lift": variant_mean - control_mean,
                            "relative_lift": (variant_mean - control_mean) / control_mean,
                        }
                    )
    return {
        "population": (
            "exposed human units with consent, not bot/internal and not planted by a fault; "
            "metric windows [window_start_days, window_end_days) from first exposure; exact "
            "expectations of the generative model (closed form), not estimates"
        ),
        "lifts": lift_rows,
        "arms": arm_rows,
    }
