{#-
    The metric catalog's schema: every column, its type and its vocabulary or range. The SQL generated from
    the catalog pastes nothing a row did not pass here, and string values are quoted with readout.quote_string.
-#}
{% macro metric_catalog_schema() -%}
    {%- set outcome_events = [] -%}
    {%- for event_name in var('accepted_event_names') -%}
        {%- if event_name not in ('experiment_assigned', 'experiment_exposed') -%}
            {%- do outcome_events.append(event_name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({
        'columns': [
            'metric_id', 'metric_version', 'description', 'owner', 'metric_type', 'numerator_event',
            'numerator_aggregation', 'denominator_event', 'denominator_aggregation', 'event_filter',
            'window_start_days', 'window_end_days', 'direction', 'role', 'cap_type', 'cap_value',
            'non_inferiority_margin', 'covariate_lookback_days',
        ],
        'metric_id_pattern': '^[a-z][a-z0-9_]{0,62}$',
        'owner_pattern': '^[a-z][a-z0-9_-]{0,62}$',
        'metric_types': ['proportion', 'mean', 'ratio', 'count'],
        'outcome_events': outcome_events,
        'aggregations': ['count', 'sum_revenue', 'any'],
        'directions': ['increase', 'decrease'],
        'roles': ['primary', 'secondary', 'guardrail'],
        'cap_types': ['none', 'percentile', 'absolute'],
        'max_days': 365,
    }) }}
{%- endmacro %}


{#- The start of a catalog error: which row, which column, which value. -#}
{% macro metric_catalog_cell(row, column) -%}
    {%- set value = row.get(column) -%}
    {%- set shown = 'empty' if value is none or (value is string and value | trim == '') else tojson(value | string) -%}
    {%- set row_name = tojson(row.get('metric_id') | string) if row.get('metric_id') is not none else '(no metric_id)' -%}
    {{ return('metric catalog (seeds/metric_catalog.csv) row metric_id ' ~ row_name ~ ': ' ~ column ~ ' is ' ~ shown) }}
{%- endmacro %}


{#- One line naming the catalog row, the column, the value and what is allowed. -#}
{% macro metric_catalog_problem(row, column, expected) -%}
    {{ return(readout.metric_catalog_cell(row, column) ~ '; allowed: ' ~ expected) }}
{%- endmacro %}


{#- True when the value is empty (null or blank text). -#}
{% macro metric_catalog_is_empty(value) -%}
    {{ return(value is none or (value is string and value | trim == '')) }}
{%- endmacro %}


{#- The value as a finite float, or none when it is not a finite number. -#}
{% macro metric_catalog_number(value) -%}
    {%- if value is none or value is string or value is boolean or value is not number -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set number = value | float -%}
    {%- if number != number or number > 1.0e300 or number < -1.0e300 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(number) }}
{%- endmacro %}


{#- The value as an int when it is a whole number in [low, high], else none. -#}
{% macro metric_catalog_whole_number(value, low, high) -%}
    {%- set number = readout.metric_catalog_number(value) -%}
    {%- if number is none or number != (number | int) or number < low or number > high -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(number | int) }}
{%- endmacro %}


{#-
    Check every catalog row against metric_catalog_schema(); the first violation is a compile error of one
    line naming the row, the column, the value and the allowed values (with a count of any further ones).
    rows: list of dicts (metric_catalog_rows); column_names: the seed's columns.
-#}
{% macro validate_metric_catalog(rows, column_names) -%}
    {%- set schema = readout.metric_catalog_schema() -%}
    {%- set problems = [] -%}
    {%- set expected_columns = schema['columns'] -%}
    {%- set missing = expected_columns | reject('in', column_names) | list -%}
    {%- set unknown = column_names | reject('in', expected_columns) | list -%}
    {%- if missing or unknown -%}
        {%- do problems.append('metric catalog (seeds/metric_catalog.csv): columns '
            ~ ('missing: ' ~ missing | join(', ') if missing else '')
            ~ ('; ' if missing and unknown else '')
            ~ ('unknown: ' ~ unknown | join(', ') if unknown else '')
            ~ '; expected exactly: ' ~ expected_columns | join(', ')) -%}
    {%- endif -%}
    {%- set seen = [] -%}
    {%- set max_days = schema['max_days'] -%}
    {%- for row in rows if not missing -%}
        {%- set metric_id = row['metric_id'] -%}
        {%- if metric_id is not string or not modules.re.match(schema['metric_id_pattern'], metric_id) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'metric_id', 'lowercase letters, digits and _, starting with a letter, at most 63 characters (' ~ schema['metric_id_pattern'] ~ ')')) -%}
        {%- elif metric_id in seen -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'metric_id', 'a metric_id used by no other row')) -%}
        {%- endif -%}
        {%- do seen.append(metric_id) -%}
        {%- if readout.metric_catalog_whole_number(row['metric_version'], 1, 1000000) is none -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'metric_version', 'a whole number >= 1')) -%}
        {%- endif -%}
        {%- if readout.metric_catalog_is_empty(row['description']) or row['description'] is not string or '\n' in row['description'] -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'description', 'one line of text')) -%}
        {%- endif -%}
        {%- if row['owner'] is not string or not modules.re.match(schema['owner_pattern'], row['owner']) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'owner', 'a team slug (' ~ schema['owner_pattern'] ~ ')')) -%}
        {%- endif -%}
        {%- for column, vocabulary in [
            ('metric_type', schema['metric_types']),
            ('numerator_event', schema['outcome_events']),
            ('numerator_aggregation', schema['aggregations']),
            ('direction', schema['directions']),
            ('role', schema['roles']),
            ('cap_type', schema['cap_types']),
        ] -%}
            {%- if row[column] not in vocabulary -%}
                {%- do problems.append(readout.metric_catalog_problem(row, column, vocabulary | join(', '))) -%}
            {%- endif -%}
        {%- endfor -%}
        {#- a ratio needs a denominator; any other type must leave it empty (it would be ignored silently) -#}
        {%- for column, vocabulary in [('denominator_event', schema['outcome_events']), ('denominator_aggregation', schema['aggregations'])] -%}
            {%- if row['metric_type'] == 'ratio' and row[column] not in vocabulary -%}
                {%- do problems.append(readout.metric_catalog_problem(row, column, vocabulary | join(', ') ~ ' (a ratio metric needs a denominator)')) -%}
            {%- elif row['metric_type'] != 'ratio' and not readout.metric_catalog_is_empty(row[column]) -%}
                {%- do problems.append(readout.metric_catalog_problem(row, column, 'empty (only ratio metrics have a denominator)')) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not readout.metric_catalog_is_empty(row['event_filter']) and row['event_filter'] is not string -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'event_filter', 'empty or a SQL predicate over the event columns')) -%}
        {%- endif -%}
        {%- set window_start = readout.metric_catalog_whole_number(row['window_start_days'], 0, max_days - 1) -%}
        {%- if window_start is none -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'window_start_days', 'a whole number of days from 0 to ' ~ (max_days - 1))) -%}
        {%- endif -%}
        {%- if readout.metric_catalog_whole_number(row['window_end_days'], (window_start or 0) + 1, max_days) is none -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'window_end_days', 'a whole number of days above window_start_days, at most ' ~ max_days)) -%}
        {%- endif -%}
        {%- if not readout.metric_catalog_is_empty(row['covariate_lookback_days']) and readout.metric_catalog_whole_number(row['covariate_lookback_days'], 1, max_days) is none -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'covariate_lookback_days', 'empty (no CUPED covariate) or a whole number of days from 1 to ' ~ max_days)) -%}
        {%- endif -%}
        {%- set cap_value = readout.metric_catalog_number(row['cap_value']) -%}
        {%- if row['cap_type'] == 'percentile' and (cap_value is none or cap_value <= 0 or cap_value >= 1) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'cap_value', 'a number strictly between 0 and 1 (cap_type percentile)')) -%}
        {%- elif row['cap_type'] == 'absolute' and (cap_value is none or cap_value <= 0) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'cap_value', 'a finite number above 0, in metric units (cap_type absolute)')) -%}
        {%- elif row['cap_type'] == 'none' and not readout.metric_catalog_is_empty(row['cap_value']) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'cap_value', 'empty (cap_type none)')) -%}
        {%- endif -%}
        {%- set margin = readout.metric_catalog_number(row['non_inferiority_margin']) -%}
        {%- if row['role'] == 'guardrail' and (margin is none or margin < 0 or margin >= 1) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'non_inferiority_margin', 'a relative margin from 0 up to (not including) 1 (a guardrail needs one)')) -%}
        {%- elif row['role'] != 'guardrail' and not readout.metric_catalog_is_empty(row['non_inferiority_margin']) -%}
            {%- do problems.append(readout.metric_catalog_problem(row, 'non_inferiority_margin', 'empty (only guardrail metrics have a margin)')) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {%- set more = problems | length - 1 -%}
        {{ exceptions.raise_compiler_error(problems[0] ~ ((' (and ' ~ more ~ ' more catalog problem' ~ ('s' if more > 1 else '') ~ ')') if more else '')) }}
    {%- endif -%}
{%- endmacro %}
