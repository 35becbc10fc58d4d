-- Where does quarantined data come from? One row per source system x reason code, with its share of that source's raw rows.
with  -- noqa: disable=AM06

checked as (

    select * from {{ ref('stg_landing__events_checked') }}

),

quarantined as (

    select * from {{ ref('stg_landing__events_quarantined') }}

),

raw_rows as (

    select
        coalesce(source_system, '<null>') as source_system,
        count(*) as raw_row_count
    from checked
    group by 1

),

reasons as (

    -- one row per reason code of a row (a row may carry several)
    {%- for part in range(1, 9) %}
        select
            coalesce(source_system, '<null>') as source_system,
            {{ dbt.split_part('quarantine_reasons', "','", part) }} as quarantine_reason
        from quarantined
        where {{ dbt.split_part('quarantine_reasons', "','", part) }} <> ''
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

reason_counts as (

    select
        source_system,
        quarantine_reason,
        count(*) as quarantined_row_count
    from reasons
    group by 1, 2

),

final as (

    select
        reason_counts.source_system,
        reason_counts.quarantine_reason,
        reason_counts.quarantined_row_count,
        raw_rows.raw_row_count,
        1.0 * reason_counts.quarantined_row_count / raw_rows.raw_row_count as share_of_source_rows

    from reason_counts
    inner join raw_rows
        on reason_counts.source_system = raw_rows.source_system

)

select * from final
order by source_system asc, quarantined_row_count desc
