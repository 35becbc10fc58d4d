"""The two builds the DuckDB vs Spark equality test compares (test_spark_equality.py), run in the background.

The suite does not give these builds a worker of its own: when a worker collects the equality module, it starts
this script as a process of its own (``start``), the other modules run beside it, and the module, which runs last,
waits for the result (``wait``). That shortened the run (pytest 830 -> 737 s back to back when it came in), but not
because the Spark build is idle: measured alone on this 2-core machine (session 12, whole-machine CPU from
/proc/stat), the three steps take about 450 s of CPU in 267 s, the Spark build 380 s of CPU in 216 s, of which
dbt's Python is about 60 s (py-spy) and the JVM the rest. That is about a quarter of the suite's CPU. Started once
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

from e2e import project_env, readout, simulate

EVENTS = 50_000
#: a folder name Spark spells differently in its file URIs (a space is %20) and that SQL must quote (the quote)
CRAFTED_FOLDER = "it's a + landing zone"
#: the crafted file whose revenue column arrived as text: DuckDB reads it (and quarantines "abc"); Spark's Parquet
#: reader refuses a column whose type is not the declared one, naming the file, so it is left out here. On both
#: targets `readout build` refuses that file before dbt runs (the landing preflight).
RETYPED_FILE = "part-text.parquet"
RESULT, LOG, PID = "result.json", "builds.log", "builds.pid"
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
    spark.update(READOUT_SPARK_DIR=str(where["spark_dir"]), DBT_TARGET_PATH=str(where["spark_dir"] / "target"))
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


def make_builds(root: Path) -> dict:
    """Simulate (every simulator fault, plus the crafted files), then build on DuckDB and on Spark. The Spark build
    runs dbt's unit tests too (--unit-tests): a failing one fails the build."""
    where = paths(root)
    simulate(where["landing"], "all", EVENTS)
    crafted_files = add_crafted_files(where["landing"], root / "crafted")
    where["duckdb"].parent.mkdir(parents=True, exist_ok=True)
    envs = environments(root)
    timings, outputs = {}, {}
    for name, extra in (("duckdb", ()), ("spark", ("--target", "spark", "--unit-tests"))):
        started = time.monotonic()
        outputs[name] = readout("build", "--full-refresh", *extra, env=envs[name]).stdout
        timings[name] = round(time.monotonic() - started, 1)
    return {"crafted_files": crafted_files, "timings": timings, "spark_output": outputs["spark"]}


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
