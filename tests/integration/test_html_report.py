"""Issue 13: `readout report --html DIR` writes a static site that a real browser opens from disk with no console
error and no failed load, and whose numbers, read back from the DOM, are the marts' (to 1e-9).

Sites rendered: the all-faults warehouse (volume and contract alarms), a warehouse with no experiment (the clean
one, its readout emptied), one with only imported experiments, and one mid-timeline (running versions
provisional, one ended version confirmed) with a planted sample ratio mismatch that must show as a failed check
on its page, and a hand-written imports/unit_attributes file (a `plan` attribute of one experiment's units, as a
mapping's `segments:` writes it) that must come out as a segment type. Screenshots of every page go to
build/html_report/ for review.

The deeper readouts (issue 16) are read back too: each page's conversion funnels, segment table, detectable effect
and Bayesian view, and the index's chance to beat control and detectable effect, against their marts; a section
whose mart is missing or empty says why it is not available.
"""

from __future__ import annotations

import math
import shutil
import zlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from browser import Browser, chromium_or_skip
from e2e import PROJECT, project_env, query, readout, simulate
from faults import plant_sample_ratio_mismatch
from test_segments import assert_segments_add_up

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
ATTRIBUTED = "exp_checkout_button"  # the experiment whose units get a hand-written `plan` attribute
DEEPER_MARTS = (
    "fct_funnel_steps",
    "fct_funnel_results",
    "fct_metric_results_by_segment",
    "fct_metric_power",
    "fct_metric_results_bayesian",
)


def plant_unit_attributes(landing: Path, experiment_id: str) -> int:
    """A hand-written imports/unit_attributes file (the interface `readout import` writes from a mapping's
    `segments:`): attribute `plan` for the ids of ``experiment_id``'s exposed units, 'free' or 'pro' by a hash of
    the id, and no row for about one id in ten (the segment 'unknown'). Both a unit's anonymous and user id get a
    row: its unit_id is one of them. The rows written."""
    events = f"read_parquet('{landing}/events/**/*.parquet', union_by_name = true)"
    columns = set(duckdb.sql(f"describe select * from {events}").df().column_name)
    device = "coalesce(anonymous_id, device_id)" if "device_id" in columns else "anonymous_id"  # schema v2 name
    ids = duckdb.sql(f"""
        select distinct unit_id from (
            select {device} as unit_id, experiment_id, event_name from {events}
            union all
            select user_id, experiment_id, event_name from {events}
        ) as ids
        where event_name = 'experiment_exposed' and experiment_id = '{experiment_id}' and unit_id is not null
        order by 1""").df()
    bucket = ids.unit_id.map(lambda text: zlib.crc32(text.encode()) % 10)
    rows = ids[bucket > 0].assign(
        experiment_id=experiment_id,
        experiment_version=1,
        attribute_name="plan",
        attribute_value=["pro" if number > 6 else "free" for number in bucket[bucket > 0]],
    )
    folder = landing / "imports" / "unit_attributes"
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows[["experiment_id", "experiment_version", "unit_id", "attribute_name", "attribute_value"]]
    rows.astype({"experiment_version": "int32"}).to_parquet(folder / "handwritten.parquet", index=False)
    return len(rows)


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
    assert plant_unit_attributes(landing, ATTRIBUTED) > 100
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
                    **_deeper_readouts(result),
                }
                result.close()
    return pages


#: the attributes of each matching element, in one round trip: {name: [selector within the element ('' the element
#: itself, '^sel' its closest ancestor matching sel), attribute]}
READ_ROWS = """(elements, fields) => elements.map(element => Object.fromEntries(Object.entries(fields).map(
    ([name, [selector, attribute]]) => {
        const found = !selector ? element
            : selector.startsWith("^") ? element.closest(selector.slice(1)) : element.querySelector(selector);
        return [name, found ? found.getAttribute(attribute) : null];
    })))"""
UNAVAILABLE = "elements => elements.map(e => [e.getAttribute('data-unavailable'), e.textContent])"


def _rows(page, selector: str, fields: dict[str, tuple[str, str]]) -> list[dict]:
    return page.eval_on_selector_all(selector, READ_ROWS, {name: list(pair) for name, pair in fields.items()})


