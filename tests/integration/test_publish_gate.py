"""Write-audit-publish (issue 12): the published layer (schema published) is replaced only by a build whose every
audit passed. The gate is dbt's own skipping (macros/publish_gate.sql): checked here from the manifest, for every
model and every test, and by a build whose landing conservation test fails."""

from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
import pytest
from e2e import project_env, query, readout, target_dir

PUBLISHED = [
    "fct_metric_results",
    "fct_sample_ratio_checks",
    "fct_variant_metric_stats",
    "fct_volume_checks",
    "fct_sample_ratio_checks_by_segment",
    "fct_metric_results_bayesian",
    "fct_metric_power",
    "fct_metric_results_by_segment",
    "fct_funnel_steps",
    "fct_funnel_results",
    "fct_metric_results_by_checkpoint",
]
DOWNSTREAM_FOLDERS = ("published/", "history/", "semantic/")  #: the layers that read the published tables


def ancestors(manifest: dict, node: str) -> set[str]:
    seen, stack = set(), [node]
    while stack:
        for parent in manifest["nodes"].get(stack.pop(), {}).get("depends_on", {}).get("nodes", []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def is_downstream(manifest: dict, node: str) -> bool:
    path = manifest["nodes"].get(node, {}).get("path", "")
    return path.startswith(DOWNSTREAM_FOLDERS)


def test_every_model_and_every_tests_parents_are_upstream_of_every_published_model(clean_simulation):
    manifest = json.loads((target_dir(clean_simulation["warehouse"]) / "manifest.json").read_text())
    published = sorted(k for k in manifest["nodes"] if k.startswith("model.readout.published__"))
    assert [k.removeprefix("model.readout.published__") for k in published] == sorted(PUBLISHED)
    models = {
        k
        for k, v in manifest["nodes"].items()
        if v["resource_type"] in ("model", "seed") and not is_downstream(manifest, k)
    }
    tests = {
        k: v
        for k, v in manifest["nodes"].items()
        if v["resource_type"] == "test"
        and v["config"].get("severity", "error").lower() == "error"
        and not any(is_downstream(manifest, p) for p in v["depends_on"]["nodes"])
    }
    assert len(models) > 20 and len(tests) > 50
    for node in published:
        upstream = ancestors(manifest, node)
        assert sorted(models - upstream) == [], f"{node}: models not behind the publish gate"
        outside = {
            k: sorted(set(t["depends_on"]["nodes"]) - upstream)
            for k, t in tests.items()
            if not set(t["depends_on"]["nodes"]) <= upstream
        }
        assert outside == {}, f"{node}: tests whose failure would not stop publishing"


@pytest.fixture(scope="module")
def failed_build(clean_simulation, tmp_path_factory) -> dict:
    """The clean build, copied; one accepted landing row lost from staging (as a staging bug would lose it),
    then a refresh: the conservation tests fail, while the marts themselves still rebuild."""
    root = tmp_path_factory.mktemp("publish_gate")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copytree(clean_simulation["landing"], landing)
    shutil.copy2(clean_simulation["warehouse"], warehouse)
    before = {table: query(warehouse, f"select * from published.{table}") for table in PUBLISHED}
    history_builds = query(warehouse, "select count(distinct build_id) as n from history.fct_readout_history").n[0]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""delete from staging.stg_landing__events_checked where rowid = (
            select min(rowid) from staging.stg_landing__events_checked where event_name = 'purchase')""")
    env = project_env(landing, warehouse)
    result = readout("build", "--force", env=env, check=False)
    return {
        "warehouse": warehouse,
        "before": before,
        "history_builds": int(history_builds),
        "result": result,
        "report": readout("report", "--warehouse", str(warehouse), env=env, check=False),
    }


def test_a_build_whose_audit_fails_publishes_nothing(failed_build):
    assert failed_build["result"].returncode != 0
    warehouse = failed_build["warehouse"]
    for table, before in failed_build["before"].items():
        after = query(warehouse, f"select * from published.{table}")
        pd.testing.assert_frame_equal(after, before, check_exact=True, obj=f"published.{table}")
    builds = query(warehouse, "select count(distinct build_id) as n from history.fct_readout_history").n[0]
    assert int(builds) == failed_build["history_builds"]  # nothing published, nothing appended
    log = query(
        warehouse,
        "select status, failed_nodes from main.readout_build_log where event = 'finished' "
        "order by finished_at desc limit 1",
    )
    assert log.status[0] == "failed" and "assert_landing_rows_conserved_per_source_system" in log.failed_nodes[0]


def test_the_report_shows_the_last_published_readout_and_says_the_build_failed(failed_build):
    report = failed_build["report"]
    assert report.returncode == 0, report.stderr
    first = report.stdout.splitlines()[0]
    assert first.startswith("WARNING") and "failed" in first and "it published nothing" in first, first
    assert "published readout" in report.stdout.splitlines()[2]


def test_the_mart_contracts_error_alarms_keep_the_versions_they_name_from_being_confirmed(all_faults_simulation):
    """readout build validates the mart contracts between writing and publishing; their error alarms reach the
    readout status of every experiment version they name (exp_search_ranking's planted unit faults)."""
    warehouse = all_faults_simulation["warehouse"]
    alarms = query(
        warehouse,
        "select distinct experiment_id, experiment_version from main.readout_blocking_alarms where severity = 'error'",
    )
    named = set(zip(alarms.experiment_id, alarms.experiment_version))
    assert ("exp_search_ranking", 1) in named
    results = query(
        warehouse,
        "select experiment_id, experiment_version, readout_status, status_reasons from published.fct_metric_results",
    )
    blocked = results[[key in named for key in zip(results.experiment_id, results.experiment_version)]]
    assert len(blocked) > 0 and (blocked.readout_status != "confirmed").all()
    assert blocked.status_reasons.str.contains("contract_error").all()
    others = results[[key not in named for key in zip(results.experiment_id, results.experiment_version)]]
    assert len(others) > 0 and not others.status_reasons.fillna("").str.contains("contract_error").any()
