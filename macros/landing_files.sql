{#-
    Landing files as batches (incremental ingestion). Landing files are immutable once written: each one is
    read once, by the first build that sees it, and remembered in stg_landing__events_checked (file_path on
    every row) and stg_landing__files_processed (size and fingerprint). A file that changes or disappears
    after it was processed stops the build with one line naming it; `dbt build --full-refresh`
    (`make rebuild`) starts over from the files as they are.
-#}

{#- The landing zone folder with a trailing slash, as the Parquet readers spell a file's path. Read when a build runs
    (execute), never while dbt parses: a model that calls this at parse time would otherwise record
    READOUT_LANDING_PATH, and dbt would parse it again for every other landing zone. -#}
{% macro landing_prefix() -%}
    {{ return(readout.runtime_env_var('READOUT_LANDING_PATH', 'data/landing').rstrip('/') ~ '/') }}
{%- endmacro %}


{#- A landing file's path relative to the landing zone (events/part-0.parquet), from the reader's path, so the
    record survives moving the landing zone. -#}
{% macro landing_file_path(expression) -%}
    {{ return(adapter.dispatch('landing_file_path', 'readout')(expression)) }}
{%- endmacro %}

{% macro default__landing_file_path(expression) -%}
    {%- set prefix = readout.landing_prefix() -%}
    case
        when {{ dbt.position(readout.quote_string(prefix), expression) }} = 1
            then {{ dbt.right(expression, dbt.length(expression) ~ ' - ' ~ (prefix | length)) }}
        else {{ expression }}
    end
{%- endmacro %}


{#- The source column holding each raw row's file: DuckDB's read_parquet(filename = true) column (declared in
    _landing__sources.yml); on Spark the landing view's column of the same name (macros/landing_sources.sql). -#}
{% macro landing_filename_column() -%}
    {{ return(adapter.dispatch('landing_filename_column', 'readout')()) }}
{%- endmacro %}

{% macro default__landing_filename_column() -%}filename{%- endmacro %}


{#-
    One row per landing events file: file_path (relative), file_size (bytes), file_fingerprint and
    file_row_count (from the footer). A select statement, dispatched:
    - duckdb: the Parquet footers only (parquet_file_metadata, parquet_metadata): the fingerprint is the md5
      of every row group's and column chunk's row count, compressed size and min/max statistics, so a rewrite
      with other rows changes it, and listing costs milliseconds however large the files are;
    - spark: the hidden _metadata column (file_path, file_size, file_modification_time as the fingerprint) of
      the external table behind the source (macros/landing_sources.sql), grouped per file; Spark prunes the
      data columns, so it reads no rows' values (a file without rows is not listed: it has nothing to read);
    - elsewhere: a compile error naming the macro to implement.
-#}
{% macro landing_event_files() -%}
    {{ return(adapter.dispatch('landing_event_files', 'readout')()) }}
{%- endmacro %}

{% macro default__landing_event_files() -%}
    {{ exceptions.raise_compiler_error("readout.landing_event_files is not implemented for the " ~ target.type
        ~ " adapter: add " ~ target.type ~ "__landing_event_files to macros/landing_files.sql (see duckdb__ and spark__)") }}
{%- endmacro %}

{% macro duckdb__landing_event_files() -%}
    {%- set glob = readout.quote_string(readout.landing_prefix() ~ 'events/**/*.parquet') -%}
    select
        {{ readout.landing_file_path('footer.file_name') }} as file_path,
        cast(footer.file_size_bytes as bigint) as file_size,
        coalesce(chunks.chunk_fingerprint, md5('no row groups')) as file_fingerprint,
        cast(footer.num_rows as bigint) as file_row_count
    from parquet_file_metadata({{ glob }}) as footer
    left join (
        select
            file_name,
            md5(string_agg(
                concat_ws('|', row_group_id, column_id, row_group_num_rows, total_compressed_size,
                          coalesce(stats_min_value, ''), coalesce(stats_max_value, '')),
                ';' order by row_group_id, column_id
            )) as chunk_fingerprint
        from parquet_metadata({{ glob }})
        group by file_name
    ) as chunks
        on footer.file_name = chunks.file_name
{%- endmacro %}

{% macro spark__landing_event_files() -%}
    select
        {{ readout.landing_file_path(readout.spark_file_name('_metadata.file_path')) }} as file_path,
        max(_metadata.file_size) as file_size,
        cast(max(_metadata.file_modification_time) as string) as file_fingerprint,
        count(*) as file_row_count
    from {{ readout.landing_files_relation(source('landing', 'events')) }}
    group by 1
{%- endmacro %}


{#-
    The landing files an incremental build of stg_landing__events_checked (`checked`) must read: every listed
    file whose path it holds no row of. First, every file already processed is checked against the record
    (stg_landing__files_processed: size and fingerprint) and against the listing: a changed or deleted file
    is a compile error naming it, never silently re-read or forgotten. Returns relative paths, sorted.
-#}
{% macro landing_new_event_files(checked) -%}
    {%- set listed = {} -%}
    {%- for row in run_query(readout.landing_event_files()) -%}
        {%- do listed.update({row['file_path']: row}) -%}
    {%- endfor -%}
    {%- set processed = run_query('select distinct file_path from ' ~ checked).columns[0].values() -%}
    {%- set problems = [] -%}
    {%- set record = adapter.get_relation(database=checked.database, schema=checked.schema,
                                          identifier='stg_landing__files_processed') -%}
    {%- if record is not none -%}
        {%- for row in run_query('select file_path, file_size, file_fingerprint from ' ~ record ~ ' order by file_path') -%}
            {%- set now = listed.get(row['file_path']) -%}
            {%- if now is none -%}
                {%- do problems.append(row['file_path'] ~ ' was deleted after it was processed') -%}
            {%- elif now['file_size'] != row['file_size'] or now['file_fingerprint'] != row['file_fingerprint'] -%}
                {%- do problems.append(row['file_path'] ~ ' changed after it was processed (' ~ row['file_size'] ~ ' -> '
                    ~ now['file_size'] ~ ' bytes, fingerprint ' ~ row['file_fingerprint'][:8] ~ ' -> ' ~ now['file_fingerprint'][:8] ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for path in processed | sort -%}
        {%- if path is not none and path not in listed and (path ~ ' was deleted after it was processed') not in problems -%}
            {%- do problems.append(path ~ ' was deleted after it was processed') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {%- set more = ('; and ' ~ (problems | length - 5) ~ ' more') if problems | length > 5 else '' -%}
        {{ exceptions.raise_compiler_error('landing ' ~ ('file ' if problems | length == 1 else 'files ')
            ~ (problems[:5] | join('; ')) ~ more ~ ': landing files are immutable, so a processed file is never '
            ~ 're-read; restore it, or start over from the landing zone as it is with `make rebuild` '
            ~ '(dbt build --full-refresh)') }}
    {%- endif -%}
    {{ return(listed.keys() | reject('in', processed) | sort) }}
{%- endmacro %}


{#- A filter keeping the raw rows of the given files (relative paths); false for none. Literal paths, so DuckDB
    prunes the other files at the scan. -#}
{% macro landing_files_filter(column, paths) -%}
    {%- if paths | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
            {%- for path in paths %}{{ readout.quote_string(readout.landing_prefix() ~ path) }}{{ ", " if not loop.last }}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
