"""Issue 14: the mapping features of `readout import` on a small crafted export, against pandas (no dbt)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from readout.cli import UsageError
from readout.importer import import_export, summary
from readout.importer.mapping import load_mapping, parse_mapping
from readout.importer.write import remove_import

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
sys.path.insert(0, str(REPO / "tests" / "integration"))  # the crafted export, shared with the dbt tests
from import_exports import survey_rows, write_visits  # noqa: E402


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("survey")
    frame = write_visits(root / "visits.csv")
    result = import_export(MAPPINGS / "example_survey.yml", root / "visits.csv", root / "landing")
    return result, frame, root


def _read(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def test_where_derive_and_first_row_policy_equal_pandas(survey):
    result, frame, _ = survey
    expected = survey_rows(frame)
    units = _read(result.files["units"])
    assert units.source_row.tolist() == expected.row.tolist()  # file rows kept, in order
    assert units.unit_id.tolist() == expected.visitor.tolist()
    assert units.assigned_variant_id.tolist() == expected.variant.tolist()
    assert units.exposed_variant_id.tolist() == expected.shown_variant.tolist()
    assert (units.observed_at.to_numpy() == expected.seen_at.to_numpy()).all()  # the derived timestamp
    counts = result.counts
    assert counts["rows_read"] == len(frame)
    assert counts["rows_filtered_out"] == int((frame.country == "test").sum())
    assert counts["rows_imported"] == len(expected)
    assert counts["rows_read"] == counts["rows_filtered_out"] + counts["rows_dropped_by_policy"] + len(expected)
    text = summary(result)
    assert "first_row: keep the unit's first row" in text and "country <> 'test'" in text
    assert "assumed equal 50.00%" in text
    assert "alpha 0.1; planned sample size 600; decision estimator unadjusted" in text


def test_segments_land_one_attribute_row_per_unit_and_column(survey):
    """segments: [country, answered]: each unit's value is that of its first kept row with one (pandas), null
    when none has; --remove takes the file back out."""
    result, frame, root = survey
    rows = survey_rows(frame)
    rows = rows.assign(
        answered=rows.answer.map(lambda a: None if pd.isna(a) or a == "" else str(a in ("yes", "no")).lower())
    )
    landed = _read(result.files["unit_attributes"])
    assert list(landed.columns) == [
        "experiment_id",
        "experiment_version",
        "unit_id",
        "attribute_name",
        "attribute_value",
    ]
    for column in ("country", "answered"):
        got = landed[landed.attribute_name == column].set_index("unit_id").attribute_value
        expected = rows.groupby("visitor", sort=False)[column].first()
        assert got.index.tolist() == expected.index.tolist()  # every unit once, in order of first row
        assert got.where(got.notna(), None).tolist() == expected.where(expected.notna(), None).tolist()
        info = result.counts["segments"][column]
        assert info["units_with_value"] + info["units_without_value"] == rows.visitor.nunique()
        assert info["units_with_several_values"] == int((rows.groupby("visitor")[column].nunique() > 1).sum())
    assert "segment answered" in summary(result)
    assert result.counts["segments"]["answered"]["units_without_value"] > 0  # empty answers: null, not dropped


def test_conditional_and_ratio_outcomes_write_numerators_and_denominators(survey):
    result, frame, _ = survey
    expected = survey_rows(frame).set_index("row")
    outcomes = _read(result.files["outcomes"]).pivot(index="source_row", columns="metric_id", values="metric_value")
    denominators = _read(result.files["denominators"]).pivot(
        index="source_row", columns="metric_id", values="denominator_value"
    )
    answered = expected.answer.isin(["yes", "no"]).astype(float)
    np.testing.assert_array_equal(denominators.yes_share.to_numpy(), answered.to_numpy())
    np.testing.assert_array_equal(outcomes.yes_share.to_numpy(), (expected.answer == "yes").astype(float).to_numpy())
    np.testing.assert_allclose(outcomes.revenue_per_session.to_numpy(), expected.revenue.to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(denominators.revenue_per_session.to_numpy(), expected.sessions.to_numpy(float))
    metrics = _read(result.files["metrics"]).set_index("metric_id")
    assert metrics.metric_type.to_dict() == {"yes_share": "ratio", "revenue_per_session": "ratio", "orders": "mean"}


def test_settings_and_the_equal_split(survey):
    result, _, _ = survey
    settings = _read(result.files["settings"])
    experiment = settings[settings.metric_id.isna()].set_index("setting")
    assert experiment.value_text.dropna().to_dict() == {
        "planned_split": "assumed_equal",
        "several_variants": "first_row",
        "decision_estimator": "unadjusted",
    }
    assert experiment.value_double["alpha"] == 0.10 and experiment.value_double["planned_sample_size"] == 600
    margin = settings[settings.setting == "non_inferiority_margin"]
    assert margin[["metric_id", "value_double"]].values.tolist() == [["orders", 0.05]]
    experiments = _read(result.files["experiments"])
    assert experiments.allocation_weight.tolist() == [0.5, 0.5]


def test_unknown_split_and_drop_mismatched_rows(tmp_path):
    frame = write_visits(tmp_path / "visits.csv")
    result = import_export(MAPPINGS / "example_unknown_split.yml", tmp_path / "visits.csv", tmp_path / "landing")
    settings = _read(result.files["settings"]).set_index("setting")
    assert settings.value_text["planned_split"] == "unknown"
    assert "planned split unknown: no sample-ratio test" in summary(result)
    mapping = load_mapping(MAPPINGS / "example_survey.yml")
    data = mapping.to_dict()
    data.pop("planned_split"), data.pop("split")
    data.update(several_variants="drop_mismatched_rows", split={"control": 0.45, "treatment": 0.55})
    data["derive"], data["where"] = dict(mapping.derive), None
    dropped = import_export(parse_mapping(_yaml_ready(data)), tmp_path / "visits.csv", tmp_path / "landing2")
    mismatched = frame.arm != frame.shown
    assert dropped.counts["rows_dropped_by_policy"] == int(mismatched.sum())
    assert _read(dropped.files["units"]).source_row.tolist() == (np.flatnonzero(~mismatched) + 1).tolist()


def _yaml_ready(data: dict) -> dict:
    data = {k: v for k, v in data.items() if v is not None}
    data["analysis"] = {k: v for k, v in data["analysis"].items() if v is not None}
    data["outcomes"] = [{k: v for k, v in o.items() if v is not None} for o in data["outcomes"]]
    return data


def test_remove_takes_an_import_back_out(survey, tmp_path):
    _, _, root = survey
    landing = tmp_path / "landing"
    shutil.copytree(root / "landing", landing)
    removed = remove_import(landing, "survey_example")
    assert {p.name for p in removed} >= {"survey_example.parquet", "import_survey_example.parquet"}
    assert not list(landing.rglob("*survey_example*"))
    assert (landing / "imports" / "denominators" / "_empty.parquet").exists()  # sources still resolve
    assert (landing / "imports" / "unit_attributes" / "_empty.parquet").exists()  # the segments went too
    with pytest.raises(UsageError, match="no import of experiment_id 'survey_example'"):
        remove_import(landing, "survey_example")
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "readout"), "import", "--remove", "nope", "--landing", str(landing)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2 and len(cli.stderr.strip().splitlines()) == 1, cli.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'where: "no_such_column > 1"',
            r"where 'no_such_column > 1' fails on .*no_such_column.*the export's columns: visitor",
        ),
        ('derive: {orders: "1"}', r"derive.orders: the export already has a column 'orders'"),
    ],
)
def test_bad_expressions_are_one_line_errors(tmp_path, extra, message):
    write_visits(tmp_path / "visits.csv")
    text = (MAPPINGS / "example_unknown_split.yml").read_text() + extra + "\n"
    (tmp_path / "m.yml").write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        import_export(tmp_path / "m.yml", tmp_path / "visits.csv", tmp_path / "landing")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "landing").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"unit_id": True},
            r"unit_id must be text, got True: YAML reads unquoted yes/no/on/off/true/false as a boolean; quote it",
        ),
        ({"split": "half"}, r"split must be a mapping variant_id -> weight or the word equal"),
        ({"several_variants": "drop_mismatched_rows"}, r"drop_mismatched_rows needs an exposed_variant column"),
        ({"analysis": {"alpha": 5}}, r"analysis.alpha must be a number between 0 and 0.5"),
        (
            {"outcomes": [{"metric_id": "m", "column": "c", "type": "numeric", "margin": 0.1}]},
            r"margin is a non-inferiority margin: set role: guardrail",
        ),
        (
            {"outcomes": [{"metric_id": "m", "column": "c", "type": "numeric", "denominator": "d", "among": "a"}]},
            r"give denominator \(a ratio metric\) or among \(a conditional metric\), not both",
        ),
    ],
)
def test_new_keys_are_validated(change, message):
    data = {
        "experiment_id": "x",
        "unit_id": "u",
        "assigned_variant": "g",
        "control": "control",
        "variants": ["control", "treatment"],
        "outcomes": [{"metric_id": "m", "column": "c", "type": "binary"}],
    }
    data.update(change)
    if "split" in change:
        data.pop("variants")
    with pytest.raises(UsageError, match=message):
        parse_mapping(data)


def test_a_bad_cell_after_a_where_filter_is_reported_at_its_row_in_the_file(tmp_path):
    frame = write_visits(tmp_path / "visits.csv")
    frame["orders"] = frame.orders.astype(object)
    frame.loc[30, "orders"] = "many"  # a kept row (country != test) far from the top
    frame.loc[30, "country"] = "NL"
    frame.to_csv(tmp_path / "visits.csv", index=False)
    text = (MAPPINGS / "example_unknown_split.yml").read_text() + "where: \"country <> 'test' and visitor > 'v0010'\"\n"
    (tmp_path / "m.yml").write_text(text)
    with pytest.raises(UsageError, match=r"'many' \(first at row 31, 1 row\)"):
        import_export(tmp_path / "m.yml", tmp_path / "visits.csv", tmp_path / "landing")


def test_unquoted_yes_no_in_a_values_map_gets_the_quoting_hint(tmp_path):
    (tmp_path / "e.csv").write_text("id,answer_arm,y\n1,yes,1\n2,no,0\n")
    (tmp_path / "m.yml").write_text(
        "experiment_id: yn\nunit_id: id\n"
        "assigned_variant: {column: answer_arm, values: {yes: treatment, no: control}}\n"
        "control: control\nsplit: equal\noutcomes: [{metric_id: y, column: y, type: binary}]\n"
    )
    with pytest.raises(UsageError, match=r"mapped values: 'true', 'false' \(YAML reads unquoted yes/no.*quote it"):
        import_export(tmp_path / "m.yml", tmp_path / "e.csv", tmp_path / "landing")
