"""`readout import` refuses bad mappings and bad files with one clear message naming the problem."""

from __future__ import annotations

import gzip
import re
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from readout.cli import UsageError
from readout.importer import import_export
from readout.importer.mapping import load_mapping

MAPPING = """
experiment_id: err_test
unit_id: uid
assigned_variant: {column: arm, values: {A: a, B: b}}
exposed_variant: {column: shown, values: {A: a, B: b}}
timestamp: ts
control: a
split: {a: 0.5, b: 0.5}
outcomes:
  - {metric_id: bought, column: bought, type: binary, role: primary}
  - {metric_id: spend, column: spend, type: numeric}
"""
GOOD_CSV = "uid,arm,shown,ts,bought,spend\nu1,A,A,2024-01-01 00:00:00,1,2.5\nu2,B,B,2024-01-02 00:00:00,0,0\n"


def _write(tmp_path: Path, mapping: str = MAPPING, csv: str = GOOD_CSV, name: str = "export.csv") -> tuple[Path, Path]:
    mapping_path = tmp_path / "mapping.yml"
    mapping_path.write_text(textwrap.dedent(mapping))
    data_path = tmp_path / name
    data_path.write_text(csv)
    return mapping_path, data_path


def _import(tmp_path: Path, mapping: str = MAPPING, csv: str = GOOD_CSV, name: str = "export.csv"):
    mapping_path, data_path = _write(tmp_path, mapping, csv, name)
    return import_export(mapping_path, data_path, tmp_path / "landing")


def _mapping_with(replace: str, by: str) -> str:
    assert replace in MAPPING, replace
    return MAPPING.replace(replace, by)


def test_the_good_case_imports(tmp_path):
    assert _import(tmp_path).counts["rows_read"] == 2


# -------------------------------------------------------------------------------- mapping problems
def test_unknown_top_level_key(tmp_path):
    with pytest.raises(UsageError, match=r"unknown key 'colour' \(allowed: experiment_id, "):
        _import(tmp_path, MAPPING + "colour: red\n")


def test_unknown_nested_keys(tmp_path):
    mapping = _mapping_with("{column: arm, values", "{column: arm, colum: x, values")
    mapping = mapping.replace("type: numeric}", "type: numeric, unit: eur}")
    with pytest.raises(UsageError) as info:
        _import(tmp_path, mapping)
    message = str(info.value)
    assert "has 2 problems" in message
    assert "assigned_variant: unknown key 'colum' (did you mean 'column'? allowed: column, values)" in message
    assert "outcomes[2] (spend): unknown key 'unit'" in message


@pytest.mark.parametrize("key", ["experiment_id", "unit_id", "assigned_variant", "control", "outcomes"])
def test_missing_required_key(tmp_path, key):
    lines = [line for line in MAPPING.splitlines() if not line.startswith(f"{key}:")]
    if key == "outcomes":
        lines = [line for line in lines if not line.startswith("  - ")]
    with pytest.raises(UsageError, match=rf"missing required key '{key}'"):
        _import(tmp_path, "\n".join(lines) + "\n")


def test_missing_outcome_keys(tmp_path):
    mapping = _mapping_with("{metric_id: spend, column: spend, type: numeric}", "{metric_id: spend}")
    with pytest.raises(UsageError, match=r"outcomes\[2\] \(spend\): missing required key 'column'") as info:
        _import(tmp_path, mapping)
    assert "missing required key 'type'" in str(info.value)


def test_bad_identifiers_and_choices(tmp_path):
    mapping = _mapping_with("experiment_id: err_test", "experiment_id: Err-Test")
    mapping = mapping.replace("type: numeric", "type: count").replace("role: primary", "role: main")
    with pytest.raises(UsageError) as info:
        _import(tmp_path, mapping)
    message = str(info.value)
    assert "experiment_id 'Err-Test' must match [a-z0-9][a-z0-9_]*" in message
    # one wording for every choice in the YAML files (readout.yamlschema): "<key> must be one of ..., got <value>"
    assert "outcomes[2] (spend).type must be one of binary, numeric, got 'count'" in message
    assert "outcomes[1] (bought).role must be one of primary, secondary, guardrail, got 'main'" in message


