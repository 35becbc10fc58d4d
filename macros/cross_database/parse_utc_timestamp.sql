{#- Parse ISO-8601 text into a UTC timestamp without zone; unparseable text becomes null, never an error. -#}
{% macro parse_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'readout')(expression)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(expression) -%}
    {{ dbt.safe_cast(expression, api.Column.translate_type('timestamp')) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}
