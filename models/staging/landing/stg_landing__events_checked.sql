{#-
    Every raw landing row, exactly once: schema versions mapped to one shape, typed, checked against
    the ingestion rules (quarantine_reasons) and ranked among rows sharing its (source_system, event_id):
    the contract makes event_id unique per producer, so the same id from two producers is two events.
    The three models below split it without loss: stg_landing__events (accepted, first of its
    source_system x event_id), stg_landing__events_quarantined, stg_landing__event_duplicates.
-#}
{#- A table: one full, parallel pass over the landing files; the models below (the incremental one among them) read it cheaply. -#}
{{ config(materialized='table', event_time='event_at') }}

{%- set experiment_events = "('experiment_assigned', 'experiment_exposed')" -%}
{#- Timestamps are bounded by the build's reference time (var as_of, else the run's start) plus the tolerance. -#}
{%- set latest_allowed = dbt.dateadd('minute', var('future_tolerance_minutes'), readout.as_of_timestamp()) -%}
{#- Typed columns a producer might retype (e.g. revenue as text): try-cast each branch, so a value that does
    not cast becomes null (and is quarantined below) instead of failing the whole build. -#}
{%- set schema_version = readout.safe_cast('schema_version', dbt.type_int()) -%}

with

events_source as (

    select * from {{ source('landing', 'events') }}

),

experiments_source as (

    select * from {{ source('landing', 'experiments') }}

),

renamed as (

    select
        ----------  ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        -- schema version 2 renamed anonymous_id to device_id
        cast(case when {{ schema_version }} = 2 then device_id else anonymous_id end as {{ dbt.type_string() }}) as anonymous_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        {{ readout.safe_cast('experiment_version', dbt.type_int()) }} as experiment_version,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,

        ---------- strings
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(assignment_mechanism as {{ dbt.type_string() }}) as assignment_mechanism,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(properties as {{ dbt.type_string() }}) as properties,
        coalesce({{ readout.json_extract_text('properties', 'traffic_type') }}, 'human') as traffic_type,
        cast(event_at as {{ dbt.type_string() }}) as event_at_raw,
        cast(received_at as {{ dbt.type_string() }}) as received_at_raw,
        case
            when {{ schema_version }} = 2 then cast(revenue_amount as {{ dbt.type_string() }})
            else cast(revenue as {{ dbt.type_string() }})
        end as revenue_raw,

        ---------- numerics
        {{ schema_version }} as schema_version,
        -- schema version 2 renamed revenue to revenue_amount; NaN and infinities stay (quarantined below)
        case
            when {{ schema_version }} = 2 then {{ readout.safe_cast('revenue_amount', readout.type_double()) }}
            else {{ readout.safe_cast('revenue', readout.type_double()) }}
        end as revenue,

        ---------- booleans
        cast(consent_granted as {{ dbt.type_boolean() }}) as consent_granted,

        ---------- timestamps (UTC); unparseable text becomes null and is quarantined below
        {{ readout.parse_utc_timestamp('event_at') }} as event_at,
        {{ readout.parse_utc_timestamp('received_at') }} as received_at

    from events_source

),

known_experiment_versions as (

    select distinct experiment_id, experiment_version from experiments_source

),

known_variants as (

    select distinct experiment_id, experiment_version, variant_id from experiments_source

),

checked as (

    select
        renamed.*,
        {{ readout.reason_list([
            ["renamed.event_id is null", "missing_event_id"],
            ["renamed.event_name is null", "missing_event_name"],
            ["renamed.event_name not in ('" ~ var('accepted_event_names') | join("', '") ~ "')", "unknown_event_name"],
            ["renamed.schema_version is null or renamed.schema_version not in (" ~ var('accepted_schema_versions') | join(", ") ~ ")", "unknown_schema_version"],
            ["renamed.source_system is null or renamed.source_system not in ('" ~ var('accepted_source_systems') | join("', '") ~ "')", "unknown_source_system"],
            ["renamed.anonymous_id is null and renamed.user_id is null", "missing_unit_id"],
            ["renamed.event_at is null", "unparseable_event_at"],
            ["renamed.received_at is null", "unparseable_received_at"],
            ["renamed.event_at > " ~ dbt.dateadd('minute', var('future_tolerance_minutes'), 'renamed.received_at')
                ~ " or renamed.event_at > " ~ latest_allowed, "future_event_at"],
            ["renamed.received_at > " ~ latest_allowed, "future_received_at"],
            ["renamed.event_at < " ~ readout.timestamp_literal(var('events_begin'), "var('events_begin')"), "event_at_before_history"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.experiment_id is null", "missing_experiment_id"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.variant_id is null", "missing_variant_id"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.experiment_id is not null and known_experiment_versions.experiment_id is null", "unknown_experiment"],
            ["renamed.event_name in " ~ experiment_events ~ " and known_experiment_versions.experiment_id is not null and renamed.variant_id is not null and known_variants.variant_id is null", "unknown_variant"],
            ["renamed.revenue_raw is not null and renamed.revenue is null", "unparseable_revenue"],
            ["not " ~ readout.is_finite('renamed.revenue'), "non_finite_revenue"],
            ["renamed.revenue < 0", "negative_revenue"],
            ["renamed.event_name = 'purchase' and renamed.revenue_raw is null", "missing_revenue"],
        ]) }} as quarantine_reasons,
        {{ readout.payload_hash([
            'renamed.event_name', 'renamed.event_at_raw', 'renamed.source_system', 'renamed.anonymous_id',
            'renamed.user_id', 'renamed.session_id', 'renamed.experiment_id', 'renamed.experiment_version',
            'renamed.variant_id', 'renamed.assignment_mechanism', 'renamed.consent_granted',
            'renamed.revenue', 'renamed.currency', 'renamed.properties',
        ]) }} as payload_hash

    from renamed
    left join known_experiment_versions
        on renamed.experiment_id = known_experiment_versions.experiment_id
        and renamed.experiment_version = known_experiment_versions.experiment_version
    left join known_variants
        on renamed.experiment_id = known_variants.experiment_id
        and renamed.experiment_version = known_variants.experiment_version
        and renamed.variant_id = known_variants.variant_id

),

ranked as (

    -- One window pass over the wide rows (they carry the properties JSON): every window below has the same
    -- partitioning and order, so the engine sorts the rows once (two passes took twice as long once the
    -- rows spill to disk).
    select
        checked.*,
        -- among accepted rows of one producer's event_id, the earliest received is kept
        row_number() over by_receipt as event_id_rank,
        first_value(payload_hash) over whole_event_id as kept_payload_hash,
        -- an accepted copy's payload differs from the kept one exactly when the copies' payloads are not all equal
        quarantine_reasons is null
            and min(payload_hash) over whole_event_id <> max(payload_hash) over whole_event_id as has_conflicting_duplicate

    from checked
    window
        by_receipt as (
            partition by source_system, event_id, quarantine_reasons is null
            order by received_at, payload_hash
        ),
        whole_event_id as (
            partition by source_system, event_id, quarantine_reasons is null
            order by received_at, payload_hash
            rows between unbounded preceding and unbounded following
        )

),

final as (

    select
        ranked.*,
        quarantine_reasons is null and event_id_rank > 1 as is_duplicate,
        quarantine_reasons is null and event_id_rank > 1 and payload_hash <> kept_payload_hash as is_conflicting_duplicate

    from ranked

)

select * from final
