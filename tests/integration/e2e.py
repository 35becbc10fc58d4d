"""End-to-end fixtures: build the dbt project on a small landing zone into a temporary warehouse."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from readout.landing import ensure_landing_tables
from readout.simulate import main as simulate_main

PROJECT = Path(__file__).resolve().parents[2]
#: the seed of the simulations the integration tests share (tests/integration/conftest.py)
SEED = 5
SHARED_DATA = PROJECT.parent / "shared" / "data" / "external"
BIN = Path(sys.executable).parent


def target_dir(warehouse: Path) -> Path:
    """The dbt target folder of a warehouse: one per warehouse, so builds in parallel (or beside a developer's)
    never share partial-parse state or run_results.json."""
    return Path(warehouse).parent / f"target-{Path(warehouse).stem}"


def project_env(landing: Path, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DBT_PROFILES_DIR=str(PROJECT),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        READOUT_LANDING_PATH=str(landing),
        READOUT_DUCKDB_PATH=str(warehouse),
        DBT_TARGET_PATH=str(target_dir(warehouse)),
        DBT_LOG_PATH=str(target_dir(warehouse) / "logs"),
        # no logs/dbt.log: its debug lines cost a build about 6% of its CPU (measured 2026-12-02 at 40k events,
        # three pairs back to back: 48.9-49.8 s of CPU against 51.6-52.9 s), and a test reads dbt's stdout, which
        # holds every error; a test that reads the file sets the level back (test_parse_state.py)
        DBT_LOG_LEVEL_FILE="none",
    )
    return env


#: dbt's parse state, kept for the whole test run (tests/integration/conftest.py sets it): every build of the
#: project on a warehouse of its own starts from it rather than from a full parse (see ``parse_shared``)
PARSE_STATE: Path | None = None
#: the name a build whose parse is shared opens its warehouse by (a link in a folder of its own)
SHARED_WAREHOUSE = "readout.duckdb"
_PARSE_STATE_FILE = "partial_parse.msgpack"
_DBT_PARSING = {"build", "run", "test", "seed", "compile", "parse", "show", "list", "ls", "docs", "snapshot"}


def parse_shared(command: list[str], env: dict[str, str]) -> bool:
    """Whether ``command`` is a DuckDB build of this project whose parse state a test run shares: ``readout build``
    or a parsing dbt command, with no other target, on the project itself or a copy a test edited (``--project-dir``:
    dbt matches files by their path within the project and parses again those whose checksum differs, added or
    deleted; a file the copy left unchanged keeps the project's parse, a seed among them loaded from the project's
    own file, the same bytes; a test that reads the parse itself runs dbt directly, test_parse_state.py).

    dbt keeps its parse state in the target folder (partial_parse.msgpack) and reuses it only when the profile's
    connection keys are the same: the warehouse path and the spill folder named after it. The landing path is
    not in the parse state (the sources read it when a build runs: macros/landing_sources.sql). A test's
    warehouse has a path of its own, so each new target folder parsed the whole project afresh: 7-9 s of CPU,
    against under 1 s from a shared state (measured 2026-12-02 at 40k events: a ``readout build --full-refresh``
    took 30.8 s, 23.1 s from the state). So such a build runs in a folder of its own where the warehouse is a
    link by one relative name (SHARED_WAREHOUSE), as a build of the project's defaults sees a relative path. dbt's
    own file checksums and recorded environment variables still decide what it parses again."""
    program, arguments = Path(command[0]).name, command[1:]
    if program == "readout":
        parses = arguments[:1] == ["build"]
    elif program == "dbt":
        parses = bool(arguments) and arguments[0] in _DBT_PARSING
    else:
        return False
    paths = (env.get("READOUT_DUCKDB_PATH", ""), env.get("READOUT_LANDING_PATH", ""), env.get("DBT_TARGET_PATH", ""))
    return (
        parses
        and PARSE_STATE is not None
        and "--target" not in arguments
        and all(os.path.isabs(path) for path in paths)
    )


def _project(command: list[str]) -> Path:
    """The project ``command`` runs on: this one, or a copy (``--project-dir``)."""
    arguments = command[1:]
    return Path(arguments[arguments.index("--project-dir") + 1]).resolve() if "--project-dir" in arguments else PROJECT


def _shared_parse_setup(env: dict[str, str], project: Path) -> tuple[Path, dict[str, str]] | None:
    """The folder a shared-parse build runs in, its environment, and the run's parse state copied into its target
    folder if it has none; None where the links cannot be made (the build then runs as it is).

    The warehouse is a hard link, not a symbolic one: DuckDB names a database after the file it opens, a symbolic
    link's target, and the catalog must be the one dbt names after SHARED_WAREHOUSE. A hard link is the same file,
    so the link is made again whenever the warehouse's path names another file (a test replaced it), and a new
    warehouse is created empty first, as dbt would create it."""
    target, warehouse = Path(env["DBT_TARGET_PATH"]), Path(env["READOUT_DUCKDB_PATH"])
    folder = target / "shared-parse"
    link = folder / SHARED_WAREHOUSE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not warehouse.exists():
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(str(warehouse)).close()
        if not (link.exists() and os.path.samefile(link, warehouse)):
            link.unlink(missing_ok=True)
            os.link(warehouse, link)
    except OSError:
        return None
    if PARSE_STATE.exists() and not (target / _PARSE_STATE_FILE).exists():
        shutil.copyfile(PARSE_STATE, target / _PARSE_STATE_FILE)
    staged = dict(
        env,
        READOUT_DUCKDB_PATH=SHARED_WAREHOUSE,
        DBT_PROJECT_DIR=str(project),
    )
    return folder, staged


def _keep_parse_state(env: dict[str, str]) -> None:
    """The first shared-parse build's state becomes the run's (written whole, then renamed: atomic). Which build is
    first depends on the workers' timing; one with ``--vars`` is never kept (the late-data timeline's), as dbt would
    parse afresh for every build without the same vars, nor one of a copy of the project (its files differ)."""
    state = Path(env["DBT_TARGET_PATH"]) / _PARSE_STATE_FILE
    if PARSE_STATE.exists() or not state.exists():
        return
    partial = PARSE_STATE.with_name(f"{PARSE_STATE.name}.{os.getpid()}")
    shutil.copyfile(state, partial)
    partial.replace(PARSE_STATE)


def run(command: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    # a shared-parse build (parse_shared: PARSE_STATE is set) runs in its own folder; any other command as it is
    project = _project(command)
    setup = parse_shared(command, env) and _shared_parse_setup(env, project)
    cwd, env = setup or (PROJECT, env)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if setup and result.returncode == 0 and "--vars" not in command and project == PROJECT:
        _keep_parse_state(env)  # not a build with --vars (dbt reuses a state only with the same vars), nor of a copy
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        raise AssertionError(f"{shlex.join(command)} exited {result.returncode}:\n{tail}")
    return result


def readout(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "readout"), *args], env, check=check)


def event_time_flags(landing: Path, env: dict[str, str]) -> list[str]:
    return readout("event-time-range", "--landing", str(landing), env=env).stdout.split()


def dbt(*args: str, landing: Path, warehouse: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = project_env(landing, warehouse)
    return run([str(BIN / "dbt"), *args], env, check=check)


def dbt_build(
    landing: Path,
    warehouse: Path,
    *extra: str,
    check: bool = True,
    unit_tests: bool = False,
    contracts: bool = True,
) -> subprocess.CompletedProcess:
    """What ``make rebuild`` runs: ``readout build --full-refresh`` (the landing preflight, then ``dbt build
    --full-refresh`` plus ``extra`` dbt args; the build's inputs are recorded for a later no-change refresh).
    Staging ingests by landing file, so no event-time range is needed. ``unit_tests``: dbt's unit tests too
    (``--unit-tests``; a build leaves them out by default). ``contracts=False``: ``--no-contracts``, one dbt build
    without the mart contracts between writing and publishing, for a module whose tests read no contract alarm
    (it saves Great Expectations' import and validation, and the second step: about 20 s of CPU at 40k events)."""
    env = project_env(landing, warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    flags = ("--full-refresh", *(("--unit-tests",) if unit_tests else ()), *(() if contracts else ("--no-contracts",)))
    return readout("build", *flags, *(("--", *extra) if extra else ()), env=env, check=check)


def query(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def build_log_rows(warehouse: Path) -> int:
    """Rows of the build log (``readout build`` writes a started and a finished row per dbt invocation)."""
    return int(query(warehouse, "select count(*) as n from main.readout_build_log").n[0])


def simulate(out: Path, faults: str, events: int, *extra: str) -> dict:
    code = simulate_main(
        ["--seed", str(SEED), "--events", str(events), "--faults", faults, "--out", str(out), "--quiet", *extra]
    )
    assert code == 0, f"readout simulate --faults {faults} exited {code}"
    return json.loads((out / "manifest.json").read_text())


def build_results(warehouse: Path) -> list[dict]:
    """The node results of the last ``readout build`` into ``warehouse``: the write-and-audit step's (kept aside
    when it passed), then the last step's."""
    files = [target_dir(warehouse) / name for name in ("run_results.write_audit.json", "run_results.json")]
    return [r for path in files if path.exists() for r in json.loads(path.read_text())["results"]]


def build(landing: Path, warehouse: Path, *select: str, unit_tests: bool = False) -> tuple[str, list[str]]:
    """dbt build (whole project, or --select): 'pass (n tests)' or 'FAIL: <tests>', and the failed tests."""
    ensure_landing_tables(landing)
    extra = ("--select", *select) if select else ()
    result = dbt_build(landing, warehouse, *extra, check=False, unit_tests=unit_tests)
    run_results = build_results(warehouse)
    tests = [r for r in run_results if r["unique_id"].startswith(("test.", "unit_test."))]
    failed = sorted(r["unique_id"].split(".")[2] for r in tests if r["status"] in ("fail", "error"))
    errors = [r["unique_id"] for r in run_results if r["status"] == "error" and not r["unique_id"].startswith("test.")]
    assert not errors, f"dbt build errored (not a test failure): {errors}\n{result.stdout[-3000:]}"
    return (f"FAIL: {', '.join(failed)}" if failed else f"pass ({len(tests)} tests)"), failed
