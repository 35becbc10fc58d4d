{#-
    One row per unit x experiment version x metric: the metric's numerator (and denominator for
    ratios) inside the unit's window, and the same numerator over the pre-exposure covariate window
    (the CUPED covariate), capped as the catalog says. The aggregates are generated from
    seeds/metric_catalog.csv after every row has passed readout.validate_metric_catalog (values are
    quoted, never pasted). A metric's event_filter is trusted SQL over the event columns: it is checked
    by readout.check_metric_event_filters and evaluated in events_matched, where only the event columns
    are in scope.

    One pass, whatever the number of metrics: the windows are pivoted to one row per unit x experiment
    version (every metric's bounds side by side, and the span covering them all), the events are joined
    to it ONCE and every metric is a conditional aggregate in ONE group by; the result is put back on the
    windows' rows (one per metric). The join and the group by are keyed by unit x experiment version and
    spill to disk when they do not fit the memory limit. (One join per metric, unioned, read the events
    once per metric: DuckDB then held them all in memory, and 100M events did not fit in 3 GB.)
-#}
-- depends_on: {{ ref('metric_catalog') }}
{% set metrics = readout.metric_catalog_rows() %}
{% do readout.check_metric_event_filters(metrics, ref('int_events_stitched')) %}

with

windows as {{ readout.not_materialized() }} (

    -- read twice (pivoted, then its rows back): a table scan each time, not a copy held in memory
    select * from {{ ref('int_experiment_unit_metric_windows') }}

),

events as (

    select * from {{ ref('int_events_stitched') }}
    where event_name not in ('experiment_assigned', 'experiment_exposed')

),

events_matched as (

    -- one boolean per catalog metric: does the event pass the metric's event_filter (null counts as false);
    -- then only the columns the aggregates read go on (narrow: nothing wide is carried into the join)
    select
        events.unit_id,
        events.event_at,
        events.event_name,
        events.revenue
        {%- for metric in metrics %},
        {{ readout.metric_event_filter_condition(metric) }} as passes_filter__{{ metric.metric_id }}
        {%- endfor %}

    from events

),

unit_windows as (

    -- one row per unit x experiment version: each metric's window bounds side by side, and the span that
    -- covers them all (a metric without a covariate, covariate_lookback_days empty, reads from its window
    -- start); anchor_at is the unit's, the same for every metric
    select
        unit_id,
        experiment_id,
        experiment_version,
        min(coalesce(covariate_window_start_at, window_start_at)) as span_start_at,
        max(window_end_at) as span_end_at,
        max(anchor_at) as anchor_at
        {%- for metric in metrics %}
        {%- set is_metric = "metric_id = " ~ readout.quote_string(metric.metric_id) %},
        max(case when {{ is_metric }} then window_start_at end) as window_start_at__{{ metric.metric_id }},
        max(case when {{ is_metric }} then window_end_at end) as window_end_at__{{ metric.metric_id }},
        max(case when {{ is_metric }} then coalesce(covariate_window_start_at, window_start_at) end) as read_from__{{ metric.metric_id }},
        max(case when {{ is_metric }} then covariate_window_start_at end) as covariate_window_start_at__{{ metric.metric_id }}
        {%- endfor %}

    from windows
    group by 1, 2, 3

),

unit_aggregates as (

    -- every metric's aggregates per unit x experiment version, in one group by over one join; units
    -- without an event in their span are not here (their values are 0, below)
    select
        unit_windows.unit_id,
        unit_windows.experiment_id,
        unit_windows.experiment_version
{%- for metric in metrics %}
    {%- set m = metric.metric_id %}
    {%- set in_reach = "events.event_at >= unit_windows.read_from__" ~ m ~ " and events.event_at < unit_windows.window_end_at__" ~ m %}
    {%- set in_window = in_reach ~ " and events.event_at >= unit_windows.window_start_at__" ~ m ~ " and events.event_at < unit_windows.window_end_at__" ~ m %}
    {%- set in_covariate_window = in_reach ~ " and events.event_at >= unit_windows.covariate_window_start_at__" ~ m ~ " and events.event_at < unit_windows.anchor_at" %}
    {%- set is_numerator = "events.event_name = " ~ readout.quote_string(metric.numerator_event) ~ " and events.passes_filter__" ~ m %}
    {%- set is_denominator = "events.event_name = " ~ readout.quote_string(metric.denominator_event) %},
        cast({{ readout.metric_aggregate(metric.numerator_aggregation, is_numerator ~ " and " ~ in_window) }} as {{ readout.type_double() }}) as metric_value__{{ m }}
        {%- if metric.metric_type == 'ratio' %},
        cast({{ readout.metric_aggregate(metric.denominator_aggregation, is_denominator ~ " and " ~ in_window) }} as {{ readout.type_double() }}) as denominator_value__{{ m }}
        {%- endif %}
        {%- if metric.covariate_lookback_days is not none and metric.metric_type != 'ratio' %},
        cast({{ readout.metric_aggregate(metric.numerator_aggregation, is_numerator ~ " and " ~ in_covariate_window) }} as {{ readout.type_double() }}) as covariate_value__{{ m }}
        {%- endif %}
{%- endfor %}

    from unit_windows
    inner join events_matched as events
        on unit_windows.unit_id = events.unit_id
        and events.event_at >= unit_windows.span_start_at
        and events.event_at < unit_windows.span_end_at
    group by 1, 2, 3

),

uncapped as (

    -- back to one row per unit x experiment version x metric: the window's row and its metric's aggregates
    select
        windows.unit_id,
        windows.experiment_id,
        windows.experiment_version,
        windows.metric_id,
        windows.variant_id,
        windows.is_in_assigned_population,
        windows.is_in_exposed_population,
        windows.is_window_complete,
        windows.is_window_truncated,
        case
            {%- for metric in metrics %}
            when windows.metric_id = {{ readout.quote_string(metric.metric_id) }} then coalesce(unit_aggregates.metric_value__{{ metric.metric_id }}, 0)
            {%- endfor %}
            when 1 = 0 then cast(null as {{ readout.type_double() }})
        end as metric_value,
        case
            {%- for metric in metrics if metric.metric_type == 'ratio' %}
            when windows.metric_id = {{ readout.quote_string(metric.metric_id) }} then coalesce(unit_aggregates.denominator_value__{{ metric.metric_id }}, 0)
            {%- endfor %}
            when 1 = 0 then cast(null as {{ readout.type_double() }})
        end as denominator_value,
        case
            {%- for metric in metrics if metric.covariate_lookback_days is not none and metric.metric_type != 'ratio' %}
            when windows.metric_id = {{ readout.quote_string(metric.metric_id) }} then coalesce(unit_aggregates.covariate_value__{{ metric.metric_id }}, 0)
            {%- endfor %}
            when 1 = 0 then cast(null as {{ readout.type_double() }})
        end as covariate_value

    from windows
    left join unit_aggregates
        on windows.unit_id = unit_aggregates.unit_id
        and windows.experiment_id = unit_aggregates.experiment_id
        and windows.experiment_version = unit_aggregates.experiment_version

),

catalog as (

    select * from {{ ref('metric_catalog') }}

),

percentile_caps as (

    -- a percentile cap is computed per experiment version and metric over the intent-to-treat units
    {%- set percentile_capped = metrics | selectattr('cap_type', 'equalto', 'percentile') | list %}
    {%- for metric in percentile_capped %}
    select
        experiment_id,
        experiment_version,
        metric_id,
        {{ readout.percentile_cont('metric_value', metric.cap_value | float) }} as metric_cap,
        {{ readout.percentile_cont('covariate_value', metric.cap_value | float) }} as covariate_cap

    from uncapped
    where metric_id = {{ readout.quote_string(metric.metric_id) }}
        and is_in_assigned_population
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if percentile_capped | length == 0 %}
    -- no percentile cap: an empty, typed relation that does not read uncapped (read twice, DuckDB would
    -- materialize all of it: units x metrics rows held at once)
    select
        cast(null as {{ dbt.type_string() }}) as experiment_id,
        cast(null as {{ dbt.type_int() }}) as experiment_version,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ readout.type_double() }}) as metric_cap,
        cast(null as {{ readout.type_double() }}) as covariate_cap
    where 1 = 0
    {%- endif %}

),

