"""`make bench`: how fast and how big readout's build is, against the floor of one hand-written query.

    python scripts/bench.py [SIZE ...] [--pandas] [--fresh] [--skip STEP ...]

For each size (events to simulate; default 1M, 10M and 100M) it simulates a clean landing zone
(`readout simulate --seed 42 --faults none`) into build/bench/<size>/, builds it there, and measures
back to back, each step a child process timed by wall clock with the peak resident memory of its
whole process tree (sampled from /proc every 0.2 s):
- full build: `make rebuild` (landing preflight + `dbt build --full-refresh` over the event-time range);
- floor: ONE hand-written DuckDB query over the landing Parquet giving the exposed population's
  n, sum and sum of squares per experiment version x variant x metric (scripts/bench_floor.py),
  checked against marts.fct_variant_metric_stats;
- the same statistics in pandas, as a notebook would (10M only, or --pandas), checked likewise;
- no-change refresh: `make build` again with nothing new;
- statistics alone: readout.stats.compute_metric_results on a synthetic 10,000-row frame;
- raw contract validation (`readout contracts validate --stage raw --as-of manifest`) of the landing zone,
  every file afresh (--full, with a cache of the bench's own when the validator remembers files);
- when `readout simulate --append` exists (the landing zone is then simulated as of INITIAL_AS_OF):
  append 1% new events (late ones included), then the incremental refresh (`make build`), the floor check
  again, and raw validation of the new batch: the refresh's validation when the validator remembers
  validated files, else the batch alone (a landing folder of symlinks) and the whole zone again.
It prints a table per size and merges the figures into target/bench.json (one entry per size, with the
machine, versions, git commit and load average). A figure that could not be measured is null with the
reason, never estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_floor
from bench_proc import gib, run_step
from bench_report import TARGETS, build_phases, dbt_profile, describe_check, git_state, machine, render, write_json

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_SIZES = (1_000_000, 10_000_000, 100_000_000)
SEED = 42
#: the landing zone is simulated as it stood at this time, so that an append has rows left to add
#: (about 2.6% of the timeline's rows arrive later; the experiments ended the day before)
INITIAL_AS_OF = "2026-02-13T00:00:00Z"
APPEND_SHARE = "1%"
PANDAS_SIZES = (10_000_000,)
STATS_ROWS = 10_000
#: from this many events the builds run one dbt model at a time (READOUT_DBT_THREADS=1, unless set), as every 100M
#: run in the README did: two heavy models at once share DuckDB's memory_limit and spill together (profiles.yml)
ONE_MODEL_FROM = 50_000_000
#: disk a size needs at most, per event: measured at 100M on 2026-12-03 (landing zone 6.5 GB, warehouse 16 GB, the
#: floor's spill up to 35.6 GB, the raw validation's cache 7.8 GB: about 66 GB)
DISK_BYTES_PER_EVENT = 660
NO_APPEND = "readout simulate --append not available"
STEPS = ("simulate", "full_build", "floor", "pandas", "no_change_refresh", "no_change_dbt", "statistics",
         "raw_validation", "append", "incremental_refresh", "floor_after_append", "raw_validation_new_batch",
         "raw_validation_after_append")


# ---------------------------------------------------------------------------------------------- helpers


def size_label(events: int) -> str:
    """1000000 -> '1M', 10000000 -> '10M', 250000 -> '250k', 1234 -> '1234'."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if events >= scale and events % scale == 0:
            return f"{events // scale}{unit}"
    return str(events)


