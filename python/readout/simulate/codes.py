"""Integer codes used in the generator's row arrays, and the text each code stands for.

Rows are generated as numpy arrays of small integers; text appears only when a chunk is written.
"""

from __future__ import annotations

import json

import numpy as np

from .. import contract
from . import config as C

# ------------------------------------------------------------------------------------ event names
EVENT_NAMES: tuple[str, ...] = contract.EVENT_NAMES
ASSIGNED = EVENT_NAMES.index(contract.ASSIGNMENT_EVENT)
EXPOSED = EVENT_NAMES.index(contract.EXPOSURE_EVENT)
SESSION = EVENT_NAMES.index("session_start")
SIGNUP = EVENT_NAMES.index("signup")
PURCHASE = EVENT_NAMES.index("purchase")

SOURCE_SYSTEMS: tuple[str, ...] = C.SOURCE_SYSTEMS
assert set(SOURCE_SYSTEMS) == set(contract.SOURCE_SYSTEMS)
MECHANISMS: tuple[str, ...] = contract.ASSIGNMENT_MECHANISMS
HASH, OVERRIDE = MECHANISMS.index("hash"), MECHANISMS.index("override")
TRAFFIC_TYPES: tuple[str, ...] = contract.TRAFFIC_TYPES
HUMAN, BOT, INTERNAL = (TRAFFIC_TYPES.index(t) for t in ("human", "bot", "internal"))

# ------------------------------------------------------------------------- experiments, variants
#: Experiment keys written on rows: the export's experiments, then the unknown ones.
EXPERIMENT_KEYS: tuple[str, ...] = tuple(e.experiment_id for e in C.EXPERIMENTS) + C.UNKNOWN_EXPERIMENT_IDS
N_KNOWN_EXPERIMENTS = len(C.EXPERIMENTS)
VARIANT_NAMES: tuple[str, ...] = (
    tuple(sorted({a.variant_id for e in C.EXPERIMENTS for v in e.versions for a in v.arms})) + C.UNKNOWN_VARIANT_IDS
)
assert not set(C.UNKNOWN_VARIANT_IDS) & set(VARIANT_NAMES[: -len(C.UNKNOWN_VARIANT_IDS)])
MAX_VERSION = 4

#: VALID[exp, version, variant]: the triple is in the export (what staging accepts).
VALID = np.zeros((len(EXPERIMENT_KEYS), MAX_VERSION, len(VARIANT_NAMES)), dtype=bool)
#: Version windows (ms), -1 when not started / still running.
STARTED_AT = np.full((len(EXPERIMENT_KEYS), MAX_VERSION), -1, dtype=np.int64)
ENDED_AT = np.full((len(EXPERIMENT_KEYS), MAX_VERSION), -1, dtype=np.int64)
for _e, _experiment in enumerate(C.EXPERIMENTS):
    for _version in _experiment.versions:
        for _arm in _version.arms:
            VALID[_e, _version.version, VARIANT_NAMES.index(_arm.variant_id)] = True
        STARTED_AT[_e, _version.version] = -1 if _version.started_at is None else _version.started_at
        ENDED_AT[_e, _version.version] = -1 if _version.ended_at is None else _version.ended_at


def experiment_code(experiment_id: str) -> int:
    return EXPERIMENT_KEYS.index(experiment_id)


def variant_code(variant_id: str) -> int:
    return VARIANT_NAMES.index(variant_id)


# ------------------------------------------------------------------------------------- properties
_SURFACES = {
    "exp_checkout_button": "checkout",
    "exp_onboarding_flow": "onboarding",
    "exp_pricing_banner": "pricing",
    "exp_homepage_aa": "homepage",
    "exp_search_ranking": "search",
    "exp_checkout_copy": "checkout",
}
SESSION_PAGES = ("/", "/search", "/product", "/pricing", "/account")
SIGNUP_METHODS = ("email", "google", "apple")
MAX_ITEMS = 60

_BASE_PAYLOADS: list[dict] = [{"service": "assignment-api"}]
PROPS_ASSIGNMENT = 0
PROPS_EXPOSURE = len(_BASE_PAYLOADS)  #: + experiment code x countries + country code (exposure_props_base)
_BASE_PAYLOADS += [
    {"surface": _SURFACES.get(key, "legacy"), "country": country} for key in EXPERIMENT_KEYS for country in C.COUNTRIES
]
PROPS_SESSION = len(_BASE_PAYLOADS)  #: + page index
_BASE_PAYLOADS += [{"page": page} for page in SESSION_PAGES]
PROPS_SIGNUP = len(_BASE_PAYLOADS)  #: + method index
_BASE_PAYLOADS += [{"method": method} for method in SIGNUP_METHODS]
PROPS_PURCHASE = len(_BASE_PAYLOADS) - 1  #: + number of items (1..MAX_ITEMS)
_BASE_PAYLOADS += [{"page": "/checkout", "items": items} for items in range(1, MAX_ITEMS + 1)]

#: properties code = base * PROPS_STRIDE + traffic * 2 + retry flag
PROPS_STRIDE = 2 * len(TRAFFIC_TYPES)
PROPERTY_STRINGS: tuple[str, ...] = tuple(
    json.dumps(
        {
            **base,
            **({"traffic_type": TRAFFIC_TYPES[traffic]} if traffic != HUMAN else {}),
            **({"client_retry": True} if retry else {}),
        }
    )
    for base in _BASE_PAYLOADS
    for traffic in range(len(TRAFFIC_TYPES))
    for retry in (0, 1)
)


_COUNTRY_CUMULATIVE = np.cumsum(C.COUNTRY_WEIGHTS) / np.sum(C.COUNTRY_WEIGHTS)


def unit_country(gid: np.ndarray) -> np.ndarray:
    """The country code (index into config.COUNTRIES) of each unit number: a splitmix64 hash of the number, so
    no random stream is drawn from and the other outputs of a seed do not change."""
    z = np.asarray(gid, dtype=np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    uniform = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.searchsorted(_COUNTRY_CUMULATIVE, uniform, side="right").clip(0, len(C.COUNTRIES) - 1)


def exposure_props_base(exp: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """The properties payload of exposure rows: the experiment's surface and the unit's country."""
    return PROPS_EXPOSURE + np.asarray(exp, dtype=np.int64) * len(C.COUNTRIES) + unit_country(gid)


def props_code(base: np.ndarray, traffic: np.ndarray) -> np.ndarray:
    return (np.asarray(base, dtype=np.int16) * PROPS_STRIDE + np.asarray(traffic, dtype=np.int16) * 2).astype(np.int16)


# --------------------------------------------------------------------------------- roles and tags
#: Who a unit is (per row, for bookkeeping).
ROLE_TRUTH, ROLE_BACKGROUND, ROLE_BOT, ROLE_XVAR, ROLE_EBA, ROLE_OUTWIN = range(6)
#: What planted a row.
TAG_NONE, TAG_RETRY, TAG_CONFLICT, TAG_UNKNOWN_EXPERIMENT, TAG_UNKNOWN_VARIANT = range(5)
TAG_MISSING_EVENT_ID, TAG_MISSING_UNIT_ID, TAG_UNPARSEABLE, TAG_FUTURE, TAG_NEGATIVE_REVENUE = range(5, 10)
