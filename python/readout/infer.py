"""``readout infer``: the statistics of the dbt Python models (the ``*_inferred`` tables) as a plain step.

dbt runs the project's thin Python models on DuckDB, but on Spark only on Databricks clusters (dbt-spark's
``session`` method has no Python models). On Spark they are disabled, and this command computes the tables they
would have written: for each Python model it runs **the model's own code** (its ``model(dbt, session)`` from
dbt's manifest) with a small stand-in for the ``dbt`` object it uses (``dbt.ref(name).df()``,
``dbt.config.get(key)``, with the model's configuration as dbt rendered it), reading the inputs through the
target's engine (a DuckDB connection or a Spark session) and writing the DataFrame it returns as
``<schema>.<model>``. So the statistics are the same calls of the ``readout`` package on both engines, written
once, in the model. The marts read those tables through the ``inferred()`` macro (macros/inferred.sql).

``readout build --target spark`` runs it between its dbt steps (the Python models whose inputs are built);
alone, ``readout infer --target spark`` recomputes every inferred table (``--select`` some) from the tables as
they are. This module imports nothing from dbt: it reads dbt's manifest.json (``dbt parse`` writes it)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from readout.landing import project_file
from readout.paths import warehouse_path

PACKAGE = "readout"


@dataclass(frozen=True)
class PythonModel:
    """A dbt Python model as the manifest holds it (enabled or, on Spark, disabled)."""

    name: str
    schema: str
    alias: str
    path: str
    code: str
    config: dict[str, Any]
    inputs: tuple[str, ...]  #: the models it refs, in order


# ------------------------------------------------------------------------------------------ manifest
def python_models(manifest: dict) -> dict[str, PythonModel]:
    """Every Python model of the project, by name (disabled ones included: on Spark they all are)."""
    nodes = list(manifest.get("nodes", {}).values())
    nodes += [node for versions in manifest.get("disabled", {}).values() for node in versions]
    found = {}
    for node in nodes:
        if node.get("resource_type") != "model" or node.get("language") != "python":
            continue
        if node.get("package_name") != PACKAGE:
            continue
        found[node["name"]] = PythonModel(
            name=node["name"],
            schema=node["schema"],
            alias=node.get("alias") or node["name"],
            path=node["original_file_path"],
            code=node["raw_code"],
            config=dict(node.get("config") or {}),
            inputs=tuple(ref["name"] if isinstance(ref, dict) else ref[-1] for ref in node.get("refs", [])),
        )
    return found


def relations(manifest: dict) -> dict[str, tuple[str, str]]:
    """(schema, table) of every enabled model and seed of the project, by name."""
    return {
        node["name"]: (node["schema"], node.get("alias") or node["name"])
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") in ("model", "seed", "snapshot") and node.get("package_name") == PACKAGE
    }


def load_manifest(project_dir: Path, target: str | None, manifest: Path | None) -> dict:
    """The manifest given, else a fresh one from ``dbt parse`` (no connection; seconds with partial parsing)."""
    if manifest is None:
        target_path = Path(os.environ.get("DBT_TARGET_PATH") or project_dir / "target")
        command = [_dbt_program(), "parse", "--quiet", "--project-dir", str(project_dir)]
        if target:
            command += ["--target", target]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            detail = (result.stdout + result.stderr).strip().splitlines()
            raise ValueError(f"dbt parse failed: {detail[-1] if detail else 'no output'}")
        manifest = target_path / "manifest.json"
    try:
        return json.loads(Path(manifest).read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"dbt manifest {manifest} could not be read ({exc})") from None


def _dbt_program() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.is_file() else "dbt"


# ------------------------------------------------------------------------------------------ engines
class DuckDBEngine:
    """Tables of the DuckDB warehouse as pandas, and back (what dbt-duckdb does for a Python model)."""

    def __init__(self, path: Path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"warehouse {path} not found (set READOUT_DUCKDB_PATH; `dbt build` writes it)")
        self.con = duckdb.connect(str(path))

    def read(self, schema: str, table: str) -> pd.DataFrame:
        return self.con.execute(f'select * from "{schema}"."{table}"').df()

    def write(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        self.con.execute(f'create schema if not exists "{schema}"')
        self.con.register("inferred_frame", frame)
        try:
            self.con.execute(f'create or replace table "{schema}"."{table}" as select * from inferred_frame')
        finally:
            self.con.unregister("inferred_frame")

    def close(self) -> None:
        self.con.close()


class SparkEngine:
    """Tables of the Spark warehouse as pandas, and back (readout.spark)."""

    def __init__(self, project_dir: Path, target: str, stop: bool = True):
        from readout import spark

        self.spark_module = spark
        self.spark = spark.session(project_dir, target)
        self.stop = stop  #: False: close() leaves the session open (readout build --target spark's later steps)

    def read(self, schema: str, table: str) -> pd.DataFrame:
        return self.spark_module.read_table(self.spark, schema, table)

    def write(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        self.spark_module.write_table(self.spark, schema, table, frame)

    def close(self) -> None:
        if self.stop:
            self.spark.stop()


# ------------------------------------------------------------------------------ the model's own code
class _Frame:
    """What ``dbt.ref(...)`` gives a Python model on DuckDB, as far as the models use it: ``.df()``."""

    def __init__(self, load: Callable[[], pd.DataFrame]):
        self._load = load

    def df(self) -> pd.DataFrame:
        return self._load()


class _Config:
    """``dbt.config(...)`` (ignored: the manifest holds the configuration) and ``dbt.config.get(key)``."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)


