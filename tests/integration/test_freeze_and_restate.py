"""Issue 12: a frozen readout is served byte for byte whatever arrives later; the restatement log says what would
move and why; `readout restate` is the only way the numbers change, and the log keeps both.

A clean simulated landing zone as of 2026-02-13 (seed 5, 40,000 events), built in a COPY of the project (the
frozen record is a seed, so the repository's readouts/ are never touched). Two versions are frozen:
exp_checkout_button v1 (provisional: its lookback is open, units' windows are still completing) and
exp_search_ranking v1 (confirmed: ended 2026-02-01, every window complete). Then, in one refresh:
- `readout simulate --append` to 2026-02-19: new units complete their windows in exp_checkout_button v1;
- a late copy (new event id, received 2026-02-18) of a purchase that a unit of exp_search_ranking v1 made in its
  revenue window: the same units, more revenue (late events for units already counted);
- the catalog's `sessions` gets a cap (a metric-definition change, metric_version 2).
After the refresh both frozen versions are served exactly as frozen, and fct_readout_restatements attributes each
moved row to its cause. `readout restate` of exp_search_ranking v1 and one more refresh serve today's numbers for
it, log both, and leave the other frozen version as it was.
"""

from __future__ import annotations

import shutil
import struct

import duckdb
import pyarrow.parquet as pq
import pytest
from e2e import PROJECT, project_env, query, readout, simulate

from readout.landing import ensure_landing_tables
from readout.simulate import main as simulate_main

EVENTS = 40_000
MOVING = ("exp_checkout_button", 1)  # provisional when frozen: new units arrive
COMPLETE = ("exp_search_ranking", 1)  # confirmed when frozen: only the planted late purchase reaches it
KEYS = "experiment_id, experiment_version, population, variant_id, metric_id, estimator"
STATUS_COLUMNS = {"readout_status", "status_reasons", "status_reason_text"}
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "readouts", "analyses", "contracts")


def copy_project(destination):
    destination.mkdir()
    for part in PROJECT_PARTS:
        source = PROJECT / part
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, destination / part)
    shutil.copytree(PROJECT / "tests", destination / "tests", ignore=shutil.ignore_patterns("integration"))
    return destination


