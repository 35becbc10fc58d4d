{#-
    The segments an exposed unit of an experiment version falls in, one row per unit x version x segment type:
    - exposure_platform: the source system of its first exposure;
    - tenure: returning when the unit was first seen (its earliest accepted event, any experiment) on a day
      before the version started, else new.
    Every exposed unit has exactly one value of each segment type, so a segment type's values add up to the
    exposed population.
-#}
with

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_exposed_population

),

events as (

    select * from {{ ref('int_events_stitched') }}

),

first_seen as (

    select
        unit_id,
        min(event_at) as first_seen_at

    from events
    group by 1

),

segmented as (

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        'exposure_platform' as segment_type,
        coalesce(units.exposure_source_system, 'unknown') as segment_value

    from units

    union all

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        'tenure' as segment_type,
        case
            when cast(first_seen.first_seen_at as date) < cast(units.experiment_started_at as date) then 'returning'
            else 'new'
        end as segment_value

    from units
    left join first_seen
        on units.unit_id = first_seen.unit_id

)

select * from segmented
