"""`readout freeze` and `readout restate` on a crafted warehouse and a copy of the project's records: the record
reads back bit for bit the way dbt-duckdb loads a seed, a restatement moves it, and every bad input is one line,
exit code 2, with nothing changed."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import struct
from pathlib import Path

import duckdb
import pytest
import yaml

from readout import cli
from readout.freeze import (
    INPUT_COLUMNS,
    METADATA_COLUMNS,
    RESTATEMENT_COLUMNS,
    FreezeError,
    format_value,
    verify_frozen_records,
)
from readout.report import readout_status

REPO = Path(__file__).resolve().parents[2]
CONTRACT = yaml.safe_load((REPO / "contracts" / "fct_metric_results.yml").read_text())
RESULT_TYPES = CONTRACT["schema"]["versions"][max(CONTRACT["schema"]["versions"])]["columns"]
SEEDS = {seed["name"]: seed for seed in yaml.safe_load((REPO / "seeds" / "_seeds.yml").read_text())["seeds"]}
#: values a CSV round trip could bend: the shortest repr, subnormals, signed zero, nan and infinities
AWKWARD = [
    0.1,
    1 / 3,
    5e-324,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e300,
    2.2250738585072014e-308,
    0.30000000000000004,
    -123456.78901234567,
]


def _header(name: str) -> list[str]:
    folder = "seeds" if name == "metric_catalog" else "readouts"
    return (REPO / folder / f"{name}.csv").read_text().splitlines()[0].split(",")


def _column_types(name: str) -> dict[str, str]:
    return SEEDS[name]["config"]["column_types"]


def _result_row(experiment_id: str, version: int, variant: str, metric: str, estimator: str, number: int) -> dict:
    row = {}
    for name, kind in RESULT_TYPES.items():
        if kind == "double":
            row[name] = AWKWARD[(number + len(row)) % len(AWKWARD)]
        elif kind in ("integer", "bigint"):
            row[name] = 100 + number
        elif kind == "boolean":
            row[name] = number % 2 == 0
        elif kind == "timestamp":
            row[name] = dt.datetime(2026, 2, 9, 23, 53, 45, 262000)
        else:
            row[name] = f'{name}, "quoted" {number}'
    row.update(
        experiment_id=experiment_id,
        experiment_version=version,
        population="exposed",
        variant_id=variant,
        metric_id=metric,
        estimator=estimator,
        readout_status="confirmed",
        status_reasons=None,
        status_reason=None,
    )
    return row


def _create(con, relation: str, types: dict[str, str], rows: list[dict]) -> None:
    con.execute(f"create table {relation} ({', '.join(f'{name} {kind}' for name, kind in types.items())})")
    for row in rows:
        con.execute(f"insert into {relation} values ({', '.join('?' for _ in types)})", [row[name] for name in types])


@pytest.fixture()
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    (root / "seeds").mkdir(parents=True)
    (root / "readouts").mkdir()
    shutil.copy2(REPO / "dbt_project.yml", root / "dbt_project.yml")
    shutil.copytree(REPO / "contracts", root / "contracts", ignore=shutil.ignore_patterns("gx"))
    shutil.copy2(REPO / "seeds" / "metric_catalog.csv", root / "seeds" / "metric_catalog.csv")
    for name in ("frozen_metric_results", "restated_metric_results"):  # empty, whatever the committed ones hold
        (root / "readouts" / f"{name}.csv").write_text(",".join(_header(name)) + "\n")
    return root


@pytest.fixture()
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    rows = [
        _result_row("exp_a", 1, variant, metric, estimator, number)
        for number, (variant, metric, estimator) in enumerate(
            [
                (v, m, e)
                for v in ("treatment", "treatment_b")
                for m in ("conversion", "revenue")
                for e in ("unadjusted", "cuped")
            ]
        )
    ]
    rows += [_result_row("exp_b", 2, "treatment", "conversion", "unadjusted", 99)]
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        _create(con, "marts.fct_metric_results", RESULT_TYPES, rows)
        current_types = {**RESULT_TYPES, **{name: "varchar" for name in INPUT_COLUMNS}}
        _create(
            con,
            "marts.metric_results_current",
            current_types,
            [{**row, "definition_fingerprint": "d" * 32, "statistics_fingerprint": "s" * 32} for row in rows],
        )
    return path


def _main(*args: str) -> int:
    return cli.main(list(args))


def _freeze(project: Path, warehouse: Path, experiment="exp_a", version="1", *extra: str) -> int:
    return _main(
        "freeze",
        experiment,
        "--version",
        version,
        "--reason",
        "Decision taken",
        "--by",
        "tester",
        "--warehouse",
        str(warehouse),
        "--project-dir",
        str(project),
        *extra,
    )


def _restate(project: Path, warehouse: Path, experiment="exp_a", version="1") -> int:
    return _main(
        "restate",
        experiment,
        "--version",
        version,
        "--reason",
        "Late data",
        "--by",
        "reviewer",
        "--warehouse",
        str(warehouse),
        "--project-dir",
        str(project),
    )


def _add_compared(warehouse: Path, project: Path) -> None:
    """What a build after the freeze computes (metric_results_frozen_compared): here, the record against itself."""
    types = {
        name: _column_types("restated_metric_results")[name]
        for name in _header("restated_metric_results")
        if name not in RESTATEMENT_COLUMNS
    }
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table marts.metric_results_frozen_compared as select "
            + ", ".join(f"cast(null as {kind}) as {name}" for name, kind in types.items())
            + " limit 0"
        )
        con.execute(f"""
            insert into marts.metric_results_frozen_compared by name
            select experiment_id, experiment_version, population, variant_id, metric_id, estimator,
                   record_fingerprint, 'late_events' as change_cause, readout_status as frozen_readout_status,
                   readout_status, n_units_control as frozen_n_units_control, n_units_control,
                   n_units_variant as frozen_n_units_variant, n_units_variant + 1 as n_units_variant, 1 as units_added,
                   relative_lift as frozen_relative_lift, relative_lift + 1 as relative_lift,
                   is_significant as frozen_is_significant, not is_significant as is_significant,
                   true as is_significance_flip, true as has_moved, frozen_by, freeze_reason,
                   code_version as frozen_code_version, 'next' as code_version, frozen_at
            from read_csv('{project / "readouts" / "frozen_metric_results.csv"}', header = true,
                          columns = {_column_types("frozen_metric_results")})""")


def _files(project: Path) -> dict[str, bytes]:
    return {
        f"{path.parent.name}/{path.name}": path.read_bytes()
        for path in sorted([*(project / "seeds").glob("*.csv"), *(project / "readouts").glob("*.csv")])
    }


# ------------------------------------------------------------------------------------------------ the record
def test_the_seeds_declare_every_column_of_the_readout_with_its_contract_type():
    header = _header("frozen_metric_results")
    assert header == [*RESULT_TYPES, *INPUT_COLUMNS, *METADATA_COLUMNS]
    types = _column_types("frozen_metric_results")
    assert list(types) == header
    assert {name: types[name] for name in RESULT_TYPES} == RESULT_TYPES
    restated = _header("restated_metric_results")
    assert list(_column_types("restated_metric_results")) == restated
    assert restated[-len(RESTATEMENT_COLUMNS) :] == list(RESTATEMENT_COLUMNS)
    assert all(
        _column_types("restated_metric_results")[name] == "double"
        for name in restated
        if name.endswith(("_lift", "_lower", "_upper", "p_value"))
    )


def test_a_frozen_record_reads_back_bit_for_bit_as_dbt_duckdb_loads_a_seed(project, warehouse, capsys):
    assert _freeze(project, warehouse) == 0
    out = capsys.readouterr().out
    assert "froze exp_a v1: 8 result rows" in out and "make build" in out and "git add" in out
    verify_frozen_records(project)
    seed = project / "readouts" / "frozen_metric_results.csv"
    types = _column_types("frozen_metric_results")
    with duckdb.connect() as con:
        # dbt-duckdb's seed: a table of the declared column types, then COPY ... FROM the CSV (HEADER TRUE)
        con.execute(f"create table seed ({', '.join(f'{name} {kind}' for name, kind in types.items())})")
        con.execute(f"copy seed from '{seed}' (format csv, header true, delimiter ',')")
        loaded = con.execute(f"select {', '.join(RESULT_TYPES)} from seed order by all").fetchall()
        con.execute(f"attach '{warehouse}' as w (read_only)")
        original = con.execute(
            f"select {', '.join(RESULT_TYPES)} from w.marts.fct_metric_results "
            "where experiment_id = 'exp_a' order by all"
        ).fetchall()
        metadata = con.execute(
            "select distinct frozen_by, freeze_reason, code_version is not null, length(record_fingerprint) from seed"
        ).fetchall()

    def bits(rows):
        return [[struct.pack("<d", v) if isinstance(v, float) else v for v in row] for row in rows]

    assert bits(loaded) == bits(original)
    assert any(isinstance(v, float) and math.isnan(v) for row in loaded for v in row)  # the awkward ones made it
    assert metadata == [("tester", "Decision taken", True, 64)]


def test_format_value_writes_what_duckdb_reads_back():
    assert [format_value(v) for v in (None, True, 0.1, 5e-324, -0.0, 7)] == ["", "true", "0.1", "5e-324", "-0.0", "7"]
    assert format_value(dt.datetime(2026, 2, 9, 23, 53, 45, 262000)) == "2026-02-09 23:53:45.262000"
    aware = dt.datetime(2026, 2, 10, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_value(aware) == "2026-02-10 00:00:00"


def test_restate_moves_the_record_into_the_log_with_the_new_numbers(project, warehouse, capsys):
    assert _freeze(project, warehouse) == 0
    assert _freeze(project, warehouse, "exp_b", "2") == 0
    _add_compared(warehouse, project)
    capsys.readouterr()
    assert _restate(project, warehouse) == 0
    out = capsys.readouterr().out
    assert "restated exp_a v1" in out and "8 had moved (8 late events for units already counted)" in out
    frozen = (project / "readouts" / "frozen_metric_results.csv").read_text().splitlines()
    assert len(frozen) == 2 and frozen[1].startswith("exp_b,2,")  # only the other record is left
    verify_frozen_records(project)
    with duckdb.connect() as con:
        restated = con.execute(
            f"select restated_by, restatement_reason, frozen_relative_lift, relative_lift, n_units_variant "
            f"from read_csv('{project / 'readouts' / 'restated_metric_results.csv'}', header = true, "
            f"columns = {_column_types('restated_metric_results')})"
        ).fetchall()
    assert len(restated) == 8 and {row[:2] for row in restated} == {("reviewer", "Late data")}
    for _, _, old, new, _ in restated:
        assert new == old + 1 or (math.isnan(old) and math.isnan(new))


# -------------------------------------------------------------------------------------------------- bad input
def _tamper(project: Path, warehouse: Path) -> None:
    assert _freeze(project, warehouse) == 0
    seed = project / "readouts" / "frozen_metric_results.csv"
    lines = seed.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("Decision taken", "Decision taken later", 1)
    seed.write_text("".join(lines))


def _frozen(project: Path, warehouse: Path) -> None:
    assert _freeze(project, warehouse) == 0


def _nothing(project: Path, warehouse: Path) -> None:
    pass


def _frozen_since_last_build(project: Path, warehouse: Path) -> None:
    """A warehouse built before the freeze: its comparison holds no row of the record."""
    _frozen(project, warehouse)
    _add_compared(warehouse, project)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from marts.metric_results_frozen_compared")


def _frozen_then_a_failed_build(project: Path, warehouse: Path) -> None:
    """The record was compared by a build, but the latest build failed its audits (nothing published)."""
    _frozen(project, warehouse)
    _add_compared(warehouse, project)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table main.readout_build_log (invocation_id varchar, event varchar, status varchar, "
            "started_at timestamp, finished_at timestamp, failed_nodes varchar)"
        )
        con.execute(
            "insert into main.readout_build_log values "
            "('a', 'started', 'started', '2026-03-01 10:00', null, null), "
            "('a', 'finished', 'success', '2026-03-01 10:00', '2026-03-01 10:05', null), "
            "('b', 'started', 'started', '2026-03-02 10:00', null, null), "
            "('b', 'finished', 'failed', '2026-03-02 10:00', '2026-03-02 10:05', "
            "'assert_landing_rows_conserved_per_file')"
        )


def _unbuilt(project: Path, warehouse: Path) -> None:
    warehouse.unlink()
    duckdb.connect(str(warehouse)).close()


def _gone(project: Path, warehouse: Path) -> None:
    warehouse.unlink()


@pytest.mark.parametrize(
    "prepare, command, experiment, version, message",
    [
        (
            _nothing,
            "freeze",
            "exp_nope",
            "1",
            "unknown experiment 'exp_nope': marts.fct_metric_results has exp_a, exp_b",
        ),
        (_nothing, "freeze", "exp_a", "3", "exp_a has no version 3 in marts.fct_metric_results (it has v1)"),
        (_frozen, "freeze", "exp_a", "1", "exp_a v1 is already frozen (by tester on "),
        (_nothing, "restate", "exp_a", "1", "exp_a v1 is not frozen, so there is nothing to restate (frozen: nothing)"),
        (_frozen, "restate", "exp_b", "2", "exp_b v2 is not frozen, so there is nothing to restate (frozen: exp_a v1)"),
        (_tamper, "freeze", "exp_b", "2", "the frozen record of exp_a v1 was edited by hand"),
        (_tamper, "restate", "exp_a", "1", "the frozen record of exp_a v1 was edited by hand"),
        (_frozen_since_last_build, "restate", "exp_a", "1", "has not been built since exp_a v1 was frozen"),
        (
            _frozen_then_a_failed_build,
            "restate",
            "exp_a",
            "1",
            "failed (assert_landing_rows_conserved_per_file): its numbers were never published",
        ),
        (_unbuilt, "freeze", "exp_a", "1", "holds no marts.fct_metric_results: build it first (`make build`)"),
        (_gone, "freeze", "exp_a", "1", "not found: build it first (`make build`)"),
    ],
    ids=[
        "unknown_experiment",
        "unknown_version",
        "freeze_twice",
        "restate_not_frozen",
        "restate_other_version",
        "tampered_freeze",
        "tampered_restate",
        "restate_before_build",
        "restate_after_a_failed_build",
        "warehouse_not_built",
        "no_warehouse",
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    project, warehouse, capsys, prepare, command, experiment, version, message
):
    prepare(project, warehouse)
    before = _files(project)
    capsys.readouterr()
    run = _freeze if command == "freeze" else _restate
    assert run(project, warehouse, experiment, version) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"readout {command}: error: "), err
    assert message in err, err
    assert _files(project) == before


@pytest.mark.parametrize("reason", ["", "  ", "two\nlines"])
def test_a_reason_is_one_line(project, warehouse, capsys, reason):
    before = _files(project)
    assert (
        _main(
            "freeze",
            "exp_a",
            "--version",
            "1",
            "--reason",
            reason,
            "--warehouse",
            str(warehouse),
            "--project-dir",
            str(project),
        )
        == 2
    )
    assert "--reason must be one non-empty line" in capsys.readouterr().err
    assert _files(project) == before


def test_verify_names_a_malformed_seed(project):
    seed = project / "readouts" / "frozen_metric_results.csv"
    seed.write_text("experiment_id,experiment_version\n")
    with pytest.raises(FreezeError, match="lacks the column"):
        verify_frozen_records(project)


def test_the_report_shows_a_frozen_row_as_frozen():
    class Row:
        readout_status, status_reasons = "frozen", "frozen"

    assert readout_status(Row()) == "[frozen]"
    Row.readout_status, Row.status_reasons = "provisional", "experiment_running,lookback_open"
    assert readout_status(Row()) == "[provisional: experiment_running, lookback_open]"
