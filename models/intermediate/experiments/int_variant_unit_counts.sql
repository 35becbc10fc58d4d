{#- Units per experiment version x population x variant, every configured variant present (zero when none arrived), with its planned weight: the input of the sample-ratio check. -#}
with

units as (

    select * from {{ ref('fct_experiment_units') }}

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

populations as (

    select 'assigned' as population
    union all
    select 'exposed' as population

),

variant_grid as (

    select
        variants.experiment_id,
        variants.experiment_version,
        populations.population,
        variants.variant_id,
        variants.is_control,
        variants.allocation_weight

    from variants
    cross join populations

),

summary_counts as (

    -- summary-statistics imports (kind: summary): an arm's units at the last checkpoint, the largest count over
    -- its metrics (an export may count a metric on fewer units: e.g. revenue among payers); both populations
    select
        summaries.experiment_id,
        summaries.experiment_version,
        summaries.variant_id,
        max(summaries.n_units) as observed_units
    from {{ ref('int_import_summary_stats') }} as summaries
    where summaries.is_final_checkpoint
    group by 1, 2, 3

),

counted as (

    select
        experiment_id,
        experiment_version,
        'assigned' as population,
        variant_id,
        count(*) as observed_units
    from units
    where is_in_assigned_population
    group by 1, 2, 3, 4

    union all

    select
        experiment_id,
        experiment_version,
        'exposed' as population,
        variant_id,
        count(*) as observed_units
    from units
    where is_in_exposed_population
    group by 1, 2, 3, 4

    union all

    select
        summary_counts.experiment_id,
        summary_counts.experiment_version,
        populations.population,
        summary_counts.variant_id,
        summary_counts.observed_units
    from summary_counts
    cross join populations

),

final as (

    select
        variant_grid.experiment_id,
        variant_grid.experiment_version,
        variant_grid.population,
        variant_grid.variant_id,
        variant_grid.is_control,
        cast(coalesce(counted.observed_units, 0) as {{ dbt.type_bigint() }}) as observed_units,
        variant_grid.allocation_weight as expected_share

    from variant_grid
    left join counted
        on variant_grid.experiment_id = counted.experiment_id
            and variant_grid.experiment_version = counted.experiment_version
            and variant_grid.population = counted.population
            and variant_grid.variant_id = counted.variant_id

)

select * from final
