{#-
    Every frozen readout (readouts/frozen_metric_results.csv) against what its numbers would now be
    (metric_results_current): one row per row of a frozen experiment version, frozen or current (a row in one
    only is 'added' or 'removed'), with the frozen and the current units, estimates, intervals, p-values and
    significance, has_moved (any published number or verdict differs) and change_cause, the first that holds of:
    - added / removed: the row exists now only, or was frozen only;
    - none: nothing moved;
    - metric_definition_change: the metric's definition fingerprint differs (int_metric_definition_fingerprints);
    - new_units / units_removed: more or fewer units in the row's two arms (new units may come with late events
      of units counted before: the record keeps no unit-level detail to split the two);
    - late_events: the same units, other sufficient statistics (statistics_fingerprint): late events for units
      already counted;
    - correction_family_change: the row's own numbers are the same, only its multiplicity-adjusted p-value (and
      the significance it decides) moved, because other rows of its correction family moved;
    - code_change: the same units and sufficient statistics, other numbers: the inference code or its settings
      changed (code_version and frozen_code_version say which).
    Unlike fct_readout_changes, the code version cannot come first: freezing commits the record, so every build
    after a freeze runs another commit than the one frozen. fct_readout_restatements lists the rows that moved;
    `readout restate` copies every row of a record into readouts/restated_metric_results.csv.
-#}
{%- set moved_columns = ['n_units_control', 'n_units_variant', 'mean_control', 'mean_variant', 'absolute_lift',
    'absolute_lift_ci_lower', 'absolute_lift_ci_upper', 'relative_lift', 'relative_lift_ci_lower',
    'relative_lift_ci_upper', 'p_value', 'adjusted_p_value', 'correction_family_size', 'sequential_ci_lower',
    'sequential_ci_upper', 'alpha', 'is_significant', 'guardrail_status', 'status_reason', 'ci_method',
    'correction_method'] -%}
{%- set keys = ['experiment_id', 'experiment_version', 'population', 'variant_id', 'metric_id', 'estimator'] -%}
with  -- noqa: disable=LT02

frozen as (

    select * from {{ ref('frozen_metric_results') }}

),

records as (

    select distinct
        experiment_id,
        experiment_version,
        record_fingerprint,
        frozen_at,
        frozen_by,
        freeze_reason,
        code_version

    from frozen

),

current_results as (

    select current_rows.*
    from {{ ref('metric_results_current') }} as current_rows
    inner join records
        on current_rows.experiment_id = records.experiment_id
            and current_rows.experiment_version = records.experiment_version

),

joined as (

    select
        {%- for key in keys %}
            coalesce(frozen.{{ key }}, current_results.{{ key }}) as {{ key }},
        {%- endfor %}
        frozen.experiment_id is not null as is_frozen_row,
        current_results.experiment_id is not null as is_current_row,
        frozen.readout_status as frozen_readout_status,
        current_results.readout_status,
        frozen.n_units_control as frozen_n_units_control,
        current_results.n_units_control,
        frozen.n_units_variant as frozen_n_units_variant,
        current_results.n_units_variant,
        coalesce(current_results.n_units_control, 0) + coalesce(current_results.n_units_variant, 0)
        - coalesce(frozen.n_units_control, 0) - coalesce(frozen.n_units_variant, 0) as units_added,
        {%- for column in ['absolute_lift', 'absolute_lift_ci_lower', 'absolute_lift_ci_upper', 'relative_lift',
                           'relative_lift_ci_lower', 'relative_lift_ci_upper', 'p_value', 'adjusted_p_value',
                           'is_significant'] %}
            frozen.{{ column }} as frozen_{{ column }},
            current_results.{{ column }},
        {%- endfor %}
        coalesce(frozen.definition_fingerprint = current_results.definition_fingerprint, false)
            as is_same_definition,
        coalesce(frozen.statistics_fingerprint = current_results.statistics_fingerprint, false)
            as is_same_statistics,
        not(
            {%- for column in moved_columns %}
                                {{ "and " if not loop.first }}coalesce(
                    frozen.{{ column }} = current_results.{{ column }},
                    frozen.{{ column }} is null and current_results.{{ column }} is null
                )
            {%- endfor %}
        ) as has_moved,
        not(
            {%- for column in moved_columns if column not in ['adjusted_p_value', 'is_significant'] %}
                                {{ "and " if not loop.first }}coalesce(
                    frozen.{{ column }} = current_results.{{ column }},
                    frozen.{{ column }} is null and current_results.{{ column }} is null
                )
            {%- endfor %}
        ) as has_own_numbers_moved,
        frozen.watermark_at as frozen_watermark_at,
        current_results.watermark_at

    from frozen
    full outer join
        current_results
        {%- for key in keys %}
            {{ "on" if loop.first else "and" }} frozen.{{ key }} = current_results.{{ key }}
    {%- endfor %}

),

