{#-
    The readout as served: one row per experiment version x population x treatment variant x metric x
    estimator, typed and contract-enforced. Each experiment version is served one of two ways:
    - not frozen: what the numbers are now (metric_results_current), with the status the data gives;
    - frozen (`readout freeze`, seeds/frozen_metric_results.csv): the frozen rows, byte for byte, with
      readout_status 'frozen', status_reasons 'frozen' and a sentence saying who froze it, when and why, and
      what its status was then. Rows that exist now but not in the record (a metric added since) are not
      served; fct_readout_restatements lists them with every number that moved. `readout restate` is the
      only way a frozen number changes.
-#}
{%- set columns = [
    ('experiment_id', dbt.type_string()), ('experiment_version', dbt.type_int()),
    ('population', dbt.type_string()), ('variant_id', dbt.type_string()), ('metric_id', dbt.type_string()),
    ('estimator', dbt.type_string()), ('control_variant_id', dbt.type_string()),
    ('metric_role', dbt.type_string()), ('direction', dbt.type_string()), ('ci_method', dbt.type_string()),
    ('guardrail_status', dbt.type_string()), ('status_reason', dbt.type_string()),
    ('correction_method', dbt.type_string()), ('readout_status', dbt.type_string()),
    ('status_reasons', dbt.type_string()), ('status_reason_text', dbt.type_string()),
    ('n_units_control', dbt.type_bigint()), ('n_units_variant', dbt.type_bigint()),
    ('n_units_window_in_progress', dbt.type_bigint()), ('n_units_window_truncated', dbt.type_bigint()),
    ('mean_control', readout.type_double()), ('mean_variant', readout.type_double()),
    ('absolute_lift', readout.type_double()), ('absolute_lift_ci_lower', readout.type_double()),
    ('absolute_lift_ci_upper', readout.type_double()), ('relative_lift', readout.type_double()),
    ('relative_lift_ci_lower', readout.type_double()), ('relative_lift_ci_upper', readout.type_double()),
    ('p_value', readout.type_double()), ('adjusted_p_value', readout.type_double()),
    ('correction_family_size', dbt.type_int()), ('sequential_ci_lower', readout.type_double()),
    ('sequential_ci_upper', readout.type_double()), ('alpha', readout.type_double()),
    ('is_significant', dbt.type_boolean()), ('watermark_at', dbt.type_timestamp()),
] -%}
{%- set status_columns = ['readout_status', 'status_reasons', 'status_reason_text'] -%}
with  -- noqa: disable=LT02

current_results as (

    select * from {{ ref('metric_results_current') }}

),

frozen as (

    select * from {{ ref('frozen_metric_results') }}

),

frozen_versions as (

    select distinct
        experiment_id,
        experiment_version

    from frozen

),

not_frozen as (

    select current_results.*
    from current_results
    left join frozen_versions
        on current_results.experiment_id = frozen_versions.experiment_id
            and current_results.experiment_version = frozen_versions.experiment_version
    where frozen_versions.experiment_id is null

),

frozen_served as (

    -- the frozen numbers as recorded; only the status says it is frozen, and what it was when frozen
    select
        {%- for name, type in columns if name not in status_columns %}
            frozen.{{ name }},
        {%- endfor %}
        'frozen' as readout_status,
        'frozen' as status_reasons,
        {{ dbt.concat([
            "'Frozen by '", "frozen.frozen_by", "' on '",
            "cast(cast(frozen.frozen_at as date) as " ~ dbt.type_string() ~ ")",
            "': '", "frozen.freeze_reason",
            "'. The numbers are those of the freeze, when the readout read: '", "frozen.status_reason_text",
        ]) }} as status_reason_text

    from frozen

),

served as (

    select
    {%- for name, type in columns %}
            {{ name }}{{ "," if not loop.last }}
    
        {%- endfor %}
    from not_frozen

    union all

    select
    {%- for name, type in columns %}
            {{ name }}{{ "," if not loop.last }}
    
        {%- endfor %}
    from frozen_served

),

final as (

    select
    {%- for name, type in columns %}
            cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    
        {%- endfor %}

    from served

)

select * from final
