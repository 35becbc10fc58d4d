{#-
    The governed metric catalog (seeds/metric_catalog.csv) as a list of dicts, read from the built seed
    at run time. During parsing (execute is false) it returns an empty list.
-#}
{% macro metric_catalog_rows() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select * from {{ ref('metric_catalog') }} order by metric_id
    {%- endset -%}
    {%- set table = run_query(query) -%}
    {%- set rows = [] -%}
    {%- for row in table.rows -%}
        {%- set entry = {} -%}
        {%- for column in table.column_names -%}
            {%- do entry.update({column: row[column]}) -%}
        {%- endfor -%}
        {%- do rows.append(entry) -%}
    {%- endfor -%}
    {{ return(rows) }}
{%- endmacro %}
