{#-
    One row per experiment version: how far its data is complete, and whether it is still running.
    Its watermark is that of the slowest source system that could send its units' events: the minimum
    watermark (int_source_system_watermarks: latest received_at minus the contract's arrival lag, the
    landing zone's for an idle source) over the source systems that have sent any event of any unit
    assigned or exposed in the version (outcomes included, whatever experiment tagged them). A unit's
    metric window is complete when it ends at or before this watermark; the version's late-data lookback
    has closed when it has ended and its end is at or before it: every event of its run has had the
    allowed lag to arrive. A version no source has sent an event for takes the landing zone's watermark.
    Imported exports (`readout import`) are static unit-level files: no window or lookback waits on them.
-#}
with

versions as (

    select * from {{ ref('int_experiment_versions') }}

),

units as (

    select * from {{ ref('int_experiment_units_flagged') }}

),

events as (

    select * from {{ ref('int_events_stitched') }}

),

source_watermarks as (

    select * from {{ ref('int_source_system_watermarks') }}

),

landing as (

    select
        max(landing_last_received_at) as landing_last_received_at,
        max(landing_watermark_at) as landing_watermark_at

    from source_watermarks

),

unit_sources as (

    select distinct
        unit_id,
        source_system

    from events

),

version_sources as (

    select distinct
        units.experiment_id,
        units.experiment_version,
        unit_sources.source_system

    from units
    inner join unit_sources
        on units.unit_id = unit_sources.unit_id

),

slowest as (

    -- the minimum watermark over the version's sources, and the (alphabetically first) source that sets it
    select
        version_sources.experiment_id,
        version_sources.experiment_version,
        count(*) as source_system_count,
        sum(case when source_watermarks.is_idle then 1 else 0 end) as idle_source_system_count,
        min(source_watermarks.watermark_at) as watermark_at

    from version_sources
    inner join source_watermarks
        on version_sources.source_system = source_watermarks.source_system
    group by 1, 2

),

slowest_source as (

    select
        slowest.experiment_id,
        slowest.experiment_version,
        min(source_watermarks.source_system) as watermark_source_system

    from slowest
    inner join version_sources
        on slowest.experiment_id = version_sources.experiment_id
            and slowest.experiment_version = version_sources.experiment_version
    inner join source_watermarks
        on version_sources.source_system = source_watermarks.source_system
            and slowest.watermark_at = source_watermarks.watermark_at
    group by 1, 2

),

joined as (

    select
        versions.experiment_id,
        versions.experiment_version,
        versions.experiment_status,
        versions.is_imported,
        versions.started_at,
        versions.ended_at,
        slowest_source.watermark_source_system,
        coalesce(slowest.source_system_count, 0) as source_system_count,
        coalesce(slowest.idle_source_system_count, 0) as idle_source_system_count,
        landing.landing_last_received_at,
        coalesce(slowest.watermark_at, landing.landing_watermark_at) as watermark_at

    from versions
    cross join landing
    left join slowest
        on versions.experiment_id = slowest.experiment_id
            and versions.experiment_version = slowest.experiment_version
    left join slowest_source
        on versions.experiment_id = slowest_source.experiment_id
            and versions.experiment_version = slowest_source.experiment_version

),

final as (

    select
        ----------  ids
        experiment_id,
        experiment_version,

        ---------- strings
        experiment_status,
        watermark_source_system,

        ---------- numerics
        cast(source_system_count as {{ dbt.type_int() }}) as source_system_count,
        cast(idle_source_system_count as {{ dbt.type_int() }}) as idle_source_system_count,

        ---------- booleans
        is_imported,
        -- running: the export says so, or an event experiment has no end yet (an import without one is a finished export)
        coalesce(experiment_status = 'running', false) or (ended_at is null and not is_imported) as is_running,
        is_imported or coalesce(ended_at <= watermark_at, false) as is_lookback_closed,

        ---------- timestamps
        started_at,
        ended_at,
        landing_last_received_at,
        watermark_at

    from joined

)

select * from final
