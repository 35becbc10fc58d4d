"""Unit tables: one numpy array per attribute, one element per unit (anonymous id / device).

Three populations, each drawn from its own random stream so that switching a fault on or off never
changes the others: human units (the truth population and background traffic), bot/internal units,
and the extra units planted by the biasing faults in the faulted experiment.
"""

from __future__ import annotations

import numpy as np

from . import codes as K
from . import config as C

UNIT_DTYPES: dict[str, type] = {
    "gid": np.int64,  # globally unique unit number (anonymous_id and user_id derive from it)
    "platform": np.int8,
    "lam": np.float64,  # latent activity
    "consent": np.bool_,
    "exp": np.int8,  # experiment code, -1 = none
    "ver": np.int8,
    "var": np.int8,  # variant code
    "mech": np.int8,
    "assign_t": np.int64,
    "expose_t": np.int64,  # first exposure: the anchor of the effect (and of the metric windows)
    "exposed": np.bool_,  # reached the experience (the effect applies)
    "logged": np.bool_,  # its exposure events are written
    "lost": np.bool_,  # variant_logging_loss: exposed but not logged
    "repeats": np.bool_,  # may log repeat exposures
    "act_start": np.int64,
    "act_end": np.int64,
    "role": np.int8,
    "traffic": np.int8,
    "user_num": np.int64,  # -1: never logs in
    "forced_login_t": np.int64,  # -1: logs in at one of its sessions instead
    "new": np.bool_,
    "se": np.float64,
    "sl": np.float64,
    "pe": np.float64,
    "pl": np.float64,
    "kappa": np.float64,
    "srate": np.float64,
    "prate": np.float64,  # base rates per day (multiplied by lam)
}

RUNNING = [e for e in C.EXPERIMENTS if any(v.started_at is not None for v in e.versions)]


def empty_units(n: int) -> dict[str, np.ndarray]:
    units = {name: np.zeros(n, dtype=dtype) for name, dtype in UNIT_DTYPES.items()}
    for name in ("exp", "ver", "var", "mech", "assign_t", "user_num", "forced_login_t"):
        units[name][:] = -1
    for name in ("se", "sl", "pe", "pl", "lam"):
        units[name][:] = 1.0
    units["kappa"][:] = C.BASE_KAPPA
    units["consent"][:] = True
    units["act_end"][:] = C.DATA_END
    return units


def concat_units(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) for name in UNIT_DTYPES}


def draw_activity(rng: np.random.Generator, n: int) -> np.ndarray:
    weights = np.array([w for w, _, _ in C.ACTIVITY_MIXTURE])
    component = np.searchsorted(np.cumsum(weights), rng.random(n), side="right").clip(0, len(weights) - 1)
    shape = np.array([s for _, s, _ in C.ACTIVITY_MIXTURE])[component]
    scale = np.array([s for _, _, s in C.ACTIVITY_MIXTURE])[component]
    return rng.gamma(shape, scale)


def draw_platform(rng: np.random.Generator, n: int) -> np.ndarray:
    cumulative = np.cumsum(C.PLATFORM_WEIGHTS)
    return np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right").astype(np.int8)


def exposure_delay_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    seconds = np.exp(rng.normal(np.log(C.EXPOSURE_DELAY_MEDIAN_S), C.EXPOSURE_DELAY_SIGMA, n))
    return (np.clip(seconds, 1.0, C.EXPOSURE_DELAY_MAX_S) * 1000).astype(np.int64)


def _set_base_rates(units: dict[str, np.ndarray]) -> None:
    srate = np.array([C.SESSION_RATE_PER_DAY[p] for p in C.PLATFORMS])
    prate = np.array([C.PURCHASE_RATE_PER_DAY[p] for p in C.PLATFORMS])
    units["srate"][:] = srate[units["platform"]]
    units["prate"][:] = prate[units["platform"]]


