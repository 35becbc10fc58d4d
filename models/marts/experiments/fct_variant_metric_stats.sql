{#-
    Per-variant sufficient statistics: experiment version x population (assigned = intent to treat,
    exposed = eligible exposed units) x variant x metric. Only units whose metric window is complete
    (int_experiment_unit_metric_windows) are in n_units and the sums; the others are counted, in
    n_units_window_in_progress (not yet complete at the version's watermark) or n_units_window_truncated
    (cut short by the experiment's end: never complete). The sums are readout.variant_metric_sums: exact,
    so two builds of the same data give byte-identical statistics and readouts. Summary-statistics imports
    (readout import, kind: summary: per-arm aggregates, no units) are unioned in at each version's last
    checkpoint (int_import_summary_stats), in both populations as for a unit import without an exposure
    column (exposure = assignment).
-#}
with

unit_values as (

    select * from {{ ref('int_unit_metric_values') }}

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

summaries as (

    select * from {{ ref('int_import_summary_stats') }}
    where is_final_checkpoint

),

populations as (

    select 'assigned' as population
    union all
    select 'exposed' as population

),

by_population as (

    select
        'assigned' as population,
        unit_values.*
    from unit_values
    where unit_values.is_in_assigned_population
    union all
    select
        'exposed' as population,
        unit_values.*
    from unit_values
    where unit_values.is_in_exposed_population

),

aggregated as (

    select
        experiment_id,
        experiment_version,
        population,
        variant_id,
        metric_id,
        {{ readout.variant_metric_sums() }}

    from by_population
    group by 1, 2, 3, 4, 5

),

from_units as (

    select
        ----------  ids
        aggregated.experiment_id,
        aggregated.experiment_version,
        aggregated.population,
        aggregated.variant_id,
        aggregated.metric_id,

        ---------- strings
        definitions.metric_type,
        definitions.direction,
        definitions.role,

        ---------- numerics
        definitions.metric_version,
        cast(variants.allocation_weight as {{ readout.type_double() }}) as allocation_weight,
        definitions.non_inferiority_margin,
        aggregated.n_units,
        aggregated.n_units_window_in_progress,
        aggregated.n_units_window_truncated,
        aggregated.n_units_capped,
        aggregated.metric_sum,
        aggregated.metric_sum_of_squares,
        aggregated.denominator_sum,
        aggregated.denominator_sum_of_squares,
        aggregated.metric_denominator_cross_sum,
        aggregated.covariate_sum,
        aggregated.covariate_sum_of_squares,
        aggregated.metric_covariate_cross_sum,

        ---------- booleans
        variants.is_control

    from aggregated
    inner join variants
        on aggregated.experiment_id = variants.experiment_id
            and aggregated.experiment_version = variants.experiment_version
            and aggregated.variant_id = variants.variant_id
    inner join definitions
        on aggregated.experiment_id = definitions.experiment_id
            and aggregated.experiment_version = definitions.experiment_version
            and aggregated.metric_id = definitions.metric_id

),

from_summaries as (

    select
        summaries.experiment_id,
        summaries.experiment_version,
        populations.population,
        summaries.variant_id,
        summaries.metric_id,
        summaries.metric_type,
        summaries.direction,
        summaries.role,
        summaries.metric_version,
        summaries.allocation_weight,
        summaries.non_inferiority_margin,
        summaries.n_units,
        summaries.n_units_window_in_progress,
        summaries.n_units_window_truncated,
        summaries.n_units_capped,
        summaries.metric_sum,
        summaries.metric_sum_of_squares,
        summaries.denominator_sum,
        summaries.denominator_sum_of_squares,
        summaries.metric_denominator_cross_sum,
        summaries.covariate_sum,
        summaries.covariate_sum_of_squares,
        summaries.metric_covariate_cross_sum,
        summaries.is_control

    from summaries
    cross join populations

),

final as (

    select * from from_units
    union all
    select * from from_summaries

)

select * from final
