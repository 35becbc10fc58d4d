{#-
    The hook for alarms raised outside dbt that must keep readouts from being confirmed: one row per
    experiment version x alarm, read from the optional table <target schema>.readout_blocking_alarms when
    it exists (empty otherwise, as today). Whoever validates the data contracts (Great Expectations, via
    write-audit-publish) writes it before the build publishes, with these columns:
      experiment_id (string), experiment_version (int), alarm_source (string, e.g. 'contract'),
      rule (string, the contract rule id), severity ('error' | 'warning'), alarm (string, the sentence).
    Only severity 'error' rows block: every readout row of their experiment version is then not confirmed,
    with the reason code contract_error and the alarm's rule in its sentence (metric_result_statuses_computed).
    Not a dbt source on purpose: the table is optional and written by the readout CLI, not by a producer.
-#}
{%- set alarms_relation = adapter.get_relation(
    database=target.database, schema=target.schema, identifier='readout_blocking_alarms') if execute else none -%}

with

{% if alarms_relation is not none -%}
alarms as (

    select
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(alarm_source as {{ dbt.type_string() }}) as alarm_source,
        cast(rule as {{ dbt.type_string() }}) as rule,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(alarm as {{ dbt.type_string() }}) as alarm

    from {{ alarms_relation }}

),
{%- else -%}
    alarms as (

    -- no readout_blocking_alarms table in this warehouse: no alarm blocks any readout
        select
            cast(null as {{ dbt.type_string() }}) as experiment_id,
            cast(null as {{ dbt.type_int() }}) as experiment_version,
            cast(null as {{ dbt.type_string() }}) as alarm_source,
            cast(null as {{ dbt.type_string() }}) as rule,  -- noqa: RF04
            cast(null as {{ dbt.type_string() }}) as severity,
            cast(null as {{ dbt.type_string() }}) as alarm

        where 1 = 0

    ),
{%- endif %}

final as (

    select
        alarms.*,
        coalesce(alarms.severity = 'error', false) as is_blocking

    from alarms
    where alarms.experiment_id is not null

)

select * from final
