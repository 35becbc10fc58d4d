"""Fault and realism counts of the rows actually written, computed from the row arrays by the same
definitions a reader of the files would use (the tests recount them from the Parquet files).

All rows of a unit are generated in one block, and a block is written whole into one chunk, so the
unit-level counts of separate chunks simply add up.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import codes as K
from . import config as C
from .rows import Rows
from .truth import funnel_cells

FUTURE_TOLERANCE = 60 * C.MINUTE  #: staging's future_tolerance_minutes default


def schema_v2_mask(rows: Rows, enabled: bool) -> np.ndarray:
    """mixed_schema_versions: android rows received from 2026-02-01 follow schema version 2."""
    if not enabled:
        return np.zeros(rows["gid"].shape[0], dtype=bool)
    return (rows["src"] == C.ANDROID) & (rows["t_rc"] >= C.SCHEMA_V2_FROM)


def _exp_row_validity(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    is_exp_row = (rows["ename"] == K.ASSIGNED) | (rows["ename"] == K.EXPOSED)
    exp, ver, var = rows["exp"].astype(np.int64), rows["ver"].astype(np.int64), rows["var"].astype(np.int64)
    inside = (exp >= 0) & (ver >= 0) & (ver < K.MAX_VERSION) & (var >= 0)
    valid = inside & K.VALID[np.where(inside, exp, 0), np.where(inside, ver, 0), np.where(inside, var, 0)]
    return is_exp_row, valid


def accepted_mask(rows: Rows) -> np.ndarray:
    """Rows staging accepts under the contract's rules (no quarantine reason applies)."""
    is_exp_row, valid = _exp_row_validity(rows)
    parseable = rows["bad_ts"] < 0
    return (
        ~rows["eid_null"]
        & ~(rows["anon_null"] & ~rows["has_uid"])
        & parseable
        & ~(rows["t_ev"] > rows["t_rc"] + FUTURE_TOLERANCE)
        & ~((rows["ename"] == K.PURCHASE) & (rows["cents"] < 0))
        & ~(is_exp_row & ~valid)
    )


def _unit_key(rows: Rows, index: np.ndarray) -> np.ndarray:
    return rows["gid"][index] * 64 + rows["exp"][index].astype(np.int64) * 4 + rows["ver"][index].astype(np.int64)


