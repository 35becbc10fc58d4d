"""``readout build --target spark``: the DuckDB build's flow (readout.build) on Spark, with the statistics as a
plain step between dbt's (issue 15).

On Spark the dbt Python models (``*_inferred``) are disabled and ``readout infer`` writes their tables; the marts
read them through the ``inferred()`` macro, tagged ``reads_inferred``. dbt's graph on Spark has no edge from a
statistics table to its readers, so this module plans the build from the manifest: dbt builds what the
statistics need, ``readout infer`` computes the Python models whose inputs are built, dbt builds their readers
(and what follows), and so on. The DuckDB build's write-audit-publish split is kept: everything before the
readout status (int_readout_blocking_alarms) first, then the mart contracts' error alarms are written where
the status reads them, then the status and what follows it. Today that is four dbt runs and two infer runs:

1. ``dbt build --exclude tag:reads_inferred+ int_readout_blocking_alarms+``;
2. ``readout infer`` of the Python models reading only what step 1 built (metric results, sample ratio...);
3. ``dbt build --select <their readers>+ --exclude int_readout_blocking_alarms+ <readers still waiting>+``;
4. the mart contracts on a DuckDB copy of the marts (readout.spark.copy_to_duckdb), their alarms written to
   ``<target schema>.readout_blocking_alarms``;
5. ``dbt build --select int_readout_blocking_alarms+ --exclude <readers still waiting>+``;
6. ``readout infer`` of the rest (power, Bayesian view: they read the status); 7. dbt builds their readers.

All the steps run in this one process, sharing one Spark session (one JVM start per build, not one per step):
dbt through its Python entry point (``dbtRunner``), whose ``session`` method takes the process's active session
(``SparkSession.builder.getOrCreate()``); ``readout infer`` and the contracts step take the same one and leave it
open. One process also suits the local metastore (Derby), which admits one process at a time. A Spark build is
never skipped as unchanged (the inputs fingerprint lives in the DuckDB warehouse): it always runs dbt."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from readout.build import dbt_in_process
from readout.infer import python_models

STATUS_MODEL = "int_readout_blocking_alarms"
READER_TAG = "reads_inferred"
_INFERRED_CALL = re.compile(r"""\binferred\(\s*['"](\w+)['"]""")
#: the schemas the mart contracts read (their relations and views), copied from Spark for them
CONTRACT_SCHEMAS = ("intermediate", "marts")


@dataclass
class Step:
    """One step of a Spark build: a dbt build (select/exclude) or an infer (models)."""

    kind: str  #: dbt | infer | alarms
    select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


def _descendants(child_map: dict[str, list[str]], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack += [child for child in child_map.get(node, []) if child.split(".")[0] in ("model", "seed", "snapshot")]
    return seen


def plan(manifest: dict) -> list[Step]:
    """The steps after the first dbt build (which is always ``--exclude tag:reads_inferred+ STATUS+``)."""
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node.get("resource_type") in ("model", "seed", "snapshot") and node.get("package_name") == "readout"
    }
    by_name = {node["name"]: uid for uid, node in nodes.items()}
    child_map = manifest["child_map"]
    models = python_models(manifest)
    readers = {
        uid: set(_INFERRED_CALL.findall(node.get("raw_code", "")))
        for uid, node in nodes.items()
        if READER_TAG in node.get("tags", [])
    }
    for uid, names in readers.items():
        unknown = names - set(models)
        if unknown:
            raise ValueError(f"{nodes[uid]['name']} reads inferred({', '.join(sorted(unknown))}): no such Python model")
    # dbt's graph on Spark lacks the edges through the inferred tables: a reader follows its models' inputs
    child_map = {uid: list(children) for uid, children in child_map.items()}
    for uid, names in readers.items():
        for name in names:
            for input_name in models[name].inputs:
                child_map.setdefault(by_name[input_name], []).append(uid)
    status = _descendants(child_map, [by_name[STATUS_MODEL]]) if STATUS_MODEL in by_name else set()
    waiting = set(readers)
    built = set(nodes) - _descendants(child_map, waiting) - status
    inferred: set[str] = set()
    steps: list[Step] = []
    for phase in ("write_audit", "publish"):
        scope = set(nodes) - status if phase == "write_audit" else status
        if phase == "publish":
            steps.append(Step("alarms"))
            if status:
                steps.append(
                    Step("dbt", select=[f"{STATUS_MODEL}+"], exclude=[f"{nodes[r]['name']}+" for r in sorted(waiting)])
                )
                built |= status - _descendants(child_map, waiting)
        while True:
            ready = sorted(
                name
                for name, model in models.items()
                if name not in inferred and all(by_name.get(i) in built for i in model.inputs)
            )
            if ready:
                steps.append(Step("infer", models=ready))
                inferred |= set(ready)
            available = sorted(uid for uid in waiting & scope if readers[uid] <= inferred)
            if not available:
                break
            waiting -= set(available)
            exclude = [f"{nodes[r]['name']}+" for r in sorted(waiting)]
            if phase == "write_audit":
                exclude.append(f"{STATUS_MODEL}+")
            steps.append(Step("dbt", select=[f"{nodes[r]['name']}+" for r in available], exclude=exclude))
            built |= (_descendants(child_map, available) & scope) - _descendants(child_map, waiting)
    left = sorted(nodes[r]["name"] for r in waiting) + sorted(set(models) - inferred)
    if left:
        raise ValueError(f"the Spark build cannot order these around the inferred tables: {', '.join(left)}")
    # two dbt builds in a row are one (dbt orders them; one JVM start fewer)
    merged: list[Step] = []
    for step in steps:
        if merged and step.kind == merged[-1].kind == "dbt":
            last = merged[-1]
            merged[-1] = Step(
                "dbt", select=last.select + step.select, exclude=[e for e in last.exclude if e not in step.select]
            )
        else:
            merged.append(step)
    return merged


# ------------------------------------------------------------------------------------------ alarms
def write_contract_alarms(project_dir: Path, target: str, stop: bool = True) -> int:
    """The mart contracts on a DuckDB copy of the Spark marts, their error alarms written to
    ``<target schema>.readout_blocking_alarms`` in Spark (what int_readout_blocking_alarms reads).
    ``stop=False`` leaves the session open (the build's later steps use it)."""
    import pandas as pd

    from readout import spark
    from readout.build import ALARMS_TABLE, contract_alarms

    session = spark.session(project_dir, target)
    try:
        with tempfile.TemporaryDirectory(prefix="readout-spark-") as folder:
            copy = Path(folder) / "spark_copy.duckdb"  # not a schema's name (DuckDB: catalog)
            spark.copy_to_duckdb(session, copy, list(CONTRACT_SCHEMAS))
            alarms = contract_alarms(project_dir, copy)
        columns = ["experiment_id", "experiment_version", "alarm_source", "rule", "severity", "alarm"]
        frame = pd.DataFrame(alarms, columns=columns).astype({"experiment_version": "int32"})
        schema = spark.target_settings(spark.profiles_dir(project_dir), target)["schema"]
        spark.write_table(session, schema, ALARMS_TABLE, frame)
    finally:
        if stop:
            session.stop()
    for experiment, version in sorted({(row[0], row[1]) for row in alarms}):
        rules = sorted({row[3] for row in alarms if (row[0], row[1]) == (experiment, version)})
        print(f"    {experiment} v{version}: contract error ({', '.join(rules)}): not confirmed")
    return 0


# --------------------------------------------------------------------------------------------- run
def _infer_in_process(project_dir: Path, target: str, manifest_path: Path, models: list[str]) -> int:
    """``readout infer --target TARGET --manifest PATH --select MODELS`` in this process, on its Spark session."""
    from readout.infer import SparkEngine, infer

    started = time.monotonic()
    try:
        engine = SparkEngine(project_dir, target, stop=False)
        written = infer(json.loads(manifest_path.read_text()), engine, models)
    except (ValueError, FileNotFoundError) as exc:
        print(f"readout infer: error: {exc}", file=sys.stderr)
        return 2
    print(f"==> readout infer: {len(written)} inferred tables written in {time.monotonic() - started:.0f} s")
    return 0


def _alarms_in_process(project_dir: Path, target: str) -> int:
    try:
        return write_contract_alarms(project_dir, target, stop=False)
    except (ValueError, FileNotFoundError) as exc:
        print(f"readout build: error: {exc}", file=sys.stderr)
        return 2


def run_spark(
    target: str,
    project_dir: Path,
    flags: list[str],
    environment: dict[str, str],
    target_path: Path,
    contracts: bool = True,
) -> int:
    """Run the Spark build's steps in this process, on one Spark session; the exit code of the first that fails
    (0: all passed). ``flags`` go to every dbt build step (readout.build.step_flags: --full-refresh, the unit
    tests left out). dbt runs in process (:func:`readout.build.dbt_in_process`)."""
    from readout.spark import catalog_problem, java_problem

    problem = java_problem()
    if problem:
        raise ValueError(problem)
    started = time.monotonic()
    saved = dict(os.environ)
    os.environ.update(environment)  # the infer and contracts steps read the profile's env_var()s too
    try:
        problem = catalog_problem(project_dir, target)
        if problem:
            raise ValueError(problem)
        return _run_steps(target, project_dir, flags, environment, target_path, contracts, started)
    finally:
        _stop_session()
        os.environ.clear()
        os.environ.update(saved)


def _run_steps(
    target: str,
    project_dir: Path,
    flags: list[str],
    environment: dict[str, str],
    target_path: Path,
    contracts: bool,
    started: float,
) -> int:
    first = ["build", "--target", target, *flags, "--exclude", f"tag:{READER_TAG}+", f"{STATUS_MODEL}+"]
    returncode = dbt_in_process(first, project_dir, environment, "  (Spark: up to the statistics)")
    if returncode != 0:
        return returncode
    manifest_path = target_path / "manifest.json"
    steps = plan(json.loads(manifest_path.read_text()))
    for step in steps:
        if step.kind == "dbt":
            arguments = ["build", "--target", target, *flags, "--select", *step.select]
            arguments += ["--exclude", *step.exclude] if step.exclude else []
            returncode = dbt_in_process(arguments, project_dir, environment, "")
        elif step.kind == "infer":
            print(f"==> readout infer --target {target} --select {' '.join(step.models)}", flush=True)
            returncode = _infer_in_process(project_dir, target, manifest_path, step.models)
        elif contracts:
            print("==> mart contracts (their error alarms block the readouts they name)", flush=True)
            returncode = _alarms_in_process(project_dir, target)
        if returncode != 0:
            return returncode
    print(f"==> Spark build finished in {time.monotonic() - started:.0f} s", flush=True)
    return 0


def _stop_session() -> None:
    """Stop this process's Spark session, if dbt or a step opened one (the JVM goes with the process)."""
    if "pyspark" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    # dbt opens the session in its worker thread, where it is the active one: here, the process's instantiated one
    active = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if active is not None:
        active.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m readout.build_spark alarms TARGET``: the contract step in its own process (its own JVM)."""
    parser = argparse.ArgumentParser(prog="python -m readout.build_spark")
    parser.add_argument("step", choices=["alarms"])
    parser.add_argument("target")
    args = parser.parse_args(argv)
    project_dir = Path(os.environ.get("DBT_PROJECT_DIR") or ".")
    try:
        return write_contract_alarms(project_dir, args.target)
    except (ValueError, FileNotFoundError) as exc:
        print(f"readout build: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
