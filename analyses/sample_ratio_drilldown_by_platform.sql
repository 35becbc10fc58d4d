-- A sample ratio mismatch, located: for each experiment version and variant, assigned units, exposed units and the share never exposed, per platform of exposure (the usual cause is logging loss in one variant on one platform).
with  -- noqa: disable=AM06

units as (

    select * from {{ ref('fct_experiment_units') }}

),

assigned as (

    select * from units
    where is_in_assigned_population

),

final as (

    select
        experiment_id,
        experiment_version,
        variant_id,
        coalesce(exposure_source_system, 'never exposed') as exposure_source_system,
        count(*) as assigned_units,
        sum(case when is_in_exposed_population then 1 else 0 end) as exposed_units

    from assigned
    group by 1, 2, 3, 4

)

select * from final
order by experiment_id, experiment_version, variant_id, exposure_source_system
