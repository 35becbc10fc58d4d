{#-
    Per-variant sufficient statistics: experiment version x population (assigned = intent to treat,
    exposed = eligible exposed units) x variant x metric. Only units whose metric window is complete
    (int_experiment_unit_metric_windows) are in n_units and the sums; the others are counted, in
    n_units_window_in_progress (not yet complete at the version's watermark) or n_units_window_truncated
    (cut short by the experiment's end: never complete). The sums are readout.variant_metric_sums: exact,
    so two builds of the same data give byte-identical statistics and readouts.
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

final as (

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

)

select * from final
