"""Issue 5: adding a metric means adding one row to seeds/metric_catalog.csv; nothing else changes."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from e2e import BIN, PROJECT, event_time_flags, project_env, query, readout, run

NEW_METRIC = (
    "signup_rate,1,Share of units that sign up in the 7 days from first exposure,growth-analytics,"
    "proportion,signup,any,,,,0,7,increase,secondary,none,,,14"
)


@pytest.fixture(scope="module")
def built_with_new_metric(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    project = root / "project"
    project.mkdir()
    for name in ["dbt_project.yml", "profiles.yml"]:
        shutil.copy(PROJECT / name, project / name)
    for name in ["models", "macros", "seeds"]:
        shutil.copytree(PROJECT / name, project / name)
    catalog = project / "seeds" / "metric_catalog.csv"
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + NEW_METRIC + "\n")
    landing, warehouse = root / "landing", root / "readout.duckdb"
    env = project_env(landing, warehouse)
    readout("simulate", "--seed", "3", "--events", "60000", "--faults", "none", "--out", str(landing), "--quiet", env=env)
    run([str(BIN / "dbt"), "build", "--project-dir", str(project), "--full-refresh", *event_time_flags(landing, env)], env)
    return warehouse


def test_the_new_metric_reaches_every_mart(built_with_new_metric):
    warehouse = built_with_new_metric
    stats = query(warehouse, "select * from marts.fct_variant_metric_stats where metric_id = 'signup_rate'")
    versions = query(warehouse, "select distinct experiment_id, experiment_version from marts.fct_experiment_units")
    assert len(stats) > 0 and stats.n_units.gt(0).any()
    assert set(map(tuple, stats[["experiment_id", "experiment_version"]].drop_duplicates().to_numpy())) == set(
        map(tuple, versions.to_numpy())
    )
    results = query(warehouse, "select * from marts.fct_metric_results where metric_id = 'signup_rate'")
    assert set(results.estimator) == {"unadjusted", "cuped"}
    assert results.absolute_lift_ci_lower.notna().any()


def test_the_new_metric_counts_what_its_row_says(built_with_new_metric):
    """Independent of the generated SQL: exposed units with a signup in [first exposure, +7 days)."""
    warehouse = built_with_new_metric
    units = query(
        warehouse,
        """
        select u.experiment_id, u.experiment_version, u.variant_id, u.unit_id, u.first_exposed_at, v.ended_at
        from marts.fct_experiment_units as u
        join intermediate.int_experiment_versions as v using (experiment_id, experiment_version)
        where u.is_in_exposed_population
        """,
    )
    signups = query(warehouse, "select unit_id, event_at from intermediate.int_events_stitched where event_name = 'signup'")
    joined = units.merge(signups, on="unit_id", how="left")
    end = (joined.first_exposed_at + pd.Timedelta(days=7)).where(
        joined.ended_at.isna() | (joined.first_exposed_at + pd.Timedelta(days=7) <= joined.ended_at), joined.ended_at
    )
    joined["hit"] = (joined.event_at >= joined.first_exposed_at) & (joined.event_at < end)
    expected = (
        joined.groupby(["experiment_id", "experiment_version", "variant_id", "unit_id"]).hit.any()
        .groupby(level=[0, 1, 2]).agg(["sum", "count"]).reset_index()
    )
    stats = query(
        warehouse,
        "select * from marts.fct_variant_metric_stats where metric_id = 'signup_rate' and population = 'exposed'",
    )
    merged = expected.merge(stats, on=["experiment_id", "experiment_version", "variant_id"])
    assert len(merged) == len(expected) > 0
    assert (merged["sum"] == merged.metric_sum).all() and (merged["count"] == merged.n_units).all(), merged
