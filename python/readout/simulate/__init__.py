"""``readout simulate``: a realistic, deterministic landing zone with planted faults and exact ground truth.

The CLI (``readout.cli``) wires ``add_arguments`` and ``run``; ``main`` runs it standalone
(``python -m readout.simulate``). ``--append`` adds the next slice of the same timeline to a landing zone
written with ``--as-of`` (append.py).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime

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
            + ", ".join(FAULT_NAMES)
        )
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
            f"expected an ISO-8601 timestamp such as 2026-02-15 or 2026-02-15T06:00:00Z, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(round(parsed.timestamp() * 1000))


parse_timestamp.__name__ = "timestamp"

DEFAULT_SEED = 42
DEFAULT_EVENTS = 1_000_000


def parse_append_events(text: str):
    """``--append-events``: a number of rows (``10000``, ``1e4``) or a share of the rows landed (``1%``)."""
    from .append import AppendSize

    cleaned = text.strip()
    if cleaned.endswith("%"):
        try:
            percent = float(cleaned[:-1])
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number of events or a percentage such as 1%, got {text!r}"
            ) from None
        if not (math.isfinite(percent) and 0 < percent <= 100):
            raise argparse.ArgumentTypeError(f"a percentage must be above 0% and at most 100%, got {text!r}")
        return AppendSize(percent=percent)
    return AppendSize(count=_count(1, MAX_EVENTS)(cleaned))


parse_append_events.__name__ = "number or percentage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed",
        type=_count(0, MAX_SEED, " (2**63 - 1)"),
        default=None,
        help=f"random seed from 0 to 2**63 - 1 (default {DEFAULT_SEED}; with --append, the landing "
        "zone's); same seed and arguments give byte-identical files",
    )
    parser.add_argument(
        "--events",
        type=_count(1, MAX_EVENTS),
        default=None,
        help=f"approximate number of events to generate (default {DEFAULT_EVENTS:,}; with --append, "
        f"the landing zone's; at most {MAX_EVENTS:,}: about 80 bytes each on disk, checked against "
        "the free space first); the exact count is in manifest.json",
    )
    parser.add_argument(
        "--faults",
        type=parse_faults,
        default=None,
        metavar="LIST",
        help="planted faults: 'all' (default; with --append, the landing zone's), 'none', or a "
        "comma list of: " + ", ".join(FAULT_NAMES),
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        type=parse_timestamp,
        default=None,
        metavar="TIMESTAMP",
        help="write only rows received before this UTC time: the landing zone as it stood then "
        "(the data set is otherwise identical; the export shows versions not yet ended as running); "
        "with --append, the new as-of",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add to a landing zone written with --as-of: the rows of the same timeline received "
        "from its as-of to one day later (or to --as-of, or --append-events more rows), late rows "
        "for earlier days included, as new files events/part-append-*.parquet; existing event files "
        "are never touched and manifest.json describes the landing zone as of the new time "
        "(--seed, --events, --faults default to the landing zone's and must match it)",
    )
    parser.add_argument(
        "--append-events",
        dest="append_events",
        type=parse_append_events,
        default=None,
        metavar="N|P%",
        help="with --append: advance the as-of just past the arrival of N more rows (rows arriving "
        "in the same millisecond come too), or of P%% of the rows already landed, e.g. 1%%",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="landing zone folder (default: $READOUT_LANDING_PATH or data/landing); its events/, "
        "experiments/experiments.parquet and manifest.json are replaced, files of `readout import` "
        "are left alone",
    )
    parser.add_argument(
        "--chunk-events",
        dest="chunk_events",
        type=_count(1_000, MAX_CHUNK_EVENTS),
        default=1_000_000,
        metavar="INT",
        help="rows held in memory and written per Parquet file (default 1,000,000, at most "
        f"{MAX_CHUNK_EVENTS:,}: about 0.75 GB of memory per million)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write even if --out holds files the simulator did not write (events/ is replaced; "
        "other files are left alone)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _usage_error(args: argparse.Namespace) -> str | None:
    if getattr(args, "append_events", None) is not None and not getattr(args, "append", False):
        return "--append-events needs --append"
    if getattr(args, "append", False):
        if args.force:
            return "--append never replaces files: leave out --force"
        if args.as_of is not None and args.append_events is not None:
            return "--append takes --as-of or --append-events, not both"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _usage_error(args)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    if getattr(args, "append", False):
        return _run_append(args)
    from .runner import simulate  # heavy imports only when running

    out = landing_path(args.out)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    events = DEFAULT_EVENTS if args.events is None else args.events
    faults = frozenset(FAULT_NAMES) if args.faults is None else frozenset(args.faults)
    result = _write(
        out,
        lambda: simulate(
            out,
            seed=seed,
            events=events,
            enabled=faults,
            as_of_ms=args.as_of,
            chunk_events=args.chunk_events,
            force=args.force,
            progress=not args.quiet,
        ),
    )
    if result is None:
        return 2
    if not args.quiet:
        counts = result["counts"]
        enabled = [name for name, fault in result["faults"].items() if fault["enabled"]]
        as_of = f", as of {result['arguments']['as_of']}" if args.as_of is not None else ""
        print(
            f"wrote {counts['event_rows']:,} events in {counts['event_files']} files and "
            f"{counts['experiment_rows']} experiment rows to {out} (seed {seed}, {len(enabled)} faults{as_of}; "
            f"ground truth and fault counts in {out / contract.MANIFEST_FILE})"
        )
    return 0


def _write(out, write):
    """Run ``write()`` with SIGTERM turned into an interrupt (a killed run cleans up as after Ctrl-C); a landing
    problem or an OS error is one line on stderr and None (exit code 2)."""
    try:
        with terminate_as_interrupt():
            return write()
    except LandingError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
    return None


def _run_append(args: argparse.Namespace) -> int:
    from .append import append  # heavy imports only when running

    out = landing_path(args.out)
    result = _write(
        out,
        lambda: append(
            out,
            seed=args.seed,
            events=args.events,
            enabled=None if args.faults is None else frozenset(args.faults),
            as_of_ms=args.as_of,
            size=args.append_events,
            chunk_events=args.chunk_events,
            progress=not args.quiet,
        ),
    )
    if result is None:
        return 2
    if not args.quiet:
        entry = result["appends"][-1]
        print(
            f"appended {entry['event_rows']:,} events received from {entry['from_as_of']} to {entry['as_of']} "
            f"({entry['late_rows']:,} of them late, for events before {entry['from_as_of']}) in "
            f"{len(entry['files'])} files to {out}; it now holds {result['counts']['event_rows']:,} events as of "
            f"{entry['as_of']} (append {entry['append']}; counts in {out / contract.MANIFEST_FILE})"
        )
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
