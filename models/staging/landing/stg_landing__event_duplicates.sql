{#- Accepted rows removed as duplicates of the kept row with the same source_system and event_id (the first accepted:
    the earliest received within a batch, else the one an earlier batch accepted). -#}
with

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

duplicates as (

    select
        file_path,
        event_id,
        case when is_conflicting_duplicate then 'conflicting_payload' else 'identical_retry' end as duplicate_type,
        event_name,
        source_system,
        event_at,
        received_at,
        payload_hash,
        kept_payload_hash

    from checked
    where is_duplicate

)

select * from duplicates
