"""One simulator run: blocks -> chunks -> (as-of cut) -> counts + Parquet files -> manifest -> publish."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


def _write_chunk(rows, v2: np.ndarray, index: int, events_dir: Path, seed: int) -> list[dict]:
    """One Parquet file per schema version present in the chunk."""
    written = []
    for version, selected in ((1, ~v2), (2, v2)):
        if not selected.any():
            continue
        name = f"part-{index:05d}.parquet" if version == 1 else f"part-{index:05d}-v{version}.parquet"
        part = rows if selected.all() else take_rows(rows, np.flatnonzero(selected))
        table = write.events_table(part, version, seed)
        written.append({"path": f"{contract.EVENTS_DIR}/{name}", "schema_version": version,
                        **write.write_parquet(table, events_dir / name)})
        del table
    return written


def simulate(out: Path, *, seed: int, events: int, enabled: frozenset[str], as_of_ms: int | None = None,
             chunk_events: int = 1_000_000, force: bool = False, progress: bool = True,
             block_units: int = generate.DEFAULT_BLOCK_UNITS) -> dict:
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
        result = _simulate_into(staging, seed=seed, events=events, enabled=enabled, as_of_ms=as_of_ms,
                                chunk_events=chunk_events, progress=progress, block_units=block_units)
        with limits.signals_deferred():  # once moving into place has begun, it finishes
            landing.publish(out, staging)
            # the other landing tables (imports) may be absent: give them empty files so dbt sources resolve
            ensure_landing_tables(out)
    finally:
        landing.abandon(staging)  # a no-op after publish
    return result


def _simulate_into(staging: Path, *, seed: int, events: int, enabled: frozenset[str], as_of_ms: int | None,
                   chunk_events: int, progress: bool, block_units: int) -> dict:
    events_dir = staging / contract.EVENTS_DIR
    files: list[dict] = []
    tally: dict = {}
    human_units = blocks = 0
    pending: Future | None = None
    with tqdm(total=events, unit="ev", unit_scale=True, desc="readout simulate", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar, ThreadPoolExecutor(max_workers=1) as writer:
        block_iter = _with_progress(generate.iter_blocks(seed, events, enabled, block_units), bar)
        for index, chunk in enumerate(generate.iter_chunks(block_iter, chunk_events)):
            human_units += chunk.human_units
            blocks += chunk.blocks
            rows = chunk.rows
            del chunk
            order = np.argsort(rows["t_rc"], kind="stable")  # collector (arrival) order
            if as_of_ms is not None:
                order = order[rows["t_rc"][order] < as_of_ms]
            rows = take_rows(rows, order)
            del order
            v2 = counts.schema_v2_mask(rows, "mixed_schema_versions" in enabled)
            tally = counts.merge(tally, counts.tally(rows, v2))
            if pending is not None:  # at most one chunk being written while the next is generated
                files += pending.result()
            pending = writer.submit(_write_chunk, rows, v2, index, events_dir, seed)
            del rows, v2
        if pending is not None:
            files += pending.result()
    if not files:  # nothing received before --as-of: one empty file keeps the folder readable
        table = write.events_table(empty_rows(0), 1, seed)
        files.append({"path": f"{contract.EVENTS_DIR}/part-00000.parquet", "schema_version": 1,
                      **write.write_parquet(table, events_dir / "part-00000.parquet")})
    experiments = write.experiments_table(as_of_ms)
    files.append({"path": f"{contract.EXPERIMENTS_DIR}/{EXPERIMENTS_FILE}", "schema_version": None,
                  **write.write_parquet(experiments, staging / contract.EXPERIMENTS_DIR / EXPERIMENTS_FILE)})
    arguments = {
        "seed": seed,
        "events": events,
        "faults": [name for name in C.FAULT_NAMES if name in enabled],
        "as_of": manifest.iso(as_of_ms),
        "chunk_events": chunk_events,
    }
    result = manifest.build(seed=seed, arguments=arguments, enabled=enabled, tally=tally, files=files,
                            experiment_rows=experiments.num_rows, human_units=human_units, blocks=blocks)
    manifest.write(result, staging / contract.MANIFEST_FILE)
    return result
