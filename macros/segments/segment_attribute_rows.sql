{#-
    The unit attributes to segment by (seeds/segment_attributes.csv): a list of dicts with attribute_name (a
    top-level key of the event properties, read from the unit's first exposure) and description, read from the
    built seed at run time and validated first: a bad row is a compile error of one line naming the row, the
    value and what is allowed. During parsing (execute is false) it returns an empty list.
-#}
{% macro segment_attribute_rows() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set table = run_query('select * from ' ~ ref('segment_attributes') ~ ' order by attribute_name') -%}
    {%- set expected = ['attribute_name', 'description'] -%}
    {%- if (table.column_names | list | sort) != (expected | sort) -%}
        {{ exceptions.raise_compiler_error('segment attributes (seeds/segment_attributes.csv): columns ' ~ table.column_names | join(', ') ~ '; expected exactly: ' ~ expected | join(', ')) }}
    {%- endif -%}
    {%- set reserved = ['exposure_platform', 'tenure'] -%}
    {%- set rows = [] -%}
    {%- for row in table.rows -%}
        {%- set name = row['attribute_name'] -%}
        {%- set where = 'segment attributes (seeds/segment_attributes.csv) row ' ~ loop.index ~ ': attribute_name is ' ~ tojson(name | string) -%}
        {%- if name is none or not modules.re.match('^[a-z][a-z0-9_]{0,62}$', name | string) -%}
            {{ exceptions.raise_compiler_error(where ~ '; allowed: lowercase letters, digits and _, starting with a letter (a top-level key of the event properties)') }}
        {%- endif -%}
        {%- if name in reserved -%}
            {{ exceptions.raise_compiler_error(where ~ '; allowed: any name but the built-in segment types ' ~ reserved | join(', ')) }}
        {%- endif -%}
        {%- do rows.append({'attribute_name': name, 'description': row['description']}) -%}
    {%- endfor -%}
    {{ return(rows) }}
{%- endmacro %}
