"""Row arrays -> Arrow tables in the contract's exact schema -> Parquet files (one schema version each)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import contract
from . import codes as K
from . import config as C
from . import strings as S
from .rows import Rows

_ARROW_TYPES = {
    "string": pa.string(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "double": pa.float64(),
    "timestamp[us]": pa.timestamp("us"),
}
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "row_group_size": 1 << 20}


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    return pa.schema([pa.field(name, _ARROW_TYPES[type_]) for name, type_ in columns.items()])


EVENT_SCHEMAS = {version: arrow_schema(columns) for version, columns in contract.EVENT_COLUMNS_BY_VERSION.items()}
EXPERIMENT_SCHEMA = arrow_schema(contract.EXPERIMENT_COLUMNS)


def id_salts(seed: int) -> tuple[int, int]:
    """Per-seed salts for the anonymous and session ids (so another seed gives other ids). Modulo 2**64,
    so every seed up to limits.MAX_SEED fits a uint64 (the same salts as before for all smaller seeds)."""
    mixed = S.splitmix64(np.array([(2 * seed + 1) % 2**64, (2 * seed + 2) % 2**64], dtype=np.uint64))
    return int(mixed[0]), int(mixed[1])


def events_table(rows: Rows, schema_version: int, seed: int) -> pa.Table:
    anon_salt, session_salt = id_salts(seed)
    n = rows["gid"].shape[0]
    event_at = S.iso_strings(rows["t_ev"])
    bad = rows["bad_ts"] >= 0
    if bad.any():
        replacements = pa.array([C.UNPARSEABLE_EVENT_AT[i] for i in rows["bad_ts"][bad]], type=pa.string())
        event_at = pc.replace_with_mask(event_at, pa.array(bad), replacements)
    purchase = rows["ename"] == K.PURCHASE
    columns = {
        "event_id": S.uuid_strings(rows["eid_hi"], rows["eid_lo"], ~rows["eid_null"]),
        "event_name": S.from_codes(rows["ename"], K.EVENT_NAMES),
        "event_at": event_at,
        "received_at": S.iso_strings(rows["t_rc"]),
        "schema_version": pa.array(np.full(n, schema_version, dtype=np.int32)),
        "source_system": S.from_codes(rows["src"], K.SOURCE_SYSTEMS),
        "anonymous_id": S.hashed_uuid_strings(rows["gid"], anon_salt, ~rows["anon_null"]),
        "user_id": S.prefixed_numbers("u", rows["user_num"], 12, rows["has_uid"]),
        "session_id": S.hashed_uuid_strings(np.maximum(rows["sess"], 0), session_salt, rows["sess"] >= 0),
        "experiment_id": S.from_codes(rows["exp"], K.EXPERIMENT_KEYS),
        "experiment_version": pa.array(rows["ver"].astype(np.int32), mask=rows["ver"] < 0),
        "variant_id": S.from_codes(rows["var"], K.VARIANT_NAMES),
        "assignment_mechanism": S.from_codes(rows["mech"], K.MECHANISMS),
        "consent_granted": pa.array(rows["consent"]),
        "revenue": pa.array(rows["cents"] / 100.0, mask=~purchase),
        "currency": S.from_codes(np.where(purchase, 0, -1), (C.CURRENCY,)),
        "properties": S.from_codes(rows["props"], K.PROPERTY_STRINGS),
    }
    renames = contract.EVENT_RENAMES_V2 if schema_version == 2 else {}
    schema = EVENT_SCHEMAS[schema_version]
    return pa.Table.from_arrays(
        [columns[name] for name in contract.EVENT_COLUMNS_V1],
        names=[renames.get(name, name) for name in contract.EVENT_COLUMNS_V1],
    ).cast(schema)


def write_parquet(table: pa.Table, path: Path) -> dict:
    """Write ``table`` and describe the file (name, rows, sha256)."""
    pq.write_table(table, path, **PARQUET_OPTIONS)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"rows": table.num_rows, "sha256": digest.hexdigest()}


def experiments_table(as_of_ms: int | None) -> pa.Table:
    """The platform export, one row per experiment version x variant. With ``as_of`` it is the export as
    it stood then: versions not yet started are drafts, versions not yet ended are running."""
    records = []
    for experiment in C.EXPERIMENTS:
        for version in experiment.versions:
            status, started, ended = version.status, version.started_at, version.ended_at
            if as_of_ms is not None and started is not None:
                if started >= as_of_ms:
                    status, started, ended = "draft", None, None
                elif ended is not None and ended >= as_of_ms:
                    status, ended = "running", None
            for arm in version.arms:
                records.append(
                    (
                        experiment.experiment_id,
                        version.version,
                        experiment.name,
                        status,
                        started,
                        ended,
                        experiment.unit_type,
                        arm.variant_id,
                        arm.is_control,
                        arm.weight,
                    )
                )
    columns = list(zip(*records))
    names = list(contract.EXPERIMENT_COLUMNS)
    arrays = []
    for name, values in zip(names, columns):
        field = EXPERIMENT_SCHEMA.field(name)
        if name in ("started_at", "ended_at"):
            arrays.append(pa.array([None if v is None else v * 1000 for v in values], type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(list(values), type=field.type))
    return pa.Table.from_arrays(arrays, schema=EXPERIMENT_SCHEMA)
