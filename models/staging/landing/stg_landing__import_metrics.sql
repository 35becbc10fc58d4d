with

source as (

    select * from {{ source('landing', 'import_metrics') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,

        ---------- strings
        cast(metric_type as {{ dbt.type_string() }}) as metric_type,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(role as {{ dbt.type_string() }}) as role,  -- noqa: RF04
        cast(description as {{ dbt.type_string() }}) as description

    from source

)

select * from renamed
