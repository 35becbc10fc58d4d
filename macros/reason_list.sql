{#-
    Comma-separated list of the codes whose condition holds, or null when none does.
    checks: list of [sql_condition, code] pairs; a condition that evaluates to null counts as false.
    The list is built only for rows where some condition holds (one boolean test first), so the accepted
    rows, nearly all of them, build no text.
-#}
{% macro reason_list(checks) -%}
    {%- set parts = [] -%}
    {%- set conditions = [] -%}
    {%- for condition, code in checks -%}
        {%- do parts.append("case when " ~ condition ~ " then '," ~ code ~ "' else '' end") -%}
        {%- do conditions.append("(" ~ condition ~ ")") -%}
    {%- endfor -%}
    {%- set joined = dbt.concat(parts) -%}
    case when {{ conditions | join(' or ') }} then {{ dbt.right(joined, dbt.length(joined) ~ ' - 1') }} end
{%- endmacro %}
