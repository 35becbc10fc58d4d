"""`readout import` on the two real exports in ../shared, and the landing layout it writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from readout.contract import EVENT_COLUMNS_V1, EXPERIMENT_COLUMNS
from readout.importer import import_export, summary

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
EXTERNAL = Path(os.environ.get("READOUT_EXTERNAL_DATA") or Path(__file__).resolve().parents[3] / "shared/data/external")
UDACITY = EXTERNAL / "udacity_ab_data" / "ab_data.csv.gz"
COOKIE_CATS = EXTERNAL / "cookie_cats" / "cookie_cats.csv"

needs_udacity = pytest.mark.skipif(
    not UDACITY.exists(),
    reason=f"Udacity export not found at {UDACITY} (set READOUT_EXTERNAL_DATA to its parent folder)",
)
needs_cookie_cats = pytest.mark.skipif(
    not COOKIE_CATS.exists(), reason=f"Cookie Cats export not found at {COOKIE_CATS} (set READOUT_EXTERNAL_DATA)"
)


def _read(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


# ------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def udacity(tmp_path_factory):
    if not UDACITY.exists():
        pytest.skip(f"Udacity export not found at {UDACITY}")
    landing = tmp_path_factory.mktemp("landing_udacity")
    result = import_export(MAPPINGS / "udacity_ab_data.yml", UDACITY, landing)
    source = pd.read_csv(UDACITY, dtype={"user_id": str})
    return result, source


@pytest.fixture(scope="module")
def cookie_cats(tmp_path_factory):
    if not COOKIE_CATS.exists():
        pytest.skip(f"Cookie Cats export not found at {COOKIE_CATS}")
    landing = tmp_path_factory.mktemp("landing_cookie_cats")
    result = import_export(MAPPINGS / "cookie_cats.yml", COOKIE_CATS, landing)
    source = pd.read_csv(COOKIE_CATS, dtype={"userid": str})
    return result, source


@needs_udacity
def test_udacity_units_reconcile_with_the_source(udacity):
    result, source = udacity
    units = _read(result.files["units"])
    assert len(units) == len(source) == 294_478
    assert units["source_row"].tolist() == list(range(1, len(source) + 1))
    assert (units["unit_id"].to_numpy() == source["user_id"].to_numpy()).all()
    assert (units["assigned_variant_id"].to_numpy() == source["group"].to_numpy()).all()
    page = source["landing_page"].map({"old_page": "control", "new_page": "treatment"})
    assert (units["exposed_variant_id"].to_numpy() == page.to_numpy()).all()
    expected_time = pd.to_datetime(source["timestamp"]).to_numpy()
    assert (units["observed_at"].to_numpy() == expected_time).all()

    mismatches = int(((source["group"] == "control") != (source["landing_page"] == "old_page")).sum())
    assert mismatches == 3_893
    assert result.counts["rows_assigned_not_exposed"] == mismatches
    mismatch_units = source.loc[(source["group"] == "control") != (source["landing_page"] == "old_page"), "user_id"]
    assert result.counts["units_assigned_not_exposed"] == mismatch_units.nunique() == 3_893
    assert int((units["assigned_variant_id"] != units["exposed_variant_id"]).sum()) == mismatches

    per_user = source["user_id"].value_counts()
    assert result.counts["units"] == source["user_id"].nunique() == 290_584
    assert result.counts["duplicate_units"] == int((per_user > 1).sum()) == 3_894
    assert result.counts["rows_per_assigned_variant"] == source["group"].value_counts().to_dict()


@needs_udacity
def test_udacity_outcomes_equal_the_source(udacity):
    result, source = udacity
    outcomes = _read(result.files["outcomes"])
    assert len(outcomes) == len(source)
    assert set(outcomes["metric_id"]) == {"converted"}
    assert (outcomes["source_row"].to_numpy() == np.arange(1, len(source) + 1)).all()
    assert (outcomes["unit_id"].to_numpy() == source["user_id"].to_numpy()).all()
    assert (outcomes["metric_value"].to_numpy() == source["converted"].astype(float).to_numpy()).all()


@needs_udacity
def test_udacity_experiment_rows(udacity):
    result, source = udacity
    table = pq.read_table(result.files["experiments"])
    assert {f.name: str(f.type) for f in table.schema} == EXPERIMENT_COLUMNS
    rows = table.to_pandas().set_index("variant_id")
    assert sorted(rows.index) == ["control", "treatment"]
    assert rows.loc["control", "is_control"] and not rows.loc["treatment", "is_control"]
    assert (rows["allocation_weight"] == 0.5).all()
    assert (rows["status"] == "concluded").all() and (rows["unit_type"] == "user_id").all()
    times = pd.to_datetime(source["timestamp"])
    assert (rows["started_at"] == times.min()).all() and (rows["ended_at"] == times.max()).all()
    metrics = _read(result.files["metrics"])
    assert metrics.to_dict("records") == [
        {
            "experiment_id": "udacity_landing_page",
            "metric_id": "converted",
            "metric_type": "proportion",
            "direction": "increase",
            "role": "primary",
            "description": "Share of users who converted (converted = 1)",
        }
    ]


@needs_cookie_cats
def test_cookie_cats_reconciles_with_the_source(cookie_cats):
    result, source = cookie_cats
    units = _read(result.files["units"])
    assert len(units) == len(source) == 90_189
    assert units["assigned_variant_id"].value_counts().to_dict() == {"gate_40": 45_489, "gate_30": 44_700}
    assert result.counts["rows_per_assigned_variant"] == {"gate_30": 44_700, "gate_40": 45_489}
    assert (units["exposed_variant_id"] == units["assigned_variant_id"]).all()  # no exposure column
    assert units["observed_at"].isna().all()
    assert result.counts["duplicate_units"] == 0 and result.counts["units"] == 90_189

    outcomes = _read(result.files["outcomes"])
    assert len(outcomes) == 3 * len(source)
    wide = outcomes.pivot(index="source_row", columns="metric_id", values="metric_value").sort_index()
    assert (wide.index.to_numpy() == np.arange(1, len(source) + 1)).all()
    for column in ("retention_1", "retention_7", "sum_gamerounds"):
        assert (wide[column].to_numpy() == source[column].astype(float).to_numpy()).all(), column
    assert wide["sum_gamerounds"].max() == 49_854

    experiments = pq.read_table(result.files["experiments"]).to_pandas()
    assert experiments["started_at"].isna().all() and experiments["ended_at"].isna().all()
    assert experiments.set_index("variant_id")["is_control"].to_dict() == {"gate_30": True, "gate_40": False}
    metrics = _read(result.files["metrics"]).set_index("metric_id")
    assert metrics["metric_type"].to_dict() == {
        "retention_1": "proportion",
        "retention_7": "proportion",
        "sum_gamerounds": "mean",
    }
    assert metrics.loc["retention_1", "role"] == "primary"


@needs_cookie_cats
def test_summary_and_manifest(cookie_cats):
    result, _ = cookie_cats
    text = summary(result)
    assert "rows read              90,189" in text
    assert "gate_30       44,700 rows" in text
    assert "imports/units/cookie_cats_gate.parquet" in text
    manifest = json.loads(result.files["manifest"].read_text())
    assert manifest["counts"]["rows_read"] == 90_189
    assert manifest["mapping"]["split"] == {"gate_30": 0.5, "gate_40": 0.5}
    assert manifest["source_file"]["name"] == "cookie_cats.csv"
    assert manifest["files"]["experiments"] == "experiments/import_cookie_cats_gate.parquet"


# ------------------------------------------------------------------- layout, idempotence, placeholders
SMALL_MAPPING = """
experiment_id: small_test
name: Small test
unit_id: uid
assigned_variant: {column: arm, values: {A: a, B: b}}
exposed_variant: {column: shown, values: {A: a, B: b}}
timestamp: ts
control: a
split: {a: 0.25, b: 0.75}
outcomes:
  - {metric_id: bought, column: bought, type: binary, role: primary}
  - {metric_id: spend, column: spend, type: numeric, on_null: skip}
