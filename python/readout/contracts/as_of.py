"""Cached counts and the reference time: which files' counts still hold at this run's as-of.

Some derived columns read the reference time (``getvariable('as_of')``), e.g. ``event_at_minutes_after_as_of``
(rows in the future) or ``hours_since_received`` (freshness). A file validated at one as-of keeps its counts at
another only if no row moves across a rule's bound. Such a column is computed from the as-of and one other
column, its anchor (``event_at_ts``), and is monotone in it (a ``date_diff``): so when a file is validated,
each rule on it keeps the anchor's range over the rows that pass, that fail above the maximum and that fail
below the minimum; at a later run, the column is computed at the new as-of for the ranges' ends, and if every
end still falls on its side, every row does. Otherwise the file is validated again. A table-level rule on such
a column (the freshness SLA: the column's minimum) keeps the anchor's range, and its value is computed at the
new as-of from the ends. A rule that reads the as-of any other way pins the cache to one as-of.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from . import engine
from .evaluate import Batch
from .load import ContractError, Rule
from .read import ident, q, referenced_columns, rule_columns
from .suites import AS_OF_VARIABLE

_AS_OF = re.compile(r"getvariable\(\s*'" + AS_OF_VARIABLE + r"'\s*\)", re.IGNORECASE)
#: table-level expectations whose value over the files is the least / greatest of the files'
TABLE_EXTREMES = engine.TABLE_EXTREMES


@dataclass(frozen=True)
class AsOfRule:
    """A between rule on a column computed from the as-of and its anchor."""

    rule: Rule
    column: str
    anchor: str


@dataclass(frozen=True)
class AsOf:
    rules: tuple[AsOfRule, ...]
    pinned: bool  #: some rule reads the as-of another way: cached counts hold at the same as-of only
    anchors: dict  #: as-of column -> (anchor, its SQL)
    table_anchors: frozenset  #: anchors whose range a file keeps for table-level rules

    @property
    def columns(self) -> set[str]:
        return {r.anchor for r in self.rules} | {r.column for r in self.rules} | set(self.table_anchors)


def analyse(
    derived: dict[str, str], rules: tuple[Rule, ...], per_file: tuple[Rule, ...], key_columns: tuple[str, ...]
) -> AsOf:
    """How each rule reads the as-of: ``per_file`` are the rules counted per file, ``key_columns`` what the
    files' keys hold (a key computed from the as-of pins the cache)."""
    dependent: set[str] = set()
    anchors = {}
    for name, expression in derived.items():
        refs = referenced_columns(expression)
        if _AS_OF.search(expression) or refs & dependent:
            dependent.add(name)
            if _AS_OF.search(expression) and len(refs) == 1 and not refs & dependent:
                anchors[name] = (next(iter(refs)), expression)
    found, pinned, table_anchors = [], bool(set(key_columns) & dependent), set()
    for rule in rules:
        reads = rule_columns(rule) & dependent
        if not reads:
            continue
        column = rule.kwargs.get("column")
        if reads != {column} or column not in anchors or rule not in per_file or set(rule.where or {}) & dependent:
            pinned = True
        elif rule.level == "row" and rule.expect == "expect_column_values_to_be_between":
            found.append(AsOfRule(rule, column, anchors[column][0]))
        elif rule.level == "table" and rule.expect in TABLE_EXTREMES:
            table_anchors.add(anchors[column][0])
        else:
            pinned = True
    return AsOf(tuple(found), pinned, anchors, frozenset(table_anchors))


def reads_as_of(expression: str) -> bool:
    return bool(_AS_OF.search(expression))


# -------------------------------------------------------------------------------- while validating
def _timestamp(value) -> str:
    return pd.Timestamp(value).isoformat()