def parse_size(text: str) -> int:
    """'1M', '10m', '250k', '1e6', '1_000_000' or '1,000,000' -> events."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMgG]?)", cleaned)
    if not match:
        raise argparse.ArgumentTypeError(f"not a number of events: {text!r} (e.g. 1000000, 1M, 250k)")
    value = float(match.group(1)) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[match.group(2).lower()]
    if value < 1000 or value != int(value):
        raise argparse.ArgumentTypeError(f"events must be a whole number of at least 1000, got {text!r}")
    return int(value)


def synthetic_statistics(n_rows: int = STATS_ROWS, seed: int = 0):
    """A frame of per-variant sufficient statistics shaped like marts.fct_variant_metric_stats:
    experiment versions x 2 populations x 5 metrics (proportion, mean, count, ratio, guardrail) x 2 variants,
    with covariates (so CUPED runs), n_rows rows in all (a multiple of 20)."""
    import numpy as np
    import pandas as pd

    metrics = (("conversion", "proportion", "primary", None), ("revenue", "mean", "secondary", None),
               ("sessions", "count", "secondary", None), ("revenue_per_session", "ratio", "secondary", None),
               ("retention_d7", "proportion", "guardrail", 0.02))
    per_version = 2 * len(metrics) * 2
    if n_rows % per_version:
        raise ValueError(f"n_rows must be a multiple of {per_version}, got {n_rows}")
    rng = np.random.default_rng(seed)
    rows = []
    for version in range(n_rows // per_version):
        for population in ("assigned", "exposed"):
            for metric_id, metric_type, role, margin in metrics:
                base = rng.uniform(0.05, 0.3) if metric_type == "proportion" else rng.uniform(1, 20)
                for variant_id, lift in (("control", 1.0), ("treatment", rng.uniform(0.97, 1.05))):
                    n = int(rng.integers(1_000, 100_000))
                    mean = base * lift
                    if metric_type == "proportion":
                        mean = min(mean, 0.99)
                        total = round(n * mean)
                        squares = total
                        sd = (mean * (1 - mean)) ** 0.5
                    else:
                        sd = mean * rng.uniform(0.5, 3)
                        total = n * mean
                        squares = n * (sd**2 + mean**2)
                    cov_mean, cov_sd, rho = mean * 0.9, sd * 1.1, rng.uniform(0.2, 0.7)
                    row = {
                        "experiment_id": f"exp_{version:04d}", "experiment_version": 1, "population": population,
                        "variant_id": variant_id, "metric_id": metric_id, "is_control": variant_id == "control",
                        "metric_type": metric_type, "direction": "increase", "role": role,
                        "non_inferiority_margin": margin, "n_units": n,
                        "metric_sum": total, "metric_sum_of_squares": squares,
                        "covariate_sum": n * cov_mean, "covariate_sum_of_squares": n * (cov_sd**2 + cov_mean**2),
                        "metric_covariate_cross_sum": n * (rho * sd * cov_sd + mean * cov_mean),
                        "denominator_sum": None, "denominator_sum_of_squares": None,
                        "metric_denominator_cross_sum": None,
                    }
                    if metric_type == "ratio":
                        den_mean, den_sd = 4.0, 2.0
                        row.update(denominator_sum=n * den_mean,
                                   denominator_sum_of_squares=n * (den_sd**2 + den_mean**2),
                                   metric_denominator_cross_sum=n * (rho * sd * den_sd + mean * den_mean),
                                   covariate_sum=None, covariate_sum_of_squares=None, metric_covariate_cross_sum=None)
                    rows.append(row)
    return pd.DataFrame(rows)


def median_seconds(timings: list[float]) -> float:
    return statistics.median(timings)


def help_text(*command: str) -> str:
    result = subprocess.run([str(BIN / "readout"), *command, "--help"], capture_output=True, text=True, cwd=PROJECT,
                            check=False)
    return result.stdout + result.stderr


def has_option(help_output: str, option: str) -> bool:
    """Whether a command's --help lists ``option`` (exactly: --batch is not --batch-rows)."""
    return re.search(rf"(^|\s|\[){re.escape(option)}([\s=\]]|$)", help_output, re.MULTILINE) is not None


def file_option(validate_help: str) -> str | None:
    """The option of `readout contracts validate` that takes landing files, if it has one."""
    for option in ("--files", "--file", "--paths", "--path", "--batch"):
        if has_option(validate_help, option):
            return option
    return None


def landing_files(landing: Path) -> dict[str, int]:
    return {str(path.relative_to(landing)): path.stat().st_size
            for path in sorted((landing / "events").rglob("*.parquet"))}


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


# ------------------------------------------------------------------------------- internal (child) steps


