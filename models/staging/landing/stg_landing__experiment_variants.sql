with

source as (

    select * from {{ source('landing', 'experiments') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(name as {{ dbt.type_string() }}) as experiment_name,
        cast(status as {{ dbt.type_string() }}) as experiment_status,
        cast(unit_type as {{ dbt.type_string() }}) as unit_type,

        ---------- numerics
        cast(allocation_weight as {{ readout.type_double() }}) as allocation_weight,

        ---------- booleans
        cast(is_control as {{ dbt.type_boolean() }}) as is_control,

        ---------- timestamps
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at

    from source

)

select * from renamed
