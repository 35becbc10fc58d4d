"""The mapping file of ``readout import``: which columns of a unit-level export mean what.

A mapping is a small YAML file (see ``mappings/`` for examples and the README section "Analyse your
own export" for the reference). :func:`load_mapping` reads and validates one and returns a
:class:`Mapping`; every problem is reported as a :class:`readout.cli.UsageError` that names the key,
and all problems of one file are reported together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from readout.cli import UsageError

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
OUTCOME_TYPES = ("binary", "numeric")
DIRECTIONS = ("increase", "decrease")
ROLES = ("primary", "secondary", "guardrail")
ON_NULL = ("error", "skip", "zero")
#: What to do with a unit seen in more than one variant (assigned or shown), chosen in the mapping.
SEVERAL_VARIANTS = ("exclude", "first_row", "drop_mismatched_rows")
DECISION_ESTIMATORS = ("cuped", "unadjusted")
#: How the planned split is known: written in the mapping, assumed equal (``split: equal``), or not known.
PLANNED_SPLITS = ("declared", "assumed_equal", "unknown")
#: Metric type in the metric catalog for each outcome type.
METRIC_TYPES = {"binary": "proportion", "numeric": "mean"}
SPLIT_TOLERANCE = 1e-6
INT32_MAX = 2**31 - 1

TOP_KEYS = {
    "experiment_id": True,  # key -> required
    "experiment_version": False,
    "name": False,
    "unit_id": True,
    "assigned_variant": True,
    "exposed_variant": False,
    "timestamp": False,
    "control": True,
    "split": False,
    "variants": False,
    "outcomes": True,
    "derive": False,
    "where": False,
    "several_variants": False,
    "analysis": False,
    "kind": False,  # units (default) | summary (see readout.importer.aggregates)
    "segments": False,  # columns written as unit attributes (imports/unit_attributes) for segment readouts
}
ANALYSIS_KEYS = {"alpha": False, "planned_sample_size": False, "decision_estimator": False}
VARIANT_KEYS = {"column": True, "values": False}
OUTCOME_KEYS = {
    "metric_id": True,
    "column": True,
    "type": True,
    "direction": False,
    "role": False,
    "description": False,
    "on_null": False,
    "margin": False,
    "denominator": False,
    "among": False,
}


@dataclass(frozen=True)
class VariantColumn:
    """A column holding variant values, and the optional map source value -> variant_id."""

    column: str
    values: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column}
        if self.values is not None:
            out["values"] = dict(self.values)
        return out


@dataclass(frozen=True)
class Outcome:
    metric_id: str
    column: str
    type: str  # binary | numeric
    direction: str = "increase"
    role: str = "secondary"
    description: str | None = None
    on_null: str = "error"  # error | skip | zero
    margin: float | None = None  # guardrails: the non-inferiority margin, a positive fraction of the control mean
    denominator: str | None = None  # ratio metric: sum(column) / sum(denominator) per variant (delta method)
    among: str | None = None  # conditional metric: the outcome among the units where this 0/1 column holds

    @property
    def metric_type(self) -> str:
        """``ratio`` for ratio and conditional metrics (analysed with the delta method), else by type."""
        return "ratio" if self.denominator or self.among else METRIC_TYPES[self.type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric_id": self.metric_id,
            "column": self.column,
            "type": self.type,
            "direction": self.direction,
            "role": self.role,
            "description": self.description,
            "on_null": self.on_null,
            "margin": self.margin,
            "denominator": self.denominator,
            "among": self.among,
        }


@dataclass(frozen=True)
class Mapping:
    experiment_id: str
    unit_id: str
    assigned_variant: VariantColumn
    control: str
    split: dict[str, float]
    outcomes: tuple[Outcome, ...]
    experiment_version: int = 1
    name: str | None = None
    exposed_variant: VariantColumn | None = None
    timestamp: str | None = None
    source: str = "<mapping>"
    planned_split: str = "declared"  # declared | assumed_equal | unknown (then split holds equal placeholder weights)
    derive: tuple[tuple[str, str], ...] = ()  # (new column, DuckDB SQL expression), in order
    where: str | None = None  # DuckDB SQL predicate: only rows where it holds are imported
    several_variants: str = "exclude"
    alpha: float | None = None
    planned_sample_size: int | None = None
    decision_estimator: str | None = None
    segments: tuple[str, ...] = ()  # columns (export or derived) landed as unit attributes, in order

    @property
    def variants(self) -> list[str]:
        """Variant ids in the order of ``split``."""
        return list(self.split)

    @property
    def display_name(self) -> str:
        return self.name or self.experiment_id

    @property
    def derived_names(self) -> list[str]:
        return [name for name, _ in self.derive]

    def columns(self) -> list[tuple[str, str]]:
        """Every (mapping key, column) pair the mapping reads (export columns and derived columns)."""
        pairs = [("unit_id", self.unit_id), ("assigned_variant.column", self.assigned_variant.column)]
        if self.exposed_variant is not None:
            pairs.append(("exposed_variant.column", self.exposed_variant.column))
        if self.timestamp is not None:
            pairs.append(("timestamp", self.timestamp))
        pairs += [(f"outcomes[{o.metric_id}].column", o.column) for o in self.outcomes]
        pairs += [(f"outcomes[{o.metric_id}].denominator", o.denominator) for o in self.outcomes if o.denominator]
        pairs += [(f"outcomes[{o.metric_id}].among", o.among) for o in self.outcomes if o.among]
        pairs += [(f"segments[{index}]", column) for index, column in enumerate(self.segments, start=1)]
        return pairs

    def to_dict(self) -> dict[str, Any]:
        """The mapping as used, every default filled in (written to the import manifest)."""
        return {
            "experiment_id": self.experiment_id,
            "experiment_version": self.experiment_version,
            "name": self.name,
            "unit_id": self.unit_id,
            "assigned_variant": self.assigned_variant.to_dict(),
            "exposed_variant": None if self.exposed_variant is None else self.exposed_variant.to_dict(),
            "timestamp": self.timestamp,
            "control": self.control,
            "split": dict(self.split),
            "planned_split": self.planned_split,
            "outcomes": [o.to_dict() for o in self.outcomes],
            "derive": dict(self.derive),
            "where": self.where,
            "several_variants": self.several_variants,
            "analysis": {
                "alpha": self.alpha,
                "planned_sample_size": self.planned_sample_size,
                "decision_estimator": self.decision_estimator,
            },
            "segments": list(self.segments),
        }


# ------------------------------------------------------------------------------------------ YAML
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (plain YAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise UsageError(f"mapping file not found: {path}")
    if path.is_dir():
        raise UsageError(f"mapping path is a folder, not a YAML file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read mapping file {path}: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"mapping {path}: not valid YAML{where}: {problem}") from None


# ------------------------------------------------------------------------------------ validation
MAX_PROBLEMS_LISTED = 10
BOOLEAN_HINT = "YAML reads unquoted yes/no/on/off/true/false as a boolean; quote it (e.g. 'yes')"


class Problems:
    """Collects every problem of one input, then raises them together as one UsageError."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise UsageError(f"{self.label}: {self.items[0]}")
        shown = self.items[:MAX_PROBLEMS_LISTED]
        more = len(self.items) - len(shown)
        lines = "\n".join(f"  - {item}" for item in shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise UsageError(f"{self.label} has {len(self.items)} problems:\n{lines}{tail}")


def _check_keys(data: dict, allowed: dict[str, bool], where: str, problems: Problems) -> None:
    prefix = f"{where}: " if where else ""
    for key in data:
        if key not in allowed:
            problems.add(f"{prefix}unknown key {key!r} (allowed: {', '.join(allowed)})")
    for key, required in allowed.items():
        if required and key not in data:
            problems.add(f"{prefix}missing required key {key!r}")


def _text(value: Any, key: str, problems: Problems, *, pattern: re.Pattern | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        problems.add(f"{key} must be text, got {value!r}: {BOOLEAN_HINT}")
        return None
    if not isinstance(value, (str, int)):
        problems.add(f"{key} must be text, got {value!r}")
        return None
    text = str(value)
    if not text.strip():
        problems.add(f"{key} must not be empty")
        return None
    if pattern is not None and not pattern.match(text):
        problems.add(f"{key} {text!r} must match [a-z0-9][a-z0-9_]* (lower-case letters, digits, underscores)")
        return None
    return text


def _source_value(value: Any) -> str:
    """A source value as written in a ``values`` map, as the text the importer compares against.

    YAML turns ``true``/``1`` keys into bool/int; they are compared as text (``true``, ``1``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choice(value: Any, key: str, choices: tuple[str, ...], default: str, problems: Problems) -> str:
    if value is None:
        return default
    if value not in choices:
        problems.add(f"{key} is {value!r}; expected one of: {', '.join(choices)}")
        return default
    return value


def _variant_column(data: Any, key: str, problems: Problems) -> VariantColumn | None:
    if isinstance(data, str):  # shorthand: `assigned_variant: group`
        data = {"column": data}
    if not isinstance(data, dict):
        problems.add(f"{key} must be a mapping with 'column' and optional 'values', got {data!r}")
        return None
    _check_keys(data, VARIANT_KEYS, key, problems)
    column = _text(data.get("column"), f"{key}.column", problems)
    values_data = data.get("values")
    values: dict[str, str] | None = None
    if values_data is not None:
        if not isinstance(values_data, dict) or not values_data:
            problems.add(f"{key}.values must be a non-empty mapping of source value -> variant_id")
        else:
            values = {}
            for source_value, variant in values_data.items():
                if source_value is None:
                    problems.add(f"{key}.values: a source value is empty (null); quote it if it is text")
                    continue
                variant_id = _text(variant, f"{key}.values[{source_value!r}]", problems)
                if variant_id is None:
                    if variant is None:
                        problems.add(f"{key}.values[{source_value!r}] has no variant_id")
                    continue
                text = _source_value(source_value)
                if text in values and values[text] != variant_id:
                    problems.add(f"{key}.values maps {text!r} twice, to {values[text]!r} and {variant_id!r}")
                values[text] = variant_id
    if column is None:
        return None
    return VariantColumn(column=column, values=values)


def _variant_list(data: Any, problems: Problems) -> list[str]:
    if not isinstance(data, list) or len(data) < 2:
        problems.add(f"variants must be a list of at least two variant ids, got {data!r}")
        return []
    variants = [v for v in (_text(item, "variants entry", problems) for item in data) if v is not None]
    if len(set(variants)) != len(variants):
        problems.add(f"variants lists a variant twice: {variants}")
    return list(dict.fromkeys(variants))


def _split(data: Any, problems: Problems) -> dict[str, float]:
    if not isinstance(data, dict) or not data:
        problems.add("split must be a mapping variant_id -> planned weight, e.g. {control: 0.5, treatment: 0.5}")
        return {}
    split: dict[str, float] = {}
    for variant, weight in data.items():
        variant_id = _text(variant, "split variant", problems)
        if variant_id is None:
            continue
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            problems.add(f"split[{variant_id!r}] must be a number, got {weight!r}")
            continue
        if weight <= 0:
            problems.add(f"split[{variant_id!r}] must be positive, got {weight!r}")
            continue
        split[variant_id] = float(weight)
    if split and len(split) == len(data):
        total = sum(split.values())
        if abs(total - 1.0) > SPLIT_TOLERANCE:
            hint = " (write shares, e.g. 0.5, not percentages)" if abs(total - 100) < 1e-6 else ""
            problems.add(f"split weights sum to {total:g}, not 1{hint}")
    if len(split) == 1:
        problems.add("split must name at least two variants")
    return split


def _outcomes(data: Any, problems: Problems) -> tuple[Outcome, ...]:
    if not isinstance(data, list) or not data:
        problems.add("outcomes must be a non-empty list (at least one outcome)")
        return ()
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    for index, item in enumerate(data, start=1):
        where = f"outcomes[{index}]"
        if not isinstance(item, dict):
            problems.add(f"{where} must be a mapping with metric_id, column and type, got {item!r}")
            continue
        if isinstance(item.get("metric_id"), str):
            where = f"outcomes[{index}] ({item['metric_id']})"
        before = len(problems.items)
        _check_keys(item, OUTCOME_KEYS, where, problems)
        metric_id = _text(item.get("metric_id"), f"{where}.metric_id", problems, pattern=ID_PATTERN)
        column = _text(item.get("column"), f"{where}.column", problems)
        type_ = _choice(item.get("type"), f"{where}.type", OUTCOME_TYPES, "binary", problems)
        direction = _choice(item.get("direction"), f"{where}.direction", DIRECTIONS, "increase", problems)
        role = _choice(item.get("role"), f"{where}.role", ROLES, "secondary", problems)
        on_null = _choice(item.get("on_null"), f"{where}.on_null", ON_NULL, "error", problems)
        denominator = _text(item.get("denominator"), f"{where}.denominator", problems)
        among = _text(item.get("among"), f"{where}.among", problems)
        if denominator is not None and among is not None:
            problems.add(f"{where}: give denominator (a ratio metric) or among (a conditional metric), not both")
        margin = item.get("margin")
        if margin is not None:
            if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 < margin < 1:
                problems.add(
                    f"{where}.margin must be a fraction between 0 and 1 (0.02 = 2% of control), got {margin!r}"
                )
                margin = None
            elif role != "guardrail":
                problems.add(f"{where}.margin is a non-inferiority margin: set role: guardrail (role is {role!r})")
                margin = None
            else:
                margin = float(margin)
        description = item.get("description")
        if description is not None and not isinstance(description, str):
            problems.add(f"{where}.description must be text")
            description = None
        if metric_id is not None:
            if metric_id in seen:
                problems.add(f"metric_id {metric_id!r} appears in more than one outcome")
            seen.add(metric_id)
        if len(problems.items) == before and metric_id and column:
            outcomes.append(
                Outcome(
                    metric_id,
                    column,
                    type_,
                    direction,
                    role,
                    description.strip() if description else None,
                    on_null,
                    margin,
                    denominator,
                    among,
                )
            )
    return tuple(outcomes)


def _planned_split(data: dict, assigned: VariantColumn | None, problems: Problems) -> tuple[dict[str, float], str]:
    """The split and how it is known. ``split: equal`` is an assumed equal split; no split is unknown (the
    sample-ratio test is then not run). Without a declared split the variants come from ``variants`` or
    the targets of ``assigned_variant.values``; the weights written are equal placeholders."""
    raw = data.get("split")
    if isinstance(raw, dict):
        if "variants" in data:
            problems.add("give either split (with weights) or variants, not both")
        return _split(raw, problems), "declared"
    if raw is not None and raw != "equal":
        problems.add(f"split must be a mapping variant_id -> weight or the word equal, got {raw!r}")
        return {}, "declared"
    if "variants" in data:
        variants = _variant_list(data["variants"], problems)
    elif assigned is not None and assigned.values:
        variants = list(dict.fromkeys(assigned.values.values()))
    else:
        problems.add(
            "without a split, name the variants: variants: [control, treatment] (or map assigned_variant.values)"
        )
        return {}, "unknown"
    if len(variants) < 2:
        if "variants" not in data:
            problems.add("assigned_variant.values maps to fewer than two variants")
        return {}, "unknown"
    weight = 1.0 / len(variants)
    return {v: weight for v in variants}, ("assumed_equal" if raw == "equal" else "unknown")


SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _derive(data: Any, problems: Problems) -> tuple[tuple[str, str], ...]:
    if data is None:
        return ()
    if not isinstance(data, dict) or not data:
        problems.add(
            "derive must be a mapping new_column -> SQL expression, e.g. {answered: \"answer in ('yes', 'no')\"}"
        )
        return ()
    out = []
    for name, expression in data.items():
        if not isinstance(name, str) or not SQL_NAME.match(name):
            problems.add(
                f"derive: column name {name!r} must be letters, digits and underscores (not starting with a digit)"
            )
            continue
        text = _text(expression, f"derive.{name}", problems)
        if text is not None:
            out.append((name, text))
    return tuple(out)


def _segments(data: Any, problems: Problems) -> tuple[str, ...]:
    """``segments: [column, ...]``: the columns whose value per unit lands as a unit attribute."""
    if data is None:
        return ()
    if not isinstance(data, list):
        problems.add(f"segments must be a list of column names, e.g. segments: [country, device], got {data!r}")
        return ()
    columns = [c for c in (_text(item, f"segments[{i}]", problems) for i, item in enumerate(data, start=1)) if c]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        problems.add(f"segments lists a column twice: {', '.join(map(repr, repeated))}")
    return tuple(dict.fromkeys(columns))


def _analysis(data: Any, problems: Problems) -> tuple[float | None, int | None, str | None]:
    if data is None:
        return None, None, None
    if not isinstance(data, dict):
        problems.add(f"analysis must be a mapping with alpha, planned_sample_size, decision_estimator, got {data!r}")
        return None, None, None
    _check_keys(data, ANALYSIS_KEYS, "analysis", problems)
    alpha = data.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5):
        problems.add(f"analysis.alpha must be a number between 0 and 0.5 (e.g. 0.05), got {alpha!r}")
        alpha = None
    size = data.get("planned_sample_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        problems.add(f"analysis.planned_sample_size must be a whole number of units >= 2 (all variants), got {size!r}")
        size = None
    estimator = data.get("decision_estimator")
    if estimator is not None:
        estimator = _choice(estimator, "analysis.decision_estimator", DECISION_ESTIMATORS, None, problems)
    return (float(alpha) if alpha is not None else None), size, estimator


def parse_mapping(data: Any, source: str = "<mapping>") -> Mapping:
    """Validate a mapping already parsed from YAML; ``source`` names it in error messages."""
    problems = Problems(f"mapping {source}")
    if not isinstance(data, dict):
        raise UsageError(
            f"mapping {source}: expected a YAML mapping of keys (experiment_id, unit_id, ...), "
            f"got {type(data).__name__}"
        )
    _check_keys(data, TOP_KEYS, "", problems)

    experiment_id = _text(data.get("experiment_id"), "experiment_id", problems, pattern=ID_PATTERN)
    version = data.get("experiment_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= INT32_MAX:
        problems.add(f"experiment_version must be a whole number >= 1, got {version!r}")
        version = 1
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        problems.add(f"name must be text, got {name!r}")
        name = None
    unit_id = _text(data.get("unit_id"), "unit_id", problems)
    assigned = (
        _variant_column(data["assigned_variant"], "assigned_variant", problems) if "assigned_variant" in data else None
    )
    exposed = (
        _variant_column(data["exposed_variant"], "exposed_variant", problems)
        if data.get("exposed_variant") is not None
        else None
    )
    timestamp = _text(data.get("timestamp"), "timestamp", problems)
    control = _text(data.get("control"), "control", problems)
    outcomes = _outcomes(data["outcomes"], problems) if "outcomes" in data else ()
    split, planned_split = _planned_split(data, assigned, problems)
    derive = _derive(data.get("derive"), problems)
    where = None
    if data.get("where") is not None:
        where = _text(data["where"], "where", problems)
    several_variants = _choice(data.get("several_variants"), "several_variants", SEVERAL_VARIANTS, "exclude", problems)
    if several_variants == "drop_mismatched_rows" and exposed is None and "several_variants" in data:
        problems.add("several_variants: drop_mismatched_rows needs an exposed_variant column to compare with")
    alpha, planned_sample_size, decision_estimator = _analysis(data.get("analysis"), problems)
    segments = _segments(data.get("segments"), problems)

    # Cross-checks: the variants are the keys of `split`.
    if split:
        if control is not None and control not in split:
            problems.add(f"control {control!r} is not among the variants of split ({', '.join(split)})")
        for key, var in (("assigned_variant", assigned), ("exposed_variant", exposed)):
            if var is None or var.values is None:
                continue
            for source_value, variant_id in var.values.items():
                if variant_id not in split:
                    problems.add(
                        f"{key}.values maps {source_value!r} to {variant_id!r}, "
                        f"which is not a variant of split ({', '.join(split)})"
                    )
        if assigned is not None and assigned.values is not None:
            targets = set(assigned.values.values())
            for variant_id in split:
                if variant_id not in targets:
                    problems.add(f"split variant {variant_id!r} is not the target of any assigned_variant.values entry")
    problems.raise_if_any()
    assert experiment_id and unit_id and assigned and control  # guaranteed by the checks above
    return Mapping(
        experiment_id=experiment_id,
        experiment_version=version,
        name=name.strip() if name and name.strip() else None,
        unit_id=unit_id,
        assigned_variant=assigned,
        exposed_variant=exposed,
        timestamp=timestamp,
        control=control,
        split=split,
        outcomes=outcomes,
        source=source,
        planned_split=planned_split,
        derive=derive,
        where=where,
        several_variants=several_variants,
        alpha=alpha,
        planned_sample_size=planned_sample_size,
        decision_estimator=decision_estimator,
        segments=segments,
    )


#: The kinds of mapping file: a unit-level export (the default) or per-arm aggregates (readout.importer.aggregates).
MAPPING_KINDS = ("units", "summary")


def load_mapping_document(path: str | Path) -> tuple[str, Any]:
    """Read a mapping YAML file: its ``kind`` (units, the default, or summary) and its data, ``kind`` removed.

    ``readout import`` (readout.importer.load_import_mapping) validates the data by kind: :func:`parse_mapping`
    for units, readout.importer.aggregates.parse_summary_mapping for summary."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        return "units", data  # parse_mapping names the problem
    kind = data.get("kind", "units")
    if kind not in MAPPING_KINDS:
        raise UsageError(f"mapping {path}: kind is {kind!r}; expected units (the default) or summary")
    return kind, {k: v for k, v in data.items() if k != "kind"}


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a unit-level mapping YAML file (readout.importer.load_import_mapping reads either kind)."""
    kind, data = load_mapping_document(path)
    if kind != "units":
        raise UsageError(
            f"mapping {path}: kind: {kind} (per-arm aggregates) is read by readout.importer.load_import_mapping, "
            "not as a unit-level mapping"
        )
    return parse_mapping(data, source=str(path))
