"""``readout import``: land an experiment export (CSV, CSV.gz or Parquet) via a YAML mapping.

    readout import mappings/udacity_ab_data.yml --file ab_data.csv.gz [--landing DIR]
    readout import mappings/example_summary.yml --file per_arm.csv     # kind: summary (per-arm aggregates)

The mapping (see ``mappings/`` and the README section "Analyse your own export") says which column
holds the unit id, the assigned and exposed variant, the timestamp and each outcome. Every mapped cell
is validated before anything is written; the import then writes the experiment's files into the
landing zone (layout in :mod:`readout.importer.write`) and prints a short summary. A mapping of ``kind:
summary`` reads per-arm aggregates instead (:mod:`readout.importer.aggregates`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from readout.cli import UsageError
from readout.importer.aggregates import SummaryMapping, parse_summary_mapping, summary_statistics
from readout.importer.expressions import apply_expressions
from readout.importer.mapping import Mapping, load_mapping_document, parse_mapping
from readout.importer.read import open_export
from readout.importer.transform import ImportData, build_import
from readout.importer.write import check_experiment_id_free, remove_import, write_import, write_summary_import
from readout.paths import landing_path

__all__ = [
    "ImportResult",
    "SummaryImportResult",
    "add_arguments",
    "import_export",
    "import_summary",
    "load_import_mapping",
    "remove_import",
    "run",
    "summary",
]


def load_import_mapping(path: str | Path) -> Mapping | SummaryMapping:
    """Read and validate a mapping file of either kind (units, the default, or summary)."""
    kind, data = load_mapping_document(path)
    if kind == "summary":
        return parse_summary_mapping(data, source=str(path))
    return parse_mapping(data, source=str(path))


@dataclass
class ImportResult:
    mapping: Mapping
    data: ImportData
    landing: Path
    files: dict[str, Path]
    source: Path

    @property
    def counts(self) -> dict:
        return self.data.counts


@dataclass
class SummaryImportResult:
    mapping: SummaryMapping
    counts: dict
    landing: Path
    files: dict[str, dict[str, Path]]  # experiment_id -> role -> path
    source: Path


def import_summary(
    mapping: str | Path | SummaryMapping, file: str | Path, landing: str | Path | None = None
) -> SummaryImportResult:
    """Validate a summary-statistics export against its mapping and write its landing files."""
    mapping = mapping if isinstance(mapping, SummaryMapping) else load_import_mapping(mapping)
    if not isinstance(mapping, SummaryMapping):
        raise UsageError(f"mapping {mapping.source} is a unit-level mapping; use import_export")
    landing = landing_path(landing)
    export = open_export(file)
    wanted = [(f"columns.{key}", column) for key, column in mapping.columns.items()]
    wanted += [(f"control_columns.{key}", column) for key, column in (mapping.control_columns or {}).items()]
    export.require(wanted)
    table = export.read([column for _, column in wanted])
    stats, counts = summary_statistics(mapping, table, label=export.label)
    files = write_summary_import(mapping, stats, counts, landing, export.path)
    return SummaryImportResult(mapping=mapping, counts=counts, landing=landing, files=files, source=export.path)


def import_export(
    mapping: str | Path | Mapping | SummaryMapping, file: str | Path, landing: str | Path | None = None
) -> ImportResult | SummaryImportResult:
    """Validate ``file`` against ``mapping`` and write its landing files; raises UsageError on a problem."""
    if not isinstance(mapping, (Mapping, SummaryMapping)):
        mapping = load_import_mapping(mapping)
    if isinstance(mapping, SummaryMapping):
        return import_summary(mapping, file, landing)
    landing = landing_path(landing)
    check_experiment_id_free(landing, mapping.experiment_id)
    export = open_export(file)
    derived = set(mapping.derived_names)
    export.require([(key, column) for key, column in mapping.columns() if column not in derived])
    if mapping.derive or mapping.where is not None:
        table = export.read(export.columns)  # expressions may use any column
        rows_read = table.num_rows
        table, source_rows = apply_expressions(mapping, table, export.label) if rows_read else (table, None)
        data = build_import(mapping, export, table, source_rows=source_rows, rows_read=rows_read)
    else:
        table = export.read([column for _, column in mapping.columns()])
        data = build_import(mapping, export, table)
    files = write_import(data, landing, export.path)
    return ImportResult(mapping=mapping, data=data, landing=landing, files=files, source=export.path)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def summary_of_summary_import(result: SummaryImportResult) -> str:
    """The lines printed after a summary-statistics import."""
    c, m = result.counts, result.mapping
    experiments = list(result.files)
    shown = ", ".join(experiments[:5]) + (f" and {len(experiments) - 5} more" if len(experiments) > 5 else "")
    planned = {
        "declared": "declared " + ", ".join(f"{v} {w:.2%}" for v, w in (m.split or {}).items()),
        "assumed_equal": "assumed equal (split: equal)",
        "unknown": "unknown: no sample-ratio test",
    }[m.planned_split]
    lines = [
        f"imported summary statistics of {shown} (version {m.experiment_version}) from {result.source}",
        f"  rows read              {c['rows_read']:,}",
        f"  arm rows               {c['rows']:,} (experiment x checkpoint x variant x metric)",
        f"  experiments            {c['experiments']:,}",
        f"  checkpoints            {c['checkpoints']:,} (the last is the fixed-horizon readout; all feed the"
        " confidence sequence: fct_metric_results_by_checkpoint)",
        f"  planned split          {planned}",
        f"  metrics                {', '.join(f'{x.metric_id} ({x.type})' for x in m.metrics)}",
        "  rows not analysable    "
        f"{_rows(c['rows_zero_count'] + c['rows_missing_mean'] + c['rows_missing_variance'])}: "
        f"{c['rows_zero_count']:,} zero or missing count, {c['rows_missing_mean']:,} missing mean, "
        f"{c['rows_missing_variance']:,} missing variance (their pairs get a result row with a status_reason)",
        f"  zero variance          {c['pairs_zero_variance_final']:,} variant x metric pairs with zero variance in"
        " both arms at the last checkpoint (a result row with a status_reason)",
    ]
    analysis = [
        f"{label} {value}"
        for label, value in (
            ("alpha", m.alpha),
            ("planned sample size", None if m.planned_sample_size is None else f"{m.planned_sample_size:,}"),
        )
        if value is not None
    ]
    if analysis:
        lines.append(f"  analysis               {'; '.join(analysis)} (int_experiment_settings)")
    count = sum(len(files) for files in result.files.values())
    lines.append(f"  files written under {result.landing}: {count}")
    for files in list(result.files.values())[:3]:
        for path in files.values():
            lines.append(f"    {path.relative_to(result.landing).as_posix()}")
    if len(result.files) > 3:
        lines.append(f"    ... and the files of {len(result.files) - 3} more experiments")
    return "\n".join(lines)


def summary(result: ImportResult | SummaryImportResult) -> str:
    """The lines printed after an import."""
    if isinstance(result, SummaryImportResult):
        return summary_of_summary_import(result)
    c = result.counts
    m = result.mapping
    rows = c["rows_imported"]
    lines = [
        f"imported {m.experiment_id} (version {m.experiment_version}) from {result.source}",
        f"  rows read              {c['rows_read']:,}",
    ]
    if m.derive:
        lines.append(f"  derived columns        {', '.join(m.derived_names)}")
    if m.where is not None:
        lines.append(f"  where                  {m.where}: {_rows(c['rows_filtered_out'])} filtered out")
    policy = {
        "exclude": "exclude the unit (dbt: from both populations when assigned to several variants, from the"
        " exposed one when shown another)",
        "first_row": "keep the unit's first row",
        "drop_mismatched_rows": "drop rows whose shown variant differs from the assigned one",
    }[m.several_variants]
    lines.append(f"  several variants       {m.several_variants}: {policy}")
    if m.several_variants != "exclude":
        lines.append(
            f"  dropped by the policy  {_rows(c['rows_dropped_by_policy'])}"
            f" ({c['units_dropped_rows_by_policy']:,} unit{'' if c['units_dropped_rows_by_policy'] == 1 else 's'})"
        )
    analysis = [
        f"{label} {value}"
        for label, value in (
            ("alpha", m.alpha),
            ("planned sample size", None if m.planned_sample_size is None else f"{m.planned_sample_size:,}"),
            ("decision estimator", m.decision_estimator),
        )
        if value is not None
    ]
    if analysis:
        lines.append(f"  analysis               {'; '.join(analysis)} (int_experiment_settings)")
    lines += [
        f"  rows imported          {rows:,}",
        f"  units                  {c['units']:,}",
        f"  duplicate units        {c['duplicate_units']:,} unit ids on more than one row"
        f" ({_rows(c['rows_of_duplicate_units'])}); {c['units_in_several_assigned_variants']:,}"
        " in more than one assigned variant",
    ]
    for variant, count in c["rows_per_assigned_variant"].items():
        control = ", control" if variant == m.control else ""
        planned = {
            "declared": f"planned {m.split[variant]:.2%}",
            "assumed_equal": f"assumed equal {m.split[variant]:.2%}",
            "unknown": "planned split unknown: no sample-ratio test",
        }[m.planned_split]
        lines.append(f"  assigned {variant:<13} {_rows(count)} ({count / rows:.2%}; {planned}{control})")
    if m.exposed_variant is not None:
        lines.append(
            f"  assigned != exposed    {_rows(c['rows_assigned_not_exposed'])}"
            f" ({c['units_assigned_not_exposed']:,} unit{'' if c['units_assigned_not_exposed'] == 1 else 's'})"
        )
        if c["rows_exposed_unknown"]:
            lines.append(
                f"  exposure unknown       {_rows(c['rows_exposed_unknown'])} (empty {m.exposed_variant.column!r})"
            )
    else:
        lines.append("  assigned != exposed    n/a (no exposed_variant column; exposure = assignment)")
    per_metric = ", ".join(
        f"{metric} {info['values_written']:,}"
        + (f" ({info['empty_cells']:,} empty: {info['on_null']})" if info["empty_cells"] else "")
        for metric, info in c["outcomes"].items()
    )
    lines.append(f"  outcome values written {c['outcome_rows_written']:,} ({per_metric})")
    for column, info in c.get("segments", {}).items():
        lines.append(
            f"  segment {column:<14} {info['distinct_values']:,} values; {info['units_with_value']:,} units with one,"
            f" {info['units_without_value']:,} without, {info['units_with_several_values']:,} with several"
            " (the first row's counts)"
        )
    lines.append(f"  files written under {result.landing}:")
    for path in result.files.values():
        lines.append(f"    {path.relative_to(result.landing).as_posix()}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mapping", nargs="?", metavar="MAPPING", help="YAML mapping file (see mappings/ for examples)")
    parser.add_argument("--file", metavar="PATH", help="the export: .csv, .csv.gz or .parquet")
    parser.add_argument(
        "--landing", metavar="DIR", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)"
    )
    parser.add_argument(
        "--remove",
        metavar="EXPERIMENT_ID",
        help="take an import back out of the landing zone (its files); rebuild afterwards (make rebuild)",
    )


def run(args: argparse.Namespace) -> int:
    if args.remove is not None:
        if args.mapping is not None or args.file is not None:
            raise UsageError("--remove takes only an experiment_id (and --landing), not a mapping or --file")
        landing = landing_path(args.landing)
        removed = remove_import(landing, args.remove)
        print(f"removed import {args.remove} from {landing}: {len(removed)} files")
        for path in removed:
            print(f"  {path.relative_to(landing).as_posix()}")
        print("  rebuild the warehouse to take it out of the readouts: make rebuild")
        return 0
    if args.mapping is None or args.file is None:
        raise UsageError("readout import needs a mapping and --file (or --remove EXPERIMENT_ID)")
    result = import_export(args.mapping, args.file, args.landing)
    print(summary(result))
    return 0
