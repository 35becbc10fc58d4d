{#- One row per unit x experiment version: its variant, when it was assigned and first exposed, and why it is in or out of the analysis. -#}
with

flagged as (

    select * from {{ ref('int_experiment_units_flagged') }}

),

final as (

    select
        ----------  ids
        unit_id,
        experiment_id,
        experiment_version,
        variant_id,
        assigned_variant_id,
        exposed_variant_id,

        ---------- strings
        assignment_mechanism,
        exposure_source_system,

        ---------- numerics
        exposure_count,

        ---------- booleans
        is_consent_denied,
        is_bot_or_internal,
        is_exposed_without_assignment,
        is_exposed_before_assigned,
        is_in_several_variants,
        is_exposure_variant_mismatch,
        is_exposed_outside_window,
        is_before_experiment_start,
        is_assigned_after_experiment_end,
        is_assigned_never_exposed,
        is_eligible,
        is_in_assigned_population,
        is_in_exposed_population,

        ---------- timestamps
        assigned_at,
        first_exposed_at

    from flagged

)

select * from final
