"""Volume checks: each variant's events per platform and day against the other variants' volume."""

from readout.stats import compute_volume_checks


def model(dbt, session):
    dbt.config(materialized="table")
    counts = dbt.ref("int_event_volumes_counted_per_variant_day").df()
    return compute_volume_checks(
        counts,
        reference_days=int(dbt.config.get("volume_reference_days")),
        min_missing_share=float(dbt.config.get("volume_min_missing_share")),
        alpha=float(dbt.config.get("volume_alpha")),
        min_expected=float(dbt.config.get("volume_min_expected_events")),
    )
