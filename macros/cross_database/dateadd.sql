{#-
    dbt.dateadd on Spark, keeping fractional seconds. dbt-spark's own spark__dateadd adds through
    to_unix_timestamp (whole seconds) for every datepart, so a timestamp lost its milliseconds on Spark
    (the watermark, 19:35:25.102 on DuckDB, was 19:35:25) and the future_event_at bound in staging moved.
    timestampadd keeps them, as DuckDB's timestamp + interval does. A date, text or timestamp input is cast to a
    timestamp first, and the result is a timestamp, as on DuckDB (date + interval); a null input or interval
    gives null (dbt-spark's raised an error). The interval is cast to bigint, as dbt-duckdb casts it.
    A root-project spark__dateadd: dbt's dispatch of the 'dbt' namespace searches the root project before the
    adapter's macros, so this replaces dbt-spark's for every dbt.dateadd call; other engines are untouched (no
    root default__dateadd, which would also answer for adapters without their own, as safe_cast taught).
-#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set unit = datepart | string | trim | lower -%}
    {%- set units = ['year', 'quarter', 'month', 'week', 'day',
        'hour', 'minute', 'second', 'millisecond', 'microsecond'] -%}
    {%- if unit not in units -%}
        {{ exceptions.raise_compiler_error("dateadd: datepart '" ~ datepart ~ "' is not supported on Spark; use one of "
            ~ units | join(', ')) }}
    {%- endif -%}
    timestampadd({{ unit }}, cast({{ interval }} as bigint), cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}
