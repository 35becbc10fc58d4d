{#-
    Identity anomalies: units seen (assigned or exposed) in more than one variant of one experiment
    version, one row per unit x experiment version x variant x source system, with what was seen there.
-#}
{#- Each CTE reads int_events_stitched itself: a CTE of the events read by both is materialized whole by DuckDB. -#}
with

anomalous_units as (

    select
        unit_id,
        experiment_id,
        experiment_version

    from {{ ref('int_events_stitched') }}
    where event_name in ('experiment_assigned', 'experiment_exposed')
    group by 1, 2, 3
    having count(distinct variant_id) > 1

),

per_variant_and_source as (

    select
        events.unit_id,
        events.experiment_id,
        events.experiment_version,
        events.variant_id,
        events.source_system,
        count(distinct events.anonymous_id) as anonymous_id_count,
        sum(case when events.event_name = 'experiment_assigned' then 1 else 0 end) as assignment_event_count,
        sum(case when events.event_name = 'experiment_exposed' then 1 else 0 end) as exposure_event_count,
        min(events.event_at) as first_seen_at,
        max(events.event_at) as last_seen_at

    from {{ ref('int_events_stitched') }} as events
    inner join anomalous_units
        on events.unit_id = anomalous_units.unit_id
            and events.experiment_id = anomalous_units.experiment_id
            and events.experiment_version = anomalous_units.experiment_version
    where events.event_name in ('experiment_assigned', 'experiment_exposed')
    group by 1, 2, 3, 4, 5

)

select * from per_variant_and_source
