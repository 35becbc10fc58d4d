{#-
    `dbt source freshness` measures the age of a source's newest loaded_at_field against a reference time. dbt's
    own macro takes the warehouse's current time, so data landed in the past (the demo's simulated landing zone,
    an export under review) is always stale. Here the reference time is var('as_of') when set, the same as-of
    as the contracts' (`readout contracts validate --as-of`, `readout event-time-range`), else the current time:
        dbt source freshness --vars '{as_of: "2026-02-23T12:00:00Z"}'
    Overrides dbt's default__collect_freshness (the root project comes first in dbt's dispatch search).
-#}
{% macro default__collect_freshness(source, loaded_at_field, filter) %}
    {%- if (var('as_of', '') or '') | string | trim == '' -%}
        {{ log("source freshness is measured against the current time; for data landed in the past give its "
               ~ "as-of: dbt source freshness --vars '{as_of: \"2026-02-23T12:00:00Z\"}'", info=True) }}
    {%- endif %}
    {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
        select
            max({{ loaded_at_field }}) as max_loaded_at,
            {{ readout.freshness_reference_time() }} as snapshotted_at
        from {{ source }}
        {% if filter %}
            where {{ filter }}
        {% endif %}
    {%- endcall %}
    {{ return(load_result('collect_freshness')) }}
{% endmacro %}

{#- var('as_of') as a timestamp literal when set, else the warehouse's current time -#}
{% macro freshness_reference_time() -%}
    {%- set as_of = var('as_of', '') -%}
    {%- if as_of is none or (as_of | string | trim) == '' -%}
        {{ dbt.current_timestamp() }}
    {%- else -%}
        {{ readout.timestamp_literal(as_of, "var('as_of')") }}
    {%- endif -%}
{%- endmacro %}
