"""What `make bench` records and prints: the machine, the git state, where a dbt build spent its time,
the targets of the issue, the table per size and target/bench.json."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench_proc import gib

PROJECT = Path(__file__).resolve().parents[1]

#: the issue's targets on the 2-core machine: (ratio or step, limit, sizes it applies to, text)
TARGETS = (
    ("full_build_over_floor", 2.0, (10_000_000, 100_000_000), "full build / floor query <= 2x at 10M and 100M"),
    ("incremental_over_full", 0.10, None, "incremental refresh (1% new) / full build <= 10%"),
    ("no_change_refresh_seconds", 10.0, (10_000_000,), "no-change refresh < 10 s at 10M"),
    ("full_build_peak_rss_gb", 4.0, (100_000_000,), "peak RSS of the 100M full build <= 4 GB"),
    ("raw_validation_new_batch_seconds", 10.0, (100_000_000,), "raw validation of one 1% batch < 10 s at 100M"),
    ("statistics_seconds", 1.0, None, "statistics on 10,000 rows < 1 s"),
)


def git_state() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    changed = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_changes": len(changed)}


def machine() -> dict:
    def cpu_model() -> str | None:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or None

    def memory_bytes() -> int | None:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "dbt_core": version("dbt-core"),
        "dbt_duckdb": version("dbt-duckdb"),
        "pandas": version("pandas"),
        # DuckDB settings of the build: the profile's (with their environment defaults) and the environment's
        "profile_settings": profile_settings(),
        "environment": {key: value for key, value in sorted(os.environ.items())
                        if key.startswith(("READOUT_DUCKDB_", "DUCKDB_")) and key != "READOUT_DUCKDB_PATH"},
    }


def profile_settings() -> dict:
    """The DuckDB output of profiles.yml: dbt threads and the DuckDB `settings` as written (Jinja unrendered)."""
    try:
        import yaml

        output = yaml.safe_load((PROJECT / "profiles.yml").read_text())["readout"]["outputs"]["duckdb"]
    except (OSError, KeyError, TypeError, ImportError, ValueError):
        return {}
    return {"threads": output.get("threads"), "settings": output.get("settings") or {},
            "config_options": output.get("config_options") or {}}


def dbt_profile(run_results: Path | list[Path], top: int = 8) -> dict | None:
    """Where a dbt build spent its time, from its run_results.json (several: the dbt invocations of one build,
    added up): dbt's own elapsed time, the slowest nodes, and the total of data tests and unit tests (node
    times overlap: dbt runs 2 threads)."""
    documents = []
    for path in run_results if isinstance(run_results, list) else [run_results]:
        try:
            documents.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not documents:
        return None
    nodes = [(result.get("execution_time") or 0.0, result.get("unique_id", "?"))
             for document in documents for result in document.get("results", [])]
    nodes.sort(reverse=True)
    return {
        "dbt_elapsed_seconds": round(sum(document.get("elapsed_time") or 0.0 for document in documents), 2),
        "dbt_invocations": len(documents),
        "slowest_nodes": [[unique_id.split(".", 1)[-1], round(seconds, 2)] for seconds, unique_id in nodes[:top]],
        "data_tests_seconds": round(sum(t for t, u in nodes if u.startswith("test.")), 2),
        "unit_tests_seconds": round(sum(t for t, u in nodes if u.startswith("unit_test.")), 2),
        "nodes": len(nodes),
    }


_DBT_LINE = re.compile(r"^(?:\x1b\[0m)?(\d\d):(\d\d):(\d\d)\s+(Running with dbt|Finished running)")


def build_phases(log: Path | str, seconds: float) -> dict | None:
    """Where a `readout build` step's wall time went, from its log: each dbt invocation from its first line to
    its summary, and the rest (the landing preflight, each dbt start-up before its first line, the mart
    contracts between the two invocations)."""
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return None
    marks = []
    for line in lines:
        match = _DBT_LINE.match(line)
        if match:
            h, m, s_ = (int(x) for x in match.groups()[:3])
            marks.append((match[4], h * 3600 + m * 60 + s_))
    runs, start = [], None
    for kind, at in marks:
        if kind == "Running with dbt":
            start = at
        elif start is not None:
            runs.append((start, at + (86400 if at < start else 0)))
            start = None
    if not runs:
        return None
    dbt = [end - begin for begin, end in runs]
    between = [runs[i + 1][0] - runs[i][1] for i in range(len(runs) - 1)]
    return {
        "dbt_invocations_seconds": dbt,
        "between_invocations_seconds": between,  # the mart contracts and the next dbt's start-up
        "outside_dbt_seconds": round(seconds - sum(dbt), 1),
    }


def describe_check(check: dict) -> str:
    if not check:
        return "nothing to compare"
    parts = []
    for metric_id, figures in check.items():
        text = f"{metric_id} {figures['max_relative_difference']:.1e}"
        if figures["only_in_candidate"] or figures["only_in_reference"]:
            text += f" ({figures['only_in_candidate']}+{figures['only_in_reference']} unmatched rows)"
        parts.append(text)
    return "max relative difference per metric: " + ", ".join(parts)


def _cell_seconds(record: dict | None) -> str:
    if not record:
        return "-"
    if record.get("seconds") is None:
        return "-"
    return f"{record['seconds']:.2f} s" if record["seconds"] < 10 else f"{record['seconds']:.1f} s"


def render(run: dict, machine_info: dict) -> str:
    steps = run["steps"]
    landing = steps.get("landing") or {}
    changed = run["git"]["uncommitted_changes"]
    rows_landed = landing.get("event_rows")
    lines = [(
        f"readout bench: {run['events']:,} events ({'?' if rows_landed is None else f'{rows_landed:,}'} rows landed)"
        f" on {machine_info['cores']} cores, {gib(machine_info['memory_bytes'])}, {machine_info['cpu_model']};"
        f" commit {(run['git']['commit'] or '?')[:10]}{f' + {changed} changed files' if changed else ''};"
        f" load average {run['load_average_at_start'][0]}"
    )]
    if run.get("note"):
        lines.append(f"note: {run['note']}")
    rows = [("step", "time", "peak RSS", "spilled", "")]
    titles = {
        "simulate": "simulate (readout simulate)",
        "full_build": "full build (make rebuild)",
        "floor": "floor: one DuckDB query",
        "pandas": "pandas notebook",
        "no_change_refresh": "no-change refresh (make build)",
        "no_change_dbt": "no-change refresh through dbt (make build FORCE=1)",
        "statistics": f"statistics on {run.get('settings', {}).get('statistics_rows', 10_000):,} rows",
        "raw_validation": "raw contract validation, full",
        "append": f"append {run.get('settings', {}).get('append_events', '1%')} (simulate --append)",
        "incremental_refresh": "incremental refresh (make build)",
        "floor_after_append": "floor check after the append",
        "raw_validation_new_batch": "raw validation, new batch",
        "raw_validation_after_append": "raw validation, all after append",
    }
    for step, title in titles.items():
        record = steps.get(step)
        if record is None:
            continue
        note = record.get("reason") or ""
        if record.get("stopped"):
            note = f"{record['stopped']}; see {record.get('log')}"
        elif record.get("returncode") not in (None, 0):
            note = f"FAILED (exit {record['returncode']}), see {record.get('log')}"
        elif record.get("caveat"):
            note = record["caveat"]
        elif "check_against_marts" in record:
            note = "vs marts: " + describe_check(record["check_against_marts"]).replace("max relative difference per metric: ", "max rel. diff ")
        elif step == "append" and record.get("rows") is not None:
            note = f"{record['rows']:,} rows, {record.get('late_rows') or 0:,} late, {len(record.get('new_files', []))} file(s)"
        elif record.get("validator_summary"):
            note = record["validator_summary"].replace("raw_events: ", "")
        elif step == "statistics" and record.get("output_rows") is not None:
            note = f"median of 3; {record['output_rows']:,} result rows"
        spilled = record.get("peak_spill_bytes")  # None: not watched (figures from before it was)
        rows.append((title, _cell_seconds(record), gib(record.get("peak_rss_bytes")), gib(spilled or None), note))
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        lines.append(f"  {row[0]:<{width[0]}}  {row[1]:>{width[1]}}  {row[2]:>{width[2]}}  {row[3]:>{width[3]}}"
                     f"  {row[4]}".rstrip())
    ratio_text = {
        "full_build_over_floor": "full build / floor", "no_change_over_full": "no-change / full build",
        "incremental_over_full": "incremental / full build", "pandas_over_floor": "pandas / floor",
    }
    shown = [f"{text} {run['ratios'][key]:.2f}x" if key.endswith("floor") else f"{text} {run['ratios'][key]:.1%}"
             for key, text in ratio_text.items() if run["ratios"].get(key) is not None]
    if shown:
        lines.append("  ratios (same run, back to back): " + "; ".join(shown))
    floor_settings = (steps.get("floor") or {}).get("duckdb_settings")
    if floor_settings:
        build_settings = {**machine_info.get("profile_settings", {}).get("settings", {}),
                          **machine_info.get("profile_settings", {}).get("config_options", {})}
        limit = re.search(r"'(\d+\s*[KMGT]i?B|\d+%)'\s*\)", str(build_settings.get("memory_limit", "")))
        lines.append(f"  DuckDB: floor memory_limit {floor_settings['memory_limit']}, {floor_settings['threads']} threads; "
                     f"build memory_limit {machine_info['environment'].get('READOUT_DUCKDB_MEMORY_LIMIT') or (limit.group(1) if limit else 'default')}"
                     f" (profiles.yml)")
    for step in ("full_build", "incremental_refresh"):
        profile = (steps.get(step) or {}).get("dbt")
        if profile:
            slowest = ", ".join(f"{name.split('.')[-1]} {seconds:.1f} s" for name, seconds in profile["slowest_nodes"][:4])
            lines.append(f"  {titles[step].split(' (')[0]}: dbt {profile['dbt_elapsed_seconds']:.1f} s of "
                         f"{steps[step]['seconds']:.1f} s; slowest {slowest}; data tests {profile['data_tests_seconds']:.1f} s")
    for target in run["targets"]:
        verdict = "not measured" if target["met"] is None else ("met" if target["met"] else "MISSED")
        figure = "" if target["figure"] is None else f" ({target['figure']:.3g})"
        lines.append(f"  target: {target['target']}: {verdict}{figure}")
    return "\n".join(lines)


def write_json(path: Path, runs: list[dict], machine_info: dict) -> None:
    existing = {}
    if path.exists():
        try:
            existing = {entry["events"]: entry for entry in json.loads(path.read_text()).get("sizes", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            existing = {}
    for run in runs:
        existing[run["events"]] = run
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_by": "scripts/bench.py (make bench)",
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        "sizes": [existing[key] for key in sorted(existing)],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
