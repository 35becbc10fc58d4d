"""``readout simulate --append``: the next slice of the same timeline, written as new files only.

The simulated timeline is fixed by (seed, events, faults), and a landing zone written with ``--as-of T``
holds exactly its rows received before T. An append advances T to T' (one day by default, ``--as-of``, or
just past the arrival of ``--append-events`` more rows), generates the timeline again and writes the rows
received in [T, T') as new files, ``events/part-append-<n>-<chunk>[-v2].parquet``; existing event files are
never touched. Those rows include late ones for earlier days, as the timeline delivers them (mobile uploads
up to ten days late, retries up to six hours), so a simulate followed by any number of appends holds, row
for row, what one simulate at the final as-of writes.

The manifest is rewritten as that single simulate would write it (as-of, counts, fault and realism counts,
date range, export), except that ``files`` lists every file and ``appends`` records each append: its as-of
range, rows, late rows (event_at before the previous as-of) and files. The experiments export is a snapshot
of the platform's current state, not a landing batch: it is replaced only when it changed (a version
started or ended in between).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import __version__, contract
from ..landing import ensure_landing_tables
from . import config as C
from . import generate, landing, limits, manifest, runner, write
from .landing import LandingError

FILE_STEM = "part-append-{number:05d}-"


@dataclass(frozen=True)
class AppendSize:
    """``--append-events``: a number of rows, or a percentage of the rows already landed."""

    count: int | None = None
    percent: float | None = None

    def rows(self, landed: int) -> int:
        if self.count is not None:
            return self.count
        if landed == 0:
            raise LandingError(
                f"--append-events {self.percent:g}%: the landing zone holds no events yet; "
                "give a number of events instead"
            )
        return max(1, math.ceil(landed * self.percent / 100))

    def __str__(self) -> str:
        return f"{self.count:,}" if self.count is not None else f"{self.percent:g}%"


def _ms(text: str) -> int:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(round(parsed.timestamp() * 1000))


def _same_data(
    state: dict, seed: int | None, events: int | None, enabled: frozenset[str] | None
) -> tuple[int, int, frozenset[str]]:
    """The landing zone's seed, events and faults; LandingError if one given differs."""
    arguments = state.get("arguments") or {}
    if state.get("generator_version") != __version__ or state.get("contract_version") != contract.CONTRACT_VERSION:
        raise LandingError(
            f"--append: the landing zone was written by readout simulate {state.get('generator_version')} "
            f"(contract {state.get('contract_version')}), this is {__version__} (contract "
            f"{contract.CONTRACT_VERSION}); its timeline may differ: write the landing zone again"
        )
    try:
        landed = (int(arguments["seed"]), int(arguments["events"]), frozenset(arguments["faults"]))
    except (KeyError, TypeError, ValueError):
        raise LandingError(
            f"--append: {contract.MANIFEST_FILE} has no usable arguments (seed, events, faults); "
            "write the landing zone again"
        ) from None
    given = (seed, events, enabled)
    for flag, mine, theirs in zip(("--seed", "--events", "--faults"), given, landed):
        if mine is not None and mine != theirs:
            show = (
                (lambda v: ",".join(n for n in C.FAULT_NAMES if n in v) or "none")
                if flag == "--faults"
                else (lambda v: f"{v:,}")
            )
            raise LandingError(
                f"--append: {flag} {show(mine)} differs from the landing zone's {show(theirs)} "
                f"({contract.MANIFEST_FILE}); an append continues the same timeline: leave "
                f"{flag} out, or write a new landing zone"
            )
    return landed