def _deeper_readouts(result) -> dict:
    """The numbers of the deeper readouts' sections and of the index's primary columns, with their keys (read in
    one round trip per table: the test's script, the page has none)."""
    page = result._page
    keys = {"metric": ("", "data-metric"), "variant": ("", "data-variant"), "estimator": ("", "data-estimator")}
    return {
        "unavailable": dict(page.eval_on_selector_all("[data-unavailable]", UNAVAILABLE)),
        "funnel_steps": _rows(
            page,
            "table.funnel-steps tr[data-step]",
            {
                "funnel": ("", "data-funnel"),
                "step": ("", "data-step"),
                "variant": ("", "data-variant"),
                "conversion": ("td[data-conversion-from-exposure]", "data-conversion-from-exposure"),
                "reach_lift": ("td[data-measure='reach'] span.interval", "data-lift"),
                "step_lift": ("td[data-measure='from_previous'] span.interval", "data-lift"),
            },
        ),
        "segments": _rows(
            page,
            "table.segments tr[data-segment-type]",
            {
                **keys,
                "segment_type": ("", "data-segment-type"),
                "segment_value": ("", "data-segment-value"),
                "lift": ("span.interval", "data-lift"),
                "srm_p": ("td[data-srm-p]", "data-srm-p"),
            },
        ),
        "power": _rows(page, "table.power tr[data-metric]", {**keys, "mde": ("td[data-mde]", "data-mde")}),
        "bayesian": _rows(
            page,
            "table.bayesian tr[data-metric]",
            {**keys, "chance": ("td[data-chance-to-beat]", "data-chance-to-beat")},
        ),
        "index": _rows(
            page,
            "table.versions span[data-chance-to-beat], table.versions span[data-mde]",
            {
                **keys,
                "experiment": ("^tr", "data-experiment"),
                "version": ("^tr", "data-version"),
                "chance": ("", "data-chance-to-beat"),
                "mde": ("", "data-mde"),
            },
        ),
    }


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


def _schema(warehouse: Path) -> str:
    tables = "select count(*) as n from information_schema.tables where table_schema = 'published'"
    return "published" if query(warehouse, tables).n[0] else "marts"


def _one(frame: pd.DataFrame, **keys) -> pd.Series:
    for column, value in keys.items():
        frame = frame[frame[column].astype(str) == str(value)]
    assert len(frame) == 1, keys
    return frame.iloc[0]


