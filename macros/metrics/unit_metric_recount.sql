{#-
    The grain at which an incremental refresh of int_unit_metric_aggregates recounts: false, the unit x
    experiment versions the new events or changed windows touch (delete+insert on that key: DuckDB and the
    default); true, every unit of a touched experiment version (Spark: insert_overwrite replaces whole
    partitions, and the table is partitioned by experiment_id, experiment_version).
-#}
{% macro unit_metric_recount_whole_versions() -%}
    {{ return(adapter.dispatch('unit_metric_recount_whole_versions', 'readout')()) }}
{%- endmacro %}

{% macro default__unit_metric_recount_whole_versions() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro spark__unit_metric_recount_whole_versions() -%}
    {{ return(true) }}
{%- endmacro %}
