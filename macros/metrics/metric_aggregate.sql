{#-
    Aggregate the events that satisfy `condition` the way the catalog says:
    count (number of events), sum_revenue (sum of revenue, exact: readout.exact_sum), any (1 when at
    least one event, else 0).
-#}
{% macro metric_aggregate(aggregation, condition) -%}
    {%- if aggregation == 'count' -%}
        sum(case when {{ condition }} then 1 else 0 end)
    {%- elif aggregation == 'sum_revenue' -%}
        {{ readout.exact_sum('case when ' ~ condition ~ ' then coalesce(revenue, 0) else 0 end') }}
    {%- elif aggregation == 'any' -%}
        max(case when {{ condition }} then 1 else 0 end)
    {%- else -%}
        {{ exceptions.raise_compiler_error("metric catalog: unknown aggregation '" ~ aggregation ~ "' (expected count, sum_revenue or any)") }}
    {%- endif -%}
{%- endmacro %}
