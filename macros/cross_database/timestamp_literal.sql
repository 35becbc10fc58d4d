{#-
    A timestamp literal (UTC, no zone) from ISO-8601 text, checked when the project compiles: a value that
    is not a timestamp is a compile error naming it, not a wrong result.
-#}
{% macro timestamp_literal(text, name='timestamp') -%}
    {%- set cleaned = (text | string | trim) -%}
    {%- if cleaned[-1:] in ('Z', 'z') -%}{%- set cleaned = cleaned[:-1] ~ '+00:00' -%}{%- endif -%}
    {%- set pattern = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
        ~ '([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?([+-][0-9]{2}:[0-9]{2})?)?$' -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(cleaned) if modules.re.match(pattern, cleaned) else none -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error(name ~ ": expected an ISO-8601 timestamp such as 2026-02-15T06:00:00Z, got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- if parsed.tzinfo is not none -%}
        {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return(adapter.dispatch('timestamp_literal', 'readout')(parsed.strftime('%Y-%m-%d %H:%M:%S'))) }}
{%- endmacro %}

{% macro default__timestamp_literal(text) -%}
    cast('{{ text }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    The build's reference time for "in the future" checks: var('as_of') when set (ISO-8601, UTC unless it
    carries an offset), else the moment the dbt invocation started (run_started_at, UTC), as a literal so
    every engine (Spark included) reads the same value and a build is reproducible from its logs.
-#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', '') -%}
    {%- if as_of is none or (as_of | string | trim) == '' -%}
        {{ return(readout.timestamp_literal(run_started_at.strftime('%Y-%m-%dT%H:%M:%S') ~ 'Z', 'run_started_at')) }}
    {%- endif -%}
    {{ return(readout.timestamp_literal(as_of, "var('as_of')")) }}
{%- endmacro %}
