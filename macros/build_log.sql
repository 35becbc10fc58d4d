{#-
    The build log: one append-only table, <target schema>.readout_build_log, written by the project's hooks.
    on-run-start inserts a `started` row, on-run-end a `finished` row with the outcome (success | failed) and
    counts, both keyed by invocation_id. A `started` row without a `finished` row is a build that was killed
    (or is still running): `readout report` says so. Append-only on purpose: Spark's Parquet tables cannot
    UPDATE, and a killed build must leave its trace.
-#}

{#- Commands that write or test models (retry: the failed nodes of one of them); others (source freshness,
    docs, compile) leave no row, their hooks compile to nothing. -#}
{% macro build_log_enabled() -%}
    {{ return(flags.WHICH in ['build', 'run', 'test', 'seed', 'snapshot', 'retry']) }}
{%- endmacro %}

{% macro build_log_relation() -%}
    {#- Spark targets have no database (target.database is undefined there) -#}
    {{ return(api.Relation.create(database=target.get('database'), schema=target.schema, identifier='readout_build_log')) }}
{%- endmacro %}

{#-
    on-run-start, first and second hooks: the schema and the table, if missing. Plain statements run by the hook
    itself (outside a transaction), not dbt's create_schema, whose transaction would roll the hooks back.
-#}
{% macro build_log_create_schema() -%}
    {%- if build_log_enabled() -%}
    create schema if not exists {{ build_log_relation().without_identifier() }}
    {%- endif -%}
{%- endmacro %}

{% macro build_log_create() -%}
    {%- if build_log_enabled() -%}
    create table if not exists {{ build_log_relation() }} (
        invocation_id {{ dbt.type_string() }},
        event {{ dbt.type_string() }},
        command {{ dbt.type_string() }},
        status {{ dbt.type_string() }},
        started_at {{ dbt.type_timestamp() }},
        finished_at {{ dbt.type_timestamp() }},
        node_count {{ dbt.type_int() }},
        error_count {{ dbt.type_int() }},
        test_failure_count {{ dbt.type_int() }},
        skipped_count {{ dbt.type_int() }},
        failed_nodes {{ dbt.type_string() }},
        built_models {{ dbt.type_string() }},
        dbt_version {{ dbt.type_string() }}
    ) {{ build_log_table_clause() }}
    {%- endif -%}
{%- endmacro %}

{% macro build_log_table_clause() -%}
    {{ return(adapter.dispatch('build_log_table_clause', 'readout')()) }}
{%- endmacro %}

{% macro default__build_log_table_clause() -%}{%- endmacro %}

{% macro spark__build_log_table_clause() -%}
    using parquet
{%- endmacro %}

{#- on-run-start, third hook: the `started` row. -#}
{% macro build_log_started() -%}
    {{ build_log_insert('started', 'started', none, {}) }}
{%- endmacro %}

{#- on-run-end: the `finished` row; failed when any node errored or any test (data or unit) failed or errored. -#}
{% macro build_log_finished(results) -%}
    {%- set failing_statuses = ['error', 'fail', 'runtime error', 'partial success'] -%}
    {%- set counts = {'nodes': 0, 'errors': 0, 'test_failures': 0, 'skipped': 0} -%}
    {%- set failed = [] -%}
    {%- set built = [] -%}
    {%- for result in (results if execute else []) -%}
        {%- set status = result.status | string | lower -%}
        {%- set resource_type = result.node.resource_type | string | lower -%}
        {%- do counts.update({'nodes': counts['nodes'] + 1}) -%}
        {%- if status in failing_statuses -%}
            {%- do failed.append((result.node.model ~ '::' if resource_type == 'unit_test' else '') ~ result.node.name) -%}
            {%- if resource_type in ['test', 'unit_test'] -%}
                {%- do counts.update({'test_failures': counts['test_failures'] + 1}) -%}
            {%- else -%}
                {%- do counts.update({'errors': counts['errors'] + 1}) -%}
            {%- endif -%}
        {%- elif status == 'skipped' -%}
            {%- do counts.update({'skipped': counts['skipped'] + 1}) -%}
        {%- elif resource_type == 'model' and status == 'success' -%}
            {%- do built.append(result.node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set outcome = 'failed' if failed else 'success' -%}
    {%- set shown = failed[:20] + (['and ' ~ (failed | length - 20) ~ ' more'] if failed | length > 20 else []) -%}
    {{ build_log_insert('finished', outcome, modules.datetime.datetime.now(modules.pytz.utc), {
        'nodes': counts['nodes'], 'errors': counts['errors'], 'test_failures': counts['test_failures'],
        'skipped': counts['skipped'], 'failed_nodes': shown | join(', '), 'built_models': built | sort | join(', ')}) }}
{%- endmacro %}

{#- Values are dbt's own (invocation id, node names, command): kept to a safe character set, never escaped. -#}
{% macro build_log_text(value) -%}
    {%- if value is none or value == '' -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        '{{ modules.re.sub("[^A-Za-z0-9_.,: -]", "", value | string) }}'
    {%- endif -%}
{%- endmacro %}

{% macro build_log_time(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_timestamp() }})
    {%- else -%}
        {%- set utc = value.astimezone(modules.pytz.utc) if value.tzinfo else value -%}
        cast('{{ utc.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{% macro build_log_count(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_int() }})
    {%- else -%}
        cast({{ value | int }} as {{ dbt.type_int() }})
    {%- endif -%}
{%- endmacro %}

{% macro build_log_insert(event, status, finished_at, counts) -%}
    {%- if build_log_enabled() -%}
    {%- set command = flags.WHICH ~ (' --full-refresh' if flags.FULL_REFRESH else '') -%}
    insert into {{ build_log_relation() }} (
        invocation_id, event, command, status, started_at, finished_at, node_count, error_count,
        test_failure_count, skipped_count, failed_nodes, built_models, dbt_version
    )
    values (
        {{ build_log_text(invocation_id) }},
        {{ build_log_text(event) }},
        {{ build_log_text(command) }},
        {{ build_log_text(status) }},
        {{ build_log_time(run_started_at) }},
        {{ build_log_time(finished_at) }},
        {{ build_log_count(counts.get('nodes')) }},
        {{ build_log_count(counts.get('errors')) }},
        {{ build_log_count(counts.get('test_failures')) }},
        {{ build_log_count(counts.get('skipped')) }},
        {{ build_log_text(counts.get('failed_nodes')) }},
        {{ build_log_text(counts.get('built_models')) }},
        {{ build_log_text(dbt_version) }}
    )
    {%- endif -%}
{%- endmacro %}
