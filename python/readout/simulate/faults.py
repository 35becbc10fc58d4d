"""Row-level faults: EXTRA rows derived from template rows of human units (no row carrying the truth is
altered). Each function draws from its own random stream, sized by the template rows, so switching one
fault never changes another.
"""

from __future__ import annotations

import numpy as np

from . import codes as K
from . import config as C
from .events import received_at
from .rows import Rows, take_rows


def _fresh_ids(rng: np.random.Generator, rows: Rows) -> None:
    n = rows["gid"].shape[0]
    rows["eid_hi"][:] = rng.bit_generator.random_raw(n)
    rows["eid_lo"][:] = rng.bit_generator.random_raw(n)


def duplicates(rng: np.random.Generator, base: Rows, keep: np.ndarray, retries: bool, conflicting: bool) -> Rows:
    """duplicate_retries (identical copy) and conflicting_duplicates (revenue doubled on purchases,
    a ``client_retry`` property otherwise); both received 1 s to 6 h after the original."""
    n = base["gid"].shape[0]
    u, g = rng.random(n), rng.normal(size=n)
    retry = keep & (u < C.DUPLICATE_RETRY_SHARE) & retries
    conflict = keep & (u >= C.DUPLICATE_RETRY_SHARE) & (u < C.DUPLICATE_RETRY_SHARE + C.CONFLICTING_DUPLICATE_SHARE)
    conflict &= conflicting
    index = np.flatnonzero(retry | conflict)
    copies = take_rows(base, index)
    delay_s = np.clip(C.RETRY_DELAY_MEDIAN_S * np.exp(1.5 * g[index]), 1.0, C.RETRY_DELAY_MAX_S)
    copies["t_rc"] += (delay_s * 1000).astype(np.int64)
    is_conflict = conflict[index]
    copies["tag"][:] = np.where(is_conflict, K.TAG_CONFLICT, K.TAG_RETRY)
    purchase = copies["ename"] == K.PURCHASE
    copies["cents"][:] = np.where(is_conflict & purchase, copies["cents"] * 2, copies["cents"])
    copies["props"][:] = np.where(is_conflict & ~purchase, copies["props"] + 1, copies["props"])
    return copies


def unknown_ids(rng: np.random.Generator, base: Rows, keep: np.ndarray) -> Rows:
    """Extra assignment/exposure rows, 1 min to 2 days after a real one of the same unit, naming an
    experiment absent from the export (half) or a variant the version does not have (half)."""
    n = base["gid"].shape[0]
    u, kind_u, pick_u, shift_u = rng.random((4, n))
    is_exp_row = (base["ename"] == K.ASSIGNED) | (base["ename"] == K.EXPOSED)
    index = np.flatnonzero(keep & is_exp_row & (u < C.UNKNOWN_IDS_SHARE))
    rows = take_rows(base, index)
    rows["t_ev"][:] = np.minimum(
        rows["t_ev"] + C.MINUTE + np.floor(shift_u[index] * 2 * C.DAY).astype(np.int64), C.DATA_END - 1
    )
    unknown_experiment = kind_u[index] < 0.5
    pick = pick_u[index]
    rows["exp"][:] = np.where(
        unknown_experiment, K.N_KNOWN_EXPERIMENTS + np.floor(pick * len(C.UNKNOWN_EXPERIMENT_IDS)), rows["exp"]
    )
    rows["ver"][:] = np.where(unknown_experiment, 1, rows["ver"])
    unknown_variant_codes = np.array([K.variant_code(v) for v in C.UNKNOWN_VARIANT_IDS])
    rows["var"][:] = np.where(
        unknown_experiment, rows["var"], unknown_variant_codes[np.floor(pick * len(unknown_variant_codes)).astype(int)]
    )
    exposure = rows["ename"] == K.EXPOSED
    rows["props"][:] = np.where(
        exposure, K.props_code(K.exposure_props_base(rows["exp"], rows["gid"]), rows["traffic"]), rows["props"]
    )
    rows["tag"][:] = np.where(unknown_experiment, K.TAG_UNKNOWN_EXPERIMENT, K.TAG_UNKNOWN_VARIANT)
    rows["t_rc"][:] = received_at(rng, rows["t_ev"], rows["src"], np.zeros(index.shape[0], bool))
    _fresh_ids(rng, rows)
    return rows


_SESSION_DEFECTS = np.array(
    [K.TAG_MISSING_EVENT_ID, K.TAG_MISSING_UNIT_ID, K.TAG_UNPARSEABLE, K.TAG_FUTURE], dtype=np.int8
)


def malformed(rng: np.random.Generator, base: Rows, keep: np.ndarray) -> Rows:
    """Extra rows with exactly one defect each: copies (0-60 min later, new event_id) of session_start rows
    with a null event_id, null unit ids, unparseable event_at or event_at > 1 day after received_at;
    copies of purchase rows with negative revenue."""
    n = base["gid"].shape[0]
    u, kind_u, shift_u, future_u, bad_u = rng.random((5, n))
    sessions = keep & (base["ename"] == K.SESSION) & (u < C.MALFORMED_SESSION_SHARE)
    purchases = keep & (base["ename"] == K.PURCHASE) & (u < C.MALFORMED_PURCHASE_SHARE)
    index = np.flatnonzero(sessions | purchases)
    rows = take_rows(base, index)
    rows["t_ev"][:] = np.minimum(rows["t_ev"] + np.floor(shift_u[index] * C.HOUR).astype(np.int64), C.DATA_END - 1)
    rows["t_rc"][:] = received_at(rng, rows["t_ev"], rows["src"], np.ones(index.shape[0], bool))
    _fresh_ids(rng, rows)
    tag = np.where(sessions[index], _SESSION_DEFECTS[np.floor(kind_u[index] * 4).astype(int)], K.TAG_NEGATIVE_REVENUE)
    rows["tag"][:] = tag
    rows["eid_null"][:] = tag == K.TAG_MISSING_EVENT_ID
    rows["anon_null"][:] = tag == K.TAG_MISSING_UNIT_ID
    rows["has_uid"][:] &= tag != K.TAG_MISSING_UNIT_ID
    rows["bad_ts"][:] = np.where(tag == K.TAG_UNPARSEABLE, np.floor(bad_u[index] * len(C.UNPARSEABLE_EVENT_AT)), -1)
    future = tag == K.TAG_FUTURE
    rows["t_ev"][:] = np.where(
        future, rows["t_rc"] + C.DAY + C.HOUR + np.floor(future_u[index] * 9 * C.DAY).astype(np.int64), rows["t_ev"]
    )
    rows["cents"][:] = np.where(tag == K.TAG_NEGATIVE_REVENUE, -rows["cents"], rows["cents"])
    return rows
