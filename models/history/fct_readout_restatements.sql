{#-
    The restatement log: for every frozen readout, each row whose numbers would now differ from the frozen
    ones (restatement_state 'pending', from metric_results_frozen_compared: this build's numbers and the cause
    of the move), and every restatement applied (`readout restate`, readouts/restated_metric_results.csv:
    'restated', the frozen numbers and those that replaced them, who restated it, when and why). While frozen,
    fct_metric_results keeps serving the frozen numbers: a pending row is what a restatement would change.
-#}
{%- set columns = ['experiment_id', 'experiment_version', 'population', 'variant_id', 'metric_id', 'estimator',
    'record_fingerprint', 'change_cause', 'frozen_readout_status', 'readout_status', 'frozen_n_units_control',
    'n_units_control', 'frozen_n_units_variant', 'n_units_variant', 'units_added', 'frozen_absolute_lift',
    'absolute_lift', 'frozen_absolute_lift_ci_lower', 'absolute_lift_ci_lower', 'frozen_absolute_lift_ci_upper',
    'absolute_lift_ci_upper', 'frozen_relative_lift', 'relative_lift', 'frozen_relative_lift_ci_lower',
    'relative_lift_ci_lower', 'frozen_relative_lift_ci_upper', 'relative_lift_ci_upper', 'frozen_p_value',
    'p_value', 'frozen_adjusted_p_value', 'adjusted_p_value', 'frozen_is_significant', 'is_significant',
    'is_significance_flip', 'has_moved', 'frozen_by', 'freeze_reason', 'frozen_code_version', 'code_version',
    'frozen_at', 'frozen_watermark_at', 'watermark_at'] -%}
with

compared as (

    select * from {{ ref('metric_results_frozen_compared') }}

),

restated as (

    select * from {{ ref('restated_metric_results') }}

),

pending as (

    select
        'pending' as restatement_state,
        {%- for column in columns %}
            compared.{{ column }},
        {%- endfor %}
        cast(null as {{ dbt.type_timestamp() }}) as restated_at,
        cast(null as {{ dbt.type_string() }}) as restated_by,
        cast(null as {{ dbt.type_string() }}) as restatement_reason

    from compared
    where compared.has_moved

),

applied as (

    select
        'restated' as restatement_state,
        {%- for column in columns %}
            restated.{{ column }},
        {%- endfor %}
        restated.restated_at,
        restated.restated_by,
        restated.restatement_reason

    from restated

),

unioned as (

    select * from pending
    union all
    select * from applied

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
        cast(record_fingerprint as {{ dbt.type_string() }}) as record_fingerprint,

        ---------- strings
        cast(restatement_state as {{ dbt.type_string() }}) as restatement_state,
        cast(change_cause as {{ dbt.type_string() }}) as change_cause,
        cast(frozen_readout_status as {{ dbt.type_string() }}) as frozen_readout_status,
        cast(readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(frozen_by as {{ dbt.type_string() }}) as frozen_by,
        cast(freeze_reason as {{ dbt.type_string() }}) as freeze_reason,
        cast(frozen_code_version as {{ dbt.type_string() }}) as frozen_code_version,
        cast(code_version as {{ dbt.type_string() }}) as code_version,
        cast(restated_by as {{ dbt.type_string() }}) as restated_by,
        cast(restatement_reason as {{ dbt.type_string() }}) as restatement_reason,

        ---------- numerics
        cast(frozen_n_units_control as {{ dbt.type_bigint() }}) as frozen_n_units_control,
        cast(n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(frozen_n_units_variant as {{ dbt.type_bigint() }}) as frozen_n_units_variant,
        cast(n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(units_added as {{ dbt.type_bigint() }}) as units_added,
        {%- for column in ['absolute_lift', 'absolute_lift_ci_lower', 'absolute_lift_ci_upper', 'relative_lift',
                           'relative_lift_ci_lower', 'relative_lift_ci_upper', 'p_value', 'adjusted_p_value'] %}
            cast(frozen_{{ column }} as {{ readout.type_double() }}) as frozen_{{ column }},
            cast({{ column }} as {{ readout.type_double() }}) as {{ column }},
        {%- endfor %}

        ---------- booleans
        cast(frozen_is_significant as {{ dbt.type_boolean() }}) as frozen_is_significant,
        cast(is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(is_significance_flip as {{ dbt.type_boolean() }}) as is_significance_flip,
        cast(has_moved as {{ dbt.type_boolean() }}) as has_moved,

        ---------- timestamps
        cast(frozen_at as {{ dbt.type_timestamp() }}) as frozen_at,
        cast(restated_at as {{ dbt.type_timestamp() }}) as restated_at,
        cast(frozen_watermark_at as {{ dbt.type_timestamp() }}) as frozen_watermark_at,
        cast(watermark_at as {{ dbt.type_timestamp() }}) as watermark_at

    from unioned

)

select * from final
