"""readout build's no-change decision: the inputs fingerprint and the build log it is checked against."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from readout.build import INPUTS_TABLE, code_version, current_build, inputs_fingerprint, record_build
from readout.warehouse import BUILD_LOG_TABLE


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    project_dir = tmp_path / "project"
    (project_dir / "models").mkdir(parents=True)
    (project_dir / "dbt_project.yml").write_text("name: p\n")
    (project_dir / "models" / "m.sql").write_text("select 1 as x\n")
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "part-0.parquet").write_bytes(b"rows")
    return project_dir, landing


def fingerprint(project) -> str:
    return inputs_fingerprint(*project).fingerprint


def test_the_fingerprint_is_stable_and_counts_what_it_read(project):
    inputs = inputs_fingerprint(*project)
    assert inputs.fingerprint == fingerprint(project)
    assert (inputs.landing_files, inputs.project_files) == (1, 2)


def test_a_new_landing_file_a_rewritten_one_or_an_edited_model_changes_the_fingerprint(project):
    project_dir, landing = project
    seen = {fingerprint(project)}
    (landing / "events" / "part-1.parquet").write_bytes(b"more rows")
    seen.add(fingerprint(project))
    stat = (landing / "events" / "part-0.parquet").stat()
    os.utime(landing / "events" / "part-0.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    seen.add(fingerprint(project))
    (project_dir / "models" / "m.sql").write_text("select 2 as x\n")
    seen.add(fingerprint(project))
    assert len(seen) == 4


def test_the_pytest_suite_beside_the_dbt_tests_is_not_an_input(project):
    """dbt reads SQL, YAML and fixtures under tests/; a pytest module there neither reruns dbt nor is a code change
    in the readout's history; a singular test is both."""
    project_dir, _ = project
    (project_dir / "tests" / "integration").mkdir(parents=True)
    before = (fingerprint(project), code_version(project_dir)[-12:])
    (project_dir / "tests" / "integration" / "test_x.py").write_text("def test_x(): pass\n")
    (project_dir / "tests" / "README.md").write_text("notes\n")
    assert (fingerprint(project), code_version(project_dir)[-12:]) == before
    (project_dir / "tests" / "assert_x.sql").write_text("select 1 where false\n")
    after = (fingerprint(project), code_version(project_dir)[-12:])
    assert after[0] != before[0] and after[1] != before[1]


def test_the_code_version_follows_the_models_and_the_project_vars(project):
    project_dir, _ = project
    seen = {code_version(project_dir)[-12:]}
    assert code_version(project_dir)[-12:] in seen  # stable
    (project_dir / "dbt_project.yml").write_text("name: p\nvars:\n  alpha: 0.01\n")
    seen.add(code_version(project_dir)[-12:])
    (project_dir / "models" / "m.sql").write_text("select 2 as x\n")
    seen.add(code_version(project_dir)[-12:])
    assert len(seen) == 3


def test_settings_change_the_fingerprint_but_the_locations_do_not(project, monkeypatch):
    before = fingerprint(project)
    monkeypatch.setenv("READOUT_DUCKDB_PATH", "/elsewhere/warehouse.duckdb")
    monkeypatch.setenv("READOUT_LANDING_PATH", "/elsewhere/landing")
    assert fingerprint(project) == before
    monkeypatch.setenv("READOUT_DUCKDB_MEMORY_LIMIT", "1GB")
    assert fingerprint(project) != before


