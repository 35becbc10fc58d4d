"""The same landing zone built on DuckDB and on Spark gives the same marts (issue 15).

One simulated landing zone (seed 5, about 50,000 events, every simulator fault planted) is built twice with
``readout build --full-refresh``: on DuckDB (the default target) and on a local Spark (``--target spark``: dbt on
dbt-spark's session method, the statistics by ``readout infer``, the mart contracts in between). Then every
table dbt writes is compared row for row: the same columns and counts, every value equal (text, integers, flags,
timestamps, statuses and their reasons) and every floating-point statistic equal to 1e-9 relative. That is every
public model, the raw rows' fate (``stg_landing__events_checked``: every row's quarantine reasons, duplicate and
conflicting-duplicate flags), the processed-files record, the identity map
(``int_anonymous_ids_resolved_to_users``), every curated table and the seeds.

The Spark build runs every unit test and the data tests that the comparison does not stand in for: those on views
(which cannot be read back from Parquet), the singular tests, and at least one of each generic kind, so every
test's SQL runs on Spark. It leaves out the generic tests on the tables compared (about three in four: they
passed on DuckDB's tables, and the tables are equal): the Spark build took 186 s instead of 217 s, back to back.

The zone also holds the crafted staging cases of tests/integration/test_staging_hardening.py (NaN and infinite
revenue, a purchase without revenue, timestamps in 2099 or before the history, an added column, one event id
from two producers, a retry) as files of their own, and its folder's name holds a quote, spaces and a plus sign
(Spark reports file paths as URIs: a space is %20 there).

The two builds run in the background (tests/integration/spark_builds.py), started when the module is collected:
the rest of the suite runs beside them, and this module, dispatched last, waits for them (their CPU:
spark_builds.py). The Spark tables are read back from their Parquet files with DuckDB: no Spark session in the test
process (each build's JVM is its own). Spark needs Java 17: without it the test is skipped, saying so, except where
READOUT_REQUIRE_SPARK is set (.ci/run sets it after installing Java), where it fails."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import spark_builds
from e2e import target_dir

from readout import spark as readout_spark

pytestmark = pytest.mark.spark  # `make test` runs it with the rest; `make test-spark` alone

#: columns that name or time the build itself, different in any two builds (the history's build ids, the
#: incremental tables' invocation and processing times)
#: (the code and contract versions too: the same in two builds of one checkout, but they name the build's inputs)
PER_BUILD = {
    "build_id",
    "previous_build_id",
    "built_at",
    "previous_built_at",
    "code_version",
    "frozen_code_version",
    "contract_versions",
    "built_invocation_id",
    "files_processed_through",
}
REL_TOL = 1e-9
#: columns of the processed-files record each engine fills its own way (the fingerprint: DuckDB the Parquet
#: footer's statistics, Spark the modification time) or that name the build
FILE_RECORD_PER_ENGINE = ["file_fingerprint", "processed_invocation_id", "processed_at"]

#: tables with columns each engine fills its own way (table -> columns), left out of the comparison
PER_ENGINE = {("staging", "stg_landing__files_processed"): FILE_RECORD_PER_ENGINE}


#: the crafted rows' quarantine reasons (the build's as-of is its start, so the row received "late" in the
#: staging-hardening test, after its fixed as-of, is on time here and staged)
CRAFTED_REASONS = {
    "nan": "non_finite_revenue",
    "neg-inf": "non_finite_revenue,negative_revenue",
    "android-inf": "non_finite_revenue",
    "no-revenue": "missing_revenue",
    **{f"y2099-{i}": "future_event_at,future_received_at" for i in range(5)},
    "before-history": "event_at_before_history",
}


def require_java() -> None:
    problem = readout_spark.java_problem()
    if problem:
        if os.environ.get("READOUT_REQUIRE_SPARK"):
            pytest.fail(f"READOUT_REQUIRE_SPARK is set but {problem}")
        pytest.skip(f"{problem} (.ci/run installs it; the test runs there)")


@pytest.fixture(scope="module")
def builds(shared_root):
    """The two builds (tests/integration/spark_builds.py): started in the background when this module was
    collected, so the rest of the suite runs beside the Spark build; waited for here."""
    require_java()
    result = spark_builds.wait(shared_root / "spark_equality")
    print(
        f"builds of {spark_builds.EVENTS} events: " + ", ".join(f"{k} {v:.0f} s" for k, v in result["timings"].items())
    )
    manifests = {
        name: json.loads((folder / "manifest.json").read_text())
        for name, folder in (
            ("duckdb_manifest", target_dir(result["duckdb"])),
            ("spark_manifest", Path(result["spark_env"]["DBT_TARGET_PATH"])),
        )
    }
    return {**result, **manifests, "spark": result["spark_dir"] / "warehouse"}


def spark_table(warehouse: Path, schema: str, table: str) -> pd.DataFrame:
    """A table of the Spark build, read from its Parquet files (partition columns from the folder names); a table
    Spark wrote no file for (no rows) is a frame with no column."""
    folder = warehouse / f"{schema}.db" / table
    assert folder.is_dir(), f"{schema}.{table} is not a table of the Spark build ({folder} is missing)"
    if not any(folder.rglob("*.parquet")):
        return pd.DataFrame()
    files = str(folder / "**" / "*.parquet").replace("'", "''")
    return duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning = true)").df()


def public_models(manifest: dict) -> set[tuple[str, str]]:
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
    if right.columns.empty:  # Spark wrote no file: equal only to an empty table
        return [f"{name}: {len(left)} rows on DuckDB, none on Spark"] if len(left) else []
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


def test_every_table_is_equal_on_spark(builds):
    """Every table dbt writes (models materialized as tables or incremental, the statistics among them, and seeds):
    the public marts, the raw rows' fate (stg_landing__events_checked: quarantine reasons, duplicate flags), the
    identity stitching, every curated table. On the tables it compares, this is what the data tests the Spark build
    leaves out would check (spark_builds.tests_left_to_the_comparison): they passed on DuckDB's."""
    duck_public = public_models(builds["duckdb_manifest"])
    spark_public = public_models(builds["spark_manifest"])
    assert duck_public == spark_public, "the same public models on both targets"
    assert len(duck_public) >= 20, "the public marts, published copies and history"
    tables = sorted(set(spark_builds.table_relations(builds["duckdb_manifest"]).values()))
    assert set(duck_public) <= set(tables) and len(tables) >= 60, "every table, the public models among them"
    problems, compared = [], []
    with duckdb.connect(str(builds["duckdb"]), read_only=True) as con:
        for schema, table in tables:
            per_engine = PER_ENGINE.get((schema, table), [])
            left = con.execute(f'select * from "{schema}"."{table}"').df().drop(columns=per_engine)
            right = spark_table(builds["spark"], schema, table)
            problems += compare(f"{schema}.{table}", left, right.drop(columns=per_engine, errors="ignore"))
            compared.append(f"{schema}.{table} ({len(left)} rows)")
    print("compared: " + ", ".join(compared))
    assert not problems, "DuckDB and Spark differ:\n" + "\n".join(problems)


