"""Data contracts as files: ``contracts/<table>.yml``, one per guarded table.

A contract is the single place a guarded table's promises are written down: owner, schema versions,
freshness SLA, late-data / replay / null / deduplication policies, materiality thresholds, the
metrics it feeds (with their business definitions) and the expectations that enforce it. The Great
Expectations suites under ``contracts/gx/`` are generated from these files (``readout contracts
generate``); nothing else defines them.

This module only parses and checks the YAML (declared as pydantic models, see readout.yamlschema); it does
not import Great Expectations.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationError

from readout.yamlschema import (
    Number,
    NumberKeys,
    Share,
    StrictModel,
    Text,
    describe_yaml_error,
    format_validation_error,
    matching,
    parse_yaml,
    problem,
)

CONTRACTS_ENV = "READOUT_CONTRACTS_DIR"
STAGES = ("raw", "marts")
LEVELS = ("row", "table")
SEVERITIES = ("warning", "error")
COUNT_METHODS = ("rows", "duplicates", "extra_variants")
#: landing files: immutable (append-only batches, each validated once and remembered) or a snapshot
#: (rewritten in place, validated whole on every run)
LANDING_FILES = ("immutable", "snapshot")
#: Logical column types: Arrow names for landing files, DuckDB names for warehouse tables.
LANDING_TYPES = ("string", "int32", "int64", "double", "bool", "timestamp[us]")
WAREHOUSE_TYPES = ("varchar", "integer", "bigint", "double", "boolean", "timestamp", "date")
PERIOD_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}
_RULE = re.compile(r"^[a-z][a-z0-9_.]*$")


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the offending key."""


@dataclass(frozen=True)
class Rule:
    """One expectation of a contract, with what a failure means.

    ``level`` row: a failing row is counted (and, with ``quarantine_reason``, quarantined by staging);
    the rule warns above ``warn_above`` and is an error above ``error_above`` (shares of a partition).
    ``level`` table: any failure is a contract-level breach of ``severity``.
    """

    rule: str
    expect: str
    kwargs: dict[str, Any]
    level: str
    says: str
    description: str = ""
    severity: str = "error"
    quarantine_reason: str | None = None
    warn_above: float | None = None
    error_above: float | None = None
    count: str = "rows"
    count_key: tuple[str, ...] = ()
    count_value: str | None = None
    on_error: str | None = None
    on_warning: str | None = None
    detail: str | None = None
    unit: str = "rows"
    where: dict | None = None  #: only rows meeting this condition are checked (and counted in the share)


@dataclass(frozen=True)
class View:
    """A derived relation validated with its own suite (an aggregate check over the warehouse)."""

    name: str
    description: str
    sql: str
    partition_by: tuple[str, ...]
    rules: tuple[Rule, ...]
    unit: str = "rows"


@dataclass(frozen=True)
class Freshness:
    column: str
    loaded_at_field: str
    warn_after_hours: float
    error_after_hours: float
    raw: dict


@dataclass(frozen=True)
class Contract:
    name: str
    path: Path
    title: str
    owner: dict
    stage: str
    source: dict
    schema_versions: dict[int, dict[str, str]]
    version_column: str | None
    renames: dict[int, dict[str, str]]
    freshness: Freshness | None
    materiality: dict
    partition_by: tuple[str, ...]
    feeds: dict
    derived_columns: dict[str, str]
    rules: tuple[Rule, ...]
    views: tuple[View, ...]
    actions: dict
    tolerances: dict
    data: dict = field(repr=False)

    @property
    def owner_team(self) -> str:
        return str(self.owner.get("team", "the owner"))

    @property
    def is_landing(self) -> bool:
        return self.source.get("kind") == "landing"

    @property
    def relation(self) -> str | None:
        return self.source.get("relation")

    @property
    def landing_folder(self) -> str | None:
        return self.source.get("folder")

    def columns(self, version: int) -> dict[str, str]:
        return self.schema_versions[version]

    @property
    def first_version(self) -> int:
        return min(self.schema_versions)


