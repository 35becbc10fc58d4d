{#-
    New exposed units (first exposure) per experiment version x segment x variant, with the planned weight:
    the input of the per-platform and per-day sample-ratio checks (fct_sample_ratio_checks_by_segment).
    Segments: a platform over the whole version (`platform`, exposure_date null), a day over all platforms
    (`day`, source_system null) and a platform on one day (`platform_day`). A unit counts on the platform
    and day of its first exposure, in the exposed analysis population. Every configured variant has a row
    in every segment that has any unit (zero when it has none).
-#}
with

units as (

    select * from {{ ref('int_experiment_units_flagged') }}
    where is_in_exposed_population
        and first_exposed_at is not null

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

first_exposures as (

    select
        experiment_id,
        experiment_version,
        variant_id,
        exposure_source_system as source_system,
        cast(first_exposed_at as date) as exposure_date

    from units

),

counted as (

    select
        experiment_id,
        experiment_version,
        'platform' as segment,
        source_system,
        cast(null as date) as exposure_date,
        variant_id,
        count(*) as observed_units
    from first_exposures
    group by 1, 2, 3, 4, 5, 6

    union all

    select
        experiment_id,
        experiment_version,
        'day' as segment,
        cast(null as {{ dbt.type_string() }}) as source_system,
        exposure_date,
        variant_id,
        count(*) as observed_units
    from first_exposures
    group by 1, 2, 3, 4, 5, 6

    union all

    select
        experiment_id,
        experiment_version,
        'platform_day' as segment,
        source_system,
        exposure_date,
        variant_id,
        count(*) as observed_units
    from first_exposures
    group by 1, 2, 3, 4, 5, 6

),

segments as (

    select distinct
        experiment_id,
        experiment_version,
        segment,
        source_system,
        exposure_date

    from counted

),

grid as (

    select
        segments.experiment_id,
        segments.experiment_version,
        segments.segment,
        segments.source_system,
        segments.exposure_date,
        variants.variant_id,
        variants.allocation_weight as expected_share

    from segments
    inner join variants
        on segments.experiment_id = variants.experiment_id
            and segments.experiment_version = variants.experiment_version

),

final as (

    select
        grid.experiment_id,
        grid.experiment_version,
        grid.segment,
        grid.source_system,
        grid.exposure_date,
        grid.variant_id,
        cast(coalesce(counted.observed_units, 0) as {{ dbt.type_bigint() }}) as observed_units,
        grid.expected_share

    from grid
    left join counted
        on grid.experiment_id = counted.experiment_id
            and grid.experiment_version = counted.experiment_version
            and grid.segment = counted.segment
            and grid.variant_id = counted.variant_id
            -- null-safe: day segments have no platform, platform segments no date
            and coalesce(grid.source_system, '') = coalesce(counted.source_system, '')
            and coalesce(grid.exposure_date, cast('1970-01-01' as date))
            = coalesce(counted.exposure_date, cast('1970-01-01' as date))

)

select * from final