class _Dbt:
    """The part of dbt's Python-model API the project's models use: ref, config, this, is_incremental."""

    def __init__(self, model: PythonModel, read: Callable[[str], pd.DataFrame]):
        self.config = _Config(model.config)
        self.this = f"{model.schema}.{model.alias}"
        self.is_incremental = False
        self._read = read
        self._inputs = model.inputs

    def ref(self, name: str, *args: Any, **kwargs: Any) -> _Frame:
        if name not in self._inputs:
            raise ValueError(f"dbt.ref({name!r}) is not among the model's refs as dbt parsed them")
        return _Frame(lambda: self._read(name))


def run_model(model: PythonModel, read: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """Run a Python model's own ``model(dbt, session)`` with ``read(name)`` behind ``dbt.ref(name).df()``."""
    namespace: dict[str, Any] = {"__name__": f"readout_infer_{model.name}"}
    # the project's own model file, as dbt itself runs it
    exec(compile(model.code, model.path, "exec"), namespace)
    frame = namespace["model"](_Dbt(model, read), None)
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{model.path}: model() returned {type(frame).__name__}, not a pandas DataFrame")
    return frame


def infer(
    manifest: dict,
    engine: DuckDBEngine | SparkEngine,
    names: list[str] | None = None,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Run the Python models ``names`` (default: all of them) through ``engine``; returns the names written."""
    models = python_models(manifest)
    where = relations(manifest)
    unknown = sorted(set(names or []) - set(models))
    if unknown:
        raise ValueError(f"no Python model {', '.join(unknown)} (the project's: {', '.join(sorted(models))})")

    def read(name: str) -> pd.DataFrame:
        if name not in where:
            raise ValueError(f"dbt.ref({name!r}): no such enabled model or seed in the manifest")
        return engine.read(*where[name])

    written = []
    for name in names or sorted(models):
        model = models[name]
        started = time.monotonic()
        frame = run_model(model, read)
        engine.write(model.schema, model.alias, frame)
        say(f"    {model.schema}.{model.alias}: {len(frame)} rows ({time.monotonic() - started:.1f} s)")
        written.append(name)
    return written


# ---------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default=None,
        help="the dbt target (profiles.yml) whose engine reads and writes the tables: spark, or duckdb "
        "(the default: the DuckDB warehouse, $READOUT_DUCKDB_PATH)",
    )
    parser.add_argument(
        "--select", nargs="+", default=None, metavar="MODEL", help="only these Python models (default: all)"
    )
    parser.add_argument(
        "--manifest", default=None, metavar="PATH", help="dbt's manifest.json to read (default: run dbt parse)"
    )
    parser.add_argument("--project-dir", default=None, metavar="PATH", help="the dbt project (default: here)")


def open_engine(project_dir: Path, target: str | None) -> DuckDBEngine | SparkEngine:
    from readout.spark import target_type

    if target_type(project_dir, target) == "spark":
        return SparkEngine(project_dir, target)
    return DuckDBEngine(warehouse_path())


def run(args: argparse.Namespace) -> int:
    project_dir = project_file(args.project_dir).parent
    manifest = load_manifest(project_dir, args.target, Path(args.manifest) if args.manifest else None)
    started = time.monotonic()
    engine = open_engine(project_dir, args.target)
    try:
        written = infer(manifest, engine, args.select)
    finally:
        engine.close()
    print(f"==> readout infer: {len(written)} inferred tables written in {time.monotonic() - started:.0f} s")
    return 0
