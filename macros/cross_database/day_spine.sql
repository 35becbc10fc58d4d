{#- One row per calendar day from start_date to end_date inclusive (ISO dates), as column date_day. Dispatched. -#}
{% macro day_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('day_spine', 'readout')(start_date, end_date)) }}
{%- endmacro %}

{#- Portable fallback: days as sums of powers of ten over a digits table (up to 100,000 days). -#}
{% macro default__day_spine(start_date, end_date) -%}
    with digits as (
        select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
        union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
    ),
    offsets as (
        select a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d as day_offset
        from digits as a cross join digits as b cross join digits as c cross join digits as e cross join digits as f
    )
    select cast({{ dbt.dateadd('day', 'day_offset', "cast('" ~ start_date ~ "' as date)") }} as date) as date_day
    from offsets
    where day_offset <= {{ dbt.datediff("cast('" ~ start_date ~ "' as date)", "cast('" ~ end_date ~ "' as date)", 'day') }}
{%- endmacro %}

{% macro duckdb__day_spine(start_date, end_date) -%}
    select cast(range as date) as date_day
    from range(date '{{ start_date }}', date '{{ end_date }}' + interval 1 day, interval 1 day)
{%- endmacro %}

{% macro spark__day_spine(start_date, end_date) -%}
    select explode(sequence(date '{{ start_date }}', date '{{ end_date }}', interval 1 day)) as date_day
{%- endmacro %}
