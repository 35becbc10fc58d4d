{#-
    Accepted events: one row per source_system x event_id (the first accepted copy, see
    stg_landing__events_checked), typed and in one shape across schema versions, with the landing file it came
    from. A view over stg_landing__events_checked, the one incremental store of landing rows: a build writes
    nothing here (copying the accepted rows into a second table took as long as checking them), and
    has_conflicting_duplicate is always current, turned on for an older row as soon as a conflicting copy lands.
    Readers that take only new landing files filter on file_path.
-#}
{{
    config(
        materialized='view',
    )
}}

{#- Each CTE reads the table itself: a CTE of every checked row read by both would be materialized whole by
    DuckDB (every column of every landing row) in each reader of this view, taking most of the time of each. -#}
with

kept_rows as (

    select * from {{ ref('stg_landing__events_checked') }}
    where quarantine_reasons is null
        and event_id_rank = 1

),

conflicted as (

    -- event ids of which a later copy (in any batch) had another payload
    select distinct
        source_system,
        event_id
    from {{ ref('stg_landing__events_checked') }}
    where is_conflicting_duplicate

),

accepted as (

    select
        ----------  ids
        kept_rows.event_id,
        kept_rows.file_path,
        kept_rows.anonymous_id,
        kept_rows.user_id,
        kept_rows.session_id,
        kept_rows.experiment_id,
        kept_rows.experiment_version,
        kept_rows.variant_id,

        ---------- strings
        kept_rows.event_name,
        kept_rows.source_system,
        kept_rows.assignment_mechanism,
        kept_rows.currency,
        kept_rows.traffic_type,
        kept_rows.properties,

        ---------- numerics
        kept_rows.schema_version,
        kept_rows.revenue,

        ---------- booleans
        kept_rows.consent_granted,
        conflicted.event_id is not null as has_conflicting_duplicate,

        ---------- timestamps
        kept_rows.event_at,
        kept_rows.received_at,
        cast({{ dbt.date_trunc('day', 'kept_rows.event_at') }} as date) as event_date

    from kept_rows
    left join conflicted
        on kept_rows.source_system = conflicted.source_system
            and kept_rows.event_id = conflicted.event_id

)

select * from accepted
