{#-
    One row per exposed unit x experiment version x funnel x step of the funnel catalog (seeds/funnel_catalog.csv):
    when the unit reached the step, if it did. Step 0 is the unit's first exposure; a unit reaches step n at
    its first event of the step (event_name, passing event_filter) at or after reaching step n-1 and less
    than window_days after it. One SQL step per catalog step is generated from the validated catalog.
    funnel_window_status, for the whole funnel (its last step can come at most the sum of the windows after
    exposure): truncated when the experiment ended before that (left out, as a truncated metric window is),
    complete when that time is at or before the version's watermark, else in_progress.

    The steps are computed by the pre-hook, one statement per step, into helper tables the post-hook drops
    (macros/funnels/funnel_reach_tables.sql: as CTEs of this query they ran a 100M-event build out of memory);
    this query gives every exposed unit a row per step with its reach, if any, from one join.
-#}
-- depends_on: {{ ref('funnel_catalog') }}
-- depends_on: {{ ref('int_experiment_units_flagged') }}
-- depends_on: {{ ref('int_experiment_versions') }}
-- depends_on: {{ ref('int_experiment_version_watermarks') }}
{{ config(
    pre_hook=["{{ readout.build_funnel_reach_tables() }}"],
    post_hook=["{{ readout.drop_funnel_reach_tables() }}"],
) }}
{% set funnels = readout.funnel_catalog_rows() %}
{% set steps = [] %}
{% for funnel in funnels %}{% for step in funnel.steps %}{% do steps.append(step) %}{% endfor %}{% endfor %}
{% do readout.check_metric_event_filters(steps, ref('int_events_stitched')) %}
{% set relations = readout.funnel_reach_relations(funnels) %}

with  -- noqa: disable=LT02,LT05
{%- if funnels | length > 0 %}

exposed as (

    select * from {{ relations['exposed'] }}

),

catalog_steps as (

    {%- for funnel in funnels %}
        {%- set total_days = funnel.steps | sum(attribute='window_days') %}
        {%- for step in funnel.steps %}
            select
                {{ readout.quote_string(funnel.funnel_id) }} as funnel_id,
                {{ funnel.funnel_version }} as funnel_version,
                {{ step.step_number }} as step_number,
                {{ readout.quote_string(step.step_name) }} as step_name,
                {{ total_days }} as funnel_days
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

reached as (

    {%- for funnel in funnels %}
        {%- for step in funnel.steps %}
            select
                unit_id,
                experiment_id,
                experiment_version,
                {{ readout.quote_string(funnel.funnel_id) }} as funnel_id,
                {{ step.step_number }} as step_number,
                reached_at
            from {{ relations[readout.funnel_step_key(funnel.funnel_id, step.step_number)] }}
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

stepped as (

    select
        exposed.unit_id,
        exposed.experiment_id,
        exposed.experiment_version,
        exposed.variant_id,
        catalog_steps.funnel_id,
        catalog_steps.funnel_version,
        catalog_steps.step_number,
        catalog_steps.step_name,
        exposed.first_exposed_at,
        reached.reached_at,
        case
            when
                exposed.experiment_ended_at
                < {{ dbt.dateadd('day', 'catalog_steps.funnel_days', 'exposed.first_exposed_at') }}
                then 'truncated'
            when {{ dbt.dateadd('day', 'catalog_steps.funnel_days', 'exposed.first_exposed_at') }}
                <= exposed.watermark_at
                then 'complete'
            else 'in_progress'
        end as funnel_window_status

    from exposed
    cross join catalog_steps
    left join reached
        on exposed.unit_id = reached.unit_id
            and exposed.experiment_id = reached.experiment_id
            and exposed.experiment_version = reached.experiment_version
            and catalog_steps.funnel_id = reached.funnel_id
            and catalog_steps.step_number = reached.step_number

)
{%- else %}

stepped as (

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

)
{%- endif %}

select * from stepped