def test_spark_ran_the_data_tests_the_comparison_does_not_stand_in_for(builds):
    """The Spark build ran every data test but those on the tables compared above, and among them each generic
    kind and the singular tests (dbt's "Finished running ... N data tests" lines, summed over its steps)."""
    manifest = builds["duckdb_manifest"]
    tests = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "test"}
    left_out = set(builds["spark_tests_left_out"])
    assert left_out < set(tests) and len(left_out) > len(tests) / 2
    tables = spark_builds.table_relations(manifest)
    assert all(tests[name]["attached_node"] in tables for name in left_out), "only tests of compared tables"
    kept = [node for name, node in tests.items() if name not in left_out]
    kinds = {(node.get("test_metadata") or {}).get("name", "singular") for node in kept}
    assert kinds == {"not_null", "unique", "accepted_values", "unique_combination_of_columns", "singular"}
    finished = [line for line in builds["spark_output"].splitlines() if "Finished running" in line]
    ran = sum(int(count) for line in finished for count in re.findall(r"(\d+) data tests?", line))
    assert ran == len(kept), (ran, len(kept), finished)


def test_the_faults_reach_both_builds_alike(builds):
    """Not vacuous: the planted faults quarantine rows, flag duplicates and leave results with statuses."""
    checked = spark_table(builds["spark"], "staging", "stg_landing__events_checked")
    assert checked.quarantine_reasons.dropna().str.split(",").explode().nunique() >= 5, "several reasons planted"
    assert checked.is_duplicate.sum() > 100 and checked.is_conflicting_duplicate.sum() > 0
    results = spark_table(builds["spark"], "published", "fct_metric_results")
    assert results["readout_status"].nunique() >= 2 and results["p_value"].notna().sum() > 50


