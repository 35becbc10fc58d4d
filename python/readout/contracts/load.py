"""Data contracts as files: ``contracts/<table>.yml``, one per guarded table.

A contract is the single place a guarded table's promises are written down: owner, schema versions,
freshness SLA, late-data / replay / null / deduplication policies, materiality thresholds, the
metrics it feeds (with their business definitions) and the expectations that enforce it. The Great
Expectations suites under ``contracts/gx/`` are generated from these files (``readout contracts
generate``); nothing else defines them.

This module only parses and checks the YAML; it does not import Great Expectations.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
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


# ------------------------------------------------------------------------------------------ parsing
def _need(data: dict, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if key not in data or data[key] is None:
        raise ContractError(f"{where}: missing required key {key!r}")
    value = data[key]
    if kind is not object and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ContractError(f"{where}: {key!r} must be a {names}, got {type(value).__name__}")
    return value


def _share(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ContractError(f"{where}: must be a share between 0 and 1, got {value!r}")
    return float(value)


def _hours(spec: Any, where: str) -> float:
    if not isinstance(spec, dict) or set(spec) != {"count", "period"}:
        raise ContractError(f"{where}: must be {{count: N, period: minute|hour|day}}")
    if spec["period"] not in PERIOD_HOURS or not isinstance(spec["count"], int) or spec["count"] <= 0:
        raise ContractError(f"{where}: must be {{count: N, period: minute|hour|day}} with N > 0, got {spec}")
    return spec["count"] * PERIOD_HOURS[spec["period"]]


_RULE_KEYS = {
    "rule",
    "expect",
    "kwargs",
    "level",
    "says",
    "description",
    "severity",
    "quarantine_reason",
    "warn_above",
    "error_above",
    "count",
    "on_error",
    "on_warning",
    "detail",
    "unit",
    "for_columns",
    "where",
}
WHERE_OPERATORS = ("in", "not_in", "==", "!=", "<", "<=", ">", ">=")


def _where(data: Any, where: str) -> dict | None:
    """``where: {column: not_null | null | {op: value, ...}, ...}`` (all must hold); op in WHERE_OPERATORS."""
    if data is None:
        return None
    if not isinstance(data, dict) or not data:
        raise ContractError(f"{where}: 'where' must map columns to conditions")
    for column, spec in data.items():
        if spec in ("null", "not_null"):
            continue
        if not isinstance(spec, dict) or not spec or not set(spec) <= set(WHERE_OPERATORS):
            raise ContractError(
                f"{where}: where.{column} must be null, not_null or {{op: value}} with op one of "
                f"{', '.join(WHERE_OPERATORS)}"
            )
        for op, value in spec.items():
            if op in ("in", "not_in") and not isinstance(value, list):
                raise ContractError(f"{where}: where.{column}.{op} needs a list")
    return dict(data)


def _rule(data: Any, where: str, defaults: dict, unit: str) -> Rule:
    if not isinstance(data, dict):
        raise ContractError(f"{where}: each expectation must be a mapping")
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rule = _need(data, "rule", where, str)
    if not _RULE.match(rule):
        raise ContractError(f"{where}: rule id {rule!r} must be lower_snake_case (dots allowed)")
    where = f"{where} ({rule})"
    expect = _need(data, "expect", where, str)
    if not expect.startswith("expect_"):
        raise ContractError(f"{where}: 'expect' must name a Great Expectations expectation, got {expect!r}")
    kwargs = data.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ContractError(f"{where}: 'kwargs' must be a mapping")
    if "row_condition" in kwargs or "condition_parser" in kwargs:
        raise ContractError(f"{where}: write the row condition as 'where', not kwargs.row_condition")
    level = data.get("level", "row")
    if level not in LEVELS:
        raise ContractError(f"{where}: level must be one of {', '.join(LEVELS)}, got {level!r}")
    severity = data.get("severity", "error")
    if severity not in SEVERITIES:
        raise ContractError(f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    count = data.get("count", "rows")
    count_key: tuple[str, ...] = ()
    count_value = None
    if isinstance(count, dict):
        method = count.get("method")
        count_key = tuple(count.get("key") or ())
        count_value = count.get("value")
        if method not in COUNT_METHODS or not count_key or (method == "extra_variants" and not count_value):
            raise ContractError(
                f"{where}: count must be 'rows' or {{method: duplicates|extra_variants, key: [...], "
                "value: column (extra_variants)}}"
            )
        count = method
    elif count != "rows":
        raise ContractError(f"{where}: count must be 'rows' or a mapping with method and key")
    warn_above = _share(data.get("warn_above", defaults.get("warn_above", 0.0)), f"{where}: warn_above")
    error_above = _share(data.get("error_above", defaults.get("error_above", 0.01)), f"{where}: error_above")
    if level == "row" and warn_above is not None and error_above is not None and warn_above > error_above:
        raise ContractError(f"{where}: warn_above {warn_above} is above error_above {error_above}")
    return Rule(
        rule=rule,
        expect=expect,
        kwargs=dict(kwargs),
        level=level,
        says=str(_need(data, "says", where, str)).strip(),
        description=str(data.get("description", "")).strip(),
        severity=severity,
        quarantine_reason=data.get("quarantine_reason"),
        warn_above=warn_above,
        error_above=error_above,
        count=count,
        count_key=count_key,
        count_value=count_value,
        on_error=data.get("on_error"),
        on_warning=data.get("on_warning"),
        detail=data.get("detail"),
        unit=str(data.get("unit", unit)),
        where=_where(data.get("where"), where),
    )


def _expand(item: Any, where: str) -> list[Any]:
    """``for_columns: [a, b]`` writes one expectation per column: ``{column}`` in rule and says, kwargs.column set."""
    if not isinstance(item, dict) or "for_columns" not in item:
        return [item]
    columns = item["for_columns"]
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise ContractError(f"{where}: for_columns must be a non-empty list of column names")
    if "{column}" not in str(item.get("rule", "")):
        raise ContractError(f"{where}: a for_columns rule id must contain {{column}}")
    expanded = []
    for column in columns:
        one = {k: v for k, v in item.items() if k != "for_columns"}
        one["rule"] = str(item["rule"]).replace("{column}", column)
        one["says"] = str(item.get("says", "")).replace("{column}", column)
        one["kwargs"] = {**(item.get("kwargs") or {}), "column": column}
        expanded.append(one)
    return expanded


def _rules(items: Any, where: str, defaults: dict, unit: str) -> tuple[Rule, ...]:
    if not isinstance(items, list) or not items:
        raise ContractError(f"{where}: must be a non-empty list")
    flat = [(i, one) for i, item in enumerate(items) for one in _expand(item, f"{where}[{i}]")]
    rules = tuple(_rule(item, f"{where}[{i}]", defaults, unit) for i, item in flat)
    seen: set[str] = set()
    for rule in rules:
        if rule.rule in seen:
            raise ContractError(f"{where}: rule id {rule.rule!r} is used twice")
        seen.add(rule.rule)
    return rules


def _schema(data: dict, where: str, landing: bool) -> tuple[dict[int, dict[str, str]], str | None, dict]:
    schema = _need(data, "schema", where, dict)
    versions = _need(schema, "versions", f"{where}: schema", dict)
    allowed = LANDING_TYPES if landing else WAREHOUSE_TYPES
    columns_by_version: dict[int, dict[str, str]] = {}
    renames: dict[int, dict[str, str]] = {}
    for version in sorted(versions, key=lambda v: int(v)):
        spec = versions[version]
        here = f"{where}: schema.versions.{version}"
        if not isinstance(spec, dict):
            raise ContractError(f"{here}: must be a mapping")
        if "columns" in spec:
            columns = spec["columns"]
            if not isinstance(columns, dict) or not columns:
                raise ContractError(f"{here}: columns must be a non-empty mapping of column: type")
        elif "renames" in spec:
            base = spec.get("based_on", min(columns_by_version) if columns_by_version else None)
            if base is None or int(base) not in columns_by_version:
                raise ContractError(f"{here}: renames need an earlier version with columns (based_on)")
            rename = spec["renames"]
            if not isinstance(rename, dict) or not set(rename) <= set(columns_by_version[int(base)]):
                raise ContractError(f"{here}: renames must map columns of version {base} to new names")
            columns = {rename.get(name, name): type_ for name, type_ in columns_by_version[int(base)].items()}
            renames[int(version)] = dict(rename)
        else:
            raise ContractError(f"{here}: needs 'columns' or 'renames'")
        for name, type_ in columns.items():
            if type_ not in allowed:
                raise ContractError(f"{here}: column {name!r} has type {type_!r}; use one of {', '.join(allowed)}")
        columns_by_version[int(version)] = dict(columns)
        renames.setdefault(int(version), {})
    version_column = schema.get("version_column")
    if len(columns_by_version) > 1 and not version_column:
        raise ContractError(f"{where}: schema.version_column is required with several versions")
    return columns_by_version, version_column, renames


def _tolerances(data: Any, where: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()
    ):
        raise ContractError(f"{where}: tolerances must map names to numbers")
    return dict(data)


def parse_contract(data: Any, path: Path) -> Contract:
    where = path.name
    if not isinstance(data, dict):
        raise ContractError(f"{where}: a contract must be a YAML mapping")
    name = _need(data, "contract", where, str)
    if name != path.stem:
        raise ContractError(f"{where}: contract name {name!r} must match the file name {path.stem!r}")
    if not _NAME.match(name):
        raise ContractError(f"{where}: contract name must be lower_snake_case")
    owner = _need(data, "owner", where, dict)
    _need(owner, "team", f"{where}: owner", str)
    stage = _need(data, "stage", where, str)
    if stage not in STAGES:
        raise ContractError(f"{where}: stage must be one of {', '.join(STAGES)}, got {stage!r}")
    source = _need(data, "source", where, dict)
    kind = source.get("kind")
    if kind == "landing":
        _need(source, "folder", f"{where}: source", str)
        if source.get("files", "snapshot") not in LANDING_FILES:
            raise ContractError(
                f"{where}: source.files must be one of {', '.join(LANDING_FILES)}, got {source.get('files')!r}"
            )
    elif kind == "warehouse":
        relation = _need(source, "relation", f"{where}: source", str)
        if not re.match(r"^[a-z_]+\.[a-z0-9_]+$", relation):
            raise ContractError(f"{where}: source.relation must be schema.table, got {relation!r}")
    else:
        raise ContractError(f"{where}: source.kind must be landing or warehouse, got {kind!r}")
    for key in ("title", "grain", "policies", "feeds"):
        _need(data, key, where)
    policies = _need(data, "policies", where, dict)
    for key in ("nulls", "deduplication", "late_data", "replay"):
        _need(policies, key, f"{where}: policies", str)
    schema_versions, version_column, renames = _schema(data, where, kind == "landing")
    materiality = _need(data, "materiality", where, dict)
    defaults = {"warn_above": materiality.get("warn_above", 0.0), "error_above": materiality.get("error_above", 0.01)}
    _share(defaults["warn_above"], f"{where}: materiality.warn_above")
    _share(defaults["error_above"], f"{where}: materiality.error_above")
    _share(materiality.get("quarantined_share_error_above"), f"{where}: materiality.quarantined_share_error_above")
    partition_by = tuple(materiality.get("partition_by") or ())
    freshness = None
    if data.get("freshness"):
        spec = data["freshness"]
        here = f"{where}: freshness"
        freshness = Freshness(
            column=_need(spec, "column", here, str),
            loaded_at_field=_need(spec, "loaded_at_field", here, str),
            warn_after_hours=_hours(spec.get("warn_after"), f"{here}.warn_after"),
            error_after_hours=_hours(spec.get("error_after"), f"{here}.error_after"),
            raw=dict(spec),
        )
        if freshness.warn_after_hours > freshness.error_after_hours:
            raise ContractError(f"{here}: warn_after must not exceed error_after")
    derived = data.get("derived_columns") or {}
    if not isinstance(derived, dict) or not all(isinstance(v, str) for v in derived.values()):
        raise ContractError(f"{where}: derived_columns must map column names to SQL expressions")
    unit = str(data.get("unit", "rows"))
    rules = _rules(data.get("expectations"), f"{where}: expectations", defaults, unit)
    views = []
    for i, view in enumerate(data.get("views") or []):
        here = f"{where}: views[{i}]"
        view_name = _need(view, "name", here, str)
        if not _NAME.match(view_name):
            raise ContractError(f"{here}: view name must be lower_snake_case")
        view_unit = str(view.get("unit", "rows"))
        views.append(
            View(
                name=view_name,
                description=str(_need(view, "description", here, str)).strip(),
                sql=_need(view, "sql", here, str),
                partition_by=tuple(view.get("partition_by") or ()),
                rules=_rules(view.get("expectations"), f"{here}.expectations", defaults, view_unit),
                unit=view_unit,
            )
        )
    actions = data.get("actions") or {}
    return Contract(
        name=name,
        path=path,
        title=str(data["title"]),
        owner=owner,
        stage=stage,
        source=source,
        schema_versions=schema_versions,
        version_column=version_column,
        renames=renames,
        freshness=freshness,
        materiality=materiality,
        partition_by=partition_by,
        feeds=data["feeds"] if isinstance(data["feeds"], dict) else {},
        derived_columns=dict(derived),
        rules=rules,
        views=tuple(views),
        actions=actions if isinstance(actions, dict) else {},
        tolerances=_tolerances(data.get("tolerances"), where),
        data=data,
    )


def load_contract(path: str | os.PathLike) -> Contract:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ContractError(f"{path.name}:{at} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
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
