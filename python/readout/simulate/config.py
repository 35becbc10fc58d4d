"""The simulator's world, as plain data: timeline, experiments and their true effects, rates, faults.

Nothing here draws random numbers. Times are integer milliseconds since the Unix epoch (UTC), so the
metric windows of the catalog (``[start, end)`` days from first exposure) hold exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def utc_ms(text: str) -> int:
    """``'2026-01-15'`` or ``'2026-01-15T09:30:00'`` (UTC) -> milliseconds since the epoch."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(round(parsed.timestamp() * 1000))


# ---------------------------------------------------------------------------------------- timeline
DATA_START = utc_ms("2026-01-01")  #: first event time (pre-period activity for CUPED)
EXPERIMENTS_START = utc_ms("2026-01-15")  #: experiments start; enrollment opens
ENROLLMENT_DAYS = 14
ENROLLMENT_END = EXPERIMENTS_START + ENROLLMENT_DAYS * DAY  #: 2026-01-29: no first exposure from here
METRIC_HORIZON_DAYS = 14  #: longest catalog window; ended_at = enrollment end + this
EXPERIMENTS_END = ENROLLMENT_END + METRIC_HORIZON_DAYS * DAY  #: 2026-02-12: ended_at
DATA_END = utc_ms("2026-02-14")  #: no event_at from here on (late rows still arrive afterwards)
SCHEMA_V2_FROM = utc_ms("2026-02-01")  #: android SDK 2 ships: rows received from here are v2

# ------------------------------------------------------------------------------------------- units
PLATFORMS = ("web", "ios", "android")
PLATFORM_WEIGHTS = (0.5, 0.3, 0.2)
#: source_system codes used in row arrays: platforms first, then the assignment server.
SOURCE_SYSTEMS = ("web", "ios", "android", "server")
SERVER = 3
IOS = 1
ANDROID = 2

#: Latent activity lambda ~ mixture of Gamma(shape, scale): (weight, shape, scale).
ACTIVITY_MIXTURE = ((0.65, 2.0, 0.3), (0.35, 1.2, 1.5))
#: Per-platform base Poisson rates per day at lambda = 1.
SESSION_RATE_PER_DAY = {"web": 0.30, "ios": 0.42, "android": 0.36}
PURCHASE_RATE_PER_DAY = {"web": 0.022, "ios": 0.018, "android": 0.014}
#: Basket: revenue = price x quantity, quantity = 1 + Poisson(kappa), price from this list (cents).
PRICES_CENTS = (499, 999, 1999, 2999, 4999, 9999, 19999, 49999, 99999)
PRICE_WEIGHTS = (0.22, 0.24, 0.18, 0.12, 0.10, 0.07, 0.04, 0.02, 0.01)
BASE_KAPPA = 0.35
CURRENCY = "USD"

#: A unit attribute for segments (seeds/segment_attributes.csv): the country its exposures are served in, on the
#: exposure rows' properties. A fixed function of the unit number (codes.unit_country), so it draws no random
#: number and every other output of a seed is what it was without it.
COUNTRIES = ("us", "gb", "de", "br", "in")
COUNTRY_WEIGHTS = (0.4, 0.15, 0.15, 0.15, 0.15)

CONSENT_DENIED_SHARE = 0.05
LOGGED_IN_SHARE = 0.35  #: units that log in at one of their sessions (events from then on carry user_id)
SIGNUP_SHARE_NEW = 0.7  #: of logged-in new units, share that sign up at login
SIGNUP_SHARE_EXISTING = 0.05
NEVER_EXPOSED_SHARE = 0.08  #: assigned units that never reach the experience (realism, not a fault)
OVERRIDE_SHARE = 0.002  #: human assignments by allow-list; variant still drawn with the planned weights
REPEAT_EXPOSURES_MEAN = 0.5  #: extra exposures, uniform in the 7 days after the first
PRE_PERIOD_DAYS = 28  #: existing units are active from max(DATA_START, first exposure - this)
BACKGROUND_SHARE = 0.15  #: human units in no experiment

