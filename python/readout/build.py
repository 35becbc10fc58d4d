"""``readout build``: the landing preflight, then ``dbt build``, skipped when nothing it reads has changed.

A refresh with no new landing file and no change to the project is answered from the build log in about a
second instead of a dbt run (dbt still costs tens of seconds at 10M events with nothing to do: every test
rescans its table). "Nothing changed" is decided by the build's inputs fingerprint, a sha256 over

- every file in the landing zone: relative path, size and modification time (a rewritten file changes its
  mtime, so a changed landing file is never skipped over: dbt runs and stops with the error naming it);
- the content of every file dbt reads: dbt_project.yml, profiles.yml, models/, macros/, seeds/, tests/
  (dbt's .sql/.yml/.csv), the frozen and restated readouts (readouts/ or $READOUT_RECORDS_DIR), and the readout
  package the dbt Python models import;
- the READOUT_* settings (but the two locations), and the versions of dbt-core, dbt-duckdb and duckdb.

After a successful ``dbt build``, the fingerprint is recorded in the warehouse, in ``readout_build_inputs``
beside the build log, under dbt's invocation id. A later plain ``readout build`` skips dbt only when the
latest build in the log finished successfully and was recorded with the same fingerprint: a failed, killed
or running build, a new file, an edited model or a deleted warehouse all mean dbt runs. ``--full-refresh``
(``make rebuild``), ``--force`` (``make build FORCE=1``) and any dbt arguments always run dbt.

dbt runs in this process, through its Python entry point (``dbt_in_process``, imported only when a build runs
dbt): the one place in the package, with the Spark build that shares it, that imports dbt. The statistics, the
contracts, the report and the rest import nothing from dbt.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from readout.landing import ensure_landing_tables, preflight, project_file
from readout.paths import landing_path, warehouse_path
from readout.warehouse import BUILD_LOG_TABLE, latest_build, quoted, schema_of

INPUTS_TABLE = "readout_build_inputs"
#: folders (under the dbt project) whose files dbt reads, and the suffixes that matter there
PROJECT_FOLDERS = ("models", "macros", "seeds", "tests", "snapshots")
PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md"}
#: dbt reads only SQL, YAML and fixtures under tests/ (the pytest suite beside them is not dbt's input: editing it
#: neither reruns dbt nor changes the code version a readout's history records)
FOLDER_SUFFIXES = {"tests": {".sql", ".yml", ".yaml", ".csv"}}
VERSIONED_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
#: the frozen and restated readouts (readout freeze / restate; dbt seeds): data under version control, not code,
#: so a freeze is not a code change; inputs of the build all the same: the inputs fingerprint covers them
RECORDS_ENV, RECORDS_DEFAULT = "READOUT_RECORDS_DIR", "readouts"
#: where the landing zone and the warehouse are: the landing files themselves are fingerprinted, and the
#: warehouse is where the record is read, so a copied or moved pair is still current
LOCATION_VARIABLES = {"READOUT_LANDING_PATH", "READOUT_DUCKDB_PATH"}


class BuildError(ValueError):
    """A problem the user can fix; printed as one line by the CLI (exit code 2)."""


@dataclass(frozen=True)
class Inputs:
    fingerprint: str
    landing_files: int
    project_files: int


# ----------------------------------------------------------------------------------------- fingerprint
def _files_under(root: Path, suffixes: set[str] | None = None) -> list[Path]:
    if not root.is_dir():
        return []
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__" and not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if suffixes is None or path.suffix in suffixes:
                found.append(path)
    return found


def _project_files(project_dir: Path, folder: str) -> list[Path]:
    """The files dbt reads under one of the project's folders."""
    return _files_under(project_dir / folder, FOLDER_SUFFIXES.get(folder, PROJECT_SUFFIXES))


