{#-
    Peeking, checked: the readout of summary-statistics imports (readout import, kind: summary) at every
    checkpoint the export gives, one row per experiment version x population x treatment variant x metric x
    checkpoint (unadjusted estimator; population assigned). The last checkpoint is the fixed-horizon readout,
    the same numbers as fct_metric_results. At each checkpoint: the fixed-horizon test a team would have seen
    had it looked then (p_value, adjusted_p_value and is_significant, one correction family per checkpoint),
    and the always-valid confidence sequence (readout.stats.sequential, tuned to the experiment's planned sample
    size): is_sequentially_significant where it excludes zero. first_stop_checkpoint_index is the first
    checkpoint where it did (null: never), could_have_stopped_early says that came before the last checkpoint:
    a team that peeked at every checkpoint could have stopped there without inflating its false-positive rate.
-#}
with

inferred as (

    select * from {{ inferred('summary_results_by_checkpoint_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(checkpoint as {{ dbt.type_int() }}) as checkpoint_index,

        ---------- strings
        cast(checkpoint_label as {{ dbt.type_string() }}) as checkpoint_label,
        cast(control_variant_id as {{ dbt.type_string() }}) as control_variant_id,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,

        ---------- numerics
        cast(n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
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
        cast(sequential_ci_lower as {{ readout.type_double() }}) as sequential_ci_lower,
        cast(sequential_ci_upper as {{ readout.type_double() }}) as sequential_ci_upper,
        cast(alpha as {{ readout.type_double() }}) as alpha,
        cast(final_checkpoint as {{ dbt.type_int() }}) as final_checkpoint_index,
        cast(first_stop_checkpoint as {{ dbt.type_int() }}) as first_stop_checkpoint_index,

        ---------- booleans
        cast(is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(is_sequentially_significant as {{ dbt.type_boolean() }}) as is_sequentially_significant,
        cast(is_final_checkpoint as {{ dbt.type_boolean() }}) as is_final_checkpoint,
        cast(could_have_stopped_early as {{ dbt.type_boolean() }}) as could_have_stopped_early,

        ---------- timestamps
        cast(checkpoint_at as {{ dbt.type_timestamp() }}) as checkpoint_at

    from inferred

)

select * from final
