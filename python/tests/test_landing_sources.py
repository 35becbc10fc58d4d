"""The landing sources on Spark (macros/landing_sources.sql): the columns its external tables declare are the
contract's (readout.contract), every schema version's, and every dbt landing source has them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from readout.contract import LANDING_TABLE_VERSIONS

REPO = Path(__file__).resolve().parents[2]
MACRO = REPO / "macros" / "landing_sources.sql"
SOURCES = REPO / "models" / "staging" / "landing" / "_landing__sources.yml"


def _macro_columns() -> dict[str, dict[str, str]]:
    text = MACRO.read_text()
    body = re.search(r"macro landing_columns\(\).*?return\((\{.*?\})\) \}\}", text, re.S)
    assert body, "landing_columns() in macros/landing_sources.sql returns one dict literal"
    return ast.literal_eval(body.group(1))


def test_spark_landing_columns_are_every_schema_version_of_the_contract():
    expected = {
        folder: {name: kind for columns in versions.values() for name, kind in columns.items()}
        for folder, versions in LANDING_TABLE_VERSIONS.items()
    }
    assert _macro_columns() == expected, (
        "macros/landing_sources.sql landing_columns() must list readout.contract.LANDING_TABLE_VERSIONS "
        f"(every version's columns): {expected}"
    )


def test_every_landing_source_has_its_columns_and_no_path_rendered_at_parse():
    sources = yaml.safe_load(SOURCES.read_text())["sources"]
    tables = next(source for source in sources if source["name"] == "landing")["tables"]
    columns = _macro_columns()
    assert {table["config"]["meta"]["landing_folder"] for table in tables} == set(columns)
    # the path is read by the on-run-start hook, so another landing zone does not make dbt parse the project again
    assert "env_var" not in SOURCES.read_text()
