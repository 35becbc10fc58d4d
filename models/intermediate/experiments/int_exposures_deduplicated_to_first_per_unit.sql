{#-
    One row per unit x experiment version: its first exposure (with its event properties, where segments read
    unit attributes), how often and in how many variants it was exposed. The window ranks narrow rows; the
    first exposure's JSON properties are joined to the one row it picks (by experiment version, source_system
    and event_id, unique among the stitched events), not carried through the window. Each CTE reads
    int_events_stitched itself: a CTE of the exposure events read by several is materialized whole (every
    column) by DuckDB.
-#}
with

ranked as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        variant_id,
        source_system,
        event_id,
        event_at,
        row_number() over (
            partition by unit_id, experiment_id, experiment_version
            order by event_at, event_id, source_system
        ) as exposure_rank

    from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_exposed'

),

summarised as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        count(*) as exposure_count,
        count(distinct variant_id) as exposed_variant_count,
        max(event_at) as last_exposed_at

    from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_exposed'
    group by 1, 2, 3

),

exposure_properties as (

    select
        experiment_id,
        experiment_version,
        source_system,
        event_id,
        properties

    from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_exposed'

),

first_exposures as (

    select
        ranked.unit_id,
        ranked.experiment_id,
        ranked.experiment_version,
        ranked.variant_id as exposed_variant_id,
        ranked.source_system as exposure_source_system,
        ranked.event_at as first_exposed_at,
        exposure_properties.properties as first_exposure_properties,
        summarised.last_exposed_at,
        summarised.exposure_count,
        summarised.exposed_variant_count

    from ranked
    inner join summarised
        on ranked.unit_id = summarised.unit_id
            and ranked.experiment_id = summarised.experiment_id
            and ranked.experiment_version = summarised.experiment_version
    left join exposure_properties
        on ranked.experiment_id = exposure_properties.experiment_id
            and ranked.experiment_version = exposure_properties.experiment_version
            and ranked.source_system = exposure_properties.source_system
            and ranked.event_id = exposure_properties.event_id
    where ranked.exposure_rank = 1

)

select * from first_exposures
