{#- The text value at a top-level key of a JSON object held as text; null when absent or not JSON. -#}
{% macro json_extract_text(json_expression, key) -%}
    {{ return(adapter.dispatch('json_extract_text', 'readout')(json_expression, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(json_expression, key) -%}
    json_extract_path_text({{ json_expression }}, '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_extract_text(json_expression, key) -%}
    case when json_valid({{ json_expression }}) then json_extract_string({{ json_expression }}, '$.{{ key }}') end
{%- endmacro %}

{% macro snowflake__json_extract_text(json_expression, key) -%}
    try_parse_json({{ json_expression }}):{{ key }}::varchar
{%- endmacro %}

{% macro bigquery__json_extract_text(json_expression, key) -%}
    json_value(safe.parse_json({{ json_expression }}), '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_extract_text(json_expression, key) -%}
    get_json_object({{ json_expression }}, '$.{{ key }}')
{%- endmacro %}
