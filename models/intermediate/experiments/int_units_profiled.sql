{#- One row per stitched unit: traits that decide eligibility in every experiment (consent, bot or internal traffic). -#}
with

events as (

    select * from {{ ref('int_events_stitched') }}

),

profiled as (

    select
        unit_id,
        max(case when consent_granted = false then 1 else 0 end) = 1 as is_consent_denied,
        max(case when traffic_type in ('bot', 'internal') then 1 else 0 end) = 1 as is_bot_or_internal,
        count(distinct anonymous_id) as anonymous_id_count,
        min(event_at) as first_seen_at

    from events
    group by 1

)

select * from profiled