# ----------------------------------------------------------------------------------------- location
def repo_root() -> Path:
    """The repository this package is installed from (editable install), used as a last resort."""
    return Path(__file__).resolve().parents[3]


def contracts_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit``, else ``$READOUT_CONTRACTS_DIR``, else ``./contracts``, else the repository's."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get(CONTRACTS_ENV):
        path = Path(os.environ[CONTRACTS_ENV])
    elif (Path.cwd() / "contracts").is_dir() and any((Path.cwd() / "contracts").glob("*.yml")):
        path = Path.cwd() / "contracts"
    else:
        path = repo_root() / "contracts"
    if not path.is_dir():
        raise FileNotFoundError(f"contracts folder {path} not found (pass --contracts-dir or set {CONTRACTS_ENV})")
    return path


def suites_dir(contracts: Path) -> Path:
    return contracts / "gx"


# ------------------------------------------------------------------------------------------- schema
# The YAML shape of a contract as pydantic models (readout.yamlschema): types, choices, required and unknown
# keys are declared; the checks across keys are in each model's ``check``. Messages name the file, the key's
# path (list positions from 1), the value and the fix.
Name = matching(r"^[a-z][a-z0-9_]*$", "must be lower_snake_case")
NonEmptyList = Annotated[list[Text], Field(min_length=1)]
WHERE_OPERATORS = ("in", "not_in", "==", "!=", "<", "<=", ">", ">=")
_COUNT_HELP = "'rows' or {method: duplicates|extra_variants, key: [column, ...], value: column (extra_variants)}"


def _condition(spec: Any) -> Any:
    """One ``where`` condition: null, not_null or ``{op: value, ...}`` with op in WHERE_OPERATORS."""
    if spec in ("null", "not_null"):
        return spec
    if isinstance(spec, dict) and spec and set(spec) <= set(WHERE_OPERATORS):
        for op in ("in", "not_in"):
            if op in spec and not isinstance(spec[op], list):
                raise problem(f"needs a list for {op}, got {spec[op]!r}")
        return spec
    raise problem(f"must be null, not_null or {{op: value}} with op one of {', '.join(WHERE_OPERATORS)}, got {spec!r}")


def _count(spec: Any) -> Any:
    if spec == "rows":
        return None
    if not isinstance(spec, dict):
        raise problem(f"must be {_COUNT_HELP}, got {spec!r}")
    return spec


class CountSpec(StrictModel):
    method: Literal["duplicates", "extra_variants"]
    key: NonEmptyList
    value: Text | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.method == "extra_variants" and not self.value:
            yield (), "missing required key 'value' (method extra_variants counts the distinct values of a column)"