capped as (

    select
        uncapped.unit_id,
        uncapped.experiment_id,
        uncapped.experiment_version,
        uncapped.metric_id,
        uncapped.variant_id,
        uncapped.is_in_assigned_population,
        uncapped.is_in_exposed_population,
        uncapped.is_window_complete,
        uncapped.is_window_truncated,
        uncapped.metric_value as uncapped_metric_value,
        case
            when catalog.cap_type = 'absolute' and uncapped.metric_value > catalog.cap_value then catalog.cap_value
            when catalog.cap_type = 'percentile' and uncapped.metric_value > percentile_caps.metric_cap then percentile_caps.metric_cap
            else uncapped.metric_value
        end as metric_value,
        uncapped.denominator_value,
        case
            when catalog.cap_type = 'absolute' and uncapped.covariate_value > catalog.cap_value then catalog.cap_value
            when catalog.cap_type = 'percentile' and uncapped.covariate_value > percentile_caps.covariate_cap then percentile_caps.covariate_cap
            else uncapped.covariate_value
        end as covariate_value

    from uncapped
    inner join catalog
        on uncapped.metric_id = catalog.metric_id
    left join percentile_caps
        on uncapped.experiment_id = percentile_caps.experiment_id
        and uncapped.experiment_version = percentile_caps.experiment_version
        and uncapped.metric_id = percentile_caps.metric_id

),

