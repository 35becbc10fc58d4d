{#- The Bayesian view beside every frequentist result (readout.stats.bayes): chance to beat control, expected loss, credible interval. -#}
with

inferred as (

    select * from {{ inferred('metric_results_bayesian_inferred') }}

),

final as (

    select
        ----------  ids
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(experiment_version as {{ dbt.type_int() }}) as experiment_version,
        cast(population as {{ dbt.type_string() }}) as population,
        cast(variant_id as {{ dbt.type_string() }}) as variant_id,
        cast(metric_id as {{ dbt.type_string() }}) as metric_id,
        cast(estimator as {{ dbt.type_string() }}) as estimator,

        ---------- strings
        cast(metric_role as {{ dbt.type_string() }}) as metric_role,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(readout_status as {{ dbt.type_string() }}) as readout_status,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,

        ---------- numerics
        cast(prior_mean as {{ readout.type_double() }}) as prior_mean,
        cast(prior_sd as {{ readout.type_double() }}) as prior_sd,
        cast(relative_lift as {{ readout.type_double() }}) as relative_lift,
        cast(posterior_mean as {{ readout.type_double() }}) as posterior_mean,
        cast(posterior_sd as {{ readout.type_double() }}) as posterior_sd,
        cast(credible_interval_level as {{ readout.type_double() }}) as credible_interval_level,
        cast(credible_lower as {{ readout.type_double() }}) as credible_lower,
        cast(credible_upper as {{ readout.type_double() }}) as credible_upper,
        cast(chance_to_beat_control as {{ readout.type_double() }}) as chance_to_beat_control,
        cast(expected_loss as {{ readout.type_double() }}) as expected_loss

    from inferred

)

select * from final
