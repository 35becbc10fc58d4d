{#-
    A metric window's bounds, one definition for int_experiment_unit_metric_windows (which stores them) and
    int_unit_metric_aggregates (which recomputes them from a unit's anchor, so the join of every event to its
    unit carries three narrow columns instead of four timestamps per metric). Each argument is SQL: a column
    or, from the catalog, a literal. The window starts window_start_days after the anchor and ends
    window_end_days after it, capped at the experiment's end; the CUPED covariate window starts
    covariate_lookback_days before the anchor.
-#}
{% macro metric_window_start(anchor_at, window_start_days) -%}
    {{ dbt.dateadd('day', window_start_days, anchor_at) }}
{%- endmacro %}

{% macro metric_full_window_end(anchor_at, window_end_days) -%}
    {{ dbt.dateadd('day', window_end_days, anchor_at) }}
{%- endmacro %}

{% macro metric_window_end(anchor_at, window_end_days, experiment_ended_at) -%}
    {%- set full_window_end_at = readout.metric_full_window_end(anchor_at, window_end_days) -%}
    case
        when {{ experiment_ended_at }} is not null
            and {{ experiment_ended_at }} < {{ full_window_end_at }}
            then {{ experiment_ended_at }}
        else {{ full_window_end_at }}
    end
{%- endmacro %}

{% macro metric_covariate_window_start(anchor_at, covariate_lookback_days) -%}
    {{ dbt.dateadd('day', '-1 * ' ~ covariate_lookback_days, anchor_at) }}
{%- endmacro %}
