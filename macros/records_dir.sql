{#-
    on-run-start: READOUT_RECORDS_DIR (the frozen and restated readouts, a seed path) must be a relative folder
    inside the project. dbt writes each seed's compiled statement under target/run/<project>/<seed path>: with an
    absolute path, or one climbing out with "..", that lands on the records themselves and overwrites them.
-#}
{% macro check_records_dir() -%}
    {%- set records_dir = env_var('READOUT_RECORDS_DIR', 'readouts') -%}
    {%- set parts = records_dir.replace('\\', '/').split('/') -%}
    {%- if records_dir.startswith('/') or records_dir.startswith('\\') or (records_dir[1:2] == ':') or '..' in parts -%}
        {{ exceptions.raise_compiler_error('READOUT_RECORDS_DIR is ' ~ tojson(records_dir) ~ ': it must be a relative folder inside the project (for example build/demo/readouts); dbt writes compiled seeds by this path and would overwrite the records') }}
    {%- endif -%}
    select 1 as records_dir_checked
{%- endmacro %}
