"""``readout contracts``: data contracts (contracts/<table>.yml) enforced with Great Expectations suites.

    readout contracts validate --stage raw --as-of manifest     # the landing zone, before dbt build (new files
                                                                # only: the others are remembered)
    readout contracts validate --stage marts                    # curated tables and marts, after it
    readout contracts generate [--check]                        # contracts/gx/*.json from the YAML
    readout contracts freshness                                 # the dbt source-freshness block

Exit codes: 0 no contract breached (warnings allowed); 1 a contract breached (an error-level finding;
with --fail-on warning also a warning); 2 a usage error (missing landing zone or warehouse, a malformed
contract, a bad option), printed as one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..paths import landing_path, warehouse_path
from .load import ContractError, contracts_dir, freshness_thresholds, load_contracts, suites_dir

CACHE_ENV = "READOUT_VALIDATION_CACHE"  #: where validated landing files are remembered (batches.py)
DEFAULT_CACHE_DIR = "build/validation_cache"
ENGINE_ENV = "READOUT_CONTRACT_ENGINE"  #: fast or gx (docs.Runner)
BATCH_ROWS = 250_000  #: rows validated at once: a pandas frame of ~30 narrow columns, about 100 MB

__all__ = ["add_arguments", "run", "freshness_thresholds", "load_contracts", "ContractError"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--contracts-dir",
        default=None,
        metavar="PATH",
        help="folder of contract YAML files (default: $READOUT_CONTRACTS_DIR or ./contracts)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    validate = actions.add_parser(
        "validate",
        help="validate the landing zone (raw) or the warehouse (marts)",
        description="Validate data against the contracts; alerts name the table, rule, "
        "count, severity and the readouts affected. Exit 1 on a contract breach.",
    )
    validate.add_argument(
        "--stage",
        choices=("raw", "marts", "all"),
        default="all",
        help="raw: the landing zone (before dbt build); marts: curated tables and marts "
        "(after it); all (default): both",
    )
    validate.add_argument(
        "--contract", action="append", dest="names", metavar="NAME", help="only this contract (repeatable)"
    )
    validate.add_argument(
        "--landing", default=None, metavar="PATH", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)"
    )
    validate.add_argument(
        "--warehouse",
        default=None,
        metavar="PATH",
        help="DuckDB warehouse, opened read-only (default: $READOUT_DUCKDB_PATH or warehouse/readout.duckdb)",
    )
    validate.add_argument(
        "--target",
        default=None,
        help="the dbt target (profiles.yml) whose build to read: spark reads the Spark build through a DuckDB copy "
        "of its tables (readout.spark.duckdb_copy: for small builds); default: the DuckDB warehouse",
    )
    validate.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="TIME",
        help="reference time for freshness and 'in the future' checks: 'now' (default), "
        "'manifest' (the landing manifest's as-of, for simulated data) or an ISO-8601 time",
    )
    validate.add_argument(
        "--docs-dir",
        default="build/gx_docs",
        metavar="PATH",
        help="GX Data Docs (HTML) go to PATH/<stage>/index.html (default build/gx_docs)",
    )
    validate.add_argument("--no-docs", action="store_true", help="do not write Data Docs")
    validate.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="exit 1 on errors (default), on warnings too, or never (report only)",
    )
    validate.add_argument(
        "--json",
        dest="json_path",
        default=None,
        metavar="PATH",
        help="also write the report (every alarm with its counts) as JSON",
    )
    validate.add_argument("--quiet", action="store_true", help="print alarms only, no summary and no progress")
    validate.add_argument(
        "--cache-dir",
        default=None,
        metavar="PATH",
        help="where the results of validated landing files are remembered, by file fingerprint, "
        "so a refresh validates only new files (default: $READOUT_VALIDATION_CACHE or "
        f"{DEFAULT_CACHE_DIR}; one folder per landing zone)",
    )
    validate.add_argument(
        "--full",
        action="store_true",
        help="validate every landing file again and replace the landing zone's cache (e.g. "
        "after the landing zone was rewritten: a changed or deleted landing file is otherwise "
        "an error)",
    )
    validate.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the cache: validate every landing file, remember nothing",
    )
    validate.add_argument(
        "--batch-rows",
        type=_positive,
        default=BATCH_ROWS,
        metavar="N",
        help=f"rows validated at once (bounds memory; default {BATCH_ROWS:,})",
    )
    validate.add_argument(
        "--engine",
        choices=("fast", "gx"),
        default=None,
        help="fast (default; $READOUT_CONTRACT_ENGINE): each suite's expectations with Great Expectations' "
        "pandas semantics, vectorized, and GX for a suite it does not mirror; gx: every suite through Great "
        "Expectations (slower; the same counts)",
    )

    generate = actions.add_parser(
        "generate",
        help="write contracts/gx/*.json (the GX suites) from the YAML",
        description="Generate the Great Expectations suites from the contract files.",
    )
    generate.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a committed suite differs from what the YAML generates",
    )

    freshness = actions.add_parser(
        "freshness",
        help="print the dbt source-freshness YAML from a contract",
        description="Print loaded_at_field and freshness for dbt sources.",
    )
    freshness.add_argument("contract", nargs="?", default="raw_events", help="contract (default raw_events)")


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _validate(args: argparse.Namespace) -> int:
    from .validate import resolve_as_of, validate

    contracts = load_contracts(args.contracts_dir)
    landing = landing_path(args.landing) if args.stage in ("raw", "all") else None
    warehouse = warehouse_path(args.warehouse) if args.stage in ("marts", "all") else None
    if warehouse is not None and getattr(args, "target", None):
        from readout.spark import warehouse_for

        warehouse = warehouse_for(args.target, args.warehouse)
    as_of = resolve_as_of(args.as_of, landing)
    cache_dir = None if args.no_cache else Path(args.cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)
    report = validate(
        args.stage,
        contracts,
        names=args.names,
        landing=landing,
        warehouse=warehouse,
        as_of=as_of,
        docs_dir=None if args.no_docs else Path(args.docs_dir) / args.stage,
        cache_dir=cache_dir,
        full=args.full,
        batch_rows=args.batch_rows,
        progress=not args.quiet,
        engine=args.engine,
    )
    for outcome in report.alarms:
        print(outcome.sentence)
    if not args.quiet:
        for summary in report.batches:
            print(summary.sentence)
        scope = f"stage {report.stage}" + (f", as of {report.as_of:%Y-%m-%dT%H:%M:%S}Z" if report.as_of else "")
        verdict = "BREACHED" if report.exit_code("error") else "held"
        counted = lambda n, noun: f"{n} {noun}" + ("" if n == 1 else "s")  # noqa: E731
        print(
            f"contracts {verdict} ({scope}): {counted(len(report.errors), 'error')}, "
            f"{counted(len(report.warnings), 'warning')}, {counted(len(report.outcomes), 'rule')} over "
            f"{', '.join(report.contracts)}" + (f"; Data Docs: {report.docs}" if report.docs else "")
        )
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    return report.exit_code(args.fail_on)


def _generate(args: argparse.Namespace) -> int:
    from .suites import generate

    contracts = load_contracts(args.contracts_dir)
    out = suites_dir(contracts_dir(args.contracts_dir))
    changed, extra = generate(contracts, out, check=args.check)
    if args.check:
        if changed or extra:
            names = [p.name for p in changed] + [f"{p.name} (no contract generates it)" for p in extra]
            print(
                f"readout contracts generate: {len(names)} suite file(s) out of date with the contract YAML: "
                f"{', '.join(names)}; run `readout contracts generate`",
                file=sys.stderr,
            )
            return 1
        print(f"{out}: every suite matches its contract")
        return 0
    print(f"{out}: {len(changed)} suite file(s) written, {len(extra)} removed")
    return 0


def _freshness(args: argparse.Namespace) -> int:
    import yaml

    spec = freshness_thresholds(args.contract, args.contracts_dir)
    block = {"config": {"loaded_at_field": spec["loaded_at_field"], "freshness": spec["freshness"]}}
    print(f"# from contracts/{args.contract}.yml (readout contracts freshness {args.contract})")
    print(yaml.safe_dump(block, sort_keys=False).rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    action = {"validate": _validate, "generate": _generate, "freshness": _freshness}[args.action]
    try:
        return action(args)
    except ContractError as exc:
        raise ValueError(f"contract {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m readout.contracts``) until the CLI registers the subcommand."""
    parser = argparse.ArgumentParser(prog="readout contracts", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"readout contracts: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("readout contracts: interrupted", file=sys.stderr)
        return 130
