{#-
    One row per unit x experiment version x metric: the metric's numerator (and denominator for
    ratios) inside the unit's window, and the same numerator over the pre-exposure covariate window
    (the CUPED covariate), capped as the catalog says; the unit's populations and its window's state
    (complete, truncated) from int_experiment_unit_metric_windows. The counting over the events is in
    int_unit_metric_aggregates (one row per unit x experiment version, every metric side by side,
    incremental); this model puts its values back on the windows' rows (one per metric), caps them and adds
    the units of imported exports with their own outcomes. It reads no event: a refresh rebuilds it from the
    two tables, so a moved watermark or population is current without recounting anything.
-#}
-- depends_on: {{ ref('metric_catalog') }}
{% set metrics = readout.metric_catalog_rows() %}

with

windows as (

    select * from {{ ref('int_experiment_unit_metric_windows') }}

),

unit_aggregates as (

    select * from {{ ref('int_unit_metric_aggregates') }}

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
                when
                    windows.metric_id = {{ readout.quote_string(metric.metric_id) }}
                    then coalesce(unit_aggregates.metric_value__{{ metric.metric_id }}, 0)
            {%- endfor %}
            when 1 = 0 then cast(null as {{ readout.type_double() }})
        end as metric_value,
        case
            {%- for metric in metrics if metric.metric_type == 'ratio' %}
                when
                    windows.metric_id = {{ readout.quote_string(metric.metric_id) }}
                    then coalesce(unit_aggregates.denominator_value__{{ metric.metric_id }}, 0)
            {%- endfor %}
            when 1 = 0 then cast(null as {{ readout.type_double() }})
        end as denominator_value,
        case
            {%- for metric in metrics if metric.covariate_lookback_days is not none and metric.metric_type != 'ratio' %}
                when
                    windows.metric_id = {{ readout.quote_string(metric.metric_id) }}
                    then coalesce(unit_aggregates.covariate_value__{{ metric.metric_id }}, 0)
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
            when
                catalog.cap_type = 'percentile' and uncapped.metric_value > percentile_caps.metric_cap
                then percentile_caps.metric_cap
            else uncapped.metric_value
        end as metric_value,
        uncapped.denominator_value,
        case
            when catalog.cap_type = 'absolute' and uncapped.covariate_value > catalog.cap_value then catalog.cap_value
            when
                catalog.cap_type = 'percentile' and uncapped.covariate_value > percentile_caps.covariate_cap
                then percentile_caps.covariate_cap
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
        capped.metric_value < capped.uncapped_metric_value as is_capped

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
            partition by
                import_outcomes.experiment_id,
                import_outcomes.experiment_version,
                import_outcomes.unit_id,
                import_outcomes.metric_id
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
