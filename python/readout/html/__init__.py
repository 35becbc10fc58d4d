"""`readout report --html DIR`: the readout as a self-contained static site (no network, no server, no JavaScript).

An index (every experiment version: status and reasons, verdict, sample-ratio verdict, the primary metric's lift
and interval, its chance to beat control and detectable effect, when its data is complete to) and one page per
experiment version (plain-language summary, forest plot, exposure funnel, conversion funnels, exploratory
segments, detectable effect and time to go, the Bayesian view, sample-ratio and data-quality panel, the primary
metric over the history, what changed since the last refresh, lineage). Data: ``data.py``; charts: ``plots.py``;
pages: ``site.py`` and ``templates/``.
"""

from __future__ import annotations

from pathlib import Path

from readout.html.data import Site, load
from readout.html.site import write_site

__all__ = ["Site", "load", "render_html", "write_site"]


def render_html(warehouse: Path, out: Path, population: str = "exposed", experiment: str | None = None) -> list[Path]:
    """Read the warehouse and write the site into ``out``; the pages written, index first. A missing or unbuilt
    warehouse raises FileNotFoundError or ValueError with a one-line message (the CLI exits 2)."""
    return write_site(load(warehouse, population, experiment), Path(out))
