"""The same landing zone built on DuckDB and on Spark gives the same marts (issue 15).

One simulated landing zone (seed 5, about 50,000 events, every simulator fault planted) is built twice with
``readout build --full-refresh``: on DuckDB (the default target) and on a local Spark (``--target spark``: dbt on
dbt-spark's session method, the statistics by ``readout infer``, the mart contracts in between). Then every
public model is compared row for row: the same columns and counts, every value equal (text, integers, flags,
timestamps, statuses and their reasons) and every floating-point statistic equal to 1e-9 relative. The
quarantine (rows and reasons), the duplicate flags and the conflicting-duplicate flags are compared too.

The crafted staging cases of tests/integration/test_staging_hardening.py (every staging fault at once, in a
folder whose name holds a quote, spaces and a plus sign) go through ``dbt build --select staging`` on both
targets too: the same rows quarantined with the same reasons, the same duplicates, the same staged rows.

The Spark tables are read through one Spark session for the module (the builds run in their own processes
before it opens: the local metastore admits one process at a time). Spark needs Java 17: without it the test
is skipped, saying so, except where READOUT_REQUIRE_SPARK is set (.ci/run sets it after installing Java), where
it fails."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from e2e import BIN, PROJECT, project_env, readout, run, simulate, target_dir
from test_staging_hardening import AS_OF, PLANTED, iso, write_landing

from readout import spark as readout_spark
from readout.landing import event_time_range, ingestion_bounds

pytestmark = pytest.mark.spark  # `make test-spark` runs this module alone; `make test` runs it with the rest

EVENTS = 50_000
#: columns that name or time the build itself, different in any two builds (the history's build ids)
#: (the code and contract versions too: the same in two builds of one checkout, but they name the build's inputs)
PER_BUILD = {
    "build_id",
    "previous_build_id",
    "built_at",
    "previous_built_at",
    "code_version",
    "frozen_code_version",
    "contract_versions",
}
REL_TOL = 1e-9
#: besides the public models: where quarantine reasons and duplicate flags live (the raw rows' fate)
ROW_FATE = {
    ("staging", "stg_landing__events_quarantined"),
    ("staging", "stg_landing__event_duplicates"),
    ("intermediate", "int_events_stitched"),
}


def require_java() -> None:
    problem = readout_spark.java_problem()
    if problem:
        if os.environ.get("READOUT_REQUIRE_SPARK"):
            pytest.fail(f"READOUT_REQUIRE_SPARK is set but {problem}")
        pytest.skip(f"{problem} (.ci/run installs it; the test runs there)")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    require_java()
    root = tmp_path_factory.mktemp("spark_equality")
    landing = root / "landing"
    simulate(landing, "all", EVENTS)
    duck = project_env(landing, root / "duckdb" / "readout.duckdb")
    (root / "duckdb").mkdir()
    spark_env = project_env(landing, root / "spark" / "unused.duckdb")
    spark_env.update(READOUT_SPARK_DIR=str(root / "spark"), DBT_TARGET_PATH=str(root / "spark" / "target"))
    timings = {}
    for name, env, extra in (("duckdb", duck, ()), ("spark", spark_env, ("--target", "spark"))):
        started = time.monotonic()
        readout("build", "--full-refresh", *extra, env=env)
        timings[name] = time.monotonic() - started
    print(f"builds of {EVENTS} events: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return {"root": root, "duckdb": Path(duck["READOUT_DUCKDB_PATH"]), "spark_env": spark_env}


@pytest.fixture(scope="module")
def spark_session(builds):
    saved = os.environ.get("READOUT_SPARK_DIR")
    os.environ["READOUT_SPARK_DIR"] = builds["spark_env"]["READOUT_SPARK_DIR"]
    try:
        session = readout_spark.session(PROJECT)
        yield session
        session.stop()
    finally:
        if saved is None:
            os.environ.pop("READOUT_SPARK_DIR", None)
        else:
            os.environ["READOUT_SPARK_DIR"] = saved


def public_models(manifest_path: Path) -> set[tuple[str, str]]:
    manifest = json.loads(manifest_path.read_text())
    return {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node.get("access") == "public"
    }


def _plain(value):
    """A non-float value in one spelling for both engines (integers held as floats, timestamps, lists)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, dt.date):  # a date (Spark) and a timestamp at midnight (DuckDB's .df() of a date) alike
        value = pd.Timestamp(value)
        return value.tz_convert(None).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_plain(v) for v in value)
    return value


