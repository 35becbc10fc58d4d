-- Every landing batch (file) is conserved: per file, raw rows = rows read into staging = staged + quarantined + duplicates, and the processed-files record holds the same count.
with  -- noqa: disable=AM06

raw_rows as (

    select
        {{ readout.landing_file_path(readout.landing_filename_column()) }} as file_path,
        count(*) as raw_row_count
    from {{ source('landing', 'events') }}
    group by 1

),

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

checked_rows as (

    select
        file_path,
        count(*) as checked_row_count
    from checked
    group by file_path

),

staged as (

    select
        file_path,
        count(*) as staged_row_count
    from {{ ref('stg_landing__events') }}
    group by file_path

),

quarantined as (

    select
        file_path,
        count(*) as quarantined_row_count
    from {{ ref('stg_landing__events_quarantined') }}
    group by file_path

),

duplicates as (

    select
        file_path,
        count(*) as duplicate_row_count
    from {{ ref('stg_landing__event_duplicates') }}
    group by file_path

),

recorded as (

    select
        file_path,
        file_row_count,
        checked_row_count as recorded_row_count
    from {{ ref('stg_landing__files_processed') }}

),

reconciled as (

    select
        raw_rows.file_path,
        raw_rows.raw_row_count,
        coalesce(checked_rows.checked_row_count, 0) as checked_row_count,
        coalesce(staged.staged_row_count, 0) as staged_row_count,
        coalesce(quarantined.quarantined_row_count, 0) as quarantined_row_count,
        coalesce(duplicates.duplicate_row_count, 0) as duplicate_row_count,
        recorded.file_row_count,
        recorded.recorded_row_count

    from raw_rows
    left join checked_rows on raw_rows.file_path = checked_rows.file_path
    left join staged on raw_rows.file_path = staged.file_path
    left join quarantined on raw_rows.file_path = quarantined.file_path
    left join duplicates on raw_rows.file_path = duplicates.file_path
    left join recorded on raw_rows.file_path = recorded.file_path

)

select *
from reconciled
where raw_row_count <> checked_row_count
    or raw_row_count <> staged_row_count + quarantined_row_count + duplicate_row_count
    or recorded_row_count is null
    or raw_row_count <> recorded_row_count
    or raw_row_count <> file_row_count
