"""From an export table and its mapping to the landing tables of ``readout import``.

Every cell of every mapped column is checked before anything is written; a problem names the
column, the offending value, the first (1-based) data row where it occurs and how many rows share it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from readout.cli import UsageError
from readout.importer.mapping import BOOLEAN_HINT, Mapping, Outcome, Problems, VariantColumn
from readout.importer.read import Export, as_text

MAX_VALUES_LISTED = 5
BINARY_TRUE = ("1", "true", "1.0")
BINARY_FALSE = ("0", "false", "0.0")


@dataclass
class ImportData:
    """What one import writes, and the counts it reports."""

    mapping: Mapping
    units: pa.Table
    outcomes: pa.Table
    counts: dict = field(default_factory=dict)
    started_at: object = None  # pa.Scalar timestamp[us] or None
    ended_at: object = None
    denominators: pa.Table | None = None  # ratio and conditional outcomes only
    unit_attributes: pa.Table | None = None  # the mapping's segments: one row per unit x attribute


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


#: The file row (1-based) of each table row while one import is checked; None: row i is row i + 1 (no where filter).
_FILE_ROWS: ContextVar[np.ndarray | None] = ContextVar("_FILE_ROWS", default=None)


def _file_rows(positions: np.ndarray) -> np.ndarray:
    """1-based rows in the file of 0-based table positions (a ``where:`` filter leaves gaps)."""
    rows = _FILE_ROWS.get()
    return np.asarray(positions, dtype=np.int64) + 1 if rows is None else rows[positions]


def _first_row(mask: pa.ChunkedArray | pa.Array) -> int:
    """1-based data row in the file of the first true in ``mask`` (nulls count as false)."""
    mask = pc.fill_null(mask, False)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return int(_file_rows(np.array([pc.indices_nonzero(mask)[0].as_py()]))[0])


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def _describe_bad_values(text: pa.ChunkedArray, bad: pa.ChunkedArray) -> list[tuple[str, int, int]]:
    """(value, first row, rows) of each distinct offending value, in order of first occurrence."""
    mask = pc.fill_null(bad, False)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    positions = pc.indices_nonzero(mask)
    values = pc.take(text, positions).to_pandas()
    rows = _file_rows(positions.to_numpy())
    frame = pd.DataFrame({"value": values.to_numpy(dtype=object), "row": rows})
    grouped = frame.groupby("value", sort=False, dropna=False)["row"].agg(["min", "size"]).sort_values("min")
    return [(str(value), int(r["min"]), int(r["size"])) for value, r in grouped.iterrows()]


def _list_values(found: list[tuple[str, int, int]]) -> str:
    shown = [f"{value!r} (first at row {row}, {_rows(n)})" for value, row, n in found[:MAX_VALUES_LISTED]]
    more = len(found) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _null_check(text: pa.ChunkedArray, what: str, column: str, problems: Problems) -> bool:
    nulls = pc.is_null(text)
    n = _count(nulls)
    if n:
        problems.add(f"{what} column {column!r} is empty (null) at row {_first_row(nulls)} ({_rows(n)} in all)")
    return n == 0


def _variants(
    table: pa.Table, var: VariantColumn, key: str, mapping: Mapping, problems: Problems, *, allow_null: bool
) -> pa.ChunkedArray | None:
    """The variant_id of every row (null where the cell is empty and ``allow_null``)."""
    text = as_text(table[var.column])
    if not allow_null and not _null_check(text, key, var.column, problems):
        return None
    if var.values is not None:
        keys = list(var.values)
        targets = [var.values[k] for k in keys]
        # YAML turns unquoted true/false keys into booleans; match them whatever the case in the file.
        if any(k in ("true", "false") for k in keys):
            lower = pc.utf8_lower(text)
            text = pc.if_else(pc.is_in(lower, value_set=pa.array(["true", "false"])), lower, text)
        index = pc.index_in(text, value_set=pa.array(keys, pa.string()))
        unknown = pc.and_(pc.is_valid(text), pc.is_null(index))
        if _count(unknown):
            found = _describe_bad_values(text, unknown)
            yaml_booleans = {"yes", "no", "on", "off", "y", "n"}
            hint = (
                f" ({BOOLEAN_HINT} in {key}.values)"
                if any(k in ("true", "false") for k in keys) and any(v.lower() in yaml_booleans for v, _, _ in found)
                else ""
            )
            problems.add(
                f"column {var.column!r} ({key}) has values that {key}.values does not map: {_list_values(found)}; "
                f"mapped values: {', '.join(map(repr, keys))}{hint}"
            )
            return None
        return pc.take(pa.array(targets, pa.string()), index)
    unknown = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=pa.array(mapping.variants, pa.string()))))
    if _count(unknown):
        found = _describe_bad_values(text, unknown)
        problems.add(
            f"column {var.column!r} ({key}) has values that are not variants of split "
            f"({', '.join(mapping.variants)}): {_list_values(found)}; add {key}.values to map them"
        )
        return None
    return text


def _timestamps(table: pa.Table, column: str, problems: Problems) -> pa.ChunkedArray | None:
    """UTC timestamps without zone (microseconds); text is parsed as ISO-8601, naive = UTC."""
    raw = table[column]
    type_ = raw.type
    if pa.types.is_timestamp(type_):
        # Arrow stores zoned timestamps as UTC instants: dropping the zone keeps the UTC wall time.
        return raw.cast(pa.timestamp(type_.unit)).cast(pa.timestamp("us"), safe=False)
    if pa.types.is_date(type_):
        return raw.cast(pa.timestamp("us"))
    if not (pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_dictionary(type_)):
        problems.add(f"timestamp column {column!r} has type {type_}; expected timestamps or ISO-8601 text")
        return None
    text = as_text(raw)
    series = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    bad = series.notna().to_numpy() & parsed.isna().to_numpy()
    if bad.any():
        found = _describe_bad_values(text, pa.chunked_array([pa.array(bad)]))
        problems.add(
            f"timestamp column {column!r} has values that are not ISO-8601 date-times "
            f"(e.g. 2017-01-21 22:11:48 or 2017-01-21T22:11:48Z): {_list_values(found)}"
        )
        return None
    values = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return pa.chunked_array([pa.array(values, type=pa.timestamp("us"), from_pandas=True)])


def _outcome_values(table: pa.Table, outcome: Outcome, problems: Problems) -> np.ndarray | None:
    """float64 per row, NaN where the cell is empty."""
    raw = table[outcome.column]
    type_ = raw.type
    what = f"{outcome.type} outcome {outcome.metric_id!r}: column {outcome.column!r}"
    if (
        pa.types.is_boolean(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_decimal(type_)
    ):
        values = raw.cast(pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
        text = as_text(raw)
        if outcome.type == "binary":
            bad = ~np.isnan(values) & (values != 0.0) & (values != 1.0)
            if bad.any():
                found = _describe_bad_values(text, pa.chunked_array([pa.array(bad)]))
                problems.add(f"{what} has values that are not 0/1/true/false: {_list_values(found)}")
                return None
        elif np.isinf(values).any():
            bad = np.isinf(values)
            found = _describe_bad_values(text, pa.chunked_array([pa.array(bad)]))
            problems.add(f"{what} has infinite values: {_list_values(found)}")
            return None
        return values
    text = as_text(raw)
    if outcome.type == "binary":
        lower = pc.utf8_lower(text)
        is_true = pc.is_in(lower, value_set=pa.array(BINARY_TRUE))
        is_false = pc.is_in(lower, value_set=pa.array(BINARY_FALSE))
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(is_true, is_false)))
        if _count(bad):
            found = _describe_bad_values(text, bad)
            problems.add(f"{what} has values that are not 0/1/true/false: {_list_values(found)}")
            return None
        values = np.where(pc.fill_null(is_true, False).to_numpy(zero_copy_only=False), 1.0, 0.0)
        values[pc.is_null(text).to_numpy(zero_copy_only=False)] = np.nan
        return values
    series = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    numbers = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    bad = series.notna().to_numpy() & ~np.isfinite(numbers)
    if bad.any():
        found = _describe_bad_values(text, pa.chunked_array([pa.array(bad)]))
        problems.add(f"{what} has values that are not numbers: {_list_values(found)}")
        return None
    return numbers


def _policy_keep(
    mapping: Mapping, unit_ids: pa.Array, assigned: pa.Array, exposed: pa.Array, observed: pa.Array
) -> np.ndarray:
    """Rows kept by the mapping's ``several_variants`` policy (``exclude`` keeps every row: dbt excludes the
    unit). ``drop_mismatched_rows`` drops the rows whose shown variant differs from the assigned one;
    ``first_row`` keeps only the first row (by time, then row) of each unit seen in more than one variant."""
    n = len(unit_ids)
    mismatched = pc.fill_null(pc.not_equal(assigned, exposed), False).to_numpy(zero_copy_only=False)
    if mapping.several_variants == "drop_mismatched_rows":
        return ~mismatched
    if mapping.several_variants != "first_row":
        return np.ones(n, dtype=bool)
    frame = pd.DataFrame(
        {
            "unit": unit_ids.to_numpy(zero_copy_only=False),
            "assigned": assigned.to_numpy(zero_copy_only=False),
            "exposed": exposed.to_numpy(zero_copy_only=False),
            "at": pd.Series(observed.to_numpy(zero_copy_only=False)).fillna(pd.Timestamp(0)).to_numpy(),
            "row": np.arange(n),
        }
    )
    seen = pd.concat(
        [
            frame[["unit", "assigned"]].set_axis(["unit", "v"], axis=1),
            frame[["unit", "exposed"]].set_axis(["unit", "v"], axis=1),
        ]
    ).dropna()
    several = seen.groupby("unit", sort=False)["v"].nunique()
    several = set(several[several > 1].index)
    if not several:
        return np.ones(n, dtype=bool)
    in_several = frame["unit"].isin(several).to_numpy()
    first = frame[in_several].sort_values(["at", "row"], kind="stable").drop_duplicates("unit")["row"].to_numpy()
    keep = ~in_several
    keep[first] = True
    return keep


def build_import(
    mapping: Mapping,
    export: Export,
    table: pa.Table,
    source_rows: np.ndarray | None = None,
    rows_read: int | None = None,
) -> ImportData:
    """Validate every mapped cell and build the units and outcomes tables (nothing is written).

    ``table`` holds the rows to import; ``source_rows`` their 1-based rows in the file (default 1..n) and
    ``rows_read`` the rows of the file (default n) when a ``where:`` filter removed some. A bad cell is
    reported at its row in the file."""
    token = _FILE_ROWS.set(None if source_rows is None else np.asarray(source_rows, dtype=np.int64))
    try:
        return _build_import(mapping, export, table, source_rows, rows_read)
    finally:
        _FILE_ROWS.reset(token)


def _build_import(
    mapping: Mapping, export: Export, table: pa.Table, source_rows: np.ndarray | None, rows_read: int | None
) -> ImportData:
    problems = Problems(export.label)
    n = table.num_rows
    rows_read = n if rows_read is None else rows_read
    if rows_read == 0:
        raise UsageError(f"{export.label} has a header but no data rows")
    if n == 0:
        raise UsageError(f"mapping {mapping.source}: where {mapping.where!r} keeps none of the {rows_read:,} rows")
    if source_rows is None:
        source_rows = np.arange(1, n + 1, dtype=np.int64)

    unit_text = as_text(table[mapping.unit_id])
    _null_check(unit_text, "unit_id", mapping.unit_id, problems)
    assigned = _variants(table, mapping.assigned_variant, "assigned_variant", mapping, problems, allow_null=False)
    exposed = None
    if mapping.exposed_variant is not None:
        exposed = _variants(table, mapping.exposed_variant, "exposed_variant", mapping, problems, allow_null=True)
    observed = _timestamps(table, mapping.timestamp, problems) if mapping.timestamp else None

    outcome_values: list[tuple[Outcome, np.ndarray]] = []
    denominators: dict[str, np.ndarray] = {}
    for outcome in mapping.outcomes:
        values = _outcome_values(table, outcome, problems)
        if values is None:
            continue
        if outcome.among is not None:
            # conditional metric: numerator = value where the condition holds (else 0), denominator = the condition
            # (0/1; an empty condition cell does not hold, as in SQL)
            condition = _outcome_values(table, replace(outcome, column=outcome.among, type="binary"), problems)
            if condition is None:
                continue
            condition = np.nan_to_num(condition, nan=0.0)
            values = np.where(condition == 1.0, values, 0.0)
            denominators[outcome.metric_id] = condition
        elif outcome.denominator is not None:
            denominator = _outcome_values(table, replace(outcome, column=outcome.denominator, type="numeric"), problems)
            if denominator is None:
                continue
            if (denominator < 0).any():
                first = int(_file_rows(np.flatnonzero(denominator < 0)[:1])[0])
                problems.add(
                    f"ratio outcome {outcome.metric_id!r}: denominator column {outcome.denominator!r} is "
                    f"negative at row {first}"
                )
                continue
            values = np.where(np.isnan(denominator), np.nan, values)  # an empty denominator empties the pair
            denominators[outcome.metric_id] = denominator
        missing = np.isnan(values)
        if missing.any() and outcome.on_null == "error":
            first = int(_file_rows(np.flatnonzero(missing)[:1])[0])
            problems.add(
                f"{outcome.type} outcome {outcome.metric_id!r}: column {outcome.column!r} is empty at row {first} "
                f"({_rows(int(missing.sum()))} in all); "
                "set on_null: skip or on_null: zero in the outcome to accept that"
            )
            continue
        outcome_values.append((outcome, values))
    problems.raise_if_any()
    assert assigned is not None

    unit_ids = unit_text.combine_chunks()
    assigned_arr = assigned.combine_chunks() if isinstance(assigned, pa.ChunkedArray) else assigned
    if exposed is None:
        exposed_arr = assigned_arr
    else:
        exposed_arr = exposed.combine_chunks() if isinstance(exposed, pa.ChunkedArray) else exposed
    observed_arr = observed.combine_chunks() if observed is not None else pa.nulls(n, pa.timestamp("us"))

    # The several-variants policy: drop rows before anything is counted or written (counted in the summary).
    rows_after_where = n
    policy_keep = _policy_keep(mapping, unit_ids, assigned_arr, exposed_arr, observed_arr)
    dropped = int(n - policy_keep.sum())
    dropped_units = len(pc.unique(pc.filter(unit_ids, pa.array(~policy_keep)))) if dropped else 0
    if dropped:
        mask = pa.array(policy_keep)
        unit_ids, assigned_arr = pc.filter(unit_ids, mask), pc.filter(assigned_arr, mask)
        exposed_arr, observed_arr = pc.filter(exposed_arr, mask), pc.filter(observed_arr, mask)
        source_rows = source_rows[policy_keep]
        outcome_values = [(outcome, values[policy_keep]) for outcome, values in outcome_values]
        n = int(policy_keep.sum())

    source_row = pa.array(np.asarray(source_rows, dtype=np.int64))
    experiment_id = pa.array(np.full(n, mapping.experiment_id, dtype=object), pa.string())
    version = pa.array(np.full(n, mapping.experiment_version, dtype=np.int32))
    units = pa.table(
        {
            "experiment_id": experiment_id,
            "experiment_version": version,
            "unit_id": unit_ids,
            "assigned_variant_id": assigned_arr,
            "exposed_variant_id": exposed_arr,
            "observed_at": observed_arr,
            "source_row": source_row,
        }
    )

    # Denominators of ratio and conditional outcomes, long, the same rows as their numerators.
    den_parts = []
    for outcome, values in outcome_values:
        if outcome.metric_id not in denominators:
            continue
        den = denominators[outcome.metric_id][policy_keep] if dropped else denominators[outcome.metric_id]
        missing = np.isnan(values)
        if outcome.on_null == "zero":
            den = np.where(np.isnan(den), 0.0, den)
        rows_kept = ~missing if outcome.on_null == "skip" else np.ones(n, dtype=bool)
        index = pa.array(np.flatnonzero(rows_kept))
        den_parts.append(
            pa.table(
                {
                    "experiment_id": pa.array(np.full(len(index), mapping.experiment_id, dtype=object), pa.string()),
                    "experiment_version": pa.array(np.full(len(index), mapping.experiment_version, dtype=np.int32)),
                    "unit_id": pc.take(unit_ids, index),
                    "source_row": pc.take(source_row, index),
                    "metric_id": pa.array(np.full(len(index), outcome.metric_id, dtype=object), pa.string()),
                    "denominator_value": pa.array(den[rows_kept], pa.float64()),
                }
            )
        )
    denominator_table = pa.concat_tables(den_parts) if den_parts else None

    # Outcomes, long: row-major (source row, then outcome in mapping order).
    k = len(outcome_values)
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    metric_index = np.tile(np.arange(k), n)
    stacked = np.column_stack([v for _, v in outcome_values]).reshape(-1)
    outcome_counts = {}
    keep = np.ones(rows.shape[0], dtype=bool)
    for j, (outcome, values) in enumerate(outcome_values):
        missing = np.isnan(values)
        if outcome.on_null == "zero":
            stacked[j::k][missing] = 0.0  # view into the row-major stack
        elif outcome.on_null == "skip":
            keep[j::k] = ~missing
        outcome_counts[outcome.metric_id] = {
            "values_written": int(n - missing.sum()) if outcome.on_null == "skip" else n,
            "empty_cells": int(missing.sum()),
            "on_null": outcome.on_null,
        }
    rows, metric_index, stacked = rows[keep], metric_index[keep], stacked[keep]
    metric_ids = pa.array([o.metric_id for o, _ in outcome_values], pa.string())
    outcomes = pa.table(
        {
            "experiment_id": pa.array(np.full(rows.shape[0], mapping.experiment_id, dtype=object), pa.string()),
            "experiment_version": pa.array(np.full(rows.shape[0], mapping.experiment_version, dtype=np.int32)),
            "unit_id": pc.take(unit_ids, pa.array(rows)),
            "source_row": pc.take(source_row, pa.array(rows)),
            "metric_id": pc.take(metric_ids, pa.array(metric_index)),
            "metric_value": pa.array(stacked, pa.float64()),
        }
    )

    unit_attributes, attribute_counts = _unit_attributes(mapping, table, policy_keep if dropped else None, unit_ids)

    # Counts for the summary and the manifest.
    unit_counts = pc.value_counts(unit_ids)
    per_unit = unit_counts.field("counts")
    duplicate_units = _count(pc.greater(per_unit, 1))
    rows_of_duplicates = int(pc.sum(pc.filter(per_unit, pc.greater(per_unit, 1))).as_py() or 0)
    pairs = pa.table({"u": unit_ids, "v": assigned_arr}).group_by(["u", "v"]).aggregate([])
    variants_per_unit = pairs.group_by("u").aggregate([("v", "count")])
    multi_variant_units = _count(pc.greater(variants_per_unit["v_count"], 1))
    per_variant = {v: 0 for v in mapping.variants}
    vc = pc.value_counts(assigned_arr)
    for value, count in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
        per_variant[value] = int(count)
    mismatch_rows = pc.fill_null(pc.not_equal(assigned_arr, exposed_arr), False)
    mismatch = _count(mismatch_rows)
    mismatch_units = len(pc.unique(pc.filter(unit_ids, mismatch_rows))) if mismatch else 0
    counts = {
        "rows_read": rows_read,
        "rows_filtered_out": rows_read - rows_after_where,
        "rows_dropped_by_policy": dropped,
        "units_dropped_rows_by_policy": dropped_units,
        "rows_imported": n,
        "units": len(unit_counts),
        "duplicate_units": duplicate_units,
        "rows_of_duplicate_units": rows_of_duplicates,
        "units_in_several_assigned_variants": multi_variant_units,
        "rows_per_assigned_variant": per_variant,
        "rows_assigned_not_exposed": mismatch if mapping.exposed_variant is not None else 0,
        "units_assigned_not_exposed": mismatch_units if mapping.exposed_variant is not None else 0,
        "rows_exposed_unknown": exposed_arr.null_count if mapping.exposed_variant is not None else 0,
        "outcome_rows_written": outcomes.num_rows,
        "outcomes": outcome_counts,
    }
    if mapping.segments:
        counts["segments"] = attribute_counts
    started = ended = None
    if observed is not None and observed_arr.null_count < n:
        minmax = pc.min_max(observed_arr)
        started, ended = minmax["min"], minmax["max"]
    return ImportData(
        mapping=mapping,
        units=units,
        outcomes=outcomes,
        counts=counts,
        started_at=started,
        ended_at=ended,
        denominators=denominator_table,
        unit_attributes=unit_attributes,
    )


def _unit_attributes(
    mapping: Mapping, table: pa.Table, keep: np.ndarray | None, unit_ids: pa.Array
) -> tuple[pa.Table | None, dict]:
    """The ``segments`` columns as unit attributes: one row per unit x attribute, units in order of first
    row. A unit's value is that of its first row (in file order, after the several-variants policy) with a
    value; null when none of its rows has one. Units whose rows disagree are counted, not dropped."""
    if not mapping.segments:
        return None, {}
    units = pd.Series(unit_ids.to_numpy(zero_copy_only=False), dtype=object)
    order = pd.unique(units)
    parts, counts = [], {}
    for column in mapping.segments:
        values = as_text(table[column])
        if keep is not None:
            values = pc.filter(values, pa.array(keep))
        frame = pd.DataFrame({"unit": units, "value": pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)})
        grouped = frame.groupby("unit", sort=False)["value"]
        first = grouped.first().reindex(order)
        counts[column] = {
            "units_with_value": int(first.notna().sum()),
            "units_without_value": int(first.isna().sum()),
            "units_with_several_values": int((grouped.nunique() > 1).sum()),
            "distinct_values": int(first.nunique()),
        }
        parts.append(
            pa.table(
                {
                    "experiment_id": pa.array([mapping.experiment_id] * len(order), pa.string()),
                    "experiment_version": pa.array(np.full(len(order), mapping.experiment_version, dtype=np.int32)),
                    "unit_id": pa.array(order, pa.string()),
                    "attribute_name": pa.array([column] * len(order), pa.string()),
                    "attribute_value": pa.array(first.to_numpy(dtype=object), pa.string(), from_pandas=True),
                }
            )
        )
    return pa.concat_tables(parts), counts
