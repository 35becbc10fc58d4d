{#-
    Accepted events with the stitched unit id: the event's user id, else the user its anonymous id
    resolves to, else the anonymous id. Rows of imported exports (`readout import`) join here as one
    assignment and one exposure event each, so every curated rule applies to them unchanged.
-#}
{{ config(materialized='view') }}

with  -- noqa: disable=LT05

events as (

    select * from {{ ref('stg_landing__events') }}

),

identities as (

    select * from {{ ref('int_anonymous_ids_resolved_to_users') }}

),

import_units as (

    select * from {{ ref('stg_landing__import_units') }}

),

stitched as (

    select
        coalesce(events.user_id, identities.resolved_user_id, events.anonymous_id) as unit_id,
        events.event_id,
        events.anonymous_id,
        events.user_id,
        events.session_id,
        events.experiment_id,
        events.experiment_version,
        events.variant_id,
        events.event_name,
        events.source_system,
        events.assignment_mechanism,
        events.currency,
        events.traffic_type,
        events.properties,
        events.schema_version,
        events.revenue,
        events.consent_granted,
        events.has_conflicting_duplicate,
        events.event_at,
        events.received_at

    from events
    left join identities
        on events.anonymous_id = identities.anonymous_id

),

{%- for event_name, variant_column in [('experiment_assigned', 'assigned_variant_id'), ('experiment_exposed', 'exposed_variant_id')] %}

    imported_{{ event_name }} as (

        select
            unit_id,
            {{ dbt.concat(["'import:'", "experiment_id", "':'", "lpad(cast(source_row as " ~ dbt.type_string() ~ "), 12, '0')", "':" ~ event_name ~ "'"]) }} as event_id,
            cast(null as {{ dbt.type_string() }}) as anonymous_id,
            unit_id as user_id,
            cast(null as {{ dbt.type_string() }}) as session_id,
            experiment_id,
            experiment_version,
            {{ variant_column }} as variant_id,
            '{{ event_name }}' as event_name,
            'import' as source_system,
            {% if event_name == 'experiment_assigned' %}
                'import'
            {% else %}cast(null as {{ dbt.type_string() }}){% endif %}
                as assignment_mechanism,
            cast(null as {{ dbt.type_string() }}) as currency,
            'human' as traffic_type,
            cast(null as {{ dbt.type_string() }}) as properties,
            cast(null as {{ dbt.type_int() }}) as schema_version,
            cast(null as {{ readout.type_double() }}) as revenue,
            true as consent_granted,
            false as has_conflicting_duplicate,
            observed_at as event_at,
            observed_at as received_at

        from import_units
        where {{ variant_column }} is not null

    ),
{%- endfor %}

unioned as (

    select * from stitched
    union all
    select * from imported_experiment_assigned
    union all
    select * from imported_experiment_exposed

)

select * from unioned
