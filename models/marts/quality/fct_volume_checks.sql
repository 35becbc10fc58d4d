{#- Volume checks, one row per experiment version x platform x event name x day x variant: observed and expected events, the missing share, the test and the alarm sentence. -#}
with

inferred as (

    select * from {{ inferred('volume_checks_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(event_class as {{ dbt.type_string() }}) as event_class,
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        cast(event_date as date) as event_date,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,
        cast(alarm as {{ dbt.type_string() }}) as alarm,

        ---------- numerics
        cast(observed_events as {{ dbt.type_bigint() }}) as observed_events,
        cast(other_variants_events as {{ dbt.type_bigint() }}) as other_variants_events,
        cast(reference_day_count as {{ dbt.type_int() }}) as reference_day_count,
        cast(reference_observed_events as {{ dbt.type_bigint() }}) as reference_observed_events,
        cast(reference_other_variants_events as {{ dbt.type_bigint() }}) as reference_other_variants_events,
        cast(expected_events as {{ readout.type_double() }}) as expected_events,
        cast(missing_share as {{ readout.type_double() }}) as missing_share,
        cast(p_value as {{ readout.type_double() }}) as p_value,
        cast(adjusted_p_value as {{ readout.type_double() }}) as adjusted_p_value,
        cast(family_size as {{ dbt.type_int() }}) as family_size,

        ---------- booleans
        cast(is_tested as {{ dbt.type_boolean() }}) as is_tested,
        cast(is_volume_shortfall as {{ dbt.type_boolean() }}) as is_volume_shortfall

    from inferred

)

select * from final