#: Exposure delay after assignment: lognormal seconds (median, sigma), capped.
EXPOSURE_DELAY_MEDIAN_S = 20.0
EXPOSURE_DELAY_SIGMA = 2.0
EXPOSURE_DELAY_MAX_S = 12 * 3600

#: Collector delays. Server and web: seconds. Mobile: a mixture, some rows days late.
#: (share, low_ms, high_ms) uniform components for mobile after the "seconds" share.
MOBILE_LATE_COMPONENTS = (
    (0.10, 30 * MINUTE, 20 * HOUR),  # batched uploads: hours late
    (0.025, DAY + SECOND, 3 * DAY),  # more than a day late
    (0.008, 3 * DAY + SECOND, 10 * DAY),  # more than three days late
)
MOBILE_CLOCK_AHEAD_SHARE = 0.01  #: outcome rows whose device clock runs ahead (event_at > received_at)
MOBILE_CLOCK_AHEAD_MAX = 20 * MINUTE  #: well inside the 60-minute future tolerance
LATE_THRESHOLD = DAY  #: rows received more than this after event_at are counted as late

# ------------------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class Effect:
    """Multipliers of the unit's Poisson rates after first exposure, and the basket size parameter.

    ``early`` applies on days [0, 7) after first exposure, ``late`` from day 7 on.
    """

    sessions_early: float = 1.0
    sessions_late: float = 1.0
    purchases_early: float = 1.0
    purchases_late: float = 1.0
    kappa: float = BASE_KAPPA


NO_EFFECT = Effect()


@dataclass(frozen=True)
class Arm:
    variant_id: str
    weight: float
    is_control: bool = False
    effect: Effect = NO_EFFECT


@dataclass(frozen=True)
class Version:
    version: int
    started_at: int | None
    enrollment_end: int | None  #: no first exposure at or after this
    ended_at: int | None
    status: str
    arms: tuple[Arm, ...]

    @property
    def control(self) -> Arm:
        return next(arm for arm in self.arms if arm.is_control)


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    share: float  #: share of human units placed in this experiment (mutually exclusive layers)
    versions: tuple[Version, ...]
    new_unit_share: float = 0.15  #: units first seen at assignment (no pre-period activity)
    unit_type: str = "anonymous_id"
    faulted: bool = False  #: the experiment the biasing faults target
    description: str = ""


def _two_arms(treatment: Effect) -> tuple[Arm, ...]:
    return (Arm("control", 0.5, True), Arm("treatment", 0.5, False, treatment))