def _set_arm(
    units: dict[str, np.ndarray], rows: np.ndarray, experiment: C.Experiment, version: C.Version, arm_index: np.ndarray
) -> None:
    """Write experiment, version, variant and the arm's effect for ``rows`` (indices) of ``units``."""
    arms = version.arms
    units["exp"][rows] = K.experiment_code(experiment.experiment_id)
    units["ver"][rows] = version.version
    units["var"][rows] = np.array([K.variant_code(a.variant_id) for a in arms], dtype=np.int8)[arm_index]
    for field, attribute in (
        ("se", "sessions_early"),
        ("sl", "sessions_late"),
        ("pe", "purchases_early"),
        ("pl", "purchases_late"),
        ("kappa", "kappa"),
    ):
        units[field][rows] = np.array([getattr(a.effect, attribute) for a in arms])[arm_index]


def _enroll(
    units: dict[str, np.ndarray], rows: np.ndarray, experiment: C.Experiment, assign_u: np.ndarray, arm_u: np.ndarray
) -> None:
    """Assignment time uniform over the experiment's enrollment, version by time, arm by weights."""
    versions = [v for v in experiment.versions if v.started_at is not None]
    start, end = versions[0].started_at, versions[-1].enrollment_end
    t = start + np.floor(assign_u * (end - start)).astype(np.int64)
    units["assign_t"][rows] = t
    starts = np.array([v.started_at for v in versions])
    which = np.searchsorted(starts, t, side="right") - 1
    for i, version in enumerate(versions):
        sel = which == i
        _set_arm(units, rows[sel], experiment, version, _weighted_arm(version, arm_u[sel]))


def enrollment_end_of(units: dict[str, np.ndarray]) -> np.ndarray:
    """Per unit: its version's enrollment end (first exposures stay before it)."""
    out = np.full(units["exp"].shape[0], C.DATA_END, dtype=np.int64)
    for experiment in C.EXPERIMENTS:
        code = K.experiment_code(experiment.experiment_id)
        for version in experiment.versions:
            if version.enrollment_end is not None:
                out[(units["exp"] == code) & (units["ver"] == version.version)] = version.enrollment_end
    return out


def human_units(
    rng: np.random.Generator, loss_rng: np.random.Generator, n: int, gid0: int, logging_loss: bool
) -> dict[str, np.ndarray]:
    """The truth population (units in experiments) and background traffic (units in none)."""
    units = empty_units(n)
    units["gid"][:] = gid0 + np.arange(n)
    units["platform"][:] = draw_platform(rng, n)
    units["lam"][:] = draw_activity(rng, n)
    units["consent"][:] = rng.random(n) >= C.CONSENT_DENIED_SHARE
    shares = np.array([e.share for e in RUNNING] + [C.BACKGROUND_SHARE])
    layer = np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(n), side="right").clip(0, len(shares) - 1)
    assign_u, arm_u, never_u, override_u, new_u, login_u, start_u = rng.random((7, n))
    delay = exposure_delay_ms(rng, n)
    _set_base_rates(units)

    new_share = np.zeros(n)
    for i, experiment in enumerate(RUNNING):
        rows = np.flatnonzero(layer == i)
        _enroll(units, rows, experiment, assign_u[rows], arm_u[rows])
        new_share[rows] = experiment.new_unit_share
    in_experiment = units["exp"] >= 0
    units["role"][:] = np.where(in_experiment, K.ROLE_TRUTH, K.ROLE_BACKGROUND)
    units["mech"][:] = np.where(in_experiment, np.where(override_u < C.OVERRIDE_SHARE, K.OVERRIDE, K.HASH), -1)
    expose = np.minimum(units["assign_t"] + delay, enrollment_end_of(units) - 1)
    units["exposed"][:] = in_experiment & (never_u >= C.NEVER_EXPOSED_SHARE)
    units["repeats"][:] = units["exposed"]
    units["new"][:] = new_u < new_share

    # background units: existing ones active from the start, new ones arrive uniformly
    background = ~in_experiment
    units["new"][background] = new_u[background] < 0.35
    arrival = C.DATA_START + np.floor(start_u * (C.DATA_END - C.DAY - C.DATA_START)).astype(np.int64)
    existing_start = np.maximum(C.DATA_START, expose - C.PRE_PERIOD_DAYS * C.DAY)
    units["expose_t"][:] = np.where(in_experiment, expose, np.where(units["new"], arrival, C.DATA_START))
    units["act_start"][:] = np.where(
        in_experiment, np.where(units["new"], units["assign_t"], existing_start), units["expose_t"]
    )
    # never-exposed units keep their baseline rates after the would-be exposure
    for field in ("se", "sl", "pe", "pl"):
        units[field][~units["exposed"]] = 1.0
    units["kappa"][~units["exposed"]] = C.BASE_KAPPA
    units["user_num"][:] = np.where(login_u < C.LOGGED_IN_SHARE, units["gid"], -1)

    # variant_logging_loss: drawn for every unit so the stream does not depend on the switch
    loss_u = loss_rng.random(n)
    exp_id, version, variant, platform = C.LOGGING_LOSS_TARGET
    target = (
        units["exposed"]
        & (units["exp"] == K.experiment_code(exp_id))
        & (units["ver"] == version)
        & (units["var"] == K.variant_code(variant))
        & (units["platform"] == C.PLATFORMS.index(platform))
    )
    units["lost"][:] = logging_loss & target & (loss_u < C.LOGGING_LOSS_SHARE)
    units["logged"][:] = units["exposed"] & ~units["lost"]
    return units


