{#-
    fct_variant_metric_stats cut by segment (int_experiment_unit_segments), for the exposed population:
    experiment version x segment type x segment value x variant x metric, with the same sufficient
    statistics (readout.variant_metric_sums) over the units of the segment whose window is complete.
-#}
with

unit_values as (

    select * from {{ ref('int_unit_metric_values') }}
    where is_in_exposed_population

),

segments as (

    select * from {{ ref('int_experiment_unit_segments') }}

),

stats as (

    select * from {{ ref('fct_variant_metric_stats') }}
    where population = 'exposed'

),

segmented_values as (

    select
        segments.segment_type,
        segments.segment_value,
        unit_values.*

    from unit_values
    inner join segments
        on unit_values.unit_id = segments.unit_id
            and unit_values.experiment_id = segments.experiment_id
            and unit_values.experiment_version = segments.experiment_version

),

aggregated as (

    select
        experiment_id,
        experiment_version,
        segment_type,
        segment_value,
        variant_id,
        metric_id,
        {{ readout.variant_metric_sums() }}

    from segmented_values
    group by 1, 2, 3, 4, 5, 6

),

final as (

    select
        aggregated.*,
        'exposed' as population,
        stats.metric_type,
        stats.direction,
        stats.role,
        stats.metric_version,
        stats.allocation_weight,
        stats.non_inferiority_margin,
        stats.is_control

    from aggregated
    inner join stats
        on aggregated.experiment_id = stats.experiment_id
            and aggregated.experiment_version = stats.experiment_version
            and aggregated.variant_id = stats.variant_id
            and aggregated.metric_id = stats.metric_id

)

select * from final
