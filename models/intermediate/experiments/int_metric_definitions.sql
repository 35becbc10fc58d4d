{#-
    The metrics each experiment version is read on: every catalog metric for event-based experiments,
    the mapping file's outcomes for imported exports. One row per experiment version x metric.
-#}
with

experiment_versions as (

    select * from {{ ref('int_experiment_versions') }}

),

catalog as (

    select * from {{ ref('metric_catalog') }}

),

import_metrics as (

    select * from {{ ref('stg_landing__import_metrics') }}

),

import_margins as (

    -- a guardrail's non-inferiority margin from the mapping (outcomes[].margin)
    select
        experiment_id,
        experiment_version,
        metric_id,
        value_double as non_inferiority_margin
    from {{ ref('stg_landing__import_settings') }}
    where setting = 'non_inferiority_margin'

),

from_catalog as (

    select
        experiment_versions.experiment_id,
        experiment_versions.experiment_version,
        catalog.metric_id,
        cast(catalog.metric_version as {{ dbt.type_int() }}) as metric_version,
        catalog.metric_type,
        catalog.direction,
        catalog.role,
        cast(catalog.non_inferiority_margin as {{ readout.type_double() }}) as non_inferiority_margin,
        catalog.description,
        'catalog' as defined_in

    from experiment_versions
    cross join catalog
    where not experiment_versions.is_imported

),

from_imports as (

    select
        experiment_versions.experiment_id,
        experiment_versions.experiment_version,
        import_metrics.metric_id,
        cast(1 as {{ dbt.type_int() }}) as metric_version,
        import_metrics.metric_type,
        import_metrics.direction,
        import_metrics.role,
        cast(import_margins.non_inferiority_margin as {{ readout.type_double() }}) as non_inferiority_margin,
        import_metrics.description,
        'import_mapping' as defined_in

    from experiment_versions
    inner join import_metrics
        on experiment_versions.experiment_id = import_metrics.experiment_id
    left join import_margins
        on experiment_versions.experiment_id = import_margins.experiment_id
            and experiment_versions.experiment_version = import_margins.experiment_version
            and import_metrics.metric_id = import_margins.metric_id
    where experiment_versions.is_imported

),

unioned as (

    select * from from_catalog
    union all
    select * from from_imports

)

select * from unioned
