{#- Sample-ratio checks, one row per experiment version x population x variant; the experiment-level test result is repeated on each row so a BI tool needs no join. -#}
with

inferred as (

    select * from {{ inferred('sample_ratio_checks_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,

        ---------- numerics
        cast(observed_units as {{ dbt.type_bigint() }}) as observed_units,
        cast(expected_share as {{ readout.type_double() }}) as expected_share,
        cast(expected_units as {{ readout.type_double() }}) as expected_units,
        cast(chi_square as {{ readout.type_double() }}) as chi_square,
        cast(degrees_of_freedom as {{ dbt.type_int() }}) as degrees_of_freedom,
        cast(p_value as {{ readout.type_double() }}) as p_value,

        ---------- booleans
        cast(is_sample_ratio_mismatch as {{ dbt.type_boolean() }}) as is_sample_ratio_mismatch

    from inferred

)

select * from final
