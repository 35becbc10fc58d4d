with

source as (

    select * from {{ source('landing', 'import_outcomes') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(unit_id as {{ dbt.type_string() }}) as unit_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,

        ---------- numerics
        cast(source_row as {{ dbt.type_bigint() }}) as source_row,
        cast(metric_value as {{ readout.type_double() }}) as metric_value

    from source

)

select * from renamed
