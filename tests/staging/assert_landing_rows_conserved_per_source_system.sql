-- Every raw landing row ends in staging, in quarantine, or among the removed duplicates: per source system, raw = staged + quarantined + duplicates.
with

raw_rows as (

    select
        coalesce(source_system, '<null>') as source_system,
        count(*) as raw_row_count
    from {{ source('landing', 'events') }}
    group by 1

),

staged as (

    select
        coalesce(source_system, '<null>') as source_system,
        count(*) as staged_row_count
    from {{ ref('stg_landing__events') }}
    group by 1

),

quarantined as (

    select
        coalesce(source_system, '<null>') as source_system,
        count(*) as quarantined_row_count
    from {{ ref('stg_landing__events_quarantined') }}
    group by 1

),

duplicates as (

    select
        coalesce(source_system, '<null>') as source_system,
        count(*) as duplicate_row_count
    from {{ ref('stg_landing__event_duplicates') }}
    group by 1

),

reconciled as (

    select
        raw_rows.source_system,
        raw_rows.raw_row_count,
        coalesce(staged.staged_row_count, 0) as staged_row_count,
        coalesce(quarantined.quarantined_row_count, 0) as quarantined_row_count,
        coalesce(duplicates.duplicate_row_count, 0) as duplicate_row_count

    from raw_rows
    left join staged on raw_rows.source_system = staged.source_system
    left join quarantined on raw_rows.source_system = quarantined.source_system
    left join duplicates on raw_rows.source_system = duplicates.source_system

)

select *
from reconciled
where raw_row_count <> staged_row_count + quarantined_row_count + duplicate_row_count
