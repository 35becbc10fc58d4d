{#-
    Accepted events: one row per source_system x event_id (the earliest received copy), typed and in one
    shape across schema versions. Incremental on event time: each run re-processes `lookback_days` of batches, so
    a late event within the lookback is picked up by the next run.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        event_time='event_at',
        begin=var('events_begin'),
        batch_size='day',
        lookback=var('lookback_days'),
        concurrent_batches=false,
        on_schema_change='fail',
    )
}}

with

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

accepted as (

    select
        ----------  ids
        event_id,
        anonymous_id,
        user_id,
        session_id,
        experiment_id,
        experiment_version,
        variant_id,

        ---------- strings
        event_name,
        source_system,
        assignment_mechanism,
        currency,
        traffic_type,
        properties,

        ---------- numerics
        schema_version,
        revenue,

        ---------- booleans
        consent_granted,
        has_conflicting_duplicate,

        ---------- timestamps
        event_at,
        received_at,
        cast({{ dbt.date_trunc('day', 'event_at') }} as date) as event_date

    from checked
    where quarantine_reasons is null
        and event_id_rank = 1

)

select * from accepted
