#!/usr/bin/env python3
"""Benchmark `readout simulate`: wall time, events per second and peak resident memory of the child process.

Each run is a separate child process (``python -m readout.simulate``) writing into a temporary folder;
its peak RSS comes from ``os.wait4`` (the child's own ``ru_maxrss``), so runs do not contaminate each
other. Example:

    python scripts/benchmark_simulate.py --events 1000000 --events 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_once(events: int, seed: int, faults: str, chunk_events: int | None, keep: Path | None) -> dict:
    out = Path(tempfile.mkdtemp(prefix="readout-bench-")) if keep is None else keep
    command = [sys.executable, "-m", "readout.simulate", "--events", str(events), "--seed", str(seed),
               "--faults", faults, "--out", str(out), "--quiet", "--force"]
    if chunk_events:
        command += ["--chunk-events", str(chunk_events)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    try:
        if child.returncode != 0:
            raise SystemExit(f"benchmark: simulate exited with {child.returncode}: {' '.join(command)}")
        manifest = json.loads((out / "manifest.json").read_text())
        written = manifest["counts"]["event_rows"]
        size = folder_size(out)
    finally:
        if keep is None:
            shutil.rmtree(out, ignore_errors=True)
    peak_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    return {"target": events, "events": written, "seconds": seconds, "events_per_second": written / seconds,
            "peak_rss_mb": peak_mb, "output_mb": size / 2**20, "files": manifest["counts"]["event_files"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="target events (repeatable; default 1000000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--faults", default="all")
    parser.add_argument("--chunk-events", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the output (one run only)")
    args = parser.parse_args(argv)
    targets = args.events or [1_000_000]
    if args.keep and len(targets) > 1:
        parser.error("--keep takes a single --events")
    results = []
    print(f"{'target':>12} {'events':>12} {'seconds':>9} {'events/s':>11} {'peak RSS MB':>12} {'output MB':>10}")
    for events in targets:
        result = run_once(events, args.seed, args.faults, args.chunk_events, args.keep)
        results.append(result)
        print(f"{result['target']:>12,} {result['events']:>12,} {result['seconds']:>9.1f} "
              f"{result['events_per_second']:>11,.0f} {result['peak_rss_mb']:>12,.0f} {result['output_mb']:>10,.0f}",
              flush=True)
    largest = max(results, key=lambda r: r["events"])
    estimate = 100_000_000 / largest["events_per_second"]
    print(f"extrapolated to 100,000,000 events: about {estimate / 60:.1f} min at {largest['events_per_second']:,.0f} "
          f"events/s; peak RSS is bounded by --chunk-events (rows held per chunk), not by --events "
          f"(largest run here: {largest['peak_rss_mb']:,.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