def widen(ranges: dict, key: str, values: pd.Series) -> None:
    """Widen ``ranges[key]`` ([low, high], ISO timestamps) to cover ``values`` (an anchor's)."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise ContractError(
            f"column {values.name}: a column computed from the as-of time must read it and one "
            "timestamp column (e.g. date_diff('second', t.received_at_ts, getvariable('as_of')))"
        )
    values = values.dropna()
    if values.empty:
        return
    low, high = _timestamp(values.min()), _timestamp(values.max())
    if key in ranges:
        low, high = min(low, ranges[key][0], key=pd.Timestamp), max(high, ranges[key][1], key=pd.Timestamp)
    ranges[key] = [low, high]


def record(as_of: AsOf, batch: Batch, frame: pd.DataFrame, ranges: dict, anchors: dict) -> None:
    """Widen a file's ranges with one batch: per as-of rule, the anchor over the rows that pass, fail high
    and fail low; per table anchor, over every row."""
    for item in as_of.rules:
        if item.rule.rule not in batch.failing:
            continue
        failing, considered = batch.failing[item.rule.rule], batch.considered[item.rule.rule]
        values = frame[item.column]
        passing = considered.difference(failing)
        passing = passing[values.loc[passing].notna().to_numpy()] if len(passing) else passing
        limit = item.rule.kwargs.get("max_value")
        failed = values.loc[failing]
        high = (
            (failed >= limit if item.rule.kwargs.get("strict_max") else failed > limit)
            if limit is not None
            else pd.Series(False, index=failed.index)
        )
        side = ranges.setdefault(item.rule.rule, {})
        widen(side, "pass", frame.loc[passing, item.anchor])
        widen(side, "high", frame.loc[failing[high.to_numpy()], item.anchor])
        widen(side, "low", frame.loc[failing[~high.to_numpy()], item.anchor])
    for column in as_of.table_anchors:
        widen(anchors, column, frame[column])


# ------------------------------------------------------------------------------------ at a new as-of
def _side(rule: Rule, value) -> str:
    """Where a value of a between rule's column falls: pass, high or low."""
    if value is None or pd.isna(value):
        return "null"
    kw = rule.kwargs
    if kw.get("max_value") is not None and (
        value >= kw["max_value"] if kw.get("strict_max") else value > kw["max_value"]
    ):
        return "high"
    if kw.get("min_value") is not None and (
        value <= kw["min_value"] if kw.get("strict_min") else value < kw["min_value"]
    ):
        return "low"
    return "pass"


class Columns:
    """The as-of columns computed at this run's as-of for given anchor values (one query per column)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, as_of: AsOf):
        self.con, self.as_of = con, as_of
        self.values: dict[tuple[str, str], float | None] = {}

    def compute(self, wanted: set[tuple[str, str]]) -> None:
        by_column: dict[str, set[str]] = {}
        for column, point in wanted - set(self.values):
            by_column.setdefault(column, set()).add(point)
        for column, points in by_column.items():
            anchor, expression = self.as_of.anchors[column]
            values = ", ".join(f"({q(p)})" for p in sorted(points))
            found = self.con.execute(
                f"select t._point, {expression} from (select p as _point, cast(p as timestamp) as {ident(anchor)} "
                f"from (values {values}) as v(p)) as t"
            ).fetchall()
            for point, value in found:
                self.values[(column, point)] = value

    def __call__(self, column: str, point: str):
        return self.values[(column, point)]


def rule_points(as_of: AsOf, validation: dict) -> set[tuple[str, str]]:
    """The (column, anchor value) pairs still_holds needs for one file."""
    wanted = set()
    for item in as_of.rules:
        for low, high in validation["as_of_ranges"].get(item.rule.rule, {}).values():
            wanted |= {(item.column, low), (item.column, high)}
    return wanted


def still_holds(as_of: AsOf, validation: dict, moment: dt.datetime, columns: Columns) -> bool:
    """Whether a file's cached counts hold at ``moment``: every range's ends stay on their side."""
    if validation["as_of"] == moment.isoformat():
        return True
    if as_of.pinned:
        return False
    for item in as_of.rules:
        for side, (low, high) in validation["as_of_ranges"].get(item.rule.rule, {}).items():
            if any(_side(item.rule, columns(item.column, point)) != side for point in (low, high)):
                return False
    return True


def table_points(as_of: AsOf, rules: tuple[Rule, ...], validations: list[dict]) -> set[tuple[str, str]]:
    wanted = set()
    for rule in rules:
        column = rule.kwargs.get("column")
        if rule.level == "table" and column in as_of.anchors:
            anchor = as_of.anchors[column][0]
            for validation in validations:
                wanted |= {(column, point) for point in validation["anchors"].get(anchor, [])}
    return wanted