def internal_floor(args) -> dict:
    metrics, skipped = bench_floor.catalog_metrics(PROJECT / "seeds" / "metric_catalog.csv")
    frame, seconds, settings = bench_floor.run_floor(Path(args.landing), metrics, args.floor_memory_limit)
    out = {"seconds": seconds, "rows": len(frame), "metrics": [m["metric_id"] for m in metrics],
           "metrics_not_covered": skipped, "duckdb_settings": settings}
    if args.save:
        frame.to_parquet(args.save, index=False)
    if args.warehouse and Path(args.warehouse).exists():
        marts = bench_floor.marts_statistics(Path(args.warehouse), out["metrics"])
        out["check_against_marts"] = bench_floor.compare(frame, marts)
    return out


def internal_pandas(args) -> dict:
    import pandas as pd

    metrics, _ = bench_floor.catalog_metrics(PROJECT / "seeds" / "metric_catalog.csv")
    frame, seconds = bench_floor.run_pandas(Path(args.landing), metrics)
    out = {"seconds": seconds, "rows": len(frame), "metrics": [m["metric_id"] for m in metrics]}
    if args.warehouse and Path(args.warehouse).exists():
        marts = bench_floor.marts_statistics(Path(args.warehouse), out["metrics"])
        out["check_against_marts"] = bench_floor.compare(frame, marts)
    if args.save and Path(args.save).exists():
        out["check_against_floor"] = bench_floor.compare(frame, pd.read_parquet(args.save))
    return out


def internal_statistics(args) -> dict:
    from readout.stats import compute_metric_results

    frame = synthetic_statistics(STATS_ROWS)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        results = compute_metric_results(frame)
        timings.append(time.perf_counter() - started)
    return {"seconds": median_seconds(timings), "timings": timings, "input_rows": len(frame),
            "output_rows": len(results)}


INTERNAL = {"floor": internal_floor, "pandas": internal_pandas, "statistics": internal_statistics}


# ----------------------------------------------------------------------------------------- one size


def shown_path(path) -> str:
    """A path as the figures show it: relative to the project when inside it (--root may be elsewhere)."""
    path = Path(path)
    return str(path.relative_to(PROJECT)) if path.is_relative_to(PROJECT) else str(path)


def disk_warning(free_bytes: int, events: int) -> str | None:
    """What to say before a size whose landing zone, warehouse and spill may not fit the free disk, else None."""
    needed = events * DISK_BYTES_PER_EVENT
    if free_bytes >= needed:
        return None
    return (f"{gib(free_bytes)} free, and {size_label(events)} events can need about {gib(needed)} "
            "(the floor query spills most of it); a step that fills the disk fails")


