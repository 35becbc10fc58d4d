{#-
    Per-experiment statistical settings, one row per experiment version: the decision estimator ('cuped' |
    'unadjusted'; null = the default rule), alpha (null = var alpha), the planned sample size of the
    confidence sequence (null = the documented default, DEFAULT_SEQUENTIAL_TARGET_N = 10,000 units), how the
    planned split is known ('declared' | 'assumed_equal' | 'unknown': no sample-ratio test) and the import's
    several-variants policy. Imported experiments take them from their mapping (settings_source 'mapping'), the
    platform's from seeds/experiment_settings.csv ('seed'; the mapping wins for an import listed there too);
    the others have the defaults ('default').
-#}
with

experiment_versions as (

    select * from {{ ref('int_experiment_versions') }}

),

import_settings as (

    select * from {{ ref('stg_landing__import_settings') }}
    where metric_id is null

),

seeded as (

    select * from {{ ref('experiment_settings') }}

),

pivoted as (

    select
        experiment_id,
        experiment_version,
        max(case when setting = 'decision_estimator' then value_text end) as decision_estimator,
        max(case when setting = 'alpha' then value_double end) as alpha,
        max(case when setting = 'planned_sample_size' then value_double end) as planned_sample_size,
        max(case when setting = 'planned_split' then value_text end) as planned_split,
        max(case when setting = 'several_variants' then value_text end) as several_variants_policy,
        count(*) as setting_count

    from import_settings
    group by 1, 2

),

final as (

    select
        ----------  ids
        experiment_versions.experiment_id,
        experiment_versions.experiment_version,

        ---------- strings
        cast(coalesce(pivoted.decision_estimator, seeded.decision_estimator) as {{ dbt.type_string() }})
            as decision_estimator,
        cast(coalesce(pivoted.planned_split, 'declared') as {{ dbt.type_string() }}) as planned_split,
        cast(pivoted.several_variants_policy as {{ dbt.type_string() }}) as several_variants_policy,
        cast(
            case
                when pivoted.setting_count > 0 then 'mapping'
                when seeded.experiment_id is not null then 'seed'
                else 'default'
            end as {{ dbt.type_string() }}
        ) as settings_source,

        ---------- numerics
        cast(coalesce(pivoted.alpha, seeded.alpha) as {{ readout.type_double() }}) as alpha,
        cast(coalesce(pivoted.planned_sample_size, seeded.planned_sample_size) as {{ dbt.type_bigint() }})
            as planned_sample_size

    from experiment_versions
    left join pivoted
        on experiment_versions.experiment_id = pivoted.experiment_id
            and experiment_versions.experiment_version = pivoted.experiment_version
    left join seeded
        on experiment_versions.experiment_id = seeded.experiment_id
            and experiment_versions.experiment_version = seeded.experiment_version

)

select * from final
