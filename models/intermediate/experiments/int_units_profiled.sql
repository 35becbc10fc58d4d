{#-
    One row per stitched unit: traits that decide eligibility in every experiment (consent, bot or internal
    traffic). Incremental by touched unit (macros/touched_units.sql): a refresh recounts only the units the new
    landing files (or an imported export) touch, from all of their events.
-#}
-- depends_on: {{ ref('stg_landing__events') }}
-- depends_on: {{ ref('stg_landing__files_processed') }}
-- depends_on: {{ ref('stg_landing__import_units') }}
{{
    config(
        materialized=readout.touched_units_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ readout.build_touched_units_table('has_imported_events') }}"],
        post_hook=["{{ readout.replace_touched_units_rows() }}"],
    )
}}

with

events as (

    select * from {{ ref('int_events_stitched') }}
    {{ readout.touched_units_filter('where') }}

),

profiled as (

    select
        unit_id,
        max(case when consent_granted = false then 1 else 0 end) = 1 as is_consent_denied,
        max(case when traffic_type in ('bot', 'internal') then 1 else 0 end) = 1 as is_bot_or_internal,
        count(distinct anonymous_id) as anonymous_id_count,
        min(event_at) as first_seen_at,
        max(case when source_system = 'import' then 1 else 0 end) = 1 as has_imported_events

    from events
    group by 1

),

final as (

    select
        profiled.*,
        {{ readout.touched_units_build_columns() }}

    from profiled

)

select * from final