def inputs_fingerprint(project_dir: Path, landing: Path, profiles_dir: Path | None = None) -> Inputs:
    """The fingerprint of everything a build reads (see the module docstring)."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update("\x1f".join(map(str, parts)).encode() + b"\x1e")

    landing_files = _files_under(landing)
    for path in landing_files:
        stat = path.stat()
        add("landing", path.relative_to(landing).as_posix(), stat.st_size, stat.st_mtime_ns)
    project_files = [project_dir / "dbt_project.yml"]
    profiles = (profiles_dir or project_dir) / "profiles.yml"
    if profiles.is_file():
        project_files.append(profiles)
    for folder in (*PROJECT_FOLDERS, os.environ.get(RECORDS_ENV) or RECORDS_DEFAULT):
        project_files += _project_files(project_dir, folder)
    package = Path(__file__).resolve().parent
    for path in project_files:
        add(
            "project",
            path.resolve().relative_to(project_dir.resolve())
            if path.resolve().is_relative_to(project_dir.resolve())
            else path.name,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    for path in _files_under(package, {".py"}):
        add("package", path.relative_to(package).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest())
    for name in sorted(os.environ):
        if name.startswith("READOUT_") and name not in LOCATION_VARIABLES:
            add("env", name, os.environ[name])
    for name in VERSIONED_PACKAGES:
        try:
            add("version", name, importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            add("version", name, "absent")
    return Inputs(digest.hexdigest(), len(landing_files), len(project_files))


# ---------------------------------------------------------------------------------------- build log
def current_build(warehouse: Path, fingerprint: str) -> tuple[str, str] | None:
    """(invocation id, finished at) of the warehouse's latest build when it finished successfully and was
    recorded with ``fingerprint``; None otherwise (no warehouse, no log, a failed, killed or running latest
    build, or other inputs)."""
    if not warehouse.is_file():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:  # locked by a running build, or not a DuckDB file: let dbt say so
        return None
    try:
        inputs_schema = schema_of(con, INPUTS_TABLE)
        latest = latest_build(con)
        if inputs_schema is None or latest is None or latest.outcome != "success":
            return None
        recorded = con.execute(
            f"select 1 from {quoted(inputs_schema)}.{INPUTS_TABLE} where invocation_id = ? and inputs_fingerprint = ?",
            [latest.invocation_id, fingerprint],
        ).fetchone()
        return (latest.invocation_id, str(latest.finished_at)[:19]) if recorded else None
    finally:
        con.close()


def record_build(warehouse: Path, invocation_id: str, inputs: Inputs) -> None:
    """Remember that build ``invocation_id`` read ``inputs`` (beside the build log, append-only)."""
    con = duckdb.connect(str(warehouse))
    try:
        schema = schema_of(con, BUILD_LOG_TABLE) or "main"
        con.execute(
            f"""
            create table if not exists {quoted(schema)}.{INPUTS_TABLE} (
                invocation_id varchar, inputs_fingerprint varchar, landing_files integer,
                project_files integer, recorded_at timestamp
            )
            """
        )
        con.execute(
            f"insert into {quoted(schema)}.{INPUTS_TABLE} values (?, ?, ?, ?, now()::timestamp)",
            [invocation_id, inputs.fingerprint, inputs.landing_files, inputs.project_files],
        )
    finally:
        con.close()


def code_version(project_dir: Path) -> str:
    """``<git commit>[+uncommitted] code <12 hex>``: the commit, and the sha256 of the code dbt runs (the files
    dbt reads, dbt_project.yml and its vars included, the frozen and restated records of readouts/ apart, and the
    package), always the last 12 characters, so that two builds of the same code compare equal whatever was
    committed in between (a freeze); without git, ``no git, code <12 hex>``."""
    digest = hashlib.sha256()
    # dbt_project.yml holds the vars the statistics read (alpha, power, priors...): a change there is a code change
    digest.update((project_dir / "dbt_project.yml").read_bytes())
    for folder in PROJECT_FOLDERS:
        for path in _project_files(project_dir, folder):
            digest.update(path.read_bytes())
    for path in _files_under(Path(__file__).resolve().parent, {".py"}):
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        commit = status = None
    code = f"code {digest.hexdigest()[:12]}"
    if commit is not None and commit.returncode == 0 and status.returncode == 0:
        return commit.stdout.strip() + ("+uncommitted" if status.stdout.strip() else "") + " " + code
    return f"no git, {code}"


def contract_versions(project_dir: Path) -> str:
    """Every data contract's name and version, ``name:vN`` comma-separated (contracts/*.yml)."""
    versions = []
    for path in sorted((project_dir / "contracts").glob("*.yml")):
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            document = {}
        if isinstance(document, dict) and "contract_version" in document:
            versions.append(f"{document.get('name', path.stem)}:v{document['contract_version']}")
    return ",".join(versions) or "none"


