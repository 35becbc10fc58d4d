"""Minimum detectable effect now, units needed for the planned effect, and days to reach them."""

from readout.stats import compute_power_analysis


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("metric_decision_aid_inputs").df()
    return compute_power_analysis(
        inputs,
        power=float(dbt.config.get("power")),
        planned_minimum_effect=float(dbt.config.get("planned_minimum_effect")),
    )
