{#-
    The landing sources' relations, made by the on-run-start hook create_landing_relations() for every table of
    the `landing` source, over its folder of the landing zone (meta.landing_folder under READOUT_LANDING_PATH):
    - DuckDB: the source is a view reading the folder's Parquet files in place (read_parquet, by column name).
      The events view adds `filename` (the file each row was read from) and unions in a zero-row relation with
      the columns of landing_columns() below, so a landing zone that lacks one schema version still has the full
      column set.
    - Spark: an external table <name>__parquet over its folder (all files below it, recursiveFileLookup), with
      the columns of landing_columns(); the source itself is a view over it adding `filename` (Spark's hidden
      _metadata.file_path without the file: scheme), as DuckDB spells it. A zero-row placeholder
      (_empty.parquet, which Spark skips as a hidden file) leaves the columns declared.
    The landing path is read when the hook runs, never while dbt parses the project: a build of another landing
    zone reuses dbt's parse state (target/partial_parse.msgpack) instead of parsing every file again. The views
    hold the path as READOUT_LANDING_PATH spells it (relative paths against the working directory, as before).
    The hook runs on every build, so new landing files are listed afresh; dropping and recreating an external
    table leaves its files alone.
-#}

{#- The landing tables' columns (types as readout.contract spells them, every schema version's columns):
    python/tests/test_landing_sources.py holds this in step with readout.contract.LANDING_TABLE_VERSIONS. -#}
{% macro landing_columns() -%}
    {{ return({
        'events': {
            'event_id': 'string', 'event_name': 'string', 'event_at': 'string', 'received_at': 'string',
            'schema_version': 'int32', 'source_system': 'string', 'anonymous_id': 'string', 'device_id': 'string',
            'user_id': 'string', 'session_id': 'string', 'experiment_id': 'string', 'experiment_version': 'int32',
            'variant_id': 'string', 'assignment_mechanism': 'string', 'consent_granted': 'bool',
            'revenue': 'double', 'revenue_amount': 'double', 'currency': 'string', 'properties': 'string',
        },
        'experiments': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'name': 'string', 'status': 'string',
            'started_at': 'timestamp[us]', 'ended_at': 'timestamp[us]', 'unit_type': 'string',
            'variant_id': 'string', 'is_control': 'bool', 'allocation_weight': 'double',
        },
        'imports/units': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'unit_id': 'string',
            'assigned_variant_id': 'string', 'exposed_variant_id': 'string', 'observed_at': 'timestamp[us]',
            'source_row': 'int64',
        },
        'imports/outcomes': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'unit_id': 'string', 'source_row': 'int64',
            'metric_id': 'string', 'metric_value': 'double',
        },
        'imports/metrics': {
            'experiment_id': 'string', 'metric_id': 'string', 'metric_type': 'string', 'direction': 'string',
            'role': 'string', 'description': 'string',
        },
        'imports/settings': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'metric_id': 'string', 'setting': 'string',
            'value_double': 'double', 'value_text': 'string',
        },
        'imports/denominators': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'unit_id': 'string', 'source_row': 'int64',
            'metric_id': 'string', 'denominator_value': 'double',
        },
        'imports/summaries': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'checkpoint_index': 'int32',
            'checkpoint_label': 'string', 'checkpoint_at': 'timestamp[us]', 'variant_id': 'string',
            'metric_id': 'string', 'n_units': 'int64', 'metric_sum': 'double', 'metric_sum_of_squares': 'double',
            'row_reason': 'string', 'source_row': 'int64',
        },
        'imports/unit_attributes': {
            'experiment_id': 'string', 'experiment_version': 'int32', 'unit_id': 'string',
            'attribute_name': 'string', 'attribute_value': 'string',
        },
    }) }}
{%- endmacro %}

