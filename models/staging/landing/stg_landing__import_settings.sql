{#- The analysis settings of imported mappings, typed: one row per setting (metric_id null for the experiment's own). -#}
with

source as (

    select * from {{ source('landing', 'import_settings') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,

        ---------- strings
        cast(setting as {{ dbt.type_string() }}) as setting,
        cast(value_text as {{ dbt.type_string() }}) as value_text,

        ---------- numerics
        cast(value_double as {{ readout.type_double() }}) as value_double

    from source

)

select * from renamed
