"""Issue 5: adding a metric means adding one row to seeds/metric_catalog.csv; nothing else changes.
Issue 10: a catalog row is validated before any SQL is generated from it (one-line compile error), and
an event_filter is a predicate over the event columns only."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from e2e import BIN, PROJECT, project_env, query, readout, run

NEW_METRIC = (
    "signup_rate,1,Share of units that sign up in the 7 days from first exposure,growth-analytics,"
    "proportion,signup,any,,,,0,7,increase,secondary,none,,,14"
)
#: an event_filter (quoted CSV field) and no CUPED covariate (covariate_lookback_days empty)
FILTERED_METRIC = (
    "large_purchase_rate,1,Share of units with a purchase of 20 or more in the 7 days from first exposure,"
    "finance-analytics,proportion,purchase,any,,,\"revenue >= 20 and event_name = 'purchase'\",0,7,increase,"
    "secondary,none,,,"
)
#: metric_id -> (event name, predicate on int_events_stitched rows) for the independent recount
NEW_METRICS = {
    "signup_rate": ("signup", lambda events: events.event_name.notna()),
    "large_purchase_rate": ("purchase", lambda events: events.revenue >= 20),
}


@pytest.fixture(scope="module")
def built_with_new_metric(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    project = root / "project"
    project.mkdir()
    for name in ["dbt_project.yml", "profiles.yml"]:
        shutil.copy(PROJECT / name, project / name)
    for name in ["models", "macros", "seeds", "readouts"]:
        shutil.copytree(PROJECT / name, project / name)
    catalog = project / "seeds" / "metric_catalog.csv"
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + NEW_METRIC + "\n" + FILTERED_METRIC + "\n")
    landing, warehouse = root / "landing", root / "readout.duckdb"
    env = project_env(landing, warehouse)
    readout(
        "simulate", "--seed", "3", "--events", "60000", "--faults", "none", "--out", str(landing), "--quiet", env=env
    )
    run([str(BIN / "dbt"), "build", "--project-dir", str(project), "--full-refresh"], env)
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


def test_a_metric_without_covariate_gets_no_cuped_row(built_with_new_metric):
    results = query(
        built_with_new_metric, "select * from marts.fct_metric_results where metric_id = 'large_purchase_rate'"
    )
    stats = query(
        built_with_new_metric, "select * from marts.fct_variant_metric_stats where metric_id = 'large_purchase_rate'"
    )
    assert set(results.estimator) == {"unadjusted"} and results.absolute_lift_ci_lower.notna().any()
    assert stats.covariate_sum.isna().all() and stats.metric_sum.gt(0).any()


@pytest.mark.parametrize("metric_id", list(NEW_METRICS))
def test_the_new_metric_counts_what_its_row_says(built_with_new_metric, metric_id):
    """Independent of the generated SQL: exposed units with a matching event in [first exposure, +7 days)."""
    warehouse = built_with_new_metric
    event_name, predicate = NEW_METRICS[metric_id]
    units = query(
        warehouse,
        """
        select u.experiment_id, u.experiment_version, u.variant_id, u.unit_id, u.first_exposed_at, v.ended_at
        from marts.fct_experiment_units as u
        join intermediate.int_experiment_versions as v using (experiment_id, experiment_version)
        where u.is_in_exposed_population
        """,
    )
    events = query(
        warehouse,
        "select unit_id, event_name, revenue, event_at from intermediate.int_events_stitched "
        f"where event_name = '{event_name}'",
    )
    events = events[predicate(events)]
    joined = units.merge(events[["unit_id", "event_at"]], on="unit_id", how="left")
    end = (joined.first_exposed_at + pd.Timedelta(days=7)).where(
        joined.ended_at.isna() | (joined.first_exposed_at + pd.Timedelta(days=7) <= joined.ended_at), joined.ended_at
    )
    joined["hit"] = (joined.event_at >= joined.first_exposed_at) & (joined.event_at < end)
    expected = (
        joined.groupby(["experiment_id", "experiment_version", "variant_id", "unit_id"])
        .hit.any()
        .groupby(level=[0, 1, 2])
        .agg(["sum", "count"])
        .reset_index()
    )
    stats = query(
        warehouse,
        f"select * from marts.fct_variant_metric_stats where metric_id = '{metric_id}' and population = 'exposed'",
    )
    merged = expected.merge(stats, on=["experiment_id", "experiment_version", "variant_id"])
    assert len(merged) == len(expected) > 0
    assert (merged["sum"] == merged.metric_sum).all() and (merged["count"] == merged.n_units).all(), merged


def build_with_catalog_row(warehouse, tmp_path, row: str):
    """Re-seed a copy of the built warehouse with one more catalog row and rebuild the models generated from it."""
    project = tmp_path / "project"
    shutil.copytree(warehouse.parent / "project", project)
    catalog = project / "seeds" / "metric_catalog.csv"
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + row + "\n")
    copy = tmp_path / "readout.duckdb"
    shutil.copy(warehouse, copy)
    env = project_env(warehouse.parent / "landing", copy)
    command = [
        str(BIN / "dbt"),
        "build",
        "--project-dir",
        str(project),
        "--select",
        "metric_catalog",
        "int_unit_metric_aggregates",
        "int_unit_metric_values",
    ]
    return run(command, env, check=False)


def catalog_error_line(result) -> str:
    """The one line of the compile error that names the catalog row."""
    assert result.returncode != 0, result.stdout[-2000:]
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith("metric catalog (seeds/metric_catalog.csv)")
    ]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


def test_an_injected_event_name_is_a_one_line_compile_error(built_with_new_metric, tmp_path):
    """The row from the issue: a quote in numerator_event once compiled into the SQL and counted sessions as
    purchases."""
    injected = (
        "sneaky,1,Counts sessions as purchases,growth-analytics,proportion,"
        "\"purchase' or events.event_name = 'session_start\",any,,,,0,7,increase,secondary,none,,,14"
    )
    line = catalog_error_line(build_with_catalog_row(built_with_new_metric, tmp_path, injected))
    assert line == (
        'metric catalog (seeds/metric_catalog.csv) row metric_id "sneaky": numerator_event is '
        "\"purchase' or events.event_name = 'session_start\"; allowed: session_start, signup, purchase"
    )


def test_an_event_filter_on_a_non_event_column_is_a_compile_error_naming_the_metric(built_with_new_metric, tmp_path):
    row = (
        "by_variant,1,Purchases filtered on a window column,growth-analytics,proportion,purchase,any,,,"
        "\"windows.variant_id = 'treatment'\",0,7,increase,secondary,none,,,14"
    )
    line = catalog_error_line(build_with_catalog_row(built_with_new_metric, tmp_path, row))
    assert line.startswith(
        'metric catalog (seeds/metric_catalog.csv) row metric_id "by_variant": event_filter is '
        '"windows.variant_id = \'treatment\'": references "windows.variant_id", which is not an event column'
    ), line
    assert "event columns: unit_id," in line and "revenue" in line
