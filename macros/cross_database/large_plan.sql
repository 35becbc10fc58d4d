{#-
    Hooks around a model whose query plan is large (a wide, generated query reading the same CTEs several times).
    Spark's optimizer infers filters from constraints over every column of such a plan and ran the driver out of
    heap while only planning int_unit_metric_aggregates' incremental refresh (EXPLAIN alone needed more than 2 GB
    on 50k events; a few seconds without it). On Spark the pre-hook turns constraint propagation off for the model
    and the post-hook resets it. On DuckDB the model runs on one thread: its join of every event and its group by
    hold a partition per thread: at 10M events it needs more than a 150 MB memory limit on two threads and fits
    150 MB on one, for about 10% more time (100M events ran out of 2.5 GB in its earlier form); the post-hook sets the
    profile's threads back (threads is a setting of the whole database, so a model dbt runs beside it has one
    thread meanwhile). Elsewhere both are empty (dbt skips an empty hook).
        pre_hook=["{{ readout.large_plan_begin() }}"], post_hook=["{{ readout.large_plan_end() }}", ...]
-#}
{% macro large_plan_begin() -%}
    {{ return(adapter.dispatch('large_plan_begin', 'readout')()) }}
{%- endmacro %}

{% macro default__large_plan_begin() -%}{%- endmacro %}

{% macro duckdb__large_plan_begin() -%}
    set threads = 1
{%- endmacro %}

{% macro spark__large_plan_begin() -%}
    set spark.sql.constraintPropagation.enabled = false
{%- endmacro %}

{% macro large_plan_end() -%}
    {{ return(adapter.dispatch('large_plan_end', 'readout')()) }}
{%- endmacro %}

{% macro default__large_plan_end() -%}{%- endmacro %}

{% macro duckdb__large_plan_end() -%}
    {%- set threads = (target.get('config_options') or {}).get('threads') or (target.get('settings') or {}).get('threads') -%}
    {%- if threads %}set threads = {{ threads }}{% else %}reset threads{% endif %}
{%- endmacro %}

{% macro spark__large_plan_end() -%}
    reset spark.sql.constraintPropagation.enabled
{%- endmacro %}
