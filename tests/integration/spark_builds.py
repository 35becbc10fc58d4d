"""The two builds the DuckDB vs Spark equality test compares (test_spark_equality.py), run in the background.

The suite does not give these builds a worker of its own: when a worker collects the equality module, it starts
this script as a process of its own (``start``), the other modules run beside it, and the module, which runs last,
waits for the result (``wait``). That shortened the run (pytest 830 -> 737 s back to back when it came in), but not
because the Spark build is idle: measured alone on this 2-core machine (session 12, whole-machine CPU from
/proc/stat), the three steps take about 450 s of CPU in 267 s, the Spark build 380 s of CPU in 216 s, of which
dbt's Python is about 60 s (py-spy) and the JVM the rest. That is about a quarter of the suite's CPU. (Since the
Spark build leaves out the data tests of the tables the equality test compares: 371 s of CPU in 227 s, against 432 s
in 255 s back to back before, on 2026-12-02.) Started once
per test run: the first worker to collect the module starts it (conftest's once_per_run); the others find it
started.

As a script, ``python spark_builds.py ROOT --watch PID``: simulates the landing zone into ROOT, builds it with
``readout build --full-refresh`` on DuckDB and then on Spark, and writes ROOT/result.json (the builds' outputs and
times, or the failure and the tail of its output). It stops, and its builds with it, if process PID ends: the test
run it belongs to was interrupted, so nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # as a script: tests/ too, as pytest.ini's pythonpath gives it (this folder is first)
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from e2e import project_env, readout, simulate, target_dir

EVENTS = 50_000
#: a folder name Spark spells differently in its file URIs (a space is %20) and that SQL must quote (the quote)
CRAFTED_FOLDER = "it's a + landing zone"
#: the crafted file whose revenue column arrived as text: DuckDB reads it (and quarantines "abc"); Spark's Parquet
#: reader refuses a column whose type is not the declared one, naming the file, so it is left out here. On both
#: targets `readout build` refuses that file before dbt runs (the landing preflight).
RETYPED_FILE = "part-text.parquet"
RESULT, LOG, PID = "result.json", "builds.log", "builds.pid"
#: the test's Spark is tuned for 50,000 events beside a busy suite, where CPU, not the build's own wall time, is what
#: the run waits for: one shuffle partition, whole-stage code generation and adaptive execution off (compiling Java for
#: each query costs more than interpreting it on small data), and a JVM with the serial garbage collector and the C1
#: compiler only (no concurrent collector threads, no C2 compilations). The Spark build alone (2026-12-02, on a slow
#: day of this machine, one run each): 503 s of CPU in 285 s with profiles.yml's settings (and the in-memory catalog);
#: 453 s in 257 s with the partitions and the SQL settings; 416 s in 243 s with the serial collector too; 341 s in 260
#: s with C1 only too; 389 s in 286 s with the JVM settings and code generation on. The settings change how Spark runs
#: a query, not its SQL: the tables compared are the same. Outside the tests, profiles.yml's defaults stand.
SMALL_DATA_SPARK = {
    "READOUT_SPARK_SHUFFLE_PARTITIONS": "1",
    "JAVA_TOOL_OPTIONS": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    "PYSPARK_SUBMIT_ARGS": (
        "--conf spark.sql.codegen.wholeStage=false --conf spark.sql.adaptive.enabled=false pyspark-shell"
    ),
}
#: how long ``wait`` waits for the builds (here they take 3-5 minutes beside the rest of the suite)
TIMEOUT_SECONDS = 40 * 60


def paths(root: Path) -> dict[str, Path]:
    """Where the builds are: the landing zone, the DuckDB warehouse, the Spark folder."""
    return {
        "landing": root / CRAFTED_FOLDER,
        "duckdb": root / "duckdb" / "readout.duckdb",
        "spark_dir": root / "spark",
    }


def environments(root: Path) -> dict[str, dict[str, str]]:
    where = paths(root)
    duck = project_env(where["landing"], where["duckdb"])
    spark = project_env(where["landing"], where["spark_dir"] / "unused.duckdb")
    spark.update(
        READOUT_SPARK_DIR=str(where["spark_dir"]),
        DBT_TARGET_PATH=str(where["spark_dir"] / "target"),
        # the build runs in one process and the test reads its tables back as Parquet files, so the catalog need
        # not outlive it: no Derby metastore (240 s of CPU in 138 s against 309 s in 175 s, one run each)
        READOUT_SPARK_CATALOG="in-memory",
        **SMALL_DATA_SPARK,
    )
    return {"duckdb": duck, "spark": spark}


def add_crafted_files(landing: Path, scratch: Path) -> list[str]:
    """The staging-hardening test's crafted event files, less the retyped one, as files of the landing zone."""
    from test_staging_hardening import write_landing

    write_landing(scratch)
    added = []
    for path in sorted((scratch / "events").glob("*.parquet")):
        if path.name != RETYPED_FILE:
            shutil.copy(path, landing / "events" / f"crafted-{path.name}")
            added.append(f"events/crafted-{path.name}")
    return added


def table_relations(manifest: dict) -> dict[str, tuple[str, str]]:
    """unique_id -> (schema, table) of every model and seed dbt writes as a table (tables, incremental models,
    seeds: the relations the equality test reads back from the Spark build's Parquet)."""
    return {
        unique_id: (node["schema"], node.get("alias") or node["name"])
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "seed"
        or (node["resource_type"] == "model" and node["config"]["materialized"] in ("table", "incremental"))
    }


