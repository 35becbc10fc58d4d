"""Blocks of units -> chunks of rows.

A block is the unit of determinism: its rows depend only on (seed, block index, number of human units,
enabled faults), each population and fault drawing from its own child of ``SeedSequence(seed, (block,))``.
Blocks are produced until the human (pre-fault) rows reach the target, so the set of blocks does not
depend on the fault switches, and grouped into chunks of about ``chunk_events`` rows for writing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import events, faults, units
from .rows import Rows, concat_rows, row_count, take_rows

STREAMS = (
    "humans",
    "logging_loss",
    "duplicates",
    "unknown_ids",
    "malformed",
    "bots",
    "cross_variant",
    "exposure_before_assignment",
    "exposure_outside_window",
)
GID_STRIDE = 100_000  #: unit numbers of block b: b * stride + offset below
_GID_OFFSETS = {
    "humans": 0,
    "bots": 50_000,
    "cross_variant": 60_000,
    "exposure_before_assignment": 70_000,
    "exposure_outside_window": 80_000,
}
DEFAULT_BLOCK_UNITS = 1_000
INITIAL_ROWS_PER_UNIT = 16.0  #: first guess of human rows per unit, refined as blocks are made


@dataclass
class Block:
    index: int
    rows: Rows
    human_units: int
    human_rows: int  #: rows of human units before faults (what the --events target counts)


def generate_block(seed: int, index: int, n_humans: int, enabled: frozenset[str]) -> Block:
    children = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(len(STREAMS))
    rng = {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}
    gid0 = index * GID_STRIDE
    humans = units.human_units(
        rng["humans"], rng["logging_loss"], n_humans, gid0 + _GID_OFFSETS["humans"], "variant_logging_loss" in enabled
    )
    base = events.unit_rows(rng["humans"], humans)
    keep = events.logged_mask(base)
    parts = [take_rows(base, keep) if not keep.all() else base]
    if "duplicate_retries" in enabled or "conflicting_duplicates" in enabled:
        parts.append(
            faults.duplicates(
                rng["duplicates"], base, keep, "duplicate_retries" in enabled, "conflicting_duplicates" in enabled
            )
        )
    if "unknown_ids" in enabled:
        parts.append(faults.unknown_ids(rng["unknown_ids"], base, keep))
    if "malformed_rows" in enabled:
        parts.append(faults.malformed(rng["malformed"], base, keep))
    if "bot_traffic" in enabled:
        bots = units.bot_units(rng["bots"], n_humans, gid0 + _GID_OFFSETS["bots"])
        parts.append(events.unit_rows(rng["bots"], bots))
    for name, make in (
        ("cross_variant", units.cross_variant_units),
        ("exposure_before_assignment", units.exposure_before_assignment_units),
        ("exposure_outside_window", units.exposure_outside_window_units),
    ):
        fault_name = "cross_variant_units" if name == "cross_variant" else name
        if fault_name in enabled:
            planted = make(rng[name], n_humans, gid0 + _GID_OFFSETS[name])
            parts.append(events.unit_rows(rng[name], planted))
    return Block(index, concat_rows(parts), n_humans, row_count(base))


def iter_blocks(
    seed: int, target_events: int, enabled: frozenset[str], block_units: int = DEFAULT_BLOCK_UNITS
) -> Iterator[Block]:
    """Blocks until the human rows reach ``target_events``; the last block is sized to land near it."""
    human_rows = human_units = index = 0
    while human_rows < target_events:
        per_unit = human_rows / human_units if human_units else INITIAL_ROWS_PER_UNIT
        n = int(min(block_units, max(1, math.ceil((target_events - human_rows) / per_unit))))
        block = generate_block(seed, index, n, enabled)
        human_rows += block.human_rows
        human_units += block.human_units
        index += 1
        yield block


@dataclass
class Chunk:
    rows: Rows
    blocks: int
    human_units: int
    human_rows: int


def iter_chunks(blocks: Iterator[Block], chunk_events: int) -> Iterator[Chunk]:
    """Whole blocks grouped until a chunk holds at least ``chunk_events`` rows."""
    pending: list[Rows] = []
    size = humans = human_rows = 0
    for block in blocks:
        pending.append(block.rows)
        size += row_count(block.rows)
        humans += block.human_units
        human_rows += block.human_rows
        del block
        if size >= chunk_events:
            yield Chunk(concat_rows(pending), len(pending), humans, human_rows)
            pending, size, humans, human_rows = [], 0, 0, 0
    if pending:
        yield Chunk(concat_rows(pending), len(pending), humans, human_rows)
