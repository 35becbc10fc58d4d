"""Segments add up: every segment type's values partition the exposed population, so their units and sums
add to the overall per-variant statistics, and their sample-ratio totals to the exposed units. Segment types:
exposure_platform, tenure, the unit attributes of seeds/segment_attributes.csv read from the first exposure (the
simulator's country) and, in test_html_report's mid-timeline warehouse, an attribute from imports/unit_attributes
(assert_segments_add_up is shared with it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from e2e import PROJECT, query

EVENT_SEGMENT_TYPES = {"exposure_platform", "tenure"} | set(
    pd.read_csv(PROJECT / "seeds" / "segment_attributes.csv").attribute_name
)

SUMS = [
    "n_units",
    "n_units_window_in_progress",
    "n_units_window_truncated",
    "n_units_capped",
    "metric_sum",
    "metric_sum_of_squares",
    "covariate_sum",
]


def assert_segments_add_up(warehouse: Path, segment_types: set[str], experiment_id: str | None = None) -> None:
    """Each segment type's values add up, per experiment version (of ``experiment_id``, else every version with
    events), to the exposed population's statistics (fct_variant_metric_stats) and, in the mart's sample-ratio
    totals, to its exposed units; each type has several values."""
    where = f"experiment_id = '{experiment_id}'" if experiment_id else "true"
    total = query(
        warehouse,
        f"""
        select experiment_id, experiment_version, variant_id, metric_id, {", ".join(SUMS)}
        from published.fct_variant_metric_stats
        where population = 'exposed' and {where}
        order by all""",
    )
    exposed = query(
        warehouse,
        f"""select experiment_id, experiment_version, count(*) as units from marts.fct_experiment_units
            where is_in_exposed_population and {where} group by all order by all""",
    )
    for segment_type in sorted(segment_types):
        summed = query(
            warehouse,
            f"""
            select experiment_id, experiment_version, variant_id, metric_id,
                   {", ".join(f"sum({c}) as {c}" for c in SUMS)}, count(*) as n_segments
            from intermediate.int_variant_metric_stats_by_segment
            where segment_type = '{segment_type}' and {where}
            group by all order by all""",
        )
        assert len(summed) == len(total) > 0 and (summed["n_segments"] > 1).any(), segment_type
        for column in SUMS:
            np.testing.assert_allclose(
                summed[column].astype(float), total[column].astype(float), rtol=1e-9, err_msg=column
            )
        units = query(
            warehouse,
            f"""
            select experiment_id, experiment_version, sum(segment_units) as units, count(*) as n_segments from (
                select distinct experiment_id, experiment_version, segment_value, segment_units
                from published.fct_metric_results_by_segment where segment_type = '{segment_type}' and {where}
            ) as per_segment group by all order by all""",
        )
        merged = units.merge(exposed, on=["experiment_id", "experiment_version"], suffixes=("", "_exposed"))
        assert len(merged) == len(units) > 0, segment_type
        np.testing.assert_array_equal(merged["units"], merged["units_exposed"], err_msg=segment_type)
    # each segment is its own correction family: its size is the segment's metrics x variants, per estimator
    families = query(
        warehouse,
        f"""
        select experiment_id, experiment_version, segment_type, segment_value, estimator,
               min(correction_family_size) as smallest, max(correction_family_size) as largest, count(*) as tested
        from published.fct_metric_results_by_segment where {where}
        group by all""",
    )
    assert len(families) > 0
    np.testing.assert_array_equal(families["smallest"], families["tested"])
    np.testing.assert_array_equal(families["largest"], families["tested"])


def test_segment_statistics_add_up_to_the_exposed_population(clean_simulation):
    warehouse = clean_simulation["warehouse"]
    types = set(
        query(warehouse, "select distinct segment_type from published.fct_metric_results_by_segment").iloc[:, 0]
    )
    assert types == EVENT_SEGMENT_TYPES and "country" in types  # the simulator's country, from the first exposure
    assert_segments_add_up(warehouse, types)


def test_segment_sample_ratio_totals_and_results_match_the_units(clean_simulation):
    warehouse = clean_simulation["warehouse"]
    check = query(
        warehouse,
        """
        with per_segment as (
            select distinct experiment_id, experiment_version, segment_type, segment_value, segment_units
            from published.fct_metric_results_by_segment
        ),
        segment_totals as (
            select experiment_id, experiment_version, segment_type, sum(segment_units) as units
            from per_segment group by all
        ),
        exposed as (
            select experiment_id, experiment_version, count(*) as units
            from marts.fct_experiment_units where is_in_exposed_population group by all
        )
        select segment_totals.*, exposed.units as exposed_units
        from segment_totals join exposed using (experiment_id, experiment_version)
        """,
    )
    assert len(check) >= 10
    np.testing.assert_array_equal(check["units"], check["exposed_units"])
    flags = query(warehouse, "select distinct is_exploratory, population from published.fct_metric_results_by_segment")
    assert flags.to_dict("records") == [{"is_exploratory": True, "population": "exposed"}]
