{#- The continuous percentile p (0..1) of an expression, as an aggregate. -#}
{% macro percentile_cont(expression, p) -%}
    {{ return(adapter.dispatch('percentile_cont', 'readout')(expression, p)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, p) -%}
    percentile_cont({{ p }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, p) -%}
    quantile_cont({{ expression }}, {{ p }})
{%- endmacro %}

{% macro bigquery__percentile_cont(expression, p) -%}
    approx_quantiles({{ expression }}, 1000)[offset(cast(round({{ p }} * 1000) as int64))]
{%- endmacro %}
