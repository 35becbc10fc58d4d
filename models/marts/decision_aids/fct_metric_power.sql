{#- Power and sample size for every result (readout.stats.power): the effect detectable now, the units the planned effect needs, the days to reach them. -#}
with

inferred as (

    select * from {{ inferred('metric_power_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(estimator as {{ dbt.type_string() }}) as estimator,

        ---------- strings
        cast(metric_role as {{ dbt.type_string() }}) as metric_role,
        cast(readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,

        ---------- numerics
        cast(alpha as {{ readout.type_double() }}) as alpha,
        cast(power as {{ readout.type_double() }}) as power,
        cast(n_units as {{ dbt.type_bigint() }}) as n_units,
        cast(relative_lift_std_error as {{ readout.type_double() }}) as relative_lift_std_error,
        cast(minimum_detectable_effect as {{ readout.type_double() }}) as minimum_detectable_effect,
        cast(planned_minimum_effect as {{ readout.type_double() }}) as planned_minimum_effect,
        cast(n_units_required as {{ dbt.type_bigint() }}) as n_units_required,
        cast(n_units_entered as {{ dbt.type_bigint() }}) as n_units_entered,
        cast(entry_days as {{ readout.type_double() }}) as entry_days,
        cast(days_to_required_units as {{ readout.type_double() }}) as days_to_required_units

    from inferred

)

select * from final