def test_experiment_version_must_be_a_positive_integer(tmp_path):
    with pytest.raises(UsageError, match=r"experiment_version must be a whole number >= 1, got '2'"):
        _import(tmp_path, MAPPING + "experiment_version: '2'\n")


@pytest.mark.parametrize(
    "split, expected",
    [
        ("{a: 0.5, b: 0.6}", r"split weights sum to 1\.1, not 1"),
        ("{a: 50, b: 50}", r"split weights sum to 100, not 1 \(write shares, e\.g\. 0\.5, not percentages\)"),
        ("{a: 1.0, b: 0}", r"split\['b'\] must be positive, got 0"),
        ("{a: 0.5, b: half}", r"split\['b'\] must be a number, got 'half'"),
    ],
)
def test_split_weights(tmp_path, split, expected):
    with pytest.raises(UsageError, match=expected):
        _import(tmp_path, _mapping_with("{a: 0.5, b: 0.5}", split))


def test_split_must_cover_every_variant(tmp_path):
    mapping = _mapping_with("values: {A: a, B: b}}\nexposed", "values: {A: a, B: b, C: c}}\nexposed")
    with pytest.raises(
        UsageError, match=r"assigned_variant\.values maps 'C' to 'c', which is not a variant of split \(a, b\)"
    ):
        _import(tmp_path, mapping)


def test_split_variant_without_source_value(tmp_path):
    mapping = _mapping_with("{a: 0.5, b: 0.5}", "{a: 0.4, b: 0.4, c: 0.2}")
    with pytest.raises(UsageError, match=r"split variant 'c' is not the target of any assigned_variant\.values entry"):
        _import(tmp_path, mapping)


def test_control_must_be_a_variant(tmp_path):
    with pytest.raises(UsageError, match=r"control 'ctrl' is not among the variants of split \(a, b\)"):
        _import(tmp_path, _mapping_with("control: a", "control: ctrl"))


def test_duplicate_metric_ids(tmp_path):
    mapping = _mapping_with("metric_id: spend", "metric_id: bought")
    with pytest.raises(UsageError, match=r"metric_id 'bought' appears in more than one outcome"):
        _import(tmp_path, mapping)


def test_duplicate_yaml_key(tmp_path):
    with pytest.raises(UsageError, match=r"not valid YAML at line \d+, column 1: key 'control' appears twice"):
        _import(tmp_path, MAPPING + "control: b\n")


def test_invalid_yaml(tmp_path):
    with pytest.raises(UsageError, match=r"mapping .*mapping\.yml: not valid YAML at line \d+"):
        _import(tmp_path, "experiment_id: [err\n")


def test_mapping_is_not_a_yaml_mapping(tmp_path):
    with pytest.raises(UsageError, match=r"expected a YAML mapping of keys"):
        _import(tmp_path, "- just\n- a list\n")


def test_missing_mapping_file(tmp_path):
    with pytest.raises(UsageError, match=r"mapping file not found: .*nowhere\.yml"):
        load_mapping(tmp_path / "nowhere.yml")


def test_mapping_problems_are_reported_together(tmp_path):
    mapping = _mapping_with("control: a", "control: z").replace("{a: 0.5, b: 0.5}", "{a: 0.5, b: 0.2}")
    with pytest.raises(UsageError, match=r"has 2 problems:\n  - split weights sum to 0\.7, not 1\n  - control 'z'"):
        _import(tmp_path, mapping)


# ----------------------------------------------------------------------------------- file problems
def test_mapped_column_absent_lists_the_file_columns(tmp_path):
    csv = GOOD_CSV.replace("uid,", "user,", 1)
    with pytest.raises(
        UsageError,
        match=r"unit_id: column 'uid' is not in the file; the file's columns are: user, arm, shown, ts, bought, spend",
    ):
        _import(tmp_path, csv=csv)


def test_close_column_name_is_suggested(tmp_path):
    csv = GOOD_CSV.replace(",spend\n", ",Spend\n", 1)
    with pytest.raises(
        UsageError, match=r"outcomes\[spend\]\.column: column 'spend' is not in the file \(did you mean 'Spend'\?\)"
    ):
        _import(tmp_path, csv=csv)


