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

Funnels (``config.FUNNELS``, the demo funnel of seeds/funnel_catalog.csv) are counted, not expected: a step's
signup comes at a login drawn among all the unit's sessions, so its reach has no short closed form. The
simulator knows, from the rows it generated, the time of every planted event of every unit, so
:func:`funnel_cells` walks each clean exposed unit (the population above) through the steps, by the catalog's
definition (the first event of the step at or after reaching the step before and less than ``window_days``
after it; step 0 is the first exposure), and counts per experiment version x variant x step the units whose
funnel window fits in the version's run (``n_units``), those that reached the step and the step before, and those
whose window the version's end cut short (``n_units_window_truncated``). Only the rows the simulator planted for
the unit itself count (no fault row), so a correct pipeline's fct_funnel_steps equals it on a clean landing zone.
"""

from __future__ import annotations

import numpy as np

from . import codes as K
from . import config as C
from .rows import Rows

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


FUNNEL_MEASURES = ("n_units", "n_reached", "n_reached_previous", "n_units_window_truncated")
_NEVER = np.iinfo(np.int64).max


def _first_per_unit(rows: Rows, index: np.ndarray) -> np.ndarray:
    """The earliest row of each unit (gid) among ``index``, sorted by gid."""
    if not index.size:
        return index
    order = np.lexsort((rows["t_ev"][index], rows["gid"][index]))
    index = index[order]
    gid = rows["gid"][index]
    return index[np.concatenate([[True], gid[1:] != gid[:-1]])]


def funnel_cells(rows: Rows, accepted: np.ndarray, funnels=C.FUNNELS) -> dict[str, int]:
    """Funnel step counts of one chunk of written rows (``accepted``: the rows staging accepts), keyed
    ``funnel|<funnel_id>|<step_number>|<measure>|<experiment_id>|<version>|<variant_id>``; chunks add up (a
    unit's rows are all in one chunk). The population: human units planted by no fault, with consent, with an
    accepted assignment and exposure row (manifest ``population.clean_exposed_units``)."""
    planted = accepted & (rows["tag"] == K.TAG_NONE) & (rows["role"] == K.ROLE_TRUTH) & rows["consent"]
    first = _first_per_unit(rows, np.flatnonzero(planted & (rows["ename"] == K.EXPOSED)))
    assigned = np.unique(rows["gid"][planted & (rows["ename"] == K.ASSIGNED)])
    first = first[np.isin(rows["gid"][first], assigned)]
    if not first.size:
        return {}
    gids = rows["gid"][first]  # sorted: a human unit is in one experiment version
    exposed_at = rows["t_ev"][first]
    exp, ver, var = (rows[name][first].astype(np.int64) for name in ("exp", "ver", "var"))
    cell = (exp * K.MAX_VERSION + ver) * 256 + var
    ended = K.ENDED_AT[exp, ver]
    out: dict[str, int] = {}

    def count(funnel_id: str, step: int, measure: str, mask: np.ndarray) -> None:
        values, counts = np.unique(cell[mask], return_counts=True)
        for value, number in zip(values.tolist(), counts.tolist()):
            code, variant = divmod(value, 256)
            experiment, version = divmod(code, K.MAX_VERSION)
            key = f"funnel|{funnel_id}|{step}|{measure}|{K.EXPERIMENT_KEYS[experiment]}|{version}|"
            out[key + K.VARIANT_NAMES[variant]] = number

    for funnel in funnels:
        total = sum(step.window_days for step in funnel.steps) * C.DAY
        truncated = (ended >= 0) & (ended < exposed_at + total)
        counted = ~truncated
        reached = exposed_at.copy()  # step 0: the first exposure
        for step in funnel.steps:
            events = np.flatnonzero(planted & (rows["ename"] == K.EVENT_NAMES.index(step.event_name)))
            position = np.searchsorted(gids, rows["gid"][events]).clip(0, gids.shape[0] - 1)
            mine = gids[position] == rows["gid"][events]
            events, position = events[mine], position[mine]
            at, previous = rows["t_ev"][events], reached[position]
            inside = (previous >= 0) & (at >= previous) & (at < previous + step.window_days * C.DAY)
            earliest = np.full(gids.shape[0], _NEVER, dtype=np.int64)
            np.minimum.at(earliest, position[inside], at[inside])
            now = np.where(earliest < _NEVER, earliest, -1)
            count(funnel.funnel_id, step.step_number, "n_units", counted)
            count(funnel.funnel_id, step.step_number, "n_reached", counted & (now >= 0))
            count(funnel.funnel_id, step.step_number, "n_reached_previous", counted & (reached >= 0))
            count(funnel.funnel_id, step.step_number, "n_units_window_truncated", truncated)
            reached = now
    return out


def funnel_truth(counts: dict, experiments=C.EXPERIMENTS, funnels=C.FUNNELS) -> list[dict]:
    """The manifest's ``truth.funnel_steps``: per started experiment version x variant x funnel x step, the
    counts :func:`funnel_cells` tallied (zero where no unit reached a cell)."""
    out = []
    for experiment in experiments:
        for version in experiment.versions:
            if version.started_at is None:
                continue  # drafts have no units
            for arm in version.arms:
                for funnel in funnels:
                    for step in funnel.steps:
                        key = f"funnel|{funnel.funnel_id}|{step.step_number}|{{}}|{experiment.experiment_id}|"
                        key += f"{version.version}|{arm.variant_id}"
                        out.append(
                            {
                                "experiment_id": experiment.experiment_id,
                                "experiment_version": version.version,
                                "variant_id": arm.variant_id,
                                "funnel_id": funnel.funnel_id,
                                "funnel_version": funnel.funnel_version,
                                "step_number": step.step_number,
                                "step_name": step.step_name,
                                **{measure: int(counts.get(key.format(measure), 0)) for measure in FUNNEL_MEASURES},
                            }
                        )
    return out


def ground_truth(experiments=C.EXPERIMENTS, metrics=C.METRICS, counts: dict | None = None) -> dict:
    """The manifest's ``truth`` section (``counts``: the merged tally of the rows written, for the funnels)."""
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
        "funnel_population": (
            "the same units, walked through each funnel of seeds/funnel_catalog.csv by the rows the simulator "
            "planted for them (no fault row): n_units are those whose whole funnel window fits in the version's run "
            "(every one of them complete once the landing zone holds the whole timeline), n_reached those that "
            "reached the step, n_reached_previous the step before; exact counts, not expectations"
        ),
        "funnel_steps": funnel_truth(counts or {}, experiments),
    }