def tests_left_to_the_comparison(manifest: dict) -> list[str]:
    """The generic data tests the Spark build leaves out: those on a table the equality test compares with
    DuckDB's row for row, where the DuckDB build ran them and they passed, so on an equal table they pass too.
    Every test on a view (a relation that cannot be read back from Parquet) and every singular test stays, and
    with them at least one test of each generic kind (not_null, unique, accepted_values,
    unique_combination_of_columns), so every test's SQL still runs on Spark. By name (dbt's node selector)."""
    tables = table_relations(manifest)
    tests = sorted(
        (unique_id, node)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and node.get("test_metadata")
    )
    kept_kinds = {node["test_metadata"]["name"] for _, node in tests if node.get("attached_node") not in tables}
    left_out = []
    for _, node in tests:
        if node.get("attached_node") in tables:
            if node["test_metadata"]["name"] in kept_kinds:
                left_out.append(node["name"])
            else:  # the first test of a kind found only on tables runs on Spark
                kept_kinds.add(node["test_metadata"]["name"])
    return left_out


def make_builds(root: Path) -> dict:
    """Simulate (every simulator fault, plus the crafted files), then build on DuckDB and on Spark. The Spark build
    runs dbt's unit tests too (--unit-tests): a failing one fails the build. It leaves out the data tests
    ``tests_left_to_the_comparison`` names (147 of 189): the equality test compares every table they test. Back to
    back, alone (2026-12-02): these steps took 371 s of CPU in 227 s with them left out, 432 s in 255 s before."""
    where = paths(root)
    simulate(where["landing"], "all", EVENTS)
    crafted_files = add_crafted_files(where["landing"], root / "crafted")
    where["duckdb"].parent.mkdir(parents=True, exist_ok=True)
    envs = environments(root)
    timings, outputs = {}, {}
    started = time.monotonic()
    outputs["duckdb"] = readout("build", "--full-refresh", env=envs["duckdb"]).stdout
    timings["duckdb"] = round(time.monotonic() - started, 1)
    manifest = json.loads((target_dir(where["duckdb"]) / "manifest.json").read_text())
    left_out = tests_left_to_the_comparison(manifest)
    started = time.monotonic()
    outputs["spark"] = readout(
        "build", "--full-refresh", "--target", "spark", "--unit-tests", "--", "--exclude", *left_out, env=envs["spark"]
    ).stdout
    timings["spark"] = round(time.monotonic() - started, 1)
    return {
        "crafted_files": crafted_files,
        "timings": timings,
        "spark_output": outputs["spark"],
        "spark_tests_left_out": left_out,
    }


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running. An exited child its parent has not reaped (a zombie: the builds'
    process, when the worker that started it is not the one waiting) counts as ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: whether the process exists at all
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def start(root: Path) -> None:
    """Start the builds into ``root``, in a process of their own (once per test run: tests/integration/conftest.py
    calls this through once_per_run when it collects the equality module)."""
    root.mkdir(parents=True, exist_ok=True)
    # the test run's own process: the xdist controller (a worker's parent), or pytest itself without xdist
    watch = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    with open(root / LOG, "w") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, str(root), "--watch", str(watch)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one (see main)
        )
    (root / PID).write_text(str(process.pid))


def wait(root: Path, timeout: float = TIMEOUT_SECONDS) -> dict:
    """The builds' result (``make_builds``'s, plus the paths); AssertionError with the failure and the tail of the
    output if they failed, stopped, or did not finish within ``timeout`` seconds."""
    result_path, deadline = root / RESULT, time.monotonic() + timeout
    if not (root / PID).exists():
        raise AssertionError(f"the background builds were never started into {root} (conftest starts them)")
    pid = int((root / PID).read_text())
    if not result_path.exists():  # seen with pytest -s (make test-spark)
        print(f"waiting for the DuckDB and Spark builds (pid {pid}; their output: {root / LOG})", flush=True)
    while not result_path.exists():
        if not _alive(pid) and not result_path.exists():
            raise AssertionError(f"the background builds (pid {pid}) ended without a result:\n{_tail(root)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the background builds did not finish in {timeout:.0f} s:\n{_tail(root)}")
        time.sleep(1)
    result = json.loads(result_path.read_text())
    if "error" in result:
        raise AssertionError(f"the background builds failed: {result['error']}")
    return {**result, **paths(root), "spark_env": environments(root)["spark"], "root": root}


def _tail(root: Path, lines: int = 60) -> str:
    log = root / LOG
    return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else "(no output)"


def _stop_with(watched: int) -> None:
    """Stop this process group (the builds, their dbt and JVM processes) once ``watched`` has ended."""
    while _alive(watched):
        time.sleep(2)
    print(f"process {watched} (the test run) ended: stopping the builds", flush=True)
    os.killpg(os.getpgrp(), signal.SIGTERM)


def main(argv: list[str]) -> int:
    root, watched = Path(argv[0]), int(argv[argv.index("--watch") + 1])
    threading.Thread(target=_stop_with, args=(watched,), daemon=True).start()
    try:
        result = make_builds(root)
    except Exception as error:  # noqa: BLE001 - reported to the test that waits, with the output's tail
        result = {"error": f"{type(error).__name__}: {error}"}
    partial = root / f"{RESULT}.partial"
    partial.write_text(json.dumps(result))
    partial.replace(root / RESULT)  # atomic: the waiting test never reads half a file
    print(json.dumps({k: v for k, v in result.items() if k != "spark_output"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
