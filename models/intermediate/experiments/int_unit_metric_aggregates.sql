{#-
    The event aggregates behind int_unit_metric_values, one row per unit x experiment version: for every
    catalog metric its numerator in the unit's window, its denominator (ratios) and its numerator in the
    covariate window (CUPED), uncapped; window_signature, a hash of the window bounds they were counted over
    (and of the catalog). The aggregates are generated from seeds/metric_catalog.csv after every row has
    passed readout.validate_metric_catalog (values are quoted, never pasted). A metric's event_filter is
    trusted SQL over the event columns: it is checked by readout.check_metric_event_filters and evaluated in
    events_matched, where only the event columns are in scope.

    One pass, whatever the number of metrics: one row per unit x experiment version (one metric's rows of the
    windows table: the anchor; the experiment's end; the span covering every metric's window and a signature of
    what the bounds follow from), the events are joined to it ONCE and every metric is a conditional aggregate in
    ONE group by. The join's build side is narrow: each metric's bounds are recomputed after the join from the
    unit's anchor and the experiment's end with the definitions int_experiment_unit_metric_windows stores
    (macros/metrics/metric_window_bounds.sql). Carried through the join after a pivot of the windows, four
    timestamps per metric ran a 100M-event build out of DuckDB's 2.5 GB (at 10M events the old model failed under
    a 250 MB limit; this one fits 150 MB on one thread, readout.large_plan_begin). The join and
    the group by are keyed by unit x experiment version and spill to disk when they do not fit the memory limit.
    (One join per metric, unioned, read the events once per metric: DuckDB held them in memory.)

    Incremental (delete+insert on unit_id, experiment_id, experiment_version): a refresh recounts only
    - the units the new events can touch: the landing files staged after the last file this table has
      counted (stg_landing__files_processed.processed_at after files_processed_through; staging-only
      refreshes in between included), their events' user and anonymous ids, and every user id seen with
      those anonymous ids (a new link can move an anonymous id's events from one user to another);
    - the unit x experiment versions whose window_signature changed or that are new (a late exposure moves the
      anchor, the experiment's end moves, the catalog changes);
    and deletes the rows of unit x experiment versions no longer in the windows (post-hook). The watermark
    (window completeness) and the populations are not in this table: int_unit_metric_values joins them from
    the windows on every build, so they cost no recount. A full refresh counts everything; both give the
    same rows (tests/integration/test_incremental_late_data.py).
    Spark: insert_overwrite partitioned by experiment_id, experiment_version (macros/incremental.sql);
    readout.unit_metric_recount_whole_versions() makes a refresh recount every unit of a touched version, and
    the pruning post-hook is skipped (no DELETE on Parquet; int_unit_metric_values reads only units in the windows).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=readout.incremental_strategy('delete+insert'),
        unique_key=['unit_id', 'experiment_id', 'experiment_version'],
        partition_by=readout.incremental_partition_by(['experiment_id', 'experiment_version']),
        on_schema_change='sync_all_columns',
        pre_hook=["{{ readout.large_plan_begin() }}"],
        post_hook=[
            "{{ readout.large_plan_end() }}",
            "{% if readout.can_delete_rows() %}delete from {{ this }} as stored where not exists (select 1 from {{ ref('int_experiment_unit_metric_windows') }} as windows where windows.unit_id = stored.unit_id and windows.experiment_id = stored.experiment_id and windows.experiment_version = stored.experiment_version){% endif %}",
        ],
    )
}}
-- depends_on: {{ ref('metric_catalog') }}
-- depends_on: {{ ref('stg_landing__files_processed') }}
-- depends_on: {{ ref('stg_landing__events') }}
{% set metrics = readout.metric_catalog_rows() %}
{% do readout.check_metric_event_filters(metrics, ref('int_events_stitched')) %}
{#- the catalog as compiled: a changed catalog changes every signature, so a refresh recounts every row -#}
{% set catalog_fingerprint = local_md5(metrics | string) %}

with  -- noqa: disable=LT02,LT05
{#- each metric's output columns with their aggregates over events_in_span, decided once for counted and
    aggregated: the numerator in the window; the denominator (ratios); the numerator in the covariate window
    (CUPED: a lookback, not a ratio) -#}
{% set output_columns = [] %}
{% for metric in metrics %}
    {%- set m = metric.metric_id %}
    {%- set in_reach = "event_at >= read_from__" ~ m ~ " and event_at < window_end_at__" ~ m %}
    {%- set in_window = in_reach ~ " and event_at >= window_start_at__" ~ m ~ " and event_at < window_end_at__" ~ m %}
    {%- set is_numerator = "event_name = " ~ readout.quote_string(metric.numerator_event) ~ " and passes_filter__" ~ m %}
    {%- do output_columns.append({'name': 'metric_value__' ~ m, 'aggregate': readout.metric_aggregate(metric.numerator_aggregation, is_numerator ~ " and " ~ in_window)}) %}
    {%- if metric.metric_type == 'ratio' %}
        {%- set is_denominator = "event_name = " ~ readout.quote_string(metric.denominator_event) %}
        {%- do output_columns.append({'name': 'denominator_value__' ~ m, 'aggregate': readout.metric_aggregate(metric.denominator_aggregation, is_denominator ~ " and " ~ in_window)}) %}
    {%- endif %}
    {%- if metric.covariate_lookback_days is not none and metric.metric_type != 'ratio' %}
        {%- set in_covariate_window = in_reach ~ " and event_at >= covariate_window_start_at__" ~ m ~ " and event_at < anchor_at" %}
        {%- do output_columns.append({'name': 'covariate_value__' ~ m, 'aggregate': readout.metric_aggregate(metric.numerator_aggregation, is_numerator ~ " and " ~ in_covariate_window)}) %}
    {%- endif %}
{% endfor %}

windows as (

    -- one row per unit x experiment version: the windows table has one row per catalog metric of each, so the
    -- rows of one metric are one per unit x experiment version
    select
        unit_id,
        experiment_id,
        experiment_version,
        anchor_at

    from {{ ref('int_experiment_unit_metric_windows') }}
    where metric_id = {{ readout.quote_string(metrics[0].metric_id) }}

),

versions as (

    select
        experiment_id,
        experiment_version,
        ended_at as experiment_ended_at

    from {{ ref('int_experiment_versions') }}

),

unit_windows as (

    -- a unit's anchor and its experiment's end: every metric's window bounds follow from them and the catalog
    select
        windows.unit_id,
        windows.experiment_id,
        windows.experiment_version,
        windows.anchor_at,
        versions.experiment_ended_at

    from windows
    left join versions
        on windows.experiment_id = versions.experiment_id
            and windows.experiment_version = versions.experiment_version

),

signed as (

    -- narrow: the keys, the anchor and the experiment's end; the span covering every metric's window (a metric
    -- without a covariate, covariate_lookback_days empty, reads from its window start); the window signature,
    -- a hash of what the bounds follow from (the catalog as compiled, the anchor, the experiment's end)
    {%- set reads_from = [] %}
    {%- set window_ends = [] %}
    {%- for metric in metrics %}
        {%- if metric.covariate_lookback_days is not none %}
            {%- do reads_from.append(readout.metric_covariate_window_start('anchor_at', metric.covariate_lookback_days | string)) %}
        {%- else %}
            {%- do reads_from.append(readout.metric_window_start('anchor_at', metric.window_start_days | string)) %}
        {%- endif %}
        {%- do window_ends.append(readout.metric_window_end('anchor_at', metric.window_end_days | string, 'experiment_ended_at')) %}
    {%- endfor %}
    select
        unit_id,
        experiment_id,
        experiment_version,
        anchor_at,
        experiment_ended_at,
        {% if reads_from | length > 1 %}least({{ reads_from | join(', ') }}){% else %}{{ reads_from[0] }}{% endif %}
            as span_start_at,
        {% if window_ends | length > 1 %}greatest({{ window_ends | join(', ') }}){% else %}{{ window_ends[0] }}{% endif %}
            as span_end_at,
        {{ dbt.hash(dbt.concat([
            "'" ~ catalog_fingerprint ~ "'",
            "'|'",
            "coalesce(cast(anchor_at as " ~ dbt.type_string() ~ "), '-')",
            "'|'",
            "coalesce(cast(experiment_ended_at as " ~ dbt.type_string() ~ "), '-')",
        ])) }} as window_signature

    from unit_windows

),

{%- if is_incremental() %}

stored as (

    select unit_id, experiment_id, experiment_version, window_signature, files_processed_through
    from {{ this }}

),

counted_through as (

    select max(files_processed_through) as files_processed_through from stored

),

new_files as (

    -- landing files staged after the last one this table has counted (staging-only refreshes included)
    select files_processed.file_path
    from {{ ref('stg_landing__files_processed') }} as files_processed
    cross join counted_through
    where counted_through.files_processed_through is null
        or files_processed.processed_at > counted_through.files_processed_through

),

new_events as (

    select anonymous_id, user_id
    from {{ ref('stg_landing__events') }}
    where file_path in (select file_path from new_files)

),

touched_units as (

    select user_id as unit_id from new_events where user_id is not null
    union
    select anonymous_id as unit_id from new_events where anonymous_id is not null
    union
    -- the users an anonymous id of a new event is linked with: it may resolve to another of them now
    select linked.user_id as unit_id
    from {{ ref('stg_landing__events') }} as linked
    where linked.user_id is not null
        and linked.anonymous_id in (select anonymous_id from new_events where anonymous_id is not null)

),

touched as (

    -- a left join to touched_units, not `or unit_id in (select ...)`: Spark plans an IN subquery under an OR as
    -- a null-aware nested loop, which ran out of memory on 50k events
    select signed.unit_id, signed.experiment_id, signed.experiment_version
    from signed
    left join stored
        on signed.unit_id = stored.unit_id
        and signed.experiment_id = stored.experiment_id
        and signed.experiment_version = stored.experiment_version
    left join touched_units
        on signed.unit_id = touched_units.unit_id
    where stored.window_signature is null
        or stored.window_signature <> signed.window_signature
        or touched_units.unit_id is not null

),

to_count as (

    select signed.*
    from signed
    {%- if readout.unit_metric_recount_whole_versions() %}
    where exists (
        select 1 from touched
        where touched.experiment_id = signed.experiment_id
            and touched.experiment_version = signed.experiment_version
    )
    {%- else %}
    inner join touched
        on signed.unit_id = touched.unit_id
        and signed.experiment_id = touched.experiment_id
        and signed.experiment_version = touched.experiment_version
    {%- endif %}

),

{%- else %}

    to_count as (

        select * from signed

    ),

{%- endif %}

files_processed_through as (

    -- the landing files this build counts go up to here (every file staged so far)
    select max(processed_at) as files_processed_through from {{ ref('stg_landing__files_processed') }}

),

events as (

    select * from {{ ref('int_events_stitched') }}
    where event_name not in ('experiment_assigned', 'experiment_exposed')
    {%- if is_incremental() %}
        and unit_id in (select unit_id from to_count)
    {%- endif %}

),

events_matched as (

    -- one boolean per catalog metric: does the event pass the metric's event_filter (null counts as false);
    -- then only the columns the aggregates read go on (narrow: nothing wide is carried into the join)
    select
        events.unit_id,
        events.event_at,
        events.event_name,
        events.revenue
        {%- for metric in metrics %}
            ,
            {{ readout.metric_event_filter_condition(metric) }} as passes_filter__{{ metric.metric_id }}
    
            {%- endfor %}

    from events

),

spans as (

    -- the build side of the join to every event: narrow (a unit's key and signature, span, anchor and end)
    select
        unit_id,
        experiment_id,
        experiment_version,
        window_signature,
        span_start_at,
        span_end_at,
        anchor_at,
        experiment_ended_at

    from to_count

),

events_in_span as (

    -- every event in a unit's span, with each metric's window bounds recomputed from the unit's anchor (the
    -- definitions int_experiment_unit_metric_windows stores, readout.metric_window_*, with the catalog's days);
    -- a unit without an event in its span keeps one row of nulls, which matches no condition (zeros)
    select
        spans.unit_id,
        spans.experiment_id,
        spans.experiment_version,
        spans.window_signature,
        spans.anchor_at,
        events.event_at,
        events.event_name,
        events.revenue
        {%- for metric in metrics %},
            events.passes_filter__{{ metric.metric_id }}
        {%- endfor %}
        {%- for metric in metrics %}
            {%- set m = metric.metric_id %}
            {%- set window_start = readout.metric_window_start('spans.anchor_at', metric.window_start_days | string) %},
            {{ window_start }} as window_start_at__{{ m }},
            {{ readout.metric_window_end('spans.anchor_at', metric.window_end_days | string, 'spans.experiment_ended_at') }}
                as window_end_at__{{ m }}
            {%- if metric.covariate_lookback_days is not none %}
                {%- set covariate_start = readout.metric_covariate_window_start('spans.anchor_at', metric.covariate_lookback_days | string) %},
                {{ covariate_start }} as covariate_window_start_at__{{ m }},
                coalesce({{ covariate_start }}, {{ window_start }}) as read_from__{{ m }}
            {%- else %},
                {{ window_start }} as read_from__{{ m }}
            {%- endif %}
        {%- endfor %}

    from spans
    left join events_matched as events
        on spans.unit_id = events.unit_id
            and spans.span_start_at <= events.event_at
            and spans.span_end_at > events.event_at

),

counted as (

    -- every metric's aggregates per unit x experiment version, in one group by (the signature is a key, not a
    -- max(): an aggregate of text holds more memory than a key)
    select
        unit_id,
        experiment_id,
        experiment_version,
        window_signature
        {%- for column in output_columns %},
            {{ column.aggregate }}
                as {{ column.name }}
        {%- endfor %}

    from events_in_span
    group by 1, 2, 3, 4

),

aggregated as (

    select
        counted.unit_id,
        counted.experiment_id,
        counted.experiment_version,
        counted.window_signature,
        files_processed_through.files_processed_through,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as built_invocation_id
        {%- for column in output_columns %},
            cast(coalesce(counted.{{ column.name }}, 0) as {{ readout.type_double() }}) as {{ column.name }}
        {%- endfor %}

    from counted
    cross join files_processed_through

)

select * from aggregated
