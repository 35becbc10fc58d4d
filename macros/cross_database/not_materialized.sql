{#- Written between `as` and the parenthesis of a CTE (`name as {{ readout.not_materialized() }} (`): asks the engine to inline the CTE into each query that reads it
    instead of materializing it once. For a CTE over a large scan that several steps read narrowly, each step
    then scans only its own columns and nothing is buffered. Empty where the syntax does not exist (Spark
    inlines such CTEs itself). -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'readout')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}{%- endmacro %}

{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}

{% macro postgres__not_materialized() -%}not materialized{%- endmacro %}
