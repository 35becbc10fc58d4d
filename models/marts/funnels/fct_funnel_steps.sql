{#- Funnel steps per variant: units with a complete funnel window, how many reached each step, and the conversion from exposure and from the step before. -#}
with

counts as (

    select * from {{ ref('int_funnel_step_counts') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(funnel_id as {{ dbt.type_string() }}) as funnel_id,
        cast(step_number as {{ dbt.type_int() }}) as step_number,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(step_name as {{ dbt.type_string() }}) as step_name,

        ---------- numerics
        cast(funnel_version as {{ dbt.type_int() }}) as funnel_version,
        n_units,
        n_reached,
        n_reached_previous,
        n_units_window_in_progress,
        n_units_window_truncated,
        cast(
            case
                when n_units > 0 then cast(n_reached as {{ readout.type_double() }}) / n_units
            end as {{ readout.type_double() }}
        )
            as conversion_from_exposure,
        cast(
            case
                when n_reached_previous > 0 then cast(n_reached as {{ readout.type_double() }}) / n_reached_previous
            end as {{ readout.type_double() }}
        )
            as conversion_from_previous,

        ---------- booleans
        cast(is_control as {{ dbt.type_boolean() }}) as is_control

    from counts

)

select * from final
