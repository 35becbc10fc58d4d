{#- Exploratory results per segment (exposure platform, tenure, unit attributes of events and imports): fct_metric_results' figures for the exposed units of one segment, each segment corrected as its own family, with the segment's sample-ratio check. -#}
with

inferred as (

    select * from {{ inferred('metric_results_by_segment_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(segment_type as {{ dbt.type_string() }}) as segment_type,
        cast(segment_value as {{ dbt.type_string() }}) as segment_value,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(estimator as {{ dbt.type_string() }}) as estimator,

        ---------- strings
        cast(control_variant_id as {{ dbt.type_string() }}) as control_variant_id,
        cast(metric_role as {{ dbt.type_string() }}) as metric_role,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(ci_method as {{ dbt.type_string() }}) as ci_method,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,
        cast(correction_method as {{ dbt.type_string() }}) as correction_method,
        cast(srm_status_reason as {{ dbt.type_string() }}) as srm_status_reason,

        ---------- numerics
        cast(n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(segment_units as {{ dbt.type_bigint() }}) as segment_units,
        cast(mean_control as {{ readout.type_double() }}) as mean_control,
        cast(mean_variant as {{ readout.type_double() }}) as mean_variant,
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
        cast(srm_p_value as {{ readout.type_double() }}) as srm_p_value,

        ---------- booleans
        cast(is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(is_sample_ratio_mismatch as {{ dbt.type_boolean() }}) as is_sample_ratio_mismatch,
        cast(is_exploratory as {{ dbt.type_boolean() }}) as is_exploratory

    from inferred

)

select * from final
