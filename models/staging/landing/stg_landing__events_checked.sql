{#-
    Every raw landing row, exactly once: schema versions mapped to one shape, typed, checked against
    the ingestion rules (quarantine_reasons) and ranked among rows sharing its (source_system, event_id):
    the contract makes event_id unique per producer, so the same id from two producers is two events.
    The three models below split it without loss: stg_landing__events (accepted, first of its
    source_system x event_id), stg_landing__events_quarantined, stg_landing__event_duplicates.

    Incremental by landing batch (macros/landing_files.sql): a build reads only the landing files it holds no
    row of (file_path), so a refresh with no new file reads nothing, and a changed or deleted file is an error
    naming it. The new rows are checked as in a full build, then ranked within the batch and against the
    copies accepted by earlier batches (an anti-join on source_system and event_id):
    - the kept copy of an event is the first accepted: a copy in a later batch is a duplicate (identical_retry
      or conflicting_payload) even when its received_at is earlier; an accepted row is never replaced;
    - within a batch, files are taken in order of their first received_at, then path, and rows of a file by
      received_at (then payload hash): the earliest received copy wins, as the producers' retries arrive later.
    A full refresh takes every file in that same order, so it equals the incremental path row for row as long
    as files land in that order (a collector writes its batches in order of receipt).

    Cost: nearly every id arrives once, and a row alone with its id needs no ranking. So the batch is read in
    two disjoint parts, the rows of ids seen more than once (in the batch or accepted before: repeated_ids,
    from a narrow scan of the ids) and the others, checked by the same SQL (the loop below); only the repeated
    part, a few percent of the rows, goes through the window. No window carries every row's wide columns
    (properties), nothing buffers the batch, and the file order is a per-file aggregate, not a window.
    Spark: append maps onto insert_overwrite partitioned by file_path (macros/incremental.sql: each batch
    writes only its own files' partitions, so a retried batch overwrites itself).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=readout.incremental_strategy('append'),
        partition_by=readout.incremental_partition_by(['file_path']),
        on_schema_change='fail',
        event_time='event_at',
    )
}}

