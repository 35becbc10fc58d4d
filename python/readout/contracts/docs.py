"""Running generated suites on pandas DataFrames, and writing Data Docs (HTML) with GX Core 1.x.

``Runner`` runs a suite on a frame with the fast engine (engine.py: GX's pandas semantics, vectorized) where it
mirrors every expectation, and with GX (``GxRunner``) otherwise or when asked (``--engine gx``). GX is started
only when it is needed: for a suite the fast engine hands over, or for the Data Docs.

One ephemeral GX context per ``readout contracts validate`` run: a pandas data source, one DataFrame
asset and validation definition per suite. Validation results are kept in the context's in-memory
store (the fast engine's too, as GX's result objects) and, when a docs folder is given, rendered once at the
end into a filesystem Data Docs site (``build/gx_docs/index.html`` by default; never committed).

The site GX writes loads its CSS, JavaScript, fonts and logo from CDNs, so it renders blank in an offline data room.
``make_offline`` rewrites every such link to a copy under the site's ``static/vendor/`` (the files in
``docs_assets/vendor/``: the exact npm releases GX's templates name, see ``docs_assets/README.md``) and says, in one
line, which external resource it could not replace (a GX upgrade adding a new one).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from . import engine
from .gx import import_gx
from .suites import SuiteSpec

SITE = "readout"
DEFAULT_DOCS_DIR = "build/gx_docs"

#: the vendored copies of GX Data Docs' CDN assets (package data)
ASSETS_DIR = Path(__file__).parent / "docs_assets" / "vendor"
#: every CDN URL in GX 1.x's Data Docs templates -> its copy under ASSETS_DIR (the filter-control stylesheet is
#: named at 1.19.0 in two templates and 1.19.1 elsewhere: the 1.19.1 release serves both)
CDN_ASSETS = dict(
    [
        ("https://code.jquery.com/jquery-3.7.1.min.js", "jquery-3.7.1/jquery.min.js"),
        ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js", "popper.js-1.12.9/popper.min.js"),
        ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css", "bootstrap-4.3.1/bootstrap.min.css"),
        ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js", "bootstrap-4.3.1/bootstrap.min.js"),
        (
            "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
            "bootstrap-table-1.19.1/bootstrap-table.min.css",
        ),
        (
            "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
            "bootstrap-table-1.19.1/bootstrap-table.min.js",
        ),
        (
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
            "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
        ),
        (
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
            "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
        ),
        (
            "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
            "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
            "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
            "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
        ),
        (
            "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
            "bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
            "fontawesome-free-6.6.0/css/all.min.css",
        ),
        ("https://cdn.jsdelivr.net/npm/vega@5", "vega-5.33.1/vega.min.js"),
        ("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite-5.23.0/vega-lite.min.js"),
        ("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed-6.29.0/vega-embed.min.js"),
    ]
)
#: GX's logo comes from S3 with a cache-busting query; the package ships the same image
_LOGO_URL = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/logo-long\.png(\?[^\"']*)?"
)
#: a resource the browser loads by itself (not a link the reader may click): script, stylesheet, image, icon
_EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|img|link)\b[^>]*?\b(?:src|href)=[\"'](https?://[^\"']+)[\"']", re.IGNORECASE
)
#: a link into the site's static/ folder: GX writes one level too few ../ on the validation pages (the favicon)
_STATIC_LINK = re.compile(r"""((?:src|href)=["'])(?:\./|(?:\.\./)+)static/""")
#: subresource-integrity and CORS attributes: a local copy loaded from file:// with crossorigin set is refused
_SRI = re.compile(r"\s+(?:integrity=\"[^\"]*\"|crossorigin=\"[^\"]*\")")


def make_offline(site_dir: str | Path) -> list[str]:
    """Rewrite a Data Docs site in place to load nothing from the network; the external resources left (none
    unless GX's templates changed), each once."""
    site_dir = Path(site_dir)
    static = site_dir / "static"
    shutil.copytree(ASSETS_DIR, static / "vendor", dirs_exist_ok=True)
    images = static / "images"
    images.mkdir(parents=True, exist_ok=True)
    logo = images / "logo-long.png"
    if not logo.exists():
        great_expectations = import_gx()

        shutil.copyfile(Path(great_expectations.__file__).parent / "render/view/static/images/logo-long.png", logo)
    left: dict[str, None] = {}
    for page in sorted(site_dir.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        to_static = Path(os.path.relpath(static, page.parent)).as_posix()
        rewritten = html
        for url, local in CDN_ASSETS.items():
            rewritten = rewritten.replace(f'"{url}"', f'"{to_static}/vendor/{local}"')
        rewritten = _LOGO_URL.sub(f"{to_static}/images/logo-long.png", rewritten)
        rewritten = _STATIC_LINK.sub(lambda match, to=to_static: f"{match.group(1)}{to}/", rewritten)
        rewritten = _SRI.sub("", rewritten)
        left.update(dict.fromkeys(_EXTERNAL_RESOURCE.findall(rewritten)))
        if rewritten != html:
            page.write_text(rewritten, encoding="utf-8")
    return list(left)


class GxRunner:
    def __init__(self, docs_dir: str | Path | None = None):
        gx = import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.docs_dir = Path(docs_dir).resolve() if docs_dir else None
        if self.docs_dir is not None:
            self.context.add_data_docs_site(
                site_name=SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.docs_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self.source = self.context.data_sources.add_pandas("readout")
        self.validated = 0
        self._definitions: dict[str, Any] = {}
        self._suites: dict[str, Any] = {}

    def run(self, spec: SuiteSpec, frame: pd.DataFrame, parameters: dict[str, Any] | None = None):
        """Validate ``frame`` against the suite; COMPLETE results (row indices of every failing row). A suite
        validated batch by batch (a landing zone's files) is added to the context once and run per batch."""
        definition = self._definitions.get(spec.name)
        if definition is None:
            gx = self._gx
            suite = self._suite(spec)
            asset = self.source.add_dataframe_asset(name=spec.name)
            batch_definition = asset.add_batch_definition_whole_dataframe("whole table")
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
            )
            self._definitions[spec.name] = definition
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=parameters or {},
                result_format={"result_format": "COMPLETE"},
            )
        self.validated += 1
        return result

    def _suite(self, spec: SuiteSpec):
        """The suite in the context (added once: the Data Docs render a page for each suite there)."""
        suite = self._suites.get(spec.name)
        if suite is None:
            suite = self._suites[spec.name] = self.context.suites.add(spec.build())
        return suite

    def store(self, spec: SuiteSpec, result: engine.SuiteResult, rows: int) -> None:
        """Keep a fast-engine result (engine.py) in the context's store, as GX's result objects, for the Data
        Docs: each expectation's configuration from the suite, its counts and partial lists from the result."""
        from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        suite = self._suite(spec)
        configs = {(e.meta or {}).get("rule"): e.configuration for e in suite.expectations}
        results = [
            ExpectationValidationResult(
                success=r.success,
                expectation_config=configs[r.expectation_config.meta["rule"]],
                result={k: v for k, v in r.result.items() if k != "unexpected_index_list"},
                exception_info=r.exception_info,
            )
            for r in result.results
        ]
        passed = sum(r.success for r in results)
        run_id = RunIdentifier(run_name=f"readout {engine.NAME}", run_time=dt.datetime.now(dt.UTC))
        batch = f"{spec.name}-{self.validated}-{rows}rows"
        validation = ExpectationSuiteValidationResult(
            success=passed == len(results),
            results=results,
            suite_name=spec.name,
            statistics={
                "evaluated_expectations": len(results),
                "successful_expectations": passed,
                "unsuccessful_expectations": len(results) - passed,
                "success_percent": 100.0 * passed / len(results) if results else None,
            },
            meta={"run_id": run_id, "validation_time": run_id.run_time, "engine": engine.NAME, "rows": rows},
            batch_id=batch,
        )
        suite_id = ExpectationSuiteIdentifier(name=spec.name)
        self.context.validation_results_store.store_validation_results(
            suite_validation_result=validation,
            suite_validation_result_identifier=ValidationResultIdentifier(
                expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch
            ),
            expectation_suite_identifier=suite_id,
        )
        self.validated += 1

    def build_docs(self) -> Path | None:
        """Render every validation of this run; returns the site's index.html (None without a docs folder)."""
        if self.docs_dir is None or not self.validated:
            return None
        self.docs_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(site_names=[SITE])
        left = make_offline(self.docs_dir)
        if left:
            print(
                f"warning: the Data Docs in {self.docs_dir} still load {len(left)} resource(s) from the network "
                f"({', '.join(left[:3])}): add them to readout.contracts.docs.CDN_ASSETS",
                file=sys.stderr,
            )
        return self.docs_dir / "index.html"


ENGINES = ("fast", "gx")


class Runner:
    """Runs a suite on a frame: the fast engine (engine.py) where it mirrors every expectation on the frame's
    columns, GX otherwise (or everywhere with ``engine="gx"``); GX is started on first need. ``fallbacks``: the
    suites GX ran, and why. With a docs folder, the fast engine's results are kept (without their row lists)
    and given to GX for the Data Docs at the end."""

    def __init__(self, docs_dir: str | Path | None = None, engine_name: str = "fast"):
        if engine_name not in ENGINES:
            raise ValueError(f"unknown contract engine {engine_name!r} (--engine, READOUT_CONTRACT_ENGINE: fast or gx)")
        self.docs_dir = docs_dir
        self.engine = engine_name
        self.fallbacks: dict[str, str] = {}
        self.runs = {name: 0 for name in ENGINES}
        self._gx: GxRunner | None = None
        self._starting: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._kept: list[tuple[SuiteSpec, engine.SuiteResult, int]] = []

    @property
    def gx(self) -> GxRunner:
        self.close()
        if self._failed is not None:
            raise self._failed
        if self._gx is None:
            self._gx = GxRunner(self.docs_dir)
        return self._gx

    def start(self) -> None:
        """Start GX if this run needs it whatever the data (once): now for the GX engine; for the fast engine's
        Data Docs, in a thread while the data is validated (importing GX takes seconds of Python; the caller starts
        it beside work that is DuckDB's, outside the GIL), joined when GX is first needed."""
        if self.engine == "gx":
            _ = self.gx
        elif self.docs_dir is not None and self._gx is None and self._starting is None:

            def start() -> None:
                try:
                    self._gx = GxRunner(self.docs_dir)
                except BaseException as exc:  # noqa: BLE001 - raised again where GX is first needed
                    self._failed = exc

            self._starting = threading.Thread(target=start, name="readout-start-gx", daemon=True)
            self._starting.start()

    def close(self) -> None:
        """Wait for GX's start in its thread, if any (a run that stops early must not exit while it imports)."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    def run(self, spec: SuiteSpec, frame: pd.DataFrame, parameters: dict[str, Any] | None = None):
        if self.engine == "fast" and not parameters:
            try:
                result = engine.run(spec, frame)
            except engine.Unsupported as why:
                self.fallbacks.setdefault(spec.name, str(why))
            else:
                self.runs["fast"] += 1
                if self.docs_dir is not None:
                    self._kept.append((spec, engine.without_row_lists(result), len(frame)))
                return result
        self.runs["gx"] += 1
        return self.gx.run(spec, frame, parameters)

    def build_docs(self) -> Path | None:
        if self.docs_dir is None or not any(self.runs.values()):
            return None
        for spec, result, rows in self._kept:
            self.gx.store(spec, result, rows)
        self._kept.clear()
        return self.gx.build_docs()
