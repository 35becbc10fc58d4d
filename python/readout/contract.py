"""The raw event contract (the instrumentation contract producers follow), as data.

This module is the single machine-readable statement of the landing-zone layout; the prose version
lives in ``contracts/instrumentation_contract.md``. The simulator writes to it, the Great
Expectations suites check against it, and staging maps every schema version onto one shape.
"""

from __future__ import annotations

CONTRACT_VERSION = 1

#: Landing-zone sub-folders.
EVENTS_DIR = "events"
EXPERIMENTS_DIR = "experiments"
MANIFEST_FILE = "manifest.json"

#: Events, schema version 1: column -> Arrow/Parquet type name.
EVENT_COLUMNS_V1: dict[str, str] = {
    "event_id": "string",
    "event_name": "string",
    "event_at": "string",  # ISO-8601 UTC text, e.g. 2026-01-15T09:30:00.000Z (producer clock)
    "received_at": "string",  # ISO-8601 UTC text (collector clock; always well formed)
    "schema_version": "int32",
    "source_system": "string",
    "anonymous_id": "string",
    "user_id": "string",
    "session_id": "string",
    "experiment_id": "string",
    "experiment_version": "int32",
    "variant_id": "string",
    "assignment_mechanism": "string",
    "consent_granted": "bool",
    "revenue": "double",
    "currency": "string",
    "properties": "string",  # JSON object as text
}

#: Schema version 2 renames two fields; everything else is unchanged.
EVENT_RENAMES_V2: dict[str, str] = {
    "anonymous_id": "device_id",
    "revenue": "revenue_amount",
}
EVENT_COLUMNS_V2: dict[str, str] = {EVENT_RENAMES_V2.get(name, name): type_ for name, type_ in EVENT_COLUMNS_V1.items()}
EVENT_COLUMNS_BY_VERSION: dict[int, dict[str, str]] = {1: EVENT_COLUMNS_V1, 2: EVENT_COLUMNS_V2}

EXPOSURE_EVENT = "experiment_exposed"
ASSIGNMENT_EVENT = "experiment_assigned"
OUTCOME_EVENTS = ("session_start", "signup", "purchase")
EVENT_NAMES = (ASSIGNMENT_EVENT, EXPOSURE_EVENT, *OUTCOME_EVENTS)
SOURCE_SYSTEMS = ("web", "ios", "android", "server")
ASSIGNMENT_MECHANISMS = ("hash", "override")
#: ``properties.traffic_type``; a missing key means human traffic.
TRAFFIC_TYPES = ("human", "bot", "internal")

#: Experiments export: one row per experiment version x variant.
EXPERIMENT_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "name": "string",
    "status": "string",
    "started_at": "timestamp[us]",  # UTC, no zone
    "ended_at": "timestamp[us]",  # UTC, no zone; null while running
    "unit_type": "string",
    "variant_id": "string",
    "is_control": "bool",
    "allocation_weight": "double",
}
EXPERIMENT_STATUSES = ("draft", "running", "ramping", "paused", "concluded")
UNIT_TYPES = ("anonymous_id", "user_id")

#: Imported unit-level exports (`readout import`): landing sub-folders and their columns.
IMPORTS_DIR = "imports"
IMPORT_UNIT_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "unit_id": "string",
    "assigned_variant_id": "string",
    "exposed_variant_id": "string",
    "observed_at": "timestamp[us]",  # UTC, no zone; null when the export has no timestamp
    "source_row": "int64",  # 1-based data row in the exported file
}
IMPORT_OUTCOME_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "unit_id": "string",
    "source_row": "int64",
    "metric_id": "string",
    "metric_value": "double",
}
IMPORT_METRIC_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "metric_id": "string",
    "metric_type": "string",  # proportion | mean | ratio
    "direction": "string",
    "role": "string",
    "description": "string",
}
#: ``readout import``: the denominators of ratio and conditional outcomes, one row per source row x such outcome.
IMPORT_DENOMINATOR_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "unit_id": "string",
    "source_row": "int64",
    "metric_id": "string",
    "denominator_value": "double",
}
#: ``readout import``: the mapping's analysis settings, long (one row per setting; metric_id null for the
#: experiment's own settings): alpha, planned_sample_size, decision_estimator, planned_split,
#: several_variants (experiment) and non_inferiority_margin (metric). dbt: int_experiment_settings.
IMPORT_SETTING_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "metric_id": "string",
    "setting": "string",
    "value_double": "double",
    "value_text": "string",
}

#: ``readout import`` (a mapping's ``segments:``): unit attributes to cut the readout by, one row per unit x attribute.
#: dbt: stg_landing__import_unit_attributes, then segments (int_experiment_unit_segments).
IMPORT_UNIT_ATTRIBUTE_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "unit_id": "string",
    "attribute_name": "string",
    "attribute_value": "string",
}

#: ``readout import`` of a summary-statistics export (mapping ``kind: summary``): per-arm aggregates, one row per
#: experiment x checkpoint x variant x metric. checkpoint_index is the checkpoint's 1-based rank in its experiment
#: (1 without a checkpoint column), checkpoint_label its text in the file, checkpoint_at its time (null for an
#: ordinal); row_reason says why a row cannot be analysed (zero or missing count, missing mean or variance).
#: dbt: stg_landing__import_summaries, int_import_summary_stats, fct_variant_metric_stats (last checkpoint).
IMPORT_SUMMARY_COLUMNS: dict[str, str] = {
    "experiment_id": "string",
    "experiment_version": "int32",
    "checkpoint_index": "int32",
    "checkpoint_label": "string",
    "checkpoint_at": "timestamp[us]",  # UTC, no zone
    "variant_id": "string",
    "metric_id": "string",
    "n_units": "int64",
    "metric_sum": "double",
    "metric_sum_of_squares": "double",
    "row_reason": "string",
    "source_row": "int64",  # 1-based data row in the exported file
}

#: Every landing table: folder (relative to the landing zone) -> columns of its first schema version.
LANDING_TABLES: dict[str, dict[str, str]] = {
    EVENTS_DIR: EVENT_COLUMNS_V1,
    EXPERIMENTS_DIR: EXPERIMENT_COLUMNS,
    f"{IMPORTS_DIR}/units": IMPORT_UNIT_COLUMNS,
    f"{IMPORTS_DIR}/outcomes": IMPORT_OUTCOME_COLUMNS,
    f"{IMPORTS_DIR}/metrics": IMPORT_METRIC_COLUMNS,
    f"{IMPORTS_DIR}/settings": IMPORT_SETTING_COLUMNS,
    f"{IMPORTS_DIR}/denominators": IMPORT_DENOMINATOR_COLUMNS,
    f"{IMPORTS_DIR}/summaries": IMPORT_SUMMARY_COLUMNS,
    f"{IMPORTS_DIR}/unit_attributes": IMPORT_UNIT_ATTRIBUTE_COLUMNS,
}

#: Every landing table: folder -> {schema version: columns}. A file is checked against the version it matches.
LANDING_TABLE_VERSIONS: dict[str, dict[int, dict[str, str]]] = {
    folder: (EVENT_COLUMNS_BY_VERSION if folder == EVENTS_DIR else {1: columns})
    for folder, columns in LANDING_TABLES.items()
}