SEARCH_V1_END = EXPERIMENTS_START + 3 * DAY  #: v1 enrolls for 3 days, then a bug fix makes v2

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "exp_checkout_button",
        "Checkout button redesign",
        share=0.17,
        versions=(
            Version(
                1,
                EXPERIMENTS_START,
                ENROLLMENT_END,
                EXPERIMENTS_END,
                "concluded",
                _two_arms(Effect(purchases_early=1.12, purchases_late=1.12, kappa=0.42)),
            ),
        ),
        description="real positive effect on conversion and revenue",
    ),
    Experiment(
        "exp_onboarding_flow",
        "Onboarding flow",
        share=0.17,
        new_unit_share=0.8,
        versions=(
            Version(
                1,
                EXPERIMENTS_START,
                ENROLLMENT_END,
                EXPERIMENTS_END,
                "concluded",
                (
                    Arm("control", 1 / 3, True),
                    Arm("variant_a", 1 / 3, False, Effect(sessions_early=1.10, sessions_late=1.15)),
                    Arm("variant_b", 1 / 3, False),
                ),
            ),
        ),
        description="variant_a raises sessions and retention_d7; variant_b is flat",
    ),
    Experiment(
        "exp_pricing_banner",
        "Pricing banner",
        share=0.17,
        versions=(
            Version(
                1,
                EXPERIMENTS_START,
                ENROLLMENT_END,
                EXPERIMENTS_END,
                "concluded",
                (
                    Arm("control", 0.9, True),
                    Arm(
                        "treatment",
                        0.1,
                        False,
                        Effect(sessions_early=0.97, sessions_late=0.78, purchases_early=1.18, purchases_late=1.05),
                    ),
                ),
            ),
        ),
        description="90/10 split; raises conversion but hurts the retention_d7 guardrail",
    ),
    Experiment(
        "exp_homepage_aa",
        "Homepage A/A",
        share=0.17,
        versions=(Version(1, EXPERIMENTS_START, ENROLLMENT_END, EXPERIMENTS_END, "concluded", _two_arms(NO_EFFECT)),),
        description="A/A test: no effect on any metric",
    ),
    Experiment(
        "exp_search_ranking",
        "Search ranking",
        share=0.17,
        versions=(
            Version(
                1,
                EXPERIMENTS_START,
                SEARCH_V1_END,
                SEARCH_V1_END + METRIC_HORIZON_DAYS * DAY,
                "concluded",
                _two_arms(Effect(sessions_early=1.03, sessions_late=1.03, purchases_early=1.05, purchases_late=1.05)),
            ),
            Version(
                2,
                SEARCH_V1_END,
                ENROLLMENT_END,
                EXPERIMENTS_END,
                "concluded",
                _two_arms(Effect(sessions_early=1.05, sessions_late=1.05, purchases_early=1.08, purchases_late=1.08)),
            ),
        ),
        faulted=True,
        description="v1 ran 3 days, a bug fix made v2; the biasing faults target this experiment",
    ),
    Experiment(
        "exp_checkout_copy",
        "Checkout copy (draft)",
        share=0.0,
        versions=(Version(1, None, None, None, "draft", _two_arms(NO_EFFECT)),),
        description="draft: defined in the export, never started, no events",
    ),
)

#: experiment_id values written on rows of the unknown_ids fault (absent from the export).
UNKNOWN_EXPERIMENT_IDS = ("exp_legacy_nav", "exp_price_test_2025")
#: variant_id values written on rows of the unknown_ids fault (no version has them).
UNKNOWN_VARIANT_IDS = ("variant_c", "treatment_old")

# ----------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    """The part of a seeds/metric_catalog.csv row the ground truth needs (a test keeps them in step)."""

    metric_id: str
    metric_type: str
    numerator_event: str
    numerator_aggregation: str
    denominator_event: str | None
    denominator_aggregation: str | None
    window_start_days: int
    window_end_days: int


METRICS: tuple[Metric, ...] = (
    Metric("conversion", "proportion", "purchase", "any", None, None, 0, 7),
    Metric("revenue", "mean", "purchase", "sum_revenue", None, None, 0, 14),
    Metric("revenue_per_session", "ratio", "purchase", "sum_revenue", "session_start", "count", 0, 14),
    Metric("retention_d7", "proportion", "session_start", "any", None, None, 7, 14),
    Metric("sessions", "count", "session_start", "count", None, None, 0, 14),
)

# ----------------------------------------------------------------------------------------- funnels


@dataclass(frozen=True)
class FunnelStep:
    """A step of a seeds/funnel_catalog.csv funnel (no event filter): the first ``event_name`` event at or after
    reaching the step before (step 0: first exposure) and less than ``window_days`` after it."""

    step_number: int
    step_name: str
    event_name: str
    window_days: int


@dataclass(frozen=True)
class Funnel:
    """The part of a seeds/funnel_catalog.csv funnel the ground truth needs (a test keeps them in step)."""

    funnel_id: str
    funnel_version: int
    steps: tuple[FunnelStep, ...]


FUNNELS: tuple[Funnel, ...] = (
    Funnel(
        "checkout",
        1,
        (
            FunnelStep(1, "session", "session_start", 2),
            FunnelStep(2, "signup", "signup", 5),
            FunnelStep(3, "purchase", "purchase", 7),
        ),
    ),
)

# ------------------------------------------------------------------------------------------ faults


