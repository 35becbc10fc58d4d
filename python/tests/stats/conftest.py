"""Test setup for readout.stats: make ``readout`` importable when the suite runs without an
installed package (the package lives in ``python/``)."""

from __future__ import annotations

import sys
from pathlib import Path

_PYTHON_DIR = Path(__file__).resolve().parents[2]
try:  # pragma: no cover - depends on how the suite is launched
    import readout.stats  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover
    sys.path.insert(0, str(_PYTHON_DIR))
