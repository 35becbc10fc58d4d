"""The floor `make bench` holds the build against: the per-variant sufficient statistics computed
straight from the landing Parquet, once as ONE hand-written DuckDB query and once as a pandas
notebook would, and the check of both against marts.fct_variant_metric_stats.

Both follow the models' logic for the exposed population: dedup per (source_system, event_id)
keeping the earliest received copy; identity stitching (user id, else the user the anonymous id
resolves to, else the anonymous id); first assignment and first exposure per unit x experiment
version; the eligibility rules of int_experiment_units_flagged (consent denied, bot or internal
traffic, several variants, exposed before assigned, outside the version's run); the metric window
from first exposure (catalog window_start_days/window_end_days); a unit counts only when its window
is complete: not cut short by the version's end (truncated) and ending at or before the version's
watermark, the minimum over the source systems that sent any event of its assigned or exposed units of
each source's latest received_at minus the raw contract's arrival lag (dbt var lookback_days), or the
landing zone's latest minus the lag for an idle source (nothing received for longer than the lag) or a
version no source sent events for (int_source_system_watermarks, int_experiment_version_watermarks).

What the floor skips: the staging quarantine rules (missing ids, unknown names and versions,
future or unparseable timestamps, NaN/negative/missing revenue, ...), the duplicate tie-break by
payload hash, ratio metrics, CUPED covariates, caps and metrics with an event_filter. On a clean
simulation (`--faults none`) none of these changes a covered number, so floor and marts agree to
rounding; on faulted data they differ where the quarantine removes rows the floor keeps.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

#: metric types and aggregations the floor computes (n, sum, sum of squares of a per-unit value)
FLOOR_METRIC_TYPES = ("proportion", "mean", "count")
FLOOR_AGGREGATIONS = ("any", "count", "sum_revenue")
KEYS = ["experiment_id", "experiment_version", "variant_id", "metric_id"]
STAT_COLUMNS = ["n_units", "metric_sum", "metric_sum_of_squares"]
#: the columns the floor reads from the landing Parquet (the union of both schema versions' names)
EVENT_COLUMNS = {
    "event_id": "varchar", "event_name": "varchar", "event_at": "varchar", "received_at": "varchar",
    "schema_version": "integer", "source_system": "varchar", "anonymous_id": "varchar",
    "device_id": "varchar", "user_id": "varchar", "experiment_id": "varchar",
    "experiment_version": "integer", "variant_id": "varchar", "consent_granted": "boolean",
    "revenue": "double", "revenue_amount": "double", "properties": "varchar",
}


def catalog_metrics(catalog_csv: Path) -> tuple[list[dict], dict[str, str]]:
    """The catalog metrics the floor covers, and the others with the reason they are skipped."""
    covered, skipped = [], {}
    with open(catalog_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            metric_id = row["metric_id"]
            if row["metric_type"] not in FLOOR_METRIC_TYPES:
                skipped[metric_id] = f"{row['metric_type']} metric (the floor computes one value per unit)"
            elif row["numerator_aggregation"] not in FLOOR_AGGREGATIONS:
                skipped[metric_id] = f"aggregation {row['numerator_aggregation']}"
            elif (row.get("event_filter") or "").strip():
                skipped[metric_id] = "has an event_filter"
            elif (row.get("cap_type") or "none") != "none":
                skipped[metric_id] = f"capped ({row['cap_type']})"
            else:
                covered.append({
                    "metric_id": metric_id,
                    "event_name": row["numerator_event"],
                    "aggregation": row["numerator_aggregation"],
                    "window_start_days": int(row["window_start_days"]),
                    "window_end_days": int(row["window_end_days"]),
                })
    return covered, skipped


def arrival_lag_days(project: Path = PROJECT) -> int:
    """The arrival lag the raw events contract allows, in days: dbt_project.yml's var lookback_days, the one
    place it is set (the models' watermarks subtract the same)."""
    import yaml

    return int(yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["lookback_days"])


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _landing_relation(landing: Path) -> str:
    # like the dbt source: every schema version's columns, even when the landing zone lacks one version
    empty = ", ".join(f"null::{kind} as {name}" for name, kind in EVENT_COLUMNS.items())
    glob = _quote(f"{landing}/events/**/*.parquet")
    return (f"(select * from read_parquet({glob}, union_by_name = true) "
            f"union all by name select * from (select {empty}) where false)")


def floor_sql(landing: Path, metrics: list[dict], lag_days: int | None = None) -> str:
    """ONE DuckDB query: exposed-population n, sum and sum of squares per version x variant x metric."""
    if not metrics:
        raise ValueError("the floor covers no catalog metric")
    lag = arrival_lag_days() if lag_days is None else int(lag_days)
    event_names = sorted({metric["event_name"] for metric in metrics})
    longest_days = max(metric["window_end_days"] for metric in metrics)
    value_columns, unpivot = [], []
    for metric in metrics:
        name = metric["metric_id"]
        window = (f"events.event_name = {_quote(metric['event_name'])}"
                  f" and events.event_at >= units.anchor_at + interval ({metric['window_start_days']}) day"
                  f" and events.event_at < least(units.anchor_at + interval ({metric['window_end_days']}) day,"
                  f" coalesce(units.ended_at, 'infinity'::timestamp))")
        aggregate = {
            "any": f"coalesce(max(case when {window} then 1 else 0 end), 0)",
            "count": f"coalesce(sum(case when {window} then 1 else 0 end), 0)",
            "sum_revenue": f"coalesce(sum(case when {window} then coalesce(events.revenue, 0) else 0 end), 0)",
        }[metric["aggregation"]]
        value_columns.append(f"cast({aggregate} as double) as value__{name}")
        full_end = f"anchor_at + interval ({metric['window_end_days']}) day"
        complete = (f"{full_end} <= coalesce(ended_at, 'infinity'::timestamp)"  # not truncated
                    f" and {full_end} <= watermark_at")
        unpivot.append(f"select experiment_id, experiment_version, variant_id, {_quote(name)} as metric_id,"
                       f" value__{name} as metric_value, {complete} as is_window_complete from unit_values")
    unpivoted = "\n        union all\n        ".join(unpivot)
    experiments = _quote(f"{landing}/experiments/**/*.parquet")
    return f"""
with
landing as (
    select * from {_landing_relation(landing)}
),
typed as (
    select
        event_id,
        source_system,
        event_name,
        case when schema_version = 2 then device_id else anonymous_id end as anonymous_id,
        user_id,
        experiment_id,
        experiment_version,
        variant_id,
        case when schema_version = 2 then revenue_amount else revenue end as revenue,
        consent_granted,
        coalesce(case when json_valid(properties) then json_extract_string(properties, '$.traffic_type') end,
                 'human') as traffic_type,
        timezone('UTC', try_cast(event_at as timestamptz)) as event_at,
        timezone('UTC', try_cast(received_at as timestamptz)) as received_at
    from landing
    where event_id is not null
),
deduplicated as (
    -- one row per producer's event id: the earliest received copy
    select * from typed
    qualify row_number() over (partition by source_system, event_id order by received_at) = 1
),
identities as (
    select anonymous_id, first(user_id order by event_at, user_id) as resolved_user_id
    from deduplicated
    where anonymous_id is not null and user_id is not null
    group by 1
),
events as (
    select coalesce(deduplicated.user_id, identities.resolved_user_id, deduplicated.anonymous_id) as unit_id,
        deduplicated.*
    from deduplicated
    left join identities on deduplicated.anonymous_id = identities.anonymous_id
),
profiles as (
    select unit_id,
        max(case when consent_granted = false then 1 else 0 end) = 1 as is_consent_denied,
        max(case when traffic_type in ('bot', 'internal') then 1 else 0 end) = 1 as is_bot_or_internal
    from events
    group by 1
),
versions as (
    select experiment_id, experiment_version,
        min(cast(started_at as timestamp)) as started_at, max(cast(ended_at as timestamp)) as ended_at
    from read_parquet({experiments}, union_by_name = true)
    group by 1, 2
),
assignments as (
    select unit_id, experiment_id, experiment_version,
        first(variant_id order by event_at, event_id, source_system) as variant_id,
        min(event_at) as assigned_at,
        count(distinct variant_id) as variant_count
    from events where event_name = 'experiment_assigned'
    group by 1, 2, 3
),
exposures as (
    select unit_id, experiment_id, experiment_version,
        first(variant_id order by event_at, event_id, source_system) as variant_id,
        min(event_at) as first_exposed_at,
        max(event_at) as last_exposed_at,
        count(distinct variant_id) as variant_count
    from events where event_name = 'experiment_exposed'
    group by 1, 2, 3
),
units as (
    -- the exposed population: assigned and exposed, one variant, inside the version's run, eligible
    select assignments.unit_id, assignments.experiment_id, assignments.experiment_version,
        assignments.variant_id, exposures.first_exposed_at as anchor_at, versions.ended_at
    from assignments
    inner join exposures
        on assignments.unit_id = exposures.unit_id
        and assignments.experiment_id = exposures.experiment_id
        and assignments.experiment_version = exposures.experiment_version
    inner join versions
        on assignments.experiment_id = versions.experiment_id
        and assignments.experiment_version = versions.experiment_version
    inner join profiles on assignments.unit_id = profiles.unit_id
    where not profiles.is_consent_denied
        and not profiles.is_bot_or_internal
        and assignments.variant_count = 1
        and exposures.variant_count = 1
        and assignments.variant_id = exposures.variant_id
        and exposures.first_exposed_at >= assignments.assigned_at
        and not coalesce(assignments.assigned_at < versions.started_at, false)
        and not coalesce(exposures.first_exposed_at < versions.started_at, false)
        and not coalesce(exposures.last_exposed_at > versions.ended_at, false)
        and not coalesce(assignments.assigned_at > versions.ended_at, false)
),
source_last as (
    select source_system, max(received_at) as last_received_at from deduplicated group by 1
),
landing_watermark as (
    select max(last_received_at) - interval ({lag}) day as watermark_at from source_last
),
source_watermarks as (
    -- latest received_at minus the lag; an idle source (quiet for longer than the lag) gets the zone's
    select source_last.source_system,
        case when source_last.last_received_at <= landing_watermark.watermark_at then landing_watermark.watermark_at
             else source_last.last_received_at - interval ({lag}) day end as watermark_at
    from source_last
    cross join landing_watermark
),
version_watermarks as (
    -- the slowest source that sent any event of the version's assigned or exposed units
    select keys.experiment_id, keys.experiment_version, min(source_watermarks.watermark_at) as watermark_at
    from (select unit_id, experiment_id, experiment_version from assignments
          union select unit_id, experiment_id, experiment_version from exposures) as keys
    inner join (select distinct unit_id, source_system from events) as unit_sources
        on keys.unit_id = unit_sources.unit_id
    inner join source_watermarks on unit_sources.source_system = source_watermarks.source_system
    group by 1, 2
),
unit_values as (
    select units.experiment_id, units.experiment_version, units.variant_id, units.anchor_at, units.ended_at,
        coalesce(version_watermarks.watermark_at, landing_watermark.watermark_at) as watermark_at,
        {(',' + chr(10) + '        ').join(value_columns)}
    from units
    cross join landing_watermark
    left join version_watermarks
        on units.experiment_id = version_watermarks.experiment_id
        and units.experiment_version = version_watermarks.experiment_version
    left join events
        on units.unit_id = events.unit_id
        and events.event_name in ({', '.join(_quote(name) for name in event_names)})
        and events.event_at >= units.anchor_at
        and events.event_at < units.anchor_at + interval ({longest_days}) day
    group by units.unit_id, units.experiment_id, units.experiment_version, units.variant_id, units.anchor_at,
        units.ended_at, version_watermarks.watermark_at, landing_watermark.watermark_at
),
metric_values as (
    {unpivoted}
)
select experiment_id, experiment_version, variant_id, metric_id,
    count(*) filter (where is_window_complete) as n_units,
    coalesce(sum(metric_value) filter (where is_window_complete), 0) as metric_sum,
    coalesce(sum(metric_value * metric_value) filter (where is_window_complete), 0) as metric_sum_of_squares
from metric_values
group by 1, 2, 3, 4
order by 1, 2, 3, 4
"""


def run_floor(landing: Path, metrics: list[dict], memory_limit: str | None = None):
    """(statistics DataFrame, seconds of the query alone, DuckDB settings) on a fresh in-memory DuckDB with
    its defaults (all cores, 80% of the memory), or with ``memory_limit``."""
    import duckdb

    sql = floor_sql(landing, metrics)
    # what does not fit spills beside the landing zone (DuckDB's default, .tmp in the working directory, would
    # fill the project's disk: about 30 GB at 100M events with a 3GB limit)
    config = {"temp_directory": str(Path(landing).parent / "floor.tmp")}
    if memory_limit:
        config["memory_limit"] = memory_limit
    with duckdb.connect(config=config) as con:
        settings = dict(zip(("memory_limit", "threads"), con.execute(
            "select current_setting('memory_limit'), current_setting('threads')").fetchone()))
        started = time.perf_counter()
        frame = con.execute(sql).df()
        seconds = time.perf_counter() - started
    return frame, seconds, settings


def run_pandas(landing: Path, metrics: list[dict]):
    """The same statistics the way a notebook would: read the Parquet files into pandas and group."""
    import numpy as np
    import pandas as pd
    import pyarrow.dataset as ds

    started = time.perf_counter()
    dataset = ds.dataset(str(landing / "events"), format="parquet")
    names = set(dataset.schema.names)
    frame = dataset.to_table(columns=[name for name in EVENT_COLUMNS if name in names]).to_pandas()
    for name in EVENT_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    frame = frame[frame["event_id"].notna()]
    v2 = frame["schema_version"] == 2
    frame["anonymous_id"] = frame["anonymous_id"].where(~v2, frame["device_id"])
    frame["revenue"] = frame["revenue"].where(~v2, frame["revenue_amount"])
    for column in ("event_at", "received_at"):  # unparseable text becomes NaT, as staging makes it null
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601").dt.tz_localize(None)
    traffic = frame["properties"].str.extract(r'"traffic_type"\s*:\s*"([^"]*)"', expand=False)
    frame["is_bot"] = traffic.isin(["bot", "internal"])

    # dedup per producer's event id, earliest received first
    frame = frame.sort_values("received_at", kind="stable").drop_duplicates(["source_system", "event_id"])
    # per-source watermarks: latest received_at minus the lag; an idle source gets the landing zone's
    lag = pd.to_timedelta(arrival_lag_days(), unit="D")
    last_received = frame.groupby("source_system")["received_at"].max()
    landing_watermark = last_received.max() - lag
    source_watermarks = (last_received - lag).where(last_received > landing_watermark, landing_watermark)

    # identity stitching
    links = frame[frame["anonymous_id"].notna() & frame["user_id"].notna()]
    links = links.sort_values(["event_at", "user_id"], kind="stable").drop_duplicates("anonymous_id")
    resolved = frame["anonymous_id"].map(links.set_index("anonymous_id")["user_id"])
    frame["unit_id"] = frame["user_id"].fillna(resolved).fillna(frame["anonymous_id"])

    profiles = frame.groupby("unit_id").agg(
        is_consent_denied=("consent_granted", lambda s: bool(s.eq(False).any())),
        is_bot_or_internal=("is_bot", "any"),
    )
    versions = pd.read_parquet(landing / "experiments").groupby(["experiment_id", "experiment_version"]).agg(
        started_at=("started_at", "min"), ended_at=("ended_at", "max")).reset_index()
    versions["experiment_version"] = versions["experiment_version"].astype("int64")

    def first_per_unit(event_name: str) -> pd.DataFrame:
        rows = frame[frame["event_name"] == event_name].sort_values(
            ["event_at", "event_id", "source_system"], kind="stable")
        keys = ["unit_id", "experiment_id", "experiment_version"]
        grouped = rows.groupby(keys)
        out = grouped.agg(variant_id=("variant_id", "first"), first_at=("event_at", "min"),
                          last_at=("event_at", "max"), variant_count=("variant_id", "nunique")).reset_index()
        out["experiment_version"] = out["experiment_version"].astype("int64")
        return out

    assigned = first_per_unit("experiment_assigned")
    exposed = first_per_unit("experiment_exposed")
    # a version's watermark: the slowest source that sent any event of its assigned or exposed units
    keys = ["unit_id", "experiment_id", "experiment_version"]
    unit_sources = frame[["unit_id", "source_system"]].drop_duplicates()
    version_sources = pd.concat([assigned[keys], exposed[keys]]).drop_duplicates().merge(unit_sources, on="unit_id")
    version_sources["watermark_at"] = version_sources["source_system"].map(source_watermarks)
    version_watermarks = version_sources.groupby(["experiment_id", "experiment_version"])["watermark_at"].min()
    units = assigned.merge(exposed, on=["unit_id", "experiment_id", "experiment_version"], suffixes=("_a", "_x"))
    units = units.merge(versions, on=["experiment_id", "experiment_version"])
    units = units.merge(profiles, left_on="unit_id", right_index=True)
    started_at, ended_at = units["started_at"], units["ended_at"]
    eligible = (
        ~units["is_consent_denied"] & ~units["is_bot_or_internal"]
        & (units["variant_count_a"] == 1) & (units["variant_count_x"] == 1)
        & (units["variant_id_a"] == units["variant_id_x"])
        & (units["first_at_x"] >= units["first_at_a"])
        & ~(units["first_at_a"] < started_at).fillna(False) & ~(units["first_at_x"] < started_at).fillna(False)
        & ~(units["last_at_x"] > ended_at).fillna(False) & ~(units["first_at_a"] > ended_at).fillna(False)
    )
    units = units[eligible][["unit_id", "experiment_id", "experiment_version", "variant_id_a", "first_at_x",
                             "ended_at"]].rename(columns={"variant_id_a": "variant_id", "first_at_x": "anchor_at"})
    units = units.reset_index(drop=True)
    units["unit_row"] = np.arange(len(units))
    units["watermark_at"] = pd.MultiIndex.from_frame(units[["experiment_id", "experiment_version"]]).map(
        version_watermarks.to_dict()).fillna(landing_watermark) if len(units) else landing_watermark

    outcome = frame[frame["event_name"].isin({metric["event_name"] for metric in metrics})][
        ["unit_id", "event_name", "event_at", "revenue"]]
    joined = units.merge(outcome, on="unit_id")
    never = pd.Timestamp.max
    results = []
    for metric in metrics:
        window_start = units["anchor_at"] + pd.to_timedelta(metric["window_start_days"], unit="D")
        window_end = (units["anchor_at"] + pd.to_timedelta(metric["window_end_days"], unit="D")).where(
            units["ended_at"].isna() | (units["anchor_at"] + pd.to_timedelta(metric["window_end_days"], unit="D")
                                        <= units["ended_at"]), units["ended_at"])
        starts = window_start.to_numpy()[joined["unit_row"].to_numpy()]
        ends = window_end.fillna(never).to_numpy()[joined["unit_row"].to_numpy()]
        hit = ((joined["event_name"] == metric["event_name"]).to_numpy()
               & (joined["event_at"].to_numpy() >= starts) & (joined["event_at"].to_numpy() < ends))
        hits = joined[hit]
        if metric["aggregation"] == "sum_revenue":
            per_unit = hits["revenue"].fillna(0).groupby(hits["unit_row"]).sum()
        elif metric["aggregation"] == "count":
            per_unit = hits.groupby("unit_row").size()
        else:
            per_unit = hits.groupby("unit_row").size().clip(upper=1)
        values = units[["experiment_id", "experiment_version", "variant_id"]].copy()
        values["metric_value"] = per_unit.reindex(units["unit_row"]).fillna(0).astype(float).to_numpy()
        full_end = units["anchor_at"] + pd.to_timedelta(metric["window_end_days"], unit="D")
        complete = (units["ended_at"].isna() | (full_end <= units["ended_at"])) & (full_end <= units["watermark_at"])
        values = values[complete.to_numpy()]
        values["metric_value_squared"] = values["metric_value"] ** 2
        stats = values.groupby(["experiment_id", "experiment_version", "variant_id"]).agg(
            n_units=("metric_value", "size"), metric_sum=("metric_value", "sum"),
            metric_sum_of_squares=("metric_value_squared", "sum")).reset_index()
        stats.insert(3, "metric_id", metric["metric_id"])
        results.append(stats)
    out = pd.concat(results, ignore_index=True).sort_values(KEYS, ignore_index=True)
    return out, time.perf_counter() - started


def marts_statistics(warehouse: Path, metric_ids: list[str]):
    """The exposed population's n, sum and sum of squares from marts.fct_variant_metric_stats."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select experiment_id, experiment_version, variant_id, metric_id, n_units, metric_sum,"
            " metric_sum_of_squares from marts.fct_variant_metric_stats"
            " where population = 'exposed' and metric_id in (select unnest(?))"
            " order by 1, 2, 3, 4", [metric_ids]).df()


def compare(candidate, reference) -> dict:
    """Per metric: the largest relative difference over n, sum and sum of squares, and unmatched rows.

    ``candidate`` and ``reference`` are frames with KEYS + STAT_COLUMNS. A row in one and not the
    other is counted in ``only_in_candidate``/``only_in_reference``; rows with n = 0 on one side and
    no row on the other are ignored (the marts leave out empty groups).
    """
    left = candidate.assign(experiment_version=candidate["experiment_version"].astype("int64"))
    right = reference.assign(experiment_version=reference["experiment_version"].astype("int64"))
    merged = left.merge(right, on=KEYS, how="outer", suffixes=("_candidate", "_reference"), indicator=True)
    report: dict[str, dict] = {}
    for metric_id, rows in merged.groupby("metric_id", sort=True):
        both = rows[rows["_merge"] == "both"]
        worst = 0.0
        for column in STAT_COLUMNS:
            a = both[f"{column}_candidate"].astype(float).to_numpy()
            b = both[f"{column}_reference"].astype(float).to_numpy()
            for x, y in zip(a, b):
                scale = max(abs(x), abs(y))
                if scale > 0:
                    worst = max(worst, abs(x - y) / scale)
                elif math.isnan(x) != math.isnan(y):
                    worst = math.inf
        only_left = rows[(rows["_merge"] == "left_only") & (rows["n_units_candidate"].fillna(0) > 0)]
        only_right = rows[(rows["_merge"] == "right_only") & (rows["n_units_reference"].fillna(0) > 0)]
        report[str(metric_id)] = {
            "max_relative_difference": worst,
            "rows_compared": len(both),
            "only_in_candidate": len(only_left),
            "only_in_reference": len(only_right),
        }
    return report