@dataclass(frozen=True)
class FaultSpec:
    name: str
    unit: str  #: "rows" or "units"
    description: str
    biasing: bool = False  #: True: targets only the faulted experiment
    sub_counts: tuple[str, ...] = ()


FAULTS: tuple[FaultSpec, ...] = (
    FaultSpec(
        "duplicate_retries",
        "rows",
        "extra rows re-sending an existing event_id with an identical payload, received later",
    ),
    FaultSpec(
        "conflicting_duplicates",
        "rows",
        "extra rows re-using an existing event_id with a different payload (revenue or properties), received later",
    ),
    FaultSpec(
        "variant_logging_loss",
        "units",
        "units whose exposure events were never logged (assignment present): iOS units of "
        "exp_search_ranking v2 treatment",
        biasing=True,
    ),
    FaultSpec(
        "cross_variant_units",
        "units",
        "user_ids whose devices (anonymous_ids, stitched by user_id) were assigned or exposed to more "
        "than one variant of one exp_search_ranking version",
        biasing=True,
    ),
    FaultSpec(
        "exposure_before_assignment",
        "units",
        "exp_search_ranking units whose first exposure event_at is before their assignment event_at",
        biasing=True,
    ),
    FaultSpec(
        "exposure_outside_window",
        "units",
        "exp_search_ranking units with an exposure event_at before the version's started_at or after its ended_at",
        biasing=True,
    ),
    FaultSpec(
        "unknown_ids",
        "rows",
        "extra assignment/exposure rows whose experiment_id is not in the export, or whose variant_id is "
        "not a variant of that experiment version",
        sub_counts=("unknown_experiment", "unknown_variant"),
    ),
    FaultSpec(
        "malformed_rows",
        "rows",
        "extra rows with exactly one defect each",
        sub_counts=(
            "missing_event_id",
            "missing_unit_id",
            "unparseable_event_at",
            "future_event_at",
            "negative_revenue",
        ),
    ),
    FaultSpec(
        "bot_traffic",
        "units",
        "extra units whose every row has properties.traffic_type bot or internal (internal units are "
        "assigned by override)",
        sub_counts=("bot_units", "internal_units", "rows"),
    ),
    FaultSpec(
        "mixed_schema_versions",
        "rows",
        "rows written as schema_version 2 (android rows received from 2026-02-01), in separate -v2 files",
    ),
)
FAULT_NAMES: tuple[str, ...] = tuple(spec.name for spec in FAULTS)
FAULTED_EXPERIMENT = "exp_search_ranking"

#: Fault rates (per the population they apply to).
DUPLICATE_RETRY_SHARE = 0.02  #: of base human rows
CONFLICTING_DUPLICATE_SHARE = 0.005
RETRY_DELAY_MEDIAN_S = 30.0
RETRY_DELAY_MAX_S = 6 * 3600
LOGGING_LOSS_SHARE = 0.30
LOGGING_LOSS_TARGET = ("exp_search_ranking", 2, "treatment", "ios")
CROSS_VARIANT_PAIR_SHARE = 0.015  #: pairs per human unit of the faulted experiment
EXPOSURE_BEFORE_ASSIGNMENT_SHARE = 0.015
EXPOSURE_OUTSIDE_WINDOW_SHARE = 0.015
UNKNOWN_IDS_SHARE = 0.004  #: of base assignment/exposure rows
MALFORMED_SESSION_SHARE = 0.0025  #: of base session_start rows (split over four defects)
MALFORMED_PURCHASE_SHARE = 0.012  #: of base purchase rows (negative revenue)
UNPARSEABLE_EVENT_AT = ("not-a-date", "2026-13-45T99:00:00Z", "2026-02-30T10:00:00.000Z")
BOT_SHARE = 0.004  #: bots per human unit
INTERNAL_SHARE = 0.002
BOT_SESSIONS_PER_DAY = 12.0
INTERNAL_SESSIONS_PER_DAY = 1.0
INTERNAL_PURCHASES_PER_DAY = 0.05
