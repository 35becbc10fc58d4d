"""Sample-ratio checks per platform, per day and per platform and day: new exposed units against the planned weights."""

from readout.stats import compute_segment_sample_ratio_checks


def model(dbt, session):
    dbt.config(materialized="table")
    counts = dbt.ref("int_first_exposures_counted_per_segment").df()
    return compute_segment_sample_ratio_checks(
        counts,
        threshold=float(dbt.config.get("srm_threshold")),
        warning_threshold=float(dbt.config.get("srm_warning_threshold")),
        min_expected=float(dbt.config.get("srm_min_expected_units")),
    )
