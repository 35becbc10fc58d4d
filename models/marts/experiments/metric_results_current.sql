{#-
    What the readout would now be: one row per experiment version x population x treatment variant x metric x
    estimator, typed as fct_metric_results, with its status (metric_result_statuses_computed): readout_status,
    the reason codes and one sentence, the units of its two arms left out because their window is in progress
    or truncated, and the watermark its data is complete to. Two more columns say what the numbers were computed
    from, for freezing and restatements: definition_fingerprint (int_metric_definition_fingerprints) and
    statistics_fingerprint, an md5 of the sufficient statistics of the row's two arms (fct_variant_metric_stats:
    exact sums, so a rebuild of the same data gives the same fingerprint). fct_metric_results serves these rows,
    except for frozen experiment versions (readouts/frozen_metric_results.csv).
-#}
{%- set statistics_columns = ['n_units', 'metric_sum', 'metric_sum_of_squares', 'denominator_sum',
    'denominator_sum_of_squares', 'metric_denominator_cross_sum', 'covariate_sum', 'covariate_sum_of_squares',
    'metric_covariate_cross_sum'] -%}
{%- set statistics_parts = [] -%}
{%- for arm in ['control_stats', 'variant_stats'] -%}
    {%- for column in statistics_columns -%}
        {%- do statistics_parts.append("coalesce(cast(" ~ arm ~ "." ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
        {%- do statistics_parts.append("'|'") -%}
    {%- endfor -%}
{%- endfor -%}
{%- do statistics_parts.pop() -%}
with

inferred as (

    select * from {{ inferred('metric_results_inferred') }}

),

definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

statuses as (

    select * from {{ ref('metric_result_statuses_computed') }}

),

fingerprints as (

    select * from {{ ref('int_metric_definition_fingerprints') }}

),

stats as (

    select * from {{ ref('fct_variant_metric_stats') }}

),

summary_reasons as (

    -- summary-statistics imports: the reason a pair cannot be analysed names the export's row (a missing
    -- variance, a zero count, ...), rather than the statistics' words for it; both populations alike
    select
        experiment_id,
        experiment_version,
        variant_id,
        metric_id,
        status_reason

    from {{ ref('fct_metric_results_by_checkpoint') }}
    where is_final_checkpoint and status_reason is not null

),

arm_statistics as (

    -- the sufficient statistics of the row's two arms, as one fingerprint
    select distinct
        inferred.experiment_id,
        inferred.experiment_version,
        inferred.population,
        inferred.variant_id,
        inferred.metric_id,
        {{ dbt.hash(dbt.concat(statistics_parts)) }} as statistics_fingerprint

    from inferred
    left join stats as control_stats
        on inferred.experiment_id = control_stats.experiment_id
            and inferred.experiment_version = control_stats.experiment_version
            and inferred.population = control_stats.population
            and inferred.metric_id = control_stats.metric_id
            and inferred.control_variant_id = control_stats.variant_id
    left join stats as variant_stats
        on inferred.experiment_id = variant_stats.experiment_id
            and inferred.experiment_version = variant_stats.experiment_version
            and inferred.population = variant_stats.population
            and inferred.metric_id = variant_stats.metric_id
            and inferred.variant_id = variant_stats.variant_id

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
        cast(
            coalesce(summary_reasons.status_reason, inferred.status_reason) as {{ dbt.type_string() }}
        ) as status_reason,
        cast(inferred.correction_method as {{ dbt.type_string() }}) as correction_method,
        cast(statuses.readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(statuses.status_reasons as {{ dbt.type_string() }}) as status_reasons,
        cast(statuses.status_reason_text as {{ dbt.type_string() }}) as status_reason_text,
        cast(fingerprints.definition_fingerprint as {{ dbt.type_string() }}) as definition_fingerprint,
        cast(arm_statistics.statistics_fingerprint as {{ dbt.type_string() }}) as statistics_fingerprint,

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
    left join fingerprints
        on inferred.experiment_id = fingerprints.experiment_id
            and inferred.experiment_version = fingerprints.experiment_version
            and inferred.metric_id = fingerprints.metric_id
    left join arm_statistics
        on inferred.experiment_id = arm_statistics.experiment_id
            and inferred.experiment_version = arm_statistics.experiment_version
            and inferred.population = arm_statistics.population
            and inferred.variant_id = arm_statistics.variant_id
            and inferred.metric_id = arm_statistics.metric_id
    left join summary_reasons
        on inferred.experiment_id = summary_reasons.experiment_id
            and inferred.experiment_version = summary_reasons.experiment_version
            and inferred.variant_id = summary_reasons.variant_id
            and inferred.metric_id = summary_reasons.metric_id

)

select * from final
