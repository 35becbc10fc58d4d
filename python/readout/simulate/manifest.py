"""manifest.json: arguments, volumes, planted faults with exact counts, and the ground truth.

Deterministic: no wall-clock time, keys in a fixed order, floats as Python's shortest repr.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__, contract
from . import config as C
from .landing import GENERATOR
from .strings import iso_strings
from .truth import ground_truth


def iso(ms: int | None) -> str | None:
    return None if ms is None else iso_strings(np.array([ms], dtype=np.int64))[0].as_py()


_REALISM = {
    "assigned_never_exposed": (
        "units",
        "assigned units (accepted assignment) with no accepted exposure row, "
        "not counting variant_logging_loss units; by_variant splits them",
    ),
    "consent_denied": ("units", "anonymous ids whose rows carry consent_granted = false (all their rows)"),
    "late_mobile_events": (
        "rows",
        "rows received more than 24 h after a parseable event_at (only ios and "
        "android rows are ever that late); over_3_days: more than 72 h",
    ),
    "override_assignments": (
        "units",
        "assigned units whose assignment_mechanism is override (human allow-list "
        "units, variant drawn with the planned weights, plus internal testers)",
    ),
}


def _cells(counts: dict, prefix: str) -> list[dict]:
    out = []
    for key in sorted(k for k in counts if k.startswith(prefix + "|")):
        _, experiment_id, version, variant_id = key.split("|")
        out.append(
            {
                "experiment_id": experiment_id,
                "experiment_version": int(version),
                "variant_id": variant_id,
                "units": counts[key],
            }
        )
    return out


def _fault_entry(spec: C.FaultSpec, enabled: bool, counts: dict) -> dict:
    entry: dict = {"enabled": enabled, "unit": spec.unit, "description": spec.description}
    if spec.name == "unknown_ids" or spec.name == "malformed_rows":
        sub = {name: counts.get(f"{spec.name}.{name}", 0) for name in spec.sub_counts}
        entry["count"] = sum(sub.values())
        entry["sub_counts"] = sub
    elif spec.name == "bot_traffic":
        sub = {name: counts.get(f"bot_traffic.{name}", 0) for name in spec.sub_counts}
        entry["count"] = sub["bot_units"] + sub["internal_units"]
        entry["sub_counts"] = sub
    else:
        entry["count"] = counts.get(spec.name, 0)
    if spec.biasing:
        entry["experiment_id"] = C.FAULTED_EXPERIMENT
    if spec.name == "variant_logging_loss":
        experiment_id, version, variant_id, source_system = C.LOGGING_LOSS_TARGET
        entry.update(
            {
                "experiment_version": version,
                "variant_id": variant_id,
                "source_system": source_system,
                "share": C.LOGGING_LOSS_SHARE,
                "by_variant": _cells(counts, "variant_logging_loss"),
            }
        )
    return entry


def _experiments() -> list[dict]:
    out = []
    for experiment in C.EXPERIMENTS:
        out.append(
            {
                "experiment_id": experiment.experiment_id,
                "name": experiment.name,
                "description": experiment.description,
                "unit_type": experiment.unit_type,
                "faulted": experiment.faulted,
                "biasing_faults": [s.name for s in C.FAULTS if s.biasing] if experiment.faulted else [],
                "versions": [
                    {
                        "experiment_version": version.version,
                        "status": version.status,
                        "started_at": iso(version.started_at),
                        "enrollment_end": iso(version.enrollment_end),
                        "ended_at": iso(version.ended_at),
                        "variants": [
                            {"variant_id": a.variant_id, "is_control": a.is_control, "allocation_weight": a.weight}
                            for a in version.arms
                        ],
                    }
                    for version in experiment.versions
                ],
            }
        )
    return out


def build(
    *,
    seed: int,
    arguments: dict,
    enabled: frozenset[str],
    tally: dict,
    files: list[dict],
    experiment_rows: int,
    human_units: int,
    blocks: int,
    appends: list[dict] | None = None,
) -> dict:
    """Everything but ``files``, ``counts.event_files`` and ``appends`` depends only on the arguments, so a
    landing zone grown by appends has the manifest a single run at its final as-of would write."""
    counts, bounds = tally.get("counts", {}), tally.get("bounds", {})
    event_files = [f for f in files if f["path"].startswith(contract.EVENTS_DIR + "/")]
    return {
        "generator": GENERATOR,
        "generator_version": __version__,
        "contract_version": contract.CONTRACT_VERSION,
        "seed": seed,
        "arguments": arguments,
        "timeline": {
            "data_start": iso(C.DATA_START),
            "experiments_start": iso(C.EXPERIMENTS_START),
            "enrollment_end": iso(C.ENROLLMENT_END),
            "experiments_end": iso(C.EXPERIMENTS_END),
            "data_end": iso(C.DATA_END),
            "schema_v2_from": iso(C.SCHEMA_V2_FROM) if "mixed_schema_versions" in enabled else None,
        },
        "date_range": {
            "description": "event_at over rows with a parseable event_at not in the future of received_at; "
            "received_at over all rows",
            **{
                key: iso(bounds.get(key))
                for key in ("event_at_min", "event_at_max", "received_at_min", "received_at_max")
            },
        },
        "counts": {
            "event_rows": counts.get("rows", 0),
            "experiment_rows": experiment_rows,
            "event_files": len(event_files),
            "rows_by_schema_version": {
                str(v): counts.get(f"rows_by_schema_version.{v}", 0) for v in contract.EVENT_COLUMNS_BY_VERSION
            },
            "rows_by_source_system": {s: counts.get(f"rows_by_source_system.{s}", 0) for s in C.SOURCE_SYSTEMS},
            "rows_by_event_name": {e: counts.get(f"rows_by_event_name.{e}", 0) for e in contract.EVENT_NAMES},
            "human_units_generated": human_units,
            "blocks": blocks,
        },
        "files": files,
        "appends": appends or [],
        "experiments": _experiments(),
        "faults": {spec.name: _fault_entry(spec, spec.name in enabled, counts) for spec in C.FAULTS},
        "realism": {
            name: {
                "count": counts.get(name, 0),
                "unit": unit,
                "description": description,
                **(
                    {"sub_counts": {"over_3_days": counts.get("late_mobile_events.over_3_days", 0)}}
                    if name == "late_mobile_events"
                    else {}
                ),
                **(
                    {"by_variant": _cells(counts, "assigned_never_exposed")} if name == "assigned_never_exposed" else {}
                ),
            }
            for name, (unit, description) in _REALISM.items()
        },
        "population": {
            "description": (
                "clean_exposed_units: per arm, human units planted by no fault, with consent, with an "
                "accepted assignment and exposure row written: the exposed population the truth is "
                "about (what a correct pipeline keeps as eligible)"
            ),
            "clean_exposed_units": _cells(counts, "clean_exposed_units"),
        },
        "truth": ground_truth(counts=counts),
    }


def write(manifest: dict, path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=2) + "\n")
