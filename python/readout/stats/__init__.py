"""Statistics for A/B readouts, computed from sufficient statistics (never raw rows).

One module per method family:

* :mod:`~readout.stats.sufficient` – ``SampleStats``, ``RatioStats``, ``CovariateStats``
* :mod:`~readout.stats.welch` – difference in means (Welch t) and relative lift (delta method)
* :mod:`~readout.stats.ratio` – ratio metrics by the delta method
* :mod:`~readout.stats.cuped` – CUPED with a within-arm pooled theta
* :mod:`~readout.stats.sequential` – always-valid asymptotic confidence sequences
* :mod:`~readout.stats.srm` – sample ratio mismatch (chi-square)
* :mod:`~readout.stats.multiple_testing` – Holm, Benjamini–Hochberg, guardrail non-inferiority
* :mod:`~readout.stats.volume` – events missing from one variant on one platform and day; sample ratio per
  platform and day
* :mod:`~readout.stats.batch` – many pairs of one kind in one array call, with per-pair failures
* :mod:`~readout.stats.results` – the two DataFrame functions the dbt Python models call
* :mod:`~readout.stats.bayes` – chance to beat control, expected loss, credible interval (Gaussian, conjugate prior)
* :mod:`~readout.stats.power` – minimum detectable effect, units needed, days to reach them
* :mod:`~readout.stats.decision_aids` – the table-level Bayesian view and power analysis

Everything except :mod:`~readout.stats.results` (and the ``compute_*`` functions of
:mod:`~readout.stats.volume`) is pure numpy / scipy and accepts scalars or
arrays (one element per experiment).
"""

from .bayes import BayesianLift, bayesian_relative_lift, chance_to_beat_control, expected_loss, normal_posterior
from .cuped import (
    CupedComparison,
    cuped_absolute_lift,
    cuped_adjusted_means,
    cuped_compare,
    cuped_relative_lift,
    cuped_variance_reduction,
    pooled_theta,
)
from .decision_aids import compute_bayesian_views, compute_power_analysis
from .estimate import LiftEstimate
from .multiple_testing import adjust_p_values, benjamini_hochberg, guardrail_status, holm
from .power import days_to_sample_size, minimum_detectable_effect, required_sample_size
from .ratio import ratio_absolute_lift, ratio_relative_lift, ratio_variance
from .results import (
    METRIC_INPUT_COLUMNS,
    METRIC_OPTIONAL_INPUT_COLUMNS,
    METRIC_OUTPUT_COLUMNS,
    SRM_INPUT_COLUMNS,
    SRM_OUTPUT_COLUMNS,
    compute_metric_results,
    compute_sample_ratio_checks,
)
from .sequential import (
    SequentialInterval,
    asymptotic_confidence_sequence,
    asymptotic_cs_radius,
    optimal_rho,
    sequential_difference_in_means,
)
from .srm import SrmResult, sample_ratio_mismatch, validate_weights
from .sufficient import CovariateStats, RatioStats, SampleStats
from .volume import (
    SEGMENT_SRM_INPUT_COLUMNS,
    SEGMENT_SRM_OUTPUT_COLUMNS,
    VOLUME_INPUT_COLUMNS,
    VOLUME_OUTPUT_COLUMNS,
    VolumeShortfall,
    bonferroni,
    compute_segment_sample_ratio_checks,
    compute_volume_checks,
    reference_sums,
    volume_shortfall,
)
from .welch import delta_relative_lift, welch_absolute_lift, welch_satterthwaite_df

__all__ = [
    "BayesianLift",
    "bayesian_relative_lift",
    "chance_to_beat_control",
    "compute_bayesian_views",
    "compute_power_analysis",
    "days_to_sample_size",
    "expected_loss",
    "minimum_detectable_effect",
    "normal_posterior",
    "required_sample_size",
    "SampleStats",
    "RatioStats",
    "CovariateStats",
    "LiftEstimate",
    "welch_absolute_lift",
    "delta_relative_lift",
    "welch_satterthwaite_df",
    "ratio_variance",
    "ratio_absolute_lift",
    "ratio_relative_lift",
    "CupedComparison",
    "pooled_theta",
    "cuped_adjusted_means",
    "cuped_variance_reduction",
    "cuped_absolute_lift",
    "cuped_relative_lift",
    "cuped_compare",
    "SequentialInterval",
    "optimal_rho",
    "asymptotic_cs_radius",
    "asymptotic_confidence_sequence",
    "sequential_difference_in_means",
    "SrmResult",
    "sample_ratio_mismatch",
    "validate_weights",
    "holm",
    "benjamini_hochberg",
    "adjust_p_values",
    "guardrail_status",
    "compute_metric_results",
    "compute_sample_ratio_checks",
    "METRIC_INPUT_COLUMNS",
    "METRIC_OPTIONAL_INPUT_COLUMNS",
    "METRIC_OUTPUT_COLUMNS",
    "SRM_INPUT_COLUMNS",
    "SRM_OUTPUT_COLUMNS",
    "VolumeShortfall",
    "volume_shortfall",
    "bonferroni",
    "reference_sums",
    "compute_volume_checks",
    "compute_segment_sample_ratio_checks",
    "VOLUME_INPUT_COLUMNS",
    "VOLUME_OUTPUT_COLUMNS",
    "SEGMENT_SRM_INPUT_COLUMNS",
    "SEGMENT_SRM_OUTPUT_COLUMNS",
]
