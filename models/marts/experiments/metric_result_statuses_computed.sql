{#-
    The readout status each build computes, one row per experiment version x population x treatment
    variant x metric (the grain of fct_metric_results without the estimator: both estimators share it).
    status_reasons lists, comma-separated in this fixed order, the codes of every condition that keeps the
    row from being confirmed (null when none does):
    - experiment_running: the experiment version has not ended (int_experiment_version_watermarks);
    - windows_in_progress: units of this row's control or variant have a metric window not yet complete
      (n_units_window_in_progress > 0): they are left out of the statistics until it is;
    - lookback_open: the version has not ended, or its end is after its watermark (the slowest source's
      latest received_at minus the contract's arrival lag): late events of its run may still arrive;
    - sample_ratio_mismatch: fct_sample_ratio_checks flags a mismatch in a population of the version;
    - segment_sample_ratio_mismatch: fct_sample_ratio_checks_by_segment flags a mismatch (its error
      level, srm_status = 'mismatch') on a platform or day of the version;
    - volume_shortfall: fct_volume_checks flags a variant missing events on a platform and day;
    - contract_error: an error-level alarm of int_readout_blocking_alarms names the version.
    The last four are error-level alarms, which the contracts say block the whole experiment version's
    readout. readout_status is confirmed when no code holds, else provisional; status_reason_text says
    the same in one sentence. A later layer (freezing) may override readout_status: this model is what
    the data says now.
-#}
with  -- noqa: disable=LT05

results as (

    select distinct
        experiment_id,
        experiment_version,
        population,
        variant_id,
        metric_id,
        control_variant_id

    from {{ inferred('metric_results_inferred') }}

),

stats as (

    select * from {{ ref('fct_variant_metric_stats') }}

),

watermarks as (

    select * from {{ ref('int_experiment_version_watermarks') }}

),

sample_ratio_checks as (

    select
        experiment_id,
        experiment_version,
        max(case when is_sample_ratio_mismatch then 1 else 0 end) as has_sample_ratio_mismatch

    from {{ ref('fct_sample_ratio_checks') }}
    group by 1, 2

),

segment_checks as (

    select
        experiment_id,
        experiment_version,
        max(case when srm_status = 'mismatch' then 1 else 0 end) as has_segment_sample_ratio_mismatch

    from {{ ref('fct_sample_ratio_checks_by_segment') }}
    group by 1, 2

),

volume_checks as (

    select
        experiment_id,
        experiment_version,
        max(case when is_volume_shortfall then 1 else 0 end) as has_volume_shortfall

    from {{ ref('fct_volume_checks') }}
    group by 1, 2

),

blocking_alarms as (

    select
        experiment_id,
        experiment_version,
        count(*) as blocking_alarm_count,
        min(rule) as first_blocking_rule

    from {{ ref('int_readout_blocking_alarms') }}
    where is_blocking
    group by 1, 2

),

window_counts as (

    -- this row's two arms: the treatment variant and the control
    select
        results.experiment_id,
        results.experiment_version,
        results.population,
        results.variant_id,
        results.metric_id,
        sum(stats.n_units_window_in_progress) as n_units_window_in_progress,
        sum(stats.n_units_window_truncated) as n_units_window_truncated

    from results
    inner join stats
        on results.experiment_id = stats.experiment_id
            and results.experiment_version = stats.experiment_version
            and results.population = stats.population
            and results.metric_id = stats.metric_id
            and (results.variant_id = stats.variant_id or results.control_variant_id = stats.variant_id)
    group by 1, 2, 3, 4, 5

),

conditions as (

    select
        results.experiment_id,
        results.experiment_version,
        results.population,
        results.variant_id,
        results.metric_id,
        coalesce(window_counts.n_units_window_in_progress, 0) as n_units_window_in_progress,
        coalesce(window_counts.n_units_window_truncated, 0) as n_units_window_truncated,
        watermarks.watermark_at,
        watermarks.watermark_source_system,
        watermarks.ended_at,
        coalesce(watermarks.is_imported, false) as is_imported,
        coalesce(watermarks.is_running, true) as is_experiment_running,
        coalesce(window_counts.n_units_window_in_progress, 0) > 0 as has_windows_in_progress,
        not coalesce(watermarks.is_lookback_closed, false) as is_lookback_open,
        coalesce(sample_ratio_checks.has_sample_ratio_mismatch, 0) = 1 as has_sample_ratio_mismatch,
        coalesce(segment_checks.has_segment_sample_ratio_mismatch, 0) = 1 as has_segment_sample_ratio_mismatch,
        coalesce(volume_checks.has_volume_shortfall, 0) = 1 as has_volume_shortfall,
        coalesce(blocking_alarms.blocking_alarm_count, 0) as blocking_alarm_count,
        blocking_alarms.first_blocking_rule

    from results
    left join window_counts
        on results.experiment_id = window_counts.experiment_id
            and results.experiment_version = window_counts.experiment_version
            and results.population = window_counts.population
            and results.variant_id = window_counts.variant_id
            and results.metric_id = window_counts.metric_id
    left join watermarks
        on results.experiment_id = watermarks.experiment_id
            and results.experiment_version = watermarks.experiment_version
    left join sample_ratio_checks
        on results.experiment_id = sample_ratio_checks.experiment_id
            and results.experiment_version = sample_ratio_checks.experiment_version
    left join segment_checks
        on results.experiment_id = segment_checks.experiment_id
            and results.experiment_version = segment_checks.experiment_version
    left join volume_checks
        on results.experiment_id = volume_checks.experiment_id
            and results.experiment_version = volume_checks.experiment_version
    left join blocking_alarms
        on results.experiment_id = blocking_alarms.experiment_id
            and results.experiment_version = blocking_alarms.experiment_version

),

{%- set when = "cast(" ~ dbt.date_trunc('second', 'conditions.watermark_at') ~ " as " ~ dbt.type_string() ~ ")" %}
{%- set ended = "cast(" ~ dbt.date_trunc('second', 'conditions.ended_at') ~ " as " ~ dbt.type_string() ~ ")" %}
{%- set complete_to = dbt.concat(["'data complete to '", "coalesce(" ~ when ~ ", 'no data')", "coalesce(" ~ dbt.concat(["', slowest source '", "conditions.watermark_source_system"]) ~ ", '')"]) %}
{%- set checks = [
    ["conditions.is_experiment_running", "experiment_running",
        "'the experiment version is still running'"],
    ["conditions.has_windows_in_progress", "windows_in_progress",
        dbt.concat(["cast(conditions.n_units_window_in_progress as " ~ dbt.type_string() ~ ")", "' units still have an open metric window'"])],
    ["conditions.is_lookback_open", "lookback_open",
        dbt.concat(["'the late-data lookback has not closed ('", complete_to, "case when conditions.ended_at is null then '' else " ~ dbt.concat(["'; the version ended '", ended]) ~ " end", "')'"])],
    ["conditions.has_sample_ratio_mismatch", "sample_ratio_mismatch",
        "'a sample ratio mismatch blocks it (fct_sample_ratio_checks)'"],
    ["conditions.has_segment_sample_ratio_mismatch", "segment_sample_ratio_mismatch",
        "'a sample ratio mismatch on a platform or day blocks it (fct_sample_ratio_checks_by_segment)'"],
    ["conditions.has_volume_shortfall", "volume_shortfall",
        "'a variant is missing events on a platform and day, which blocks it (fct_volume_checks)'"],
    ["conditions.blocking_alarm_count > 0", "contract_error",
        dbt.concat(["cast(conditions.blocking_alarm_count as " ~ dbt.type_string() ~ ")", "' data-contract error(s) block it ('", "coalesce(conditions.first_blocking_rule, 'unnamed rule')", "')'"])],
] %}
{%- set code_checks = [] %}
{%- for condition, code, phrase in checks %}{% do code_checks.append([condition, code]) %}{% endfor %}

statuses as (

    select
        conditions.*,
        {{ readout.reason_list(code_checks) }} as status_reasons,
        {%- set phrases = [] %}
        {%- for condition, code, phrase in checks %}
            {%- do phrases.append("case when " ~ condition ~ " then " ~ dbt.concat(["'; '", phrase]) ~ " else '' end") %}
        {%- endfor %}
        {%- set joined = dbt.concat(phrases) %}
        {{ dbt.right(joined, dbt.length(joined) ~ ' - 2') }} as provisional_phrases

    from conditions

),

final as (

    select
        ----------  ids
        experiment_id,
        experiment_version,
        population,
        variant_id,
        metric_id,

        ---------- strings
        case when status_reasons is null then 'confirmed' else 'provisional' end as readout_status,
        status_reasons,
        case
            when status_reasons is not null then {{ dbt.concat(["'Provisional: '", "provisional_phrases", "'.'"]) }}
            when is_imported then 'Confirmed: the imported export is complete and no alarm blocks it.'
            else {{ dbt.concat(["'Confirmed: the version ended '", ended | replace('conditions.', ''), "', every metric window is complete, the late-data lookback has closed ('", complete_to | replace('conditions.', ''), "') and no alarm blocks it.'"]) }}
        end as status_reason_text,
        watermark_source_system,

        ---------- numerics
        n_units_window_in_progress,
        n_units_window_truncated,

        ---------- timestamps
        watermark_at

    from statuses

)

select * from final
