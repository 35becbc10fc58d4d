{#- One row per experiment version from the platform export: its window, unit type, control, planned split, and whether it came from `readout import`. -#}
with

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

imported as (

    select distinct
        experiment_id,
        experiment_version
    from {{ ref('stg_landing__import_units') }}

    union

    -- summary-statistics imports (kind: summary) have no units
    select distinct
        experiment_id,
        experiment_version
    from {{ ref('stg_landing__import_summaries') }}

),

versions as (

    select
        experiment_id,
        experiment_version,
        max(experiment_name) as experiment_name,
        max(experiment_status) as experiment_status,
        max(unit_type) as unit_type,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        count(*) as variant_count,
        sum(case when is_control then 1 else 0 end) as control_count,
        max(case when is_control then variant_id end) as control_variant_id,
        sum(allocation_weight) as allocation_weight_sum

    from variants
    group by 1, 2

),

final as (

    select
        versions.*,
        imported.experiment_id is not null as is_imported

    from versions
    left join imported
        on versions.experiment_id = imported.experiment_id
            and versions.experiment_version = imported.experiment_version

)

select * from final
