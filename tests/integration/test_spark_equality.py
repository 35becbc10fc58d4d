"""The same landing zone built on DuckDB and on Spark gives the same marts (issue 15).

One simulated landing zone (seed 5, about 50,000 events, every simulator fault planted) is built twice with
``readout build --full-refresh``: on DuckDB (the default target) and on a local Spark (``--target spark``: dbt on
dbt-spark's session method, the statistics by ``readout infer``, the mart contracts in between). Then every
public model is compared row for row: the same columns and counts, every value equal (text, integers, flags,
timestamps, statuses and their reasons) and every floating-point statistic equal to 1e-9 relative. The
quarantine (rows and reasons), the duplicate flags and the conflicting-duplicate flags are compared too.

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
import pytest
from e2e import PROJECT, project_env, readout, simulate, target_dir

from readout import spark as readout_spark

pytestmark = pytest.mark.spark  # `make test-spark`, not `make test` (about 3 minutes here)

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


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    problem = readout_spark.java_problem()
    if problem:
        if os.environ.get("READOUT_REQUIRE_SPARK"):
            pytest.fail(f"READOUT_REQUIRE_SPARK is set but {problem}")
        pytest.skip(f"{problem} (.ci/run installs it; the test runs there)")
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


def test_readout_infer_writes_what_the_dbt_python_models_wrote(builds, tmp_path):
    """On DuckDB, readout infer (the models' own code outside dbt) rewrites every *_inferred table identically."""
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(builds["duckdb"].read_bytes())
    env = project_env(builds["root"] / "landing", copy)
    manifest = target_dir(builds["duckdb"]) / "manifest.json"
    result = readout("infer", "--manifest", str(manifest), env=env)
    names = sorted(json.loads(manifest.read_text())["nodes"][uid]["name"] for uid in _python_nodes(manifest))
    assert len(names) >= 9 and f"{len(names)} inferred tables written" in result.stdout
    with (
        duckdb.connect(str(builds["duckdb"]), read_only=True) as dbt_built,
        duckdb.connect(str(copy), read_only=True) as inferred,
    ):
        for name in names:
            by_dbt = dbt_built.execute(f"select * from marts.{name}").df()
            by_infer = inferred.execute(f"select * from marts.{name}").df()
            pd.testing.assert_frame_equal(by_dbt, by_infer, obj=name)
    assert f"marts.{names[0]}:" in result.stdout, "each table is reported with its row count"


def _python_nodes(manifest: Path) -> list[str]:
    nodes = json.loads(manifest.read_text())["nodes"]
    return [uid for uid, node in nodes.items() if node.get("language") == "python"]


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