def _as_of_after_rows(
    seed: int, events: int, enabled: frozenset[str], since_ms: int, rows: int, block_units: int, progress: bool
) -> int | None:
    """The as-of just past the arrival of the ``rows``-th row received from ``since_ms`` on (rows arriving
    in the same millisecond come too), or past the last row if fewer remain; None if none remain.
    One pass over the timeline, keeping at most about 2 x ``rows`` arrival times."""
    kept: list[np.ndarray] = []
    size, bound = 0, None  # bound: arrival time of the rows-th earliest row seen so far
    with tqdm(
        total=events,
        unit="ev",
        unit_scale=True,
        desc="readout simulate --append (finding the as-of)",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for block in generate.iter_blocks(seed, events, enabled, block_units):
            bar.update(block.human_rows)
            t = block.rows["t_rc"]
            t = t[(t >= since_ms) if bound is None else ((t >= since_ms) & (t <= bound))]
            if t.size:
                kept.append(t)
                size += t.size
            if size >= 2 * rows:
                merged = np.concatenate(kept)
                merged = np.partition(merged, rows - 1)[:rows]
                kept, size, bound = [merged], rows, int(merged.max())
    if not size:
        return None
    merged = np.concatenate(kept)
    last = int(np.partition(merged, rows - 1)[rows - 1]) if size > rows else int(merged.max())
    return last + 1


def _estimated_rows(events: int, since_ms: int, as_of_ms: int, rows: int | None) -> int:
    """A generous guess of the rows an append writes, for the free-space check: three times the
    timeline's average arrivals over [since, as-of)."""
    if rows is not None:
        return rows
    share = 3 * (as_of_ms - since_ms) / (C.DATA_END - C.DATA_START)
    return max(1, math.ceil(events * min(1.0, share)))


def append(
    out: Path,
    *,
    seed: int | None = None,
    events: int | None = None,
    enabled: frozenset[str] | None = None,
    as_of_ms: int | None = None,
    size: AppendSize | None = None,
    chunk_events: int = 1_000_000,
    progress: bool = True,
    block_units: int = generate.DEFAULT_BLOCK_UNITS,
) -> dict:
    """Append the next slice of the timeline to the simulator landing zone ``out``; return the new manifest
    (its last ``appends`` entry describes this append). ``seed``, ``events`` and ``enabled`` default to the
    landing zone's and must equal them when given; the new as-of is ``as_of_ms``, or just past ``size``
    more rows, or one day after the landing zone's. Raises LandingError (nothing written) when the landing
    zone was not written by the simulator, its files disagree with its manifest, it holds the whole
    timeline, the arguments differ, or the new as-of is not later."""
    if as_of_ms is not None and size is not None:
        raise ValueError("give as_of_ms or size, not both")
    if not 1 <= chunk_events <= limits.MAX_CHUNK_EVENTS:
        raise ValueError(f"chunk_events must be between 1 and {limits.MAX_CHUNK_EVENTS:,}, got {chunk_events:,}")
    state = landing.check_appendable(out)
    seed, events, enabled = _same_data(state, seed, events, enabled)
    previous = (state.get("arguments") or {}).get("as_of")
    if previous is None:
        raise LandingError(
            f"--append: --out {out} holds the whole timeline (written without --as-of): there is "
            "nothing left to append; write it with readout simulate --as-of TIME first"
        )
    since_ms = _ms(previous)
    rows = None
    if size is not None:
        rows = size.rows(int((state.get("counts") or {}).get("event_rows", 0)))
        as_of_ms = _as_of_after_rows(seed, events, enabled, since_ms, rows, block_units, progress)
        if as_of_ms is None:
            raise LandingError(
                f"--append-events {size}: no row of the timeline arrives at or after the landing "
                f"zone's as-of {previous}; every row has landed"
            )
    elif as_of_ms is None:
        as_of_ms = since_ms + C.DAY
    elif as_of_ms <= since_ms:
        raise LandingError(
            f"--append: --as-of {manifest.iso(as_of_ms)} is not later than the landing zone's "
            f"as-of {previous} ({contract.MANIFEST_FILE}); give a later time"
        )
    limits.check_free_space(out, _estimated_rows(events, since_ms, as_of_ms, rows))
    stale = landing.remove_stale_staging(out)
    if stale is not None and progress:
        pid = f" (PID {stale['pid']})" if stale.get("pid") else ""
        print(f"readout simulate: removed {out / landing.STAGING}, left by a killed run{pid}", file=sys.stderr)
    staging = landing.start_staging(out)
    try:
        if landing.check_appendable(out) != state:  # another run finished in between: its output is newer
            raise LandingError(
                f"--append: another readout simulate changed --out {out} while this append was starting; run it again"
            )
        result, replace_experiments = _append_into(
            staging,
            state,
            seed=seed,
            events=events,
            enabled=enabled,
            since_ms=since_ms,
            as_of_ms=as_of_ms,
            requested=rows,
            chunk_events=chunk_events,
            progress=progress,
            block_units=block_units,
        )
        new_files = result["appends"][-1]["files"]
        limits.check_interrupted()
        with limits.signals_deferred():  # once moving into place has begun, it finishes
            landing.publish_append(out, staging, new_files, replace_experiments)
            ensure_landing_tables(out)
    finally:
        landing.abandon(staging)  # a no-op after publish
    return result


def _append_into(
    staging: Path,
    state: dict,
    *,
    seed: int,
    events: int,
    enabled: frozenset[str],
    since_ms: int,
    as_of_ms: int,
    requested: int | None,
    chunk_events: int,
    progress: bool,
    block_units: int,
) -> tuple[dict, bool]:
    appends = list(state.get("appends") or [])
    number = len(appends) + 1
    scan = runner.scan(
        staging / contract.EVENTS_DIR,
        seed=seed,
        events=events,
        enabled=enabled,
        as_of_ms=as_of_ms,
        chunk_events=chunk_events,
        progress=progress,
        block_units=block_units,
        since_ms=since_ms,
        stem=FILE_STEM.format(number=number),
        desc="readout simulate --append",
    )
    experiments = write.experiments_table(as_of_ms)
    export = {
        "path": f"{contract.EXPERIMENTS_DIR}/{landing.EXPERIMENTS_FILE}",
        "schema_version": None,
        **write.write_parquet(experiments, staging / contract.EXPERIMENTS_DIR / landing.EXPERIMENTS_FILE),
    }
    old_files = [f for f in state.get("files") or [] if isinstance(f, dict) and isinstance(f.get("path"), str)]
    old_export = next((f for f in old_files if f["path"] == export["path"]), None)
    replace_experiments = old_export is None or old_export.get("sha256") != export["sha256"]
    old_events = [f for f in old_files if f["path"].startswith(contract.EVENTS_DIR + "/")]
    appends.append(
        {
            "append": number,
            "from_as_of": manifest.iso(since_ms),
            "as_of": manifest.iso(as_of_ms),
            "requested_events": requested,
            "event_rows": scan.written_rows,
            "late_rows": scan.late_rows,
            "files": [f["path"] for f in scan.files],
        }
    )
    arguments = runner.arguments(
        seed, events, enabled, as_of_ms, int(state["arguments"].get("chunk_events") or chunk_events)
    )
    result = manifest.build(
        seed=seed,
        arguments=arguments,
        enabled=enabled,
        tally=scan.tally,
        files=old_events + scan.files + [export],
        experiment_rows=experiments.num_rows,
        human_units=scan.human_units,
        blocks=scan.blocks,
        appends=appends,
    )
    manifest.write(result, staging / contract.MANIFEST_FILE)
    return result, replace_experiments
