"""Faults planted in a landing zone after `readout simulate`, for the integration tests (the fault matrix
reuses them). Each function rewrites the landing files in place and returns what it removed, so a test can
compare an alarm with the truth."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: the outage the shared all-faults build plants (tests/integration/conftest.py): every iOS event of one day of
#: the units assigned to exp_checkout_button's treatment (enrolment is still open that day, so both exposures
#: and outcome events are lost)
OUTAGE = {
    "experiment_id": "exp_checkout_button",
    "variant_id": "treatment",
    "source_system": "ios",
    "day": "2026-01-27",
}
#: schema version 2 (Android SDK 2) calls the anonymous id device_id (contracts/raw_events.yml)
DEVICE_ID_COLUMNS = ("anonymous_id", "device_id")


def _event_files(landing: Path) -> list[Path]:
    return sorted((Path(landing) / "events").rglob("*.parquet"))


def _device_column(table: pa.Table) -> str:
    return next(c for c in DEVICE_ID_COLUMNS if c in table.column_names)


def _assigned_ids(files: list[Path], experiment_id: str, variant_id: str) -> tuple[set[str], set[str]]:
    """Anonymous ids and user ids on the experiment's assignment rows to the variant (any version)."""
    devices: set[str] = set()
    users: set[str] = set()
    for path in files:
        table = pq.read_table(path)
        mask = pc.and_(
            pc.and_(
                pc.equal(table["event_name"], "experiment_assigned"), pc.equal(table["experiment_id"], experiment_id)
            ),
            pc.equal(table["variant_id"], variant_id),
        )
        rows = table.filter(pc.fill_null(mask, False))
        devices.update(v for v in rows[_device_column(table)].to_pylist() if v)
        users.update(v for v in rows["user_id"].to_pylist() if v)
    return devices, users


def _kept_by_share(event_ids: list[str | None], share: float) -> list[bool]:
    """Deterministic: an event is lost when the hash of its id falls below ``share``."""
    if share >= 1.0:
        return [False] * len(event_ids)
    return [int(hashlib.sha256((e or "").encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= share for e in event_ids]


def plant_variant_platform_outage(
    landing: Path, *, experiment_id: str, variant_id: str, source_system: str, day: str | dt.date, share: float = 1.0
) -> dict:
    """A one-day platform outage in one variant: delete ``share`` (all by default) of the ``source_system``
    rows whose event_at falls on ``day`` (UTC) and whose device or user was assigned to ``variant_id`` of
    ``experiment_id``, as if that platform's collector lost them. Exposures and outcome events alike.

    Returns ``{"rows": removed rows, "rows_by_event_name": {...}, "units": devices or users hit, ...}``.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    day = dt.date.fromisoformat(str(day))
    files = _event_files(landing)
    if not files:
        raise FileNotFoundError(f"no event files under {Path(landing) / 'events'}")
    devices, users = _assigned_ids(files, experiment_id, variant_id)
    if not devices and not users:
        raise ValueError(f"no assignment of {experiment_id} {variant_id} in {landing}")
    removed: dict[str, int] = {}
    hit: set[str] = set()
    for path in files:
        table = pq.read_table(path)
        device = _device_column(table)
        on_day = pc.equal(pc.utf8_slice_codeunits(table["event_at"], 0, 10), day.isoformat())
        of_variant = pc.or_(
            pc.is_in(table[device], pa.array(sorted(devices), pa.string())),
            pc.is_in(table["user_id"], pa.array(sorted(users), pa.string())),
        )
        target = pc.fill_null(
            pc.and_(pc.and_(pc.equal(table["source_system"], source_system), on_day), of_variant), False
        )
        lost = pc.and_(target, pa.array([not keep for keep in _kept_by_share(table["event_id"].to_pylist(), share)]))
        gone = table.filter(lost)
        if gone.num_rows == 0:
            continue
        for name in gone["event_name"].to_pylist():
            removed[name] = removed.get(name, 0) + 1
        hit.update(v for v in gone[device].to_pylist() if v)
        pq.write_table(table.filter(pc.invert(lost)), path)
    return {
        "experiment_id": experiment_id,
        "variant_id": variant_id,
        "source_system": source_system,
        "day": day.isoformat(),
        "share": share,
        "rows": sum(removed.values()),
        "rows_by_event_name": dict(sorted(removed.items())),
        "units": len(hit),
    }


def plant_sample_ratio_mismatch(landing: Path, experiment_id: str, experiment_version: int, variant_id: str) -> int:
    """A new landing file copying the assignment and exposure events of one variant's units under new anonymous
    ids (and event ids, no user id): as many units again in that variant, a sample ratio mismatch. The simulator's
    own files are never touched; returns the units copied."""
    events = Path(landing) / "events"
    source, planted = events / "part-00000.parquet", events / "part-planted-srm.parquet"
    schema = pq.read_schema(source)
    with duckdb.connect() as con:
        rows = con.sql(
            f"""
            select * replace (event_id || '-planted' as event_id, anonymous_id || '-planted' as anonymous_id,
                              null as user_id)
            from read_parquet('{source}')
            where experiment_id = ? and experiment_version = ? and variant_id = ?
                and event_name in ('experiment_assigned', 'experiment_exposed')""",
            params=[experiment_id, experiment_version, variant_id],
        ).to_arrow_table()
    pq.write_table(rows.select(schema.names).cast(schema), planted)
    return len(set(rows["anonymous_id"].to_pylist()))