def _random_experiment_units(rng: np.random.Generator, n: int, gid0: int) -> dict[str, np.ndarray]:
    units = empty_units(n)
    units["gid"][:] = gid0 + np.arange(n)
    which = rng.integers(0, len(RUNNING), n)
    assign_u, arm_u = rng.random((2, n))
    for i, experiment in enumerate(RUNNING):
        rows = np.flatnonzero(which == i)
        _enroll(units, rows, experiment, assign_u[rows], arm_u[rows])
    return units


def bot_units(rng: np.random.Generator, n_humans: int, gid0: int) -> dict[str, np.ndarray]:
    """bot_traffic: crawlers (web, many short sessions, no purchases) and internal testers (override)."""
    n_bots = int(rng.binomial(n_humans, C.BOT_SHARE))
    n_internal = int(rng.binomial(n_humans, C.INTERNAL_SHARE))
    bots = _random_experiment_units(rng, n_bots, gid0)
    bots["traffic"][:] = K.BOT
    bots["platform"][:] = C.PLATFORMS.index("web")
    bots["mech"][:] = K.HASH
    outside = rng.random(n_bots) < 0.2  # crawling, in no experiment
    for field in ("exp", "ver", "var", "mech", "assign_t"):
        bots[field][outside] = -1
    bots["exposed"][:] = ~outside & (rng.random(n_bots) >= C.NEVER_EXPOSED_SHARE)
    delay = exposure_delay_ms(rng, n_bots)
    anchor = np.where(
        outside,
        C.DATA_START + np.floor(rng.random(n_bots) * (C.DATA_END - 6 * C.DAY - C.DATA_START)).astype(np.int64),
        bots["assign_t"],
    )
    bots["expose_t"][:] = np.where(outside, anchor, np.minimum(anchor + delay, enrollment_end_of(bots) - 1))
    bots["act_start"][:] = np.maximum(C.DATA_START, anchor - np.floor(rng.random(n_bots) * 2 * C.DAY).astype(np.int64))
    bots["act_end"][:] = np.minimum(
        C.DATA_END, anchor + C.DAY + np.floor(rng.random(n_bots) * 4 * C.DAY).astype(np.int64)
    )
    bots["srate"][:] = C.BOT_SESSIONS_PER_DAY
    bots["prate"][:] = 0.0

    internal = _random_experiment_units(rng, n_internal, gid0 + n_bots)
    internal["traffic"][:] = K.INTERNAL
    internal["platform"][:] = draw_platform(rng, n_internal)
    internal["mech"][:] = K.OVERRIDE
    # testers pick their variant: uniform over the version's variants
    for experiment in RUNNING:
        for version in experiment.versions:
            sel = np.flatnonzero(
                (internal["exp"] == K.experiment_code(experiment.experiment_id)) & (internal["ver"] == version.version)
            )
            _set_arm(internal, sel, experiment, version, rng.integers(0, len(version.arms), sel.shape[0]))
    internal["exposed"][:] = True
    delay = exposure_delay_ms(rng, n_internal)
    internal["expose_t"][:] = np.minimum(internal["assign_t"] + delay, enrollment_end_of(internal) - 1)
    internal["act_start"][:] = C.DATA_START
    internal["srate"][:] = C.INTERNAL_SESSIONS_PER_DAY
    internal["prate"][:] = C.INTERNAL_PURCHASES_PER_DAY

    units = concat_units([bots, internal])
    units["role"][:] = K.ROLE_BOT
    units["logged"][:] = units["exposed"]
    units["repeats"][:] = units["exposed"]
    for field in ("se", "sl", "pe", "pl"):
        units[field][:] = 1.0  # bots and testers show no treatment effect
    units["kappa"][:] = C.BASE_KAPPA
    return units


