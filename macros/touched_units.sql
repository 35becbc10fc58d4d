{#-
    Per-unit tables refreshed by the units new landing files touch (int_units_profiled, the first assignments and
    the first exposures; int_unit_metric_aggregates shares the touched units' definition). Each row carries
    files_processed_through (the last landing file counted) and built_invocation_id. On a refresh:
    - the pre-hook writes `<model>__touched`: the units the landing files staged after the table's
      files_processed_through can touch (readout.units_touched_by_new_files_sql), every unit of an imported
      export now, and every stored unit the table flags as built from one (an export can change or go);
    - the model recounts those units from all of their events (readout.touched_units_filter) and appends them;
    - the post-hook deletes the touched units' rows of earlier builds (their old rows, and the rows of units
      that no longer exist: an anonymous id whose events now stitch to a user) and drops the helper table.
    A unit's rows depend on its events only, so the table equals a full build's (tests/integration/
    test_incremental_late_data.py). Spark (no DELETE on Parquet): a plain table, rebuilt in full.
        materialized=readout.touched_units_materialization(), incremental_strategy='append', on_schema_change='fail',
        pre_hook=["{{ readout.build_touched_units_table('<stored rows built from an import>') }}"],
        post_hook=["{{ readout.replace_touched_units_rows() }}"],
-#}
{% macro touched_units_materialization() -%}
    {{ return(adapter.dispatch('touched_units_materialization', 'readout')()) }}
{%- endmacro %}

{% macro default__touched_units_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__touched_units_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- select unit_id: the units the events of the landing files staged after `relation`'s files_processed_through
    can touch: their events' user and anonymous ids, and every user id seen with those anonymous ids (a new link
    can move an anonymous id's events from one user to another). Every staged file when the table is empty. -#}
{% macro units_touched_by_new_files_sql(relation) -%}
    {%- set new_events -%}
        select
            anonymous_id,
            user_id
        from {{ ref('stg_landing__events') }}
        where file_path in (
            select files_processed.file_path
            from {{ ref('stg_landing__files_processed') }} as files_processed
            cross join (select max(files_processed_through) as files_processed_through from {{ relation }}) as counted
            where counted.files_processed_through is null
                or files_processed.processed_at > counted.files_processed_through
        )
    {%- endset -%}
    select new_events.user_id as unit_id
    from ({{ new_events }}) as new_events
    where new_events.user_id is not null
    union
    select new_events.anonymous_id as unit_id
    from ({{ new_events }}) as new_events
    where new_events.anonymous_id is not null
    union
    select linked.user_id as unit_id
    from {{ ref('stg_landing__events') }} as linked
    where linked.user_id is not null
        and linked.anonymous_id in (
            select new_events.anonymous_id
            from ({{ new_events }}) as new_events
            where new_events.anonymous_id is not null
        )
{%- endmacro %}

{% macro touched_units_relation() -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__touched', type='table')) }}
{%- endmacro %}

{#- whether this build recounts the touched units only (an incremental refresh of a table that exists; never in
    a unit test, which has no `this`) -#}
{% macro recounts_touched_units() -%}
    {{ return(execute and this is not none and is_incremental()) }}
{%- endmacro %}

{#- pre-hook: runs its statements while it renders and renders to nothing -#}
{% macro build_touched_units_table(stored_import_condition) -%}
    {%- if not readout.recounts_touched_units() -%}{{ return('') }}{%- endif -%}
    {%- set relation = readout.touched_units_relation() -%}
    {%- set sql -%}
        select unit_id from ({{ readout.units_touched_by_new_files_sql(this) }}) as new_units
        union
        select unit_id from {{ ref('stg_landing__import_units') }}
        union
        select unit_id from {{ this }} where {{ stored_import_condition }}
    {%- endset -%}
    {%- do adapter.drop_relation(relation) -%}
    {#- plain SQL: get_create_table_as_sql would hold the helper table to the model's contract (only DuckDB and
        engines with DELETE get here, see touched_units_materialization) -#}
    {%- do run_query('create table ' ~ relation ~ ' as ' ~ sql) -%}
    {{ return('') }}
{%- endmacro %}

{#- the model's filter on its events, after `keyword` (where, and); nothing on a full build -#}
{% macro touched_units_filter(keyword='where') -%}
    {%- if readout.recounts_touched_units() -%}
        {{ keyword }} unit_id in (select unit_id from {{ readout.touched_units_relation() }})
    {%- endif -%}
{%- endmacro %}

{#- the bookkeeping columns of every row: the last landing file counted, and the build -#}
{% macro touched_units_build_columns() -%}
    (select max(processed_at) from {{ ref('stg_landing__files_processed') }}) as files_processed_through,
    cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as built_invocation_id
{%- endmacro %}

{#- post-hook: the touched units' rows of earlier builds go; then the helper table -#}
{% macro replace_touched_units_rows() -%}
    {%- if not readout.recounts_touched_units() -%}{{ return('') }}{%- endif -%}
    {%- set relation = readout.touched_units_relation() -%}
    {%- do run_query(
        "delete from " ~ this ~ " where built_invocation_id <> '" ~ invocation_id ~ "'"
        ~ " and unit_id in (select unit_id from " ~ relation ~ ")"
    ) -%}
    {%- do adapter.drop_relation(relation) -%}
    {{ return('') }}
{%- endmacro %}