class RuleSpec(StrictModel):
    """One entry of ``expectations``; ``for_columns`` makes it a template (``{column}`` in rule and says)."""

    label_key = "rule"
    rule: Text
    expect: Text
    says: Text
    kwargs: dict[Text, Any] | None = None
    level: Literal["row", "table"] = "row"
    description: Text | None = None
    severity: Literal["warning", "error"] = "error"
    quarantine_reason: Text | None = None
    warn_above: Share | None = None
    error_above: Share | None = None
    count: Annotated[CountSpec | None, BeforeValidator(_count)] = None
    on_error: Text | None = None
    on_warning: Text | None = None
    detail: Text | None = None
    unit: Text | None = None
    for_columns: NonEmptyList | None = None
    where: Annotated[dict[Text, Annotated[Any, BeforeValidator(_condition)]], Field(min_length=1)] | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        ids = [self.rule.replace("{column}", column) for column in self.for_columns or ()] or [self.rule]
        if self.for_columns and "{column}" not in self.rule:
            yield ("rule",), f"{self.rule!r} must contain {{column}} with for_columns (one rule per column)"
        elif not all(_RULE.match(rule) for rule in ids):
            yield ("rule",), f"{self.rule!r} must be lower_snake_case (dots allowed)"
        if not self.expect.startswith("expect_"):
            yield ("expect",), f"must name a Great Expectations expectation (expect_...), got {self.expect!r}"
        for key in ("row_condition", "condition_parser"):
            if key in (self.kwargs or {}):
                yield ("kwargs", key), "is not allowed: write the row condition as 'where' (e.g. where: {x: not_null})"

    def expand(self, defaults: dict, unit: str) -> list[Rule]:
        """The rules this entry writes, thresholds defaulting to the contract's materiality."""
        shares = {key: getattr(self, key) if key in self.model_fields_set else defaults[key] for key in defaults}
        columns: list[str | None] = list(self.for_columns) if self.for_columns else [None]
        return [
            Rule(
                rule=self.rule.replace("{column}", column) if column else self.rule,
                expect=self.expect,
                kwargs={**(self.kwargs or {}), "column": column} if column else dict(self.kwargs or {}),
                level=self.level,
                says=(self.says.replace("{column}", column) if column else self.says).strip(),
                description=(self.description or "").strip(),
                severity=self.severity,
                quarantine_reason=self.quarantine_reason,
                warn_above=shares["warn_above"],
                error_above=shares["error_above"],
                count=self.count.method if self.count else "rows",
                count_key=tuple(self.count.key) if self.count else (),
                count_value=self.count.value if self.count else None,
                on_error=self.on_error,
                on_warning=self.on_warning,
                detail=self.detail,
                unit=self.unit or unit,
                where=dict(self.where) if self.where else None,
            )
            for column in columns
        ]


Rules = Annotated[list[RuleSpec], Field(min_length=1)]


class ViewSpec(StrictModel):
    label_key = "name"
    name: Name
    description: Text
    sql: Text
    partition_by: list[Text] = []
    unit: Text = "rows"
    expectations: Rules


class VersionSpec(StrictModel):
    columns: Annotated[dict[Text, Text], Field(min_length=1)] | None = None
    renames: dict[Text, Text] | None = None
    based_on: int | None = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.columns is None and self.renames is None:
            yield (), "needs 'columns' (column: type) or 'renames' (old name: new name, from an earlier version)"


class SchemaSpec(StrictModel):
    versions: Annotated[dict[int, VersionSpec], Field(min_length=1), NumberKeys]
    version_column: Text | None = None

    def resolve(self, types: tuple[str, ...]) -> tuple[dict[int, dict[str, str]], dict[int, dict[str, str]], list]:
        """(columns by version, renames by version, problems): renames applied to the version they are based on."""
        columns_by_version: dict[int, dict[str, str]] = {}
        renames: dict[int, dict[str, str]] = {}
        problems: list[tuple[tuple, str]] = []
        for version in sorted(self.versions):
            spec, here = self.versions[version], ("versions", str(version))
            if spec.columns is not None:
                columns = dict(spec.columns)
            else:
                base = spec.based_on if spec.based_on is not None else min(columns_by_version, default=None)
                if base not in columns_by_version:
                    problems.append((here, ": renames need an earlier version with columns (based_on: N)"))
                    continue
                unknown = sorted(set(spec.renames or {}) - set(columns_by_version[base]))
                if unknown:
                    problems.append(
                        (
                            here + ("renames",),
                            f"names {', '.join(map(repr, unknown))}, which version {base} does not have",
                        )
                    )
                    continue
                columns = {(spec.renames or {}).get(n, n): t for n, t in columns_by_version[base].items()}
                renames[version] = dict(spec.renames or {})
            for name, type_ in (spec.columns or {}).items():  # a renamed version's types are its base's
                if type_ not in types:
                    problems.append((here + ("columns", name), f"has type {type_!r}; use one of {', '.join(types)}"))
            columns_by_version[version] = columns
            renames.setdefault(version, {})
        if len(self.versions) > 1 and not self.version_column:
            problems.append(
                (("version_column",), "is required with several schema versions (the column naming each row's)")
            )
        return columns_by_version, renames, problems