def test_mapped_column_twice_in_header(tmp_path):
    csv = "uid,arm,shown,ts,bought,spend,spend\nu1,A,A,2024-01-01,1,2,3\n"
    with pytest.raises(UsageError, match=r"column 'spend' appears 2 times in the header"):
        _import(tmp_path, csv=csv)


def test_unmapped_variant_value_names_value_column_row_and_count(tmp_path):
    csv = GOOD_CSV + "u3,C,A,2024-01-03,0,1\nu4,B,B,2024-01-03,0,1\nu5,C,B,2024-01-03,0,1\nu6,X,B,2024-01-03,0,1\n"
    with pytest.raises(UsageError) as info:
        _import(tmp_path, csv=csv)
    message = str(info.value)
    assert re.search(
        r"column 'arm' \(assigned_variant\) has values that assigned_variant\.values does not map: "
        r"'C' \(first at row 3, 2 rows\), 'X' \(first at row 6, 1 row\); mapped values: 'A', 'B'",
        message,
    ), message
    assert "\n" not in message  # one problem, one line


def test_unmapped_exposed_value(tmp_path):
    csv = GOOD_CSV + "u3,A,old_page,2024-01-03,0,1\n"
    with pytest.raises(UsageError, match=r"column 'shown' \(exposed_variant\) .* 'old_page' \(first at row 3, 1 row\)"):
        _import(tmp_path, csv=csv)


def test_variant_value_not_in_split_without_values_map(tmp_path):
    mapping = _mapping_with("{column: arm, values: {A: a, B: b}}", "arm")
    csv = "uid,arm,shown,ts,bought,spend\nu1,a,A,2024-01-01,1,2\nu2,treatment,B,2024-01-01,1,2\n"
    with pytest.raises(
        UsageError,
        match=r"column 'arm' \(assigned_variant\) has values that are not variants of split \(a, b\): "
        r"'treatment' \(first at row 2, 1 row\); add assigned_variant\.values to map them",
    ):
        _import(tmp_path, mapping, csv)


def test_null_assigned_variant(tmp_path):
    csv = GOOD_CSV + "u3,,A,2024-01-03,0,1\n"
    with pytest.raises(UsageError, match=r"assigned_variant column 'arm' is empty \(null\) at row 3 \(1 row in all\)"):
        _import(tmp_path, csv=csv)


@pytest.mark.parametrize("cell", ["", "NA", "null", "  "])
def test_null_unit_id(tmp_path, cell):
    csv = GOOD_CSV + f"{cell},A,A,2024-01-03,0,1\nu9,A,A,2024-01-03,0,1\n{cell},B,B,2024-01-03,0,1\n"
    with pytest.raises(UsageError, match=r"unit_id column 'uid' is empty \(null\) at row 3 \(2 rows in all\)"):
        _import(tmp_path, csv=csv)


@pytest.mark.parametrize("bad", ["2", "yes", "0.5", "-1"])
def test_binary_outcome_not_zero_one(tmp_path, bad):
    csv = GOOD_CSV + f"u3,A,A,2024-01-03,{bad},1\n"
    with pytest.raises(
        UsageError,
        match=rf"binary outcome 'bought': column 'bought' has values that are not 0/1/true/false: "
        rf"'{re.escape(bad)}' \(first at row 3, 1 row\)",
    ):
        _import(tmp_path, csv=csv)


def test_binary_accepts_the_usual_spellings(tmp_path):
    csv = "uid,arm,shown,ts,bought,spend\n" + "".join(
        f"u{i},A,A,2024-01-01,{v},1\n" for i, v in enumerate(["0", "1", "True", "FALSE", "true", "false", "1.0", "0.0"])
    )
    result = _import(tmp_path, csv=csv)
    values = pq.read_table(result.files["outcomes"]).filter(pa.compute.equal(pa.compute.field("metric_id"), "bought"))
    assert values["metric_value"].to_pylist() == [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]


