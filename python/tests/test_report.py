"""`readout report` renders the marts it finds, flags readouts a sample ratio mismatch makes untrustworthy,
says first when the last build failed or never finished, and that a build is running when one holds the lock."""

import re
import subprocess
import sys

import duckdb
import pytest

from readout import cli
from readout.report import render


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.fct_sample_ratio_checks as
            select * from (values
                ('e1', 1, 'exposed', 'control', 500, 0.00001, true, null),
                ('e1', 1, 'exposed', 'treatment', 400, 0.00001, true, null),
                ('e2', 1, 'exposed', 'control', 500, 0.9, false, null),
                ('e2', 1, 'exposed', 'treatment', 502, 0.9, false, null)
            ) t(experiment_id, experiment_version, population, variant_id, observed_units, p_value,
                is_sample_ratio_mismatch, status_reason)
            """
        )
        con.execute(
            """
            create table marts.fct_metric_results as
            select * from (values
                ('e1', 1, 'exposed', 'treatment', 'conversion', 'primary', 'unadjusted',
                 0.1, 0.12, 0.2, 0.05, 0.35, 0.01, true, null, null),
                ('e2', 1, 'exposed', 'treatment', 'retention', 'guardrail', 'unadjusted',
                 0.5, 0.45, -0.1, -0.15, -0.05, 0.001, true, 'fail', null)
            ) t(experiment_id, experiment_version, population, variant_id, metric_id, metric_role, estimator,
                mean_control, mean_variant, relative_lift, relative_lift_ci_lower, relative_lift_ci_upper,
                adjusted_p_value, is_significant, guardrail_status, status_reason)
            """
        )
    return path


#: the lines that carry a mart's numbers: sample-ratio checks and metric results
NUMBERS = re.compile(r"^  .*(; p = |, p raw |, p adjusted |\), p )")


def block(text: str, key: str) -> str:
    """One experiment version's block of the report (from its verdict line to the blank line after it)."""
    start = text.index(f"\n{key}")
    end = text.find("\n\n", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_report_flags_srm_and_guardrails(warehouse):
    text = render(warehouse)
    assert "e1 v1: control 500, treatment 400; p = 1e-05  MISMATCH" in text
    assert block(text, "e1 v1:").startswith("\ne1 v1: DO NOT TRUST THE DATA\n  verdict: Sample ratio mismatch")
    assert (
        "\n    treatment conversion [unadjusted, decide]: +20.0% (95% +5.0%, +35.0%), p adjusted 0.01; control 0.1 "
        "vs 0.12  significant; SRM: do not trust"
    ) in block(text, "e1 v1:")
    # a warehouse whose marts carry no direction: the mart's own guardrail status
    assert (
        "\n    treatment retention [unadjusted, decide]: -10.0% (95% -15.0%, -5.0%), p adjusted 0.001; control 0.5 vs "
        "0.45  significant; guardrail FAIL"
    ) in block(text, "e2 v1:")
    assert block(text, "e2 v1:").startswith(
        "\ne2 v1: DO NOT SHIP\n  verdict: Do not ship: guardrail treatment retention fails its margin (-10.0%)."
    )
    assert "e2 v1: control 500, treatment 502; p = 0.9  ok" in text


def test_a_volume_shortfall_is_read_against_the_primary_metric_and_blocks_finalizing(warehouse):
    """The product's own example of a good alarm: "Variant B conversion is up, but 18% of exposed events are
    missing from iOS, so do not finalize the readout." """
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """
            create table marts.fct_volume_checks as
            select * from (values
                ('e2', 1, 'treatment', 'ios', date '2026-01-27', 'experiment_exposed', 82, 100.0, 0.18, true),
                ('e2', 1, 'treatment', 'ios', date '2026-01-27', 'session_start', 800, 950.0, 0.158, true),
                ('e2', 1, 'treatment', 'web', date '2026-01-27', 'session_start', 500, 505.0, 0.01, false)
            ) t(experiment_id, experiment_version, variant_id, source_system, event_date, event_name,
                observed_events, expected_events, missing_share, is_volume_shortfall)
            """
        )
        con.execute(
            "insert into marts.fct_metric_results select 'e2', 1, 'exposed', 'treatment', 'conversion', "
            "'primary', 'cuped', 0.1, 0.11, 0.1, 0.02, 0.18, 0.02, true, null, null"
        )
        con.execute(
            """
            create table marts.fct_sample_ratio_checks_by_segment as
            select * from (values
                ('e2', 1, 'ios on 2026-01-27', 'control', true,
                 'e2 v1 ios on 2026-01-27: control 88 vs treatment 0 new units'),
                ('e2', 1, 'ios on 2026-01-27', 'treatment', true,
                 'e2 v1 ios on 2026-01-27: control 88 vs treatment 0 new units'),
                ('e2', 1, 'web', 'control', false, null)
            ) t(experiment_id, experiment_version, segment_label, variant_id, is_sample_ratio_mismatch, alarm)
            """
        )
    text = render(warehouse)
    assert text.count("\n  e2 v1 ios on 2026-01-27: control 88 vs treatment 0 new units") == 1
    assert (
        "  e2 v1: treatment conversion is up (+10.0%), but 18% of treatment's expected ios events on 2026-01-27 "
        "are missing (experiment_exposed, session_start: 882 of ~1,050), so do not finalize the readout."
    ) in text
    assert (
        "    treatment conversion [cuped, decide]: +10.0% (95% +2.0%, +18.0%), p adjusted 0.02; control 0.1 vs 0.11  "
        "significant; data-quality alarm: do not finalize"
    ) in block(text, "e2 v1:")
    # the alarm is a data alarm only once the readout status says so (fct_metric_results' status_reasons)
    # e1 has no alarm; a warehouse without the quality marts (older builds) has no alarm section
    assert (
        "    treatment conversion [unadjusted, decide]: +20.0% (95% +5.0%, +35.0%), p adjusted 0.01; control 0.1 vs "
        "0.12  significant; SRM: do not trust"
    ) in block(text, "e1 v1:")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table marts.fct_volume_checks")
        con.execute("drop table marts.fct_sample_ratio_checks_by_segment")
    assert "Data-quality alarms" not in render(warehouse)


