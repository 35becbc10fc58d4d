"""The warehouse on Apache Spark, for the readout commands that read or write it outside dbt (issue 15).

dbt reaches Spark through the ``spark`` target of profiles.yml (dbt-spark, ``method: session``: a local PySpark
in the dbt process). The commands here open the same session from the same profile (its
``server_side_parameters``: master, UTC, loopback, warehouse folder, Derby metastore), so they see the tables
dbt wrote. The metastore is an embedded Derby database, which one process opens at a time: a command here runs
after dbt, never beside it, or in dbt's process on its session (``readout build --target spark`` runs dbt in
process, and its steps take the session dbt opened: ``getOrCreate`` returns the process's one).

- :func:`session` opens it; :func:`read_table` and :func:`write_table` move a table between Spark and pandas
  (the inferred statistics, ``readout infer``);
- :func:`copy_to_duckdb` copies the built tables into a DuckDB file, so the mart contracts and the report read
  a Spark build with the same code as a DuckDB one. It goes through the driver's memory (pandas/Arrow): fine
  for the tests' and the demo's sizes, not for a cluster's.

PySpark is imported only here and only when used (requirements-spark.lock); nothing here imports dbt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pandas as pd
import pyarrow as pa
import yaml

#: the target of profiles.yml that holds the Spark session's settings
SPARK_TARGET = "spark"
PROFILE_NAME = "readout"
#: added to the profile's settings: pandas <-> Spark through Arrow (column types kept, much faster)
ARROW_SETTINGS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
}


class SparkUnavailable(ValueError):
    """Spark cannot be used here (no Java, no PySpark, a profile it cannot open): one line, exit 2."""


# ------------------------------------------------------------------------------------------ profile
def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise SparkUnavailable(f"profiles.yml: environment variable {name} is not set and has no default")
    return value


def target_settings(profiles_dir: Path, target: str = SPARK_TARGET) -> dict[str, Any]:
    """The ``target`` output of profiles.yml's readout profile, its ``{{ env_var(...) }}`` rendered as dbt does."""
    path = Path(profiles_dir) / "profiles.yml"
    try:
        outputs = yaml.safe_load(path.read_text())[PROFILE_NAME]["outputs"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SparkUnavailable(f"{path}: no readout profile ({exc.__class__.__name__}: {exc})") from None
    if target not in outputs:
        raise SparkUnavailable(f"{path}: the readout profile has no target {target!r} (it has {', '.join(outputs)})")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    # dbt's filters for a profile value's type; the value is rendered as text either way
    environment.filters.update({name: lambda value: value for name in ("as_number", "as_bool", "as_native", "as_text")})

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return environment.from_string(value).render(env_var=_env_var)
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        return value

    try:
        return render(outputs[target])
    except jinja2.TemplateError as exc:
        raise SparkUnavailable(f"{path}: the {target!r} target does not render ({exc})") from None


def profiles_dir(project_dir: Path) -> Path:
    return Path(os.environ.get("DBT_PROFILES_DIR") or project_dir)


def target_type(project_dir: Path, target: str | None) -> str:
    """The adapter type of a target (duckdb when none is named: the profile's default)."""
    if target is None:
        return "duckdb"
    return str(target_settings(profiles_dir(project_dir), target).get("type"))


#: spark.sql.catalogImplementation's values (profiles.yml: READOUT_SPARK_CATALOG, default hive)
CATALOGS = ("hive", "in-memory")


def catalog_problem(project_dir: Path, target: str = SPARK_TARGET) -> str | None:
    """Why the ``target`` profile's catalog is not one Spark has (READOUT_SPARK_CATALOG mistyped), or None."""
    settings = target_settings(profiles_dir(project_dir), target).get("server_side_parameters") or {}
    catalog = settings.get("spark.sql.catalogImplementation", "hive")
    if catalog in CATALOGS:
        return None
    return f"READOUT_SPARK_CATALOG is {catalog!r}: it must be {' or '.join(CATALOGS)} (docs/spark.md)"


def java_problem() -> str | None:
    """Why Spark cannot start here (no Java), or None."""
    if os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").is_file():
        return None
    if shutil.which("java"):
        return None
    return "no Java on this machine: Spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"


# ------------------------------------------------------------------------------------------ session
def session(project_dir: Path, target: str = SPARK_TARGET):
    """The local Spark session the ``target`` profile describes (``method: session`` only)."""
    settings = target_settings(profiles_dir(project_dir), target)
    if settings.get("type") != "spark" or settings.get("method") != "session":
        raise SparkUnavailable(
            f"target {target!r} is not a local Spark session (type {settings.get('type')}, method "
            f"{settings.get('method')}): readout reads Spark through method: session (docs/spark.md)"
        )
    problem = java_problem()
    if problem:
        raise SparkUnavailable(problem)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("PySpark is not installed (make install-spark)") from None
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in {**(settings.get("server_side_parameters") or {}), **ARROW_SETTINGS}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _spark_type(arrow_type: pa.DataType) -> str:
    """The Spark SQL type of an Arrow column (what pandas frames of statistics hold)."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "bigint" if arrow_type.bit_width > 32 else "int"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "string"  # a column of nulls only: text, as DuckDB types it from pandas
    raise SparkUnavailable(f"no Spark type for the Arrow type {arrow_type}")


#: Spark types read as DuckDB's ``.df()`` gives them: decimals as floats, dates as timestamps (datetime64, not
#: datetime.date objects, which pandas date arithmetic in the statistics treats differently)
_READ_AS = {"decimal": "double", "date": "timestamp"}


def read_table(spark, schema: str, table: str) -> pd.DataFrame:
    """A Spark table as pandas, with the column types DuckDB's ``.df()`` gives the same table (_READ_AS)."""
    frame = spark.table(f"`{schema}`.`{table}`")
    columns = [
        f"cast(`{field.name}` as {_READ_AS[field.dataType.typeName()]}) as `{field.name}`"
        if field.dataType.typeName() in _READ_AS
        else f"`{field.name}`"
        for field in frame.schema.fields
    ]
    return frame.selectExpr(*columns).toPandas()


def write_table(spark, schema: str, table: str, frame: pd.DataFrame) -> None:
    """Replace ``schema.table`` with ``frame`` (a Parquet table; column types from pandas through Arrow)."""
    arrow_schema = pa.Schema.from_pandas(frame, preserve_index=False)
    ddl = ", ".join(f"`{field.name}` {_spark_type(field.type)}" for field in arrow_schema)
    spark.sql(f"create database if not exists `{schema}`")
    data = spark.createDataFrame(frame.reset_index(drop=True), schema=ddl)
    data.write.mode("overwrite").format("parquet").saveAsTable(f"`{schema}`.`{table}`")


# ---------------------------------------------------------------------------------- copy to DuckDB
def tables(spark, schemas: list[str] | None = None) -> list[tuple[str, str]]:
    """(schema, table) of every table and view in the Spark warehouse (or in ``schemas``)."""
    found = []
    for database in sorted(row[0] for row in spark.sql("show databases").collect()):
        if schemas is not None and database not in schemas:
            continue
        for row in spark.sql(f"show tables in `{database}`").collect():
            if not row["isTemporary"]:
                found.append((database, row["tableName"]))
    return sorted(found)


def copy_to_duckdb(spark, path: Path, schemas: list[str]) -> list[tuple[str, str]]:
    """Copy every table of ``schemas`` from Spark into a new DuckDB file at ``path`` (same schema and table
    names, timestamps as UTC without zone as dbt-duckdb writes them); returns what was copied."""
    path = Path(path)
    path.unlink(missing_ok=True)
    copied = tables(spark, schemas)
    con = duckdb.connect(str(path))
    try:
        for schema, table in copied:
            arrow = spark.table(f"`{schema}`.`{table}`").toArrow()
            fields = [
                pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f for f in arrow.schema
            ]
            arrow = arrow.cast(pa.schema(fields))
            con.execute(f'create schema if not exists "{schema}"')
            con.register("spark_table", arrow)
            con.execute(f'create table "{schema}"."{table}" as select * from spark_table')
            con.unregister("spark_table")
    finally:
        con.close()
    return copied


#: the schemas a DuckDB copy of a Spark build holds (not staging: views over the landing files)
COPY_SCHEMAS_EXCLUDED = ("staging", "default")


def duckdb_copy(project_dir: Path, target: str = SPARK_TARGET) -> Path:
    """A DuckDB copy of the Spark build (every schema but staging: the marts, published, history, intermediate,
    reference, the build log), beside the Spark warehouse as ``spark_copy.duckdb``, for the commands that read a
    warehouse (``readout report``, ``readout contracts validate --stage marts``) with ``--target spark``.
    Through the driver's memory: for the small builds of a local Spark, not a cluster's tables."""
    settings = target_settings(profiles_dir(project_dir), target)
    parameters = settings.get("server_side_parameters") or {}
    folder = Path(str(parameters.get("spark.sql.warehouse.dir", "build/spark/warehouse"))).parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spark_copy.duckdb"
    spark = session(project_dir, target)
    try:
        schemas = [row[0] for row in spark.sql("show databases").collect() if row[0] not in COPY_SCHEMAS_EXCLUDED]
        copy_to_duckdb(spark, path, schemas)
    finally:
        spark.stop()
    return path


def warehouse_for(target: str | None, explicit: str | None, project_dir: Path | None = None) -> Path:
    """The DuckDB file a reading command opens: ``explicit`` or $READOUT_DUCKDB_PATH for DuckDB (no target),
    a fresh copy of the Spark build (:func:`duckdb_copy`) for a Spark target."""
    from readout.landing import project_file
    from readout.paths import warehouse_path

    if target is None:
        return warehouse_path(explicit)
    project_dir = project_dir or project_file(None).parent
    if target_type(project_dir, target) != "spark":
        return warehouse_path(explicit)
    if explicit:
        raise ValueError("--warehouse names a DuckDB file; --target spark reads the Spark build: pass one of them")
    return duckdb_copy(project_dir, target)
