{#- Imported export rows, typed. Exports without timestamps are placed at the epoch so ordering falls back to the row number. -#}
with

source as (

    select * from {{ source('landing', 'import_units') }}

),

renamed as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(unit_id as {{ dbt.type_string() }}) as unit_id,
        cast(assigned_variant_id as {{ dbt.type_string() }}) as assigned_variant_id,
        cast(exposed_variant_id as {{ dbt.type_string() }}) as exposed_variant_id,

        ---------- numerics
        cast(source_row as {{ dbt.type_bigint() }}) as source_row,

        ---------- booleans
        observed_at is null as is_timestamp_missing,

        ---------- timestamps
        coalesce(
            cast(observed_at as {{ dbt.type_timestamp() }}),
            cast('1970-01-01 00:00:00' as {{ dbt.type_timestamp() }})
        ) as observed_at

    from source

)

select * from renamed
