{#-
    The processed-files record: one row per landing events file a build has read into
    stg_landing__events_checked, with its size, fingerprint and rows when it was read. Landing files are
    immutable: the next incremental build compares every recorded file with the landing zone and stops, naming
    the file, when one changed or was deleted (macros/landing_files.sql). Append-only; a full refresh starts
    over. Spark: insert_overwrite partitioned by file_path (macros/incremental.sql).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=readout.incremental_strategy('append'),
        partition_by=readout.incremental_partition_by(['file_path']),
        on_schema_change='fail',
    )
}}

with

listed as (

    {{ readout.landing_event_files() }}

),

checked_files as (

    -- the files whose rows this build read (each raw row is in stg_landing__events_checked once)
    select
        file_path,
        count(*) as checked_row_count
    from {{ ref('stg_landing__events_checked') }}
    {%- if is_incremental() %}
    where file_path not in (select file_path from {{ this }})
    {%- endif %}
    group by file_path

),

processed as (

    select
        ---------- ids
        listed.file_path,
        listed.file_fingerprint,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as processed_invocation_id,

        ---------- numerics
        listed.file_size,
        listed.file_row_count,
        coalesce(checked_files.checked_row_count, 0) as checked_row_count,

        ---------- timestamps
        {{ readout.timestamp_literal(run_started_at.strftime('%Y-%m-%dT%H:%M:%S') ~ 'Z', 'run_started_at') }}
            as processed_at

    from listed
    left join checked_files
        on listed.file_path = checked_files.file_path
    -- a file with rows is recorded once its rows are read; a file without rows needs no reading
    where (checked_files.file_path is not null or listed.file_row_count = 0)
    {%- if is_incremental() %}
        and listed.file_path not in (select file_path from {{ this }})
    {%- endif %}

)

select * from processed
