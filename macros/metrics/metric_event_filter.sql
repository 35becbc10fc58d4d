{#-
    A catalog row's event_filter is SQL by design: trusted input, reviewed like code (seeds/_seeds.yml).
    These macros still hold it to its promise, a predicate over the event columns: no statement separator,
    comment, subquery or set operation, balanced quotes and parentheses, and every column an event column.
-#}

{#- The boolean expression a model selects for one metric: null counts as false. Empty filter: true. -#}
{% macro metric_event_filter_condition(metric) -%}
    {%- if readout.metric_catalog_is_empty(metric.event_filter) -%}
        true
    {%- else -%}
        coalesce(({{ metric.event_filter }}), false)
    {%- endif -%}
{%- endmacro %}


{#- Words that would make the filter more than a predicate over one event row. -#}
{% macro metric_event_filter_forbidden_words() -%}
    {{ return([
        'select', 'from', 'join', 'union', 'intersect', 'except', 'with', 'recursive', 'lateral', 'exists',
        'insert', 'update', 'delete', 'merge', 'into', 'returning', 'values', 'table',
        'create', 'drop', 'alter', 'truncate', 'attach', 'detach', 'copy', 'export', 'import', 'install', 'load',
        'pragma', 'set', 'reset', 'call', 'execute', 'prepare', 'grant', 'revoke', 'use', 'checkpoint', 'vacuum',
        'begin', 'commit', 'rollback', 'transaction', 'describe', 'show', 'summarize',
        'over', 'window', 'partition', 'qualify', 'having', 'group', 'order', 'limit', 'offset',
    ]) }}
{%- endmacro %}


{#- SQL words a predicate may use besides event columns and function names (a function is a word before "("). -#}
{% macro metric_event_filter_keywords() -%}
    {{ return([
        'and', 'or', 'not', 'in', 'is', 'null', 'true', 'false', 'like', 'ilike', 'glob', 'similar', 'to', 'escape',
        'between', 'case', 'when', 'then', 'else', 'end', 'cast', 'try_cast', 'as', 'any', 'all', 'some',
        'interval', 'date', 'timestamp', 'time', 'at', 'zone',
        'second', 'seconds', 'minute', 'minutes', 'hour', 'hours', 'day', 'days', 'week', 'weeks',
        'month', 'months', 'year', 'years',
        'varchar', 'text', 'string', 'double', 'float', 'real', 'decimal', 'numeric', 'integer', 'int', 'bigint',
        'smallint', 'boolean', 'bool',
    ]) }}
{%- endmacro %}


{#-
    Check every catalog metric's event_filter before any SQL uses it: the static rules above first, then a
    zero-row probe that binds the filter against events_relation (exactly the event columns), so what the
    static rules cannot see (an unknown function, a type error) is still a compile error naming the metric.
-#}
{% macro check_metric_event_filters(metrics, events_relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set event_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(events_relation) -%}
        {%- do event_columns.append(column.name | lower) -%}
    {%- endfor -%}
    {%- for metric in metrics if not readout.metric_catalog_is_empty(metric.event_filter) -%}
        {%- do readout.check_metric_event_filter(metric, event_columns, events_relation) -%}
    {%- endfor -%}
{%- endmacro %}


{% macro check_metric_event_filter(metric, event_columns, events_relation) -%}
    {%- set problem = readout.metric_event_filter_problem(metric.event_filter, event_columns) -%}
    {#- a funnel step names itself (filter_cell); a catalog metric its catalog cell -#}
    {%- set prefix = metric.get('filter_cell') or readout.metric_catalog_cell(metric, 'event_filter') -%}
    {%- set columns_hint = 'event columns: ' ~ event_columns | join(', ') -%}
    {%- if problem -%}
        {{ exceptions.raise_compiler_error(prefix ~ ': ' ~ problem ~ ' (' ~ columns_hint ~ ')') }}
    {%- endif -%}
    {%- set probe -%}
        select count(*) as matched_events from (select * from {{ events_relation }} where 1 = 0) as events where {{ readout.metric_event_filter_condition(metric) }}
    {%- endset -%}
    {%- do try_or_compiler_error(
        prefix ~ ': does not compile as a boolean predicate over the event columns (check function names, types and operators; ' ~ columns_hint ~ ')',
        run_query, probe
    ) -%}
{%- endmacro %}


{#- What is wrong with a filter, in a few words, or none. Pure text rules; no database. -#}
{% macro metric_event_filter_problem(filter, event_columns) -%}
    {%- set re = modules.re -%}
    {%- if '\n' in filter or '\r' in filter -%}
        {{ return('must be one line') }}
    {%- endif -%}
    {#- string literals ('' escapes a quote) become a number, so their content is never read as SQL -#}
    {%- set stripped = re.sub("'(?:[^']|'')*'", ' 0 ', filter) -%}
    {%- if "'" in stripped -%}
        {{ return('has an unbalanced quote') }}
    {%- endif -%}
    {%- for token, meaning in [(';', 'a statement separator'), ('--', 'a comment'), ('/*', 'a comment'), ('*/', 'a comment'),
                               ('"', 'a quoted identifier'), ('`', 'a quoted identifier'), ('$', 'a dollar-quoted string or parameter'),
                               ('\\', 'a backslash'), ('?', 'a parameter')] -%}
        {%- if token in stripped -%}
            {{ return('contains ' ~ tojson(token) ~ ' (' ~ meaning ~ ')') }}
        {%- endif -%}
    {%- endfor -%}
    {%- set depth = namespace(value=0, negative=false) -%}
    {%- for character in stripped -%}
        {%- if character == '(' -%}{%- set depth.value = depth.value + 1 -%}{%- endif -%}
        {%- if character == ')' -%}{%- set depth.value = depth.value - 1 -%}{%- endif -%}
        {%- if depth.value < 0 -%}{%- set depth.negative = true -%}{%- endif -%}
    {%- endfor -%}
    {%- if depth.negative or depth.value != 0 -%}
        {{ return('has unbalanced parentheses') }}
    {%- endif -%}
    {%- set forbidden = readout.metric_event_filter_forbidden_words() -%}
    {%- set keywords = readout.metric_event_filter_keywords() -%}
    {%- set word = '(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_]*)(?:\\s*\\.\\s*([A-Za-z_][A-Za-z0-9_]*))?(\\s*\\()?' -%}
    {%- for match in re.finditer(word, stripped) -%}
        {%- set first = match.group(1) | lower -%}
        {%- set second = (match.group(2) or '') | lower -%}
        {%- set is_call = match.group(3) is not none -%}
        {%- if first in forbidden or second in forbidden -%}
            {{ return('uses the SQL keyword ' ~ tojson(first if first in forbidden else second) ~ ', but an event filter is a predicate over one event row (no subquery, join, set operation, window or statement)') }}
        {%- elif second -%}
            {%- if first != 'events' or is_call or second not in event_columns -%}
                {{ return('references ' ~ tojson(match.group(0) | trim | replace('(', '')) ~ ', which is not an event column (qualify columns with events. or not at all)') }}
            {%- endif -%}
        {%- elif not is_call and first not in keywords and first not in event_columns -%}
            {{ return('references ' ~ tojson(match.group(1)) ~ ', which is not an event column') }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