def test_numeric_outcome_not_a_number(tmp_path):
    csv = GOOD_CSV + "u3,A,A,2024-01-03,0,12 EUR\nu4,A,A,2024-01-03,0,1,5\n".replace("1,5", '"1,5"')
    with pytest.raises(
        UsageError,
        match=r"numeric outcome 'spend': column 'spend' has values that are not numbers: "
        r"'12 EUR' \(first at row 3, 1 row\), '1,5' \(first at row 4, 1 row\)",
    ):
        _import(tmp_path, csv=csv)


def test_empty_outcome_cell_is_an_error_by_default(tmp_path):
    csv = GOOD_CSV + "u3,A,A,2024-01-03,0,\n"
    with pytest.raises(
        UsageError, match=r"numeric outcome 'spend': column 'spend' is empty at row 3 \(1 row in all\); set on_null"
    ):
        _import(tmp_path, csv=csv)


def test_on_null_zero(tmp_path):
    mapping = _mapping_with("type: numeric}", "type: numeric, on_null: zero}")
    result = _import(tmp_path, mapping, GOOD_CSV + "u3,A,A,2024-01-03,0,\n")
    outcomes = pq.read_table(result.files["outcomes"]).to_pydict()
    assert outcomes["metric_value"][-1] == 0.0 and outcomes["source_row"][-1] == 3


def test_unparseable_timestamp(tmp_path):
    csv = GOOD_CSV + "u3,A,A,03/01/2024,0,1\n"
    with pytest.raises(
        UsageError,
        match=r"timestamp column 'ts' has values that are not ISO-8601 date-times "
        r".*'03/01/2024' \(first at row 3, 1 row\)",
    ):
        _import(tmp_path, csv=csv)


def test_file_problems_are_reported_together(tmp_path):
    csv = GOOD_CSV + ",C,A,2024-01-03,maybe,x\n"
    with pytest.raises(UsageError) as info:
        _import(tmp_path, csv=csv)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'export.csv'} has 4 problems:")
    for needle in ("unit_id column 'uid'", "column 'arm'", "column 'bought'", "column 'spend'"):
        assert needle in message


def test_nothing_is_written_when_the_file_is_bad(tmp_path):
    with pytest.raises(UsageError):
        _import(tmp_path, csv=GOOD_CSV + "u3,C,A,2024-01-03,0,1\n")
    assert not (tmp_path / "landing").exists()


# ------------------------------------------------------------------------------- unreadable files
def test_missing_export_file(tmp_path):
    mapping_path, _ = _write(tmp_path)
    with pytest.raises(UsageError, match=r"export file not found: .*missing\.csv"):
        import_export(mapping_path, tmp_path / "missing.csv", tmp_path / "landing")


def test_unknown_suffix(tmp_path):
    with pytest.raises(
        UsageError,
        match=r"cannot tell the format of .*export\.xlsx: the file name must end in \.csv, \.csv\.gz or \.parquet",
    ):
        _import(tmp_path, name="export.xlsx")


def test_folder_instead_of_file(tmp_path):
    mapping_path, _ = _write(tmp_path)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UsageError, match=r"is a folder"):
        import_export(mapping_path, tmp_path / "dir.csv", tmp_path / "landing")


def test_empty_file(tmp_path):
    with pytest.raises(UsageError, match=r"export\.csv is empty: expected a header line"):
        _import(tmp_path, csv="")


def test_header_only(tmp_path):
    with pytest.raises(UsageError, match=r"export\.csv has a header but no data rows"):
        _import(tmp_path, csv="uid,arm,shown,ts,bought,spend\n")


def test_ragged_row(tmp_path):
    csv = GOOD_CSV + "u3,A,A,2024-01-03,0,1,extra\n"
    with pytest.raises(UsageError, match=r"cannot read CSV file .*: row 3 has 7 fields but the header has 6"):
        _import(tmp_path, csv=csv)


