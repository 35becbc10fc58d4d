"""The ``readout`` entry point: one subcommand per job, and only that job's module imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from readout import cli


def test_a_subcommand_imports_its_own_module_only():
    """``readout simulate`` must not pay for the statistics (scipy) or the report: a fresh interpreter, the
    simulate parser built, then the modules loaded are checked."""
    code = (
        "import sys; from readout import cli; cli.build_parser('simulate').parse_args(['simulate', '--quiet']); "
        "print(','.join(m for m in ('readout.simulate', 'readout.report', 'readout.build', 'scipy.stats') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "readout.simulate"


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in cli.SUBCOMMANDS)


def test_an_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["nope"])
    assert exited.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
