{#-
    env_var(name, default) when a build runs (execute), and `default` while dbt parses the project. For a value
    that only goes into the SQL a node runs (a path, a code version), never into its config or its refs: dbt
    renders every node's SQL again when it runs it, so the value is always the current one, and dbt's parse
    state does not record the variable, so a change of it does not make dbt parse the project again (any
    recorded variable that changes costs a partial parse about as long as a full one: 7 s here).
-#}
{% macro runtime_env_var(name, default) -%}
    {%- if execute -%}
        {{ return(env_var(name, default)) }}
    {%- endif -%}
    {{ return(default) }}
{%- endmacro %}
