"""Import Great Expectations safely beside PySpark.

Great Expectations imports PySpark whenever it is installed (the Spark target's lock installs it), down to
``pyspark.sql.connect``. That package takes a process whose ``__main__`` module has neither a spec nor a file
(``python -c``, pytest-xdist's workers, some embedded interpreters) for a doctest run and, without the optional
Spark Connect packages (grpc), ends the process with ``sys.exit(0)``: silently, and with success. Importing GX
through :func:`import_gx` gives ``__main__`` a placeholder file name for the duration of that first import, so
PySpark raises its ImportError instead, which GX catches (it then treats Spark Connect as absent, as it is)."""

from __future__ import annotations

import sys
from types import ModuleType


def import_gx() -> ModuleType:
    """The ``great_expectations`` module, imported once with PySpark's doctest guard disarmed (see above)."""
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    main = sys.modules.get("__main__")
    disarm = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and not hasattr(main, "__file__")
        and not hasattr(sys, "ps1")
    )
    if disarm:
        main.__file__ = "<readout>"
    try:
        import great_expectations
    finally:
        if disarm:
            del main.__file__
    return great_expectations