# ------------------------------------------------------------------------------- contract alarms
#: the model reading the contract alarms (the readout status's hook): it and what is downstream of it (the
#: status, the readout, the published layer, the history) are built after the mart contracts are validated
STATUS_MODEL = "int_readout_blocking_alarms"
#: mart contracts whose table is downstream of the status (validated after publishing, by `readout contracts`)
AFTER_STATUS = {"fct_metric_results"}
ALARMS_TABLE = "readout_blocking_alarms"
WRITE_AUDIT_RESULTS = "run_results.write_audit.json"  #: the first dbt step's results
_VERSION_LABEL = re.compile(r"^(?P<experiment>.+) v(?P<version>\d+)$")


def _import_contracts_beside_dbt() -> threading.Thread:
    """Import what the mart contracts run on in a thread while dbt's first step runs (its queries run in DuckDB's
    threads); the build joins it before validating. Great Expectations is not among it: the contracts' fast
    engine runs every mart suite without it (contracts/engine.py), and a suite it hands to GX imports GX then. An
    import that fails here fails again, and is reported, where the validation imports it."""

    def load() -> None:
        try:
            import readout.contracts.validate  # noqa: F401 - imported for the side effect: loaded once
        except Exception:  # noqa: BLE001 - the validation imports it again and says what failed
            pass

    thread = threading.Thread(target=load, name="readout-import-contracts", daemon=True)
    thread.start()
    return thread


def contract_alarms(project_dir: Path, warehouse: Path) -> list[tuple[str, int, str, str, str, str]]:
    """The mart contracts' error-level alarms that name an experiment version, one row per version x rule:
    (experiment_id, experiment_version, 'contract', rule, 'error', the alarm's sentence)."""
    from readout.contracts import load_contracts
    from readout.contracts.validate import validate

    contracts = load_contracts(project_dir / "contracts")
    names = [
        name
        for name, contract in contracts.items()
        if not contract.is_landing and contract.relation.split(".")[-1] not in AFTER_STATUS
    ]
    report = validate("marts", contracts, names=names, warehouse=warehouse, progress=True)
    rows = []
    for outcome in report.outcomes:
        if outcome.severity != "error" or tuple(outcome.partition_by) != ("experiment_id", "experiment_version"):
            continue
        for partition in outcome.partitions:
            match = _VERSION_LABEL.match(partition.label)
            if partition.severity == "error" and match:
                rows.append(
                    (
                        match["experiment"],
                        int(match["version"]),
                        "contract",
                        f"{outcome.table}.{outcome.rule_id}",
                        "error",
                        outcome.sentence,
                    )
                )
    return sorted(set(rows))


def write_alarms(warehouse: Path, rows: list[tuple]) -> None:
    """Replace the hook table int_readout_blocking_alarms reads (<target schema>.readout_blocking_alarms)."""
    con = duckdb.connect(str(warehouse))
    try:
        schema = quoted(schema_of(con, BUILD_LOG_TABLE) or "main")
        con.execute(f"""create or replace table {schema}.{ALARMS_TABLE} (experiment_id varchar, experiment_version
                        integer, alarm_source varchar, rule varchar, severity varchar, alarm varchar)""")
        if rows:
            con.executemany(f"insert into {schema}.{ALARMS_TABLE} values (?, ?, ?, ?, ?, ?)", rows)
    finally:
        con.close()


def _invocation_id(target_path: Path) -> str | None:
    try:
        return json.loads((target_path / "run_results.json").read_text())["metadata"]["invocation_id"]
    except (OSError, ValueError, KeyError):
        return None


# ---------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="start over from the landing zone as it is (`make rebuild`); never skipped",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run dbt even when nothing changed since the last successful build (`make build FORCE=1`)",
    )
    parser.add_argument(
        "--no-contracts",
        dest="contracts",
        action="store_false",
        help="one dbt build, without feeding the mart contracts' error alarms to the readout status",
    )
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="run dbt's unit tests too (left out by default: their inputs are fixed fixtures, not the data, so they "
        "check the code, not the build; the test suite runs them)",
    )
    parser.add_argument("--landing", help="landing zone (default: $READOUT_LANDING_PATH or data/landing)")
    parser.add_argument(
        "--target",
        default=None,
        help="the dbt target (profiles.yml): duckdb (the default) or spark, whose statistics run as `readout infer` "
        "between dbt steps (readout.build_spark; never skipped as unchanged)",
    )
    parser.add_argument(
        "--project-dir",
        default=None,
        metavar="PATH",
        help="the dbt project (default: $DBT_PROJECT_DIR or the working directory)",
    )
    parser.add_argument(
        "dbt_args",
        nargs=argparse.REMAINDER,
        metavar="-- DBT_ARG",
        help="more arguments for dbt build, after `--` (e.g. -- --select fct_metric_results+); "
        "a build with any is never skipped; a Spark build takes only -- --exclude SELECTOR ...",
    )


