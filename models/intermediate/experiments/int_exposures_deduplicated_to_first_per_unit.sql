{#- One row per unit x experiment version: its first exposure (with its event properties, where segments read unit attributes), how often and in how many variants it was exposed. -#}
with

events as (

    select * from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_exposed'

),

ranked as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        variant_id,
        source_system,
        event_at,
        properties,
        row_number() over (
            partition by unit_id, experiment_id, experiment_version
            order by event_at, event_id, source_system
        ) as exposure_rank

    from events

),

summarised as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        count(*) as exposure_count,
        count(distinct variant_id) as exposed_variant_count,
        max(event_at) as last_exposed_at

    from events
    group by 1, 2, 3

),

first_exposures as (

    select
        ranked.unit_id,
        ranked.experiment_id,
        ranked.experiment_version,
        ranked.variant_id as exposed_variant_id,
        ranked.source_system as exposure_source_system,
        ranked.event_at as first_exposed_at,
        ranked.properties as first_exposure_properties,
        summarised.last_exposed_at,
        summarised.exposure_count,
        summarised.exposed_variant_count

    from ranked
    inner join summarised
        on ranked.unit_id = summarised.unit_id
            and ranked.experiment_id = summarised.experiment_id
            and ranked.experiment_version = summarised.experiment_version
    where ranked.exposure_rank = 1

)

select * from first_exposures