"""
SMALL_CSV = (
    "uid,arm,shown,ts,bought,spend\n"
    "u1,A,A,2024-03-01T10:00:00Z,1,2.5\n"
    "u2,B,A,2024-03-01 12:00:00+02:00,FALSE,\n"
    "u1,A,,2024-03-02 00:00:00,true,0\n"
    "007,B,B,,0,1e3\n"
)


@pytest.fixture
def small(tmp_path):
    mapping = tmp_path / "small.yml"
    mapping.write_text(SMALL_MAPPING)
    data = tmp_path / "small.csv"
    data.write_text(SMALL_CSV)
    return mapping, data, tmp_path / "landing"


def test_small_import_layout_and_types(small):
    mapping, data, landing = small
    result = import_export(mapping, data, landing)
    units = pq.read_table(result.files["units"])
    assert units.schema == pa.schema(
        [
            ("experiment_id", pa.string()),
            ("experiment_version", pa.int32()),
            ("unit_id", pa.string()),
            ("assigned_variant_id", pa.string()),
            ("exposed_variant_id", pa.string()),
            ("observed_at", pa.timestamp("us")),
            ("source_row", pa.int64()),
        ]
    )
    u = units.to_pydict()
    assert u["unit_id"] == ["u1", "u2", "u1", "007"]  # text kept as is: no leading zero lost
    assert u["assigned_variant_id"] == ["a", "b", "a", "b"]
    assert u["exposed_variant_id"] == ["a", "a", None, "b"]
    assert [t.isoformat() if t else None for t in u["observed_at"]] == [
        "2024-03-01T10:00:00",
        "2024-03-01T10:00:00",  # +02:00 converted to UTC
        "2024-03-02T00:00:00",  # naive read as UTC
        None,
    ]
    outcomes = pq.read_table(result.files["outcomes"])
    assert outcomes.schema.field("metric_value").type == pa.float64()
    assert outcomes.schema.field("experiment_version").type == pa.int32()
    rows = list(zip(*(outcomes.to_pydict()[c] for c in ("source_row", "metric_id", "metric_value")), strict=True))
    assert rows == [
        (1, "bought", 1.0),
        (1, "spend", 2.5),
        (2, "bought", 0.0),  # row 2 spend is empty: skipped (on_null: skip)
        (3, "bought", 1.0),
        (3, "spend", 0.0),
        (4, "bought", 0.0),
        (4, "spend", 1000.0),
    ]
    assert result.counts["rows_assigned_not_exposed"] == 1  # row 2; row 3's exposure is unknown
    assert result.counts["rows_exposed_unknown"] == 1
    assert result.counts["duplicate_units"] == 1
    assert result.counts["outcomes"]["spend"] == {"values_written": 3, "empty_cells": 1, "on_null": "skip"}
    experiments = pq.read_table(result.files["experiments"]).to_pydict()
    assert experiments["allocation_weight"] == [0.25, 0.75]
    assert experiments["name"] == ["Small test", "Small test"]
    assert experiments["started_at"][0].isoformat() == "2024-03-01T10:00:00"
    assert experiments["ended_at"][0].isoformat() == "2024-03-02T00:00:00"


def test_placeholders_for_empty_tables(small):
    mapping, data, landing = small
    import_export(mapping, data, landing)
    events = pq.read_table(landing / "events" / "_empty.parquet")
    assert events.num_rows == 0
    assert {f.name: str(f.type) for f in events.schema} == EVENT_COLUMNS_V1
    # The imports folders hold a real file, so they get no placeholder.
    assert not (landing / "imports" / "units" / "_empty.parquet").exists()


def test_placeholders_only_where_no_parquet(tmp_path):
    from readout.landing import ensure_landing_tables

    (tmp_path / "events" / "date=2026-01-01").mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["x"]}), tmp_path / "events" / "date=2026-01-01" / "part.parquet")
    written = {p.relative_to(tmp_path).as_posix() for p in ensure_landing_tables(tmp_path)}
    assert written == {
        "experiments/_empty.parquet",
        "imports/units/_empty.parquet",
        "imports/outcomes/_empty.parquet",
        "imports/metrics/_empty.parquet",
        "imports/settings/_empty.parquet",
        "imports/denominators/_empty.parquet",
        "imports/summaries/_empty.parquet",
        "imports/unit_attributes/_empty.parquet",
    }
    assert ensure_landing_tables(tmp_path) == []
    units = pq.read_table(tmp_path / "imports" / "units" / "_empty.parquet")
    assert units.num_rows == 0 and "assigned_variant_id" in units.schema.names


def _snapshot(landing: Path) -> dict[str, bytes]:
    return {p.relative_to(landing).as_posix(): p.read_bytes() for p in sorted(landing.rglob("*")) if p.is_file()}


def test_import_is_deterministic_and_idempotent(small, tmp_path):
    mapping, data, landing = small
    import_export(mapping, data, landing)
    first = _snapshot(landing)
    import_export(mapping, data, landing)  # re-import into the same landing zone replaces
    assert _snapshot(landing) == first
    other = tmp_path / "other_landing"
    import_export(mapping, data, other)  # and a fresh landing zone gets the same bytes
    assert _snapshot(other) == first


@needs_cookie_cats
def test_real_import_is_byte_identical(cookie_cats, tmp_path):
    result, _ = cookie_cats
    again = import_export(MAPPINGS / "cookie_cats.yml", COOKIE_CATS, tmp_path)
    for role, path in result.files.items():
        assert again.files[role].read_bytes() == path.read_bytes(), role


def test_import_leaves_other_experiments_and_events_alone(small):
    mapping, data, landing = small
    (landing / "experiments").mkdir(parents=True)
    (landing / "events").mkdir()
    other_export = landing / "experiments" / "platform.parquet"
    pq.write_table(pa.table({"experiment_id": ["checkout_button"], "variant_id": ["control"]}), other_export)
    events = landing / "events" / "web.parquet"
    pq.write_table(pa.table({"event_id": ["e1"]}), events)
    other_units = landing / "imports" / "units" / "another.parquet"
    other_units.parent.mkdir(parents=True)
    pq.write_table(pa.table({"unit_id": ["z"]}), other_units)
    before = {p: p.read_bytes() for p in (other_export, events, other_units)}

    import_export(mapping, data, landing)
    assert {p: p.read_bytes() for p in before} == before
    assert not (landing / "events" / "_empty.parquet").exists()


def test_landing_from_environment(small, monkeypatch):
    mapping, data, landing = small
    monkeypatch.setenv("READOUT_LANDING_PATH", str(landing))
    result = import_export(mapping, data)
    assert result.files["units"] == landing / "imports" / "units" / "small_test.parquet"


def test_parquet_and_gzip_inputs_give_the_same_rows(small, tmp_path):
    import gzip

    mapping, data, landing = small
    from_csv = import_export(mapping, data, tmp_path / "a")
    gz = tmp_path / "small.csv.gz"
    gz.write_bytes(gzip.compress(data.read_bytes(), mtime=0))
    from_gz = import_export(mapping, gz, tmp_path / "b")
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    frame["ts"] = pd.to_datetime(frame["ts"].replace("", None), utc=True, format="ISO8601")
    frame["bought"] = frame["bought"].str.lower().map({"1": True, "true": True, "0": False, "false": False})
    frame["spend"] = pd.to_numeric(frame["spend"].replace("", None))
    pq_file = tmp_path / "small.parquet"
    frame.to_parquet(pq_file, index=False)
    from_parquet = import_export(mapping, pq_file, tmp_path / "c")
    for result in (from_gz, from_parquet):
        for role in ("units", "outcomes", "experiments", "metrics"):
            assert pq.read_table(result.files[role]).equals(pq.read_table(from_csv.files[role])), role


def test_cli_prints_summary(small, capsys):
    import argparse

    from readout.importer import add_arguments, run

    mapping, data, landing = small
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args([str(mapping), "--file", str(data), "--landing", str(landing)])) == 0
    out = capsys.readouterr().out
    assert "rows read              4" in out
    assert "assigned != exposed    1 row (1 unit)\n" in out
    assert "experiments/import_small_test.parquet" in out
