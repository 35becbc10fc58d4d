"""One simulator run: blocks -> chunks -> (as-of cut) -> counts + Parquet files -> manifest -> publish.

``scan`` is the chunk loop both a run and an append (append.py) use: every chunk is cut at the as-of and
counted whole (the manifest describes the landing zone as of then), and only its rows received from
``since_ms`` on are written (all of them for a run).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import contract
from ..landing import ensure_landing_tables
from . import config as C
from . import counts, generate, landing, limits, manifest, write
from .rows import empty_rows, take_rows

EXPERIMENTS_FILE = landing.EXPERIMENTS_FILE


def _with_progress(blocks: Iterator[generate.Block], bar: tqdm) -> Iterator[generate.Block]:
    for block in blocks:
        bar.update(block.human_rows)
        yield block


def _write_chunk(rows, v2: np.ndarray, stem: str, events_dir: Path, seed: int) -> list[dict]:
    """One Parquet file per schema version present in the chunk: ``<stem>.parquet``, ``<stem>-v2.parquet``."""
    written = []
    for version, selected in ((1, ~v2), (2, v2)):
        if not selected.any():
            continue
        name = f"{stem}.parquet" if version == 1 else f"{stem}-v{version}.parquet"
        part = rows if selected.all() else take_rows(rows, np.flatnonzero(selected))
        table = write.events_table(part, version, seed)
        written.append(
            {
                "path": f"{contract.EVENTS_DIR}/{name}",
                "schema_version": version,
                **write.write_parquet(table, events_dir / name),
            }
        )
        del table
    return written


@dataclass
class Scan:
    """What one pass over the timeline wrote and counted."""

    files: list[dict]  #: the event files written (rows received in [since_ms, as_of_ms))
    tally: dict  #: counts of every row received before as_of_ms (counts.tally, merged)
    human_units: int
    blocks: int
    written_rows: int = 0
    late_rows: int = 0  #: written rows whose (parseable) event_at is before since_ms


def scan(
    events_dir: Path,
    *,
    seed: int,
    events: int,
    enabled: frozenset[str],
    as_of_ms: int | None,
    chunk_events: int,
    progress: bool,
    block_units: int,
    since_ms: int | None = None,
    stem: str = "part-",
    desc: str = "readout simulate",
) -> Scan:
    """Generate the whole timeline chunk by chunk; count the rows received before ``as_of_ms`` and write
    those received from ``since_ms`` on as ``<stem><chunk index>[-v2].parquet`` in ``events_dir``."""
    result = Scan(files=[], tally={}, human_units=0, blocks=0)
    pending: Future | None = None
    with (
        tqdm(
            total=events,
            unit="ev",
            unit_scale=True,
            desc=desc,
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar,
        ThreadPoolExecutor(max_workers=1) as writer,
    ):
        block_iter = _with_progress(generate.iter_blocks(seed, events, enabled, block_units), bar)
        for index, chunk in enumerate(generate.iter_chunks(block_iter, chunk_events)):
            limits.check_interrupted()
            result.human_units += chunk.human_units
            result.blocks += chunk.blocks
            rows = chunk.rows
            del chunk
            order = np.argsort(rows["t_rc"], kind="stable")  # collector (arrival) order
            if as_of_ms is not None:
                order = order[rows["t_rc"][order] < as_of_ms]
            rows = take_rows(rows, order)
            del order
            v2 = counts.schema_v2_mask(rows, "mixed_schema_versions" in enabled)
            result.tally = counts.merge(result.tally, counts.tally(rows, v2))
            if since_ms is not None:  # rows are in arrival order: the new ones are a suffix
                first = int(np.searchsorted(rows["t_rc"], since_ms, side="left"))
                rows = take_rows(rows, slice(first, None))
                v2 = v2[first:]
                result.late_rows += int(((rows["bad_ts"] < 0) & (rows["t_ev"] < since_ms)).sum())
            result.written_rows += int(rows["t_rc"].shape[0])
            if pending is not None:  # at most one chunk being written while the next is generated
                result.files += pending.result()
            pending = writer.submit(_write_chunk, rows, v2, f"{stem}{index:05d}", events_dir, seed)
            del rows, v2
        if pending is not None:
            result.files += pending.result()
    return result


def simulate(
    out: Path,
    *,
    seed: int,
    events: int,
    enabled: frozenset[str],
    as_of_ms: int | None = None,
    chunk_events: int = 1_000_000,
    force: bool = False,
    progress: bool = True,
    block_units: int = generate.DEFAULT_BLOCK_UNITS,
) -> dict:
    """Write a landing zone to ``out`` and return its manifest. Raises ValueError for arguments out of range
    (limits.py) and landing.LandingError if ``out`` holds something else (unless ``force``), if another run
    is writing there, or if its file system has no room for the run. A staging folder left by a killed run
    is removed first; this run's own is removed whatever stops it (an exception, Ctrl-C, or SIGTERM under
    limits.terminate_as_interrupt)."""
    if not 0 <= seed <= limits.MAX_SEED:
        raise ValueError(f"seed must be between 0 and {limits.MAX_SEED:,}, got {seed:,}")
    if not 1 <= events <= limits.MAX_EVENTS:
        raise ValueError(f"events must be between 1 and {limits.MAX_EVENTS:,}, got {events:,}")
    if not 1 <= chunk_events <= limits.MAX_CHUNK_EVENTS:
        raise ValueError(f"chunk_events must be between 1 and {limits.MAX_CHUNK_EVENTS:,}, got {chunk_events:,}")
    landing.check_output(out, force)
    limits.check_free_space(out, events)
    out.mkdir(parents=True, exist_ok=True)
    stale = landing.remove_stale_staging(out, force)
    if stale is not None and progress:
        pid = f" (PID {stale['pid']})" if stale.get("pid") else ""
        print(f"readout simulate: removed {out / landing.STAGING}, left by a killed run{pid}", file=sys.stderr)
    staging = landing.start_staging(out)
    try:
        result = _simulate_into(
            staging,
            seed=seed,
            events=events,
            enabled=enabled,
            as_of_ms=as_of_ms,
            chunk_events=chunk_events,
            progress=progress,
            block_units=block_units,
        )
        limits.check_interrupted()
        with limits.signals_deferred():  # once moving into place has begun, it finishes
            landing.publish(out, staging)
            # the other landing tables (imports) may be absent: give them empty files so dbt sources resolve
            ensure_landing_tables(out)
    finally:
        landing.abandon(staging)  # a no-op after publish
    return result


def _simulate_into(
    staging: Path,
    *,
    seed: int,
    events: int,
    enabled: frozenset[str],
    as_of_ms: int | None,
    chunk_events: int,
    progress: bool,
    block_units: int,
) -> dict:
    events_dir = staging / contract.EVENTS_DIR
    result = scan(
        events_dir,
        seed=seed,
        events=events,
        enabled=enabled,
        as_of_ms=as_of_ms,
        chunk_events=chunk_events,
        progress=progress,
        block_units=block_units,
    )
    files = result.files
    if not files:  # nothing received before --as-of: one empty file keeps the folder readable
        table = write.events_table(empty_rows(0), 1, seed)
        files.append(
            {
                "path": f"{contract.EVENTS_DIR}/part-00000.parquet",
                "schema_version": 1,
                **write.write_parquet(table, events_dir / "part-00000.parquet"),
            }
        )
    experiments = write.experiments_table(as_of_ms)
    files.append(
        {
            "path": f"{contract.EXPERIMENTS_DIR}/{EXPERIMENTS_FILE}",
            "schema_version": None,
            **write.write_parquet(experiments, staging / contract.EXPERIMENTS_DIR / EXPERIMENTS_FILE),
        }
    )
    manifest_ = manifest.build(
        seed=seed,
        arguments=arguments(seed, events, enabled, as_of_ms, chunk_events),
        enabled=enabled,
        tally=result.tally,
        files=files,
        experiment_rows=experiments.num_rows,
        human_units=result.human_units,
        blocks=result.blocks,
    )
    manifest.write(manifest_, staging / contract.MANIFEST_FILE)
    return manifest_


def arguments(seed: int, events: int, enabled: frozenset[str], as_of_ms: int | None, chunk_events: int) -> dict:
    """The manifest's ``arguments``: what determines the data (and the chunking of the first run)."""
    return {
        "seed": seed,
        "events": events,
        "faults": [name for name in C.FAULT_NAMES if name in enabled],
        "as_of": manifest.iso(as_of_ms),
        "chunk_events": chunk_events,
    }
