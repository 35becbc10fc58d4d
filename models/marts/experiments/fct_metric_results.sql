{#-
    The readout: one row per experiment version x population x treatment variant x metric x estimator, typed
    and contract-enforced, with its status (metric_result_statuses_computed): readout_status, the reason codes
    and one sentence, the units of its two arms left out because their window is in progress or truncated,
    and the watermark its data is complete to.
-#}
with

inferred as (

    select * from {{ ref('metric_results_inferred') }}

),

definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

statuses as (

    select * from {{ ref('metric_result_statuses_computed') }}

),

final as (

    select
        ----------  ids
        cast(inferred.experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(inferred.experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(inferred.population as {{ dbt.type_string() }}) as population,
        cast(inferred.variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(inferred.metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(inferred.estimator as {{ dbt.type_string() }}) as estimator,
        cast(inferred.control_variant_id as {{ dbt.type_string() }}) as control_variant_id,

        ---------- strings
        cast(definitions.role as {{ dbt.type_string() }}) as metric_role,
        cast(definitions.direction as {{ dbt.type_string() }}) as direction,
        cast(inferred.ci_method as {{ dbt.type_string() }}) as ci_method,
        cast(inferred.guardrail_status as {{ dbt.type_string() }}) as guardrail_status,
        cast(inferred.status_reason as {{ dbt.type_string() }}) as status_reason,
        cast(inferred.correction_method as {{ dbt.type_string() }}) as correction_method,
        cast(statuses.readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(statuses.status_reasons as {{ dbt.type_string() }}) as status_reasons,
        cast(statuses.status_reason_text as {{ dbt.type_string() }}) as status_reason_text,

        ---------- numerics
        cast(inferred.n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(inferred.n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(statuses.n_units_window_in_progress as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(statuses.n_units_window_truncated as {{ dbt.type_bigint() }}) as n_units_window_truncated,
        cast(inferred.mean_control as {{ readout.type_double() }}) as mean_control,
        cast(inferred.mean_variant as {{ readout.type_double() }}) as mean_variant,
        cast(inferred.absolute_lift as {{ readout.type_double() }}) as absolute_lift,
        cast(inferred.absolute_lift_ci_lower as {{ readout.type_double() }}) as absolute_lift_ci_lower,
        cast(inferred.absolute_lift_ci_upper as {{ readout.type_double() }}) as absolute_lift_ci_upper,
        cast(inferred.relative_lift as {{ readout.type_double() }}) as relative_lift,
        cast(inferred.relative_lift_ci_lower as {{ readout.type_double() }}) as relative_lift_ci_lower,
        cast(inferred.relative_lift_ci_upper as {{ readout.type_double() }}) as relative_lift_ci_upper,
        cast(inferred.p_value as {{ readout.type_double() }}) as p_value,
        cast(inferred.adjusted_p_value as {{ readout.type_double() }}) as adjusted_p_value,
        cast(inferred.correction_family_size as {{ dbt.type_int() }}) as correction_family_size,
        cast(inferred.sequential_ci_lower as {{ readout.type_double() }}) as sequential_ci_lower,
        cast(inferred.sequential_ci_upper as {{ readout.type_double() }}) as sequential_ci_upper,
        cast(inferred.alpha as {{ readout.type_double() }}) as alpha,

        ---------- booleans
        cast(inferred.is_significant as {{ dbt.type_boolean() }}) as is_significant,

        ---------- timestamps
        cast(statuses.watermark_at as {{ dbt.type_timestamp() }}) as watermark_at

    from inferred
    left join definitions
        on inferred.experiment_id = definitions.experiment_id
        and inferred.experiment_version = definitions.experiment_version
        and inferred.metric_id = definitions.metric_id
    left join statuses
        on inferred.experiment_id = statuses.experiment_id
        and inferred.experiment_version = statuses.experiment_version
        and inferred.population = statuses.population
        and inferred.variant_id = statuses.variant_id
        and inferred.metric_id = statuses.metric_id

)

select * from final