class SourceSpec(StrictModel):
    kind: Literal["landing", "warehouse"]
    folder: Text | None = None  # landing: <landing>/<folder>/**/*.parquet
    files: Literal[LANDING_FILES] = "snapshot"
    relation: Text | None = None  # warehouse: schema.table

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.kind == "landing" and self.folder is None:
            yield (), "missing required key 'folder' (a landing source's folder under the landing zone)"
        if self.kind == "warehouse" and not re.match(r"^[a-z_]+\.[a-z0-9_]+$", self.relation or ""):
            yield ("relation",), f"must be schema.table for a warehouse source, got {self.relation!r}"


class Owner(StrictModel):
    team: Text
    contact: Text | None = None
    producers: Text | None = None
    escalation: Text | None = None


class Policies(StrictModel):
    nulls: Text
    deduplication: Text
    late_data: Text
    replay: Text


class Materiality(StrictModel):
    warn_above: Share | None = 0.0
    error_above: Share | None = 0.01
    quarantined_share_error_above: Share | None = None
    partition_by: list[Text] = []


class Period(StrictModel):
    count: Annotated[int, Field(gt=0)]
    period: Literal[tuple(PERIOD_HOURS)]

    @property
    def hours(self) -> float:
        return self.count * PERIOD_HOURS[self.period]


class FreshnessSpec(StrictModel):
    column: Text
    loaded_at_field: Text
    warn_after: Period
    error_after: Period

    def check(self) -> Iterable[tuple[tuple, str]]:
        if self.warn_after.hours > self.error_after.hours:
            yield ("warn_after",), "must not exceed error_after"


class Actions(StrictModel):
    error: Text | None = None
    warning: Text | None = None


class FedMetric(StrictModel):
    definition: Text
    events: list[Text] = []  # the events whose failing rows move this metric


def _fed_metric(spec: Any) -> Any:
    return {"definition": spec} if isinstance(spec, str) else spec  # the definition alone


class Feeds(StrictModel):
    readouts: Text | None = None
    metrics: dict[Text, Annotated[FedMetric, BeforeValidator(_fed_metric)]] | None = None


class ContractSpec(StrictModel):
    contract: Name
    title: Text
    contract_version: int | None = None
    owner: Owner
    stage: Literal[STAGES]
    source: SourceSpec
    grain: Text
    unit: Text = "rows"
    schema_: SchemaSpec = Field(alias="schema")
    freshness: FreshnessSpec | None = None
    policies: Policies
    materiality: Materiality
    actions: Actions | None = None
    feeds: Feeds
    derived_columns: dict[Text, Text] | None = None  # name: SQL expression
    tolerances: dict[Text, Number] | None = None
    expectations: Rules
    views: list[ViewSpec] | None = None

    @property
    def defaults(self) -> dict:
        return {"warn_above": self.materiality.warn_above, "error_above": self.materiality.error_above}

    def check(self) -> Iterable[tuple[tuple, str]]:
        types = LANDING_TYPES if self.source.kind == "landing" else WAREHOUSE_TYPES
        for loc, message in self.schema_.resolve(types)[2]:
            yield ("schema", *loc), message
        lists = [(("expectations",), self.expectations, self.unit)]
        lists += [
            (("views", i, f"({v.name})", "expectations"), v.expectations, v.unit)
            for i, v in enumerate(self.views or [])
        ]
        for where, specs, unit in lists:
            seen: set[str] = set()
            for i, spec in enumerate(specs):
                for rule in spec.expand(self.defaults, unit):
                    here = (*where, i, f"({spec.rule})")
                    if rule.rule in seen:
                        yield here, f": rule id {rule.rule!r} is used twice"
                    seen.add(rule.rule)
                    if rule.level == "row" and None not in (rule.warn_above, rule.error_above):
                        if rule.warn_above > rule.error_above:
                            yield here, f": warn_above {rule.warn_above} is above error_above {rule.error_above}"


