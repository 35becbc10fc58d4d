{#- Exposed units per experiment version x segment x variant, every configured variant present (zero when none), with its planned weight: the input of the per-segment sample-ratio check. -#}
with

segments as (

    select * from {{ ref('int_experiment_unit_segments') }}

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

counted as (

    select
        experiment_id,
        experiment_version,
        segment_type,
        segment_value,
        variant_id,
        count(*) as observed_units

    from segments
    group by 1, 2, 3, 4, 5

),

segment_grid as (

    select distinct
        experiment_id,
        experiment_version,
        segment_type,
        segment_value

    from counted

),

final as (

    select
        segment_grid.experiment_id,
        segment_grid.experiment_version,
        'exposed' as population,
        segment_grid.segment_type,
        segment_grid.segment_value,
        variants.variant_id,
        cast(coalesce(counted.observed_units, 0) as {{ dbt.type_bigint() }}) as observed_units,
        variants.allocation_weight as expected_share

    from segment_grid
    inner join variants
        on segment_grid.experiment_id = variants.experiment_id
            and segment_grid.experiment_version = variants.experiment_version
    left join counted
        on segment_grid.experiment_id = counted.experiment_id
            and segment_grid.experiment_version = counted.experiment_version
            and segment_grid.segment_type = counted.segment_type
            and segment_grid.segment_value = counted.segment_value
            and variants.variant_id = counted.variant_id

)

select * from final