def test_not_utf8(tmp_path):
    mapping_path, data_path = _write(tmp_path)
    data_path.write_bytes(GOOD_CSV.encode() + "u3,A,A,2024-01-03,0,1\nu4,A,A,2024-01-03,0,\xe9\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"column 'spend' at row 4 is not UTF-8 text"):
        import_export(mapping_path, data_path, tmp_path / "landing")


def test_gz_name_but_not_gzip(tmp_path):
    with pytest.raises(UsageError, match=r"the name ends in \.gz but the file is not gzip-compressed"):
        _import(tmp_path, name="export.csv.gz")


def test_truncated_gzip(tmp_path):
    mapping_path, _ = _write(tmp_path)
    data = gzip.compress((GOOD_CSV * 2000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match=r"cannot read CSV file .*cut\.csv\.gz"):
        import_export(mapping_path, path, tmp_path / "landing")


def test_not_parquet(tmp_path):
    with pytest.raises(UsageError, match=r"cannot read Parquet file .*export\.parquet"):
        _import(tmp_path, name="export.parquet")


def test_parquet_native_types_are_checked(tmp_path):
    mapping_path, _ = _write(tmp_path)
    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                "uid": pa.array([1, 2, None], pa.int64()),
                "arm": ["A", "B", "A"],
                "shown": ["A", None, "A"],
                "ts": pa.array([0, 3_600_000_000, None], pa.timestamp("us", tz="Europe/Berlin")),
                "bought": [0, 3, 1],
                "spend": [1.5, None, 2.0],
            }
        ),
        path,
    )
    with pytest.raises(UsageError) as info:
        import_export(mapping_path, path, tmp_path / "landing")
    message = str(info.value)
    assert "unit_id column 'uid' is empty (null) at row 3 (1 row in all)" in message
    assert "column 'bought' has values that are not 0/1/true/false: '3' (first at row 2, 1 row)" in message
    assert "column 'spend' is empty at row 2" in message


def test_parquet_native_types_import(tmp_path):
    mapping_path, _ = _write(tmp_path)
    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                "uid": pa.array([1.0, 20.0], pa.float64()),  # ids that went through a float column
                "arm": pa.array(["A", "B"]).dictionary_encode(),
                "shown": ["A", None],
                "ts": pa.array([0, 3_600_000_000], pa.timestamp("us", tz="Europe/Berlin")),
                "bought": [False, True],
                "spend": pa.array([1, 2], pa.int32()),
            }
        ),
        path,
    )
    result = import_export(mapping_path, path, tmp_path / "landing")
    units = pq.read_table(result.files["units"]).to_pydict()
    assert units["unit_id"] == ["1", "20"]
    assert units["exposed_variant_id"] == ["a", None]
    assert [t.isoformat() for t in units["observed_at"]] == ["1970-01-01T00:00:00", "1970-01-01T01:00:00"]  # UTC


def test_experiment_id_taken_by_another_producer(tmp_path):
    (tmp_path / "landing" / "experiments").mkdir(parents=True)
    pq.write_table(pa.table({"experiment_id": ["err_test"]}), tmp_path / "landing" / "experiments" / "platform.parquet")
    with pytest.raises(UsageError, match=r"experiment_id 'err_test' is already used by .*platform\.parquet"):
        _import(tmp_path)


# ------------------------------------------------------------------------------------------- CLI
def _cli(monkeypatch, capsys, argv: list[str]) -> tuple[int, str, str]:
    """``readout import ...`` through readout.cli.main, with only the import subcommand wired."""
    from readout import cli

    monkeypatch.setattr(cli, "SUBCOMMANDS", {"import": ("readout.importer", "land a unit-level export")})
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_error_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    mapping_path, data_path = _write(tmp_path, csv=GOOD_CSV + "u3,C,A,2024-01-03,0,1\n")
    code, out, err = _cli(
        monkeypatch, capsys, ["import", str(mapping_path), "--file", str(data_path), "--landing", str(tmp_path / "l")]
    )
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert err.startswith("readout import: error: ")
    assert "'C' (first at row 3, 1 row)" in err


def test_cli_missing_file_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    mapping_path, _ = _write(tmp_path)
    code, _, err = _cli(monkeypatch, capsys, ["import", str(mapping_path), "--file", str(tmp_path / "nope.csv.gz")])
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "export file not found" in err


def test_cli_success(tmp_path, monkeypatch, capsys):
    mapping_path, data_path = _write(tmp_path)
    code, out, err = _cli(
        monkeypatch, capsys, ["import", str(mapping_path), "--file", str(data_path), "--landing", str(tmp_path / "l")]
    )
    assert code == 0 and err == ""
    assert "rows read              2" in out
