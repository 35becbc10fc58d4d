"""Where things live by default; every default can be overridden by an environment variable.

The defaults are relative to the project (the folder holding ``dbt_project.yml``): run from there, they are the
relative paths below; run from another folder (``readout report`` in a notebook's folder), they resolve against
the project this package was installed from (``pip install -e python``), so the warehouse that exists is found.
An explicit path or an environment variable is taken as given (relative to the current folder)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "warehouse/readout.duckdb"
#: the project this package belongs to when installed editable from its python/ folder (None otherwise)
PACKAGE_PROJECT = Path(__file__).resolve().parents[2]


def project_root() -> Path | None:
    """The project folder the defaults are relative to: the current folder when it is one, else the project
    the package was installed from, else None (the defaults stay relative to the current folder)."""
    if Path("dbt_project.yml").is_file():
        return None
    return PACKAGE_PROJECT if (PACKAGE_PROJECT / "dbt_project.yml").is_file() else None


def _default(relative: str) -> Path:
    root = project_root()
    return root / relative if root is not None else Path(relative)


def landing_path(explicit: str | os.PathLike | None = None) -> Path:
    """The landing zone: ``explicit``, else ``$READOUT_LANDING_PATH``, else ``data/landing`` of the project."""
    return Path(explicit or os.environ.get("READOUT_LANDING_PATH") or _default(DEFAULT_LANDING))


def warehouse_path(explicit: str | os.PathLike | None = None) -> Path:
    """The DuckDB warehouse file: ``explicit``, else ``$READOUT_DUCKDB_PATH``, else the project's default."""
    return Path(explicit or os.environ.get("READOUT_DUCKDB_PATH") or _default(DEFAULT_WAREHOUSE))
