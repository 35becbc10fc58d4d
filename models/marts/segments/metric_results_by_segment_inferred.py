"""Results per segment (exploratory), each segment its own multiple-testing family, with its sample-ratio check."""

from readout.stats.segments import compute_segment_readout


def model(dbt, session):
    dbt.config(materialized="table")
    return compute_segment_readout(
        dbt.ref("int_variant_metric_stats_by_segment").df(),
        dbt.ref("int_unit_segments_counted").df(),
        alpha=float(dbt.config.get("alpha")),
        correction=str(dbt.config.get("correction")),
        srm_threshold=float(dbt.config.get("srm_threshold")),
        srm_min_expected=float(dbt.config.get("srm_min_expected_units")),
    )
