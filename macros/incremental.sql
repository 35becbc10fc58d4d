{#-
    Incremental models on every engine. dbt-spark's Parquet tables have neither delete+insert nor merge (Delta,
    Iceberg or Hudi only); what they have is insert_overwrite with partition_by: a refresh replaces the
    partitions its rows fall in (dynamic partition overwrite) and keeps the others. So an incremental model
    names its strategy for DuckDB (and the default), and the partition columns a refresh replaces whole on
    Spark; its SQL must then produce every row of each partition it touches
    (readout.unit_metric_recount_whole_versions, the landing file of stg_landing__events_checked).
        incremental_strategy=readout.incremental_strategy('delete+insert'),
        partition_by=readout.incremental_partition_by(['experiment_id', 'experiment_version']),
-#}
{% macro incremental_strategy(strategy) -%}
    {{ return(adapter.dispatch('incremental_strategy', 'readout')(strategy)) }}
{%- endmacro %}

{% macro default__incremental_strategy(strategy) -%}
    {{ return(strategy) }}
{%- endmacro %}

{% macro spark__incremental_strategy(strategy) -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- The partition columns (Spark), none elsewhere (DuckDB tables are not partitioned). -#}
{% macro incremental_partition_by(columns) -%}
    {{ return(adapter.dispatch('incremental_partition_by', 'readout')(columns)) }}
{%- endmacro %}

{% macro default__incremental_partition_by(columns) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__incremental_partition_by(columns) -%}
    {{ return(columns) }}
{%- endmacro %}

{#- Whether a post-hook may delete rows: not on Spark's Parquet tables (no DELETE). A model that prunes rows in a
    post-hook wraps it in {% raw %}{% if readout.can_delete_rows() %}{% endraw %}; on Spark its insert_overwrite
    partitions must make the pruning unnecessary. -#}
{% macro can_delete_rows() -%}
    {{ return(adapter.dispatch('can_delete_rows', 'readout')()) }}
{%- endmacro %}

{% macro default__can_delete_rows() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__can_delete_rows() -%}
    {{ return(false) }}
{%- endmacro %}
