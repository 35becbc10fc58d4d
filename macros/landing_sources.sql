{#-
    The landing sources on engines that cannot read Parquet inside a query. DuckDB reads the landing files in
    place (each source's meta.external_location, a read_parquet over its folder; nothing to create). On Spark
    the on-run-start hook create_landing_relations() makes, for every table of the `landing` source:
    - an external table <name>__parquet over its folder (all files below it, recursiveFileLookup), with the
      columns of landing_columns() below: the union of every schema version's columns, so a landing zone
      that lacks one version (or holds only readout build's zero-row placeholder, _empty.parquet, which Spark
      skips as a hidden file) still has the full column set, as DuckDB's zero-row union gives it;
    - the source itself, a view over it adding `filename`, the file each row was read from (Spark's hidden
      _metadata.file_path without the file: scheme), as DuckDB's read_parquet(filename = true) spells it.
    The folder of each table is the one its DuckDB external_location reads (one place for both engines).
    Dropping and recreating an external table leaves its files alone; the hook runs on every build, so new
    landing files are listed afresh.
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

{#- The contract's (Arrow's) type names in Spark SQL. Parquet timestamps without a zone are read as
    timestamp_ntz (the session is UTC, so a later cast to timestamp keeps the wall clock). -#}
{% macro spark_landing_type(contract_type) -%}
    {%- set types = {'string': 'string', 'int32': 'int', 'int64': 'bigint', 'double': 'double', 'bool': 'boolean',
                     'timestamp[us]': 'timestamp_ntz'} -%}
    {%- if contract_type not in types -%}
        {{ exceptions.raise_compiler_error('macros/landing_sources.sql: no Spark type for the contract type '
            ~ contract_type ~ ': add it to spark_landing_type') }}
    {%- endif -%}
    {{ return(types[contract_type]) }}
{%- endmacro %}

{#- on-run-start: the landing source's relations (nothing on DuckDB). -#}
{% macro create_landing_relations() -%}
    {{ return(adapter.dispatch('create_landing_relations', 'readout')()) }}
{%- endmacro %}

{% macro default__create_landing_relations() -%}{%- endmacro %}

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

{% macro spark__create_landing_relations() -%}
    {%- if execute and flags.WHICH in ['build', 'run', 'test', 'seed', 'snapshot', 'retry', 'compile', 'show'] -%}
    {%- set prefix = readout.landing_prefix() -%}
    {%- if not (prefix.startswith('/') or modules.re.match('^[A-Za-z][A-Za-z0-9+.-]*://', prefix)) -%}
        {{ exceptions.raise_compiler_error('READOUT_LANDING_PATH is ' ~ tojson(prefix.rstrip('/')) ~ ': on Spark it must be '
            ~ 'an absolute path or a URL (s3://..., abfss://...), as Spark reports the files it reads') }}
    {%- endif -%}
    {%- set columns_by_folder = readout.landing_columns() -%}
    {%- set statements = [] -%}
    {%- for node in graph.sources.values() | selectattr('source_name', 'equalto', 'landing') | sort(attribute='name') -%}
        {%- set location = (node.config.get('meta') or {}).get('external_location') or (node.meta or {}).get('external_location') or '' -%}
        {#- the folder between the landing zone's path and /**/*.parquet -#}
        {%- set found = modules.re.search("^/*([A-Za-z0-9_/]+?)/\*\*/\*\.parquet", location.split(prefix.rstrip('/') | replace("'", "''"), 1)[-1]) -%}
        {%- if found is none or found.group(1) not in columns_by_folder -%}
            {{ exceptions.raise_compiler_error('landing source ' ~ node.name ~ ': its folder (from meta.external_location) has no '
                ~ 'columns in macros/landing_sources.sql (landing_columns): add them as readout.contract declares them') }}
        {%- endif -%}
        {%- set folder = found.group(1) -%}
        {%- set relation = api.Relation.create(schema=node.schema, identifier=node.identifier) -%}
        {%- set files = readout.landing_files_relation(relation) -%}
        {%- set column_list = [] -%}
        {%- for name, contract_type in columns_by_folder[folder].items() -%}
            {%- do column_list.append(name ~ ' ' ~ readout.spark_landing_type(contract_type)) -%}
        {%- endfor -%}
        {%- if loop.first -%}
            {%- do statements.append('create schema if not exists ' ~ relation.without_identifier()) -%}
        {%- endif -%}
        {%- do statements.append('drop view if exists ' ~ relation) -%}
        {%- do statements.append('drop table if exists ' ~ files) -%}
        {%- do statements.append('create table ' ~ files ~ ' (' ~ column_list | join(', ') ~ ') using parquet '
            ~ "options (recursiveFileLookup 'true') location " ~ readout.quote_string(prefix ~ folder)) -%}
        {%- do statements.append('create view ' ~ relation ~ ' as select *, '
            ~ readout.spark_file_name('_metadata.file_path') ~ ' as filename from ' ~ files) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- endif -%}
    select 1 as landing_relations_created
{%- endmacro %}