def test_each_result_line_ends_with_its_readout_status_and_reasons(warehouse):
    # a warehouse built before readouts had a status (the fixture's) reports without one
    text = render(warehouse)
    assert "[confirmed]" not in text and "[provisional" not in text and "Readout status" not in text
    with duckdb.connect(str(warehouse)) as con:
        for column in ("readout_status", "status_reasons", "status_reason_text"):
            con.execute(f"alter table marts.fct_metric_results add column {column} varchar")
        con.execute(
            "update marts.fct_metric_results set readout_status = 'provisional', "
            "status_reasons = 'lookback_open,sample_ratio_mismatch', status_reason_text = 'Provisional: the "
            "late-data lookback has not closed; a sample ratio mismatch blocks it.' where experiment_id = 'e1'"
        )
        con.execute(
            "update marts.fct_metric_results set readout_status = 'confirmed', status_reasons = null, "
            "status_reason_text = 'Confirmed: the version ended.' where experiment_id = 'e2'"
        )
    text = render(warehouse)
    assert (
        "    treatment conversion [unadjusted, decide]: +20.0% (95% +5.0%, +35.0%), p adjusted 0.01; control 0.1 vs "
        "0.12  significant; SRM: do not trust  [provisional: lookback_open, sample_ratio_mismatch]"
    ) in text
    assert (
        "    treatment retention [unadjusted, decide]: -10.0% (95% -15.0%, -5.0%), p adjusted 0.001; control 0.5 vs "
        "0.45  significant; guardrail FAIL  [confirmed]"
    ) in text
    # one plain sentence per experiment version; a provisional one names the result it describes
    assert (
        "\n  e1 v1 (treatment conversion): Provisional: the late-data lookback has not closed; a sample ratio "
        "mismatch blocks it."
    ) in text
    assert "\n  e2 v1: Confirmed: the version ended." in text


