"""`make build` (readout build) does not run dbt when nothing it reads has changed since the last successful
build, and runs it as soon as something has: here a landing file rewritten (its mtime moves)."""

from __future__ import annotations

import os
import shutil

from e2e import project_env, query, readout

LOG = "select count(*) as n from main.readout_build_log"


def test_a_refresh_with_nothing_changed_skips_dbt_and_a_changed_input_runs_it(clean_simulation, tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    shutil.copytree(clean_simulation["landing"], landing)  # copy2: modification times are kept
    shutil.copy2(clean_simulation["warehouse"], warehouse)
    env = project_env(landing, warehouse)
    builds = int(query(warehouse, LOG).n[0])

    skipped = readout("build", env=env)
    assert "nothing changed since build" in skipped.stdout, skipped.stdout
    assert int(query(warehouse, LOG).n[0]) == builds  # dbt did not run: no build log row

    touched = sorted((landing / "events").rglob("*.parquet"))[0]
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    ran = readout("build", env=env)
    assert "nothing changed" not in ran.stdout
    assert int(query(warehouse, LOG).n[0]) == builds + 2  # a started and a finished row
    assert "nothing changed since build" in readout("build", env=env).stdout  # and that build was recorded
