{#-
    The readout history: append-only, one row per build x readout row. Every published build appends its
    metric results, read from the published layer (a build whose audits failed publishes nothing, so it appends
    nothing: write-audit-publish, macros/publish_gate.sql) (record_type 'metric_result') and its sample-ratio checks ('sample_ratio') with their status, and with what
    the numbers were computed from: the build (dbt invocation id and start), the code version and the contract
    versions (set by `readout build`), the metric definition's fingerprint and the data watermark.
    full_refresh = false: `dbt build --full-refresh` (`make rebuild`) rebuilds the marts but never wipes the
    history. Append maps onto Spark's append strategy for Parquet tables.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

results as (

    select * from {{ ref('published__fct_metric_results') }}

),

sample_ratio_checks as (

    select * from {{ ref('published__fct_sample_ratio_checks') }}

),

definitions as (

    select * from {{ ref('int_metric_definition_fingerprints') }}

),

build as (

    select
        cast({{ readout.quote_string(invocation_id) }} as {{ dbt.type_string() }}) as build_id,
        {{ readout.timestamp_literal(run_started_at.isoformat(), 'run_started_at') }} as built_at,
        cast(
            {{ readout.quote_string(readout.runtime_env_var(
                'READOUT_CODE_VERSION', 'unknown: not built through readout build'
            )) }}
            as {{ dbt.type_string() }}
        ) as code_version,
        cast(
            {{ readout.quote_string(readout.runtime_env_var(
                'READOUT_CONTRACT_VERSIONS', 'unknown: not built through readout build'
            )) }}
            as {{ dbt.type_string() }}
        ) as contract_versions

),

metric_rows as (

    select
        'metric_result' as record_type,
        results.experiment_id,
        results.experiment_version,
        results.population,
        results.variant_id,
        results.metric_id,
        results.estimator,
        definitions.definition_fingerprint,
        results.readout_status,
        results.status_reasons,
        results.n_units_control,
        results.n_units_variant,
        results.n_units_window_in_progress,
        results.mean_control,
        results.mean_variant,
        results.absolute_lift,
        results.absolute_lift_ci_lower,
        results.absolute_lift_ci_upper,
        results.relative_lift,
        results.relative_lift_ci_lower,
        results.relative_lift_ci_upper,
        results.p_value,
        results.adjusted_p_value,
        results.sequential_ci_lower,
        results.sequential_ci_upper,
        results.is_significant,
        cast(null as {{ dbt.type_bigint() }}) as observed_units,
        cast(null as {{ readout.type_double() }}) as expected_units,
        results.watermark_at

    from results
    left join definitions
        on results.experiment_id = definitions.experiment_id
            and results.experiment_version = definitions.experiment_version
            and results.metric_id = definitions.metric_id

),

sample_ratio_rows as (

    select
        'sample_ratio' as record_type,
        experiment_id,
        experiment_version,
        population,
        variant_id,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as estimator,
        cast(null as {{ dbt.type_string() }}) as definition_fingerprint,
        cast(null as {{ dbt.type_string() }}) as readout_status,
        status_reason as status_reasons,
        cast(null as {{ dbt.type_bigint() }}) as n_units_control,
        cast(null as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(null as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(null as {{ readout.type_double() }}) as mean_control,
        cast(null as {{ readout.type_double() }}) as mean_variant,
        cast(null as {{ readout.type_double() }}) as absolute_lift,
        cast(null as {{ readout.type_double() }}) as absolute_lift_ci_lower,
        cast(null as {{ readout.type_double() }}) as absolute_lift_ci_upper,
        cast(null as {{ readout.type_double() }}) as relative_lift,
        cast(null as {{ readout.type_double() }}) as relative_lift_ci_lower,
        cast(null as {{ readout.type_double() }}) as relative_lift_ci_upper,
        p_value,
        cast(null as {{ readout.type_double() }}) as adjusted_p_value,
        cast(null as {{ readout.type_double() }}) as sequential_ci_lower,
        cast(null as {{ readout.type_double() }}) as sequential_ci_upper,
        is_sample_ratio_mismatch as is_significant,
        observed_units,
        expected_units,
        cast(null as {{ dbt.type_timestamp() }}) as watermark_at

    from sample_ratio_checks

),

unioned as (

    select * from metric_rows
    union all
    select * from sample_ratio_rows

),

final as (

    select
        ----------  ids
        build.build_id,
        cast(unioned.record_type as {{ dbt.type_string() }}) as record_type,
        cast(unioned.experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(unioned.experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(unioned.population as {{ dbt.type_string() }}) as population,
        cast(unioned.variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(unioned.metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(unioned.estimator as {{ dbt.type_string() }}) as estimator,

        ---------- strings
        build.code_version,
        build.contract_versions,
        cast(unioned.definition_fingerprint as {{ dbt.type_string() }}) as definition_fingerprint,
        cast(unioned.readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(unioned.status_reasons as {{ dbt.type_string() }}) as status_reasons,

        ---------- numerics
        cast(unioned.n_units_control as {{ dbt.type_bigint() }}) as n_units_control,
        cast(unioned.n_units_variant as {{ dbt.type_bigint() }}) as n_units_variant,
        cast(unioned.n_units_window_in_progress as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(unioned.observed_units as {{ dbt.type_bigint() }}) as observed_units,
        cast(unioned.expected_units as {{ readout.type_double() }}) as expected_units,
        cast(unioned.mean_control as {{ readout.type_double() }}) as mean_control,
        cast(unioned.mean_variant as {{ readout.type_double() }}) as mean_variant,
        cast(unioned.absolute_lift as {{ readout.type_double() }}) as absolute_lift,
        cast(unioned.absolute_lift_ci_lower as {{ readout.type_double() }}) as absolute_lift_ci_lower,
        cast(unioned.absolute_lift_ci_upper as {{ readout.type_double() }}) as absolute_lift_ci_upper,
        cast(unioned.relative_lift as {{ readout.type_double() }}) as relative_lift,
        cast(unioned.relative_lift_ci_lower as {{ readout.type_double() }}) as relative_lift_ci_lower,
        cast(unioned.relative_lift_ci_upper as {{ readout.type_double() }}) as relative_lift_ci_upper,
        cast(unioned.p_value as {{ readout.type_double() }}) as p_value,
        cast(unioned.adjusted_p_value as {{ readout.type_double() }}) as adjusted_p_value,
        cast(unioned.sequential_ci_lower as {{ readout.type_double() }}) as sequential_ci_lower,
        cast(unioned.sequential_ci_upper as {{ readout.type_double() }}) as sequential_ci_upper,

        ---------- booleans
        cast(unioned.is_significant as {{ dbt.type_boolean() }}) as is_significant,

        ---------- timestamps
        build.built_at,
        cast(unioned.watermark_at as {{ dbt.type_timestamp() }}) as watermark_at

    from unioned
    cross join build

)

select * from final
