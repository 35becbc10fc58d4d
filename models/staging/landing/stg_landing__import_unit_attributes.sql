{#- The unit attributes of imported exports (a mapping's `segments:`), typed: one row per unit x attribute, read by the segments. -#}
with

source as (

    select * from {{ source('landing', 'import_unit_attributes') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(unit_id as {{ dbt.type_string() }}) as unit_id,

        ---------- strings
        cast(attribute_name as {{ dbt.type_string() }}) as attribute_name,
        cast(attribute_value as {{ dbt.type_string() }}) as attribute_value

    from source

)

select * from renamed
