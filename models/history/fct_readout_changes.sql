{#-
    What changed since the last refresh, and why: the latest build in the readout history against the one
    before it, one row per experiment version x population x variant x metric x estimator present in either.
    It shows how the estimate (relative lift), its interval and p moved, significance and status flips and the
    units added, and attributes a move to the first that holds of:
    - metric_definition_change: the metric's definition fingerprint differs;
    - new_units: units were added to the readout (the move may also hold late events of units counted before:
      the history keeps no unit-level detail to split the two);
    - units_removed: fewer units (for example identities stitched, or a quarantine);
    - code_change: the same units, other numbers, and the code's fingerprint differs (the last 12 characters
      of code_version: a commit that changes no code, such as a freeze, is no code change);
    - late_events: the same units and code, other numbers: late events for units already counted.
    A row whose numbers did not move is none (whatever else changed); added or removed: in one build only.
    Empty until the history holds two builds.
-#}
with  -- noqa: disable=LT02

history as (

    select * from {{ ref('fct_readout_history') }}
    where record_type = 'metric_result'

),

builds_ranked as (

    select
        build_id,
        built_at,
        row_number() over (order by built_at desc, build_id desc) as build_rank

    from (
        select distinct
            build_id,
            built_at
        from history
    ) as builds

),

latest as (

    select history.*
    from history
    inner join builds_ranked
        on history.build_id = builds_ranked.build_id
    where builds_ranked.build_rank = 1

),

previous as (

    select history.*
    from history
    inner join builds_ranked
        on history.build_id = builds_ranked.build_id
    where builds_ranked.build_rank = 2

),

compared as (

    select
        coalesce(latest.experiment_id, previous.experiment_id) as experiment_id,
        coalesce(latest.experiment_version, previous.experiment_version) as experiment_version,
        coalesce(latest.population, previous.population) as population,
        coalesce(latest.variant_id, previous.variant_id) as variant_id,
        coalesce(latest.metric_id, previous.metric_id) as metric_id,
        coalesce(latest.estimator, previous.estimator) as estimator,
        max(latest.build_id) over () as build_id,
        max(previous.build_id) over () as previous_build_id,
        max(latest.built_at) over () as built_at,
        max(previous.built_at) over () as previous_built_at,
        case
            when previous.build_id is null then 'added'
            when latest.build_id is null then 'removed'
            else 'compared'
        end as row_change,
        previous.relative_lift as previous_relative_lift,
        latest.relative_lift,
        previous.relative_lift_ci_lower as previous_relative_lift_ci_lower,
        latest.relative_lift_ci_lower,
        previous.relative_lift_ci_upper as previous_relative_lift_ci_upper,
        latest.relative_lift_ci_upper,
        previous.p_value as previous_p_value,
        latest.p_value,
        previous.is_significant as previous_is_significant,
        latest.is_significant,
        previous.readout_status as previous_readout_status,
        latest.readout_status,
        coalesce(latest.n_units_control, 0) + coalesce(latest.n_units_variant, 0)
        - coalesce(previous.n_units_control, 0) - coalesce(previous.n_units_variant, 0) as units_added,
        -- the code's own fingerprint: the last 12 characters of code_version (a commit alone changes nothing)
        {{ dbt.right('latest.code_version', 12) }} <> {{ dbt.right('previous.code_version', 12) }} as is_code_change,
        latest.definition_fingerprint <> previous.definition_fingerprint as is_definition_change,
        not(
            {%- for column in ['relative_lift', 'relative_lift_ci_lower', 'relative_lift_ci_upper', 'p_value',
                                'absolute_lift', 'mean_control', 'mean_variant'] %}
                                {{ "and " if not loop.first }}coalesce(
                    latest.{{ column }} = previous.{{ column }},
                    latest.{{ column }} is null and previous.{{ column }} is null
                )
            {%- endfor %}
        ) as has_moved

    from latest
    full outer join previous
        on latest.experiment_id = previous.experiment_id
            and latest.experiment_version = previous.experiment_version
            and latest.population = previous.population
            and latest.variant_id = previous.variant_id
            and latest.metric_id = previous.metric_id
            and latest.estimator = previous.estimator

),

final as (

    select
        ----------  ids
        cast(build_id as {{ dbt.type_string() }}) as build_id,
        cast(previous_build_id as {{ dbt.type_string() }}) as previous_build_id,
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(estimator as {{ dbt.type_string() }}) as estimator,

        ---------- strings
        cast(row_change as {{ dbt.type_string() }}) as row_change,
        cast(case
            when row_change <> 'compared' then row_change
            when not has_moved then 'none'
            when coalesce(is_definition_change, false) then 'metric_definition_change'
            when units_added > 0 then 'new_units'
            when units_added < 0 then 'units_removed'
            when coalesce(is_code_change, false) then 'code_change'
            else 'late_events'
        end as {{ dbt.type_string() }}) as change_cause,
        cast(previous_readout_status as {{ dbt.type_string() }}) as previous_readout_status,
        cast(readout_status as {{ dbt.type_string() }}) as readout_status,

        ---------- numerics
        cast(units_added as {{ dbt.type_bigint() }}) as units_added,
        cast(previous_relative_lift as {{ readout.type_double() }}) as previous_relative_lift,
        cast(relative_lift as {{ readout.type_double() }}) as relative_lift,
        cast(relative_lift - previous_relative_lift as {{ readout.type_double() }}) as relative_lift_change,
        cast(previous_relative_lift_ci_lower as {{ readout.type_double() }}) as previous_relative_lift_ci_lower,
        cast(relative_lift_ci_lower as {{ readout.type_double() }}) as relative_lift_ci_lower,
        cast(previous_relative_lift_ci_upper as {{ readout.type_double() }}) as previous_relative_lift_ci_upper,
        cast(relative_lift_ci_upper as {{ readout.type_double() }}) as relative_lift_ci_upper,
        cast(
            (relative_lift_ci_upper - relative_lift_ci_lower)
            - (previous_relative_lift_ci_upper - previous_relative_lift_ci_lower) as {{ readout.type_double() }})
            as interval_width_change,
        cast(previous_p_value as {{ readout.type_double() }}) as previous_p_value,
        cast(p_value as {{ readout.type_double() }}) as p_value,

        ---------- booleans
        cast(coalesce(has_moved, true) as {{ dbt.type_boolean() }}) as has_moved,
        cast(coalesce(previous_is_significant <> is_significant, false) as {{ dbt.type_boolean() }})
            as is_significance_flip,
        cast(coalesce(previous_readout_status <> readout_status, false) as {{ dbt.type_boolean() }}) as is_status_flip,

        ---------- timestamps
        cast(previous_built_at as {{ dbt.type_timestamp() }}) as previous_built_at,
        cast(built_at as {{ dbt.type_timestamp() }}) as built_at

    from compared

)

select * from final
