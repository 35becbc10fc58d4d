"""The pure helpers of `make bench` (scripts/bench*.py): the process-tree memory sampler, sizes, the check."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench
import bench_floor
import bench_proc

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")

GRANDCHILD_BYTES = 120 * 2**20


def test_tree_sampler_counts_a_grandchilds_memory():
    # the child only starts a grandchild that touches 120 MB, so the peak must come from the grandchild
    grandchild = f"b = b'x' * {GRANDCHILD_BYTES}; import time; time.sleep(0.5)"
    child = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"]
    )
    sampler = bench_proc.TreeRssSampler(child.pid, interval=0.05).start()
    tree_seen = []
    deadline = time.monotonic() + 5
    while child.poll() is None and time.monotonic() < deadline:
        tree_seen.append(len(bench_proc.process_tree(child.pid)))
        time.sleep(0.05)
    child.wait()
    peak = sampler.stop()
    assert max(tree_seen) == 2  # the child and its grandchild
    assert peak >= GRANDCHILD_BYTES
    assert sampler.samples >= 3


def test_the_sampler_reports_the_peak_a_step_spilled_not_what_was_there_before(tmp_path):
    spill = tmp_path / "warehouse.duckdb.tmp"
    spill.mkdir()
    (spill / "left_over.block").write_bytes(b"x" * 2**20)  # from an earlier run: not this step's
    # the step writes 8 MB into a nested folder, holds it, then deletes it before it ends
    script = (
        f"import os, time; d = {str(spill / 'nested')!r}; os.mkdir(d); p = os.path.join(d, 'b');"
        f" open(p, 'wb').write(b'y' * {8 * 2**20}); time.sleep(0.5); os.remove(p)"
    )
    log = tmp_path / "step.log"
    result = bench_proc.run_step(
        "spill",
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        log=log,
        interval=0.05,
        spill_dirs=(spill, tmp_path / "absent.tmp"),
        stream=io.StringIO(),
    )
    assert result.ok
    assert 8 * 2**20 <= result.peak_spill_bytes < 9 * 2**20
    unwatched = bench_proc.run_step(
        "no spill", [sys.executable, "-c", "pass"], env=dict(os.environ), cwd=tmp_path, log=log, stream=io.StringIO()
    )
    assert unwatched.peak_spill_bytes is None


def test_tree_of_an_ended_process_holds_no_memory():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert bench_proc.tree_resident_bytes(child.pid) == 0


@pytest.mark.parametrize(
    "text, events",
    [
        ("1M", 1_000_000),
        ("10m", 10_000_000),
        ("250k", 250_000),
        ("1e6", 1_000_000),
        ("1_000_000", 1_000_000),
        ("100000000", 100_000_000),
    ],
)
def test_sizes_parse_and_label(text, events):
    assert bench.parse_size(text) == events
    assert bench.parse_size(bench.size_label(events)) == events


@pytest.mark.parametrize("text", ["", "ten", "1.5k5", "999", "1.2345k"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(Exception, match="events"):
        bench.parse_size(text)


def test_compare_reports_the_largest_relative_difference_and_unmatched_rows():
    keys = {
        "experiment_id": ["e", "e", "e"],
        "experiment_version": [1, 1, 1],
        "variant_id": ["a", "b", "c"],
        "metric_id": ["revenue"] * 3,
    }
    reference = pd.DataFrame(
        {
            **keys,
            "n_units": [10, 20, 5],
            "metric_sum": [100.0, 50.0, 1.0],
            "metric_sum_of_squares": [1000.0, 400.0, 1.0],
        }
    )
    candidate = reference.iloc[:2].copy()
    candidate.loc[1, "metric_sum"] = 49.0  # 2% off
    report = bench_floor.compare(candidate, reference)["revenue"]
    assert report["max_relative_difference"] == pytest.approx(0.02)
    assert (report["rows_compared"], report["only_in_candidate"], report["only_in_reference"]) == (2, 0, 1)


def test_synthetic_statistics_have_one_control_and_one_treatment_per_metric():
    frame = bench.synthetic_statistics(40, seed=1)
    assert len(frame) == 40
    per_metric = frame.groupby(["experiment_id", "population", "metric_id"])["is_control"]
    assert per_metric.sum().eq(1).all() and per_metric.size().eq(2).all()
    assert (frame["metric_sum_of_squares"] * frame["n_units"] >= frame["metric_sum"] ** 2).all()  # variance >= 0


def test_options_are_found_in_help_exactly():
    help_output = "usage: x [--full] [--batch-rows N]\n  --cache-dir PATH  where\n  --no-cache\n"
    assert bench.has_option(help_output, "--full") and bench.has_option(help_output, "--cache-dir")
    assert not bench.has_option(help_output, "--batch") and not bench.has_option(help_output, "--cache")
    assert bench.file_option(help_output) is None
    assert bench.file_option("  --files PATH [PATH ...]") == "--files"


def test_landing_from_the_bench_folders_own_landing_zone_is_refused_and_kept(tmp_path):
    # the bench replaces <root>/<size>/landing with links to --landing-from: given that folder itself, it would
    # delete the landing zone it was asked to reuse
    options = bench.parse_args(["1M", "--root", str(tmp_path)])
    run = bench.SizeRun(1_000_000, options)
    (run.landing / "events").mkdir(parents=True)
    (run.landing / "manifest.json").write_text("{}")
    with pytest.raises(SystemExit, match="own landing zone"):
        run.link_landing(run.landing)
    assert (run.landing / "manifest.json").read_text() == "{}"
    assert (run.landing / "events").is_dir()


def test_a_size_that_may_not_fit_the_free_disk_is_warned_of_and_one_that_fits_is_not():
    needed = 100_000_000 * bench.DISK_BYTES_PER_EVENT
    assert bench.disk_warning(needed, 100_000_000) is None
    warning = bench.disk_warning(20 * 2**30, 100_000_000)
    assert warning is not None and "20.00 GB free" in warning and "100M" in warning
