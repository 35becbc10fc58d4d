"""The Bayesian view of every relative lift: chance to beat control, expected loss, credible interval."""

from readout.stats import compute_bayesian_views


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("metric_decision_aid_inputs").df()
    return compute_bayesian_views(
        inputs,
        prior_mean=float(dbt.config.get("bayes_prior_mean")),
        prior_sd=float(dbt.config.get("bayes_prior_sd")),
    )
