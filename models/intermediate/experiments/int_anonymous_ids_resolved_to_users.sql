{#-
    Identity policy: an anonymous id is resolved to a user id once any accepted event carries both;
    when several user ids appear with one anonymous id, the earliest event's user id wins (ties by
    user id). The resolution applies to all of the anonymous id's events, before and after login.
-#}
with

events as (

    select * from {{ ref('stg_landing__events') }}

),

links as (

    select
        anonymous_id,
        user_id,
        event_at,
        row_number() over (partition by anonymous_id order by event_at, user_id) as link_rank,
        count(distinct user_id) over (partition by anonymous_id) as linked_user_count

    from events
    where anonymous_id is not null
        and user_id is not null

),

resolved as (

    select
        anonymous_id,
        user_id as resolved_user_id,
        event_at as resolved_at,
        linked_user_count

    from links
    where link_rank = 1

)

select * from resolved
