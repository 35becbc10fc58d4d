"""Funnel readouts from per-step unit counts: conversion to each step and from the step before, per variant.

Input: one row per experiment version x funnel x step x variant (``int_funnel_step_counts``) with
``n_units`` (units whose funnel window is complete), ``n_reached`` (those that reached the step) and
``n_reached_previous`` (those that reached the step before; ``n_units`` for step 1).

Two measures per step and treatment variant, compared with control:

* ``reach``: the share of units that reached the step, a proportion (Welch and delta-method relative lift,
  as every proportion metric);
* ``from_previous`` (steps 2 and up): the share of the units that reached the step before that went on to
  this one, ``n_reached / n_reached_previous``. Its denominator is random (how many reach the step before
  depends on the variant too), so it is a ratio metric with the delta method on the unit-level 0/1 pairs
  (reached this step, reached the step before): their sums and sums of squares are the two counts, and
  their cross sum is ``n_reached`` (reaching a step implies reaching the one before).

Each funnel of an experiment version is one multiple-testing family (its steps x measures x variants),
corrected apart from the version's metric family: :func:`readout.stats.segments.compute_segment_metric_results`
with the funnel as the segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .segments import compute_segment_metric_results

__all__ = ["FUNNEL_INPUT_COLUMNS", "compute_funnel_results"]

FUNNEL_INPUT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "funnel_id",
    "step_number",
    "step_name",
    "variant_id",
    "is_control",
    "n_units",
    "n_reached",
    "n_reached_previous",
)


def _stats(counts: pd.DataFrame) -> pd.DataFrame:
    base = counts[list(FUNNEL_INPUT_COLUMNS)].copy()
    base["population"] = "exposed"
    base["segment_type"] = "funnel"
    base["segment_value"] = base["funnel_id"]
    base["direction"] = "increase"
    base["role"] = "secondary"
    base["non_inferiority_margin"] = np.nan
    reached = base["n_reached"].astype(float)
    previous = base["n_reached_previous"].astype(float)
    reach = base.assign(
        metric_id="step_" + base["step_number"].astype(str) + "_reach",
        metric_type="proportion",
        metric_sum=reached,
        metric_sum_of_squares=reached,
    )
    later = base[base["step_number"] > 1]
    from_previous = later.assign(
        metric_id="step_" + later["step_number"].astype(str) + "_from_previous",
        metric_type="ratio",
        metric_sum=reached[later.index],
        metric_sum_of_squares=reached[later.index],
        denominator_sum=previous[later.index],
        denominator_sum_of_squares=previous[later.index],
        metric_denominator_cross_sum=reached[later.index],
    )
    return pd.concat([reach, from_previous], ignore_index=True)


def compute_funnel_results(counts: pd.DataFrame, alpha: float = 0.05, correction: str = "holm") -> pd.DataFrame:
    """One row per version x funnel x step x measure x treatment variant (see the module docstring)."""
    missing = [c for c in FUNNEL_INPUT_COLUMNS if c not in counts.columns]
    if missing:
        raise ValueError(f"compute_funnel_results: missing input columns {missing}")
    stats = _stats(counts)
    steps = stats[
        ["experiment_id", "experiment_version", "funnel_id", "metric_id", "step_number", "step_name"]
    ].drop_duplicates()
    results = compute_segment_metric_results(
        stats.drop(columns=["funnel_id", "step_number", "step_name"]), alpha, correction
    )
    results = results.rename(columns={"segment_value": "funnel_id"}).drop(columns=["segment_type"])
    results = results.merge(
        steps, on=["experiment_id", "experiment_version", "funnel_id", "metric_id"], how="left", validate="many_to_one"
    )
    results["measure"] = np.where(results["metric_id"].str.endswith("_reach"), "reach", "from_previous")
    return results.drop(columns=["metric_id", "estimator", "population"])
