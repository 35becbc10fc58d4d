{#- True when a floating-point value is a real number (not NaN, +inf or -inf); null stays null. -#}
{% macro is_finite(expression) -%}
    {{ return(adapter.dispatch('is_finite', 'readout')(expression)) }}
{%- endmacro %}

{#- Portable fallback: NaN compares false (IEEE engines) or above every number (Postgres, Spark), so it
    fails the range test like the infinities do. -#}
{% macro default__is_finite(expression) -%}
    ({{ expression }} between -1.7976931348623157e308 and 1.7976931348623157e308)
{%- endmacro %}

{% macro duckdb__is_finite(expression) -%}
    isfinite({{ expression }})
{%- endmacro %}

{% macro spark__is_finite(expression) -%}
    (not isnan({{ expression }}) and abs({{ expression }}) != cast('Infinity' as double))
{%- endmacro %}
