"""readout: decision-grade A/B readouts from raw experiment telemetry (pure-Python core)."""

__version__ = "0.1.0"
