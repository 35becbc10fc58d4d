"""Sample-ratio-mismatch checks: observed units per variant against the configured weights (no test when the
planned split is unknown, see int_experiment_settings)."""

from readout.settings import sample_ratio_checks_with_settings


def model(dbt, session):
    dbt.config(materialized="table")
    counts = dbt.ref("int_variant_unit_counts").df()
    settings = dbt.ref("int_experiment_settings").df()
    return sample_ratio_checks_with_settings(
        counts,
        settings,
        threshold=float(dbt.config.get("srm_threshold")),
        min_expected=float(dbt.config.get("srm_min_expected_units")),
    )
