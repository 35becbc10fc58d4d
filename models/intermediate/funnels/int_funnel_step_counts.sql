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

counted_by_step as (

    select
        experiment_id,
        experiment_version,
        funnel_id,
        funnel_version,
        step_number,
        step_name,
        variant_id,
        sum(case when funnel_window_status = 'complete' then 1 else 0 end) as n_units,
        sum(case when funnel_window_status = 'complete' and reached_at is not null then 1 else 0 end) as n_reached,
        sum(case when funnel_window_status = 'in_progress' then 1 else 0 end) as n_units_window_in_progress,
        sum(case when funnel_window_status = 'truncated' then 1 else 0 end) as n_units_window_truncated

    from steps
    group by 1, 2, 3, 4, 5, 6, 7

),

counted as (

    {#- the step before's reach, from the counts rather than a self-join of the unit rows (15M rows at 100M events):
        every exposed unit has a row for every step with one window status for the whole funnel, so the complete
        units that reached step n - 1 are step n - 1's n_reached in the same version, funnel and variant -#}
    select
        counted_by_step.*,
        case
            when counted_by_step.step_number = 1 then counted_by_step.n_units
            else coalesce(previous.n_reached, 0)
        end as n_reached_previous

    from counted_by_step
    left join counted_by_step as previous
        on counted_by_step.experiment_id = previous.experiment_id
            and counted_by_step.experiment_version = previous.experiment_version
            and counted_by_step.funnel_id = previous.funnel_id
            and counted_by_step.variant_id = previous.variant_id
            and previous.step_number = counted_by_step.step_number - 1

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
