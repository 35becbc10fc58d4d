"""Issue 13: `readout report --html DIR` writes a static site that a real browser opens from disk with no console
error and no failed load, and whose numbers, read back from the DOM, are the marts' (to 1e-9).

Sites rendered: the all-faults warehouse (volume and contract alarms), a warehouse with no experiment (the clean
one, its readout emptied), one with only imported experiments, and one mid-timeline (running versions
provisional, one ended version confirmed) with a planted sample ratio mismatch that must show as a failed check
on its page. Screenshots of every page go to build/html_report/ for review.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest
from browser import Browser, chromium_or_skip
from e2e import PROJECT, project_env, query, readout, simulate
from faults import plant_sample_ratio_mismatch

from readout.decision import srm_level
from readout.html import render_html
from readout.html.plots import ForestRow, Interval, forest_plot
from readout.html.site import exact
from readout.landing import ensure_landing_tables

SCREENSHOTS = PROJECT / "build" / "html_report"
MID_TIMELINE_EVENTS = 20_000
MID_TIMELINE_AS_OF = "2026-02-06T00:00:00Z"
MISMATCHED = ("exp_checkout_button", 1, "treatment")  # a landing file doubles its treatment in the mid-timeline build
TOLERANCE = 1e-9


def render(warehouse: Path, out: Path, *extra: str):
    """`readout report --html OUT` on the warehouse, as a user runs it."""
    return readout(
        "report",
        "--html",
        str(out),
        "--warehouse",
        str(warehouse),
        *extra,
        env=project_env(out / "landing", warehouse),
        check=False,
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("html_report")


@pytest.fixture(scope="module")
def empty_warehouse(root, clean_simulation) -> Path:
    """The clean warehouse with its readout emptied: a warehouse with no experiment version."""
    warehouse = root / "empty.duckdb"
    shutil.copy(clean_simulation["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        tables = con.execute("""select table_schema, table_name from information_schema.tables
                                where table_type = 'BASE TABLE' and table_schema in ('published', 'marts', 'history')
                                   or table_name = 'int_experiment_versions'""").fetchall()
        for schema, table in tables:
            con.execute(f'delete from "{schema}"."{table}"')
    return warehouse


@pytest.fixture(scope="module")
def mid_timeline(root) -> Path:
    """A small clean landing zone as it stood mid-experiment, with one variant's units doubled, built: the running
    versions provisional, the doubled one a sample ratio mismatch."""
    landing, warehouse = root / "mid_landing", root / "mid.duckdb"
    simulate(landing, "none", MID_TIMELINE_EVENTS, "--as-of", MID_TIMELINE_AS_OF)
    assert plant_sample_ratio_mismatch(landing, *MISMATCHED) > 0
    ensure_landing_tables(landing)
    # no mart contracts (the all-faults build has their alarms): GX's import alone costs seconds
    readout("build", "--full-refresh", "--no-contracts", env=project_env(landing, warehouse))
    return warehouse


@pytest.fixture(scope="module")
def sites(root, all_faults_simulation, empty_warehouse, imported_simulation, mid_timeline) -> dict:
    """Each warehouse's site: the empty one through the command line, as a user runs it, the others in-process
    (the same function; a command line costs a Python start and every subcommand's imports)."""
    warehouses = {
        "all_faults": all_faults_simulation["warehouse"],
        "empty": empty_warehouse,
        "imported": imported_simulation,
        "mid_timeline": mid_timeline,
    }
    rendered = {}
    for name, warehouse in warehouses.items():
        out = root / f"site_{name}"
        if name == "empty":
            result = render(warehouse, out)
            assert result.returncode == 0, result.stderr
            stdout = result.stdout
        else:
            stdout = f"HTML readout: {render_html(warehouse, out)[0].resolve()}"
        rendered[name] = {"warehouse": warehouse, "out": out, "stdout": stdout}
    return rendered


@pytest.fixture(scope="module")
def opened(sites) -> dict:
    """Every page of every site opened in Chromium (offline), with a screenshot under build/html_report/."""
    pages = {}
    with Browser(chromium_or_skip()) as browser:
        for name, site in sites.items():
            for path in sorted(site["out"].glob("*.html")):
                result = browser.open_page(path, screenshot=SCREENSHOTS / name / f"{path.stem}.png")
                pages[(name, path.name)] = {
                    "problems": result.problems(),
                    "status": result.attributes("article > p > .badge[data-status]", "data-status"),
                    "srm": result.attributes("article > p > [data-srm]", "data-srm"),
                    "srm_p": result.attributes("article > p > [data-srm]", "data-srm-p"),
                    "failed_check": result.attributes("[data-check='sample_ratio']", "data-check-result"),
                    "intervals": [
                        {
                            key: element.get_attribute(f"data-{key}")
                            for key in ("metric", "variant", "estimator", "lift", "lower", "upper")
                        }
                        for element in result._page.query_selector_all("table.results span.interval")
                    ],
                    "row_status": result.attributes("table.results tr[data-status]", "data-status"),
                    "reasons": result.attributes("article > p > [data-status-reasons]", "data-status-reasons"),
                    "experiments": result.attributes("[data-experiments]", "data-experiments"),
                    "index_rows": result.attributes("table.versions tr[data-experiment]", "data-experiment"),
                    "svg_titles": [
                        element.text_content() for element in result._page.query_selector_all("svg.chart > title")
                    ],
                }
                result.close()
    return pages


def _close(page_value: str | None, mart_value) -> bool:
    if mart_value is None or (isinstance(mart_value, float) and math.isnan(mart_value)):
        return page_value in ("", None)
    return page_value not in ("", None) and abs(float(page_value) - float(mart_value)) <= TOLERANCE


def test_the_command_line_prints_the_index_path(sites):
    site = sites["empty"]
    assert str((site["out"] / "index.html").resolve()) in site["stdout"], site["stdout"]


def test_every_page_opens_offline_without_console_errors_or_failed_loads(opened):
    assert opened, "no page was opened"
    problems = {page: found["problems"] for page, found in opened.items() if found["problems"]}
    assert not problems, problems
    for page, found in opened.items():
        if page[1] != "index.html" and found["intervals"]:
            assert found["svg_titles"], f"{page}: charts without a title"
    assert all((SCREENSHOTS / name / f"{Path(page).stem}.png").stat().st_size > 0 for name, page in opened)


@pytest.mark.parametrize("name", ["all_faults", "imported", "mid_timeline"])
def test_intervals_status_and_sample_ratio_read_back_from_the_dom_are_the_marts(sites, opened, name):
    warehouse = sites[name]["warehouse"]
    schema = (
        "published"
        if query(warehouse, "select count(*) as n from information_schema.tables where table_schema = 'published'").n[0]
        else "marts"
    )
    results = query(warehouse, f"select * from {schema}.fct_metric_results where population = 'exposed'")
    checks = query(
        warehouse,
        f"""select experiment_id, experiment_version, max(p_value) as p_value,
                                         bool_or(is_sample_ratio_mismatch) as is_mismatch
                                  from {schema}.fct_sample_ratio_checks where population = 'exposed' group by all""",
    )
    compared = 0
    for check in checks.itertuples():
        page = opened[(name, f"{check.experiment_id}-v{check.experiment_version}.html")]
        rows = results[
            (results.experiment_id == check.experiment_id) & (results.experiment_version == check.experiment_version)
        ]
        p_value = None if math.isnan(check.p_value) else check.p_value
        # the sample-ratio verdict and its p-value; a mismatch is a failed check
        assert _close(page["srm_p"][0], p_value), check
        assert page["srm"] == ["mismatch" if check.is_mismatch else srm_level(p_value, 0.001, 0.01)], check
        assert page["failed_check"] == (["failed"] if check.is_mismatch else []), check
        # the status: frozen, else provisional if any row is, else confirmed; every row's own
        statuses = set(rows.readout_status)
        version_status = next((s for s in ("frozen", "provisional", "confirmed") if s in statuses), "")
        assert page["status"] == [version_status], (check, page["status"], statuses)
        assert sorted(page["row_status"]) == sorted(rows.readout_status), check
        # every interval on the page, against its mart row
        assert len(page["intervals"]) == len(rows), check
        for shown in page["intervals"]:
            row = rows[
                (rows.metric_id == shown["metric"])
                & (rows.variant_id == shown["variant"])
                & (rows.estimator == shown["estimator"])
            ].iloc[0]
            for key, column in (
                ("lift", "relative_lift"),
                ("lower", "relative_lift_ci_lower"),
                ("upper", "relative_lift_ci_upper"),
            ):
                assert _close(shown[key], row[column]), (shown, column, row[column])
                compared += 1
    assert compared > 0


def test_the_planted_sample_ratio_mismatch_is_a_failed_check_on_its_page(opened):
    experiment_id, version, _ = MISMATCHED
    failed = [page for (name, page), found in opened.items() if name == "mid_timeline" and found["failed_check"]]
    assert failed == [f"{experiment_id}-v{version}.html"]
    assert opened[("mid_timeline", failed[0])]["srm"] == ["mismatch"]


def test_a_warehouse_with_no_experiment_renders_an_empty_index(opened):
    assert opened[("empty", "index.html")]["experiments"] == ["0"]
    assert [page for name, page in opened if name == "empty"] == ["index.html"]


def test_only_imported_experiments_render(sites, opened):
    versions = query(
        sites["imported"]["warehouse"], "select distinct experiment_id from published.fct_metric_results order by 1"
    ).experiment_id
    assert sorted(opened[("imported", "index.html")]["index_rows"]) == sorted(versions)
    for experiment_id in versions:
        assert any(page.startswith(experiment_id) for name, page in opened if name == "imported")


def test_mid_timeline_running_versions_render_as_provisional(opened):
    pages = {page: found for (name, page), found in opened.items() if name == "mid_timeline" and page != "index.html"}
    running = [found for found in pages.values() if "experiment_running" in (found["reasons"] or [""])[0]]
    assert running and all(found["status"] == ["provisional"] for found in running), pages


def test_a_missing_or_unbuilt_warehouse_is_one_line_exit_2(root):
    result = render(root / "missing.duckdb", root / "site_missing")
    assert result.returncode == 2, result
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    unbuilt = root / "unbuilt.duckdb"
    duckdb.connect(str(unbuilt)).close()
    with pytest.raises(ValueError) as error:  # the command line prints it as one line, exit 2
        render_html(unbuilt, root / "site_unbuilt")
    assert "run `make build` first" in str(error.value) and len(str(error.value).splitlines()) == 1
    assert not (root / "site_missing").exists() and not (root / "site_unbuilt").exists()


def test_charts_carry_a_text_alternative_listing_every_number():
    svg = forest_plot(
        [
            ForestRow(
                "primary",
                "conversion (treatment)",
                {"cuped": Interval(0.05, -0.01, 0.11), "unadjusted": Interval(0.04, -0.02, 0.1)},
                "cuped",
            ),
            ForestRow(
                "guardrail",
                "retention_d7 (treatment)",
                {"unadjusted": Interval(-0.03, -0.05, -0.01)},
                "unadjusted",
                margin=-0.02,
            ),
        ],
        "chart-test",
        "A test chart",
    )
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert '<title id="chart-test-title">A test chart</title>' in svg
    for text in ("+5.0% (-1.0% to +11.0%)", "+4.0% (-2.0% to +10.0%)", "guardrail margin at -2.0%"):
        assert text in svg, text
    assert exact(0.1 + 0.2) == repr(0.1 + 0.2) and float(exact(0.1 + 0.2)) == 0.1 + 0.2 and exact(float("nan")) == ""
