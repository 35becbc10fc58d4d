{#-
    The governed funnel catalog (seeds/funnel_catalog.csv) as a list of funnels, each a dict with funnel_id,
    funnel_version, description, owner and steps (the step rows in step order), read from the built seed at
    run time and validated first: a bad row is a compile error of one line naming the funnel, the step, the
    column, the value and what is allowed. During parsing (execute is false) it returns an empty list.
-#}
{% macro funnel_catalog_rows() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set table = run_query('select * from ' ~ ref('funnel_catalog') ~ ' order by funnel_id, step_number') -%}
    {%- set expected = ['funnel_id', 'funnel_version', 'description', 'owner', 'step_number', 'step_name',
                        'event_name', 'event_filter', 'window_days'] -%}
    {%- if (table.column_names | list | sort) != (expected | sort) -%}
        {{ exceptions.raise_compiler_error('funnel catalog (seeds/funnel_catalog.csv): columns ' ~ table.column_names | join(', ') ~ '; expected exactly: ' ~ expected | join(', ')) }}
    {%- endif -%}
    {%- set outcome_events = readout.metric_catalog_schema()['outcome_events'] -%}
    {%- set funnels = [] -%}
    {%- set by_id = {} -%}
    {%- for row in table.rows -%}
        {%- set step = {} -%}
        {%- for column in table.column_names -%}
            {%- do step.update({column: row[column]}) -%}
        {%- endfor -%}
        {%- set where = 'funnel catalog (seeds/funnel_catalog.csv) funnel ' ~ tojson(step.funnel_id | string) ~ ' step ' ~ step.step_number ~ ': ' -%}
        {%- if step.funnel_id is not string or not modules.re.match('^[a-z][a-z0-9_]{0,62}$', step.funnel_id) -%}
            {{ exceptions.raise_compiler_error(where ~ 'funnel_id is ' ~ tojson(step.funnel_id | string) ~ '; allowed: lowercase letters, digits and _, starting with a letter') }}
        {%- endif -%}
        {%- if step.step_name is not string or not modules.re.match('^[a-z][a-z0-9_]{0,62}$', step.step_name) -%}
            {{ exceptions.raise_compiler_error(where ~ 'step_name is ' ~ tojson(step.step_name | string) ~ '; allowed: lowercase letters, digits and _, starting with a letter') }}
        {%- endif -%}
        {%- if step.event_name not in outcome_events -%}
            {{ exceptions.raise_compiler_error(where ~ 'event_name is ' ~ tojson(step.event_name | string) ~ '; allowed: ' ~ outcome_events | join(', ')) }}
        {%- endif -%}
        {%- if readout.metric_catalog_whole_number(step.window_days, 1, 365) is none -%}
            {{ exceptions.raise_compiler_error(where ~ 'window_days is ' ~ tojson(step.window_days | string) ~ '; allowed: a whole number of days from 1 to 365') }}
        {%- endif -%}
        {%- if step.funnel_id not in by_id -%}
            {%- if readout.metric_catalog_whole_number(step.funnel_version, 1, 1000000) is none -%}
                {{ exceptions.raise_compiler_error(where ~ 'funnel_version is ' ~ tojson(step.funnel_version | string) ~ '; allowed: a whole number >= 1') }}
            {%- endif -%}
            {%- set funnel = {'funnel_id': step.funnel_id, 'funnel_version': step.funnel_version, 'description': step.description, 'owner': step.owner, 'steps': []} -%}
            {%- do by_id.update({step.funnel_id: funnel}) -%}
            {%- do funnels.append(funnel) -%}
        {%- endif -%}
        {%- set funnel = by_id[step.funnel_id] -%}
        {%- for column in ['funnel_version', 'description', 'owner'] -%}
            {%- if step[column] != funnel[column] -%}
                {{ exceptions.raise_compiler_error(where ~ column ~ ' is ' ~ tojson(step[column] | string) ~ '; allowed: the same on every step of the funnel (' ~ tojson(funnel[column] | string) ~ ')') }}
            {%- endif -%}
        {%- endfor -%}
        {%- if step.step_number != (funnel.steps | length) + 1 -%}
            {{ exceptions.raise_compiler_error(where ~ 'step_number is ' ~ step.step_number ~ '; allowed: ' ~ ((funnel.steps | length) + 1) ~ ' (steps are numbered 1, 2, ... with no gap or repeat)') }}
        {%- endif -%}
        {%- if step.step_name in (funnel.steps | map(attribute='step_name') | list) -%}
            {{ exceptions.raise_compiler_error(where ~ 'step_name is ' ~ tojson(step.step_name) ~ '; allowed: a name no other step of the funnel has') }}
        {%- endif -%}
        {#- readout.check_metric_event_filters checks event_filter, naming the step -#}
        {%- do step.update({'metric_id': step.funnel_id ~ '.' ~ step.step_name, 'filter_cell': where ~ 'event_filter is ' ~ tojson(step.event_filter | string)}) -%}
        {%- do funnel.steps.append(step) -%}
    {%- endfor -%}
    {{ return(funnels) }}
{%- endmacro %}
