{#-
    One row per exposed unit x experiment version x funnel x step of the funnel catalog (seeds/funnel_catalog.csv):
    when the unit reached the step, if it did. Step 0 is the unit's first exposure; a unit reaches step n at
    its first event of the step (event_name, passing event_filter) at or after reaching step n-1 and less
    than window_days after it. One SQL step per catalog step is generated from the validated catalog.
    funnel_window_status, for the whole funnel (its last step can come at most the sum of the windows after
    exposure): truncated when the experiment ended before that (left out, as a truncated metric window is),
    complete when that time is at or before the version's watermark, else in_progress.
-#}
-- depends_on: {{ ref('funnel_catalog') }}
{% set funnels = readout.funnel_catalog_rows() %}
{% set steps = [] %}
{% for funnel in funnels %}{% for step in funnel.steps %}{% do steps.append(step) %}{% endfor %}{% endfor %}
{% do readout.check_metric_event_filters(steps, ref('int_events_stitched')) %}

with  -- noqa: disable=LT02,LT05

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_exposed_population
        and first_exposed_at is not null

),

event_experiment_versions as (

    select * from {{ ref('int_experiment_versions') }}
    where not is_imported

),

watermarks as (

    select * from {{ ref('int_experiment_version_watermarks') }}

),

exposed as (

    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        units.first_exposed_at,
        units.experiment_ended_at,
        watermarks.watermark_at

    from units
    inner join event_experiment_versions
        on units.experiment_id = event_experiment_versions.experiment_id
            and units.experiment_version = event_experiment_versions.experiment_version
    left join watermarks
        on units.experiment_id = watermarks.experiment_id
            and units.experiment_version = watermarks.experiment_version

),

{#- each step reads its own events, once: one CTE of every step's events, read by each step, is materialized
    whole in memory by DuckDB (about 90% of all events), which ran a 100M-event build out of memory -#}
{%- for funnel in funnels %}
    {%- for step in funnel.steps %}

{{ funnel.funnel_id }}__events_{{ step.step_number }} as (

    select
        unit_id,
        event_at

    from {{ ref('int_events_stitched') }}
    where event_name = {{ readout.quote_string(step.event_name) }}
        and {{ readout.metric_event_filter_condition(step) }}

),
    {%- endfor %}
{%- endfor %}

{%- for funnel in funnels %}
    {%- for step in funnel.steps %}
        {%- set previous = 'exposed' if step.step_number == 1 else funnel.funnel_id ~ '__step_' ~ (step.step_number - 1) %}
        {%- set previous_at = 'first_exposed_at' if step.step_number == 1 else 'reached_at' %}

        {{ funnel.funnel_id }}__step_{{ step.step_number }} as (

            select
                previous.unit_id,
                previous.experiment_id,
                previous.experiment_version,
                min(events.event_at) as reached_at

            from {{ previous }} as previous
            inner join {{ funnel.funnel_id }}__events_{{ step.step_number }} as events
                on previous.unit_id = events.unit_id
                    and previous.{{ previous_at }} <= events.event_at
                    and events.event_at < {{ dbt.dateadd('day', step.window_days, 'previous.' ~ previous_at) }}
            group by 1, 2, 3

        ),
    {%- endfor %}
{%- endfor %}

stepped as (

    {%- for funnel in funnels %}
        {%- set total_days = funnel.steps | sum(attribute='window_days') %}
        {%- for step in funnel.steps %}
            select
                exposed.unit_id,
                exposed.experiment_id,
                exposed.experiment_version,
                exposed.variant_id,
                {{ readout.quote_string(funnel.funnel_id) }} as funnel_id,
                {{ funnel.funnel_version }} as funnel_version,
                {{ step.step_number }} as step_number,
                {{ readout.quote_string(step.step_name) }} as step_name,
                exposed.first_exposed_at,
                reached.reached_at,
                case
                    when
                        exposed.experiment_ended_at < {{ dbt.dateadd('day', total_days, 'exposed.first_exposed_at') }}
                        then 'truncated'
                    when                         {{ dbt.dateadd('day', total_days, 'exposed.first_exposed_at') }}
                        <= exposed.watermark_at
                        then 'complete'
                    else 'in_progress'
                end as funnel_window_status

            from exposed
            left join {{ funnel.funnel_id }}__step_{{ step.step_number }} as reached
                on exposed.unit_id = reached.unit_id
                    and exposed.experiment_id = reached.experiment_id
                    and exposed.experiment_version = reached.experiment_version
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if funnels | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as unit_id,
        cast(null as {{ dbt.type_string() }}) as experiment_id,
        cast(null as {{ dbt.type_int() }}) as experiment_version,
        cast(null as {{ dbt.type_string() }}) as variant_id,
        cast(null as {{ dbt.type_string() }}) as funnel_id,
        cast(null as {{ dbt.type_int() }}) as funnel_version,
        cast(null as {{ dbt.type_int() }}) as step_number,
        cast(null as {{ dbt.type_string() }}) as step_name,
        cast(null as {{ dbt.type_timestamp() }}) as first_exposed_at,
        cast(null as {{ dbt.type_timestamp() }}) as reached_at,
        cast(null as {{ dbt.type_string() }}) as funnel_window_status
    where 1 = 0
{%- endif %}

)

select * from stepped
