{#-
    The helper tables of int_unit_funnel_steps, built by its pre-hook one statement at a time and dropped by its
    post-hook (each hook renders to nothing: the statements run while it renders, so every engine gets them one
    by one). `<model>__exposed`: the exposed units of the event-sourced versions with their watermark;
    `<model>__<funnel_id>__step_<n>`: the units of __exposed that reached step n of the funnel, when.

    Why tables and not CTEs: each step joins the events of its step (the stitched events view, which joins the
    anonymous-id map) to the units that reached the step before. As CTEs of one query, every step's identity
    map, join and group by were held at once and a 100M-event build ran out of DuckDB's 2.5 GB; one statement
    per step holds one of each.
        pre_hook=["{{ readout.build_funnel_reach_tables() }}"], post_hook=["{{ readout.drop_funnel_reach_tables() }}"]
-#}
{% macro funnel_reach_relation(suffix) -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__' ~ suffix, type='table')) }}
{%- endmacro %}

{#- the name of step n's helper table after the model's, and its key in funnel_reach_relations -#}
{% macro funnel_step_key(funnel_id, step_number) -%}
    {{ return(funnel_id ~ '__step_' ~ step_number) }}
{%- endmacro %}

{% macro funnel_reach_relations(funnels) -%}
    {%- set relations = {'exposed': readout.funnel_reach_relation('exposed')} -%}
    {%- for funnel in funnels -%}
        {%- for step in funnel.steps -%}
            {%- set key = readout.funnel_step_key(funnel.funnel_id, step.step_number) -%}
            {%- do relations.update({key: readout.funnel_reach_relation(key)}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(relations) }}
{%- endmacro %}

{#- the exposed units of the versions readout sees events of (imported versions have none), with the watermark -#}
{% macro funnel_exposed_units_sql() -%}
    select
        units.unit_id,
        units.experiment_id,
        units.experiment_version,
        units.variant_id,
        units.first_exposed_at,
        units.experiment_ended_at,
        watermarks.watermark_at

    from {{ ref('int_experiment_units_flagged') }} as units
    inner join {{ ref('int_experiment_versions') }} as versions
        on units.experiment_id = versions.experiment_id
            and units.experiment_version = versions.experiment_version
    left join {{ ref('int_experiment_version_watermarks') }} as watermarks
        on units.experiment_id = watermarks.experiment_id
            and units.experiment_version = watermarks.experiment_version
    where units.is_in_exposed_population
        and units.first_exposed_at is not null
        and not versions.is_imported
{%- endmacro %}

{#- step n: a unit of `previous` reaches it at its first event of the step at or after reaching step n - 1
    (step 0: first exposure) and less than window_days after it -#}
{% macro funnel_step_reach_sql(step, previous, previous_at) -%}
    select
        previous.unit_id,
        previous.experiment_id,
        previous.experiment_version,
        min(events.event_at) as reached_at

    from {{ previous }} as previous
    inner join (
        {#- the filter names event columns unqualified: only they are in scope here -#}
        select
            unit_id,
            event_at
        from {{ ref('int_events_stitched') }}
        where event_name = {{ readout.quote_string(step.event_name) }}
            and {{ readout.metric_event_filter_condition(step) }}
    ) as events
        on previous.unit_id = events.unit_id
            and previous.{{ previous_at }} <= events.event_at
            and events.event_at < {{ dbt.dateadd('day', step.window_days, 'previous.' ~ previous_at) }}
    group by 1, 2, 3
{%- endmacro %}

{% macro build_funnel_reach_tables() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set funnels = readout.funnel_catalog_rows() -%}
    {%- if funnels | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set relations = readout.funnel_reach_relations(funnels) -%}
    {%- do readout.create_funnel_reach_table(relations['exposed'], readout.funnel_exposed_units_sql()) -%}
    {%- for funnel in funnels -%}
        {%- for step in funnel.steps -%}
            {%- if step.step_number == 1 -%}
                {%- set previous, previous_at = relations['exposed'], 'first_exposed_at' -%}
            {%- else -%}
                {%- set previous, previous_at = relations[readout.funnel_step_key(funnel.funnel_id, step.step_number - 1)], 'reached_at' -%}
            {%- endif -%}
            {%- do readout.create_funnel_reach_table(relations[readout.funnel_step_key(funnel.funnel_id, step.step_number)], readout.funnel_step_reach_sql(step, previous, previous_at)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{% macro create_funnel_reach_table(relation, sql) -%}
    {%- do adapter.drop_relation(relation) -%}
    {%- do run_query(get_create_table_as_sql(False, relation, sql)) -%}
{%- endmacro %}

{% macro drop_funnel_reach_tables() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- for relation in readout.funnel_reach_relations(readout.funnel_catalog_rows()).values() -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