class SizeRun:
    """Every step for one size, in order, each figure stored as it is taken."""

    def __init__(self, events: int, options):
        self.events = events
        self.options = options
        self.label = size_label(events)
        self.root = Path(options.root) / self.label
        self.landing = self.root / "landing"
        self.warehouse = self.root / "warehouse.duckdb"
        self.logs = self.root / "logs"
        self.floor_stats = self.root / "floor_statistics.parquet"
        #: where this size's DuckDB work spills: the build's and the mart contracts' temp folder (profiles.yml:
        #: READOUT_DUCKDB_TEMP_DIRECTORY, else the warehouse's path + .tmp) and the floor's (bench_floor.run_floor).
        #: Not watched: the raw validation's in-memory DuckDB, which spills to a folder named after its process id
        #: (readout.contracts.read.connect) unless READOUT_DUCKDB_TEMP_DIRECTORY is set.
        temp = os.environ.get("READOUT_DUCKDB_TEMP_DIRECTORY")
        self.spill_dirs = (Path(temp) if temp else Path(f"{self.warehouse}.tmp"), self.root / "floor.tmp")
        self.steps: dict[str, dict] = {}
        self.failed = False
        self.step_number = 0
        self.env = dict(os.environ)
        self.env.update(
            READOUT_LANDING_PATH=str(self.landing), READOUT_DUCKDB_PATH=str(self.warehouse),
            DBT_TARGET_PATH=str(self.root / "target"), DBT_LOG_PATH=str(self.root / "target" / "logs"),
            DBT_PROFILES_DIR=str(PROJECT), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if events >= ONE_MODEL_FROM and "READOUT_DBT_THREADS" not in os.environ:
            self.env["READOUT_DBT_THREADS"] = "1"
        # the make targets run here must not inherit the flags of the `make bench` that started us
        self.env.pop("MAKEFLAGS", None)
        self.env.pop("MFLAGS", None)

    # -- bookkeeping

    def say(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def skipped(self, step: str, reason: str) -> None:
        self.steps[step] = {"seconds": None, "peak_rss_bytes": None, "reason": reason}
        self.say(f"[{self.label}] {step}: skipped ({reason})")

    def wanted(self, step: str) -> bool:
        if step in self.options.skip:
            self.skipped(step, "--skip")
            return False
        return True

    def run(self, step: str, title: str, command: list[str], **extra) -> dict:
        self.step_number += 1
        shown = " ".join(command[-8:])  # the arguments that tell steps apart
        self.say(f"[{self.label}] {self.step_number}. {title}: {shown}")
        load_before = os.getloadavg()[0]
        results = [self.root / "target" / name for name in ("run_results.write_audit.json", "run_results.json")]
        if command[0] == "make":
            for path in results:
                path.unlink(missing_ok=True)
        result = run_step(f"[{self.label}] {title}", command, env=self.env, cwd=PROJECT, log=self.logs / f"{step}.log",
                          spill_dirs=self.spill_dirs)
        record = {
            "seconds": round(result.seconds, 3),
            "peak_rss_bytes": result.peak_rss_bytes,
            "peak_spill_bytes": result.peak_spill_bytes,
            "command": command if command[0] != sys.executable else ["python", *command[1:]],
            "returncode": result.returncode,
            "log": shown_path(result.log),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            **extra,
        }
        if result.stopped_low_memory:
            record["stopped"] = "the machine ran low on memory (below 1 GB available): step stopped"
        if result.ok:
            spilled = f", spilled {gib(result.peak_spill_bytes)} at most" if result.peak_spill_bytes else ""
            self.say(f"[{self.label}]    done in {result.seconds:.1f} s, "
                     f"peak RSS {gib(result.peak_rss_bytes)}{spilled}")
        else:
            self.failed = True
            record["error"] = "\n".join(result.tail)
            self.say(f"[{self.label}]    FAILED (exit {result.returncode}) after {result.seconds:.1f} s; "
                     f"last lines of {result.log}:\n    " + "\n    ".join(result.tail))
        if "validate" in command and result.ok:
            said = [line for line in result.tail if "landing file(s) validated" in line]
            if said:  # the validator's own account: files read, files taken from its cache, its time
                record["validator_summary"] = said[-1].strip()
        if command[0] == "make" and result.ok:
            profile = dbt_profile(results)  # readout build: the write-and-audit step, then the publishing one
            for path in results:  # every node's timing kept beside the log (the next step overwrites them)
                if path.is_file():
                    shutil.copy2(path, self.logs / f"{step}.{path.name}")
            phases = build_phases(result.log, result.seconds)
            if phases:
                record["phases"] = phases
            if profile:
                record["dbt"] = profile
                slowest = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in profile["slowest_nodes"][:3])
                self.say(f"[{self.label}]    dbt {profile['dbt_elapsed_seconds']:.0f} s of it; slowest: {slowest}")
        self.steps[step] = record
        return record

    def internal(self, step: str, title: str, kind: str, *, warehouse: bool = True, save: bool = False) -> dict:
        result_path = self.root / f"{step}.json"
        result_path.unlink(missing_ok=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--internal", kind, "--landing", str(self.landing),
                   "--result", str(result_path)]
        if warehouse:
            command += ["--warehouse", str(self.warehouse)]
        if save or kind == "pandas":
            command += ["--save", str(self.floor_stats)]
        if kind == "floor" and self.options.floor_memory_limit:
            command += ["--floor-memory-limit", self.options.floor_memory_limit]
        record = self.run(step, title, command)
        if record["returncode"] == 0 and result_path.exists():
            inner = json.loads(result_path.read_text())
            record["process_seconds"] = record["seconds"]
            record.update(inner)
            record["seconds"] = round(inner["seconds"], 3)
            for name in ("check_against_marts", "check_against_floor"):
                if name in record:
                    self.say(f"[{self.label}]    {name.replace('_', ' ')}: {describe_check(record[name])}")
        return record

    # -- the steps

    def simulate(self, can_append: bool) -> None:
        arguments = ["--seed", str(SEED), "--events", str(self.events), "--faults", "none"]
        if can_append:
            arguments += ["--as-of", INITIAL_AS_OF]
        marker = self.root / "landing.json"
        if (not self.options.fresh and marker.exists() and (self.landing / "manifest.json").exists()
                and json.loads(marker.read_text()).get("arguments") == arguments):
            self.skipped("simulate", f"reused the landing zone simulated earlier ({' '.join(arguments)}); "
                                     "--fresh simulates again")
        else:
            marker.unlink(missing_ok=True)
            self.run("simulate", "simulate", [str(BIN / "readout"), "simulate", *arguments, "--out", str(self.landing),
                                              "--force", "--quiet"])
            if self.steps["simulate"]["returncode"] != 0:
                return
            marker.write_text(json.dumps({"arguments": arguments}))
        manifest = json.loads((self.landing / "manifest.json").read_text())
        self.steps["landing"] = {
            "arguments": arguments,
            "event_rows": manifest["counts"]["event_rows"],
            "event_files": manifest["counts"]["event_files"],
            "bytes": folder_bytes(self.landing / "events"),
        }

    def link_landing(self, source: Path) -> None:
        """Reuse a landing zone simulated elsewhere without touching it: its event files (immutable, the bulk)
        are linked, everything else (the manifest, the experiments export, the imports: what an append
        rewrites) is copied, so the append and the caches write here only."""
        if not (source / "manifest.json").is_file():
            raise SystemExit(f"scripts/bench.py: --landing-from {source}: no manifest.json there")
        if source.resolve() == self.landing.resolve() or self.landing.resolve() in source.resolve().parents:
            # the bench replaces its own landing zone with the links: it would delete the one it links to
            raise SystemExit(f"scripts/bench.py: --landing-from {source} is this bench folder's own landing zone, "
                             f"which the bench replaces; move it elsewhere first, or leave --landing-from out "
                             f"(the bench keeps a landing zone simulated with the same arguments)")
        shutil.rmtree(self.landing, ignore_errors=True)
        for path in sorted(source.rglob("*")):
            target = self.landing / path.relative_to(source)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif path.parent == source / "events" and path.suffix == ".parquet":
                target.symlink_to(path.resolve())
            else:
                shutil.copy2(path, target)
        self.skipped("simulate", f"--landing-from {shown_path(source)} (event files linked, the rest copied)")
        manifest = json.loads((self.landing / "manifest.json").read_text())
        self.steps["landing"] = {
            "from": str(source),
            "event_rows": manifest["counts"]["event_rows"],
            "event_files": manifest["counts"]["event_files"],
            "bytes": folder_bytes(source / "events"),
        }

    def measure(self) -> dict:
        opts = self.options
        self.root.mkdir(parents=True, exist_ok=True)
        started_at = datetime.now(UTC)
        simulate_help = help_text("simulate")
        can_append = "--append" in simulate_help
        self.say(f"[{self.label}] bench folder {shown_path(self.root)}; readout simulate --append "
                 f"{'found' if can_append else 'not found'}")
        warning = disk_warning(shutil.disk_usage(self.root).free, self.events)
        if warning:
            self.say(f"[{self.label}] warning: {warning} under {shown_path(self.root)}")

        if opts.landing_from:
            self.link_landing(Path(opts.landing_from))
        elif "simulate" in opts.skip and (self.landing / "manifest.json").exists():
            self.skipped("simulate", "--skip")
        else:
            self.simulate(can_append)
        if self.steps.get("simulate", {}).get("returncode", 0) != 0:
            return self.result(started_at)

        # the landing zone the floor and the validation read must be the one built: nothing appended yet
        for stale in (self.warehouse, Path(f"{self.warehouse}.wal")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(self.root / "target", ignore_errors=True)
        self.say(f"[{self.label}] dbt parse (warm-up, not timed)")
        subprocess.run([str(BIN / "dbt"), "parse", "--quiet"], cwd=PROJECT, env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        make = ["make", "--no-print-directory"]
        dry_run = subprocess.run([*make, "-n", "build"], cwd=PROJECT, env=self.env, capture_output=True, text=True,
                                 check=False)
        refresh_caveat = ("`make build` runs dbt build --full-refresh today: this refresh is a full build"
                          if "--full-refresh" in dry_run.stdout else None)
        if self.wanted("full_build"):
            self.run("full_build", "full build (make rebuild)", [*make, "rebuild"],
                     note="landing preflight + dbt build --full-refresh over the event-time range")
            if self.steps["full_build"]["returncode"] == 0:
                self.steps["full_build"]["warehouse_bytes"] = folder_bytes(self.warehouse)
        built = self.steps.get("full_build", {}).get("returncode") == 0
        if self.wanted("floor"):
            self.internal("floor", "floor: one DuckDB query", "floor", warehouse=built, save=True)
        if self.wanted("pandas"):
            if opts.pandas or self.events in PANDAS_SIZES:
                self.internal("pandas", "pandas notebook", "pandas", warehouse=built)
            else:
                sizes = ", ".join(size_label(size) for size in PANDAS_SIZES)
                self.skipped("pandas", f"run at {sizes} only (--pandas for every size)")
        if self.wanted("no_change_refresh"):
            if built:
                self.run("no_change_refresh", "no-change refresh (make build)", [*make, "build"],
                         **({"caveat": refresh_caveat} if refresh_caveat else {}))
            else:
                self.skipped("no_change_refresh", "the full build did not run or failed")
        if self.wanted("no_change_dbt"):
            if built:
                self.run("no_change_dbt", "no-change refresh through dbt (make build FORCE=1)",
                         [*make, "build", "FORCE=1"],
                         note="what a no-change refresh costs when dbt runs anyway: every model's incremental "
                              "check and every test")
            else:
                self.skipped("no_change_dbt", "the full build did not run or failed")
        if self.wanted("statistics"):
            self.internal("statistics", f"statistics on {STATS_ROWS:,} rows", "statistics", warehouse=False)
        validate = [str(BIN / "readout"), "contracts", "validate", "--stage", "raw", "--as-of", "manifest",
                    "--fail-on", "never", "--docs-dir", str(self.root / "gx_docs")]
        validate_help = help_text("contracts", "validate")
        # a validator that remembers validated files (by fingerprint) gets a cache of this bench's own
        remembers = has_option(validate_help, "--cache-dir")
        if remembers:
            shutil.rmtree(self.root / "validation_cache", ignore_errors=True)
            validate += ["--cache-dir", str(self.root / "validation_cache")]
        if self.wanted("raw_validation"):
            afresh = ["--full"] if has_option(validate_help, "--full") else []
            self.run("raw_validation", "raw contract validation, full",
                     [*validate, *afresh, "--landing", str(self.landing), "--json",
                      str(self.root / "raw_validation.json")],
                     note="every landing file validated" + (" afresh (--full)" if afresh else ""))

        append_steps = ("append", "incremental_refresh", "floor_after_append", "raw_validation_new_batch",
                        "raw_validation_after_append")
        if not can_append:
            for step in append_steps:
                self.skipped(step, NO_APPEND)
            return self.result(started_at)
        if not self.wanted("append"):
            for step in append_steps[1:]:
                self.skipped(step, "no append (--skip append)")
            return self.result(started_at)

        before = landing_files(self.landing)
        (self.root / "landing.json").unlink(missing_ok=True)  # the landing zone no longer is the simulated one
        self.run("append", f"append {APPEND_SHARE} new events (readout simulate --append)",
                 [str(BIN / "readout"), "simulate", "--append", "--append-events", APPEND_SHARE, "--out",
                  str(self.landing), "--quiet"])
        if self.steps["append"]["returncode"] != 0:
            for step in append_steps[1:]:
                self.skipped(step, "readout simulate --append failed")
            return self.result(started_at)
        after = landing_files(self.landing)
        new_files = sorted(set(after) - set(before))
        changed = sorted(path for path in before if after.get(path) != before[path])
        manifest = json.loads((self.landing / "manifest.json").read_text())
        last_append = (manifest.get("appends") or [{}])[-1]
        self.steps["append"].update(
            new_files=new_files, changed_files=changed, rows=last_append.get("event_rows"),
            late_rows=last_append.get("late_rows"), as_of=manifest.get("arguments", {}).get("as_of"),
            landing_rows_after=manifest["counts"]["event_rows"],
        )
        self.say(f"[{self.label}]    {len(new_files)} new file(s), {last_append.get('event_rows')} rows "
                 f"({last_append.get('late_rows')} late)")

        if self.wanted("incremental_refresh"):
            if built:
                self.run("incremental_refresh", "incremental refresh after the append (make build)", [*make, "build"],
                         **({"caveat": refresh_caveat} if refresh_caveat else {}))
            else:
                self.skipped("incremental_refresh", "the full build did not run or failed")
        refreshed = self.steps.get("incremental_refresh", {}).get("returncode") == 0
        if self.wanted("floor_after_append"):
            if refreshed:
                self.internal("floor_after_append", "floor check after the append", "floor")
            else:
                self.skipped("floor_after_append", "no incremental refresh to check")
        if remembers:
            # what a refresh runs: the appended landing zone, with the cache of the full validation
            if self.wanted("raw_validation_new_batch"):
                self.run("raw_validation_new_batch", "raw contract validation after the append (new batch)",
                         [*validate, "--landing", str(self.landing), "--json",
                          str(self.root / "raw_validation_new_batch.json")],
                         note="the validator remembers validated files by fingerprint (--cache-dir): it validates "
                              "the new file(s) only, and counts the rules across files from the files' kept keys")
            self.skipped("raw_validation_after_append", "the same run as the new batch's: the validator validates "
                                                        "only files it has not validated")
            return self.result(started_at)
        if self.wanted("raw_validation_new_batch"):
            self.validate_new_batch(validate, validate_help, new_files)
        if self.wanted("raw_validation_after_append"):
            self.run("raw_validation_after_append", "raw contract validation of the whole landing zone, appended",
                     [*validate, "--landing", str(self.landing), "--json",
                      str(self.root / "raw_validation_after_append.json")],
                     note="the validator does not remember validated files: every file is validated again")
        return self.result(started_at)

    def validate_new_batch(self, validate: list[str], validate_help: str, new_files: list[str]) -> None:
        if not new_files:
            self.skipped("raw_validation_new_batch", "the append wrote no file")
            return
        option = file_option(validate_help)
        if option:
            files = []
            for path in new_files:
                files += [option, str(self.landing / path)]
            self.run("raw_validation_new_batch", "raw contract validation of the new batch", [
                *validate, "--landing", str(self.landing), *files,
                "--json", str(self.root / "raw_validation_new_batch.json")],
                note=f"the validator given the new file(s) with {option}")
            return
        # the validator reads a whole landing zone: give it one holding only the new batch (symlinks)
        batch = self.root / "new_batch_landing"
        shutil.rmtree(batch, ignore_errors=True)
        (batch / "events").mkdir(parents=True)
        for path in new_files:
            (batch / path).parent.mkdir(parents=True, exist_ok=True)
            (batch / path).symlink_to(self.landing / path)
        for item in self.landing.iterdir():
            if item.name != "events" and not item.name.startswith("."):
                (batch / item.name).symlink_to(item)
        self.run("raw_validation_new_batch", "raw contract validation of the new batch (landing zone of it alone)", [
            *validate, "--landing", str(batch), "--json", str(self.root / "raw_validation_new_batch.json")],
            note="`readout contracts validate` cannot be given one file: measured on a landing folder holding "
                 "only the new batch (symlinks) and the export, so checks across batches (duplicates of earlier "
                 "rows) do not run")

    def result(self, started_at: datetime) -> dict:
        steps = self.steps

        def seconds(step: str) -> float | None:
            record = steps.get(step) or {}
            return record.get("seconds") if record.get("returncode", 0) == 0 else None

        def ratio(numerator: float | None, denominator: float | None) -> float | None:
            return round(numerator / denominator, 4) if numerator is not None and denominator else None

        full = seconds("full_build")
        ratios = {
            "full_build_over_floor": ratio(full, seconds("floor")),
            "no_change_over_full": ratio(seconds("no_change_refresh"), full),
            "incremental_over_full": ratio(seconds("incremental_refresh"), full),
            "pandas_over_floor": ratio(seconds("pandas"), seconds("floor")),
        }
        full_peak = (steps.get("full_build") or {}).get("peak_rss_bytes") if full is not None else None
        figures = {
            **ratios,
            "no_change_refresh_seconds": seconds("no_change_refresh"),
            "full_build_peak_rss_gb": None if full_peak is None else round(full_peak / 2**30, 3),
            "raw_validation_new_batch_seconds": seconds("raw_validation_new_batch"),
            "statistics_seconds": seconds("statistics"),
        }
        targets = []
        for key, limit, sizes, text in TARGETS:
            if sizes is not None and self.events not in sizes:
                continue
            value = figures.get(key)
            targets.append({"target": text, "figure": value, "limit": limit,
                            "met": None if value is None else value <= limit})
        return {
            "events": self.events,
            "label": self.label,
            "measured_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": git_state(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "note": self.options.note,
            "settings": {"seed": SEED, "faults": "none", "initial_as_of": INITIAL_AS_OF, "append_events": APPEND_SHARE,
                         "statistics_rows": STATS_ROWS, "floor_memory_limit": self.options.floor_memory_limit,
                         "dbt_threads": self.env.get("READOUT_DBT_THREADS", "2")},
            "steps": steps,
            "ratios": ratios,
            "targets": targets,
        }


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="scripts/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=parse_size,
                        help="events to simulate per size (default: 1M 10M 100M); e.g. 1000000 or 1M")
    parser.add_argument("--pandas", action="store_true",
                        help="time the pandas notebook at every size (default: 10M only)")
    parser.add_argument("--fresh", action="store_true",
                        help="simulate again even when build/bench/<size> holds the same landing zone")
    parser.add_argument("--skip", action="append", default=[], choices=STEPS, metavar="STEP",
                        help=f"leave a step out (repeatable): {', '.join(STEPS)}")
    parser.add_argument("--root", default=str(PROJECT / "build" / "bench"),
                        help="where each size's landing zone, warehouse and logs go (default build/bench)")
    parser.add_argument("--json", default=str(PROJECT / "target" / "bench.json"),
                        help="where the figures go (default target/bench.json)")
    parser.add_argument("--landing-from", metavar="DIR", default=None,
                        help="reuse this landing zone (one size only) instead of simulating one: its event files "
                             "are linked, never written; e.g. one simulated once outside the bench folder (the bench "
                             "replaces build/bench/<size>/landing itself)")
    parser.add_argument("--floor-memory-limit", metavar="SIZE", default=None,
                        help="DuckDB memory_limit of the floor query, e.g. 3GB (default: DuckDB's, 80%% of the memory)")
    parser.add_argument("--note", default=None,
                        help="a note stored with the figures, e.g. what else ran on the machine")
    # internal: one in-process measurement, run by the parent as a child process
    parser.add_argument("--internal", choices=sorted(INTERNAL), help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.internal:
        result = INTERNAL[options.internal](options)
        Path(options.result).write_text(json.dumps(result, default=float))
        return 0
    if sys.platform != "linux":
        print("scripts/bench.py: the memory sampler reads /proc; run it on Linux", file=sys.stderr)
        return 2
    sizes = options.sizes or list(DEFAULT_SIZES)
    if options.landing_from and len(sizes) != 1:
        print("scripts/bench.py: --landing-from takes one size (the landing zone's)", file=sys.stderr)
        return 2
    machine_info = machine()
    runs, failed = [], False
    for events in sizes:
        size_run = SizeRun(events, options)
        try:
            run = size_run.measure()
        except KeyboardInterrupt:
            print("\ninterrupted: figures of the finished sizes are kept", file=sys.stderr)
            failed = True
            break
        runs.append(run)
        failed = failed or size_run.failed
        write_json(Path(options.json), runs, machine_info)
        print(render(run, machine_info), flush=True)
        print(flush=True)
    if runs:
        print(f"figures: {Path(options.json)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
