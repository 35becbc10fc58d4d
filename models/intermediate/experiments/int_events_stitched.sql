{#- Accepted events with the stitched unit id: the event's user id, else the user its anonymous id resolves to, else the anonymous id. -#}
{{ config(materialized='view') }}

with

events as (

    select * from {{ ref('stg_landing__events') }}

),

identities as (

    select * from {{ ref('int_anonymous_ids_resolved_to_users') }}

),

stitched as (

    select
        coalesce(events.user_id, identities.resolved_user_id, events.anonymous_id) as unit_id,
        events.*

    from events
    left join identities
        on events.anonymous_id = identities.anonymous_id

)

select * from stitched
