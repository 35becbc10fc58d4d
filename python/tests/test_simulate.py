"""readout simulate: determinism, contract conformance, CLI behaviour, output-folder safety, ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import integrate, stats

try:
    import readout  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readout import contract
from readout.simulate import FAULT_NAMES, landing, limits, main, runner, strings, truth, write
from readout.simulate import config as C

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "seeds" / "metric_catalog.csv"
TYPES = {
    "string": pa.string(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "double": pa.float64(),
    "timestamp[us]": pa.timestamp("us"),
}


def run(out: Path, *args: str) -> int:
    return main(["--out", str(out), "--quiet", *args])


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def read_events(out: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((out / "events").glob("*.parquet")):
        frame = pq.read_table(path).to_pandas()
        frames.append(frame.rename(columns={v: k for k, v in contract.EVENT_RENAMES_V2.items()}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    assert run(out, "--seed", "3", "--events", "40000", "--chunk-events", "15000") == 0
    return out


# ------------------------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_different_seed_different_data(small, tmp_path):
    again = tmp_path / "again"
    assert run(again, "--seed", "3", "--events", "40000", "--chunk-events", "15000") == 0
    first = digests(small)
    assert first == digests(again)
    assert len([name for name in first if name.startswith("events/")]) >= 4  # several chunks, v1 and v2
    other = tmp_path / "other"
    assert run(other, "--seed", "4", "--events", "40000", "--chunk-events", "15000") == 0
    assert not set(digests(other).values()) & {v for k, v in first.items() if k.startswith("events/")}
    assert not set(read_events(other)["event_id"].dropna()) & set(read_events(small)["event_id"].dropna())


def test_chunk_size_changes_files_not_data(small, tmp_path):
    out = tmp_path / "one_chunk"
    assert run(out, "--seed", "3", "--events", "40000") == 0
    columns = list(contract.EVENT_COLUMNS_V1)
    rows = lambda frame: sorted(pd.util.hash_pandas_object(frame[columns], index=False).tolist())  # noqa: E731
    assert rows(read_events(out)) == rows(read_events(small))
    a, b = json.loads((out / "manifest.json").read_text()), json.loads((small / "manifest.json").read_text())
    assert a["faults"] == b["faults"] and a["truth"] == b["truth"] and a["realism"] == b["realism"]


def test_manifest_volumes_are_consistent(small):
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["contract_version"] == contract.CONTRACT_VERSION
    assert manifest["arguments"] == {
        "seed": 3,
        "events": 40000,
        "faults": list(FAULT_NAMES),
        "as_of": None,
        "chunk_events": 15000,
    }
    counts = manifest["counts"]
    event_files = [f for f in manifest["files"] if f["path"].startswith("events/")]
    assert counts["event_rows"] == sum(f["rows"] for f in event_files) == len(read_events(small))
    assert counts["event_rows"] == sum(counts["rows_by_schema_version"].values())
    assert counts["event_rows"] == sum(counts["rows_by_source_system"].values())
    assert counts["event_rows"] == sum(counts["rows_by_event_name"].values())
    assert counts["rows_by_schema_version"]["2"] == manifest["faults"]["mixed_schema_versions"]["count"]
    assert 0.7 * 40000 < counts["event_rows"] < 1.3 * 40000
    for entry in manifest["files"]:
        assert hashlib.sha256((small / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    for name, fault in manifest["faults"].items():
        assert fault["unit"] in ("rows", "units") and fault["description"] and isinstance(fault["count"], int), name
    for name in (
        "variant_logging_loss",
        "cross_variant_units",
        "exposure_before_assignment",
        "exposure_outside_window",
    ):
        assert manifest["faults"][name]["experiment_id"] == "exp_search_ranking"


# --------------------------------------------------------------------------------------- contract
def test_written_files_follow_the_contract(small):
    for path in sorted((small / "events").glob("*.parquet")):
        version = 2 if path.stem.endswith("-v2") else 1
        schema = pq.read_schema(path)
        expected = contract.EVENT_COLUMNS_BY_VERSION[version]
        assert schema.names == list(expected), path.name
        assert [schema.field(n).type for n in expected] == [TYPES[t] for t in expected.values()], path.name
        table = pq.read_table(path).to_pandas()
        assert set(table["schema_version"]) == {version}
    experiments = pq.read_table(small / "experiments")
    assert experiments.schema.names == list(contract.EXPERIMENT_COLUMNS)
    assert [f.type for f in experiments.schema] == [TYPES[t] for t in contract.EXPERIMENT_COLUMNS.values()]
    frame = experiments.to_pandas()
    for _, version in frame.groupby(["experiment_id", "experiment_version"]):
        assert math.isclose(version["allocation_weight"].sum(), 1.0, abs_tol=1e-12)
        assert version["is_control"].sum() == 1
        assert version["status"].nunique() == 1 and version["status"].iloc[0] in contract.EXPERIMENT_STATUSES
    assert set(frame["unit_type"]) <= set(contract.UNIT_TYPES)
    assert (frame.loc[frame["status"] == "draft", "started_at"].isna()).all()
    assert {
        "exp_checkout_button",
        "exp_onboarding_flow",
        "exp_pricing_banner",
        "exp_homepage_aa",
        "exp_search_ranking",
    } <= set(frame["experiment_id"])
    assert set(frame.loc[frame["experiment_id"] == "exp_search_ranking", "experiment_version"]) == {1, 2}
    pricing = frame[frame["experiment_id"] == "exp_pricing_banner"].set_index("variant_id")["allocation_weight"]
    assert pricing.to_dict() == {"control": 0.9, "treatment": 0.1}


def test_row_level_vocabularies(small):
    events = read_events(small)
    assert set(events["event_name"]) <= set(contract.EVENT_NAMES)
    assert set(events["source_system"]) <= set(contract.SOURCE_SYSTEMS)
    assert set(events["assignment_mechanism"].dropna()) == set(contract.ASSIGNMENT_MECHANISMS)
    exp_rows = events["event_name"].isin([contract.ASSIGNMENT_EVENT, contract.EXPOSURE_EVENT])
    assert events.loc[exp_rows, ["experiment_id", "experiment_version", "variant_id"]].notna().all().all()
    assert events.loc[~exp_rows, ["experiment_id", "experiment_version", "variant_id"]].isna().all().all()
    assigned = events["event_name"] == contract.ASSIGNMENT_EVENT
    assert (events.loc[assigned, "source_system"] == "server").all()
    assert events.loc[assigned, "assignment_mechanism"].notna().all()
    assert events.loc[~assigned, "assignment_mechanism"].isna().all()
    purchase = events["event_name"] == "purchase"
    assert events.loc[purchase, "revenue"].notna().all() and (events.loc[purchase, "currency"] == "USD").all()
    assert events.loc[~purchase, ["revenue", "currency"]].isna().all().all()
    sessions = events["event_name"] == "session_start"
    assert events.loc[sessions, "session_id"].notna().all()
    assert (events[events["session_id"].notna()].groupby("session_id")["anonymous_id"].nunique() <= 1).all()
    assert events["received_at"].str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").all()
    for text in events["properties"].unique():
        parsed = json.loads(text)
        assert isinstance(parsed, dict)
        assert parsed.get("traffic_type", "human") in contract.TRAFFIC_TYPES
    # identity: a device carries one user id, and only from its login on
    users = events.dropna(subset=["user_id", "anonymous_id"]).groupby("anonymous_id")["user_id"].nunique()
    assert (users == 1).all()
    ts = pd.to_datetime(events["event_at"], format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce")
    assert ts[ts.notna()].min() >= pd.Timestamp("2026-01-01")


def test_funnel_definitions_match_the_catalog():
    catalog = pd.read_csv(REPO / "seeds" / "funnel_catalog.csv", keep_default_na=False)
    assert set(catalog.funnel_id) == {funnel.funnel_id for funnel in C.FUNNELS}
    for funnel in C.FUNNELS:
        rows = catalog[catalog.funnel_id == funnel.funnel_id].sort_values("step_number")
        assert [(int(r.step_number), r.step_name, r.event_name, int(r.window_days)) for r in rows.itertuples()] == [
            (step.step_number, step.step_name, step.event_name, step.window_days) for step in funnel.steps
        ]
        assert (rows.event_filter == "").all() and (rows.funnel_version == funnel.funnel_version).all()


def test_funnel_truth_counts_nest_and_cover_the_clean_population(small):
    manifest = json.loads((small / "manifest.json").read_text())
    steps = pd.DataFrame(manifest["truth"]["funnel_steps"])
    arms = {(a["experiment_id"], a["experiment_version"], a["variant_id"]) for a in manifest["truth"]["arms"]}
    keys = ["experiment_id", "experiment_version", "variant_id"]
    assert set(steps[keys].itertuples(index=False, name=None)) == arms
    assert len(steps) == len(arms) * sum(len(funnel.steps) for funnel in C.FUNNELS)
    assert (steps.n_reached <= steps.n_reached_previous).all() and (steps.n_reached_previous <= steps.n_units).all()
    for _, rows in steps.groupby([*keys, "funnel_id"]):
        rows = rows.sort_values("step_number")
        assert rows.n_reached_previous.iloc[0] == rows.n_units.iloc[0]
        assert (rows.n_reached_previous.iloc[1:].to_numpy() == rows.n_reached.iloc[:-1].to_numpy()).all()
    clean = pd.DataFrame(manifest["population"]["clean_exposed_units"]).set_index(keys).units
    first = steps[steps.step_number == 1].set_index(keys)
    total = (first.n_units + first.n_units_window_truncated).reindex(clean.index)
    assert (total == clean).all() and first.n_reached.sum() > 100


def test_exposures_carry_the_units_country(small):
    """The country unit attribute (seeds/segment_attributes.csv) is on every exposure row, one per unit."""
    events = pd.concat(pq.read_table(path).to_pandas() for path in sorted((small / "events").rglob("*.parquet")))
    exposures = events[events.event_name == contract.EXPOSURE_EVENT]
    unit = exposures["anonymous_id"]
    if "device_id" in exposures:  # schema version 2 renames it
        unit = unit.fillna(exposures["device_id"])
    country = exposures.properties.map(lambda text: json.loads(text).get("country"))
    assert set(country) <= set(C.COUNTRIES) and len(set(country)) == len(C.COUNTRIES)
    assert (country.groupby(unit.to_numpy()).nunique() == 1).all()
    others = events[events.event_name != contract.EXPOSURE_EVENT].properties
    assert not others.str.contains('"country"').any()


def test_metric_definitions_match_the_catalog():
    with open(CATALOG, newline="") as handle:
        rows = {row["metric_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {m.metric_id for m in C.METRICS}
    for metric in C.METRICS:
        row = rows[metric.metric_id]
        assert row["metric_type"] == metric.metric_type
        assert row["numerator_event"] == metric.numerator_event
        assert row["numerator_aggregation"] == metric.numerator_aggregation
        assert (row["denominator_event"] or None) == metric.denominator_event
        assert (row["denominator_aggregation"] or None) == metric.denominator_aggregation
        assert int(row["window_start_days"]) == metric.window_start_days
        assert int(row["window_end_days"]) == metric.window_end_days
        assert row["event_filter"] == "" and row["cap_type"] == "none"
    assert float(rows["retention_d7"]["non_inferiority_margin"]) == 0.02


# -------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    "args, message",
    [
        (["--faults", "duplicate_retries,bogus"], "unknown fault 'bogus'"),
        (["--events", "0"], "must be at least 1"),
        (["--events", "lots"], "expected a whole number"),
        (["--as-of", "yesterday"], "expected an ISO-8601 timestamp"),
        (["--seed", "-1"], "must be at least 0"),
        (["--seed", "2**62"], "expected a whole number"),
        (
            ["--seed", str(2**63)],
            "must be at most 9,223,372,036,854,775,807 (2**63 - 1), got 9,223,372,036,854,775,808",
        ),
        (["--seed", "1e30"], "must be at most 9,223,372,036,854,775,807 (2**63 - 1), got a number of 31 digits"),
        (["--events", "1_000_000_001"], "must be at most 1,000,000,000"),
        (["--chunk-events", "1e8"], "must be at most 10,000,000"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        run(tmp_path / "out", *args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err.splitlines()[-1] and err.splitlines()[-1].startswith("readout simulate: error: ")
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_largest_seed_runs_and_smaller_seeds_keep_their_ids():
    """Every seed up to 2**63 - 1 runs (it used to overflow the id salts past 2**63 - 2), and the salts of
    the seeds that worked before are unchanged (same seed, same bytes across versions)."""
    assert write.id_salts(limits.MAX_SEED) != write.id_salts(limits.MAX_SEED - 1)
    for seed in (0, 42, 2**62, limits.MAX_SEED - 1):
        mixed = strings.splitmix64(np.array([2 * seed + 1, 2 * seed + 2], dtype=np.uint64))
        assert write.id_salts(seed) == (int(mixed[0]), int(mixed[1]))


def test_largest_seed_end_to_end(tmp_path):
    assert run(tmp_path, "--seed", str(limits.MAX_SEED), "--events", "3000") == 0
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == limits.MAX_SEED


def test_bytes_per_event_bounds_what_the_writer_writes(small):
    """The disk-space estimate stays an upper bound of the written Parquet, and not a loose one."""
    written = sum(p.stat().st_size for p in (small / "events").iterdir())
    per_event = written / 40000
    assert limits.BYTES_PER_EVENT / 2 < per_event <= limits.BYTES_PER_EVENT


def test_refuses_a_run_the_disk_cannot_hold(tmp_path, capsys, monkeypatch):
    free = 5_000_000
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**12, used=10**12 - free, free=free))
    assert run(tmp_path / "out", "--events", "100000") == 2
    err = capsys.readouterr().err
    assert err == (
        f"readout simulate: error: --events 100,000 needs about 8.0 MB in {tmp_path / 'out'} "
        "(80 bytes per event), but only 5.0 MB is free there; choose fewer --events or another --out\n"
    )
    assert not (tmp_path / "out").exists()
    assert run(tmp_path / "out", "--events", "60000") == 0  # 4.8 MB fits


def test_refuses_foreign_folder_unless_forced(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert run(tmp_path, "--events", "5000") == 2
    err = capsys.readouterr().err
    assert err.startswith("readout simulate: error: ") and "--force" in err and err.count("\n") == 1
    assert not (tmp_path / "events").exists()
    assert run(tmp_path, "--events", "5000", "--force") == 0
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "manifest.json").exists()


def test_refuses_a_landing_zone_it_did_not_write(tmp_path, capsys):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "other.parquet").write_bytes(b"x")
    assert run(tmp_path, "--events", "5000") == 2
    assert "manifest.json" in capsys.readouterr().err
    assert (tmp_path / "events" / "other.parquet").exists()
    (tmp_path / "plain").write_text("x")
    assert run(tmp_path / "plain", "--events", "5000") == 2


def test_shares_the_landing_zone_with_readout_import(tmp_path):
    """The importer's files (imports/, experiments/import_*.parquet, _empty.parquet placeholders) are
    co-tenants: no refusal, and they survive a re-run."""
    (tmp_path / "imports" / "units").mkdir(parents=True)
    (tmp_path / "imports" / "units" / "cookie.parquet").write_bytes(b"imported")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "import_cookie.parquet").write_bytes(b"imported export")
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "_empty.parquet").write_bytes(b"placeholder")
    for _ in range(2):
        assert run(tmp_path, "--events", "5000") == 0
    assert (tmp_path / "imports" / "units" / "cookie.parquet").read_bytes() == b"imported"
    assert (tmp_path / "experiments" / "import_cookie.parquet").read_bytes() == b"imported export"
    assert (tmp_path / "experiments" / "experiments.parquet").exists()
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["part-00000-v2.parquet", "part-00000.parquet"]


def test_replaces_its_own_output_and_survives_a_failed_run(tmp_path, monkeypatch):
    assert run(tmp_path, "--events", "40000", "--chunk-events", "5000") == 0
    many = {p.name for p in (tmp_path / "events").iterdir()}
    assert run(tmp_path, "--events", "5000") == 0
    assert {p.name for p in (tmp_path / "events").iterdir()} < many  # stale parts are gone
    before = digests(tmp_path)

    calls = {"n": 0}
    real = write.write_parquet

    def failing(table, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(table, path)

    monkeypatch.setattr(write, "write_parquet", failing)
    assert run(tmp_path, "--events", "40000", "--chunk-events", "5000", "--seed", "9") == 2
    assert digests(tmp_path) == before  # previous output intact, staging removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events", "experiments", "imports", "manifest.json"]


# ----------------------------------------------------------------------------- killed runs, temp folder
def start_in_background(out: Path, preexec_fn=None) -> subprocess.Popen:
    """A long run (5M events) in another process, returned once it has written its first Parquet file."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "readout.simulate",
            "--out",
            str(out),
            "--quiet",
            "--events",
            "5000000",
            "--chunk-events",
            "50000",
            "--seed",
            "8",
        ],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )
    events = out / landing.STAGING / "events"
    deadline = time.monotonic() + 60
    while not (events.is_dir() and any(events.iterdir())):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the background run wrote nothing in 60 s"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_terminated_run_removes_its_temp_folder_and_keeps_the_previous_output(tmp_path, signum):
    assert run(tmp_path, "--events", "3000") == 0
    before = digests(tmp_path)
    process = start_in_background(tmp_path)
    process.send_signal(signum)
    assert process.wait(timeout=60) == 130
    assert process.stderr.read() == "readout simulate: interrupted\n"
    assert not (tmp_path / landing.STAGING).exists()
    assert digests(tmp_path) == before


