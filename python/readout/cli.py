"""The ``readout`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand -> (module, one-line help). Each module exposes add_arguments(parser) and run(args).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("readout.simulate", "write a realistic, deterministic landing zone with planted faults"),
    "import": ("readout.importer", "bring a unit-level export from another A/B tool into the landing zone"),
    "contracts": (
        "readout.contracts",
        "validate the data contracts (GX suites) and generate the suites from contracts/*.yml",
    ),
    "report": (
        "readout.report",
        "print the readout (sample ratio checks, primary and guardrail metrics) from the warehouse",
    ),
    "build": ("readout.build", "the landing preflight, then dbt build (incremental); skipped when nothing changed"),
    "infer": (
        "readout.infer",
        "compute the statistics of the dbt Python models (the *_inferred tables) outside dbt, as on Spark",
    ),
    "history": ("readout.history", "list the builds in the readout history, or export it to Parquet"),
    "freeze": (
        "readout.freeze",
        "freeze an experiment version's readout: record it in seeds/, served as is until restated",
    ),
    "restate": (
        "readout.restate",
        "replace a frozen readout with today's numbers, keeping both in the restatement log",
    ),
    "event-time-range": (
        "readout.landing",
        "print the dbt flags that bound a backfill to the landing zone's event time",
    ),
}


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2, no traceback."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand (``command`` None), or of ``command`` alone: only its module is imported, so
    ``readout simulate`` does not load the statistics (scipy) and ``readout build`` does not load the report; the
    others are still listed, with their help, by ``readout --help``."""
    parser = argparse.ArgumentParser(prog="readout", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # the subcommand is the first word (readout's own only option is --help)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (UsageError, ValueError, FileNotFoundError) as exc:
        print(f"readout {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"readout {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`readout report | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
