"""Great Expectations imports PySpark when it is installed, and PySpark's Spark Connect package ends a process
whose __main__ has no file (``python -c``, pytest-xdist workers) with exit 0 when grpc is absent: a silent
success. readout.contracts.gx.import_gx disarms that; this runs it where it would bite."""

from __future__ import annotations

import subprocess
import sys


def test_gx_imports_and_the_process_goes_on_under_python_c():
    code = (
        "import sys\n"
        "from readout.contracts.gx import import_gx\n"
        "gx = import_gx()\n"
        "assert not hasattr(sys.modules['__main__'], '__file__')\n"
        "print('went on', gx.ExpectationSuite.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "went on ExpectationSuite", (result.stdout, result.stderr[-2000:])
