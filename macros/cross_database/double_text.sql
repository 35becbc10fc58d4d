{#- A floating-point column (or a text one) as text, the non-finite values spelled as Spark and Java spell them:
    NaN, Infinity and -Infinity (DuckDB writes nan, inf and -inf), so the raw text and the payload hash of a
    quarantined NaN or infinite revenue are the same on both engines. Finite values keep the engine's spelling,
    which agrees for amounts between 0.001 and 10,000,000 (Java writes E notation outside them). -#}
{% macro double_text(expression) -%}
    {{ return(adapter.dispatch('double_text', 'readout')(expression)) }}
{%- endmacro %}

{% macro default__double_text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__double_text(expression) -%}
    case cast({{ expression }} as varchar)
        when 'nan' then 'NaN'
        when '-nan' then 'NaN'
        when 'inf' then 'Infinity'
        when '-inf' then '-Infinity'
        else cast({{ expression }} as varchar)
    end
{%- endmacro %}
