"""readout simulate --append feeds a refresh: a landing zone simulated as of an early time is built, a day
is appended (late rows for earlier days included) and the staging layer is built again over the new
event-time range; every landing row is accounted for both times and the appended rows, late ones included,
are staged."""

from __future__ import annotations

import json

import pytest
from e2e import SEED, dbt_build, event_time_flags, project_env, query, target_dir

from readout.simulate import main as simulate_main

EVENTS = 40_000
AS_OF = "2026-02-03"
STAGED = "staging.stg_landing__events"
ACCOUNTED = (
    "staging.stg_landing__events",
    "staging.stg_landing__events_quarantined",
    "staging.stg_landing__event_duplicates",
)
CONSERVATION = "assert_landing_rows_conserved_per_source_system"


def build_staging(landing, warehouse) -> dict:
    """The staging layer and its tests, full refresh over the landing zone's event-time range."""
    flags = event_time_flags(landing, project_env(landing, warehouse))
    dbt_build(landing, warehouse, "--select", "staging")  # fails on any failing test
    results = json.loads((target_dir(warehouse) / "run_results.json").read_text())["results"]
    conservation = [r["status"] for r in results if r["unique_id"].split(".")[2] == CONSERVATION]
    counts = {table: int(query(warehouse, f"select count(*) as n from {table}").n[0]) for table in ACCOUNTED}
    return {
        "flags": flags,
        "conservation": conservation,
        "counts": counts,
        "manifest": json.loads((landing / "manifest.json").read_text()),
    }


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("append_refresh")
    landing = root / "landing"
    assert (
        simulate_main(
            ["--seed", str(SEED), "--events", str(EVENTS), "--as-of", AS_OF, "--out", str(landing), "--quiet"]
        )
        == 0
    )
    before = build_staging(landing, root / "before.duckdb")
    assert simulate_main(["--append", "--out", str(landing), "--quiet"]) == 0
    after = build_staging(landing, root / "after.duckdb")
    return before, after, root / "after.duckdb"


def test_every_landing_row_is_accounted_for_before_and_after_the_append(refreshed):
    before, after, _ = refreshed
    for build in (before, after):
        assert build["conservation"] == ["pass"]
        assert sum(build["counts"].values()) == build["manifest"]["counts"]["event_rows"]


def test_the_append_is_staged_over_the_new_range(refreshed):
    before, after, warehouse = refreshed
    appended = after["manifest"]["appends"][0]
    assert (appended["from_as_of"], appended["as_of"]) == ("2026-02-03T00:00:00.000Z", "2026-02-04T00:00:00.000Z")
    assert before["flags"][-2:] == ["--event-time-end", "2026-02-03"]
    assert after["flags"][-2:] == ["--event-time-end", "2026-02-04"]
    assert sum(after["counts"].values()) - sum(before["counts"].values()) == appended["event_rows"] > 0
    assert after["counts"][STAGED] > before["counts"][STAGED]
    # late rows for earlier days arrive with the append and are staged like the others
    late = query(
        warehouse,
        f"select count(*) as n from {STAGED} where received_at >= timestamp '{AS_OF}' "
        f"and event_at < timestamp '{AS_OF}'",
    ).n[0]
    assert appended["late_rows"] > 0 and late > 0
