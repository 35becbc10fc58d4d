{#- A cast that yields null instead of failing. dbt.safe_cast is a plain cast on DuckDB, so dispatch to try_cast. -#}
{% macro safe_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('safe_cast', 'readout')(expression, data_type)) }}
{%- endmacro %}

{#- Not dbt.safe_cast: a root project's default__safe_cast also answers dbt's own dispatch of safe_cast on
    adapters without one (Spark), so calling dbt.safe_cast here would recurse. A plain cast, as dbt's default. -#}
{% macro default__safe_cast(expression, data_type) -%}
    cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro duckdb__safe_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro spark__safe_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
