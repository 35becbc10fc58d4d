{#-
    Events per experiment version x platform (source_system) x event name x day x variant, the input of the
    volume checks (fct_volume_checks). A unit's events count for the variant it was assigned, from its
    assignment on, within the version's window: its exposures to the version, and its outcome events
    (sessions, signups, purchases). Only units of the intent-to-treat population count (bots, consent-denied
    units and units in several variants would only add noise). Every configured variant of the version has
    a row on every day its platform logged that event for any variant (zero when it logged none), so a
    variant that lost a whole day shows up as a zero, not as a missing row.
-#}
{#- The exposures and the outcome events each read int_events_stitched themselves, only the columns they
    count: one CTE of the events read by both is materialized whole (every column) by DuckDB. -#}
with

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_assigned_population

),

versions as (

    select * from {{ ref('int_experiment_versions') }}
    where started_at is not null

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

units_in_window as (

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        units.assigned_at,
        versions.started_at,
        versions.ended_at

    from units
    inner join versions
        on units.experiment_id = versions.experiment_id
            and units.experiment_version = versions.experiment_version

),

-- exposures to the version itself (a unit in two experiments has exposures to each)
exposure_events as (

    select
        units_in_window.experiment_id,
        units_in_window.experiment_version,
        units_in_window.variant_id,
        events.source_system,
        events.event_name,
        cast(events.event_at as date) as event_date

    from units_in_window
    inner join {{ ref('int_events_stitched') }} as events
        on units_in_window.unit_id = events.unit_id
            and units_in_window.experiment_id = events.experiment_id
            and units_in_window.experiment_version = events.experiment_version
    where events.event_name = 'experiment_exposed'
        and events.event_at is not null
        and events.event_at >= units_in_window.started_at
        and (units_in_window.ended_at is null or events.event_at < units_in_window.ended_at)

),

-- outcome events of the unit from its assignment on (before it, the variant cannot have lost them)
outcome_events as (

    select
        units_in_window.experiment_id,
        units_in_window.experiment_version,
        units_in_window.variant_id,
        events.source_system,
        events.event_name,
        cast(events.event_at as date) as event_date

    from units_in_window
    inner join {{ ref('int_events_stitched') }} as events
        on units_in_window.unit_id = events.unit_id
    where events.event_name not in ('experiment_exposed', 'experiment_assigned')
        and events.event_at is not null
        and events.event_at >= units_in_window.assigned_at
        and events.event_at >= units_in_window.started_at
        and (units_in_window.ended_at is null or events.event_at < units_in_window.ended_at)

),

unioned as (

    select * from exposure_events
    union all
    select * from outcome_events

),

counted as (

    select
        experiment_id,
        experiment_version,
        source_system,
        event_name,
        event_date,
        variant_id,
        count(*) as event_count

    from unioned
    group by 1, 2, 3, 4, 5, 6

),

days as (

    select distinct
        experiment_id,
        experiment_version,
        source_system,
        event_name,
        event_date

    from counted

),

grid as (

    select
        days.experiment_id,
        days.experiment_version,
        days.source_system,
        days.event_name,
        days.event_date,
        variants.variant_id

    from days
    inner join variants
        on days.experiment_id = variants.experiment_id
            and days.experiment_version = variants.experiment_version

),

final as (

    select
        grid.experiment_id,
        grid.experiment_version,
        grid.source_system,
        case when grid.event_name = 'experiment_exposed' then 'exposure' else 'outcome' end as event_class,
        grid.event_name,
        grid.event_date,
        grid.variant_id,
        cast(coalesce(counted.event_count, 0) as {{ dbt.type_bigint() }}) as event_count

    from grid
    left join counted
        on grid.experiment_id = counted.experiment_id
            and grid.experiment_version = counted.experiment_version
            and grid.source_system = counted.source_system
            and grid.event_name = counted.event_name
            and grid.event_date = counted.event_date
            and grid.variant_id = counted.variant_id

)

select * from final
