"""`readout report`: the readout in the terminal, read from the warehouse's public marts."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import pandas as pd

from readout.paths import warehouse_path

SRM_SQL = """
select experiment_id, experiment_version, population,
       string_agg(variant_id || ' ' || observed_units, ', ' order by variant_id) as units,
       max(p_value) as p_value, bool_or(is_sample_ratio_mismatch) as is_mismatch, max(status_reason) as note
from marts.fct_sample_ratio_checks
group by all
order by all
"""

RESULTS_SQL = """
select experiment_id, experiment_version, variant_id, metric_id, metric_role, estimator,
       mean_control, mean_variant, relative_lift, relative_lift_ci_lower, relative_lift_ci_upper,
       adjusted_p_value, is_significant, guardrail_status, status_reason
from marts.fct_metric_results
where population = ? and (metric_role in ('primary', 'guardrail') or ?)
order by experiment_id, experiment_version, variant_id, metric_role, metric_id, estimator
"""


def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.1%}"


def render(warehouse: Path, population: str = "exposed", all_metrics: bool = False) -> str:
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}; run `make demo` (or dbt build) first")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            srm = con.execute(SRM_SQL).df()
            results = con.execute(RESULTS_SQL, [population, all_metrics]).df()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ValueError(f"cannot read the readout marts in {warehouse} ({first_line}); run `make build` first") from None
    lines = [f"readout: {warehouse} (population: {population})", ""]
    mismatched = {
        (row.experiment_id, row.experiment_version)
        for row in srm.itertuples()
        if row.population == population and row.is_mismatch
    }
    lines.append("Sample ratio checks")
    for row in srm[srm.population == population].itertuples():
        verdict = "MISMATCH" if row.is_mismatch else (f"n/a: {row.note}" if isinstance(row.note, str) else "ok")
        p_value = "n/a" if pd.isna(row.p_value) else f"{row.p_value:.2g}"
        lines.append(f"  {row.experiment_id} v{row.experiment_version}: {row.units}; p = {p_value}  {verdict}")
    lines += ["", "Metric results (relative lift, 95% interval, adjusted p)"]
    for row in results.itertuples():
        key = (row.experiment_id, row.experiment_version)
        flags = []
        if row.is_significant is True:
            flags.append("significant")
        if isinstance(row.guardrail_status, str):
            flags.append(f"guardrail {row.guardrail_status}")
        if key in mismatched:
            flags.append("SRM: do not trust")
        if isinstance(row.status_reason, str):
            flags.append(row.status_reason)
        p_value = "n/a" if pd.isna(row.adjusted_p_value) else f"{row.adjusted_p_value:.3g}"
        lines.append(
            f"  {row.experiment_id} v{row.experiment_version} {row.variant_id} {row.metric_id} [{row.estimator}]: "
            f"{_percent(row.relative_lift)} ({_percent(row.relative_lift_ci_lower)}, {_percent(row.relative_lift_ci_upper)}), "
            f"p = {p_value}" + (f"  {'; '.join(flags)}" if flags else "")
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", help="DuckDB file (default: $READOUT_DUCKDB_PATH or warehouse/readout.duckdb)")
    parser.add_argument("--population", choices=["exposed", "assigned"], default="exposed")
    parser.add_argument("--all-metrics", action="store_true", help="secondary metrics too")


def run(args: argparse.Namespace) -> int:
    print(render(warehouse_path(args.warehouse), args.population, args.all_metrics))
    return 0
