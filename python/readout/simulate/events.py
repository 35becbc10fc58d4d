"""Unit tables -> event rows (vectorised): assignment, exposures, sessions, purchases, signups.

Outcomes are Poisson processes in three pieces per unit, [act_start, e), [e, e + 7 d), [e + 7 d, act_end)
with e the first exposure, so a catalog window [a, b) days from first exposure sees exactly the Poisson
count the ground truth (``truth.py``) integrates. Times are whole milliseconds: an event at offset
``floor(U * length)`` from an integer piece start falls in a window iff its continuous time does.
"""

from __future__ import annotations

import numpy as np

from . import codes as K
from . import config as C
from .rows import Rows, empty_rows

SESSION_KEY_STRIDE = 1 << 16  #: session key = gid * stride + ordinal of the session in the unit
_PIECE_SPLIT = 7 * C.DAY  # truth.EFFECT_SPLIT_DAYS
_PAGE_WEIGHTS = np.cumsum([0.4, 0.25, 0.2, 0.1, 0.05])
_PRICE_CUMULATIVE = np.cumsum(C.PRICE_WEIGHTS) / np.sum(C.PRICE_WEIGHTS)
_PRICES = np.array(C.PRICES_CENTS, dtype=np.int64)


def received_at(rng: np.random.Generator, t_ev: np.ndarray, src: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Collector time: seconds after event_at for server/web; mobile rows are sometimes hours or days late,
    and a few outcome rows come from a device clock that runs ahead (received before event_at)."""
    n = t_ev.shape[0]
    u, u2, g = rng.random(n), rng.random(n), rng.normal(size=n)
    median = np.array([0.8, 3.0, 3.0, 0.3])[src]
    sigma = np.array([1.0, 1.2, 1.2, 1.0])[src]
    cap = np.array([30.0, 120.0, 120.0, 5.0])[src]
    delay = (np.clip(median * np.exp(sigma * g), 0.001, cap) * 1000).astype(np.int64)
    mobile = (src == C.IOS) | (src == C.ANDROID)
    low = 0.0
    for share, start, end in C.MOBILE_LATE_COMPONENTS:
        sel = mobile & (u >= low) & (u < low + share)
        delay[sel] = start + np.floor(u2[sel] * (end - start)).astype(np.int64)
        low += share
    ahead = mobile & outcome & (u >= low) & (u < low + C.MOBILE_CLOCK_AHEAD_SHARE)
    delay[ahead] = -(C.SECOND + np.floor(u2[ahead] * (C.MOBILE_CLOCK_AHEAD_MAX - C.SECOND)).astype(np.int64))
    return t_ev + delay


def _poisson_pieces(
    rng: np.random.Generator, starts: np.ndarray, lengths: np.ndarray, rate_per_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Events of independent Poisson processes on [start, start + length): (piece index, time ms)."""
    counts = rng.poisson(rate_per_day * lengths / C.DAY)
    piece = np.repeat(np.arange(starts.shape[0]), counts)
    offset = np.floor(rng.random(piece.shape[0]) * lengths[piece]).astype(np.int64)
    return piece, starts[piece] + offset


def unit_rows(rng: np.random.Generator, units: dict[str, np.ndarray]) -> Rows:
    """Every row of every unit in ``units``, including the exposure rows of units whose exposures are
    lost (drop them with ``logged_mask``): the random stream never depends on the logging-loss switch."""
    n = units["gid"].shape[0]
    if n == 0:
        return empty_rows(0)
    a0, a1, e = units["act_start"], units["act_end"], units["expose_t"]
    cut1 = np.clip(e, a0, a1)
    cut2 = np.clip(e + _PIECE_SPLIT, a0, a1)
    starts = np.stack([a0, cut1, cut2], axis=1).ravel()
    lengths = np.stack([cut1 - a0, cut2 - cut1, a1 - cut2], axis=1).ravel()
    lam = units["lam"]
    s_rate = (units["srate"] * lam)[:, None] * np.stack([np.ones(n), units["se"], units["sl"]], axis=1)
    p_rate = (units["prate"] * lam)[:, None] * np.stack([np.ones(n), units["pe"], units["pl"]], axis=1)
    kappa = np.stack([np.full(n, C.BASE_KAPPA), units["kappa"], units["kappa"]], axis=1).ravel()

    # sessions (grouped by unit: pieces are unit-major)
    piece, s_t = _poisson_pieces(rng, starts, lengths, s_rate.ravel())
    s_unit = piece // 3
    s_counts = np.bincount(s_unit, minlength=n)
    s_offsets = np.concatenate([[0], np.cumsum(s_counts)[:-1]])

    # purchases
    piece, p_t = _poisson_pieces(rng, starts, lengths, p_rate.ravel())
    p_unit = piece // 3
    price_index = np.searchsorted(_PRICE_CUMULATIVE, rng.random(p_t.shape[0]), side="right")
    price = _PRICES[price_index.clip(0, len(_PRICES) - 1)]
    quantity = 1 + rng.poisson(kappa[piece])
    p_cents = price * quantity

    # login: at a random session of the unit, or (cross-variant devices) at a forced extra session
    login_u, signup_u, signup_delay_u, method_u = rng.random((4, n))
    forced = units["forced_login_t"] >= 0
    wants_login = (units["user_num"] >= 0) & ~forced & (s_counts > 0)
    login_t = np.full(n, -1, dtype=np.int64)
    pick = s_offsets + np.floor(login_u * s_counts).astype(np.int64)
    login_t[wants_login] = s_t[pick[wants_login]]
    login_t[forced] = units["forced_login_t"][forced]
    forced_unit = np.flatnonzero(forced & (units["forced_login_t"] < C.DATA_END))
    s_unit = np.concatenate([s_unit, forced_unit])
    s_t = np.concatenate([s_t, units["forced_login_t"][forced_unit]])
    signup_share = np.where(units["new"], C.SIGNUP_SHARE_NEW, C.SIGNUP_SHARE_EXISTING)
    su_unit = np.flatnonzero((login_t >= 0) & (login_t < C.DATA_END) & (signup_u < signup_share))
    su_t = np.minimum(
        login_t[su_unit] + 5 * C.SECOND + np.floor(signup_delay_u[su_unit] * 175 * C.SECOND).astype(np.int64),
        C.DATA_END - 1,
    )

    # assignment (server) and exposures (on the unit's platform): first, then repeats within 7 days
    as_unit = np.flatnonzero(units["assign_t"] >= 0)
    repeat_counts = rng.poisson(C.REPEAT_EXPOSURES_MEAN, n) * units["repeats"]
    rep_unit = np.repeat(np.arange(n), repeat_counts)
    rep_t = e[rep_unit] + C.MINUTE + np.floor(rng.random(rep_unit.shape[0]) * (7 * C.DAY - C.MINUTE)).astype(np.int64)
    keep = rep_t < C.DATA_END
    first_unit = np.flatnonzero(units["exposed"])
    ex_unit = np.concatenate([first_unit, rep_unit[keep]])
    ex_t = np.concatenate([e[first_unit], rep_t[keep]])

    unit = np.concatenate([as_unit, ex_unit, s_unit, su_unit, p_unit])
    t_ev = np.concatenate([units["assign_t"][as_unit], ex_t, s_t, su_t, p_t])
    ename = np.concatenate(
        [
            np.full(as_unit.shape[0], K.ASSIGNED, np.int8),
            np.full(ex_unit.shape[0], K.EXPOSED, np.int8),
            np.full(s_unit.shape[0], K.SESSION, np.int8),
            np.full(su_unit.shape[0], K.SIGNUP, np.int8),
            np.full(p_unit.shape[0], K.PURCHASE, np.int8),
        ]
    )
    m = unit.shape[0]
    page = np.searchsorted(_PAGE_WEIGHTS, rng.random(s_unit.shape[0]), side="right").clip(0, 4)
    base = np.concatenate(
        [
            np.full(as_unit.shape[0], K.PROPS_ASSIGNMENT),
            K.exposure_props_base(units["exp"][ex_unit], units["gid"][ex_unit]),
            K.PROPS_SESSION + page,
            K.PROPS_SIGNUP + np.floor(method_u[su_unit] * 3).astype(np.int64),
            K.PROPS_PURCHASE + np.minimum(quantity, K.MAX_ITEMS),
        ]
    )
    cents = np.concatenate([np.zeros(m - p_unit.shape[0], np.int64), p_cents])

    # one order for everything below: by unit, time, sessions first at equal times
    order = np.lexsort((ename != K.SESSION, t_ev, unit))
    unit, t_ev, ename, base, cents = unit[order], t_ev[order], ename[order], base[order], cents[order]
    src = np.where(ename == K.ASSIGNED, C.SERVER, units["platform"][unit]).astype(np.int8)

    # session_id: the unit's latest session started at or before the row (none for server rows)
    position = np.arange(m)
    is_session = ename == K.SESSION
    unit_start = np.searchsorted(unit, unit, side="left")
    last_session = np.maximum.accumulate(np.where(is_session, position, -1))
    sessions_before = np.cumsum(is_session)  # inclusive
    first_in_unit = sessions_before[unit_start] - is_session[unit_start]
    has_session = (last_session >= unit_start) & (src != C.SERVER)
    ordinal = sessions_before[np.maximum(last_session, 0)] - 1 - first_in_unit
    if has_session.any() and int(ordinal[has_session].max()) >= SESSION_KEY_STRIDE:
        raise RuntimeError("a unit has more sessions than session keys allow")
    sess = np.where(has_session, units["gid"][unit] * SESSION_KEY_STRIDE + ordinal, -1)

    rows = empty_rows(m)
    rows["gid"][:] = units["gid"][unit]
    rows["ename"][:] = ename
    rows["t_ev"][:] = t_ev
    rows["src"][:] = src
    is_exp_row = (ename == K.ASSIGNED) | (ename == K.EXPOSED)
    for field in ("exp", "ver", "var"):
        rows[field][:] = np.where(is_exp_row, units[field][unit], -1)
    rows["mech"][:] = np.where(ename == K.ASSIGNED, units["mech"][unit], -1)
    rows["cents"][:] = cents
    rows["traffic"][:] = units["traffic"][unit]
    rows["props"][:] = K.props_code(base, rows["traffic"])
    rows["sess"][:] = sess
    rows["user_num"][:] = units["user_num"][unit]
    login = login_t[unit]
    rows["has_uid"][:] = (rows["user_num"] >= 0) & (login >= 0) & (t_ev >= login)
    rows["consent"][:] = units["consent"][unit]
    rows["role"][:] = units["role"][unit]
    rows["lost"][:] = units["lost"][unit]
    rows["bad_ts"][:] = -1
    rows["t_rc"][:] = received_at(rng, t_ev, src, ~is_exp_row)
    rows["eid_hi"][:] = rng.bit_generator.random_raw(m)
    rows["eid_lo"][:] = rng.bit_generator.random_raw(m)
    return rows


def logged_mask(rows: Rows) -> np.ndarray:
    """False on the exposure rows of units whose exposures were lost (variant_logging_loss)."""
    return ~((rows["ename"] == K.EXPOSED) & rows["lost"])
