"""readout simulate --append: a landing zone written as of one time and grown by appends holds, row for row,
what one simulate at the final as-of writes; existing files are never rewritten; bad appends are refused
with one line (exit 2) and leave the landing zone as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

try:
    import readout
except ImportError:  # running from a checkout without `pip install -e python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readout import contract
from readout.simulate import config as C
from readout.simulate import generate, main, write
from readout.simulate.append import AppendSize, _as_of_after_rows

SEED, EVENTS, CHUNK = "3", "40000", "15000"
DATA = ["--seed", SEED, "--events", EVENTS, "--chunk-events", CHUNK]
START = "2026-01-31T12:00:00Z"  #: one day later exp_search_ranking v1 has ended: the export changes
FINAL = "2026-02-28T00:00:00Z"  #: after the last arrival of the timeline
#: the appends after the first simulate: one day, 1% more rows, then up to FINAL
STEPS = [[], ["--append-events", "1%"], ["--as-of", FINAL]]


def run(out: Path, *args: str) -> int:
    return main(["--out", str(out), "--quiet", *args])


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def manifest_of(out: Path) -> dict:
    return json.loads((out / contract.MANIFEST_FILE).read_text())


def event_rows(out: Path, names: list[str] | None = None) -> pd.DataFrame:
    """Event rows of the named files (default: all), in the v1 column names."""
    paths = [out / n for n in names] if names is not None else sorted((out / contract.EVENTS_DIR).glob("*.parquet"))
    inverse = {new: old for old, new in contract.EVENT_RENAMES_V2.items()}
    frames = [pq.read_table(p).to_pandas().rename(columns=inverse) for p in paths]
    return pd.concat(frames, ignore_index=True)[list(contract.EVENT_COLUMNS_V1)]


def row_hashes(frame: pd.DataFrame) -> list[int]:
    return sorted(pd.util.hash_pandas_object(frame, index=False).tolist())


def grow(out: Path) -> list[dict]:
    """simulate as of START, then the appends of STEPS; the file digests after each step."""
    assert run(out, *DATA, "--as-of", START) == 0
    history = [digests(out)]
    for step in STEPS:
        assert run(out, "--append", *step) == 0, step
        history.append(digests(out))
    return history


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    out = tmp_path_factory.mktemp("grown")
    return out, grow(out)


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    out = tmp_path_factory.mktemp("direct")
    assert run(out, *DATA, "--as-of", FINAL) == 0
    return out


# ------------------------------------------------------------------------------ the same timeline
def test_appends_reproduce_one_simulate_at_the_final_as_of_row_for_row(grown, direct):
    out, _ = grown
    appended, single = event_rows(out), event_rows(direct)
    assert len(appended) == len(single) == manifest_of(out)["counts"]["event_rows"]
    assert row_hashes(appended) == row_hashes(single)
    assert (out / "experiments" / "experiments.parquet").read_bytes() == (
        direct / "experiments" / "experiments.parquet"
    ).read_bytes()


def test_the_manifest_is_the_single_simulates_but_for_files_and_appends(grown, direct):
    out, _ = grown
    grown_manifest, single = manifest_of(out), manifest_of(direct)
    assert set(grown_manifest) == set(single)
    for key in grown_manifest:
        if key not in ("files", "counts", "appends"):
            assert grown_manifest[key] == single[key], key
    assert {k: v for k, v in grown_manifest["counts"].items() if k != "event_files"} == {
        k: v for k, v in single["counts"].items() if k != "event_files"
    }
    assert grown_manifest["arguments"]["as_of"] == "2026-02-28T00:00:00.000Z" and single["appends"] == []
    # every file it lists is there with its digest, and the event files are exactly the listed ones
    for entry in grown_manifest["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    listed = {f["path"] for f in grown_manifest["files"] if f["path"].startswith("events/")}
    assert listed == {f"events/{p.name}" for p in (out / "events").iterdir()}
    assert grown_manifest["counts"]["event_files"] == len(listed)


def test_existing_event_files_are_never_rewritten(grown):
    _, history = grown
    for before, after in zip(history, history[1:]):
        kept = {path: digest for path, digest in before.items() if path.startswith("events/")}
        assert {path: after[path] for path in kept} == kept
        added = set(after) - set(before)
        assert added and all(path.startswith("events/part-append-") for path in added)
        assert set(before) <= set(after)  # nothing removed


def test_the_export_is_replaced_only_when_it_changed(grown, tmp_path):
    _, history = grown
    export = "experiments/experiments.parquet"
    changed = [before[export] != after[export] for before, after in zip(history, history[1:])]
    # v1 of exp_search_ranking ends in the first day; nothing starts or ends during the 1% append; the
    # other versions end before FINAL
    assert changed == [True, False, True]
    # unchanged: the file is not even touched
    assert run(tmp_path, *DATA, "--as-of", "2026-02-05") == 0
    stat = (tmp_path / export).stat()
    assert run(tmp_path, "--append") == 0
    assert (tmp_path / export).stat().st_mtime_ns == stat.st_mtime_ns and (
        tmp_path / export
    ).stat().st_ino == stat.st_ino


def test_each_append_holds_the_rows_received_in_its_range_late_ones_included(grown):
    out, _ = grown
    appends = manifest_of(out)["appends"]
    assert [a["append"] for a in appends] == [1, 2, 3]
    assert appends[0]["from_as_of"] == "2026-01-31T12:00:00.000Z" and appends[0]["as_of"] == "2026-02-01T12:00:00.000Z"
    for previous, entry in zip(appends, appends[1:]):
        assert entry["from_as_of"] == previous["as_of"]
    for entry in appends:
        rows = event_rows(out, entry["files"])
        received = pd.to_datetime(rows["received_at"], format="%Y-%m-%dT%H:%M:%S.%fZ")
        assert (received >= pd.Timestamp(entry["from_as_of"][:-1])).all()
        assert (received < pd.Timestamp(entry["as_of"][:-1])).all()
        assert len(rows) == entry["event_rows"] > 0
        happened = pd.to_datetime(rows["event_at"], format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce")
        assert int((happened < pd.Timestamp(entry["from_as_of"][:-1])).sum()) == entry["late_rows"] > 0
    # one day after 2026-01-31T12:00: late rows of earlier days arrive with it (mobile batches, retries)
    assert appends[0]["late_rows"] > 10


def test_append_events_advances_the_as_of_just_past_the_requested_rows(grown, direct):
    out, _ = grown
    entry = manifest_of(out)["appends"][1]
    landed = sum(a["event_rows"] for a in manifest_of(out)["appends"][:1]) + sum(
        f["rows"] for f in manifest_of(out)["files"] if f["path"].startswith("events/part-0")
    )
    assert entry["requested_events"] == -(-landed // 100)  # 1% of the rows landed, rounded up
    assert entry["event_rows"] >= entry["requested_events"]
    # against the whole timeline: the as-of is 1 ms after the arrival of the requested-th new row
    received = pd.to_datetime(event_rows(direct)["received_at"], format="%Y-%m-%dT%H:%M:%S.%fZ")
    after = received[received >= pd.Timestamp(entry["from_as_of"][:-1])].sort_values()
    expected = after.iloc[entry["requested_events"] - 1] + pd.Timedelta(milliseconds=1)
    assert pd.Timestamp(entry["as_of"][:-1]) == expected
    assert entry["event_rows"] == int((after < expected).sum())


def test_finding_the_as_of_keeps_ties_and_stops_at_the_last_row():
    """The bounded selection (partitions of at most 2 x rows arrival times) against a full sort."""
    faults = frozenset(C.FAULT_NAMES)
    since = C.utc_ms("2026-02-03")
    arrivals = sorted(
        int(t) for block in generate.iter_blocks(4, 8000, faults, 200) for t in block.rows["t_rc"] if t >= since
    )
    for rows in (1, 7, 500):
        assert _as_of_after_rows(4, 8000, faults, since, rows, 200, False) == arrivals[rows - 1] + 1
    assert _as_of_after_rows(4, 8000, faults, since, len(arrivals) + 5, 200, False) == arrivals[-1] + 1
    assert _as_of_after_rows(4, 8000, faults, arrivals[-1] + 1, 3, 200, False) is None
    assert AppendSize(percent=1.0).rows(33_554) == 336 and AppendSize(count=7).rows(0) == 7


def test_the_same_appends_give_the_same_bytes(grown, tmp_path):
    _, history = grown
    assert grow(tmp_path) == history


def test_an_append_past_the_timeline_writes_nothing_and_then_there_is_nothing_to_append(grown, tmp_path, capsys):
    out, _ = grown
    shutil.copytree(out, tmp_path / "zone")
    zone = tmp_path / "zone"
    events_before = sorted(p.name for p in (zone / "events").iterdir())
    assert run(zone, "--append") == 0
    entry = manifest_of(zone)["appends"][-1]
    assert entry["event_rows"] == 0 and entry["files"] == [] and entry["as_of"] == "2026-03-01T00:00:00.000Z"
    assert sorted(p.name for p in (zone / "events").iterdir()) == events_before
    assert run(zone, "--append", "--append-events", "10") == 2
    assert "every row has landed" in capsys.readouterr().err


def test_summary_line_through_the_readout_cli(tmp_path, capsys):
    from readout import cli

    assert cli.main(["simulate", "--events", "3000", "--as-of", "2026-02-10", "--quiet", "--out", str(tmp_path)]) == 0
    assert cli.main(["simulate", "--append", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    entry = manifest_of(tmp_path)["appends"][0]
    assert captured.out.startswith(
        f"appended {entry['event_rows']:,} events received from 2026-02-10T00:00:00.000Z to 2026-02-11T00:00:00.000Z ("
    )
    assert "readout simulate --append" in captured.err  # the progress bar


# ---------------------------------------------------------------------------------------- refusals
@pytest.fixture(scope="module")
def small_zone(tmp_path_factory):
    out = tmp_path_factory.mktemp("small_zone")
    assert (
        run(
            out, "--seed", "8", "--events", "5000", "--faults", "duplicate_retries,bot_traffic", "--as-of", "2026-02-05"
        )
        == 0
    )
    return out


def _break_manifest(zone: Path, **changes) -> None:
    manifest = manifest_of(zone)
    manifest.update(changes)
    (zone / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "args, prepare, message",
    [
        (["--seed", "9"], None, "--seed 9 differs from the landing zone's 8"),
        (["--events", "6000"], None, "--events 6,000 differs from the landing zone's 5,000"),
        (["--faults", "all"], None, "differs from the landing zone's duplicate_retries,bot_traffic"),
        (["--as-of", "2026-02-05"], None, "--as-of 2026-02-05T00:00:00.000Z is not later than the landing zone's"),
        (["--as-of", "2026-01-20"], None, "is not later than the landing zone's as-of 2026-02-05T00:00:00.000Z"),
        (["--force"], None, "--append never replaces files"),
        (["--as-of", "2026-02-07", "--append-events", "10"], None, "--as-of or --append-events, not both"),
        (
            [],
            lambda z: (z / "events" / "part-00000.parquet").unlink(),
            "part-00000.parquet is listed in manifest.json but missing",
        ),
        (
            [],
            lambda z: shutil.copy(
                z / "events" / "part-00000.parquet", z / "events" / "part-append-00001-00000.parquet"
            ),
            "part-append-00001-00000.parquet is not listed in manifest.json",
        ),
        ([], lambda z: (z / "notes.txt").write_text("x"), "holds more than the simulator wrote"),
        ([], lambda z: (z / "manifest.json").unlink(), "holds no landing zone of readout simulate"),
        ([], lambda z: _break_manifest(z, generator="someone.else"), "was not written by readout simulate"),
        ([], lambda z: _break_manifest(z, generator_version="0.0.1"), f"this is {readout.__version__}"),
        (
            [],
            lambda z: _break_manifest(z, arguments={**manifest_of(z)["arguments"], "as_of": None}),
            "holds the whole timeline",
        ),
    ],
)
def test_bad_appends_are_refused_in_one_line_and_change_nothing(small_zone, tmp_path, capsys, args, prepare, message):
    zone = tmp_path / "zone"
    shutil.copytree(small_zone, zone)
    if prepare is not None:
        prepare(zone)
    before = digests(zone)
    assert run(zone, "--append", *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("readout simulate: error: ") and message in err, err
    assert "Traceback" not in err
    assert digests(zone) == before and not (zone / ".readout-simulate.tmp").exists()


def test_append_to_a_missing_folder_or_without_append(tmp_path, capsys):
    assert run(tmp_path / "nothing", "--append") == 2
    assert "holds no landing zone of readout simulate" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
    assert run(tmp_path / "nothing", "--append-events", "10") == 2
    assert capsys.readouterr().err == "readout simulate: error: --append-events needs --append\n"


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "must be at least 1"),
        ("0%", "above 0% and at most 100%"),
        ("150%", "above 0% and at most 100%"),
        ("some", "expected a whole number"),
        ("x%", "expected a number of events or a percentage"),
    ],
)
def test_bad_append_events_exit_2(tmp_path, capsys, value, message):
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "--append", "--append-events", value)
    assert exc.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("readout simulate: error: ") and message in last


def test_a_failed_append_leaves_the_landing_zone_as_it_was(small_zone, tmp_path, monkeypatch, capsys):
    zone = tmp_path / "zone"
    shutil.copytree(small_zone, zone)
    before = digests(zone)
    real = write.write_parquet

    def failing(table, path):
        if "part-append" in path.name:
            raise OSError(28, "No space left on device")
        return real(table, path)

    monkeypatch.setattr(write, "write_parquet", failing)
    assert run(zone, "--append") == 2
    assert "No space left on device" in capsys.readouterr().err
    assert digests(zone) == before
    assert not (zone / ".readout-simulate.tmp").exists()
    monkeypatch.setattr(write, "write_parquet", real)
    assert run(zone, "--append") == 0  # and the next append works


def test_an_append_that_finds_the_landing_zone_changed_after_locking_it_refuses(
    small_zone, tmp_path, monkeypatch, capsys
):
    """Two appends at once: the second reads the manifest, the first finishes, the second takes the lock; it
    must not write an append on the stale manifest."""
    from readout.simulate import landing

    zone = tmp_path / "zone"
    shutil.copytree(small_zone, zone)
    real = landing.start_staging

    def first_append_finishes_meanwhile(out):
        monkeypatch.setattr(landing, "start_staging", real)
        assert run(zone, "--append") == 0
        return real(out)

    monkeypatch.setattr(landing, "start_staging", first_append_finishes_meanwhile)
    assert run(zone, "--append") == 2
    assert "changed --out" in capsys.readouterr().err
    assert [a["append"] for a in manifest_of(zone)["appends"]] == [1]
    assert not (zone / ".readout-simulate.tmp").exists()


def test_a_terminated_append_removes_its_temp_folder_and_keeps_the_landing_zone(tmp_path):
    """SIGTERM during an append: exit 130, the temp folder is gone and nothing was added or changed."""
    # few rows as of the first hours, but the whole (2M-event) timeline is generated again by the append
    assert run(tmp_path, "--events", "2000000", "--faults", "none", "--as-of", "2026-01-01T03:00:00Z") == 0
    before = digests(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "readout.simulate",
            "--out",
            str(tmp_path),
            "--quiet",
            "--append",
            "--chunk-events",
            "50000",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    staging = tmp_path / ".readout-simulate.tmp" / "events"
    deadline = time.monotonic() + 60
    while not (staging.is_dir() and any(staging.iterdir())):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the append wrote nothing in 60 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert process.stderr.read() == "readout simulate: interrupted\n"
    assert digests(tmp_path) == before and not (tmp_path / ".readout-simulate.tmp").exists()
