"""The lint configuration encodes the house style (../shared/STYLE.md): a mis-styled model and module fail it for
the house's reasons, well-styled ones pass. The SQL fixtures use the jinja templater (tests/lint/fixtures/.sqlfluff)
so no dbt compile is needed; every rule setting is the project's .sqlfluff. `make lint` itself uses the dbt
templater over the whole project (and `make test` runs it beside the suite)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "lint" / "fixtures"
RUFF = Path(sys.executable).parent / "ruff"


def sqlfluff_codes(name: str) -> set[str]:
    from sqlfluff.core import FluffConfig, Linter

    config = FluffConfig.from_path(str(FIXTURES))
    result = Linter(config=config).lint_paths((str(FIXTURES / name),), ignore_files=False)
    return {violation["code"] for record in result.as_records() for violation in record["violations"]}


def test_sqlfluff_config_is_the_house_style():
    from sqlfluff.core import FluffConfig

    project = FluffConfig.from_path(str(PROJECT))
    assert project.get("templater") == "dbt" and project.get("dialect") == "duckdb"
    assert project.get("max_line_length") == 120
    fixtures = FluffConfig.from_path(str(FIXTURES))
    assert fixtures.get("templater") == "jinja", "the fixtures switch the templater only"
    assert fixtures.get("max_line_length") == 120 and fixtures.get("dialect") == "duckdb"


def test_well_styled_model_passes_sqlfluff():
    assert sqlfluff_codes("well_styled_model.sql.j2") == set()


def test_misstyled_model_fails_sqlfluff_for_the_house_reasons():
    codes = sqlfluff_codes("misstyled_model.sql.j2")
    # uppercase keywords and functions, leading commas, a bare join, an implicit alias, two-space indent
    assert {"CP01", "CP03", "LT04", "AM05", "AL02", "LT02"} <= codes, codes


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], cwd=PROJECT, capture_output=True, text=True)


def test_well_styled_module_passes_ruff():
    path = str(FIXTURES / "well_styled_module.py")
    assert ruff("check", path).returncode == 0
    assert ruff("format", "--check", path).returncode == 0


def test_misstyled_module_fails_ruff_for_the_house_reasons():
    path = str(FIXTURES / "misstyled_module.py")
    checked = ruff("check", "--output-format", "concise", path)
    assert checked.returncode == 1
    codes = set(re.findall(r": ([A-Z]+[0-9]+) ", checked.stdout))
    # unsorted imports, an unused one, 3.11 typing, a blind except without its reason, beyond 120 columns
    assert {"I001", "F401", "UP006", "BLE001", "E501"} <= codes, checked.stdout
    assert ruff("format", "--check", path).returncode == 1


def test_noqa_comments_name_selected_rules():
    """Every `# noqa: CODE` in the package names a rule the configuration selects (a noqa for a rule not selected
    would suppress nothing; RUF100 removes the ones that no longer suppress anything)."""
    selected = ruff("check", "--show-settings", "python/readout/cli.py").stdout
    codes = set(
        re.findall(
            r"#\s*noqa:\s*([A-Z]+[0-9]+)",
            "".join(path.read_text() for path in (PROJECT / "python" / "readout").rglob("*.py")),
        )
    )
    assert codes, "the package has noqa comments"
    missing = sorted(code for code in codes if f"({code})" not in selected)
    assert not missing, f"noqa codes the ruff configuration does not select: {missing}"
    assert "(RUF100)" in selected


def test_make_lint_skips_the_fixtures():
    assert "tests/lint/fixtures/" in (PROJECT / ".sqlfluffignore").read_text()
    assert "tests/lint/fixtures" in (PROJECT / "ruff.toml").read_text()


def test_make_help_lists_every_target_and_make_alone_says_what_it_does():
    makefile = (PROJECT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE).group(1).split()
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=PROJECT, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    listed = {line.split()[1] for line in shown.stdout.splitlines() if re.match(r"make \w", line)}
    assert not [target for target in phony if target not in listed | {"default"}], shown.stdout
    # `make -n` prints the commands without running them (the demo's included, through its sub-make)
    dry = subprocess.run(["make", "-n", "--no-print-directory"], cwd=PROJECT, capture_output=True, text=True)
    assert "make (no target) runs" in dry.stdout.splitlines()[0], dry.stdout[:500]
