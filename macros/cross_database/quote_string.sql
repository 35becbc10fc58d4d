{#-
    A SQL string literal holding `value` exactly: quotes (and, on Spark, backslashes) are escaped, so a value
    is always data and never SQL. Use it for every string that comes from a file or a variable.
-#}
{% macro quote_string(value) -%}
    {{ return(adapter.dispatch('quote_string', 'readout')(value | string)) }}
{%- endmacro %}

{#- Standard SQL (DuckDB, Postgres, Snowflake, BigQuery with standard strings): a quote is doubled. -#}
{% macro default__quote_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{#- Spark SQL reads a backslash as an escape character inside a literal. -#}
{% macro spark__quote_string(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