def test_report_without_a_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make demo`"):
        render(tmp_path / "missing.duckdb")


def test_report_on_an_unbuilt_warehouse_says_what_to_do(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(ValueError, match="run `make build` first"):
        render(path)


# ----------------------------------------------------------------------------------- the build log
LOG_COLUMNS = (
    "invocation_id, event, command, status, started_at, finished_at, node_count, error_count, "
    "test_failure_count, skipped_count, failed_nodes, built_models, dbt_version"
)
GOOD = "2026-03-01 10:00:00"
LATER = "2026-03-02 09:30:00"
BUILT = "fct_metric_results, fct_sample_ratio_checks, stg_landing__events"


def log_build(
    path,
    invocation_id,
    started_at,
    finished=None,
    *,
    command="build --full-refresh",
    errors=0,
    test_failures=0,
    failed_nodes=None,
    built_models=BUILT,
):
    """Append the rows the dbt hooks write (macros/build_log.sql): `started`, then `finished` unless killed.
    ``finished`` is (finished_at, status)."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create table if not exists main.readout_build_log (
                invocation_id text, event text, command text, status text, started_at timestamp,
                finished_at timestamp, node_count integer, error_count integer, test_failure_count integer,
                skipped_count integer, failed_nodes text, built_models text, dbt_version text)
            """
        )
        con.execute(
            f"insert into main.readout_build_log ({LOG_COLUMNS}) values (?, 'started', ?, 'started', ?, "
            "null, null, null, null, null, null, null, '1.11.0')",
            [invocation_id, command, started_at],
        )
        if finished is not None:
            finished_at, status = finished
            con.execute(
                f"insert into main.readout_build_log ({LOG_COLUMNS}) values (?, 'finished', ?, ?, ?, ?, "
                "120, ?, ?, 0, ?, ?, '1.11.0')",
                [
                    invocation_id,
                    command,
                    status,
                    started_at,
                    finished_at,
                    errors,
                    test_failures,
                    failed_nodes,
                    built_models,
                ],
            )


def test_a_finished_build_is_named_and_nothing_is_flagged(warehouse):
    log_build(warehouse, "a", GOOD, ("2026-03-01 10:02:00", "success"))
    text = render(warehouse)
    assert text.splitlines()[0] == (
        f"readout: {warehouse} (population: exposed; last successful build 2026-03-01 10:02:00 UTC)"
    )
    assert "WARNING" not in text and "build" not in "\n".join(text.splitlines()[1:])


def test_a_failed_build_comes_first_and_its_readouts_are_flagged(warehouse):
    log_build(warehouse, "a", GOOD, ("2026-03-01 10:02:00", "success"))
    log_build(
        warehouse,
        "b",
        LATER,
        ("2026-03-02 09:33:00", "failed"),
        test_failures=2,
        failed_nodes="not_null_fct_metric_results_p_value, assert_conservation",
    )
    lines = render(warehouse).splitlines()
    assert lines[0] == (
        "WARNING: the last dbt build --full-refresh (started 2026-03-02 09:30:00 UTC) failed (2 tests failed: "
        "not_null_fct_metric_results_p_value, assert_conservation); the marts shown are from that failed build. "
        "Do not finalize these readouts until a build succeeds."
    )
    assert "last successful build 2026-03-01 10:02:00 UTC" in lines[2]
    readouts = [line for line in lines if NUMBERS.search(line)]
    assert len(readouts) == 4 and all(line.endswith("from a failed build") for line in readouts)


def test_a_failed_build_that_skipped_the_marts_points_to_the_build_they_are_from(warehouse):
    log_build(warehouse, "a", GOOD, ("2026-03-01 10:02:00", "success"))
    log_build(
        warehouse,
        "b",
        LATER,
        ("2026-03-02 09:31:00", "failed"),
        errors=1,
        failed_nodes="stg_landing__events",
        built_models="stg_landing__experiment_variants",
    )
    text = render(warehouse)
    assert text.splitlines()[0] == (
        "WARNING: the last dbt build --full-refresh (started 2026-03-02 09:30:00 UTC) failed (1 node errored: "
        "stg_landing__events); the marts shown are from the build of 2026-03-01 10:02:00 UTC. "
        "Do not finalize these readouts until a build succeeds."
    )
    assert "from a failed build" not in text


def test_a_build_that_never_finished_comes_first_and_flags_every_readout(warehouse):
    log_build(warehouse, "a", GOOD, ("2026-03-01 10:02:00", "success"))
    log_build(warehouse, "killed", LATER)
    lines = render(warehouse).splitlines()
    assert lines[0] == (
        "WARNING: the last dbt build --full-refresh (started 2026-03-02 09:30:00 UTC) never finished: it was "
        "killed, or is still running; staging may be half-rebuilt and the marts shown partly from it, partly "
        "from the build of 2026-03-01 10:02:00 UTC. Do not finalize these readouts until a build succeeds."
    )
    readouts = [line for line in lines if NUMBERS.search(line)]
    assert len(readouts) == 4 and all(line.endswith("from a build that never finished") for line in readouts)


def test_a_killed_build_is_not_hidden_by_a_later_command(warehouse):
    log_build(warehouse, "a", GOOD, ("2026-03-01 10:02:00", "success"))
    log_build(warehouse, "killed", LATER)
    log_build(
        warehouse,
        "c",
        "2026-03-02 10:00:00",
        ("2026-03-02 10:01:00", "failed"),
        command="test",
        test_failures=1,
        failed_nodes="assert_landing_rows_conserved_per_source_system",
        built_models="",
    )
    lines = render(warehouse).splitlines()
    assert lines[0] == (
        "WARNING: the last dbt test (started 2026-03-02 10:00:00 UTC) failed (1 test failed: "
        "assert_landing_rows_conserved_per_source_system); staging may be half-rebuilt and the marts shown partly "
        "from the build that never finished started 2026-03-02 09:30:00 UTC, partly from the build of "
        "2026-03-01 10:02:00 UTC. Do not finalize these readouts until a build succeeds."
    )
    readouts = [line for line in lines if NUMBERS.search(line)]
    assert len(readouts) == 4 and all(line.endswith("from a build that never finished") for line in readouts)


@pytest.mark.parametrize("command", ["build --full-refresh", "retry"])
def test_a_later_successful_build_clears_the_warning(warehouse, command):
    log_build(warehouse, "killed", GOOD)
    log_build(warehouse, "b", LATER, ("2026-03-02 09:32:00", "success"), command=command)
    text = render(warehouse)
    assert "WARNING" not in text and "last successful build 2026-03-02 09:32:00 UTC" in text


def test_a_later_successful_test_run_does_not_clear_a_failed_build(warehouse):
    log_build(
        warehouse,
        "b",
        GOOD,
        ("2026-03-01 10:01:00", "failed"),
        errors=1,
        failed_nodes="fct_metric_results",
        built_models="",
    )
    log_build(warehouse, "c", LATER, ("2026-03-02 09:31:00", "success"), command="test")
    assert render(warehouse).startswith(
        "WARNING: the last dbt build --full-refresh (started 2026-03-01 10:00:00 UTC) failed (1 node errored: "
        "fct_metric_results); the marts shown are from an earlier build (no successful build is logged)."
    )


def test_a_warehouse_without_a_build_log_still_reports(warehouse):
    text = render(warehouse)
    assert text.splitlines()[0] == (
        f"readout: {warehouse} (population: exposed; no build log: built before the project logged its builds)"
    )
    assert "e1 v1: control 500, treatment 400; p = 1e-05  MISMATCH" in text


def test_an_unbuilt_warehouse_names_the_build_that_failed(tmp_path):
    path = tmp_path / "failed.duckdb"
    log_build(
        path,
        "a",
        GOOD,
        ("2026-03-01 10:01:00", "failed"),
        test_failures=1,
        failed_nodes="stg_landing__events_checked::retries_are_deduplicated",
        built_models="",
    )
    with pytest.raises(ValueError) as error:
        render(path)
    message = str(error.value)
    assert message.startswith(f"cannot read the readout marts in {path} (Catalog Error: ") and "\n" not in message
    assert message.endswith(
        "): the last dbt build --full-refresh (started 2026-03-01 10:00:00 UTC) failed (1 test failed: "
        "stg_landing__events_checked::retries_are_deduplicated); fix it and run `make build` again"
    )


# ------------------------------------------------------------------------------- a running build
HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # a writer, as dbt holds it for a whole build
print("locked", flush=True)
time.sleep(60)
"""


def test_a_build_holding_the_lock_is_one_line_naming_its_pid(warehouse, tmp_path, capsys):
    script = tmp_path / "build.py"
    script.write_text(HOLD_LOCK)
    holder = subprocess.Popen([sys.executable, str(script), str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert cli.main(["report", "--warehouse", str(warehouse)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"readout report: error: a build is running: the warehouse {warehouse} is locked "
            f"by PID {holder.pid} (build.py /"
        )
        assert err.endswith("; run `readout report` again when it has finished\n") and err.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()
    assert "MISMATCH" in render(warehouse)  # readable again once the build has gone
