"""The HTML artefacts besides the readout open from disk with no network (issue 17): the GX Data Docs of a
contract validation and dbt's documentation site (`make docs`), loaded in an offline headless Chromium
(tests/browser.py) with no console error and no failed resource load, and showing their content."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from browser import Browser, chromium_or_skip
from e2e import BIN, PROJECT, project_env, target_dir

from readout.contracts import load_contracts
from readout.contracts.docs import CDN_ASSETS, make_offline
from readout.contracts.validate import resolve_as_of, validate
from readout.dbt_docs import make_offline as make_dbt_docs_offline


@pytest.fixture(scope="module")
def browser():
    with Browser(chromium_or_skip()) as opened:
        yield opened


def test_gx_data_docs_render_offline(clean_simulation, tmp_path, browser):
    landing = clean_simulation["landing"]
    report = validate(
        "raw",
        load_contracts(PROJECT / "contracts"),
        names=["raw_experiments"],
        landing=landing,
        as_of=resolve_as_of("manifest", landing),
        docs_dir=tmp_path / "gx",
    )
    site = report.docs.parent
    pages = sorted(site.rglob("*.html"))
    html = "".join(page.read_text() for page in pages)
    assert not [url for url in CDN_ASSETS if url in html], "a CDN link survived the rewrite"
    assert make_offline(site) == [], "nothing external is left to load"
    # the index and a page at every depth (GX writes the validation pages five folders down)
    assert {len(page.relative_to(site).parts) for page in pages} >= {1, 3, 6}
    for page in pages:
        result = browser.open_page(page)
        assert not result.problems(), f"{page.relative_to(site)}: {result.problems()}"
        assert "raw_experiments" in result.text("body"), page
    index = browser.open_page(site / "index.html")
    # bootstrap-table (vendored JavaScript) ran: it wraps the results table in its own container
    assert index.attributes(".bootstrap-table", "class"), "the vendored bootstrap-table did not run"


def test_dbt_docs_render_offline(clean_simulation, tmp_path, browser):
    """`dbt docs generate --static` on the clean build (its manifest, a copy of its warehouse), then the
    rewrite `make docs` applies: the single-file site opens with the project's models in its tree."""
    warehouse = tmp_path / "docs.duckdb"
    shutil.copyfile(clean_simulation["warehouse"], warehouse)
    shutil.copytree(target_dir(clean_simulation["warehouse"]), target_dir(warehouse))
    env = project_env(clean_simulation["landing"], warehouse)
    result = subprocess.run(
        # the catalog of one mart is enough (the site and its manifest are whole): half the time of all of them
        [str(BIN / "dbt"), "docs", "generate", "--static", "--no-compile", "--select", "fct_metric_results"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    static_index = target_dir(warehouse) / "static_index.html"
    assert make_dbt_docs_offline(static_index) > 0
    page = browser.open_page(static_index)
    # AngularJS draws the page from the inlined manifest after load; then a public mart's page lists its columns
    live = page._page  # tests/browser.py's PageResult keeps the live page for this
    live.wait_for_function("document.body.innerText.includes('auto-generated documentation')", timeout=15_000)
    live.goto(page.url.split("#")[0] + "#!/model/model.readout.fct_metric_results")
    live.wait_for_function("document.body.innerText.includes('relative_lift_ci_lower')", timeout=15_000)
    assert not page.problems(), page.problems()
    assert make_dbt_docs_offline(static_index) == 0, "the rewrite is idempotent"
