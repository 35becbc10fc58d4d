"""Sample-ratio-mismatch checks: observed units per variant against the configured weights."""

from readout.stats import compute_sample_ratio_checks


def model(dbt, session):
    dbt.config(materialized="table")
    counts = dbt.ref("int_variant_unit_counts").df()
    return compute_sample_ratio_checks(
        counts,
        threshold=float(dbt.config.get("srm_threshold")),
        min_expected=float(dbt.config.get("srm_min_expected_units")),
    )