def compare(name: str, left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """What differs between two versions of a table (empty: equal), in sentences naming the column."""
    if sorted(left.columns) != sorted(right.columns):
        return [f"{name}: columns differ: duckdb only {set(left) - set(right)}, spark only {set(right) - set(left)}"]
    if len(left) != len(right):
        return [f"{name}: {len(left)} rows on DuckDB, {len(right)} on Spark"]
    columns = [c for c in left.columns if c not in PER_BUILD]
    floats = [
        c
        for c in columns
        if pd.api.types.is_float_dtype(left[c])
        and pd.api.types.is_float_dtype(right[c])
        and not all(_plain(v) is None or isinstance(_plain(v), int) for v in pd.concat([left[c], right[c]]))
    ]
    keys = [c for c in columns if c not in floats]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        plain = pd.DataFrame({c: [repr(_plain(v)) for v in frame[c]] for c in keys}, index=frame.index)
        for c in floats:  # tie-breaks among equal keys: the statistics at 6 significant digits
            plain[c] = [repr(None if np.isnan(v) else float(f"{v:.6g}")) for v in frame[c].astype(float)]
        order = plain.sort_values(list(plain.columns), kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    left, right = ordered(left), ordered(right)
    problems = []
    for c in keys:
        a = [_plain(v) for v in left[c]]
        b = [_plain(v) for v in right[c]]
        if a != b:
            at = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
            problems.append(f"{name}.{c}: row {at}: duckdb {a[at]!r}, spark {b[at]!r}")
    for c in floats:
        a, b = left[c].astype(float).to_numpy(), right[c].astype(float).to_numpy()
        same = np.isclose(a, b, rtol=REL_TOL, atol=0.0) | (np.isnan(a) & np.isnan(b)) | (a == b)
        if not same.all():
            at = int(np.flatnonzero(~same)[0])
            problems.append(f"{name}.{c}: {int((~same).sum())} values differ, first row {at}: {a[at]!r} vs {b[at]!r}")
    return problems


def test_every_public_mart_and_the_raw_rows_fate_are_equal_on_spark(builds, spark_session):
    duck_public = public_models(target_dir(builds["duckdb"]) / "manifest.json")
    spark_public = public_models(Path(builds["spark_env"]["DBT_TARGET_PATH"]) / "manifest.json")
    assert duck_public == spark_public, "the same public models on both targets"
    assert len(duck_public) >= 20, "the public marts, published copies and history"
    problems, compared = [], []
    with duckdb.connect(str(builds["duckdb"]), read_only=True) as con:
        for schema, table in sorted(duck_public | ROW_FATE):
            left = con.execute(f'select * from "{schema}"."{table}"').df()
            right = readout_spark.read_table(spark_session, schema, table)
            problems += compare(f"{schema}.{table}", left, right)
            compared.append(f"{schema}.{table} ({len(left)} rows)")
    print("compared: " + ", ".join(compared))
    assert not problems, "DuckDB and Spark differ:\n" + "\n".join(problems)


def test_the_faults_reach_both_builds_alike(builds, spark_session):
    """Not vacuous: the planted faults quarantine rows, flag duplicates and leave results with statuses."""
    with duckdb.connect(str(builds["duckdb"]), read_only=True) as con:
        reasons = con.execute("select count(distinct quarantine_reasons) from staging.stg_landing__events_quarantined")
        assert reasons.fetchone()[0] >= 3, "several quarantine reasons planted"
    quarantined = readout_spark.read_table(spark_session, "staging", "stg_landing__events_quarantined")
    assert quarantined["quarantine_reasons"].astype(str).nunique() >= 3
    results = readout_spark.read_table(spark_session, "published", "fct_metric_results")
    assert results["readout_status"].nunique() >= 2 and results["p_value"].notna().sum() > 50


def test_the_spark_plan_infers_every_python_model_once_and_builds_every_reader(builds):
    from readout.build_spark import READER_TAG, plan

    manifest = json.loads((Path(builds["spark_env"]["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    steps = plan(manifest)
    inferred = [name for step in steps if step.kind == "infer" for name in step.models]
    disabled = sorted(versions[0]["name"] for versions in manifest["disabled"].values())
    assert sorted(inferred) == disabled and len(set(inferred)) == len(inferred)
    selected = " ".join(s for step in steps if step.kind == "dbt" for s in step.select)
    readers = [n["name"] for n in manifest["nodes"].values() if READER_TAG in n.get("tags", [])]
    assert readers and all(f"{reader}+" in selected for reader in readers)
    assert [step.kind for step in steps].count("alarms") == 1


#: a folder name Spark spells differently in its file URIs (a space is %20) and that SQL must quote (the quote)
CRAFTED_FOLDER = "it's a + landing zone"
#: the crafted file whose revenue column arrived as text: DuckDB reads it (and quarantines "abc"); Spark's Parquet
#: reader refuses a column whose type is not the declared one, naming the file, so it is left out of this
#: comparison. On both targets `readout build` refuses that file before dbt runs (the landing preflight).
RETYPED_FILE = "part-text.parquet"
#: what that file held: one row quarantined unparseable_revenue ("abc"), one missing_revenue (null)
RETYPED_PLANTED = {"unparseable_revenue": 1, "missing_revenue": 1}
#: columns of the file record that name the build, or that each engine fingerprints its own way (DuckDB: the
#: Parquet footer's statistics; Spark: the modification time)
FILE_RECORD_PER_ENGINE = ["file_fingerprint", "processed_invocation_id", "processed_at"]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """The staging-hardening zone, less its retyped file, through `dbt build --select staging` on both targets;
    the Spark build keeps its own metastore (READOUT_SPARK_DIR), read back as Parquet through DuckDB."""
    require_java()
    root = tmp_path_factory.mktemp("spark_crafted")
    landing = root / CRAFTED_FOLDER
    raw = write_landing(landing)["raw"]
    retyped = landing / "events" / RETYPED_FILE
    raw -= pq.read_metadata(retyped).num_rows
    retyped.unlink()
    start, end = event_time_range(landing, AS_OF, ingestion_bounds(PROJECT))
    args = ["build", "--select", "staging", "--full-refresh", "--event-time-start", start.isoformat()]
    args += ["--event-time-end", end.isoformat(), "--vars", json.dumps({"as_of": iso(AS_OF)})]
    duck = project_env(landing, root / "duckdb" / "crafted.duckdb")
    spark_env = project_env(landing, root / "spark" / "unused.duckdb")
    spark_env.update(READOUT_SPARK_DIR=str(root / "spark"), DBT_TARGET_PATH=str(root / "spark" / "target"))
    run([str(BIN / "dbt"), *args], duck)
    run([str(BIN / "dbt"), *args, "--target", "spark"], spark_env)
    return {"raw": raw, "duckdb": Path(duck["READOUT_DUCKDB_PATH"]), "spark": root / "spark" / "warehouse"}


def spark_table(warehouse: Path, schema: str, table: str) -> pd.DataFrame:
    """A Spark table of the crafted build, read from its Parquet files (its partition columns from the folders)."""
    files = str(warehouse / f"{schema}.db" / table / "**" / "*.parquet").replace("'", "''")
    return duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning = true)").df()


def test_spark_quarantines_the_crafted_staging_faults_as_duckdb_does(crafted):
    problems = []
    with duckdb.connect(str(crafted["duckdb"]), read_only=True) as con:
        for table, per_engine in (
            ("stg_landing__events_checked", []),
            ("stg_landing__files_processed", FILE_RECORD_PER_ENGINE),
        ):
            left = con.execute(f"select * from staging.{table}").df().drop(columns=per_engine)
            right = spark_table(crafted["spark"], "staging", table).drop(columns=per_engine)
            problems += compare(f"staging.{table}", left, right)
    assert not problems, "DuckDB and Spark differ on the crafted staging cases:\n" + "\n".join(problems)
    checked = spark_table(crafted["spark"], "staging", "stg_landing__events_checked")
    reasons = checked.quarantine_reasons.dropna().str.split(",").explode().value_counts().to_dict()
    expected = {reason: n - RETYPED_PLANTED.get(reason, 0) for reason, n in PLANTED.items()}
    assert reasons == {reason: n for reason, n in expected.items() if n}, "every planted reason, counted exactly"
    quarantined = checked.quarantine_reasons.notna()
    staged = ~quarantined & (checked.event_id_rank == 1)
    assert len(checked) == crafted["raw"], "every raw row read"
    assert int(staged.sum() + quarantined.sum() + checked.is_duplicate.sum()) == crafted["raw"], "and accounted for"
    assert set(checked.file_path) == {"events/part-0.parquet", "events/part-0-v2.parquet", "events/part-added.parquet"}
