"""``readout restate``: replace a frozen readout with today's numbers (the command lives in readout.freeze)."""

from readout.freeze import add_restate_arguments as add_arguments
from readout.freeze import run_restate as run

__all__ = ["add_arguments", "run"]
