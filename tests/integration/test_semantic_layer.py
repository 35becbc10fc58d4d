"""The semantic layer (models/semantic): `dbt parse` validates it (a broken metric is a parse error), and
MetricFlow's `mf query` against a built warehouse gives the same per-variant means as the published readout."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
from e2e import BIN, PROJECT, project_env, query, run, target_dir


def _mf_project(tmp_path, warehouse):
    """MetricFlow reads <project>/target/semantic_manifest.json: a project of links with its own target."""
    root = tmp_path / "project"
    (root / "target").mkdir(parents=True)
    for item in PROJECT.iterdir():
        if item.name not in ("target", ".venv", "build", "warehouse", "data"):
            (root / item.name).symlink_to(item)
    shutil.copy(target_dir(warehouse) / "semantic_manifest.json", root / "target" / "semantic_manifest.json")
    return root


def test_mf_query_gives_the_published_means(clean_simulation, tmp_path):
    root = _mf_project(tmp_path, clean_simulation["warehouse"])
    # a copy (MetricFlow opens it read-write; the other tests read the shared one), named as the semantic manifest
    # names its database: DuckDB names a database after its file, and the build may have opened it by another name
    # than the shared one's (e2e.parse_shared)
    semantic = json.loads((root / "target" / "semantic_manifest.json").read_text())
    warehouse = tmp_path / f"{semantic['semantic_models'][0]['node_relation']['database']}.duckdb"
    shutil.copyfile(clean_simulation["warehouse"], warehouse)
    env = project_env(clean_simulation["landing"], warehouse)
    out = tmp_path / "mf.csv"
    where = "{{ Dimension('variant_metric__population') }} = 'exposed'"
    result = subprocess.run(
        [
            str(BIN / "mf"),
            "query",
            "--metrics",
            "metric_mean,analysed_units",
            "--group-by",
            "variant_metric__experiment_id,variant_metric__experiment_version,variant_metric__variant_id,variant_metric__metric_id",
            "--where",
            where,
            "--csv",
            str(out),
        ],
        cwd=root,
        env=env | {"DBT_LOG_PATH": str(tmp_path / "logs")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    mf = pd.read_csv(out).rename(columns=lambda c: c.replace("variant_metric__", ""))
    published = query(
        warehouse,
        """
        select experiment_id, experiment_version, control_variant_id as variant_id, metric_id,
               mean_control as mean, n_units_control as n_units
        from published.fct_metric_results
        where population = 'exposed' and estimator = 'unadjusted' and ci_method = 'welch'
        union
        select experiment_id, experiment_version, variant_id, metric_id, mean_variant, n_units_variant
        from published.fct_metric_results
        where population = 'exposed' and estimator = 'unadjusted' and ci_method = 'welch'
        """,
    )
    joined = published.merge(mf, on=["experiment_id", "experiment_version", "variant_id", "metric_id"], how="left")
    assert len(joined) > 20 and joined["metric_mean"].notna().all(), "every published arm mean is in the semantic layer"
    np.testing.assert_allclose(joined["metric_mean"], joined["mean"], rtol=1e-12)
    np.testing.assert_array_equal(joined["analysed_units"], joined["n_units"])


def test_a_broken_metric_is_a_parse_error(clean_simulation, tmp_path):
    # the same project with one metric pointing at a measure that does not exist
    root = tmp_path / "broken"
    root.mkdir()
    for item in PROJECT.iterdir():
        if item.name not in ("models", "target", ".venv", "build", "warehouse", "data"):
            (root / item.name).symlink_to(item)
    shutil.copytree(PROJECT / "models", root / "models")
    semantic = root / "models" / "semantic" / "_semantic__models.yml"
    semantic.write_text(semantic.read_text().replace("{measure: units_exposed}", "{measure: units_exposed_typo}"))
    env = project_env(clean_simulation["landing"], tmp_path / "broken.duckdb") | {
        "DBT_TARGET_PATH": str(tmp_path / "t")
    }
    result = run([str(BIN / "dbt"), "parse", "--project-dir", str(root)], env, check=False)
    assert result.returncode != 0
    assert "units_exposed_typo` does not exist" in result.stdout + result.stderr