def parse_contract(data: Any, path: Path) -> Contract:
    where = path.name
    if not isinstance(data, dict):
        raise ContractError(f"{where}: a contract must be a YAML mapping")
    try:
        spec = ContractSpec.model_validate(data)
    except ValidationError as err:
        raise ContractError(format_validation_error(err, source=where)) from None
    if spec.contract != path.stem:
        raise ContractError(f"{where}: contract name {spec.contract!r} must match the file name {path.stem!r}")
    types = LANDING_TYPES if spec.source.kind == "landing" else WAREHOUSE_TYPES
    schema_versions, renames, _ = spec.schema_.resolve(types)
    freshness = None
    if spec.freshness is not None:
        freshness = Freshness(
            column=spec.freshness.column,
            loaded_at_field=spec.freshness.loaded_at_field,
            warn_after_hours=spec.freshness.warn_after.hours,
            error_after_hours=spec.freshness.error_after.hours,
            raw=dict(data["freshness"]),
        )
    views = tuple(
        View(
            name=view.name,
            description=view.description.strip(),
            sql=view.sql,
            partition_by=tuple(view.partition_by),
            rules=tuple(rule for one in view.expectations for rule in one.expand(spec.defaults, view.unit)),
            unit=view.unit,
        )
        for view in spec.views or ()
    )
    return Contract(
        name=spec.contract,
        path=path,
        title=spec.title,
        owner=data["owner"],
        stage=spec.stage,
        source=data["source"],
        schema_versions=schema_versions,
        version_column=spec.schema_.version_column,
        renames=renames,
        freshness=freshness,
        materiality=data["materiality"],
        partition_by=tuple(spec.materiality.partition_by),
        feeds=data["feeds"],
        derived_columns=dict(spec.derived_columns or {}),
        rules=tuple(rule for one in spec.expectations for rule in one.expand(spec.defaults, spec.unit)),
        views=views,
        actions=data.get("actions") or {},
        tolerances=dict(data.get("tolerances") or {}),
        data=data,
    )


def load_contract(path: str | os.PathLike) -> Contract:
    path = Path(path)
    try:
        data = parse_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ContractError(f"{path.name}: {describe_yaml_error(exc)}") from None
    return parse_contract(data, path)


def load_contracts(directory: str | os.PathLike | None = None) -> dict[str, Contract]:
    """Every ``*.yml`` contract of the folder, by name (sorted)."""
    folder = contracts_dir(directory)
    paths = sorted(folder.glob("*.yml"))
    if not paths:
        raise FileNotFoundError(f"no contract files (*.yml) in {folder}")
    return {contract.name: contract for contract in map(load_contract, paths)}


def select(contracts: dict[str, Contract], names: list[str] | None = None, stage: str | None = None) -> list[Contract]:
    """Contracts by name and/or stage; an unknown name is a one-line error."""
    if names:
        unknown = [n for n in names if n not in contracts]
        if unknown:
            raise ValueError(f"unknown contract {', '.join(map(repr, unknown))}; known: {', '.join(contracts)}")
        chosen = [contracts[n] for n in names]
    else:
        chosen = list(contracts.values())
    if stage and stage != "all":
        chosen = [c for c in chosen if c.stage == stage]
    return chosen


# ---------------------------------------------------------------------------------------- freshness
def freshness_thresholds(contract: str = "raw_events", directory: str | os.PathLike | None = None) -> dict[str, Any]:
    """The contract's freshness SLA in dbt's source-freshness shape, e.g.
    ``{'loaded_at_field': 'cast(received_at as timestamptz)', 'freshness': {'warn_after': {'count': 6,
    'period': 'hour'}, 'error_after': {'count': 24, 'period': 'hour'}}}``."""
    contracts = load_contracts(directory)
    if contract not in contracts:
        raise ValueError(f"unknown contract {contract!r}; known: {', '.join(contracts)}")
    spec = contracts[contract].freshness
    if spec is None:
        raise ValueError(f"contract {contract!r} has no freshness SLA")
    return {
        "loaded_at_field": spec.loaded_at_field,
        "freshness": {"warn_after": dict(spec.raw["warn_after"]), "error_after": dict(spec.raw["error_after"])},
    }