def write_log(warehouse: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """Build log rows: (invocation id, event, status, started at)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"create table if not exists {BUILD_LOG_TABLE} (invocation_id varchar, event varchar, "
            "status varchar, started_at timestamp, finished_at timestamp, failed_nodes varchar)"
        )
        for invocation, event, status, started in rows:
            con.execute(
                f"insert into {BUILD_LOG_TABLE} values (?, ?, ?, ?, ?, null)",
                [invocation, event, status, started, started if event == "finished" else None],
            )


def test_only_a_successful_latest_build_with_the_same_inputs_is_current(project, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    inputs = inputs_fingerprint(*project)
    assert current_build(warehouse, inputs.fingerprint) is None  # no warehouse
    write_log(
        warehouse, [("a", "started", "started", "2026-01-01 10:00"), ("a", "finished", "success", "2026-01-01 10:00")]
    )
    assert current_build(warehouse, inputs.fingerprint) is None  # built, but its inputs were never recorded
    record_build(warehouse, "a", inputs)
    assert current_build(warehouse, inputs.fingerprint)[0] == "a"
    assert current_build(warehouse, "another fingerprint") is None
    write_log(warehouse, [("b", "started", "started", "2026-01-02 10:00")])  # killed, or still running
    assert current_build(warehouse, inputs.fingerprint) is None
    write_log(warehouse, [("b", "finished", "failed", "2026-01-02 10:00")])
    assert current_build(warehouse, inputs.fingerprint) is None
    write_log(
        warehouse, [("c", "started", "started", "2026-01-03 10:00"), ("c", "finished", "success", "2026-01-03 10:00")]
    )
    record_build(warehouse, "c", inputs)
    assert current_build(warehouse, inputs.fingerprint)[0] == "c"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"select count(*) from {INPUTS_TABLE}").fetchone()[0] == 2


def test_the_spark_build_is_given_the_landing_zone_as_an_absolute_path(project, tmp_path, monkeypatch):
    """Spark reports the files it reads by absolute URI, so `readout build --target spark` hands dbt the landing
    zone resolved (make's default, data/landing, is relative: a fresh clone's `make build TARGET=spark` failed)."""
    import argparse

    import readout.build_spark
    from readout.build import _run_spark

    seen = {}

    def fake_run_spark(target, project_dir, flags, environment, target_path, contracts):
        seen.update(environment)
        return 0

    monkeypatch.setattr(readout.build_spark, "run_spark", fake_run_spark)
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(full_refresh=True, contracts=True)
    assert _run_spark(args, project[0], "spark", [], Path("landing")) == 0
    assert (
        seen["READOUT_LANDING_PATH"] == str(tmp_path / "landing") and Path(seen["READOUT_LANDING_PATH"]).is_absolute()
    )


def test_the_contracts_import_beside_dbt_leaves_gx_out_and_keeps_a_failure_for_the_validation(monkeypatch):
    """The thread `readout build` starts beside dbt's first step leaves the mart contracts' validator imported and
    not Great Expectations (its fast engine runs the mart suites: seconds of import saved; a fresh process, as
    the build's); when the import fails there, the thread ends quietly and the validation's own import reports it."""
    import subprocess
    import sys

    from readout.build import _import_contracts_beside_dbt

    code = (
        "import sys\n"
        "from readout.build import _import_contracts_beside_dbt\n"
        "thread = _import_contracts_beside_dbt(); thread.join(timeout=120)\n"
        "print(thread.is_alive(), 'readout.contracts.validate' in sys.modules, 'great_expectations' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    assert done.stdout.split() == ["False", "True", "False"], done.stderr[-2000:]

    monkeypatch.setitem(sys.modules, "readout.contracts.validate", None)  # importing it raises ImportError
    failures = []
    monkeypatch.setattr("threading.excepthook", lambda hook_args: failures.append(hook_args.exc_value))
    thread = _import_contracts_beside_dbt()
    thread.join(timeout=120)
    assert not thread.is_alive() and failures == []


def test_every_dbt_step_leaves_the_unit_tests_out_unless_asked(project, tmp_path, monkeypatch):
    """dbt's unit tests check the code on fixed fixtures, not the build: `readout build` passes every dbt step
    --exclude-resource-type unit_test, and --unit-tests (the test suite's clean build) runs them."""
    import argparse

    import readout.build_spark
    from readout.build import _run_spark, add_arguments, step_flags

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert step_flags(parser.parse_args([])) == ["--exclude-resource-type", "unit_test"]
    assert step_flags(parser.parse_args(["--full-refresh"])) == [
        "--full-refresh",
        "--exclude-resource-type",
        "unit_test",
    ]
    assert step_flags(parser.parse_args(["--full-refresh", "--unit-tests"])) == ["--full-refresh"]

    seen = []
    monkeypatch.setattr(
        readout.build_spark, "run_spark", lambda target, project_dir, flags, *rest, **kw: seen.append(flags) or 0
    )
    monkeypatch.chdir(tmp_path)
    assert _run_spark(parser.parse_args(["--unit-tests"]), project[0], "spark", [], Path("landing")) == 0
    assert _run_spark(parser.parse_args([]), project[0], "spark", [], Path("landing")) == 0
    assert seen == [[], ["--exclude-resource-type", "unit_test"]]


def test_a_spark_build_takes_only_exclusions_after_the_double_dash(project, tmp_path, monkeypatch):
    """`readout build --target spark -- --exclude A B` leaves A and B out of every dbt step (a second --exclude flag
    group: dbt unions them); any other dbt argument is one error, since the Spark build plans its own selections."""
    import argparse

    import readout.build_spark
    from readout.build import BuildError, _run_spark, add_arguments, spark_exclusions

    assert spark_exclusions([]) == []
    assert spark_exclusions(["--exclude", "a", "b", "--exclude", "c"]) == ["a", "b", "c"]
    for wrong in (["--select", "a"], ["--exclude"], ["--exclude", "a", "--full-refresh"], ["a"]):
        with pytest.raises(BuildError, match="takes only `-- --exclude SELECTOR"):
            spark_exclusions(wrong)

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    seen = []
    monkeypatch.setattr(
        readout.build_spark, "run_spark", lambda target, project_dir, flags, *rest, **kw: seen.append(flags) or 0
    )
    monkeypatch.chdir(tmp_path)
    args = parser.parse_args(["--unit-tests"])
    assert _run_spark(args, project[0], "spark", ["--exclude", "x", "y"], Path("landing")) == 0
    assert seen == [["--exclude", "x", "y"]]
    with pytest.raises(BuildError):
        _run_spark(args, project[0], "spark", ["--select", "x"], Path("landing"))


#: run in a fresh Python (dbt's tracking library calls logging.basicConfig once per process, when first imported,
#: and pytest's own handlers on the root logger would make that call a no-op here)
IN_PROCESS_SCRIPT = """
import json, logging, os, sys
from pathlib import Path
import duckdb
from readout.build import dbt_in_process

project, environment, model = Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[1]) / "models" / "one.sql"
environ_before = dict(os.environ)
report = {"passed": dbt_in_process(["run"], project, environment, "")}
report["environ_kept"] = dict(os.environ) == environ_before
report["root_handlers"] = len(logging.getLogger().handlers)
try:  # a different configuration than dbt-duckdb's: refused while its instance is open
    with duckdb.connect(environment["TINY_WAREHOUSE"], read_only=True) as con:
        report["answer"] = con.execute("select answer from main.one").fetchone()[0]
except duckdb.Error as error:
    report["answer"] = str(error)
model.write_text("select no_such_column from (select 1 as x)")
report["failed"] = dbt_in_process(["run"], project, environment, "")
print(json.dumps(report))
"""


def test_dbt_runs_in_process_and_leaves_the_warehouse_the_environment_and_logging_as_they_were(tmp_path):
    """readout build's dbt steps run through dbtRunner in its own process: afterwards the same process opens the
    warehouse (dbt-duckdb's instance is closed), os.environ is as before, the root logger has no handler (dbt's
    tracking library calls logging.basicConfig, which would print every library's INFO records), and a failing
    model is exit code 1, as on dbt's command line."""
    import json
    import subprocess
    import sys

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: tiny\n")
    (project / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('TINY_WAREHOUSE') }}\"\n      threads: 1\n"
    )
    (project / "models" / "one.sql").write_text("select 41 + 1 as answer\n")
    environment = {
        "TINY_WAREHOUSE": str(tmp_path / "tiny.duckdb"),
        "DBT_PROFILES_DIR": str(project),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS_SCRIPT, str(project), json.dumps(environment)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"passed": 0, "environ_kept": True, "root_handlers": 0, "answer": 42, "failed": 1}, report
    assert "INFO:" not in result.stderr, result.stderr[-3000:]
