{#-
    The published per-variant sufficient statistics with the time they describe (the experiment version's
    watermark, from the published results), so the semantic layer can aggregate them over time.
-#}
with

stats as (

    select * from {{ ref('published__fct_variant_metric_stats') }}

),

watermarks as (

    select
        experiment_id,
        experiment_version,
        max(watermark_at) as watermark_at
    from {{ ref('published__fct_metric_results') }}
    group by 1, 2

),

final as (

    select
        stats.*,
        watermarks.watermark_at

    from stats
    left join watermarks
        on stats.experiment_id = watermarks.experiment_id
            and stats.experiment_version = watermarks.experiment_version

)

select * from final
