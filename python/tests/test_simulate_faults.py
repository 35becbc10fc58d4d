"""Every planted fault, recounted from the WRITTEN Parquet files (pandas, no generator internals), must
equal the count in manifest.json, with all faults, with none, one at a time, and under --as-of."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

try:
    import readout  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readout import contract
from readout.simulate import FAULT_NAMES
from readout.simulate.runner import simulate

SEED = 7
EVENTS = 100_000
AS_OF = "2026-02-05T12:00:00Z"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PAYLOAD = [c for c in contract.EVENT_COLUMNS_V1 if c not in ("received_at", "schema_version")]
BIASING = ("variant_logging_loss", "cross_variant_units", "exposure_before_assignment", "exposure_outside_window")


# ------------------------------------------------------------------------------------------ loading
def make(out: Path, *, seed: int = SEED, events: int = EVENTS, faults=frozenset(FAULT_NAMES), as_of=None) -> dict:
    as_of_ms = None if as_of is None else int(pd.Timestamp(as_of).value // 1_000_000)
    return simulate(out, seed=seed, events=events, enabled=frozenset(faults), as_of_ms=as_of_ms, progress=False)


def parse_ts(values: pd.Series) -> pd.Series:
    """Strict ISO-8601 UTC with milliseconds (``2026-01-15T09:30:00.000Z``); anything else -> NaT."""
    text = values.astype("string")
    shaped = text.str.match(ISO.pattern).fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(shaped), format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce")
    return parsed.astype("datetime64[ns]")


def load_events(out: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((out / contract.EVENTS_DIR).glob("*.parquet")):
        table = pq.read_table(path)
        frame = table.to_pandas()
        version = 2 if "device_id" in frame.columns else 1
        inverse = {new: old for old, new in contract.EVENT_RENAMES_V2.items()}
        frame = frame.rename(columns=inverse if version == 2 else {})
        frame["file"] = path.name
        frame["file_version"] = version
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    events["ts"] = parse_ts(events["event_at"])
    events["rs"] = parse_ts(events["received_at"])
    kinds = {text: json.loads(text).get("traffic_type", "human") for text in events["properties"].unique()}
    events["traffic_type"] = events["properties"].map(kinds)
    return events


def load_experiments(out: Path) -> pd.DataFrame:
    return pq.read_table(out / contract.EXPERIMENTS_DIR).to_pandas()


# ---------------------------------------------------------------------------------------- recounts
def recount(events: pd.DataFrame, experiments: pd.DataFrame) -> dict:
    """Every fault and realism count, from the rows alone."""
    c: dict = {}
    exp_row = events["event_name"].isin([contract.ASSIGNMENT_EVENT, contract.EXPOSURE_EVENT])
    known_ids = set(experiments["experiment_id"])
    triples = set(zip(experiments["experiment_id"], experiments["experiment_version"], experiments["variant_id"]))
    triple = list(zip(events["experiment_id"], events["experiment_version"], events["variant_id"]))
    valid_triple = pd.Series([t in triples for t in triple], index=events.index)
    unknown_experiment = exp_row & ~events["experiment_id"].isin(known_ids)
    unknown_variant = exp_row & events["experiment_id"].isin(known_ids) & ~valid_triple
    c["unknown_ids.unknown_experiment"] = int(unknown_experiment.sum())
    c["unknown_ids.unknown_variant"] = int(unknown_variant.sum())

    parseable = events["ts"].notna()
    missing_unit = events["anonymous_id"].isna() & events["user_id"].isna()
    negative = (events["event_name"] == "purchase") & (events["revenue"] < 0)
    c["malformed_rows.missing_event_id"] = int(events["event_id"].isna().sum())
    c["malformed_rows.missing_unit_id"] = int(missing_unit.sum())
    c["malformed_rows.unparseable_event_at"] = int((~parseable).sum())
    c["malformed_rows.future_event_at"] = int((parseable & (events["ts"] > events["rs"] + timedelta(days=1))).sum())
    c["malformed_rows.negative_revenue"] = int(negative.sum())

    # duplicates: rows after the first received of their event_id, identical payload or not
    with_id = events[events["event_id"].notna()].sort_values(["event_id", "received_at"], kind="stable")
    payload = pd.util.hash_pandas_object(with_id[PAYLOAD], index=False)
    first_payload = payload.groupby(with_id["event_id"]).transform("first")
    later = with_id["event_id"].duplicated(keep="first")
    c["duplicate_retries"] = int((later & (payload == first_payload)).sum())
    c["conflicting_duplicates"] = int((later & (payload != first_payload)).sum())

    bots = events["traffic_type"].isin(["bot", "internal"])
    c["bot_traffic.rows"] = int(bots.sum())
    c["bot_traffic.bot_units"] = int(events.loc[events["traffic_type"] == "bot", "anonymous_id"].nunique())
    c["bot_traffic.internal_units"] = int(events.loc[events["traffic_type"] == "internal", "anonymous_id"].nunique())
    c["mixed_schema_versions"] = int((events["file_version"] == 2).sum())

    late = parseable & ((events["rs"] - events["ts"]) > timedelta(hours=24))
    c["late_mobile_events"] = int(late.sum())
    c["late_mobile_events.over_3_days"] = int((parseable & ((events["rs"] - events["ts"]) > timedelta(days=3))).sum())
    c["late_sources"] = set(events.loc[late, "source_system"])
    c["consent_denied"] = int(events.loc[~events["consent_granted"], "anonymous_id"].nunique())

    # accepted rows (no quarantine reason), then unit-level facts per anonymous_id x experiment version
    accepted = (
        events["event_id"].notna()
        & ~missing_unit
        & parseable
        & ~(events["ts"] > events["rs"] + timedelta(minutes=60))
        & ~negative
        & ~(exp_row & ~valid_triple)
    )
    ok = events[accepted]
    key = ["anonymous_id", "experiment_id", "experiment_version"]
    assigned = (
        ok[ok["event_name"] == contract.ASSIGNMENT_EVENT]
        .groupby(key)
        .agg(assigned_at=("ts", "min"), variant_id=("variant_id", "first"), mechanism=("assignment_mechanism", "first"))
    )
    exposed = (
        ok[ok["event_name"] == contract.EXPOSURE_EVENT]
        .groupby(key)
        .agg(first_exposed=("ts", "min"), last_exposed=("ts", "max"))
    )
    units = assigned.join(exposed, how="outer")
    never = units[units["assigned_at"].notna() & units["first_exposed"].isna()]
    c["never_exposed_by_cell"] = never.groupby(["experiment_id", "experiment_version", "variant_id"]).size().to_dict()
    c["never_exposed_total"] = int(len(never))
    c["override_assignments"] = int((units["mechanism"] == "override").sum())
    both = units.dropna(subset=["assigned_at", "first_exposed"])
    eba = both[both["first_exposed"] < both["assigned_at"]]
    c["exposure_before_assignment"] = int(len(eba))
    c["eba_experiments"] = set(eba.index.get_level_values("experiment_id"))
    windows = experiments.groupby(["experiment_id", "experiment_version"]).agg(
        started_at=("started_at", "first"), ended_at=("ended_at", "first")
    )
    exposed_w = exposed.join(windows, on=["experiment_id", "experiment_version"])
    outside = exposed_w[
        (exposed_w["first_exposed"] < exposed_w["started_at"])
        | (exposed_w["ended_at"].notna() & (exposed_w["last_exposed"] > exposed_w["ended_at"]))
    ]
    c["exposure_outside_window"] = int(len(outside))
    c["outside_experiments"] = set(outside.index.get_level_values("experiment_id"))

    # identity: anonymous id -> user id by the earliest accepted row carrying both
    links = ok[ok["anonymous_id"].notna() & ok["user_id"].notna()].sort_values(["ts", "user_id"])
    resolved = links.drop_duplicates("anonymous_id").set_index("anonymous_id")["user_id"]
    exp_ok = ok[ok["event_name"].isin([contract.ASSIGNMENT_EVENT, contract.EXPOSURE_EVENT])].copy()
    exp_ok["user"] = exp_ok["anonymous_id"].map(resolved)
    per_user = exp_ok.dropna(subset=["user"]).groupby(["user", "experiment_id", "experiment_version"])["variant_id"]
    several = per_user.nunique()
    several = several[several > 1]
    c["cross_variant_units"] = int(len(several))
    c["cross_variant_experiments"] = set(several.index.get_level_values("experiment_id"))
    return c


def manifest_counts(manifest: dict) -> dict:
    f, r = manifest["faults"], manifest["realism"]
    out = {
        name: f[name]["count"]
        for name in (
            "duplicate_retries",
            "conflicting_duplicates",
            "mixed_schema_versions",
            "exposure_before_assignment",
            "exposure_outside_window",
            "cross_variant_units",
        )
    }
    for name in ("unknown_ids", "malformed_rows"):
        out.update({f"{name}.{k}": v for k, v in f[name]["sub_counts"].items()})
    out.update({f"bot_traffic.{k}": v for k, v in f["bot_traffic"]["sub_counts"].items()})
    out["late_mobile_events"] = r["late_mobile_events"]["count"]
    out["late_mobile_events.over_3_days"] = r["late_mobile_events"]["sub_counts"]["over_3_days"]
    out["consent_denied"] = r["consent_denied"]["count"]
    out["override_assignments"] = r["override_assignments"]["count"]
    return out


def assert_counts_match(manifest: dict, c: dict) -> None:
    expected = manifest_counts(manifest)
    got = {k: c[k] for k in expected}
    assert got == expected
    # variant_logging_loss: assigned-but-never-exposed units, per cell = realism + loss, exactly
    loss = manifest["faults"]["variant_logging_loss"]
    natural = {
        (x["experiment_id"], x["experiment_version"], x["variant_id"]): x["units"]
        for x in manifest["realism"]["assigned_never_exposed"]["by_variant"]
    }
    lost = {(x["experiment_id"], x["experiment_version"], x["variant_id"]): x["units"] for x in loss["by_variant"]}
    assert sum(lost.values()) == loss["count"]
    assert manifest["realism"]["assigned_never_exposed"]["count"] == sum(natural.values())
    cells = set(natural) | set(lost) | set(c["never_exposed_by_cell"])
    for cell in cells:
        assert c["never_exposed_by_cell"].get(cell, 0) == natural.get(cell, 0) + lost.get(cell, 0), cell
    assert c["never_exposed_total"] == manifest["realism"]["assigned_never_exposed"]["count"] + loss["count"]
    if loss["count"]:
        assert set(lost) == {(loss["experiment_id"], loss["experiment_version"], loss["variant_id"])}
    # only mobile rows are ever more than a day late
    assert c["late_sources"] <= {"ios", "android"}
    # the biasing faults target only the faulted experiment
    for name in ("eba_experiments", "outside_experiments", "cross_variant_experiments"):
        assert c[name] <= {"exp_search_ranking"}, name


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    manifest = make(out)
    return out, manifest, load_events(out), load_experiments(out)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    out = tmp_path_factory.mktemp("as_of")
    manifest = make(out, as_of=AS_OF)
    return out, manifest, load_events(out), load_experiments(out)


# ------------------------------------------------------------------------------------------- tests
def test_all_faults_recounted_from_files(full):
    _, manifest, events, experiments = full
    c = recount(events, experiments)
    assert_counts_match(manifest, c)
    for name in FAULT_NAMES:
        assert manifest["faults"][name]["enabled"]
        assert manifest["faults"][name]["count"] > 0, name
    assert manifest["faults"]["unknown_ids"]["count"] == sum(manifest["faults"]["unknown_ids"]["sub_counts"].values())
    assert manifest["faults"]["malformed_rows"]["count"] == sum(
        manifest["faults"]["malformed_rows"]["sub_counts"].values()
    )
    assert all(v > 0 for v in manifest["faults"]["malformed_rows"]["sub_counts"].values())
    assert manifest["counts"]["event_rows"] == len(events)
    plausible = events["ts"].notna() & (events["ts"] <= events["rs"] + timedelta(minutes=60))
    iso = lambda value: value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"  # noqa: E731
    assert manifest["date_range"]["event_at_min"] == iso(events.loc[plausible, "ts"].min())
    assert manifest["date_range"]["event_at_max"] == iso(events.loc[plausible, "ts"].max())
    assert manifest["date_range"]["received_at_min"] == iso(events["rs"].min())
    assert manifest["date_range"]["received_at_max"] == iso(events["rs"].max())
    assert events.loc[plausible, "ts"].max() < pd.Timestamp("2026-02-14")  # no event time after the data end


def test_each_malformed_row_has_exactly_one_defect(full):
    _, _, events, _ = full
    parseable = events["ts"].notna()
    defects = pd.DataFrame(
        {
            "missing_event_id": events["event_id"].isna(),
            "missing_unit_id": events["anonymous_id"].isna() & events["user_id"].isna(),
            "unparseable_event_at": ~parseable,
            "future_event_at": parseable & (events["ts"] > events["rs"] + timedelta(minutes=60)),
            "negative_revenue": (events["event_name"] == "purchase") & (events["revenue"] < 0),
        }
    )
    assert defects.sum(axis=1).max() == 1
    assert events["rs"].notna().all()  # the collector clock is always well formed


def test_logging_loss_hits_ios_units_of_the_target_cell(full):
    _, manifest, events, _ = full
    loss = manifest["faults"]["variant_logging_loss"]
    assert (loss["experiment_id"], loss["experiment_version"], loss["variant_id"], loss["source_system"]) == (
        "exp_search_ranking",
        2,
        "treatment",
        "ios",
    )
    # units of the target cell without exposure: their client rows are all on one platform
    ok = events[events["event_id"].notna() & events["anonymous_id"].notna()]
    cell = ok[
        (ok["experiment_id"] == "exp_search_ranking")
        & (ok["experiment_version"] == 2)
        & (ok["variant_id"] == "treatment")
    ]
    assigned = set(cell.loc[cell["event_name"] == contract.ASSIGNMENT_EVENT, "anonymous_id"])
    exposed = set(cell.loc[cell["event_name"] == contract.EXPOSURE_EVENT, "anonymous_id"])
    never = assigned - exposed
    platform = ok[ok["source_system"] != "server"].groupby("anonymous_id")["source_system"].first()
    ios_never = sum(platform.get(unit) == "ios" for unit in never)
    assert ios_never >= loss["count"] > 0


def test_no_faults_means_zero_fault_rows(tmp_path):
    manifest = make(tmp_path, faults=frozenset(), events=60_000)
    events, experiments = load_events(tmp_path), load_experiments(tmp_path)
    c = recount(events, experiments)
    assert_counts_match(manifest, c)
    for name, fault in manifest["faults"].items():
        assert not fault["enabled"] and fault["count"] == 0, name
        for value in fault.get("sub_counts", {}).values():
            assert value == 0
    assert (events["file_version"] == 1).all()
    assert events["event_id"].is_unique
    # realism remains
    for name in ("assigned_never_exposed", "consent_denied", "late_mobile_events", "override_assignments"):
        assert manifest["realism"][name]["count"] > 0, name


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_each_fault_switches_independently(tmp_path, fault):
    manifest = make(tmp_path, faults={fault}, events=60_000, seed=11)
    c = recount(load_events(tmp_path), load_experiments(tmp_path))
    assert_counts_match(manifest, c)
    for name, entry in manifest["faults"].items():
        assert entry["enabled"] == (name == fault)
        assert (entry["count"] > 0) == (name == fault), name


def test_as_of_snapshot_counts_and_subset(full, snapshot):
    _, full_manifest, full_events, _ = full
    _, manifest, events, experiments = snapshot
    cut = datetime(2026, 2, 5, 12)
    assert (events["rs"] < cut).all()
    columns = list(contract.EVENT_COLUMNS_V1)
    as_rows = lambda frame: pd.util.hash_pandas_object(frame[columns], index=False).tolist()  # noqa: E731
    expected = full_events[full_events["rs"] < cut]
    assert sorted(as_rows(events)) == sorted(as_rows(expected))  # exactly the full set, cut at as_of
    assert len(events) < len(full_events)
    assert_counts_match(manifest, recount(events, experiments))
    assert manifest["arguments"]["as_of"] == "2026-02-05T12:00:00.000Z"
    assert manifest["truth"] == full_manifest["truth"]
    # the export as it stood: versions ending after as_of are still running
    running = experiments[experiments["ended_at"].isna() & experiments["started_at"].notna()]
    assert set(running["experiment_id"]) >= {"exp_checkout_button", "exp_search_ranking"}
    assert (experiments.loc[experiments["status"] == "running", "ended_at"].isna()).all()


def test_as_of_before_any_data_writes_an_empty_readable_zone(tmp_path):
    manifest = make(tmp_path, events=20_000, as_of="2025-12-01")
    assert manifest["counts"]["event_rows"] == 0
    table = pq.read_table(tmp_path / contract.EVENTS_DIR)
    assert table.num_rows == 0 and table.column_names == list(contract.EVENT_COLUMNS_V1)
    assert (load_experiments(tmp_path)["status"] == "draft").all()


def test_clean_population_counts(full):
    """population.clean_exposed_units = consenting human non-fault exposed units (recounted)."""
    out, manifest, events, _ = full
    ok = events[events["event_id"].notna() & events["anonymous_id"].notna() & events["ts"].notna()]
    unit_flags = ok.groupby("anonymous_id").agg(
        consent=("consent_granted", "all"), human=("traffic_type", lambda s: (s == "human").all())
    )
    valid = load_experiments(out)[["experiment_id", "experiment_version", "variant_id"]]
    ok = ok.merge(valid, on=["experiment_id", "experiment_version", "variant_id"], how="left", indicator=True)
    exp_row = ok["event_name"].isin([contract.ASSIGNMENT_EVENT, contract.EXPOSURE_EVENT])
    ok = ok[~exp_row | (ok["_merge"] == "both")]
    exposures = ok[ok["event_name"] == contract.EXPOSURE_EVENT]
    assignments = ok[ok["event_name"] == contract.ASSIGNMENT_EVENT]
    clean = {
        (x["experiment_id"], x["experiment_version"], x["variant_id"]): x["units"]
        for x in manifest["population"]["clean_exposed_units"]
    }
    for experiment_id in ("exp_checkout_button", "exp_onboarding_flow", "exp_pricing_banner", "exp_homepage_aa"):
        exp_x = exposures[exposures["experiment_id"] == experiment_id]
        exp_a = assignments[assignments["experiment_id"] == experiment_id]
        exp_x = exp_x[exp_x["anonymous_id"].isin(set(exp_a["anonymous_id"]))]
        per_unit = exp_x.groupby("anonymous_id")["variant_id"].agg(["first", "nunique"])
        per_unit = per_unit.join(unit_flags)
        per_unit = per_unit[per_unit["consent"] & per_unit["human"]]
        assert (per_unit["nunique"] == 1).all()
        counted = per_unit.groupby("first").size().to_dict()
        for (e, _, variant), units in clean.items():
            if e == experiment_id:
                assert counted.get(variant, 0) == units, (experiment_id, variant)
    assert np.isfinite([x["units"] for x in manifest["population"]["clean_exposed_units"]]).all()