@pytest.mark.parametrize("name", ["all_faults", "imported", "mid_timeline"])
def test_funnels_segments_power_and_bayesian_view_read_back_from_the_dom_are_the_marts(sites, opened, name):
    warehouse = sites[name]["warehouse"]
    schema = _schema(warehouse)
    marts = {table: query(warehouse, f"select * from {schema}.{table}") for table in DEEPER_MARTS}
    exposed = {
        table: frame[frame.population == "exposed"]
        for table, frame in marts.items()
        if table in ("fct_metric_results_by_segment", "fct_metric_power", "fct_metric_results_bayesian")
    }
    compared = dict.fromkeys(("funnel_steps", "funnel_lifts", "segments", "power", "bayesian", "index"), 0)
    for (site, page), found in opened.items():
        if site != name:
            continue
        if page == "index.html":
            for shown in found["index"]:
                keys = {
                    "experiment_id": shown["experiment"],
                    "experiment_version": shown["version"],
                    "metric_id": shown["metric"],
                    "variant_id": shown["variant"],
                    "estimator": shown["estimator"],
                }
                if shown["chance"] is not None:
                    row = _one(exposed["fct_metric_results_bayesian"], **keys)
                    assert _close(shown["chance"], row.chance_to_beat_control), shown
                else:
                    row = _one(exposed["fct_metric_power"], **keys)
                    assert _close(shown["mde"], row.minimum_detectable_effect), shown
                compared["index"] += 1
            continue
        experiment_id, version = page.removesuffix(".html").rsplit("-v", 1)
        version_keys = {"experiment_id": experiment_id, "experiment_version": version}
        for shown in found["funnel_steps"]:
            keys = {**version_keys, "funnel_id": shown["funnel"], "step_number": shown["step"]}
            row = _one(marts["fct_funnel_steps"], **keys, variant_id=shown["variant"])
            assert _close(shown["conversion"], row.conversion_from_exposure), shown
            compared["funnel_steps"] += 1
            for measure, lift in (("reach", shown["reach_lift"]), ("from_previous", shown["step_lift"])):
                if lift is not None:
                    result = _one(marts["fct_funnel_results"], **keys, variant_id=shown["variant"], measure=measure)
                    assert _close(lift, result.relative_lift), (shown, measure)
                    compared["funnel_lifts"] += 1
        for shown in found["segments"]:
            row = _one(
                exposed["fct_metric_results_by_segment"],
                **version_keys,
                segment_type=shown["segment_type"],
                segment_value=shown["segment_value"],
                metric_id=shown["metric"],
                variant_id=shown["variant"],
                estimator=shown["estimator"],
            )
            assert shown["lift"] is None or _close(shown["lift"], row.relative_lift), shown
            assert _close(shown["srm_p"], row.srm_p_value), shown
            compared["segments"] += 1
        for section, table, column, attribute in (
            ("power", "fct_metric_power", "minimum_detectable_effect", "mde"),
            ("bayesian", "fct_metric_results_bayesian", "chance_to_beat_control", "chance"),
        ):
            for shown in found[section]:
                row = _one(
                    exposed[table],
                    **version_keys,
                    metric_id=shown["metric"],
                    variant_id=shown["variant"],
                    estimator=shown["estimator"],
                )
                assert _close(shown[attribute] or None, row[column]), (section, shown)
                compared[section] += 1
        if experiment_id != "exp_checkout_copy":  # the draft: every section says it has no units
            assert found["power"] and found["bayesian"], page
        for section, text in found["unavailable"].items():
            assert text.startswith("Not available because "), (page, section, text)
    assert compared["index"] > 0 and compared["power"] > 0 and compared["bayesian"] > 0, compared
    if name == "imported":  # no events: no funnel; no mapping declares segments
        pages = [found for (site, page), found in opened.items() if site == name and page != "index.html"]
        assert all({"funnels", "segments"} <= set(found["unavailable"]) for found in pages)
    else:
        assert min(compared.values()) > 0, compared


def test_the_hand_written_import_attribute_is_a_segment_type_that_adds_up(sites, opened):
    """The `plan` attribute of imports/unit_attributes cuts its experiment version only, each of its exposed units
    in exactly one value ('unknown' without a row), with its own families and sample-ratio checks; its rows are on
    the version's page."""
    warehouse = sites["mid_timeline"]["warehouse"]
    plans = query(
        warehouse,
        "select distinct experiment_id, segment_value from published.fct_metric_results_by_segment "
        "where segment_type = 'plan' order by all",
    )
    assert set(plans.experiment_id) == {ATTRIBUTED} and set(plans.segment_value) == {"free", "pro", "unknown"}
    assert_segments_add_up(warehouse, {"plan"}, ATTRIBUTED)
    shown = opened[("mid_timeline", f"{ATTRIBUTED}-v1.html")]["segments"]
    assert {row["segment_value"] for row in shown if row["segment_type"] == "plan"} == {"free", "pro", "unknown"}


def test_a_warehouse_without_the_deeper_marts_says_why_each_section_is_missing(root, sites):
    """A warehouse built before the deeper readouts (their marts dropped) renders; each section says why."""
    warehouse = root / "without_deeper.duckdb"
    shutil.copy(sites["mid_timeline"]["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table in DEEPER_MARTS:
            con.execute(f"drop table published.{table}")
    pages = render_html(warehouse, root / "site_without_deeper", experiment=ATTRIBUTED)
    page = pages[1].read_text()
    for section, mart in (
        ("funnels", "fct_funnel_steps"),
        ("segments", "fct_metric_results_by_segment"),
        ("power", "fct_metric_power"),
        ("bayesian", "fct_metric_results_bayesian"),
    ):
        assert (
            f'data-unavailable="{section}">Not available because this warehouse was built before the mart {mart}'
            in (page)
        ), section
    assert 'data-chance-to-beat=""' in pages[0].read_text()


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
