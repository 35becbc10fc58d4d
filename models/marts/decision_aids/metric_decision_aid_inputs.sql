{#-
    What the Bayesian view and the power analysis read: every row of fct_metric_results with its relative
    lift's interval, and the pace at which the two arms it compares have been taking in units (units entered
    so far, and the days from the first to the latest entry: assignment for the assigned population, first
    exposure for the exposed one).
-#}
with

results as (

    select * from {{ ref('fct_metric_results') }}

),

units as (

    select * from {{ ref('fct_experiment_units') }}

),

entered as (

    select
        experiment_id,
        experiment_version,
        'assigned' as population,
        variant_id,
        assigned_at as entered_at
    from units
    where is_in_assigned_population
    union all
    select
        experiment_id,
        experiment_version,
        'exposed' as population,
        variant_id,
        first_exposed_at as entered_at
    from units
    where is_in_exposed_population

),

per_variant as (

    select
        experiment_id,
        experiment_version,
        population,
        variant_id,
        count(*) as n_units_entered,
        min(entered_at) as first_entered_at,
        max(entered_at) as last_entered_at

    from entered
    group by 1, 2, 3, 4

),

final as (

    select
        results.experiment_id,
        results.experiment_version,
        results.population,
        results.variant_id,
        results.metric_id,
        results.estimator,
        results.control_variant_id,
        results.metric_role,
        results.direction,
        results.readout_status,
        results.alpha,
        results.n_units_control,
        results.n_units_variant,
        results.relative_lift,
        results.relative_lift_ci_lower,
        results.relative_lift_ci_upper,
        coalesce(control.n_units_entered, 0) + coalesce(variant.n_units_entered, 0) as n_units_entered,
        -- seconds over a double: 86400.0 is a decimal on Spark (a bigint over it rounds to 6 decimals)
        {{ dbt.datediff(
            'least(control.first_entered_at, variant.first_entered_at)',
            'greatest(control.last_entered_at, variant.last_entered_at)',
            'second'
        ) }} / cast(86400 as {{ readout.type_double() }}) as entry_days

    from results
    left join per_variant as control
        on results.experiment_id = control.experiment_id
            and results.experiment_version = control.experiment_version
            and results.population = control.population
            and results.control_variant_id = control.variant_id
    left join per_variant as variant
        on results.experiment_id = variant.experiment_id
            and results.experiment_version = variant.experiment_version
            and results.population = variant.population
            and results.variant_id = variant.variant_id

)

select * from final
