{#-
    Per-variant sufficient statistics: experiment version x population (assigned = intent to treat,
    exposed = eligible exposed units) x variant x metric. Only units whose metric window is complete
    (int_experiment_unit_metric_windows) are in n_units and the sums; the others are counted, in
    n_units_window_in_progress (not yet complete at the version's watermark) or n_units_window_truncated
    (cut short by the experiment's end: never complete). Every sum is exact
    (readout.exact_sum: terms rounded to 6 decimal places, added as decimals), so two builds of the
    same data give byte-identical statistics and readouts.
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

    select 'assigned' as population, unit_values.* from unit_values where is_in_assigned_population
    union all
    select 'exposed' as population, unit_values.* from unit_values where is_in_exposed_population

),

aggregated as (

    select
        experiment_id,
        experiment_version,
        population,
        variant_id,
        metric_id,
        sum(case when is_window_complete then 1 else 0 end) as n_units,
        sum(case when is_window_complete or is_window_truncated then 0 else 1 end) as n_units_window_in_progress,
        sum(case when is_window_truncated then 1 else 0 end) as n_units_window_truncated,
        sum(case when is_window_complete and is_capped then 1 else 0 end) as n_units_capped,
        -- exact sums (readout.exact_sum): a rebuild of the same data gives byte-identical statistics
        {{ readout.exact_sum('case when is_window_complete then metric_value end') }} as metric_sum,
        {{ readout.exact_sum('case when is_window_complete then metric_value * metric_value end') }} as metric_sum_of_squares,
        {{ readout.exact_sum('case when is_window_complete then denominator_value end') }} as denominator_sum,
        {{ readout.exact_sum('case when is_window_complete then denominator_value * denominator_value end') }} as denominator_sum_of_squares,
        {{ readout.exact_sum('case when is_window_complete then metric_value * denominator_value end') }} as metric_denominator_cross_sum,
        {{ readout.exact_sum('case when is_window_complete then covariate_value end') }} as covariate_sum,
        {{ readout.exact_sum('case when is_window_complete then covariate_value * covariate_value end') }} as covariate_sum_of_squares,
        {{ readout.exact_sum('case when is_window_complete then metric_value * covariate_value end') }} as metric_covariate_cross_sum

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
        cast(aggregated.n_units as {{ dbt.type_bigint() }}) as n_units,
        cast(aggregated.n_units_window_in_progress as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(aggregated.n_units_window_truncated as {{ dbt.type_bigint() }}) as n_units_window_truncated,
        cast(aggregated.n_units_capped as {{ dbt.type_bigint() }}) as n_units_capped,
        cast(aggregated.metric_sum as {{ readout.type_double() }}) as metric_sum,
        cast(aggregated.metric_sum_of_squares as {{ readout.type_double() }}) as metric_sum_of_squares,
        cast(aggregated.denominator_sum as {{ readout.type_double() }}) as denominator_sum,
        cast(aggregated.denominator_sum_of_squares as {{ readout.type_double() }}) as denominator_sum_of_squares,
        cast(aggregated.metric_denominator_cross_sum as {{ readout.type_double() }}) as metric_denominator_cross_sum,
        cast(aggregated.covariate_sum as {{ readout.type_double() }}) as covariate_sum,
        cast(aggregated.covariate_sum_of_squares as {{ readout.type_double() }}) as covariate_sum_of_squares,
        cast(aggregated.metric_covariate_cross_sum as {{ readout.type_double() }}) as metric_covariate_cross_sum,

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
