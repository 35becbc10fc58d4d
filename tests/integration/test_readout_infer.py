"""`readout infer` (issue 15) runs each dbt Python model's own code outside dbt: on DuckDB it must write exactly
what the dbt Python models wrote, table for table (on Spark, where dbt runs no Python model, it is the only way
the statistics are made; tests/integration/test_spark_equality.py compares those with DuckDB's)."""

from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
from e2e import project_env, readout, target_dir


def test_readout_infer_writes_what_the_dbt_python_models_wrote(clean_simulation, tmp_path):
    built = clean_simulation["warehouse"]
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(built, copy)
    manifest = target_dir(built) / "manifest.json"
    nodes = json.loads(manifest.read_text())["nodes"]
    names = sorted(node["name"] for node in nodes.values() if node.get("language") == "python")
    with duckdb.connect(str(copy)) as con:  # the copy's inferred tables emptied: infer must write them all again
        for name in names:
            con.execute(f"delete from marts.{name}")
    result = readout("infer", "--manifest", str(manifest), env=project_env(clean_simulation["landing"], copy))
    assert len(names) >= 9 and f"{len(names)} inferred tables written" in result.stdout
    assert f"marts.{names[0]}:" in result.stdout, "each table is reported with its row count"
    with duckdb.connect(str(built), read_only=True) as by_dbt, duckdb.connect(str(copy), read_only=True) as by_infer:
        for name in names:
            expected = by_dbt.execute(f"select * from marts.{name}").df()
            assert len(expected) > 0 or name == "summary_results_by_checkpoint_inferred", f"{name} is empty"
            pd.testing.assert_frame_equal(expected, by_infer.execute(f"select * from marts.{name}").df(), obj=name)
