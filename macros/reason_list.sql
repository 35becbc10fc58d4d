{#-
    Comma-separated list of the codes whose condition holds, or null when none does.
    checks: list of [sql_condition, code] pairs; a condition that evaluates to null counts as false.
-#}
{% macro reason_list(checks) -%}
    {%- set parts = [] -%}
    {%- for condition, code in checks -%}
        {%- do parts.append("case when " ~ condition ~ " then '," ~ code ~ "' else '' end") -%}
    {%- endfor -%}
    {%- set joined = dbt.concat(parts) -%}
    nullif({{ dbt.right(joined, dbt.length(joined) ~ ' - 1') }}, '')
{%- endmacro %}
