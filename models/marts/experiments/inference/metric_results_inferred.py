"""Confidence intervals, p-values and guardrail verdicts from per-variant sufficient statistics."""

from readout.stats import compute_metric_results


def model(dbt, session):
    dbt.config(materialized="table")
    stats = dbt.ref("fct_variant_metric_stats").df()
    return compute_metric_results(
        stats,
        alpha=float(dbt.config.get("alpha")),
        correction=str(dbt.config.get("correction")),
    )
