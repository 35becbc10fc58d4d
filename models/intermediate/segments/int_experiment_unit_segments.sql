{#-
    The segments an exposed unit of an experiment version falls in, one row per unit x version x segment type:
    - exposure_platform: the source system of its first exposure;
    - tenure: returning when the unit was first seen (its earliest accepted event, any experiment) on a day
      before the version started, else new;
    - one segment type per unit attribute of seeds/segment_attributes.csv: the value of that key of its first
      exposure's event properties ('unknown' when absent).
    These three come from events, so they cut the versions with events (an imported export has none).
    - one segment type per attribute an import carries (imports/unit_attributes, a mapping's `segments:`) for
      the units of that import's version: the unit's value, 'unknown' for a unit without one.
    Every exposed unit has exactly one value of each segment type of its version, so a segment type's values
    add up to the exposed population.
-#}
-- depends_on: {{ ref('segment_attributes') }}
{% set attributes = readout.segment_attribute_rows() %}

with

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_exposed_population

),

event_experiment_versions as (

    select * from {{ ref('int_experiment_versions') }}
    where not is_imported

),

first_exposures as (

    select * from {{ ref('int_exposures_deduplicated_to_first_per_unit') }}

),

imported_attributes as (

    select * from {{ ref('stg_landing__import_unit_attributes') }}

),

first_seen as (

    -- a unit's earliest accepted event, counted once per build in int_units_profiled (not again over every event)
    select
        unit_id,
        first_seen_at

    from {{ ref('int_units_profiled') }}

),

event_units as (

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        units.exposure_source_system,
        units.experiment_started_at,
        first_exposures.first_exposure_properties

    from units
    inner join event_experiment_versions
        on units.experiment_id = event_experiment_versions.experiment_id
            and units.experiment_version = event_experiment_versions.experiment_version
    left join first_exposures
        on units.unit_id = first_exposures.unit_id
            and units.experiment_id = first_exposures.experiment_id
            and units.experiment_version = first_exposures.experiment_version

),

imported_attribute_names as (

    -- the attributes an import declares for its experiment version: every exposed unit of it gets a value
    select distinct
        experiment_id,
        experiment_version,
        attribute_name

    from imported_attributes

),

segmented as (

    select
        unit_id,
        experiment_id,
        experiment_version,
        variant_id,
        'exposure_platform' as segment_type,
        coalesce(exposure_source_system, 'unknown') as segment_value

    from event_units

    union all

    select
        event_units.unit_id,
        event_units.experiment_id,
        event_units.experiment_version,
        event_units.variant_id,
        'tenure' as segment_type,
        case
            when
                cast(first_seen.first_seen_at as date) < cast(event_units.experiment_started_at as date)
                then 'returning'
            else 'new'
        end as segment_value

    from event_units
    left join first_seen
        on event_units.unit_id = first_seen.unit_id

    {% for attribute in attributes %}

        union all

        select
            unit_id,
            experiment_id,
            experiment_version,
            variant_id,
            {{ readout.quote_string(attribute.attribute_name) }} as segment_type,
            coalesce(
                {{ readout.json_extract_text('first_exposure_properties', attribute.attribute_name) }}, 'unknown'
            ) as segment_value

        from event_units
    {% endfor %}

    union all

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        imported_attribute_names.attribute_name as segment_type,
        coalesce(imported_attributes.attribute_value, 'unknown') as segment_value

    from units
    inner join imported_attribute_names
        on units.experiment_id = imported_attribute_names.experiment_id
            and units.experiment_version = imported_attribute_names.experiment_version
    left join imported_attributes
        on units.unit_id = imported_attributes.unit_id
            and units.experiment_id = imported_attributes.experiment_id
            and units.experiment_version = imported_attributes.experiment_version
            and imported_attribute_names.attribute_name = imported_attributes.attribute_name

)

select * from segmented