def _target_path(project_dir: Path) -> Path:
    # dbt resolves a relative DBT_TARGET_PATH against the working directory, as the warehouse path
    return Path(os.environ.get("DBT_TARGET_PATH") or project_dir / "target")


def _keep_first_step_results(project_dir: Path) -> None:
    """The write-and-audit step's run_results.json, kept beside the last step's (which replaces it) as
    run_results.write_audit.json, so where a build spent its time stays readable (scripts/bench.py)."""
    results = _target_path(project_dir) / "run_results.json"
    if results.is_file():
        results.replace(results.with_name(WRITE_AUDIT_RESULTS))


def step_flags(args: argparse.Namespace) -> list[str]:
    """The flags of every dbt build step: --full-refresh for a rebuild, and dbt's unit tests left out unless
    asked for (--unit-tests). A unit test runs a model on fixed fixture rows, so it says the same of every build
    of one checkout; dbt's advice is to run them in development and CI, not in production builds. In the test
    suite they cost 3-4 s of every 40k-event build; `make test` runs them (tests/integration/conftest.py)."""
    flags = ["--full-refresh"] if args.full_refresh else []
    return flags if getattr(args, "unit_tests", False) else [*flags, "--exclude-resource-type", "unit_test"]


def dbt_in_process(arguments: list[str], project_dir: Path, environment: dict[str, str], note: str) -> int:
    """``dbt <arguments>`` through dbt's Python entry point (dbtRunner) in this process, with ``environment`` as
    its environment; the dbt command line's exit code: 0 passed, 1 a node failed, 2 dbt itself failed. One
    process for a build's dbt steps: a second dbt command line cost about 5 s of start-up and partial parse, and
    its Python models imported scipy and pandas again. On Spark its session is this process's active one."""
    _say("dbt " + " ".join(arguments) + note)
    # dbt's tracking library calls logging.basicConfig() when imported, which would print every library's INFO
    # records (Great Expectations' among them) on stderr from then on: the root logger's handlers are put back
    root_handlers = logging.getLogger().handlers[:]
    try:
        from dbt.cli.main import dbtRunner
    except ImportError:
        raise BuildError("dbt is not installed in this environment (run `make install`)") from None
    saved = dict(os.environ)
    os.environ.update(environment)  # profiles.yml's env_var() and dbt's own DBT_* settings read os.environ
    try:
        result = dbtRunner().invoke([*arguments, "--project-dir", str(project_dir)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
        logging.getLogger().handlers[:] = root_handlers
        _release_duckdb()
    if result.success:
        return 0
    return 1 if result.exception is None else 2


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open in the process after an invocation, for the next one; closed
    here, so that this process (the mart contracts, the build record) and others can open the warehouse between
    and after the steps."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # no dbt-duckdb: nothing was opened
        return
    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def spark_exclusions(dbt_args: list[str]) -> list[str]:
    """The selectors of ``-- --exclude SELECTOR ...`` for a Spark build, which plans its own dbt selections: every
    step leaves them out too (dbt unions two --exclude flags). Any other dbt argument is a BuildError."""
    if not dbt_args:
        return []
    selectors = [a for a in dbt_args if a != "--exclude"]
    if dbt_args[0] != "--exclude" or not selectors or any(a.startswith("-") for a in selectors):
        raise BuildError(
            "readout build --target spark plans its own dbt selections and takes only `-- --exclude SELECTOR ...` "
            f"after `--` (got {' '.join(dbt_args)}): run dbt build for others"
        )
    return selectors


def _run_spark(args: argparse.Namespace, project_dir: Path, target: str, dbt_args: list[str], landing: Path) -> int:
    """The Spark build (readout.build_spark): dbt, readout infer and the mart contracts in turn."""
    from readout.build_spark import run_spark

    exclude = spark_exclusions(dbt_args)
    environment = dict(
        os.environ,
        # Spark reports each file it reads by its absolute URI, so the landing zone is given absolute (the
        # default, data/landing, is relative to the project)
        READOUT_LANDING_PATH=str(landing.resolve()),
        READOUT_CODE_VERSION=code_version(project_dir),
        READOUT_CONTRACT_VERSIONS=contract_versions(project_dir),
    )
    flags = step_flags(args) + (["--exclude", *exclude] if exclude else [])
    started = time.monotonic()
    returncode = run_spark(target, project_dir, flags, environment, _target_path(project_dir), contracts=args.contracts)
    if returncode != 0:
        print(
            f"readout build: the Spark build failed (exit {returncode}) after {time.monotonic() - started:.0f} s, so "
            "nothing more was published",
            file=sys.stderr,
        )
    return returncode


def run(args: argparse.Namespace) -> int:
    landing = landing_path(args.landing)
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
            "`readout simulate` writes one)"
        )
    project_dir = project_file(args.project_dir).parent
    dbt_args = [a for a in (args.dbt_args or []) if a != "--"] if args.dbt_args else []
    _say("landing preflight (schema against the contract)")
    # a landing zone written before a landing table existed (for example imports/denominators) gets its zero-row
    # placeholder, so the dbt sources resolve; no existing file is touched
    for path in ensure_landing_tables(landing):
        print(
            f"readout build: {path.relative_to(landing)}: a zero-row placeholder for a table this landing zone lacked",
            file=sys.stderr,
        )
    preflight(landing, warn=lambda message: print(f"readout build: warning: {message}", file=sys.stderr))
    from readout.freeze import verify_frozen_records  # freeze imports this module (code and contract versions)

    verify_frozen_records(project_dir)  # a frozen readout edited by hand stops the build (one line, exit 2)
    warehouse = warehouse_path()
    profiles_dir = Path(os.environ.get("DBT_PROFILES_DIR") or project_dir)
    target = getattr(args, "target", None)
    if target is not None:
        from readout.spark import target_type

        if target_type(project_dir, target) == "spark":
            return _run_spark(args, project_dir, target, dbt_args, landing)
    inputs = inputs_fingerprint(project_dir, landing, profiles_dir)
    if not (args.full_refresh or args.force or dbt_args):
        current = current_build(warehouse, inputs.fingerprint)
        if current is not None:
            _say(
                f"nothing changed since build {current[0][:8]} (finished {current[1]} UTC): the same "
                f"{inputs.landing_files} landing files and project files, so the marts are current; "
                "`make build FORCE=1` runs dbt anyway"
            )
            return 0
    flags = step_flags(args)
    flags += ["--target", target] if target is not None else []
    environment = dict(
        os.environ,
        READOUT_CODE_VERSION=code_version(project_dir),
        READOUT_CONTRACT_VERSIONS=contract_versions(project_dir),
    )
    started = time.monotonic()
    (_target_path(project_dir) / WRITE_AUDIT_RESULTS).unlink(missing_ok=True)  # an earlier build's
    if dbt_args or not args.contracts:
        # one dbt build: the publish gate still holds (macros/publish_gate.sql), without the contracts' alarms
        returncode = dbt_in_process(
            ["build", *flags, *dbt_args],
            project_dir,
            environment,
            "" if args.full_refresh else "  (incremental: new landing files only)",
        )
    else:
        # write and audit everything the readout status does not depend on; the mart contracts' error alarms
        # then reach the status (int_readout_blocking_alarms); the status and what follows it (the readout,
        # the published layer, the history) are built last, and published only when every audit passed
        note = "  (write and audit" + (")" if args.full_refresh else ", incremental: new landing files only)")
        importing = _import_contracts_beside_dbt()
        returncode = dbt_in_process(["build", *flags, "--exclude", f"{STATUS_MODEL}+"], project_dir, environment, note)
        importing.join()
        if returncode == 0:
            _keep_first_step_results(project_dir)
            _say("mart contracts (their error alarms block the readouts they name)")
            alarms = contract_alarms(project_dir, warehouse)
            write_alarms(warehouse, alarms)
            for experiment, version in sorted({(row[0], row[1]) for row in alarms}):
                rules = sorted({row[3] for row in alarms if (row[0], row[1]) == (experiment, version)})
                print(f"    {experiment} v{version}: contract error ({', '.join(rules)}): not confirmed")
            returncode = dbt_in_process(
                ["build", *flags, "--select", f"{STATUS_MODEL}+"],
                project_dir,
                environment,
                "  (readout status, publish, history)",
            )
    if returncode != 0:
        print(
            f"readout build: dbt build failed (exit {returncode}) after {time.monotonic() - started:.0f} s, so "
            "nothing was published: readers keep the last good readout; `readout report` says what failed",
            file=sys.stderr,
        )
        return returncode
    invocation_id = _invocation_id(_target_path(project_dir))
    if invocation_id is not None and warehouse.is_file():
        record_build(warehouse, invocation_id, inputs)
    return 0
