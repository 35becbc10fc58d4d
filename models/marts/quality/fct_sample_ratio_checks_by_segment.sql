{#- Sample-ratio checks per segment (platform, day, platform and day), one row per experiment version x segment x variant; the segment's result is repeated on each of its rows. -#}
with

inferred as (

    select * from {{ inferred('sample_ratio_checks_by_segment_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(exposure_date as date) as exposure_date,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(segment_label as {{ dbt.type_string() }}) as segment_label,
        cast(srm_status as {{ dbt.type_string() }}) as srm_status,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,
        cast(alarm as {{ dbt.type_string() }}) as alarm,

        ---------- numerics
        cast(observed_units as {{ dbt.type_bigint() }}) as observed_units,
        cast(expected_share as {{ readout.type_double() }}) as expected_share,
        cast(expected_units as {{ readout.type_double() }}) as expected_units,
        cast(chi_square as {{ readout.type_double() }}) as chi_square,
        cast(degrees_of_freedom as {{ dbt.type_int() }}) as degrees_of_freedom,
        cast(p_value as {{ readout.type_double() }}) as p_value,
        cast(adjusted_p_value as {{ readout.type_double() }}) as adjusted_p_value,
        cast(family_size as {{ dbt.type_int() }}) as family_size,

        ---------- booleans
        cast(is_sample_ratio_mismatch as {{ dbt.type_boolean() }}) as is_sample_ratio_mismatch

    from inferred

)

select * from final