def _faulted_versions() -> tuple[C.Experiment, list[C.Version]]:
    experiment = next(e for e in C.EXPERIMENTS if e.experiment_id == C.FAULTED_EXPERIMENT)
    return experiment, [v for v in experiment.versions if v.started_at is not None]


def _finish_fault_units(rng: np.random.Generator, units: dict[str, np.ndarray], role: int) -> dict[str, np.ndarray]:
    units["role"][:] = role
    units["lam"][:] = draw_activity(rng, units["gid"].shape[0])
    units["mech"][:] = K.HASH
    units["exposed"][:] = True
    units["logged"][:] = True
    units["act_start"][:] = np.maximum(
        C.DATA_START, np.minimum(units["assign_t"], units["expose_t"]) - C.PRE_PERIOD_DAYS * C.DAY
    )
    _set_base_rates(units)
    return units


def _fault_unit_count(rng: np.random.Generator, n_humans: int, share: float) -> int:
    experiment, _ = _faulted_versions()
    return int(rng.binomial(int(n_humans * experiment.share), share))


def _pick_version(rng: np.random.Generator, count: int, p_last: float) -> np.ndarray:
    _, versions = _faulted_versions()
    return np.where(rng.random(count) < p_last, len(versions) - 1, 0)


def _weighted_arm(version: C.Version, u: np.ndarray) -> np.ndarray:
    weights = np.cumsum([a.weight for a in version.arms])
    return np.searchsorted(weights / weights[-1], u, side="right").clip(0, len(version.arms) - 1)


