"""Row arrays: one numpy array per field, one element per event row (before any text is formatted)."""

from __future__ import annotations

import numpy as np

ROW_DTYPES: dict[str, type] = {
    "gid": np.int64,  # unit number (-> anonymous_id)
    "ename": np.int8,  # codes.EVENT_NAMES
    "t_ev": np.int64,  # event_at, ms
    "t_rc": np.int64,  # received_at, ms
    "src": np.int8,  # codes.SOURCE_SYSTEMS
    "exp": np.int8,  # codes.EXPERIMENT_KEYS, -1 null
    "ver": np.int8,  # -1 null
    "var": np.int8,  # codes.VARIANT_NAMES, -1 null
    "mech": np.int8,  # codes.MECHANISMS, -1 null
    "cents": np.int64,  # revenue in cents (purchase rows only)
    "props": np.int16,  # codes.PROPERTY_STRINGS
    "sess": np.int64,  # session key, -1 null
    "has_uid": np.bool_,  # row carries user_id
    "user_num": np.int64,  # the unit's user number, -1 none
    "consent": np.bool_,
    "traffic": np.int8,
    "eid_hi": np.uint64,
    "eid_lo": np.uint64,
    "eid_null": np.bool_,  # malformed: missing_event_id
    "anon_null": np.bool_,  # malformed: missing_unit_id (anonymous_id and user_id null)
    "bad_ts": np.int8,  # malformed: index into config.UNPARSEABLE_EVENT_AT, -1 none
    "tag": np.int8,  # codes.TAG_*: which fault planted this row
    "role": np.int8,  # codes.ROLE_*: the unit's role
    "lost": np.bool_,  # the unit's exposures were lost (variant_logging_loss)
}

Rows = dict[str, np.ndarray]


def empty_rows(n: int) -> Rows:
    return {name: np.zeros(n, dtype=dtype) for name, dtype in ROW_DTYPES.items()}


def concat_rows(parts: list[Rows]) -> Rows:
    parts = [p for p in parts if p["gid"].shape[0]] or parts[:1] or [empty_rows(0)]
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in ROW_DTYPES}


def take_rows(rows: Rows, index: np.ndarray) -> Rows:
    return {name: values[index] for name, values in rows.items()}


def row_count(rows: Rows) -> int:
    return int(rows["gid"].shape[0])
