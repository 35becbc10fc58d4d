{#-
    Summary-statistics imports (readout import, kind: summary) in the shape of fct_variant_metric_stats, at
    every checkpoint: one row per experiment version x checkpoint x variant x metric, population assigned (an
    export of per-arm aggregates counts each unit in its arm: intent to treat). The export's counts and sums
    are taken as they are: n_units is the arm's units at the checkpoint (cumulative), no metric window applies
    (n_units_window_in_progress and n_units_window_truncated are 0), and a row that cannot be analysed keeps
    its row_reason (a zero or missing count: n_units and sums 0; a missing mean or variance: null sums). is_final_checkpoint marks
    the experiment version's last checkpoint: fct_variant_metric_stats takes those rows (the fixed-horizon
    readout); fct_metric_results_by_checkpoint reads them all (the confidence sequence over the looks).
-#}
with

summaries as (

    select * from {{ ref('stg_landing__import_summaries') }}

),

variants as (

    select * from {{ ref('stg_landing__experiment_variants') }}

),

definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

final_checkpoints as (

    select
        experiment_id,
        experiment_version,
        max(checkpoint_index) as final_checkpoint_index

    from summaries
    group by 1, 2

),

final as (

    select
        ----------  ids
        summaries.experiment_id,
        summaries.experiment_version,
        'assigned' as population,
        summaries.variant_id,
        summaries.metric_id,

        ---------- strings
        definitions.metric_type,
        definitions.direction,
        definitions.role,
        summaries.checkpoint_label,
        summaries.row_reason,

        ---------- numerics
        summaries.checkpoint_index,
        definitions.metric_version,
        cast(variants.allocation_weight as {{ readout.type_double() }}) as allocation_weight,
        definitions.non_inferiority_margin,
        summaries.n_units,
        cast(0 as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
        cast(0 as {{ dbt.type_bigint() }}) as n_units_window_truncated,
        cast(null as {{ dbt.type_bigint() }}) as n_units_capped,
        summaries.metric_sum,
        summaries.metric_sum_of_squares,
        cast(null as {{ readout.type_double() }}) as denominator_sum,
        cast(null as {{ readout.type_double() }}) as denominator_sum_of_squares,
        cast(null as {{ readout.type_double() }}) as metric_denominator_cross_sum,
        cast(null as {{ readout.type_double() }}) as covariate_sum,
        cast(null as {{ readout.type_double() }}) as covariate_sum_of_squares,
        cast(null as {{ readout.type_double() }}) as metric_covariate_cross_sum,
        summaries.source_row,

        ---------- booleans
        variants.is_control,
        summaries.checkpoint_index = final_checkpoints.final_checkpoint_index as is_final_checkpoint,

        ---------- timestamps
        summaries.checkpoint_at

    from summaries
    inner join final_checkpoints
        on summaries.experiment_id = final_checkpoints.experiment_id
            and summaries.experiment_version = final_checkpoints.experiment_version
    -- left joins: a summary row is never dropped; a variant or metric the import did not declare shows as nulls
    -- (fct_variant_metric_stats' contract then flags the version: no control, weights not summing to 1)
    left join variants
        on summaries.experiment_id = variants.experiment_id
            and summaries.experiment_version = variants.experiment_version
            and summaries.variant_id = variants.variant_id
    left join definitions
        on summaries.experiment_id = definitions.experiment_id
            and summaries.experiment_version = definitions.experiment_version
            and summaries.metric_id = definitions.metric_id

)

select * from final
