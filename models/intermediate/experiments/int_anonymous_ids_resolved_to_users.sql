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
        row_number() over (partition by anonymous_id order by event_at, user_id) as link_rank

    from events
    where anonymous_id is not null
        and user_id is not null

),

linked_user_counts as (

    -- a group by, not count(distinct ...) over (...): Spark has no distinct window aggregates
    select
        anonymous_id,
        count(distinct user_id) as linked_user_count

    from links
    group by anonymous_id

),

resolved as (

    select
        links.anonymous_id,
        links.user_id as resolved_user_id,
        links.event_at as resolved_at,
        linked_user_counts.linked_user_count

    from links
    inner join linked_user_counts
        on links.anonymous_id = linked_user_counts.anonymous_id
    where links.link_rank = 1

)

select * from resolved