def _group_min(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.array([], int)
    return keys[first], values[first]


def _cells(rows: Rows, index: np.ndarray, prefix: str) -> dict[str, int]:
    """Count of ``index`` rows per experiment|version|variant, keyed ``prefix|experiment|version|variant``."""
    code = (rows["exp"][index].astype(np.int64) * K.MAX_VERSION + rows["ver"][index]) * 256 + rows["var"][index]
    values, counts = np.unique(code, return_counts=True)
    out = {}
    for value, count in zip(values.tolist(), counts.tolist()):
        exp, rest = divmod(value, K.MAX_VERSION * 256)
        ver, var = divmod(rest, 256)
        out[f"{prefix}|{K.EXPERIMENT_KEYS[exp]}|{ver}|{K.VARIANT_NAMES[var]}"] = count
    return out


def tally(rows: Rows, v2: np.ndarray) -> dict:
    """Counts for one chunk of written rows (``v2``: which rows are written as schema version 2)."""
    n = rows["gid"].shape[0]
    out: dict = {}
    parseable = rows["bad_ts"] < 0
    is_exp_row, valid = _exp_row_validity(rows)
    accepted = accepted_mask(rows)
    purchase = rows["ename"] == K.PURCHASE

    # row-level faults
    out["duplicate_retries"] = int((rows["tag"] == K.TAG_RETRY).sum())
    out["conflicting_duplicates"] = int((rows["tag"] == K.TAG_CONFLICT).sum())
    unknown_experiment = is_exp_row & (rows["exp"] >= K.N_KNOWN_EXPERIMENTS)
    unknown_variant = is_exp_row & (rows["exp"] >= 0) & (rows["exp"] < K.N_KNOWN_EXPERIMENTS) & ~valid
    out["unknown_ids.unknown_experiment"] = int(unknown_experiment.sum())
    out["unknown_ids.unknown_variant"] = int(unknown_variant.sum())
    out["malformed_rows.missing_event_id"] = int(rows["eid_null"].sum())
    out["malformed_rows.missing_unit_id"] = int((rows["anon_null"] & ~rows["has_uid"]).sum())
    out["malformed_rows.unparseable_event_at"] = int((~parseable).sum())
    out["malformed_rows.future_event_at"] = int((parseable & (rows["t_ev"] > rows["t_rc"] + C.DAY)).sum())
    out["malformed_rows.negative_revenue"] = int((purchase & (rows["cents"] < 0)).sum())
    out["mixed_schema_versions"] = int(v2.sum())
    bot_rows = rows["traffic"] != K.HUMAN
    out["bot_traffic.rows"] = int(bot_rows.sum())
    out["bot_traffic.bot_units"] = int(np.unique(rows["gid"][rows["traffic"] == K.BOT]).shape[0])
    out["bot_traffic.internal_units"] = int(np.unique(rows["gid"][rows["traffic"] == K.INTERNAL]).shape[0])

    # realism
    lateness = rows["t_rc"] - rows["t_ev"]
    out["late_mobile_events"] = int((parseable & (lateness > C.LATE_THRESHOLD)).sum())
    out["late_mobile_events.over_3_days"] = int((parseable & (lateness > 3 * C.DAY)).sum())
    out["consent_denied"] = int(np.unique(rows["gid"][~rows["consent"] & ~rows["anon_null"]]).shape[0])

    # assignment / exposure per unit x experiment version (accepted rows only)
    assigned = np.flatnonzero(accepted & (rows["ename"] == K.ASSIGNED))
    exposed = np.flatnonzero(accepted & (rows["ename"] == K.EXPOSED))
    a_keys, a_first = np.unique(_unit_key(rows, assigned), return_index=True)
    a_rows = assigned[a_first]
    x_keys = np.unique(_unit_key(rows, exposed))
    never = ~np.isin(a_keys, x_keys)
    lost = never & rows["lost"][a_rows]
    natural = never & ~rows["lost"][a_rows]
    out["variant_logging_loss"] = int(lost.sum())
    out["assigned_never_exposed"] = int(natural.sum())
    out["override_assignments"] = int((rows["mech"][a_rows] == K.OVERRIDE).sum())
    cells: Counter = Counter()
    cells.update(_cells(rows, a_rows[natural], "assigned_never_exposed"))
    cells.update(_cells(rows, a_rows[lost], "variant_logging_loss"))

    # exposure_before_assignment: first exposure earlier than the (first) assignment
    ak, at = _group_min(_unit_key(rows, assigned), rows["t_ev"][assigned])
    xk, xt = _group_min(_unit_key(rows, exposed), rows["t_ev"][exposed])
    both, ai, xi = np.intersect1d(ak, xk, assume_unique=True, return_indices=True)
    out["exposure_before_assignment"] = int((xt[xi] < at[ai]).sum())

    # exposure_outside_window: an exposure before started_at or after ended_at of its version
    exp, ver = rows["exp"][exposed].astype(np.int64), rows["ver"][exposed].astype(np.int64)
    started, ended = K.STARTED_AT[exp, ver], K.ENDED_AT[exp, ver]
    t = rows["t_ev"][exposed]
    outside = (t < started) | ((ended >= 0) & (t > ended))
    out["exposure_outside_window"] = int(np.unique(_unit_key(rows, exposed[outside])).shape[0])

    # cross_variant_units: anonymous ids resolved to user ids by accepted rows carrying both
    links = accepted & rows["has_uid"] & ~rows["anon_null"]
    link_gid, first = np.unique(rows["gid"][links], return_index=True)
    link_user = rows["user_num"][links][first]
    exp_rows = np.concatenate([assigned, exposed])
    gid = rows["gid"][exp_rows]
    if link_gid.shape[0]:
        pos = np.searchsorted(link_gid, gid).clip(0, link_gid.shape[0] - 1)
        linked = link_gid[pos] == gid
        resolved = np.where(linked, link_user[pos], -1 - gid)
    else:
        resolved = -1 - gid
    group = resolved * 64 + rows["exp"][exp_rows].astype(np.int64) * 4 + rows["ver"][exp_rows].astype(np.int64)
    pairs = np.unique(group * 16 + rows["var"][exp_rows].astype(np.int64))
    groups, variants = np.unique(np.floor_divide(pairs, 16), return_counts=True)
    out["cross_variant_units"] = int(((variants > 1) & (groups >= 0)).sum())

    # clean exposed units (truth population with consent) per arm
    truth = rows["role"][a_rows] == K.ROLE_TRUTH
    clean = truth & rows["consent"][a_rows] & ~never
    cells.update(_cells(rows, a_rows[clean], "clean_exposed_units"))
    cells.update(funnel_cells(rows, accepted))  # the funnel steps the clean units reached (truth.funnel_truth)

    # volumes
    out["rows"] = n
    for code, name in enumerate(K.SOURCE_SYSTEMS):
        out[f"rows_by_source_system.{name}"] = int((rows["src"] == code).sum())
    for code, name in enumerate(K.EVENT_NAMES):
        out[f"rows_by_event_name.{name}"] = int((rows["ename"] == code).sum())
    out["rows_by_schema_version.1"] = int(n - v2.sum())
    out["rows_by_schema_version.2"] = int(v2.sum())
    out.update(cells)
    bounds = {}
    plausible = parseable & (rows["t_ev"] <= rows["t_rc"] + FUTURE_TOLERANCE)  # not quarantined as future
    if plausible.any():
        bounds["event_at_min"] = int(rows["t_ev"][plausible].min())
        bounds["event_at_max"] = int(rows["t_ev"][plausible].max())
    if n:
        bounds["received_at_min"] = int(rows["t_rc"].min())
        bounds["received_at_max"] = int(rows["t_rc"].max())
    return {"counts": out, "bounds": bounds}


def merge(total: dict, part: dict) -> dict:
    counts = Counter(total.get("counts", {}))
    counts.update(part["counts"])
    bounds = dict(total.get("bounds", {}))
    for key, value in part["bounds"].items():
        if key not in bounds:
            bounds[key] = value
        else:
            bounds[key] = min(bounds[key], value) if key.endswith("_min") else max(bounds[key], value)
    return {"counts": dict(counts), "bounds": bounds}
