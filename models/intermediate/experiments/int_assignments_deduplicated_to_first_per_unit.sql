{#- One row per unit x experiment version: its first assignment, and how many variants it was assigned. -#}
{#- ranked and variant_counts each read int_events_stitched themselves: a CTE of the assignment events read by
    both is materialized whole (every column) by DuckDB -#}
with

ranked as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        variant_id,
        assignment_mechanism,
        source_system,
        event_at,
        row_number() over (
            partition by unit_id, experiment_id, experiment_version
            order by event_at, event_id, source_system
        ) as assignment_rank,
        count(*) over (partition by unit_id, experiment_id, experiment_version) as assignment_count

    from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_assigned'

),

variant_counts as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        count(distinct variant_id) as assigned_variant_count

    from {{ ref('int_events_stitched') }}
    where event_name = 'experiment_assigned'
    group by 1, 2, 3

),

first_assignments as (

    select
        ranked.unit_id,
        ranked.experiment_id,
        ranked.experiment_version,
        ranked.variant_id,
        ranked.assignment_mechanism,
        ranked.source_system as assignment_source_system,
        ranked.event_at as assigned_at,
        ranked.assignment_count,
        variant_counts.assigned_variant_count

    from ranked
    inner join variant_counts
        on ranked.unit_id = variant_counts.unit_id
            and ranked.experiment_id = variant_counts.experiment_id
            and ranked.experiment_version = variant_counts.experiment_version
    where ranked.assignment_rank = 1

)

select * from first_assignments
