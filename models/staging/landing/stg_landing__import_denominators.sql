{#- Denominators of imported ratio and conditional outcomes (readout import), typed. -#}
with

source as (

    select * from {{ source('landing', 'import_denominators') }}

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
        cast(denominator_value as {{ readout.type_double() }}) as denominator_value

    from source

)

select * from renamed
