{#-
    One row per source system of the landing zone: the latest received_at of its accepted events and its
    watermark, the event time up to which its events are taken to have arrived: that latest received_at
    minus the arrival lag the raw events contract allows (var('lookback_days'), the 72 hours of its
    arrived_within_lookback rule; a later row breaks the contract and is counted there).
    A source is idle when it has sent nothing for longer than that lag while the landing zone kept
    receiving (its latest received_at is at or before the zone's latest minus the lag): it has stopped
    sending (the assignment server once enrollment ends, every platform once the product stops logging),
    so nothing of it is in flight beyond the lag and it is held to the landing zone's watermark (the
    zone's latest received_at minus the lag) instead of its own. A source still sending, however slowly,
    keeps its own watermark, so one slow source holds back the windows it could send events for.
-#}
with

events as (

    select * from {{ ref('stg_landing__events') }}

),

per_source as (

    select
        source_system,
        max(received_at) as last_received_at

    from events
    group by 1

),

landing as (

    select max(last_received_at) as landing_last_received_at from per_source

),

watermarks as (

    select
        per_source.source_system,
        per_source.last_received_at,
        {{ dbt.dateadd('day', -1 * var('lookback_days'), 'per_source.last_received_at') }} as source_watermark_at,
        landing.landing_last_received_at,
        {{ dbt.dateadd('day', -1 * var('lookback_days'), 'landing.landing_last_received_at') }} as landing_watermark_at

    from per_source
    cross join landing

),

final as (

    select
        ----------  ids
        cast(source_system as {{ dbt.type_string() }}) as source_system,

        ---------- numerics
        cast({{ var('lookback_days') }} as {{ dbt.type_int() }}) as arrival_lag_days,

        ---------- booleans
        last_received_at <= landing_watermark_at as is_idle,

        ---------- timestamps
        last_received_at,
        source_watermark_at,
        landing_last_received_at,
        landing_watermark_at,
        case
            when last_received_at <= landing_watermark_at then landing_watermark_at
            else source_watermark_at
        end as watermark_at

    from watermarks

)

select * from final
