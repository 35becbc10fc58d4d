"""readout.spark.target_settings: the Spark target of profiles.yml rendered as dbt renders it (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from readout.spark import SparkUnavailable, catalog_problem, target_settings

PROJECT = Path(__file__).resolve().parents[2]


def test_the_project_spark_target_renders_with_its_defaults(monkeypatch):
    monkeypatch.setenv("READOUT_SPARK_DIR", "/somewhere")
    settings = target_settings(PROJECT)
    assert settings["method"] == "session"
    assert settings["server_side_parameters"]["spark.sql.warehouse.dir"] == "/somewhere/warehouse"


def test_dbt_type_filters_render_as_the_text_dbt_reads_back(tmp_path, monkeypatch):
    (tmp_path / "profiles.yml").write_text(
        "readout:\n  outputs:\n    spark:\n      threads: \"{{ env_var('READOUT_T', '1') | as_number }}\"\n"
    )
    monkeypatch.delenv("READOUT_T", raising=False)
    assert target_settings(tmp_path)["threads"] == "1"
    monkeypatch.setenv("READOUT_T", "3")
    assert target_settings(tmp_path)["threads"] == "3"


def test_a_target_that_does_not_render_is_one_error_naming_it(tmp_path):
    (tmp_path / "profiles.yml").write_text(
        "readout:\n  outputs:\n    spark:\n      threads: \"{{ env_var('X', '1') | no_such_filter }}\"\n"
    )
    with pytest.raises(SparkUnavailable, match="the 'spark' target does not render .*no_such_filter"):
        target_settings(tmp_path)


def test_the_catalog_is_the_metastore_unless_in_memory_is_asked_for(monkeypatch):
    monkeypatch.delenv("READOUT_SPARK_CATALOG", raising=False)
    assert target_settings(PROJECT)["server_side_parameters"]["spark.sql.catalogImplementation"] == "hive"
    assert catalog_problem(PROJECT) is None
    monkeypatch.setenv("READOUT_SPARK_CATALOG", "in-memory")
    assert target_settings(PROJECT)["server_side_parameters"]["spark.sql.catalogImplementation"] == "in-memory"
    assert catalog_problem(PROJECT) is None
    monkeypatch.setenv("READOUT_SPARK_CATALOG", "memory")
    assert catalog_problem(PROJECT) == "READOUT_SPARK_CATALOG is 'memory': it must be hive or in-memory (docs/spark.md)"