{#- Incremental runs: the files not processed yet (compile time: listing, record check, then literal paths). -#}
{%- set new_file_paths = none -%}
{%- if execute and is_incremental() -%}
    {%- set new_file_paths = readout.landing_new_event_files(this) -%}
    {%- do log('stg_landing__events_checked: ' ~ (new_file_paths | length) ~ ' new landing file(s)', info=true) -%}
{%- endif -%}

{%- set experiment_events = "('experiment_assigned', 'experiment_exposed')" -%}
{#- Timestamps are bounded by the build's reference time (var as_of, else the run's start) plus the tolerance. -#}
{%- set latest_allowed = dbt.dateadd('minute', var('future_tolerance_minutes'), readout.as_of_timestamp()) -%}
{#- Typed columns a producer might retype (e.g. revenue as text): try-cast each branch, so a value that does
    not cast becomes null (and is quarantined below) instead of failing the whole build. -#}
{%- set schema_version = readout.safe_cast('schema_version', dbt.type_int()) -%}

with

events_source as {{ readout.not_materialized() }} (

    -- read by each step below for its own columns (not materialized: nothing buffers the batch)
    select * from {{ source('landing', 'events') }}
    {%- if new_file_paths is not none %}
    where {{ readout.landing_files_filter(readout.landing_filename_column(), new_file_paths) }}
    {%- endif %}

),

experiments_source as (

    select * from {{ source('landing', 'experiments') }}

),

known_experiment_versions as (

    select distinct
        experiment_id,
        experiment_version
    from experiments_source

),

known_variants as (

    select distinct
        experiment_id,
        experiment_version,
        variant_id
    from experiments_source

),

file_batches as (

    -- one row per landing file of the batch: its earliest received_at orders the files (see the header)
    select
        {{ readout.landing_file_path(readout.landing_filename_column()) }} as file_path,
        min({{ readout.parse_utc_timestamp('received_at') }}) as file_first_received_at

    from events_source
    group by 1

),

batch_ids as (

    -- the producer event ids of the batch's rows, with their copies (accepted or not)
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        count(*) as batch_copies

    from events_source
    group by 1, 2

),

{% if is_incremental() -%}
accepted_before as (

    -- the copies earlier batches accepted of the event ids in this batch: the first accepted is kept
    select
        previous.source_system,
        previous.event_id,
        count(*) as accepted_copies,
        max(case when previous.event_id_rank = 1 then previous.payload_hash end) as kept_payload_hash

    from {{ this }} as previous
    inner join batch_ids
        on previous.source_system = batch_ids.source_system
        and previous.event_id = batch_ids.event_id
    where previous.quarantine_reasons is null
    group by previous.source_system, previous.event_id

),

{% endif -%}
repeated_ids as (

    -- the ids that may have more than one accepted copy: sent more than once in this batch{% if is_incremental() %}, or accepted before{% endif %}
    select
        batch_ids.source_system,
        batch_ids.event_id
    {%- if is_incremental() %},
        accepted_before.accepted_copies,
        accepted_before.kept_payload_hash
        {%- endif %}

    from batch_ids
    {%- if is_incremental() %}
    left join accepted_before
        on batch_ids.source_system = accepted_before.source_system
        and batch_ids.event_id = accepted_before.event_id
    where batch_ids.batch_copies > 1
        or accepted_before.event_id is not null
    {%- else %}
        where batch_ids.batch_copies > 1
    {%- endif %}

),

{#- The same typing and checks for both parts: `single` (ids seen once) and `repeated` (repeated_ids). -#}
{% for part in ['single', 'repeated'] %}

    {{ part }}_source as (

        select events_source.*
        from events_source
        {{ 'left' if part == 'single' else 'inner' }} join repeated_ids
            on cast(events_source.source_system as {{ dbt.type_string() }}) = repeated_ids.source_system
                and cast(events_source.event_id as {{ dbt.type_string() }}) = repeated_ids.event_id
        {%- if part == 'single' %}
            where repeated_ids.event_id is null
        {%- endif %}

    ),

    {{ part }}_renamed as (

        select
        ----------  ids
            {{ readout.landing_file_path(readout.landing_filename_column()) }} as file_path,
            cast(event_id as {{ dbt.type_string() }}) as event_id,
            -- schema version 2 renamed anonymous_id to device_id
            cast(case when {{ schema_version }} = 2 then device_id else anonymous_id end as {{ dbt.type_string() }})
                as anonymous_id,
            cast(user_id as {{ dbt.type_string() }}) as user_id,
            cast(session_id as {{ dbt.type_string() }}) as session_id,
            cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
            {{ readout.safe_cast('experiment_version', dbt.type_int()) }} as experiment_version,
            cast(variant_id as {{ dbt.type_string() }}) as variant_id,

            ---------- strings
            cast(event_name as {{ dbt.type_string() }}) as event_name,
            cast(source_system as {{ dbt.type_string() }}) as source_system,
            cast(assignment_mechanism as {{ dbt.type_string() }}) as assignment_mechanism,
            cast(currency as {{ dbt.type_string() }}) as currency,
            cast(properties as {{ dbt.type_string() }}) as properties,
            coalesce({{ readout.json_extract_text('properties', 'traffic_type') }}, 'human') as traffic_type,
            cast(event_at as {{ dbt.type_string() }}) as event_at_raw,
            cast(received_at as {{ dbt.type_string() }}) as received_at_raw,
            case
                when {{ schema_version }} = 2 then {{ readout.double_text('revenue_amount') }}
                else {{ readout.double_text('revenue') }}
            end as revenue_raw,

            ---------- numerics
            {{ schema_version }} as schema_version,
            -- schema version 2 renamed revenue to revenue_amount; NaN and infinities stay (quarantined below)
            case
                when {{ schema_version }} = 2 then {{ readout.safe_cast('revenue_amount', readout.type_double()) }}
                else {{ readout.safe_cast('revenue', readout.type_double()) }}
            end as revenue,

            ---------- booleans
            cast(consent_granted as {{ dbt.type_boolean() }}) as consent_granted,

            ---------- timestamps (UTC); unparseable text becomes null and is quarantined below
            {{ readout.parse_utc_timestamp('event_at') }} as event_at,
            {{ readout.parse_utc_timestamp('received_at') }} as received_at

        from {{ part }}_source

    ),

    {{ part }}_checked as (

        select
            renamed.*,
        {{ readout.reason_list([
            ["renamed.event_id is null", "missing_event_id"],
            ["renamed.event_name is null", "missing_event_name"],
            ["renamed.event_name not in ('" ~ var('accepted_event_names') | join("', '") ~ "')", "unknown_event_name"],
            ["renamed.schema_version is null or renamed.schema_version not in (" ~ var('accepted_schema_versions') | join(", ") ~ ")", "unknown_schema_version"],
            ["renamed.source_system is null or renamed.source_system not in ('" ~ var('accepted_source_systems') | join("', '") ~ "')", "unknown_source_system"],
            ["renamed.anonymous_id is null and renamed.user_id is null", "missing_unit_id"],
            ["renamed.event_at is null", "unparseable_event_at"],
            ["renamed.received_at is null", "unparseable_received_at"],
            ["renamed.event_at > " ~ dbt.dateadd('minute', var('future_tolerance_minutes'), 'renamed.received_at')
                ~ " or renamed.event_at > " ~ latest_allowed, "future_event_at"],
            ["renamed.received_at > " ~ latest_allowed, "future_received_at"],
            ["renamed.event_at < " ~ readout.timestamp_literal(var('events_begin'), "var('events_begin')"), "event_at_before_history"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.experiment_id is null", "missing_experiment_id"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.variant_id is null", "missing_variant_id"],
            ["renamed.event_name in " ~ experiment_events ~ " and renamed.experiment_id is not null and known_experiment_versions.experiment_id is null", "unknown_experiment"],
            ["renamed.event_name in " ~ experiment_events ~ " and known_experiment_versions.experiment_id is not null and renamed.variant_id is not null and known_variants.variant_id is null", "unknown_variant"],
            ["renamed.revenue_raw is not null and renamed.revenue is null", "unparseable_revenue"],
            ["not " ~ readout.is_finite('renamed.revenue'), "non_finite_revenue"],
            ["renamed.revenue < 0", "negative_revenue"],
            ["renamed.event_name = 'purchase' and renamed.revenue_raw is null", "missing_revenue"],
        ]) }} as quarantine_reasons,
        {{ readout.payload_hash([
            'renamed.event_name', 'renamed.event_at_raw', 'renamed.source_system', 'renamed.anonymous_id',
            'renamed.user_id', 'renamed.session_id', 'renamed.experiment_id', 'renamed.experiment_version',
            'renamed.variant_id', 'renamed.assignment_mechanism', 'renamed.consent_granted',
            readout.double_text('renamed.revenue'), 'renamed.currency', 'renamed.properties',
        ]) }} as payload_hash,
        -- the batch order of the row's file (see the header): its earliest received_at
            file_batches.file_first_received_at

        from {{ part }}_renamed as renamed
        inner join file_batches
            on renamed.file_path = file_batches.file_path
        left join known_experiment_versions
            on renamed.experiment_id = known_experiment_versions.experiment_id
                and renamed.experiment_version = known_experiment_versions.experiment_version
        left join known_variants
            on renamed.experiment_id = known_variants.experiment_id
                and renamed.experiment_version = known_variants.experiment_version
                and renamed.variant_id = known_variants.variant_id

    ),

{% endfor %}
single_ranked as (

    -- alone with its id: an accepted row is the kept copy of its event
    select
        single_checked.*,
        cast(
            case when single_checked.quarantine_reasons is null then 1 end as {{ dbt.type_bigint() }}
        ) as event_id_rank,
        case when single_checked.quarantine_reasons is null then single_checked.payload_hash end as kept_payload_hash,
        false as is_duplicate,
        false as is_conflicting_duplicate

    from single_checked

),

repeated_ranks as (

    select
        repeated_checked.*,
        -- among accepted rows of one producer's event_id: the copies accepted earlier, then this batch's in
        -- file order, then the earliest received; quarantined rows are not ranked. A bigint on every path (Spark's
        -- row_number is an int, a count a bigint: the incremental table's type must not change)
        cast(case when
                repeated_checked.quarantine_reasons is null then
            {% if is_incremental() %}coalesce(repeated_ids.accepted_copies, 0) + {% endif %}row_number() over (
                    partition by
                        repeated_checked.source_system,
                        repeated_checked.event_id,
                        repeated_checked.quarantine_reasons is null
                    order by
                        repeated_checked.file_first_received_at,
                        repeated_checked.file_path,
                        repeated_checked.received_at,
                        repeated_checked.payload_hash
                )
        end as {{ dbt.type_bigint() }}) as event_id_rank,
        case when
                repeated_checked.quarantine_reasons is null then
            {% if is_incremental() %}coalesce(repeated_ids.kept_payload_hash, {% endif %}first_value(repeated_checked.payload_hash) over (
                    partition by
                        repeated_checked.source_system,
                        repeated_checked.event_id,
                        repeated_checked.quarantine_reasons is null
                    order by
                        repeated_checked.file_first_received_at,
                        repeated_checked.file_path,
                        repeated_checked.received_at,
                        repeated_checked.payload_hash
                    rows between unbounded preceding and unbounded following
                ){% if is_incremental() %}){% endif %} end as kept_payload_hash

    from repeated_checked
    {%- if is_incremental() %}
    inner join repeated_ids
        on repeated_checked.source_system = repeated_ids.source_system
        and repeated_checked.event_id = repeated_ids.event_id
    {%- endif %}

),

repeated_ranked as (

    select
        repeated_ranks.*,
        repeated_ranks.quarantine_reasons is null and repeated_ranks.event_id_rank > 1 as is_duplicate,
        repeated_ranks.quarantine_reasons is null
        and repeated_ranks.event_id_rank > 1
        and repeated_ranks.payload_hash <> repeated_ranks.kept_payload_hash as is_conflicting_duplicate

    from repeated_ranks

),

final as (

    select * from single_ranked
    union all
    select * from repeated_ranked

)

select * from final
