{#- Raw rows that broke an ingestion rule, with every reason that applies and the raw values to replay them. -#}
with

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

quarantined as (

    select
        quarantine_reasons,
        file_path,
        event_id,
        event_name,
        event_at_raw,
        received_at_raw,
        event_at,
        received_at,
        schema_version,
        source_system,
        anonymous_id,
        user_id,
        session_id,
        experiment_id,
        experiment_version,
        variant_id,
        assignment_mechanism,
        consent_granted,
        revenue,
        currency,
        properties,
        payload_hash

    from checked
    where quarantine_reasons is not null

)

select * from quarantined
