"""``readout simulate``: a realistic, deterministic landing zone with planted faults and exact ground truth.

The CLI (``readout.cli``) wires ``add_arguments`` and ``run``; ``main`` runs it standalone
(``python -m readout.simulate``).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime, timezone

from .. import contract
from ..paths import landing_path
from . import config
from .config import FAULT_NAMES
from .landing import LandingError
from .limits import MAX_CHUNK_EVENTS, MAX_EVENTS, MAX_SEED, terminate_as_interrupt

__all__ = ["add_arguments", "run", "main", "parse_faults", "parse_timestamp", "FAULT_NAMES", "config"]

PROG = "readout simulate"
DESCRIPTION = "Write a realistic, deterministic landing zone with planted faults and exact ground truth."


def _count(minimum: int, maximum: int, maximum_note: str = ""):
    def parse(text: str) -> int:
        cleaned = text.strip().replace("_", "").replace(",", "")
        try:
            value = float(cleaned) if any(c in cleaned.lower() for c in ".e") else int(cleaned)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
            value = int(value)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:,}, got {value:,}")
        if value > maximum:
            shown = f"{value:,}" if value < 10**30 else f"a number of {len(str(value))} digits"
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}{maximum_note}, got {shown}")
        return value
    parse.__name__ = "number"
    return parse


def parse_faults(text: str) -> frozenset[str]:
    """``all``, ``none`` or a comma list of fault names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return frozenset(FAULT_NAMES)
    if names == ["none"] or not names:
        return frozenset()
    unknown = [n for n in names if n not in FAULT_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(map(repr, unknown))}; choose 'all', 'none' or a comma list of: "
            + ", ".join(FAULT_NAMES))
    return frozenset(names)


parse_faults.__name__ = "fault list"


def parse_timestamp(text: str) -> int:
    """ISO-8601 date or date-time (UTC unless an offset is given) -> ms since the epoch."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 timestamp such as 2026-02-15 or 2026-02-15T06:00:00Z, got {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(round(parsed.timestamp() * 1000))


parse_timestamp.__name__ = "timestamp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_count(0, MAX_SEED, " (2**63 - 1)"), default=42,
                        help="random seed from 0 to 2**63 - 1 (default 42); same seed and arguments give "
                        "byte-identical files")
    parser.add_argument("--events", type=_count(1, MAX_EVENTS), default=1_000_000,
                        help=f"approximate number of events to generate (default 1,000,000, at most {MAX_EVENTS:,}: "
                        "about 80 bytes each on disk, checked against the free space first); the exact count "
                        "is in manifest.json")
    parser.add_argument("--faults", type=parse_faults, default=frozenset(FAULT_NAMES), metavar="LIST",
                        help="planted faults: 'all' (default), 'none', or a comma list of: " + ", ".join(FAULT_NAMES))
    parser.add_argument("--as-of", dest="as_of", type=parse_timestamp, default=None, metavar="TIMESTAMP",
                        help="write only rows received before this UTC time: the landing zone as it stood then "
                        "(the data set is otherwise identical; the export shows versions not yet ended as running)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="landing zone folder (default: $READOUT_LANDING_PATH or data/landing); its events/, "
                        "experiments/experiments.parquet and manifest.json are replaced, files of `readout import` "
                        "are left alone")
    parser.add_argument("--chunk-events", dest="chunk_events", type=_count(1_000, MAX_CHUNK_EVENTS),
                        default=1_000_000, metavar="INT",
                        help="rows held in memory and written per Parquet file (default 1,000,000, at most "
                        f"{MAX_CHUNK_EVENTS:,}: about 0.75 GB of memory per million)")
    parser.add_argument("--force", action="store_true",
                        help="write even if --out holds files the simulator did not write (events/ is replaced; "
                        "other files are left alone)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from .runner import simulate  # heavy imports only when running

    out = landing_path(args.out)
    try:
        with terminate_as_interrupt():  # a killed run (SIGTERM) cleans up as after Ctrl-C
            result = simulate(out, seed=args.seed, events=args.events, enabled=frozenset(args.faults),
                              as_of_ms=args.as_of, chunk_events=args.chunk_events, force=args.force,
                              progress=not args.quiet)
    except LandingError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        counts = result["counts"]
        enabled = [name for name, fault in result["faults"].items() if fault["enabled"]]
        as_of = f", as of {result['arguments']['as_of']}" if args.as_of is not None else ""
        print(f"wrote {counts['event_rows']:,} events in {counts['event_files']} files and "
              f"{counts['experiment_rows']} experiment rows to {out} (seed {args.seed}, {len(enabled)} faults{as_of}; "
              f"ground truth and fault counts in {out / contract.MANIFEST_FILE})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

