"""readout: decision-grade A/B readouts from raw experiment telemetry (pure-Python core)."""

import warnings

__version__ = "0.1.0"

# Great Expectations imports PySpark whenever it is installed (the Spark target's lock); PySpark 4.3 then warns on
# every import that it does not yet fully support pandas 3, which would break the one-line errors of every command.
# The Spark path is checked equal to DuckDB's by tests/integration/test_spark_equality.py instead.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