def test_an_interrupt_whose_exception_was_dropped_still_stops_the_run(tmp_path, monkeypatch):
    """Python drops an exception raised in a finalizer, where a signal can land (seen once in CI: Ctrl-C, exit
    0 after the whole run). The signal is recorded too, and the run stops at the next chunk, publishing nothing."""
    assert run(tmp_path, "--events", "3000") == 0
    before = digests(tmp_path)
    real_chunks = runner.generate.iter_chunks

    def chunks_after_a_dropped_interrupt(*args, **kwargs):
        for number, chunk in enumerate(real_chunks(*args, **kwargs)):
            if number == 1:
                try:
                    signal.raise_signal(signal.SIGINT)  # the handler raises KeyboardInterrupt...
                except KeyboardInterrupt:
                    pass  # ...which a finalizer would drop
            yield chunk

    monkeypatch.setattr(runner.generate, "iter_chunks", chunks_after_a_dropped_interrupt)
    assert run(tmp_path, "--events", "20000", "--chunk-events", "2000") == 130
    assert not (tmp_path / landing.STAGING).exists()
    assert digests(tmp_path) == before
    limits.check_interrupted()  # nothing left over once the run is done


def test_ctrl_c_stops_a_run_started_with_sigint_ignored(tmp_path):
    """A process started with SIGINT ignored (a background job of a shell without job control) gets no
    KeyboardInterrupt from Python by default: the run installs its own handler."""
    process = start_in_background(tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert not (tmp_path / landing.STAGING).exists()


def test_the_temp_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    process = start_in_background(tmp_path)
    process.kill()  # SIGKILL: no handler runs, the temp folder stays behind
    process.wait(timeout=60)
    marker = json.loads((tmp_path / landing.STAGING / landing.MARKER).read_text())
    assert marker["generator"] == "readout.simulate" and marker["pid"] == process.pid
    assert main(["--out", str(tmp_path), "--events", "3000", "--faults", "none"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events", "experiments", "imports", "manifest.json"]


def test_a_temp_folder_in_use_or_not_the_simulators_is_left_alone(tmp_path, capsys):
    assert run(tmp_path, "--events", "3000") == 0
    staging = tmp_path / landing.STAGING
    staging.mkdir()
    (staging / "data.bin").write_bytes(b"not ours")
    assert run(tmp_path, "--events", "3000") == 2  # no marker: not made by the simulator
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no marker of readout simulate" in err and "--force" in err
    assert (staging / "data.bin").exists()
    (staging / landing.MARKER).write_text(json.dumps({"generator": "readout.simulate", "pid": 4242}))
    with open(staging / landing.MARKER) as held:  # a live run holds the marker's lock
        landing.fcntl.flock(held.fileno(), landing.fcntl.LOCK_EX)
        assert run(tmp_path, "--events", "3000") == 2
        err = capsys.readouterr().err
        assert err == (
            f"readout simulate: error: another readout simulate (PID 4242) is writing to --out "
            f"{tmp_path}; wait for it to finish, or stop it\n"
        )
        assert (staging / "data.bin").exists()
    (staging / landing.MARKER).unlink()
    assert run(tmp_path, "--events", "3000", "--force") == 0  # --force replaces an unmarked one
    assert not staging.exists()


def test_default_out_from_environment_and_cli_wiring(tmp_path, monkeypatch):
    monkeypatch.setenv("READOUT_LANDING_PATH", str(tmp_path / "landing"))
    assert main(["--events", "3000", "--quiet", "--faults", "none"]) == 0
    manifest = json.loads((tmp_path / "landing" / "manifest.json").read_text())
    assert manifest["arguments"]["faults"] == []
    from readout import cli

    assert cli.main(["simulate", "--events", "3000", "--quiet", "--out", str(tmp_path / "via_cli")]) == 0
    assert (tmp_path / "via_cli" / "manifest.json").exists()


# ------------------------------------------------------------------------------------------ truth
def _activity_density(x: float) -> float:
    return sum(w * stats.gamma.pdf(x, a=k, scale=t) for w, k, t in C.ACTIVITY_MIXTURE)


def _expect(function) -> float:
    """E[function(lambda)] by numerical integration over the activity mixture."""
    value, _ = integrate.quad(lambda x: function(x) * _activity_density(x), 0, math.inf, epsabs=1e-13)
    return value


def test_closed_forms_against_numerical_integration():
    for s in (0.05, 0.3, 2.45):
        assert abs(truth.laplace(s) - _expect(lambda x, s=s: math.exp(-s * x))) < 1e-9
    # conversion, control arm: integrate P(N >= 1 | lambda) over lambda, platform by platform
    effect = C.NO_EFFECT
    expected = 0.0
    for platform, weight in zip(C.PLATFORMS, C.PLATFORM_WEIGHTS):
        rate = C.PURCHASE_RATE_PER_DAY[platform] * 7
        expected += weight * _expect(lambda x, rate=rate: 1 - math.exp(-rate * x))
    metric = next(m for m in C.METRICS if m.metric_id == "conversion")
    assert abs(truth.arm_metric(effect, metric)["mean"] - expected) < 1e-9
    basket = sum(p * w for p, w in zip(C.PRICES_CENTS, C.PRICE_WEIGHTS)) / 100 * (1 + C.BASE_KAPPA)
    revenue = next(m for m in C.METRICS if m.metric_id == "revenue")
    lam = sum(w * k * t for w, k, t in C.ACTIVITY_MIXTURE)
    by_hand = sum(w * C.PURCHASE_RATE_PER_DAY[p] * 14 * lam * basket for p, w in zip(C.PLATFORMS, C.PLATFORM_WEIGHTS))
    assert abs(truth.arm_metric(effect, revenue)["mean"] - by_hand) < 1e-9


def test_truth_table_shape_and_planted_effects(small):
    lifts = json.loads((small / "manifest.json").read_text())["truth"]["lifts"]
    table = {(x["experiment_id"], x["experiment_version"], x["variant_id"], x["metric_id"]): x for x in lifts}
    treatments = {
        ("exp_checkout_button", 1, "treatment"),
        ("exp_onboarding_flow", 1, "variant_a"),
        ("exp_onboarding_flow", 1, "variant_b"),
        ("exp_pricing_banner", 1, "treatment"),
        ("exp_homepage_aa", 1, "treatment"),
        ("exp_search_ranking", 1, "treatment"),
        ("exp_search_ranking", 2, "treatment"),
    }
    assert {k[:3] for k in table} == treatments
    assert {k[3] for k in table} == {m.metric_id for m in C.METRICS}
    for row in lifts:
        assert math.isclose(row["absolute_lift"], row["variant_mean"] - row["control_mean"], abs_tol=1e-15)
        assert math.isclose(row["relative_lift"], row["absolute_lift"] / row["control_mean"], rel_tol=1e-12)
    lift = lambda e, v, m, version=1: table[(e, version, v, m)]["relative_lift"]  # noqa: E731
    assert all(lift("exp_homepage_aa", "treatment", m.metric_id) == 0 for m in C.METRICS)
    assert all(lift("exp_onboarding_flow", "variant_b", m.metric_id) == 0 for m in C.METRICS)
    assert lift("exp_onboarding_flow", "variant_a", "sessions") > 0.05
    assert lift("exp_onboarding_flow", "variant_a", "retention_d7") > 0.02
    assert lift("exp_checkout_button", "treatment", "conversion") > 0.05
    assert lift("exp_checkout_button", "treatment", "revenue") > 0.05
    assert lift("exp_pricing_banner", "treatment", "conversion") > 0.05
    assert lift("exp_pricing_banner", "treatment", "retention_d7") < -2 * 0.02  # well beyond the margin
    ratio = table[("exp_checkout_button", 1, "treatment", "revenue_per_session")]
    revenue = table[("exp_checkout_button", 1, "treatment", "revenue")]
    sessions = table[("exp_checkout_button", 1, "treatment", "sessions")]
    assert math.isclose(ratio["variant_mean"], revenue["variant_mean"] / sessions["variant_mean"], rel_tol=1e-12)


def test_empirical_arm_means_near_truth(tmp_path):
    """Clean experiments, clean data: per-arm means from the rows with the catalog's windows are within
    4 standard errors of the manifest's exact expectations."""
    assert run(tmp_path, "--seed", "5", "--events", "250000", "--faults", "none") == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    events = read_events(tmp_path)
    events["ts"] = pd.to_datetime(events["event_at"], format="%Y-%m-%dT%H:%M:%S.%fZ")
    assert events["event_id"].is_unique  # no faults: no duplicates
    assert events.loc[events["event_name"] == "session_start", "session_id"].is_unique
    consent = events.groupby("anonymous_id")["consent_granted"].all()
    exposures = events[events["event_name"] == contract.EXPOSURE_EVENT]
    first = exposures.groupby(["anonymous_id", "experiment_id", "experiment_version", "variant_id"])["ts"].min()
    first = first.reset_index().rename(columns={"ts": "exposed_at"})
    first = first[first["anonymous_id"].map(consent)]
    outcomes = events[events["event_name"].isin(["purchase", "session_start"])][
        ["anonymous_id", "event_name", "ts", "revenue"]
    ]
    joined = first.merge(outcomes, on="anonymous_id", how="left")
    days = (joined["ts"] - joined["exposed_at"]) / pd.Timedelta(days=1)
    purchase, session = joined["event_name"] == "purchase", joined["event_name"] == "session_start"
    joined["conversion"] = purchase & (days >= 0) & (days < 7)
    joined["revenue"] = np.where(purchase & (days >= 0) & (days < 14), joined["revenue"], 0.0)
    joined["retention_d7"] = session & (days >= 7) & (days < 14)
    joined["sessions"] = session & (days >= 0) & (days < 14)
    keys = ["anonymous_id", "experiment_id", "experiment_version", "variant_id"]
    per_unit = joined.groupby(keys).agg(
        conversion=("conversion", "max"),
        revenue=("revenue", "sum"),
        retention_d7=("retention_d7", "max"),
        sessions=("sessions", "sum"),
    )
    per_unit = per_unit.astype(float).reset_index()
    arms = {
        (a["experiment_id"], a["experiment_version"], a["variant_id"]): a["metrics"] for a in manifest["truth"]["arms"]
    }
    population = {
        (x["experiment_id"], x["experiment_version"], x["variant_id"]): x["units"]
        for x in manifest["population"]["clean_exposed_units"]
    }
    checked = 0
    for (experiment_id, version, variant_id), group in per_unit.groupby(keys[1:]):
        assert len(group) == population[(experiment_id, version, variant_id)]
        for metric in ("conversion", "retention_d7", "sessions", "revenue"):
            mean, se = group[metric].mean(), group[metric].std(ddof=1) / math.sqrt(len(group))
            true = arms[(experiment_id, version, variant_id)][metric]["mean"]
            assert abs(mean - true) < 4 * se, (experiment_id, version, variant_id, metric, mean, true, se)
            checked += 1
    assert checked >= 13 * 4
