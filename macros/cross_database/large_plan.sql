{#-
    Hooks around a model whose query plan is large (a wide, generated query reading the same CTEs several times).
    Spark's optimizer infers filters from constraints over every column of such a plan and ran the driver out of
    heap while only planning int_unit_metric_aggregates' incremental refresh (EXPLAIN alone needed more than 2 GB
    on 50k events; a few seconds without it). On Spark the pre-hook turns constraint propagation off for the model
    and the post-hook resets it; elsewhere both are empty (dbt skips an empty hook).
        pre_hook=["{{ readout.large_plan_begin() }}"], post_hook=["{{ readout.large_plan_end() }}", ...]
-#}
{% macro large_plan_begin() -%}
    {{ return(adapter.dispatch('large_plan_begin', 'readout')()) }}
{%- endmacro %}

{% macro default__large_plan_begin() -%}{%- endmacro %}

{% macro spark__large_plan_begin() -%}
    set spark.sql.constraintPropagation.enabled = false
{%- endmacro %}

{% macro large_plan_end() -%}
    {{ return(adapter.dispatch('large_plan_end', 'readout')()) }}
{%- endmacro %}

{% macro default__large_plan_end() -%}{%- endmacro %}

{% macro spark__large_plan_end() -%}
    reset spark.sql.constraintPropagation.enabled
{%- endmacro %}
