{#-
    Per experiment version x funnel x step x variant: the exposed units whose funnel window is complete
    (n_units), those of them that reached the step (n_reached) and the step before (n_reached_previous; all
    of n_units for step 1), and the units left out while their window is in progress or for good (truncated).
    Every configured variant of the version has a row for every step.
-#}
with

steps as (

    select * from {{ ref('int_unit_funnel_steps') }}

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

flagged as (

    select
        steps.*,
        case when steps.funnel_window_status = 'complete' then 1 else 0 end as is_complete,
        case when steps.funnel_window_status = 'complete' and steps.reached_at is not null then 1 else 0 end
            as has_reached,
        case
            when
                steps.funnel_window_status = 'complete' and (steps.step_number = 1 or previous.reached_at is not null)
                then 1
            else 0
        end as has_reached_previous

    from steps
    left join steps as previous
        on steps.unit_id = previous.unit_id
            and steps.experiment_id = previous.experiment_id
            and steps.experiment_version = previous.experiment_version
            and steps.funnel_id = previous.funnel_id
            and previous.step_number = steps.step_number - 1

),

counted as (

    select
        experiment_id,
        experiment_version,
        funnel_id,
        funnel_version,
        step_number,
        step_name,
        variant_id,
        sum(is_complete) as n_units,
        sum(has_reached) as n_reached,
        sum(has_reached_previous) as n_reached_previous,
        sum(case when funnel_window_status = 'in_progress' then 1 else 0 end) as n_units_window_in_progress,
        sum(case when funnel_window_status = 'truncated' then 1 else 0 end) as n_units_window_truncated

    from flagged
    group by 1, 2, 3, 4, 5, 6, 7

),

step_grid as (

    select distinct
        experiment_id,
        experiment_version,
        funnel_id,
        funnel_version,
        step_number,
        step_name
    from counted

),

final as (

    select
        step_grid.experiment_id,
        step_grid.experiment_version,
        step_grid.funnel_id,
        step_grid.funnel_version,
        step_grid.step_number,
        step_grid.step_name,
        variants.variant_id,
        variants.is_control,
        cast(coalesce(counted.n_units, 0) as {{ dbt.type_bigint() }}) as n_units,
        cast(coalesce(counted.n_reached, 0) as {{ dbt.type_bigint() }}) as n_reached,
        cast(coalesce(counted.n_reached_previous, 0) as {{ dbt.type_bigint() }}) as n_reached_previous,
        cast(coalesce(counted.n_units_window_in_progress, 0) as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(coalesce(counted.n_units_window_truncated, 0) as {{ dbt.type_bigint() }}) as n_units_window_truncated

    from step_grid
    inner join variants
        on step_grid.experiment_id = variants.experiment_id
            and step_grid.experiment_version = variants.experiment_version
    left join counted
        on step_grid.experiment_id = counted.experiment_id
            and step_grid.experiment_version = counted.experiment_version
            and step_grid.funnel_id = counted.funnel_id
            and step_grid.step_number = counted.step_number
            and variants.variant_id = counted.variant_id

)

select * from final