def served(warehouse, experiment_id, version, relation="marts.fct_metric_results"):
    """The rows of one experiment version as Python values (floats compared exactly, bit for bit)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            f"select * from {relation} where experiment_id = ? and experiment_version = ? order by {KEYS}",
            [experiment_id, version],
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def numbers(rows):
    """Every column but the status, floats as their 8 bytes (so -0.0, nan and the last bit all count)."""

    def exact(value):
        return struct.pack("<d", value) if isinstance(value, float) else value

    return [{name: exact(value) for name, value in row.items() if name not in STATUS_COLUMNS} for row in rows]


def plant_late_purchase(landing, warehouse, experiment_id, version) -> dict:
    """A new landing file with a copy (new event id, received 2026-02-18) of a purchase an exposed unit of the
    version made inside its 14-day revenue window; returns the unit and its variant."""
    unit = query(
        warehouse,
        f"""
        select units.unit_id, units.variant_id, events.event_id, events.source_system
        from marts.fct_experiment_units as units
        inner join intermediate.int_events_stitched as events on events.unit_id = units.unit_id
        where units.experiment_id = '{experiment_id}' and units.experiment_version = {version}
            and units.is_in_exposed_population and units.is_in_assigned_population
            and events.event_name = 'purchase' and events.revenue > 0
            and events.event_at >= units.first_exposed_at + interval 1 day
            and events.event_at < units.first_exposed_at + interval 6 day
        order by units.unit_id, events.event_id
        limit 1""",
    ).iloc[0]
    with duckdb.connect() as con:
        found = con.execute(
            f"""
            select filename from read_parquet('{landing}/events/**/*.parquet', union_by_name = true, filename = true)
            where event_id = ? and source_system = ?""",
            [unit.event_id, unit.source_system],
        ).fetchall()[0]
        source = found[0]
        rows = con.sql(
            f"""
            select * replace (event_id || '-late-copy' as event_id, '2026-02-18T12:00:00.000Z' as received_at)
            from read_parquet('{source}') where event_id = ? and source_system = ?""",
            params=[unit.event_id, unit.source_system],
        ).to_arrow_table()
    schema = pq.read_schema(source)
    pq.write_table(rows.select(schema.names).cast(schema), landing / "events" / "part-planted-late-purchase.parquet")
    return {"unit_id": unit.unit_id, "variant_id": unit.variant_id}


def change_sessions_definition(project) -> None:
    catalog = project / "seeds" / "metric_catalog.csv"
    lines = catalog.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("sessions,1,"):
            fields = line.split(",")
            fields[1], fields[14], fields[15] = "2", "absolute", "3"  # metric_version, cap_type, cap_value
            lines[number] = ",".join(fields)
    catalog.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("freeze")
    project = copy_project(root / "project")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    simulate(landing, "none", EVENTS, "--as-of", "2026-02-13")
    ensure_landing_tables(landing)
    env = project_env(landing, warehouse)

    def build(*flags):
        # no mart contracts (--no-contracts: one dbt build): on this clean landing zone they raise no alarm (checked:
        # the alarms table a contracts build writes here is empty), so the statuses are what they would be with them
        readout("build", *flags, "--no-contracts", "--project-dir", str(project), env=env)

    def cli(*args, check=True):
        return readout(*args, "--project-dir", str(project), env=env, check=check)

    build("--full-refresh")
    steps = {"project": project, "warehouse": warehouse, "env": env, "cli": cli}
    steps["before"] = {version: served(warehouse, *version) for version in (MOVING, COMPLETE)}
    steps["freeze_output"] = cli("freeze", *_args(MOVING), "--reason", "Decision: ship it", "--by", "tester").stdout
    cli("freeze", *_args(COMPLETE), "--reason", "Final readout for the launch review", "--by", "tester")
    steps["frozen_seed"] = (project / "readouts" / "frozen_metric_results.csv").read_bytes()

    assert simulate_main(["--append", "--as-of", "2026-02-19", "--out", str(landing), "--quiet"]) == 0
    steps["planted"] = plant_late_purchase(landing, warehouse, *COMPLETE)
    change_sessions_definition(project)
    build()
    steps["after_refresh"] = {version: served(warehouse, *version) for version in (MOVING, COMPLETE)}
    steps["current"] = {
        version: served(warehouse, *version, relation="marts.metric_results_current") for version in (MOVING, COMPLETE)
    }
    steps["pending"] = query(warehouse, f"select * from history.fct_readout_restatements order by {KEYS}")

    steps["restate_output"] = cli(
        "restate", *_args(COMPLETE), "--reason", "Late purchase uploads", "--by", "reviewer"
    ).stdout
    build()
    steps["after_restate"] = {version: served(warehouse, *version) for version in (MOVING, COMPLETE)}
    steps["current_after_restate"] = served(warehouse, *COMPLETE, relation="marts.metric_results_current")
    steps["log"] = query(warehouse, f"select * from history.fct_readout_restatements order by {KEYS}")
    return steps


def _args(version):
    return version[0], "--version", str(version[1])


def test_frozen_rows_are_served_byte_for_byte_after_late_data(timeline):
    for version in (MOVING, COMPLETE):
        before, after = timeline["before"][version], timeline["after_refresh"][version]
        assert len(before) == len(after) > 0
        assert numbers(after) == numbers(before), version
        assert {row["readout_status"] for row in after} == {"frozen"}
        assert {row["status_reasons"] for row in after} == {"frozen"}
        assert all(row["status_reason_text"].startswith("Frozen by tester on ") for row in after)
    # what the numbers would now be did move: the frozen rows hold against it
    assert numbers(timeline["current"][MOVING]) != numbers(timeline["before"][MOVING])
    assert "froze exp_checkout_button v1: 18 result rows" in timeline["freeze_output"]


def test_the_restatement_log_attributes_each_move(timeline):
    pending = timeline["pending"]
    assert set(pending.restatement_state) == {"pending"}
    assert pending.has_moved.all()
    # the definition change reaches the sessions rows of both versions, and nothing else
    assert set(pending[pending.metric_id == "sessions"].change_cause) == {"metric_definition_change"}
    assert set(pending[pending.change_cause == "metric_definition_change"].metric_id) == {"sessions"}
    complete = pending[(pending.experiment_id == COMPLETE[0]) & (pending.metric_id != "sessions")]
    assert (complete.units_added == 0).all()
    # the late purchase: the same units, more revenue: its revenue metrics moved through late events
    late = complete[complete.change_cause == "late_events"]
    assert set(late.metric_id) == {"revenue", "revenue_per_session"}
    assert (late.relative_lift != late.frozen_relative_lift).all()
    # the other rows of their correction families moved only in their adjusted p-value
    family = complete[complete.change_cause != "late_events"]
    assert set(family.change_cause) <= {"correction_family_change"}
    assert (family.relative_lift == family.frozen_relative_lift).all() and (
        family.p_value == family.frozen_p_value
    ).all()
    assert (family.adjusted_p_value != family.frozen_adjusted_p_value).all()
    moving = pending[(pending.experiment_id == MOVING[0]) & (pending.metric_id != "sessions")]
    assert "new_units" in set(moving.change_cause)
    assert set(moving.change_cause) <= {"new_units", "correction_family_change"}
    # units_added and the new numbers are those of metric_results_current
    current = {tuple(row[k] for k in KEYS.split(", ")): row for row in timeline["current"][MOVING]}
    for row in moving[moving.change_cause == "new_units"].itertuples():
        now = current[tuple(getattr(row, k) for k in KEYS.split(", "))]
        assert (
            row.units_added
            == now["n_units_control"]
            + now["n_units_variant"]
            - (row.frozen_n_units_control + row.frozen_n_units_variant)
            > 0
        )
        assert row.relative_lift == now["relative_lift"] or (row.relative_lift != row.relative_lift)


def test_restate_serves_todays_numbers_and_the_log_keeps_both(timeline):
    assert "restated exp_search_ranking v1" in timeline["restate_output"]
    after, current = timeline["after_restate"][COMPLETE], timeline["current_after_restate"]
    assert "frozen" not in {row["readout_status"] for row in after}
    columns = [name for name in after[0]]
    assert numbers(after) == numbers([{name: row[name] for name in columns} for row in current])
    # the other frozen version is still served as frozen, byte for byte
    assert numbers(timeline["after_restate"][MOVING]) == numbers(timeline["before"][MOVING])
    log = timeline["log"]
    restated = log[log.restatement_state == "restated"]
    assert set(restated.experiment_id) == {COMPLETE[0]} and len(restated) == len(after)
    assert set(restated.restated_by) == {"reviewer"} and set(restated.restatement_reason) == {"Late purchase uploads"}
    frozen = {
        (row["population"], row["variant_id"], row["metric_id"], row["estimator"]): row
        for row in timeline["before"][COMPLETE]
    }
    for row in restated.itertuples():
        old = frozen[(row.population, row.variant_id, row.metric_id, row.estimator)]
        assert struct.pack("<d", row.frozen_relative_lift) == struct.pack("<d", old["relative_lift"])
    assert set(restated[restated.has_moved].change_cause) == {
        "late_events",
        "metric_definition_change",
        "correction_family_change",
    }
    assert set(restated[~restated.has_moved].change_cause) == {"none"}
    assert set(log[log.restatement_state == "pending"].experiment_id) == {MOVING[0]}


def test_a_hand_edited_record_is_refused_and_nothing_changes(timeline):
    project, cli = timeline["project"], timeline["cli"]
    seed = project / "readouts" / "frozen_metric_results.csv"
    restated = project / "readouts" / "restated_metric_results.csv"
    original, original_restated = seed.read_bytes(), restated.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    lines[1] = lines[1].replace(",0.", ",0.9", 1)  # one number of the first frozen row, edited by hand
    tampered = "".join(lines).encode()
    assert tampered != original
    seed.write_bytes(tampered)
    try:
        for args in (("restate", *_args(MOVING)), ("freeze", *_args(COMPLETE))):
            result = cli(*args, "--reason", "x", "--by", "tester", check=False)
            assert result.returncode == 2, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1 and "edited by hand" in result.stderr
            assert seed.read_bytes() == tampered and restated.read_bytes() == original_restated
    finally:
        seed.write_bytes(original)
