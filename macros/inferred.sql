{#-
    An inferred table: the statistics a thin dbt Python model computes (the *_inferred models: they call the
    readout package on the sufficient statistics). The typed, contract-enforced marts read them through this macro
    instead of ref(), because dbt runs these Python models on DuckDB only (they read their inputs with DuckDB's
    .df(); dbt-spark runs Python models only on Databricks clusters, never in a session):
    - DuckDB: ref(name), as before;
    - any other engine (Spark): the Python models are disabled (their YAML: enabled only when target.type is
      duckdb) and `readout infer` runs the same model code and writes the same table (<marts schema>.<name>);
      `readout build --target spark` runs dbt up to the statistics, readout infer, then dbt for the rest. Run
      alone, a model reading a table readout infer has not written stops with one line saying so.
-#}
{% macro inferred(name, schema='marts') -%}
    {#- the reading model is tagged, so a build can select what reads the statistics on any engine
        (readout build: tag:reads_inferred+), where dbt's graph does not hold the edge (Spark) -#}
    {%- do config(tags=['reads_inferred']) -%}
    {{ return(adapter.dispatch('inferred', 'readout')(name, schema)) }}
{%- endmacro %}

{% macro duckdb__inferred(name, schema) -%}
    {{ return(ref(name)) }}
{%- endmacro %}

{% macro default__inferred(name, schema) -%}
    {%- set relation = api.Relation.create(schema=generate_schema_name(schema, none), identifier=name, type='table') -%}
    {%- if execute and flags.WHICH in ['build', 'run', 'compile', 'show'] -%}
        {%- if adapter.get_relation(database=none, schema=relation.schema, identifier=name) is none -%}
            {{ exceptions.raise_compiler_error(
                relation ~ " does not exist: on " ~ target.type ~ " the statistics are written by `readout infer"
                ~ " --target " ~ target.name ~ "` (`readout build --target " ~ target.name ~ "` runs dbt, readout"
                ~ " infer, then dbt again)"
            ) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
