"""The readout of summary-statistics imports at every checkpoint, with the confidence sequence over the
checkpoints (readout.importer.aggregates.summary_results), each experiment's alpha and planned sample size
from int_experiment_settings."""

from readout.importer.aggregates import summary_results


def model(dbt, session):
    dbt.config(materialized="table")
    stats = dbt.ref("int_import_summary_stats").df()
    settings = dbt.ref("int_experiment_settings").df()
    return summary_results(
        stats,
        alpha=float(dbt.config.get("alpha")),
        correction=str(dbt.config.get("correction")),
        settings=settings,
    )
