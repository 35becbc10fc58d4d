{#-
    Accepted events: one row per source_system x event_id (the first accepted copy, see
    stg_landing__events_checked), typed and in one shape across schema versions, with the landing file it came
    from. Incremental by landing file: a build writes the accepted rows of the files it holds no row of, and
    rewrites a held row whose has_conflicting_duplicate those files turned on (delete+insert on source_system x
    event_id; on Spark a merge on the same key, or insert_overwrite of the event_date partitions those rows fall
    in). A build with no new landing file writes nothing and reads only the file_path columns.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_system', 'event_id'],
        on_schema_change='fail',
    )
}}

{#- Incremental runs: the landing files none of whose rows is held yet (a file holding only quarantined or
    duplicate rows stays in this list, harmlessly), as literal paths so the scan skips the other files' rows. -#}
{%- set new_file_paths = none -%}
{%- if execute and is_incremental() -%}
    {%- set new_file_paths = run_query('select distinct file_path from ' ~ ref('stg_landing__events_checked')
        ~ ' where file_path not in (select distinct file_path from ' ~ this ~ ') order by file_path').columns[0].values() | list -%}
{%- endif -%}

with

new_rows as (

    select * from {{ ref('stg_landing__events_checked') }}
    {%- if new_file_paths is not none %}
    where {{ readout.in_list('file_path', new_file_paths) }}
    {%- endif %}

),

conflicted as (

    -- event ids of which a later copy (in any batch) had another payload
    select distinct source_system, event_id
    from {{ ref('stg_landing__events_checked') }}
    where is_conflicting_duplicate

),

{% if new_file_paths is none -%}
kept_rows as (

    select * from new_rows
    where quarantine_reasons is null
        and event_id_rank = 1

),
{%- else -%}
reflagged as (

    -- events whose conflicting copy arrived in the new files
    select distinct source_system, event_id
    from new_rows
    where is_conflicting_duplicate

),

kept_rows as (

    -- the kept rows of the new files, and held rows of older files whose has_conflicting_duplicate they turn on
    select * from new_rows
    where quarantine_reasons is null
        and event_id_rank = 1

    union all

    select checked.*
    from {{ ref('stg_landing__events_checked') }} as checked
    inner join reflagged
        on checked.source_system = reflagged.source_system
        and checked.event_id = reflagged.event_id
    where checked.quarantine_reasons is null
        and checked.event_id_rank = 1
        and not {{ readout.in_list('checked.file_path', new_file_paths) }}

),
{%- endif %}

accepted as (

    select
        ----------  ids
        kept_rows.event_id,
        kept_rows.file_path,
        anonymous_id,
        user_id,
        session_id,
        experiment_id,
        experiment_version,
        variant_id,

        ---------- strings
        event_name,
        kept_rows.source_system,
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

    from kept_rows
    left join conflicted
        on kept_rows.source_system = conflicted.source_system
        and kept_rows.event_id = conflicted.event_id

)

select * from accepted
