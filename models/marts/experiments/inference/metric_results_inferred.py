"""Confidence intervals, p-values and guardrail verdicts from per-variant sufficient statistics, with each
experiment's alpha and planned sample size (int_experiment_settings)."""

from readout.settings import metric_results_with_settings


def model(dbt, session):
    dbt.config(materialized="table")
    stats = dbt.ref("fct_variant_metric_stats").df()
    settings = dbt.ref("int_experiment_settings").df()
    return metric_results_with_settings(
        stats,
        settings,
        alpha=float(dbt.config.get("alpha")),
        correction=str(dbt.config.get("correction")),
    )
