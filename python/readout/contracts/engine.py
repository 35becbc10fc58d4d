"""A suite's expectations evaluated with Great Expectations' pandas semantics, vectorized: the fast engine.

GX validates a pandas frame at about 15 microseconds a row with the raw events' rows suite (28 expectations,
COMPLETE results): the 1% batch of a 100M-event landing zone (975k rows) took 15 s of GX alone, where a
refresh's validation of one new batch has 10 s (issue 11). Little of that is the checks themselves: GX builds a
metric graph per expectation, filters the frame by the row condition once per metric and builds the result's
lists row by row.

This module runs the same suites (the generated GX suites, ``SuiteSpec``) with the pandas operations GX's
``PandasExecutionEngine`` applies for each expectation type the contracts use, each once per expectation:

* the domain: the rows the expectation's ``row_condition`` (the contract's ``where``) selects, GX's pandas
  query reproduced column by column (:func:`where_mask`); then, for a column map expectation other than
  ``not_be_null``, the column's non-null rows (GX's ``filter_column_isnull``), for a column pair the
  ``ignore_row_if`` rows dropped (``dropna(how=...)``);
* the condition: GX's own expression (``column.isin(value_set)``, ``min_value <= column``,
  ``column.astype(str).str.contains(regex)``, ``column_A == column_B`` ...), and unexpected rows are the
  domain's rows that fail it; a table expectation's observed value (row count, column minimum or maximum) and
  GX's verdict on it.

Each result has the shape ``evaluate.tally`` reads from GX's (``expectation_config.meta["rule"]``,
``result["unexpected_index_list"]`` / ``result["observed_value"]``, ``success``, ``exception_info``), so counts,
quarantine and readouts are computed exactly as before. An expectation type, an argument or a column dtype this
module does not mirror raises :class:`Unsupported` and the runner hands the whole suite to GX (docs.Runner);
so does a column the frame lacks (GX's error message is GX's to give). python/tests/test_contracts_engine.py
holds the two engines equal, expectation by expectation on frames with nulls, NaN, infinities and strings, and
validation by validation on the contracts' fault matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .suites import SuiteSpec

#: GX's expectation types this engine evaluates
COLUMN_MAP = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
}
COLUMN_PAIR = {
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_in_set",
}
MULTICOLUMN = {"expect_compound_columns_to_be_unique"}
#: table-level expectations on a column's least / greatest value (as_of.py and batches.py read them too)
TABLE_EXTREMES = {"expect_column_min_to_be_between": "min", "expect_column_max_to_be_between": "max"}
TABLE = {"expect_table_row_count_to_be_between": None, **TABLE_EXTREMES}
SUPPORTED = frozenset(COLUMN_MAP | COLUMN_PAIR | MULTICOLUMN | set(TABLE))
#: the arguments each kind of expectation may carry here (anything else, e.g. ``mostly``: GX runs the suite)
_ARGUMENTS = {
    "expect_column_values_to_not_be_null": {"column"},
    "expect_column_values_to_be_in_set": {"column", "value_set"},
    "expect_column_values_to_not_be_in_set": {"column", "value_set"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_match_regex": {"column", "regex"},
    "expect_column_pair_values_to_be_equal": {"column_A", "column_B", "ignore_row_if"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "ignore_row_if", "or_equal"},
    "expect_column_pair_values_to_be_in_set": {"column_A", "column_B", "ignore_row_if", "value_pairs_set"},
    "expect_compound_columns_to_be_unique": {"column_list", "ignore_row_if"},
    "expect_table_row_count_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_min_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_max_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"},
}
#: ``ignore_row_if`` -> the rows GX drops (``dropna(how=...)``): pairs (default both_values_are_missing), column
#: lists (default all_values_are_missing)
_IGNORE = {
    "both_values_are_missing": "all",
    "either_value_is_missing": "any",
    "neither": None,
    "all_values_are_missing": "all",
    "any_value_is_missing": "any",
    "never": None,
}
#: values a Data Docs page lists per expectation (GX's partial lists)
PARTIAL = 20
#: how the Data Docs name this engine
NAME = "fast engine (GX semantics, vectorized)"


class Unsupported(Exception):
    """The suite holds something this engine does not mirror: GX validates it."""


@dataclass(frozen=True)
class Expectation:
    """What the counting reads of GX's ExpectationConfiguration."""

    type: str
    kwargs: dict
    meta: dict


@dataclass(frozen=True)
class Result:
    """One expectation's result, shaped as GX's ExpectationValidationResult (COMPLETE format)."""

    expectation_config: Expectation
    result: dict
    success: bool
    exception_info: dict = field(
        default_factory=lambda: {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    )


@dataclass(frozen=True)
class SuiteResult:
    suite_name: str
    results: list[Result]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)


# ------------------------------------------------------------------------------------------------ domains
def _condition(name: str, op: str, value: Any, frame: pd.DataFrame) -> pd.Series:
    column = frame[name]
    if op == "in":
        return column.isin(value)
    if op == "not_in":
        return ~column.isin(value)
    return {
        "==": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](value)


