"""Default locations resolve against the project from any folder (issue 17: `readout report` run elsewhere found
no warehouse); explicit paths and environment variables are taken as given."""

from __future__ import annotations

from pathlib import Path

from readout import paths


def test_defaults_are_relative_in_the_project(monkeypatch):
    monkeypatch.delenv("READOUT_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("READOUT_LANDING_PATH", raising=False)
    monkeypatch.chdir(paths.PACKAGE_PROJECT)
    assert paths.warehouse_path() == Path("warehouse/readout.duckdb")
    assert paths.landing_path() == Path("data/landing")


def test_defaults_resolve_against_the_project_from_another_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("READOUT_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("READOUT_LANDING_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.warehouse_path() == paths.PACKAGE_PROJECT / "warehouse" / "readout.duckdb"
    assert paths.landing_path() == paths.PACKAGE_PROJECT / "data" / "landing"
    assert (paths.PACKAGE_PROJECT / "dbt_project.yml").is_file()


def test_explicit_and_environment_paths_are_taken_as_given(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("READOUT_DUCKDB_PATH", "elsewhere/w.duckdb")
    assert paths.warehouse_path() == Path("elsewhere/w.duckdb")
    assert paths.warehouse_path("mine.duckdb") == Path("mine.duckdb")
    monkeypatch.setenv("READOUT_LANDING_PATH", "/data/landing")
    assert paths.landing_path() == Path("/data/landing")


def test_a_folder_that_is_a_dbt_project_keeps_its_own_defaults(monkeypatch, tmp_path):
    """A copy of the project (the integration tests build in copies) reads its own warehouse, not the package's."""
    monkeypatch.delenv("READOUT_DUCKDB_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: copy\n")
    monkeypatch.chdir(tmp_path)
    assert paths.warehouse_path() == Path("warehouse/readout.duckdb")
