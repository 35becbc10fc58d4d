{#- Rows of imported exports whose shown variant differs from the assigned one: counted here row by row; their units are excluded from the exposed analysis (in several variants). -#}
with

import_units as (

    select * from {{ ref('stg_landing__import_units') }}

),

mismatched as (

    select
        experiment_id,
        experiment_version,
        source_row,
        unit_id,
        assigned_variant_id,
        exposed_variant_id,
        observed_at

    from import_units
    where exposed_variant_id is not null
        and exposed_variant_id <> assigned_variant_id

)

select * from mismatched