def where_mask(where: dict, frame: pd.DataFrame) -> np.ndarray:
    """The rows of ``frame`` a contract's ``where`` selects: what GX's pandas engine's query of its row condition
    (``suites.row_condition``: an AND of every column's conditions) selects."""
    mask = np.ones(len(frame), dtype=bool)
    for name, spec in where.items():
        if name not in frame.columns:
            raise Unsupported(f"the row condition's column {name} is not in the frame")
        if spec == "null":
            mask &= frame[name].isnull().to_numpy()
        elif spec == "not_null":
            mask &= ~frame[name].isnull().to_numpy()
        else:
            for op, value in spec.items():
                selected = _condition(name, op, value, frame)
                if selected.hasnans:
                    raise Unsupported(f"the row condition on {name} is NA for some rows")
                mask &= selected.to_numpy(dtype=bool)
    return mask


def _between(values, kwargs: dict):
    """GX's vectorized between (``ColumnValuesBetween._pandas_vectorized``)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_min, strict_max = kwargs.get("strict_min"), kwargs.get("strict_max")
    if low is None:
        return values < high if strict_max else values <= high
    if high is None:
        return low < values if strict_min else low <= values
    return (low < values if strict_min else low <= values) & (values < high if strict_max else values <= high)


def _unexpected(good: pd.Series) -> np.ndarray:
    """The rows failing a condition (GX: ``frame[~condition]``). A condition without a verdict for some row (a
    nullable dtype's NA, e.g. ``NA == True``) is GX's to report: it raises ("boolean value of NA is
    ambiguous") and the rule errors."""
    if good.hasnans:
        raise Unsupported("the condition is NA for some rows (GX raises on it)")
    return ~good.to_numpy(dtype=bool)


def _numeric(series: pd.Series) -> bool:
    return series.dtype.kind in "iuf"


def verdict(kwargs: dict, value) -> bool:
    """GX's verdict on a between expectation's value (a missing value fails)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and (value <= low if kwargs.get("strict_min") else value < low):
        return False
    return not (high is not None and (value >= high if kwargs.get("strict_max") else value > high))


def scalar(value):
    """A JSON-safe copy of a numpy or pandas value (NaN: None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


# -------------------------------------------------------------------------------------------- expectations
def _map(kind: str, kwargs: dict, domain: pd.DataFrame) -> tuple[pd.Index, pd.Series, int]:
    """A column map expectation: (the unexpected rows' labels, their values, the missing rows)."""
    column = domain[kwargs["column"]]
    nulls = column.isnull()
    if kind == "expect_column_values_to_not_be_null":
        return column.index[nulls.to_numpy()], column[nulls], 0
    values = column[~nulls]
    if kind == "expect_column_values_to_be_in_set":
        value_set = kwargs.get("value_set")
        good = np.ones(len(values), dtype=bool) if value_set is None else values.isin(value_set)
    elif kind == "expect_column_values_to_not_be_in_set":
        if pd.api.types.is_datetime64_any_dtype(column):
            raise Unsupported("not_in_set over a datetime column (GX parses its value set)")
        value_set = kwargs.get("value_set")
        good = np.ones(len(values), dtype=bool) if value_set is None else ~values.isin(value_set)
    elif kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is None and high is None:
            raise Unsupported("between without bounds")
        if low is not None and high is not None and low > high:
            raise Unsupported("between with min_value > max_value")
        bounds_numeric = all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in (low, high) if b is not None
        )
        if not (_numeric(column) and bounds_numeric):
            raise Unsupported(f"between over {column.dtype} values (GX compares them one by one)")
        good = _between(values, kwargs)
    else:  # expect_column_values_to_match_regex
        good = values.astype(str).str.contains(kwargs["regex"])
    bad = _unexpected(pd.Series(good, index=values.index))
    return values.index[bad], values[bad], int(nulls.sum())


def _pair(kind: str, kwargs: dict, domain: pd.DataFrame) -> tuple[pd.Index, pd.Series, int]:
    """A column pair expectation: (the unexpected rows' labels, their (A, B) values, the ignored rows)."""
    a_name, b_name = kwargs["column_A"], kwargs["column_B"]
    how = _IGNORE[kwargs.get("ignore_row_if") or "both_values_are_missing"]
    rows = domain[[a_name, b_name]]
    kept = rows.dropna(subset=[a_name, b_name], how=how) if how else rows
    a, b = kept[a_name], kept[b_name]
    if kind == "expect_column_pair_values_to_be_equal":
        good = a == b
    elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
        if not (_numeric(a) and _numeric(b)) and not (
            pd.api.types.is_datetime64_any_dtype(a) and pd.api.types.is_datetime64_any_dtype(b)
        ):
            raise Unsupported(f"a_to_be_greater_than_b over {a.dtype} and {b.dtype} values")
        good = a >= b if kwargs.get("or_equal") else a > b
    else:  # expect_column_pair_values_to_be_in_set: GX reads each row, a null as None
        pairs = {(x, y) for x, y in kwargs["value_pairs_set"]}
        good = pd.Series(
            [
                (None if pd.isnull(x) else x, None if pd.isnull(y) else y) in pairs
                for x, y in zip(a.astype(object), b.astype(object), strict=True)
            ],
            index=kept.index,
            dtype=bool,
        )
    failing = kept[_unexpected(good)]
    values = pd.Series(list(zip(failing[a_name], failing[b_name], strict=True)), index=failing.index, dtype=object)
    return failing.index, values, len(rows) - len(kept)


def _multicolumn(kwargs: dict, domain: pd.DataFrame) -> tuple[pd.Index, pd.Series, int]:
    """``expect_compound_columns_to_be_unique``: every row whose values of the columns another row repeats."""
    columns = list(kwargs["column_list"])
    how = _IGNORE[kwargs.get("ignore_row_if") or "all_values_are_missing"]
    rows = domain[columns]
    kept = rows.dropna(subset=columns, how=how) if how else rows
    failing = kept[kept.duplicated(keep=False).to_numpy(dtype=bool)]
    values = pd.Series(
        [dict(zip(columns, row, strict=True)) for row in failing.itertuples(index=False)],
        index=failing.index,
        dtype=object,
    )
    return failing.index, values, len(rows) - len(kept)


def _result(kind: str, kwargs: dict, domain: pd.DataFrame) -> tuple[dict, bool]:
    if kind in TABLE:
        if kind == "expect_table_row_count_to_be_between":
            observed = len(domain)
        else:
            column = domain[kwargs["column"]]
            if not _numeric(column):
                raise Unsupported(f"the {TABLE[kind]} of {column.dtype} values")
            observed = scalar(getattr(column, TABLE[kind])())
        return {"observed_value": observed}, verdict(kwargs, observed)
    if kind in MULTICOLUMN:
        unexpected, values, missing = _multicolumn(kwargs, domain)
    else:
        unexpected, values, missing = (_map if kind in COLUMN_MAP else _pair)(kind, kwargs, domain)
    elements = len(domain)
    nonmissing = elements - missing
    count = len(unexpected)
    result = {
        "element_count": elements,
        "unexpected_count": count,
        "unexpected_percent": 100.0 * count / nonmissing if nonmissing else None,
        "unexpected_index_list": unexpected.tolist(),
        "partial_unexpected_list": [scalar(v) for v in values.iloc[:PARTIAL].tolist()],
    }
    if kind != "expect_column_values_to_not_be_null":
        result["missing_count"] = missing
        result["missing_percent"] = 100.0 * missing / elements if elements else None
    return result, count == 0


def _columns(kind: str, kwargs: dict) -> list[str]:
    if kind in COLUMN_PAIR:
        return [kwargs["column_A"], kwargs["column_B"]]
    if kind in MULTICOLUMN:
        return list(kwargs["column_list"])
    return [kwargs["column"]] if "column" in kwargs else []


def check(spec: SuiteSpec, frame: pd.DataFrame) -> None:
    """Raise :class:`Unsupported` unless every expectation of ``spec`` can run here on ``frame``'s columns."""
    for rule in spec.rules:
        if rule.expect not in SUPPORTED:
            raise Unsupported(f"{rule.expect} ({rule.rule})")
        extra = set(rule.kwargs) - _ARGUMENTS[rule.expect]
        if extra:
            raise Unsupported(f"{rule.expect} with {', '.join(sorted(extra))} ({rule.rule})")
        if rule.level == "table" and rule.where:
            raise Unsupported(f"a table expectation with a row condition ({rule.rule})")
        missing = [c for c in [*_columns(rule.expect, rule.kwargs), *(rule.where or {})] if c not in frame.columns]
        if missing:
            raise Unsupported(f"column {missing[0]} is not in the frame ({rule.rule})")


def run(spec: SuiteSpec, frame: pd.DataFrame) -> SuiteResult:
    """Every expectation of ``spec`` on ``frame`` (:class:`Unsupported`: GX must run it)."""
    check(spec, frame)
    results = []
    for rule in spec.rules:
        domain = frame[where_mask(rule.where, frame)] if rule.where else frame
        found, success = _result(rule.expect, rule.kwargs, domain)
        config = Expectation(rule.expect, dict(rule.kwargs), {"contract": spec.contract.name, "rule": rule.rule})
        results.append(Result(config, found, bool(success)))
    return SuiteResult(spec.name, results)


def without_row_lists(result: SuiteResult) -> SuiteResult:
    """``result`` without the unexpected rows' labels (kept for the Data Docs, which list only partial values)."""
    return SuiteResult(
        result.suite_name,
        [
            Result(r.expectation_config, {k: v for k, v in r.result.items() if k != "unexpected_index_list"}, r.success)
            for r in result.results
        ],
    )
