{#- Funnel results: per treatment variant and step, conversion to the step (reach) and from the step before (from_previous, delta method), against control; each funnel its own correction family. -#}
with

inferred as (

    select * from {{ inferred('funnel_results_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(funnel_id as {{ dbt.type_string() }}) as funnel_id,
        cast(step_number as {{ dbt.type_int() }}) as step_number,
        cast(measure as {{ dbt.type_string() }}) as measure,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(step_name as {{ dbt.type_string() }}) as step_name,
        cast(control_variant_id as {{ dbt.type_string() }}) as control_variant_id,
        cast(ci_method as {{ dbt.type_string() }}) as ci_method,
        cast(correction_method as {{ dbt.type_string() }}) as correction_method,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,

        ---------- numerics
        cast(n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(mean_control as {{ readout.type_double() }}) as conversion_control,
        cast(mean_variant as {{ readout.type_double() }}) as conversion_variant,
        cast(absolute_lift as {{ readout.type_double() }}) as absolute_lift,
        cast(absolute_lift_ci_lower as {{ readout.type_double() }}) as absolute_lift_ci_lower,
        cast(absolute_lift_ci_upper as {{ readout.type_double() }}) as absolute_lift_ci_upper,
        cast(relative_lift as {{ readout.type_double() }}) as relative_lift,
        cast(relative_lift_ci_lower as {{ readout.type_double() }}) as relative_lift_ci_lower,
        cast(relative_lift_ci_upper as {{ readout.type_double() }}) as relative_lift_ci_upper,
        cast(p_value as {{ readout.type_double() }}) as p_value,
        cast(adjusted_p_value as {{ readout.type_double() }}) as adjusted_p_value,
        cast(correction_family_size as {{ dbt.type_int() }}) as correction_family_size,
        cast(alpha as {{ readout.type_double() }}) as alpha,

        ---------- booleans
        cast(is_significant as {{ dbt.type_boolean() }}) as is_significant

    from inferred

)

select * from final
