{#-
    One row per unit x experiment version that was assigned or exposed, with one boolean per reason a
    unit is out of the analysis, so an analyst sees why. Populations:
    - assigned (intent to treat): assigned units that are not consent-denied, bots or assigned to several
      variants, and whose assignment and first exposure fall inside the version's run (a unit dated before the
      start would bring pre-start outcomes into its metric window; one assigned after the end has no window).
      A unit assigned once counts in its assigned variant whatever it was shown: one shown another variant
      (is_exposure_variant_mismatch) or several is in several variants, out of the exposed population, but
      stays in the intent-to-treat one;
    - exposed: eligible units (every flag false), which are assigned and exposed.
-#}
with

assignments as (

    select * from {{ ref('int_assignments_deduplicated_to_first_per_unit') }}

),

exposures as (

    select * from {{ ref('int_exposures_deduplicated_to_first_per_unit') }}

),

experiment_versions as (

    select * from {{ ref('int_experiment_versions') }}

),

units as (

    select * from {{ ref('int_units_profiled') }}

),

unit_keys as (

    select
        unit_id,
        experiment_id,
        experiment_version
    from assignments
    union
    select
        unit_id,
        experiment_id,
        experiment_version
    from exposures

),

joined as (

    select
        unit_keys.unit_id,
        unit_keys.experiment_id,
        unit_keys.experiment_version,
        coalesce(assignments.variant_id, exposures.exposed_variant_id) as variant_id,
        assignments.variant_id as assigned_variant_id,
        exposures.exposed_variant_id,
        assignments.assignment_mechanism,
        exposures.exposure_source_system,
        coalesce(exposures.exposure_count, 0) as exposure_count,
        coalesce(assignments.assigned_variant_count, 0) as assigned_variant_count,
        coalesce(exposures.exposed_variant_count, 0) as exposed_variant_count,
        assignments.assigned_at,
        exposures.first_exposed_at,
        exposures.last_exposed_at,
        experiment_versions.started_at as experiment_started_at,
        experiment_versions.ended_at as experiment_ended_at,
        units.is_consent_denied,
        units.is_bot_or_internal,
        coalesce(assignments.variant_id <> exposures.exposed_variant_id, false) as is_exposure_variant_mismatch

    from unit_keys
    left join assignments
        on unit_keys.unit_id = assignments.unit_id
            and unit_keys.experiment_id = assignments.experiment_id
            and unit_keys.experiment_version = assignments.experiment_version
    left join exposures
        on unit_keys.unit_id = exposures.unit_id
            and unit_keys.experiment_id = exposures.experiment_id
            and unit_keys.experiment_version = exposures.experiment_version
    inner join experiment_versions
        on unit_keys.experiment_id = experiment_versions.experiment_id
            and unit_keys.experiment_version = experiment_versions.experiment_version
    inner join units
        on unit_keys.unit_id = units.unit_id

),

flagged as (

    select
        joined.*,
        joined.assigned_at is null as is_exposed_without_assignment,
        coalesce(joined.first_exposed_at < joined.assigned_at, false) as is_exposed_before_assigned,
        (
            joined.assigned_variant_count > 1
            or joined.exposed_variant_count > 1
            or joined.is_exposure_variant_mismatch
        ) as is_in_several_variants,
        (
            coalesce(joined.first_exposed_at < joined.experiment_started_at, false)
            or coalesce(joined.last_exposed_at > joined.experiment_ended_at, false)
        ) as is_exposed_outside_window,
        (
            coalesce(joined.assigned_at < joined.experiment_started_at, false)
            or coalesce(joined.first_exposed_at < joined.experiment_started_at, false)
        ) as is_before_experiment_start,
        coalesce(joined.assigned_at > joined.experiment_ended_at, false) as is_assigned_after_experiment_end,
        joined.assigned_at is not null and joined.first_exposed_at is null as is_assigned_never_exposed

    from joined

),

eligibility as (

    select
        flagged.*,
        (
            flagged.assigned_at is not null
            and not flagged.is_consent_denied
            and not flagged.is_bot_or_internal
            and flagged.assigned_variant_count = 1  -- intent to treat: what it was shown does not matter
            and not flagged.is_before_experiment_start
            and not flagged.is_assigned_after_experiment_end
        ) as is_in_assigned_population,
        (
            not flagged.is_consent_denied
            and not flagged.is_bot_or_internal
            and not flagged.is_exposed_without_assignment
            and not flagged.is_exposed_before_assigned
            and not flagged.is_in_several_variants
            and not flagged.is_exposed_outside_window
            and not flagged.is_before_experiment_start
            and not flagged.is_assigned_after_experiment_end
            and not flagged.is_assigned_never_exposed
        ) as is_eligible

    from flagged

)

select
    eligibility.*,
    eligibility.is_eligible as is_in_exposed_population
from eligibility