{#- The contract's (Arrow's) type names in the target engine's SQL. On Spark, Parquet timestamps without a zone are
    read as timestamp_ntz (the session is UTC, so a later cast to timestamp keeps the wall clock). -#}
{% macro landing_type(contract_type) -%}
    {%- set types = {
        'duckdb': {'string': 'varchar', 'int32': 'integer', 'int64': 'bigint', 'double': 'double', 'bool': 'boolean',
                   'timestamp[us]': 'timestamp'},
        'spark': {'string': 'string', 'int32': 'int', 'int64': 'bigint', 'double': 'double', 'bool': 'boolean',
                  'timestamp[us]': 'timestamp_ntz'},
    }.get(target.type, {}) -%}
    {%- if contract_type not in types -%}
        {{ exceptions.raise_compiler_error('macros/landing_sources.sql: no ' ~ target.type ~ ' type for the contract type '
            ~ contract_type ~ ': add it to landing_type') }}
    {%- endif -%}
    {{ return(types[contract_type]) }}
{%- endmacro %}

{#- on-run-start: the landing source's relations (see the top of this file): for each table, the statements of the
    target engine (landing_relation_statements, dispatched), run in order. -#}
{% macro create_landing_relations() -%}
    {%- if readout.landing_relations_wanted() -%}
    {%- set prefix = readout.landing_prefix() -%}
    {%- set statements = [] -%}
    {%- for node, folder, columns in readout.landing_tables() -%}
        {%- do statements.extend(adapter.dispatch('landing_relation_statements', 'readout')(node, folder, columns, prefix, loop.first)) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- endif -%}
    select 1 as landing_relations_created
{%- endmacro %}

{% macro default__landing_relation_statements(node, folder, columns, prefix, first) -%}
    {{ exceptions.raise_compiler_error("readout.landing_relation_statements is not implemented for the " ~ target.type
        ~ " adapter: add " ~ target.type ~ "__landing_relation_statements to macros/landing_sources.sql (see duckdb__ and spark__)") }}
{%- endmacro %}

{#- Whether this dbt command reads the landing relations (the hook makes them only then, and only at run time). Not
    `dbt seed`: seeds read no landing file, and `make lint` seeds its warehouse before any landing zone exists. -#}
{% macro landing_relations_wanted() -%}
    {{ return(execute and flags.WHICH in ['build', 'run', 'test', 'snapshot', 'retry', 'compile', 'show']) }}
{%- endmacro %}

{#- The landing source's tables as (source node, folder, columns) in name order: each one's meta.landing_folder,
    checked against landing_columns() (one line naming the table, never a half-made landing). -#}
{% macro landing_tables() -%}
    {%- set columns_by_folder = readout.landing_columns() -%}
    {%- set tables = [] -%}
    {%- for node in graph.sources.values() | selectattr('source_name', 'equalto', 'landing') | sort(attribute='name') -%}
        {%- set folder = (node.config.get('meta') or {}).get('landing_folder') or (node.meta or {}).get('landing_folder') -%}
        {%- if folder not in columns_by_folder -%}
            {{ exceptions.raise_compiler_error('landing source ' ~ node.name ~ ': its folder (meta.landing_folder: '
                ~ folder ~ ') has no columns in macros/landing_sources.sql (landing_columns): add them as readout.contract declares them') }}
        {%- endif -%}
        {%- do tables.append((node, folder, columns_by_folder[folder])) -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#- DuckDB: the table a view over its folder's Parquet files (read by column name); the events view with `filename`
    and every schema version's columns (a zero-row relation unioned in by name). -#}
{% macro duckdb__landing_relation_statements(node, folder, columns, prefix, first) -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier) -%}
    {%- set statements = ['create schema if not exists ' ~ relation.without_identifier()] if first else [] -%}
    {%- set files = readout.quote_string(prefix ~ folder ~ '/**/*.parquet') -%}
    {%- if folder == 'events' -%}
        {%- set typed_nulls = [] -%}
        {%- for name, contract_type in columns.items() -%}
            {%- do typed_nulls.append('null::' ~ readout.landing_type(contract_type) ~ ' as ' ~ name) -%}
        {%- endfor -%}
        {%- set query = 'select * from read_parquet(' ~ files ~ ', union_by_name = true, filename = true) '
            ~ 'union all by name select * from (select ' ~ typed_nulls | join(', ') ~ ', null::varchar as filename) where false' -%}
    {%- else -%}
        {%- set query = 'select * from read_parquet(' ~ files ~ ', union_by_name = true)' -%}
    {%- endif -%}
    {%- do statements.append('create or replace view ' ~ relation ~ ' as ' ~ query) -%}
    {{ return(statements) }}
{%- endmacro %}

{#- Spark: an external Parquet table <name>__parquet over the folder, with every schema version's columns, and the
    source a view over it adding `filename`. The landing path must be absolute or a URL. -#}
{% macro spark__landing_relation_statements(node, folder, columns, prefix, first) -%}
    {%- if not (prefix.startswith('/') or modules.re.match('^[A-Za-z][A-Za-z0-9+.-]*://', prefix)) -%}
        {{ exceptions.raise_compiler_error('READOUT_LANDING_PATH is ' ~ tojson(prefix.rstrip('/')) ~ ': on Spark it must be '
            ~ 'an absolute path or a URL (s3://..., abfss://...), as Spark reports the files it reads') }}
    {%- endif -%}
    {%- set relation = api.Relation.create(schema=node.schema, identifier=node.identifier) -%}
    {%- set files = readout.landing_files_relation(relation) -%}
    {%- set column_list = [] -%}
    {%- for name, contract_type in columns.items() -%}
        {%- do column_list.append(name ~ ' ' ~ readout.landing_type(contract_type)) -%}
    {%- endfor -%}
    {%- set statements = ['create schema if not exists ' ~ relation.without_identifier()] if first else [] -%}
    {%- do statements.append('drop view if exists ' ~ relation) -%}
    {%- do statements.append('drop table if exists ' ~ files) -%}
    {%- do statements.append('create table ' ~ files ~ ' (' ~ column_list | join(', ') ~ ') using parquet '
        ~ "options (recursiveFileLookup 'true') location " ~ readout.quote_string(prefix ~ folder)) -%}
    {%- do statements.append('create view ' ~ relation ~ ' as select *, '
        ~ readout.spark_file_name('_metadata.file_path') ~ ' as filename from ' ~ files) -%}
    {{ return(statements) }}
{%- endmacro %}

{#- The external table behind a landing source table on Spark (landing_event_files reads its _metadata). -#}
{% macro landing_files_relation(source_relation) -%}
    {{ return(source_relation.incorporate(path={'identifier': source_relation.identifier ~ '__parquet'})) }}
{%- endmacro %}

{#- A file's path as Spark reports it (_metadata.file_path, a URI), spelled as READOUT_LANDING_PATH spells a local
    folder: file:/tmp/x and file:///tmp/x are /tmp/x; other schemes (s3://...) stay. The URI's escapes are decoded
    (a space is %20 in it); url_decode also reads '+' as a space, so a literal '+' is escaped first. -#}
{% macro spark_file_name(expression) -%}
    url_decode(replace(regexp_replace({{ expression }}, '^file:(//)?(?=/)', ''), '+', '%2B'))
{%- endmacro %}
