{#-
    Accepted events: one row per source_system x event_id (the first accepted copy, see
    stg_landing__events_checked), typed and in one shape across schema versions. Incremental: a build writes
    only the accepted rows it does not hold yet, and rewrites a held row whose has_conflicting_duplicate a later
    batch turned on (delete+insert on source_system x event_id; on Spark a merge on the same key, or
    insert_overwrite of the event_date partitions those rows fall in). A build with no new landing file writes nothing.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_system', 'event_id'],
        on_schema_change='fail',
    )
}}

with

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

conflicted as (

    -- event ids of which a later copy (in any batch) had another payload
    select distinct source_system, event_id
    from checked
    where is_conflicting_duplicate

),

accepted as (

    select
        ----------  ids
        checked.event_id,
        anonymous_id,
        user_id,
        session_id,
        experiment_id,
        experiment_version,
        variant_id,

        ---------- strings
        event_name,
        checked.source_system,
        assignment_mechanism,
        currency,
        traffic_type,
        properties,

        ---------- numerics
        schema_version,
        revenue,

        ---------- booleans
        consent_granted,
        conflicted.event_id is not null as has_conflicting_duplicate,

        ---------- timestamps
        event_at,
        received_at,
        cast({{ dbt.date_trunc('day', 'event_at') }} as date) as event_date

    from checked
    left join conflicted
        on checked.source_system = conflicted.source_system
        and checked.event_id = conflicted.event_id
    where checked.quarantine_reasons is null
        and checked.event_id_rank = 1

){%- if is_incremental() %},

changed as (

    -- new rows, and held rows whose has_conflicting_duplicate changed
    select accepted.*
    from accepted
    left join {{ this }} as held
        on accepted.source_system = held.source_system
        and accepted.event_id = held.event_id
    where held.event_id is null
        or held.has_conflicting_duplicate <> accepted.has_conflicting_duplicate

)

select * from changed
{%- else %}

select * from accepted
{%- endif %}