attributed as (

    select
        joined.*,
        case
            when not joined.is_frozen_row then 'added'
            when not joined.is_current_row then 'removed'
            when not joined.has_moved then 'none'
            when not joined.is_same_definition then 'metric_definition_change'
            when joined.units_added > 0 then 'new_units'
            when joined.units_added < 0 then 'units_removed'
            when not joined.is_same_statistics then 'late_events'
            when not joined.has_own_numbers_moved then 'correction_family_change'
            else 'code_change'
        end as change_cause

    from joined

),

final as (

    select
        ----------  ids
        cast(attributed.experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(attributed.experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(attributed.population as {{ dbt.type_string() }}) as population,
        cast(attributed.variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(attributed.metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(attributed.estimator as {{ dbt.type_string() }}) as estimator,
        cast(records.record_fingerprint as {{ dbt.type_string() }}) as record_fingerprint,

        ---------- strings
        cast(attributed.change_cause as {{ dbt.type_string() }}) as change_cause,
        cast(attributed.frozen_readout_status as {{ dbt.type_string() }}) as frozen_readout_status,
        cast(attributed.readout_status as {{ dbt.type_string() }}) as readout_status,

        ---------- numerics
        cast(attributed.frozen_n_units_control as {{ dbt.type_bigint() }}) as frozen_n_units_control,
        cast(attributed.n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(attributed.frozen_n_units_variant as {{ dbt.type_bigint() }}) as frozen_n_units_variant,
        cast(attributed.n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(attributed.units_added as {{ dbt.type_bigint() }}) as units_added,
        {%- for column in ['absolute_lift', 'absolute_lift_ci_lower', 'absolute_lift_ci_upper', 'relative_lift',
                           'relative_lift_ci_lower', 'relative_lift_ci_upper', 'p_value', 'adjusted_p_value'] %}
            cast(attributed.frozen_{{ column }} as {{ readout.type_double() }}) as frozen_{{ column }},
            cast(attributed.{{ column }} as {{ readout.type_double() }}) as {{ column }},
        {%- endfor %}

        ---------- booleans
        cast(attributed.frozen_is_significant as {{ dbt.type_boolean() }}) as frozen_is_significant,
        cast(attributed.is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(
            coalesce(attributed.frozen_is_significant <> attributed.is_significant, false)
            as {{ dbt.type_boolean() }}
        ) as is_significance_flip,
        cast(
            attributed.has_moved or not (attributed.is_frozen_row and attributed.is_current_row)
            as {{ dbt.type_boolean() }}
        ) as has_moved,

        ---------- strings: who froze it, and the code each side ran
        cast(records.frozen_by as {{ dbt.type_string() }}) as frozen_by,
        cast(records.freeze_reason as {{ dbt.type_string() }}) as freeze_reason,
        cast(records.code_version as {{ dbt.type_string() }}) as frozen_code_version,
        cast(
            {{ readout.quote_string(readout.runtime_env_var(
                'READOUT_CODE_VERSION', 'unknown: not built through readout build'
            )) }}
            as {{ dbt.type_string() }}
        ) as code_version,

        ---------- timestamps
        cast(records.frozen_at as {{ dbt.type_timestamp() }}) as frozen_at,
        cast(attributed.frozen_watermark_at as {{ dbt.type_timestamp() }}) as frozen_watermark_at,
        cast(attributed.watermark_at as {{ dbt.type_timestamp() }}) as watermark_at

    from attributed
    inner join records
        on attributed.experiment_id = records.experiment_id
            and attributed.experiment_version = records.experiment_version

)

select * from final
