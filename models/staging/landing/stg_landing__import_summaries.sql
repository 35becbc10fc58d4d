{#- Per-arm aggregates of summary-statistics imports (readout import, kind: summary), typed: one row per experiment version x checkpoint x variant x metric. -#}
with

source as (

    select * from {{ source('landing', 'import_summaries') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,

        ---------- strings
        cast(checkpoint_label as {{ dbt.type_string() }}) as checkpoint_label,
        -- why the row cannot be analysed (zero or missing count, missing mean or variance), else null
        cast(row_reason as {{ dbt.type_string() }}) as row_reason,

        ---------- numerics
        cast(checkpoint_index as {{ dbt.type_int() }}) as checkpoint_index,
        cast(n_units as {{ dbt.type_bigint() }}) as n_units,
        cast(metric_sum as {{ readout.type_double() }}) as metric_sum,
        cast(metric_sum_of_squares as {{ readout.type_double() }}) as metric_sum_of_squares,
        cast(source_row as {{ dbt.type_bigint() }}) as source_row,

        ---------- timestamps
        cast(checkpoint_at as {{ dbt.type_timestamp() }}) as checkpoint_at

    from source

)

select * from renamed
