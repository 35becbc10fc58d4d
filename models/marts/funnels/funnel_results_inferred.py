"""Funnel results: conversion to every step and from the step before, per treatment variant against control."""

from readout.stats.funnels import compute_funnel_results


def model(dbt, session):
    dbt.config(materialized="table")
    return compute_funnel_results(
        dbt.ref("int_funnel_step_counts").df(),
        alpha=float(dbt.config.get("alpha")),
        correction=str(dbt.config.get("correction")),
    )
