{#-
    The governed metric catalog (seeds/metric_catalog.csv) as a list of dicts, read from the built seed
    at run time and validated against readout.metric_catalog_schema() (a bad row is a compile error of one
    line naming it). During parsing (execute is false) it returns an empty list.
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
    {%- do readout.validate_metric_catalog(rows, table.column_names | list) -%}
    {{ return(rows) }}
{%- endmacro %}