def test_spark_quarantines_the_crafted_staging_cases_with_their_reasons(builds):
    """The crafted rows' fate on Spark (equal to DuckDB's: the comparison above), checked against what was planted,
    and every raw row staged, quarantined or a duplicate; the files' paths read back without URI escapes."""
    checked = spark_table(builds["spark"], "staging", "stg_landing__events_checked")
    crafted = checked[checked.file_path.isin(builds["crafted_files"])]
    assert sorted(set(crafted.file_path)) == sorted(builds["crafted_files"])
    quarantined_crafted = crafted[crafted.quarantine_reasons.notna()]
    assert dict(zip(quarantined_crafted.event_id, quarantined_crafted.quarantine_reasons)) == CRAFTED_REASONS
    staged = crafted[crafted.quarantine_reasons.isna() & (crafted.event_id_rank == 1)]
    assert sorted(staged[staged.event_id == "shared-1"].source_system) == ["ios", "web"], "one id, two producers"
    assert crafted[crafted.is_duplicate].event_id.tolist() == ["ok0"], "the retry"
    assert {"added0", "added1", "paid", "android-paid", "received-late"} <= set(staged.event_id)
    quarantined = checked.quarantine_reasons.notna()
    kept = ~quarantined & (checked.event_id_rank == 1)
    assert int(kept.sum() + quarantined.sum() + checked.is_duplicate.sum()) == len(checked), "every raw row accounted"
    files = spark_table(builds["spark"], "staging", "stg_landing__files_processed")
    assert set(builds["crafted_files"]) <= set(files.file_path)
    assert (files.file_row_count == files.checked_row_count).all()


def test_the_spark_plan_infers_every_python_model_once_and_builds_every_reader(builds):
    from readout.build_spark import READER_TAG, plan

    manifest = builds["spark_manifest"]
    steps = plan(manifest)
    inferred = [name for step in steps if step.kind == "infer" for name in step.models]
    disabled = sorted(versions[0]["name"] for versions in manifest["disabled"].values())
    assert sorted(inferred) == disabled and len(set(inferred)) == len(inferred)
    selected = " ".join(s for step in steps if step.kind == "dbt" for s in step.select)
    readers = [n["name"] for n in manifest["nodes"].values() if READER_TAG in n.get("tags", [])]
    assert readers and all(f"{reader}+" in selected for reader in readers)
    assert [step.kind for step in steps].count("alarms") == 1


def test_every_dbt_unit_test_runs_and_passes_on_spark(builds):
    """readout build --unit-tests on Spark runs every unit test of the project in its first dbt step (a failing one
    would have failed the build, and the fixture with it)."""
    count = len(builds["spark_manifest"]["unit_tests"])
    assert count >= 9
    finished = [line for line in builds["spark_output"].splitlines() if "Finished running" in line]
    assert any(f" {count} unit tests" in line for line in finished), finished
