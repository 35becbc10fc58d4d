{#- An 8-byte float for statistics (dbt.type_float() is 4 bytes on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'readout')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro duckdb__type_double() -%}double{%- endmacro %}
{% macro bigquery__type_double() -%}float64{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