from_events as (

    select
        capped.*,
        metric_value < uncapped_metric_value as is_capped

    from capped

),

import_units as (

    select * from {{ ref('stg_landing__import_units') }}

),

import_outcomes as (

    select * from {{ ref('stg_landing__import_outcomes') }}

),

import_denominators as (

    select * from {{ ref('stg_landing__import_denominators') }}

),

flagged_units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_assigned_population or is_in_exposed_population

),

import_outcomes_ranked as (

    -- policy for units on several export rows: the outcome of the unit's first row (by time, then row number)
    select
        import_outcomes.*,
        row_number() over (
            partition by import_outcomes.experiment_id, import_outcomes.experiment_version, import_outcomes.unit_id, import_outcomes.metric_id
            order by import_units.observed_at, import_outcomes.source_row
        ) as row_rank

    from import_outcomes
    inner join import_units
        on import_outcomes.experiment_id = import_units.experiment_id
        and import_outcomes.experiment_version = import_units.experiment_version
        and import_outcomes.source_row = import_units.source_row

),

from_imports as (

    select
        flagged_units.unit_id,
        flagged_units.experiment_id,
        flagged_units.experiment_version,
        import_outcomes_ranked.metric_id,
        flagged_units.variant_id,
        flagged_units.is_in_assigned_population,
        flagged_units.is_in_exposed_population,
        true as is_window_complete,
        false as is_window_truncated,
        import_outcomes_ranked.metric_value as uncapped_metric_value,
        import_outcomes_ranked.metric_value,
        import_denominators.denominator_value,
        cast(null as {{ readout.type_double() }}) as covariate_value,
        false as is_capped

    from import_outcomes_ranked
    inner join flagged_units
        on import_outcomes_ranked.experiment_id = flagged_units.experiment_id
        and import_outcomes_ranked.experiment_version = flagged_units.experiment_version
        and import_outcomes_ranked.unit_id = flagged_units.unit_id
    -- ratio and conditional outcomes: the denominator of the same exported row (null for the others)
    left join import_denominators
        on import_outcomes_ranked.experiment_id = import_denominators.experiment_id
        and import_outcomes_ranked.experiment_version = import_denominators.experiment_version
        and import_outcomes_ranked.source_row = import_denominators.source_row
        and import_outcomes_ranked.metric_id = import_denominators.metric_id
    where import_outcomes_ranked.row_rank = 1

),

unioned as (

    select * from from_events
    union all
    select * from from_imports

)

select * from unioned
