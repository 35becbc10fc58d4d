"""Where things live by default; every default can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "warehouse/readout.duckdb"


def landing_path(explicit: str | os.PathLike | None = None) -> Path:
    """The landing zone: ``explicit``, else ``$READOUT_LANDING_PATH``, else ``data/landing``."""
    return Path(explicit or os.environ.get("READOUT_LANDING_PATH") or DEFAULT_LANDING)


def warehouse_path(explicit: str | os.PathLike | None = None) -> Path:
    """The DuckDB warehouse file: ``explicit``, else ``$READOUT_DUCKDB_PATH``, else the default."""
    return Path(explicit or os.environ.get("READOUT_DUCKDB_PATH") or DEFAULT_WAREHOUSE)
