"""Segments add up: every segment type's values partition the exposed population, so their units and sums
add to the overall per-variant statistics, and their sample-ratio totals to the exposed units."""

from __future__ import annotations

import numpy as np
from e2e import query

SUMS = [
    "n_units",
    "n_units_window_in_progress",
    "n_units_window_truncated",
    "n_units_capped",
    "metric_sum",
    "metric_sum_of_squares",
    "covariate_sum",
]


def test_segment_statistics_add_up_to_the_exposed_population(clean_simulation):
    warehouse = clean_simulation["warehouse"]
    total = query(
        warehouse,
        f"""
        select experiment_id, experiment_version, variant_id, metric_id, {", ".join(SUMS)}
        from published.fct_variant_metric_stats where population = 'exposed' order by all""",
    )
    for segment_type in ("exposure_platform", "tenure"):
        summed = query(
            warehouse,
            f"""
            select experiment_id, experiment_version, variant_id, metric_id,
                   {", ".join(f"sum({c}) as {c}" for c in SUMS)}, count(*) as n_segments
            from intermediate.int_variant_metric_stats_by_segment
            where segment_type = '{segment_type}'
            group by all order by all""",
        )
        assert len(summed) == len(total) > 20 and (summed["n_segments"] > 1).any()
        for column in SUMS:
            np.testing.assert_allclose(
                summed[column].astype(float), total[column].astype(float), rtol=1e-9, err_msg=column
            )


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