def cross_variant_units(rng: np.random.Generator, n_humans: int, gid0: int) -> dict[str, np.ndarray]:
    """cross_variant_units: pairs of devices of one user, one device per variant of one version of the
    faulted experiment; each device logs in (a session carrying the shared user_id) after its exposure."""
    experiment, versions = _faulted_versions()
    n_pairs = _fault_unit_count(rng, n_humans, C.CROSS_VARIANT_PAIR_SHARE)
    pick = _pick_version(rng, n_pairs, 0.8)
    first_u, gap_u, flip_u = rng.random((3, n_pairs))
    units = empty_units(2 * n_pairs)
    units["gid"][:] = gid0 + np.arange(2 * n_pairs)
    units["platform"][:] = draw_platform(rng, 2 * n_pairs)
    for i, version in enumerate(versions):
        sel = np.flatnonzero(pick == i)
        span = version.enrollment_end - version.started_at - C.DAY
        first = version.started_at + np.floor(first_u[sel] * span).astype(np.int64)
        second = first + np.floor(gap_u[sel] * C.DAY).astype(np.int64)
        arm_first = (flip_u[sel] < 0.5).astype(np.int64)
        rows = np.concatenate([2 * sel, 2 * sel + 1])
        units["assign_t"][rows] = np.concatenate([first, second])
        _set_arm(units, rows, experiment, version, np.concatenate([arm_first, 1 - arm_first]))
    units["user_num"][:] = units["gid"][0::2].repeat(2)  # both devices carry the first device's user number
    delays = exposure_delay_ms(rng, 2 * n_pairs)
    units["expose_t"][:] = np.minimum(units["assign_t"] + delays, enrollment_end_of(units) - 1)
    units["forced_login_t"][:] = (
        units["expose_t"] + C.MINUTE + np.floor(rng.random(2 * n_pairs) * 2 * C.DAY).astype(np.int64)
    )
    return _finish_fault_units(rng, units, K.ROLE_XVAR)


def exposure_before_assignment_units(rng: np.random.Generator, n_humans: int, gid0: int) -> dict[str, np.ndarray]:
    """exposure_before_assignment: the exposure is logged 1 s to 10 min before the assignment."""
    experiment, versions = _faulted_versions()
    n = _fault_unit_count(rng, n_humans, C.EXPOSURE_BEFORE_ASSIGNMENT_SHARE)
    pick = _pick_version(rng, n, 0.75)
    assign_u, arm_u, early_u = rng.random((3, n))
    units = empty_units(n)
    units["gid"][:] = gid0 + np.arange(n)
    units["platform"][:] = draw_platform(rng, n)
    for i, version in enumerate(versions):
        sel = np.flatnonzero(pick == i)
        span = version.enrollment_end - version.started_at - C.HOUR
        units["assign_t"][sel] = version.started_at + C.HOUR + np.floor(assign_u[sel] * span).astype(np.int64)
        _set_arm(units, sel, experiment, version, _weighted_arm(version, arm_u[sel]))
    units["expose_t"][:] = units["assign_t"] - C.SECOND - np.floor(early_u * 10 * C.MINUTE).astype(np.int64)
    return _finish_fault_units(rng, units, K.ROLE_EBA)


def exposure_outside_window_units(rng: np.random.Generator, n_humans: int, gid0: int) -> dict[str, np.ndarray]:
    """exposure_outside_window: exposed (and assigned) up to 3 days before the version's started_at, or
    between its ended_at and the end of the data."""
    experiment, versions = _faulted_versions()
    n = _fault_unit_count(rng, n_humans, C.EXPOSURE_OUTSIDE_WINDOW_SHARE)
    pick = _pick_version(rng, n, 0.75)
    side_u, when_u, arm_u = rng.random((3, n))
    units = empty_units(n)
    units["gid"][:] = gid0 + np.arange(n)
    units["platform"][:] = draw_platform(rng, n)
    for i, version in enumerate(versions):
        sel = np.flatnonzero(pick == i)
        before = version.started_at - 3 * C.DAY + np.floor(when_u[sel] * (3 * C.DAY - C.MINUTE)).astype(np.int64)
        after_span = C.DATA_END - C.HOUR - (version.ended_at + C.MINUTE)
        after = version.ended_at + C.MINUTE + np.floor(when_u[sel] * after_span).astype(np.int64)
        units["expose_t"][sel] = np.where(side_u[sel] < 0.5, before, after)
        _set_arm(units, sel, experiment, version, _weighted_arm(version, arm_u[sel]))
    units["assign_t"][:] = units["expose_t"] - exposure_delay_ms(rng, n)
    return _finish_fault_units(rng, units, K.ROLE_OUTWIN)
