{#-
    One row per unit x experiment version x metric: the window in which the metric is measured.
    The window is anchored at the unit's first exposure (at its assignment when it was never exposed,
    which matters only for the intent-to-treat population): it starts window_start_days after the
    anchor and ends window_end_days after it, capped at the experiment's end. The pre-exposure
    covariate window (for CUPED) is the covariate_lookback_days before the anchor.
    window_status says whether the unit counts in the metric's statistics:
    - truncated: the experiment ended before the window's full length (window_end_days) had passed; the
      unit never measures the catalog's metric (its missing days would count as zeros), so it is left out
      of the statistics and counted apart, for good;
    - complete: the window ends at or before the experiment version's watermark (the slowest source that
      could send its units' events: latest received_at minus the contract's arrival lag,
      int_experiment_version_watermarks);
    - in_progress: not yet complete; left out of the statistics (not counted as a zero) until it is.
    is_window_complete is window_status = 'complete'.
-#}
with

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_assigned_population or is_in_exposed_population

),

event_experiment_versions as (

    -- imported exports carry their own unit-level outcomes: no event windows for them
    select * from {{ ref('int_experiment_versions') }}
    where not is_imported

),

metrics as (

    select * from {{ ref('metric_catalog') }}

),

watermarks as (

    select * from {{ ref('int_experiment_version_watermarks') }}

),

anchored as (

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        units.is_in_assigned_population,
        units.is_in_exposed_population,
        units.experiment_ended_at,
        coalesce(units.first_exposed_at, units.assigned_at) as anchor_at,
        metrics.metric_id,
        metrics.window_start_days,
        metrics.window_end_days,
        metrics.covariate_lookback_days,
        {{
            readout.metric_full_window_end(
                'coalesce(units.first_exposed_at, units.assigned_at)', 'metrics.window_end_days'
            )
        }} as full_window_end_at

    from units
    inner join event_experiment_versions
        on units.experiment_id = event_experiment_versions.experiment_id
            and units.experiment_version = event_experiment_versions.experiment_version
    cross join metrics

),

windows as (

    select
        anchored.unit_id,
        anchored.experiment_id,
        anchored.experiment_version,
        anchored.metric_id,
        anchored.variant_id,
        anchored.is_in_assigned_population,
        anchored.is_in_exposed_population,
        anchored.anchor_at,
        {{ readout.metric_window_start('anchored.anchor_at', 'anchored.window_start_days') }} as window_start_at,
        {{
            readout.metric_window_end(
                'anchored.anchor_at', 'anchored.window_end_days', 'anchored.experiment_ended_at'
            )
        }} as window_end_at,
        {{ readout.metric_covariate_window_start('anchored.anchor_at', 'anchored.covariate_lookback_days') }}
            as covariate_window_start_at,
        coalesce(anchored.experiment_ended_at < anchored.full_window_end_at, false) as is_window_truncated,
        watermarks.watermark_at as data_watermark_at

    from anchored
    left join watermarks
        on anchored.experiment_id = watermarks.experiment_id
            and anchored.experiment_version = watermarks.experiment_version

),

final as (

    select
        windows.*,
        case
            when windows.is_window_truncated then 'truncated'
            when windows.window_end_at <= windows.data_watermark_at then 'complete'
            else 'in_progress'
        end as window_status,
        not windows.is_window_truncated
        and coalesce(windows.window_end_at <= windows.data_watermark_at, false) as is_window_complete

    from windows

)

select * from final
