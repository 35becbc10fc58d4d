"""The fast engine (readout.contracts.engine) against Great Expectations itself: every expectation type the
contracts use, with the arguments they use, on a frame with nulls, NaN, infinities, nullable dtypes and strings,
flags exactly the rows GX flags and gives GX's verdict and observed value; a row condition selects the rows GX's
query selects; what the engine does not mirror goes to GX. (test_contracts_rules.py holds whole validations
equal: the raw and mart fault matrices through both engines.)"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from readout.contracts import engine, load_contracts
from readout.contracts.docs import GxRunner, Runner
from readout.contracts.load import Rule
from readout.contracts.suites import SuiteSpec, row_condition_query

REPO = Path(__file__).resolve().parents[2]
CONTRACT = load_contracts(REPO / "contracts")["raw_events"]

FRAME = pd.DataFrame(
    {
        "s": ["USD", "usd", None, "EUR", "USD\n", "US", "GBP", None, "USD", "xx"],
        "t": pd.array(["a", "b", None, "a", "c", None, "b", "a", "d", "a"], dtype="string"),
        "i": pd.array([1, 2, None, 4, 5, 2, None, 0, -3, 2], dtype="Int32"),
        "n": np.array([3, 1, 2, 4, 5, 2, 7, 0, -3, 2], dtype=np.int64),
        "f": [0.5, np.nan, -1.0, np.inf, -np.inf, 2.0, 0.0, None, 1e9, 1.5],
        "g": [0.5, 1.0, -1.0, np.inf, 3.0, 2.0, np.nan, 7.0, 1e9, 1.0],
        "b": [True, False, None, True, True, False, None, True, False, True],
        "nb": pd.array([True, False, None, True, True, False, None, True, False, True], dtype="boolean"),
        "ts": pd.to_datetime(["2026-01-01", None, "2026-01-03", "2026-01-02", None] * 2),
        "ev": ["purchase", "session_start", "purchase", None, "purchase", "signup", "purchase", "x", None, "purchase"],
    }
)


def rule(name: str, expect: str, where: dict | None = None, level: str = "row", **kwargs) -> Rule:
    return Rule(rule=name, expect=expect, kwargs=kwargs, level=level, says=name, where=where)


MIRRORED = [
    rule("nn_s", "expect_column_values_to_not_be_null", column="s"),
    rule("nn_f", "expect_column_values_to_not_be_null", column="f"),
    rule("nn_i", "expect_column_values_to_not_be_null", column="i"),
    rule("nn_ts", "expect_column_values_to_not_be_null", column="ts"),
    rule("nn_b_where", "expect_column_values_to_not_be_null", column="b", where={"ev": {"in": ["purchase", "x"]}}),
    rule("set_s", "expect_column_values_to_be_in_set", column="s", value_set=["USD", "EUR"]),
    rule("set_t", "expect_column_values_to_be_in_set", column="t", value_set=["a", "b"]),
    rule("set_b", "expect_column_values_to_be_in_set", column="b", value_set=[True]),
    rule("set_nb", "expect_column_values_to_be_in_set", column="nb", value_set=[False]),
    rule("set_i", "expect_column_values_to_be_in_set", column="i", value_set=[1, 2]),
    rule(
        "set_f_where",
        "expect_column_values_to_be_in_set",
        column="f",
        value_set=[0.5, 2.0],
        where={"ev": {"==": "purchase"}},
    ),
    rule("notset_t", "expect_column_values_to_not_be_in_set", column="t", value_set=["a"]),
    rule("notset_n", "expect_column_values_to_not_be_in_set", column="n", value_set=[2, 5]),
    rule("between_f_max", "expect_column_values_to_be_between", column="f", max_value=1.5),
    rule("between_f_min", "expect_column_values_to_be_between", column="f", min_value=0),
    rule(
        "between_f_strict",
        "expect_column_values_to_be_between",
        column="f",
        min_value=0,
        max_value=2,
        strict_min=True,
        strict_max=True,
    ),
    rule("between_n", "expect_column_values_to_be_between", column="n", min_value=1, max_value=4),
    rule("between_n_strict_max", "expect_column_values_to_be_between", column="n", max_value=4, strict_max=True),
    rule("between_i", "expect_column_values_to_be_between", column="i", min_value=0, max_value=2.5),
    rule("between_where", "expect_column_values_to_be_between", column="g", min_value=0, where={"f": "not_null"}),
    rule("regex_s", "expect_column_values_to_match_regex", column="s", regex="^[A-Z]{3}$"),
    rule("regex_s_where", "expect_column_values_to_match_regex", column="s", regex="^U", where={"f": "not_null"}),
    rule("pair_equal_num", "expect_column_pair_values_to_be_equal", column_A="f", column_B="g"),
    rule(
        "pair_equal_obj",
        "expect_column_pair_values_to_be_equal",
        column_A="s",
        column_B="ev",
        ignore_row_if="either_value_is_missing",
    ),
    rule("pair_greater", "expect_column_pair_values_a_to_be_greater_than_b", column_A="g", column_B="f"),
    rule(
        "pair_greater_eq", "expect_column_pair_values_a_to_be_greater_than_b", column_A="g", column_B="f", or_equal=True
    ),
    rule(
        "pair_greater_n",
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A="n",
        column_B="g",
        ignore_row_if="neither",
    ),
    rule(
        "pair_set",
        "expect_column_pair_values_to_be_in_set",
        column_A="s",
        column_B="ev",
        value_pairs_set=[["USD", "purchase"], ["EUR", None], [None, "purchase"]],
    ),
    rule(
        "pair_set_either",
        "expect_column_pair_values_to_be_in_set",
        column_A="s",
        column_B="ev",
        ignore_row_if="either_value_is_missing",
        value_pairs_set=[["USD", "purchase"]],
    ),
    rule("unique_all", "expect_compound_columns_to_be_unique", column_list=["t", "s"]),
    rule(
        "unique_any",
        "expect_compound_columns_to_be_unique",
        column_list=["t", "s"],
        ignore_row_if="any_value_is_missing",
    ),
    rule(
        "unique_never_where",
        "expect_compound_columns_to_be_unique",
        column_list=["t", "n"],
        ignore_row_if="never",
        where={"n": {">": 0}},
    ),
    rule("rows", "expect_table_row_count_to_be_between", level="table", min_value=1),
    rule("rows_too_few", "expect_table_row_count_to_be_between", level="table", min_value=11),
    rule("min_f", "expect_column_min_to_be_between", level="table", column="f", max_value=0),
    rule("min_f_high", "expect_column_min_to_be_between", level="table", column="f", min_value=0),
    rule("max_g", "expect_column_max_to_be_between", level="table", column="g", max_value=10),
    rule("max_n", "expect_column_max_to_be_between", level="table", column="n", max_value=7, strict_max=True),
]
#: what the engine leaves to GX, and why
NOT_MIRRORED = [
    rule("between_strings", "expect_column_values_to_be_between", column="s", min_value=0),  # GX: one by one
    rule("mostly", "expect_column_values_to_not_be_null", column="s", mostly=0.5),
    rule("unknown_type", "expect_column_values_to_be_unique", column="n"),
    rule("pair_equal_nullable", "expect_column_pair_values_to_be_equal", column_A="nb", column_B="n"),  # NA: GX raises
    rule("where_nullable", "expect_column_values_to_not_be_null", column="s", where={"i": {">": 1}}),  # NA verdicts
    rule("missing_column", "expect_column_values_to_not_be_null", column="nope"),
]


@pytest.fixture(scope="module")
def gx():
    return GxRunner(None)


def spec_of(*rules: Rule) -> SuiteSpec:
    """A suite of ``rules`` (named after them: GX keeps one validation definition per suite name)."""
    return SuiteSpec(f"engine_check.{'.'.join(r.rule for r in rules)}", "rows", CONTRACT, rules)


def same_value(a, b) -> bool:
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    return (missing(a) and missing(b)) or a == b


@pytest.mark.parametrize("item", MIRRORED, ids=lambda r: r.rule)
def test_each_expectation_flags_the_rows_gx_flags(gx, item):
    spec = spec_of(item)
    expected = gx.run(spec, FRAME).results[0]
    assert not (expected.exception_info or {}).get("raised_exception"), expected.exception_info
    got = engine.run(spec, FRAME).results[0]
    assert got.success == expected.success
    if item.level == "table":
        assert same_value(got.result["observed_value"], expected.result["observed_value"])
        return
    assert sorted(got.result["unexpected_index_list"]) == sorted(expected.result["unexpected_index_list"])
    assert got.result["unexpected_count"] == expected.result["unexpected_count"]
    assert got.result["element_count"] == expected.result["element_count"]


def test_the_checks_are_not_vacuous():
    """Most expectations above fail on some rows and some pass on all: the comparison covers both."""
    results = engine.run(spec_of(*MIRRORED), FRAME).results
    failing = {r.expectation_config.meta["rule"] for r in results if not r.success}
    assert len(failing) >= 25 and len(failing) < len(MIRRORED)


@pytest.mark.parametrize("item", NOT_MIRRORED, ids=lambda r: r.rule)
def test_what_the_engine_does_not_mirror_goes_to_gx(gx, item):
    with pytest.raises(engine.Unsupported):
        engine.run(spec_of(item), FRAME)
    runner = Runner(None)
    runner._gx = gx
    result = runner.run(spec_of(MIRRORED[0], item), FRAME)
    assert runner.runs == {"fast": 0, "gx": 1} and spec_of(MIRRORED[0], item).name in runner.fallbacks
    assert sorted(r.expectation_config.meta["rule"] for r in result.results) == sorted([MIRRORED[0].rule, item.rule])


WHERES = [
    {"ev": {"in": ["purchase", "signup"]}},
    {"ev": {"not_in": ["purchase"]}},
    {"ev": {"==": "purchase"}, "f": "not_null"},
    {"ev": {"!=": "purchase"}},
    {"f": {">": 0}},
    {"f": {"<=": 1.5, ">=": -1}},
    {"g": {"<": 2}},
    {"s": "null"},
    {"ts": "not_null", "n": {">": 1}},
    {"t": {"==": "a"}},  # a nullable string column: NA == "a" selects nothing ...
    {"t": "null"},
]


@pytest.mark.parametrize("where", WHERES, ids=str)
def test_a_row_condition_selects_the_rows_gx_selects(where):
    expected = FRAME.index.isin(FRAME.query(row_condition_query(where), engine="python").index)
    try:
        got = engine.where_mask(where, FRAME)
    except engine.Unsupported:  # ... unless the comparison gives NA, which GX's query must judge
        assert where == {"t": {"==": "a"}}
        return
    assert got.tolist() == expected.tolist()
    assert 0 < got.sum() < len(FRAME), "the condition selects some rows, not all"


def test_the_runner_keeps_fast_results_for_the_data_docs(tmp_path):
    """With a docs folder the fast engine's results are rendered by GX like its own: one page per run, the rule
    and its failing values on it."""
    runner = Runner(tmp_path / "docs")
    runner.start()
    spec = spec_of(*MIRRORED[:8])
    runner.run(spec, FRAME)
    assert runner.runs == {"fast": 1, "gx": 0}
    index = runner.build_docs()
    pages = [p for p in (tmp_path / "docs").rglob("*.html") if p != index]
    assert index.is_file() and pages
    text = "\n".join(p.read_text() for p in pages)
    assert "set_s" in text and spec.name in text and "usd" in text


def test_a_pack_counted_at_once_gives_each_file_what_tally_gives_it_alone():
    """evaluate.tally_by_file (the small files of a pack, counted together) against evaluate.tally on each file's
    rows alone: row and table rules, a row condition, a quarantine reason and a count that is not of rows (the
    failing rows' repeated ids, per partition), in files that fail some rules and files that fail none. (Rules that
    compare rows with each other are counted across files, never in a pack: zone.py.)"""
    from dataclasses import replace

    from readout.contracts.batches import _table_value
    from readout.contracts.evaluate import tally, tally_by_file

    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "source_system": rng.choice(["web", "ios", None], n, p=[0.5, 0.45, 0.05]),
            "event_name": rng.choice(["purchase", "session_start", "signup"], n),
            "event_id": [f"e{i}" for i in rng.integers(0, 40, n)],
            "experiment_id": rng.choice(["exp_a", None], n),
            "experiment_version": rng.choice([1, 2], n).astype("int32"),
            "revenue": np.where(rng.random(n) < 0.1, np.nan, rng.normal(5, 5, n)),
            "currency": rng.choice(["USD", "usd", None], n, p=[0.8, 0.1, 0.1]),
        }
    )
    owner = np.repeat(np.arange(6), n // 6)
    owner[(frame["revenue"] < 0).to_numpy() & (owner == 5)] = 4  # file 5: no negative revenue at all
    quarantined = replace(
        rule("revenue_non_negative", "expect_column_values_to_be_between", column="revenue", min_value=0),
        quarantine_reason="negative_revenue",
    )
    duplicates = replace(  # a count that is not of rows: the failing rows' repeated event ids, per partition
        rule("currency_present", "expect_column_values_to_not_be_null", column="currency"),
        count="duplicates",
        count_key=("event_id",),
    )
    rules = (
        quarantined,
        duplicates,
        rule("currency", "expect_column_values_to_match_regex", column="currency", regex="^[A-Z]{3}$"),
        rule(
            "id_on_purchase",
            "expect_column_values_to_not_be_null",
            column="experiment_id",
            where={"event_name": {"==": "purchase"}},
        ),
        rule("rows", "expect_table_row_count_to_be_between", level="table", min_value=90),
        rule("min_revenue", "expect_column_min_to_be_between", level="table", column="revenue", min_value=-3),
    )
    spec = SuiteSpec("pack_check.rows", "rows", CONTRACT, rules, partition_by=("source_system",))
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(7))
    positions = [order[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    result = engine.run(spec, frame)
    together = tally_by_file(spec, frame, result, owner, positions, lambda r, k: _table_value(r, frame, positions[k]))
    failing_files = set()
    for k, at in enumerate(positions):
        part = frame.iloc[at].reset_index(drop=True)
        alone = tally(spec, part, engine.run(spec, part), quarantine=True)
        got = together[k]
        assert got.rows == alone.rows == len(at)
        for name, expected in alone.tallies.items():
            found = got.tallies[name]
            assert (found.counts, found.readouts, found.details, found.error) == (
                expected.counts,
                expected.readouts,
                expected.details,
                expected.error,
            ), (k, name)
            assert (found.observed, found.success) == (expected.observed, expected.success), (k, name)
        assert set(got.tallies) == set(alone.tallies)
        for name in alone.failing:
            assert got.failing[name].tolist() == alone.failing[name].tolist(), (k, name)
            assert got.considered[name].tolist() == alone.considered[name].tolist(), (k, name)
            if len(alone.failing[name]):
                failing_files.add((k, name))
    assert {name for _, name in failing_files} >= {
        "revenue_non_negative",
        "currency_present",
        "currency",
        "id_on_purchase",
    }
    assert not any(k == 5 and name == "revenue_non_negative" for k, name in failing_files)
    repeated = [count for batch in together for count, _ in batch.tallies["currency_present"].counts.values()]
    assert any(repeated) and sum(repeated) < sum(len(batch.failing["currency_present"]) for batch in together)
