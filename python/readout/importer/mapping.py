"""The mapping file of ``readout import``: which columns of a unit-level export mean what.

A mapping is a small YAML file (see ``mappings/`` for examples and the README section "Analyse your
own export" for the reference). :func:`load_mapping` reads and validates one and returns a
:class:`Mapping`; every problem is reported as a :class:`readout.cli.UsageError` that names the key,
and all problems of one file are reported together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from readout.cli import UsageError
from readout.yamlschema import (
    BOOLEAN_HINT,  # noqa: F401 - re-exported for readout.importer.transform
    StrictModel,
    Text,
    as_text,
    data_key,
    describe_yaml_error,
    format_validation_error,
    located,
    matching,
    number,
    parse_yaml,
    problem,
)

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


# ------------------------------------------------------------------------------------------- schema
# The YAML shape of a unit-level mapping as pydantic models (readout.yamlschema): types, choices, required
# and unknown keys are declared; the checks across keys are in MappingSpec.check. Every problem of a file is
# reported together, one line each naming the key's path (list positions from 1), the value and the fix.
MAX_PROBLEMS_LISTED = 10
SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Id = matching(ID_PATTERN.pattern, "must match [a-z0-9][a-z0-9_]* (lower-case letters, digits, underscores)")


Version = number("a whole number >= 1", lambda v: 1 <= v <= INT32_MAX, whole=True)
Margin = number("a fraction between 0 and 1 (0.02 = 2% of control)", lambda v: 0 < v < 1)
Alpha = number("a number between 0 and 0.5 (e.g. 0.05)", lambda v: 0 < v < 0.5)
SampleSize = number("a whole number of units >= 2 (all variants)", lambda v: v >= 2, whole=True)


def _source_value(value: Any) -> str:
    """A source value as written in a ``values`` map, as the text the importer compares against.

    YAML turns ``true``/``1`` keys into bool/int; they are compared as text (``true``, ``1``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _values(data: Any) -> Any:
    """``values: {source value: variant_id}``, the source values as the text the importer compares."""
    if not isinstance(data, dict) or not data:
        raise problem(f"must be a non-empty mapping of source value -> variant_id, got {data!r}")
    values: dict[str, str] = {}
    found: list[tuple[tuple, str]] = []
    for source_value, variant in data.items():
        if source_value is None:
            found.append(((), ": a source value is empty (null); quote it if it is text"))
            continue
        if variant is None:
            found.append(((data_key(source_value),), "has no variant_id"))
            continue
        try:
            variant_id = as_text(variant)
        except PydanticCustomError as exc:
            found.append(((data_key(source_value),), exc.message()))
            continue
        text = _source_value(source_value)
        if values.get(text, variant_id) != variant_id:
            found.append(((), f"maps {text!r} twice, to {values[text]!r} and {variant_id!r}"))
        values[text] = variant_id
    if found:
        raise located(found)
    return values


def _column_shorthand(data: Any) -> Any:
    if isinstance(data, str):  # `assigned_variant: group`
        return {"column": data}
    return data


class VariantColumnSpec(StrictModel):
    column: Text
    values: Annotated[dict[str, str], BeforeValidator(_values)] | None = None


VariantSpec = Annotated[VariantColumnSpec, BeforeValidator(_column_shorthand)]


class OutcomeSpec(StrictModel):
    label_key = "metric_id"
    metric_id: Id
    column: Text
    type: Literal[OUTCOME_TYPES]
    direction: Literal[DIRECTIONS] = "increase"
    role: Literal[ROLES] = "secondary"
    description: str | None = None
    on_null: Literal[ON_NULL] = "error"
    margin: Margin | None = None  # guardrails: a fraction of the control mean
    denominator: Text | None = None
    among: Text | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.denominator is not None and self.among is not None:
            yield (), "give denominator (a ratio metric) or among (a conditional metric), not both"
        if self.margin is not None and self.role != "guardrail":
            yield ("margin",), f"is a non-inferiority margin: set role: guardrail (role is {self.role!r})"

    def outcome(self) -> Outcome:
        description = self.description.strip() if self.description else None
        return Outcome(**{**self.model_dump(), "description": description or None})


def _weights(data: Any) -> Any:
    """``split: {variant_id: weight}``: positive weights (their sum is checked with the other keys)."""
    if not isinstance(data, dict) or not data:
        raise problem("must be a mapping variant_id -> planned weight, e.g. {control: 0.5, treatment: 0.5}")
    found = []
    for variant, weight in data.items():
        here = (data_key(variant),)
        try:
            as_text(variant)
        except PydanticCustomError as exc:
            found.append((here, f"(the variant) {exc.message()}"))
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            found.append((here, f"must be a number, got {weight!r}"))
        elif weight <= 0:
            found.append((here, f"must be positive, got {weight!r}"))
    if found:
        raise located(found)
    return {str(variant): float(weight) for variant, weight in data.items()}


def _split_field(data: Any) -> Any:
    if data is None or data == "equal":
        return data
    if isinstance(data, dict):
        return _weights(data)
    raise problem(f"must be a mapping variant_id -> weight or the word equal, got {data!r}")


def _split_problems(split: dict[str, float]) -> Iterable[tuple[tuple, str]]:
    total = sum(split.values())
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        hint = " (write shares, e.g. 0.5, not percentages)" if abs(total - 100) < 1e-6 else ""
        yield ("split",), f"weights sum to {total:g}, not 1{hint}"
    if len(split) == 1:
        yield ("split",), "must name at least two variants"


def _variant_list(data: Any) -> Any:
    if not isinstance(data, list) or len(data) < 2:
        raise problem(f"must be a list of at least two variant ids, got {data!r}")
    return data


def _no_repeats(what: str) -> Any:
    def check(items: list[str]) -> list[str]:
        repeated = sorted({item for item in items if items.count(item) > 1})
        if repeated:
            raise problem(f"lists {what} twice: {', '.join(map(repr, repeated))}")
        return items

    return AfterValidator(check)


def _segments(data: Any) -> Any:
    if not isinstance(data, list):
        raise problem(f"must be a list of column names, e.g. segments: [country, device], got {data!r}")
    return data


def _derive(data: Any) -> Any:
    if not isinstance(data, dict) or not data:
        raise problem("must be a mapping new_column -> SQL expression, e.g. {answered: \"answer in ('yes', 'no')\"}")
    bad = [name for name in data if not isinstance(name, str) or not SQL_NAME.match(name)]
    if bad:
        raise located(
            ((data_key(name),), "is not a column name: use letters, digits and underscores (not starting with a digit)")
            for name in bad
        )
    return data


class AnalysisSpec(StrictModel):
    alpha: Alpha | None = None
    planned_sample_size: SampleSize | None = None
    decision_estimator: Literal[DECISION_ESTIMATORS] | None = None


class MappingSpec(StrictModel):
    experiment_id: Id
    experiment_version: Version = 1
    name: str | None = None
    unit_id: Text
    assigned_variant: VariantSpec
    exposed_variant: VariantSpec | None = None
    timestamp: Text | None = None
    control: Text
    split: Annotated[Any, BeforeValidator(_split_field)] = None  # {variant_id: weight} | "equal" | None
    variants: Annotated[list[Text] | None, BeforeValidator(_variant_list), _no_repeats("a variant")] = None
    outcomes: Annotated[list[OutcomeSpec], Field(min_length=1)]
    derive: Annotated[dict[str, Text], BeforeValidator(_derive)] | None = None
    where: Text | None = None
    several_variants: Literal[SEVERAL_VARIANTS] = "exclude"
    analysis: AnalysisSpec | None = None
    kind: Literal["units"] = "units"  # readout.importer.aggregates reads kind: summary
    segments: Annotated[list[Text], BeforeValidator(_segments), _no_repeats("a column")] | None = None

    def planned_split(self) -> tuple[dict[str, float], str, list[tuple[tuple, str]]]:
        """(split, how it is known, problems). ``split: equal`` is an assumed equal split; no split is unknown
        (the sample-ratio test is then not run). Without a declared split the variants come from ``variants``
        or the targets of ``assigned_variant.values``; the weights written are equal placeholders."""
        if isinstance(self.split, dict):
            found = list(_split_problems(self.split))
            if self.variants is not None:
                found.append(((), "give either split (with weights) or variants, not both"))
            return self.split, "declared", found
        if self.variants is not None:
            variants = self.variants
        elif self.assigned_variant.values:
            variants = list(dict.fromkeys(self.assigned_variant.values.values()))
            if len(variants) < 2:
                return {}, "unknown", [(("assigned_variant", "values"), "maps to fewer than two variants")]
        else:
            return (
                {},
                "unknown",
                [
                    (
                        (),
                        "without a split, name the variants: variants: [control, treatment] "
                        "(or map assigned_variant.values)",
                    )
                ],
            )
        weight = 1.0 / len(variants)
        return {v: weight for v in variants}, ("assumed_equal" if self.split == "equal" else "unknown"), []

    def check(self) -> Iterable[tuple[tuple, str]]:
        split, _, found = self.planned_split()
        yield from found
        if self.several_variants == "drop_mismatched_rows" and self.exposed_variant is None:
            yield ("several_variants",), ": drop_mismatched_rows needs an exposed_variant column to compare with"
        ids = [outcome.metric_id for outcome in self.outcomes]
        for metric_id in sorted({m for m in ids if ids.count(m) > 1}):
            yield (), f"metric_id {metric_id!r} appears in more than one outcome"
        if not split:
            return
        variants = ", ".join(split)
        if self.control not in split:
            yield ("control",), f"{self.control!r} is not among the variants of split ({variants})"
        for key in ("assigned_variant", "exposed_variant"):
            for source_value, variant_id in (getattr(self, key) and getattr(self, key).values or {}).items():
                if variant_id not in split:
                    yield (
                        (key, "values"),
                        f"maps {source_value!r} to {variant_id!r}, which is not a variant of split ({variants})",
                    )
        if self.assigned_variant.values is not None:
            targets = set(self.assigned_variant.values.values())
            for variant_id in split:
                if variant_id not in targets:
                    yield (), f"split variant {variant_id!r} is not the target of any assigned_variant.values entry"

    def mapping(self, source: str) -> Mapping:
        split, planned_split, _ = self.planned_split()
        analysis = self.analysis or AnalysisSpec()
        variant = lambda spec: spec and VariantColumn(spec.column, spec.values)  # noqa: E731
        return Mapping(
            experiment_id=self.experiment_id,
            experiment_version=self.experiment_version,
            name=self.name.strip() if self.name and self.name.strip() else None,
            unit_id=self.unit_id,
            assigned_variant=variant(self.assigned_variant),
            exposed_variant=variant(self.exposed_variant),
            timestamp=self.timestamp,
            control=self.control,
            split=split,
            outcomes=tuple(outcome.outcome() for outcome in self.outcomes),
            source=source,
            planned_split=planned_split,
            derive=tuple((self.derive or {}).items()),
            where=self.where,
            several_variants=self.several_variants,
            alpha=analysis.alpha,
            planned_sample_size=analysis.planned_sample_size,
            decision_estimator=analysis.decision_estimator,
            segments=tuple(self.segments or ()),
        )


def parse_mapping(data: Any, source: str = "<mapping>") -> Mapping:
    """Validate a mapping already parsed from YAML; ``source`` names it in error messages."""
    if not isinstance(data, dict):
        raise UsageError(
            f"mapping {source}: expected a YAML mapping of keys (experiment_id, unit_id, ...), "
            f"got {type(data).__name__}"
        )
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as err:
        raise UsageError(format_validation_error(err, source=f"mapping {source}")) from None
    return spec.mapping(source)


# ------------------------------------------------------------------------------------------ YAML
#: The kinds of mapping file: a unit-level export (the default) or per-arm aggregates (readout.importer.aggregates).
MAPPING_KINDS = ("units", "summary")


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
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"mapping {path}: {describe_yaml_error(exc)}") from None


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


# ------------------------------------------------------ problems of an export's data (readout.importer.transform)
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
