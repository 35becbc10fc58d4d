"""Running generated suites on pandas DataFrames with GX Core 1.x, and writing Data Docs (HTML).

One ephemeral GX context per ``readout contracts validate`` run: a pandas data source, one DataFrame
asset and validation definition per suite. Validation results are kept in the context's in-memory
store and, when a docs folder is given, rendered once at the end into a filesystem Data Docs site
(``build/gx_docs/index.html`` by default; never committed).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from .suites import SuiteSpec

SITE = "readout"
DEFAULT_DOCS_DIR = "build/gx_docs"


class GxRunner:
    def __init__(self, docs_dir: str | Path | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.docs_dir = Path(docs_dir).resolve() if docs_dir else None
        if self.docs_dir is not None:
            self.context.add_data_docs_site(site_name=SITE, site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        self.source = self.context.data_sources.add_pandas("readout")
        self.validated = 0
        self._definitions: dict[str, Any] = {}

    def run(self, spec: SuiteSpec, frame: pd.DataFrame, parameters: dict[str, Any] | None = None):
        """Validate ``frame`` against the suite; COMPLETE results (row indices of every failing row). A suite
        validated batch by batch (a landing zone's files) is added to the context once and run per batch."""
        definition = self._definitions.get(spec.name)
        if definition is None:
            gx = self._gx
            suite = self.context.suites.add(spec.build())
            asset = self.source.add_dataframe_asset(name=spec.name)
            batch_definition = asset.add_batch_definition_whole_dataframe("whole table")
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite))
            self._definitions[spec.name] = definition
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = definition.run(batch_parameters={"dataframe": frame},
                                    expectation_parameters=parameters or {},
                                    result_format={"result_format": "COMPLETE"})
        self.validated += 1
        return result

    def build_docs(self) -> Path | None:
        """Render every validation of this run; returns the site's index.html (None without a docs folder)."""
        if self.docs_dir is None or not self.validated:
            return None
        self.docs_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(site_names=[SITE])
        return self.docs_dir / "index.html"
