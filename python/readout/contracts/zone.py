"""Rules over a whole landing zone, counted by DuckDB over every file's keys.

Most rules read one row at a time, and GX counts them file by file (batches.py). A few need every row of the
zone: uniqueness (``expect_compound_columns_to_be_unique``: duplicates across files) and rules on a derived
column computed with a window (``over (partition by ...)``: one schema version per source, conflicting
payloads, one event_id from two producers). For those each validated file leaves a narrow keys file (the
columns they read, e.g. source_system, event_id, payload_hash, schema_version, and the columns that name the
readouts), and this module evaluates the contract's own derived SQL and the rule's expectation, written as
SQL, over the union of the keys: the counts per partition, the count method (duplicates, extra variants)
and the readouts affected, exactly what GX gives on the whole zone (a test holds the two equal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from .evaluate import MISSING, READOUT_COLUMNS, Readouts, Tally
from .load import ContractError, Rule
from .read import derived_sql, ident, q, referenced_columns, rule_columns

#: expectations that compare rows with each other (never counted per file)
MULTI_ROW = {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"}
_WINDOW = re.compile(r"\bover\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    """A contract's row rules split into those counted per file and those counted over the whole zone."""

    local_columns: dict[str, str]  #: derived columns computed per row (in each file's batches)
    zone_columns: dict[str, str]  #: derived columns with a window (computed over the zone's keys)
    zone_rules: tuple[Rule, ...]
    key_columns: tuple[str, ...]  #: what a file's keys file holds


def split(contract, rules: tuple[Rule, ...], partition_by: tuple[str, ...], frame_columns: list[str]) -> Split:
    """Which derived columns and rules need the whole zone, and the columns their keys files hold."""
    derived = contract.derived_columns
    zone: set[str] = set()
    for name, expression in derived.items():  # in order: a column reading a zone-wide one is zone-wide
        if _WINDOW.search(expression) or referenced_columns(expression) & zone:
            zone.add(name)
    zone_rules = tuple(
        r for r in rules if r.level == "row" and (r.expect in MULTI_ROW or r.count != "rows" or rule_columns(r) & zone)
    )
    for rule in zone_rules:
        if rule.detail:
            raise ContractError(
                f"{contract.path.name}: rule {rule.rule} compares rows across the landing zone, so "
                "it cannot list details (they name one row)"
            )
        if rule.quarantine_reason:
            raise ContractError(
                f"{contract.path.name}: rule {rule.rule} compares rows across the landing zone, so "
                "it cannot carry a quarantine_reason (staging quarantines one row at a time)"
            )
    needed = set(partition_by) | set(READOUT_COLUMNS)
    for rule in zone_rules:
        needed |= rule_columns(rule)
    pending = [c for c in needed if c in zone]
    while pending:  # the inputs of the zone-wide columns, themselves possibly zone-wide
        column = pending.pop()
        for ref in referenced_columns(derived[column]):
            if ref not in needed:
                needed.add(ref)
                if ref in zone:
                    pending.append(ref)
    keys = tuple(c for c in frame_columns if c in needed and c not in zone)
    return Split(
        {k: v for k, v in derived.items() if k not in zone},
        {k: v for k, v in derived.items() if k in zone},
        zone_rules,
        keys,
    )


# --------------------------------------------------------------------------------------- SQL rules
def _literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return q(value)


def _values(values) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def where_sql(where: dict | None) -> str:
    """A contract's ``where`` in SQL, with pandas' null semantics (a null is != and not in anything)."""
    if not where:
        return "true"
    parts = []
    for name, spec in where.items():
        col = ident(name)
        if spec == "null":
            parts.append(f"{col} is null")
        elif spec == "not_null":
            parts.append(f"{col} is not null")
        else:
            for op, value in spec.items():
                if op == "in":
                    parts.append(f"coalesce({col} in {_values(value)}, false)")
                elif op == "not_in":
                    parts.append(f"coalesce({col} not in {_values(value)}, true)")
                elif op == "!=":
                    parts.append(f"coalesce({col} <> {_literal(value)}, true)")
                else:
                    parts.append(f"coalesce({col} {'=' if op == '==' else op} {_literal(value)}, false)")
    return " and ".join(parts)


def failing_sql(rule: Rule, where: str) -> str:
    """The rows a rule's expectation flags, as SQL (GX's semantics: column-map expectations skip nulls)."""
    kw = rule.kwargs
    expect = rule.expect
    if expect == "expect_compound_columns_to_be_unique":
        columns = [ident(c) for c in kw["column_list"]]
        ignore = kw.get("ignore_row_if", "all_values_are_missing")
        present = {
            "any_value_is_missing": " and ".join(f"{c} is not null" for c in columns),
            "all_values_are_missing": " or ".join(f"{c} is not null" for c in columns),
            "never": "true",
        }[ignore]
        return f"(({present}) and count(*) over (partition by ({where}), ({present}), {', '.join(columns)}) > 1)"
    column = ident(kw.get("column", ""))
    if expect == "expect_column_values_to_be_unique":
        return f"({column} is not null and count(*) over (partition by ({where}), {column}) > 1)"
    if expect == "expect_column_values_to_not_be_null":
        return f"({column} is null)"
    if expect == "expect_column_values_to_be_null":
        return f"({column} is not null)"
    if expect == "expect_column_values_to_be_in_set":
        return f"({column} is not null and {column} not in {_values(kw['value_set'])})"
    if expect == "expect_column_values_to_not_be_in_set":
        return f"({column} is not null and {column} in {_values(kw['value_set'])})"
    if expect == "expect_column_values_to_be_between":
        out = []
        if kw.get("min_value") is not None:
            out.append(f"{column} {'<=' if kw.get('strict_min') else '<'} {_literal(kw['min_value'])}")
        if kw.get("max_value") is not None:
            out.append(f"{column} {'>=' if kw.get('strict_max') else '>'} {_literal(kw['max_value'])}")
        return f"({column} is not null and ({' or '.join(out) or 'false'}))"
    raise ContractError(
        f"rule {rule.rule}: {expect} compares rows across the landing zone, which batch "
        "validation counts in SQL; it supports the in-set, not-in-set, between, null and "
        "uniqueness expectations"
    )


def label_sql(columns: tuple[str, ...]) -> str:
    """The partition label of a row, as ``evaluate.partition_labels`` writes it."""
    if not columns:
        return "'all'"
    parts = []
    for column in columns:
        text = f"cast({ident(column)} as varchar)"
        if column == "experiment_version":
            text = f"'v' || {text}"
        parts.append(f"coalesce({text}, {q(MISSING)})")
    return " || ' ' || ".join(parts)


def count_zone(
    con: duckdb.DuckDBPyConnection,
    plan: Split,
    partition_by: tuple[str, ...],
    keys: list[str],
    readout_columns: frozenset,
    *,
    base: str | None = None,
) -> dict[str, Tally]:
    """Tally each zone-wide rule over the union of the keys files (or over the rows of ``base``, a query: a
    warehouse table), in one scan: per partition label and rule, the rows considered and failing, the count
    (rows, duplicates or extra variants) and what the failing rows feed."""
    if not plan.zone_rules:
        return {}
    found = {rule.rule: Tally(readouts=Readouts(0, readout_columns)) for rule in plan.zone_rules}
    if base is None and not keys:
        return found
    base = base or f"select * from read_parquet([{', '.join(q(k) for k in keys)}])"
    flags, aggregates = [], []
    experiment = (
        "{'e': experiment_id, 'v': experiment_version}"
        if "experiment_version" in readout_columns
        else "{'e': experiment_id, 'v': null::integer}"
    )
    for i, rule in enumerate(plan.zone_rules):
        where = where_sql(rule.where)
        flags.append(f"({where}) as _in_{i}, ({where}) and {failing_sql(rule, where)} as _fail_{i}")
        fail = f"filter (where _fail_{i})"
        counted = f"count(*) {fail}"
        if rule.count in ("duplicates", "extra_variants"):
            key = ", ".join(ident(c) for c in rule.count_key)
            value = f", {ident(rule.count_value)}" if rule.count == "extra_variants" else ""
            counted = (
                f"count(distinct ({key}{value})) {fail} - count(distinct ({key})) {fail}"
                if value
                else f"count(*) {fail} - count(distinct ({key})) {fail}"
            )
        aggregates += [f"count(*) filter (where _in_{i})", f"count(*) {fail}", counted]
        if "experiment_id" in readout_columns:
            both = " and experiment_version is not null" if "experiment_version" in readout_columns else ""
            aggregates.append(
                f"list(distinct {experiment}) filter (where _fail_{i} and experiment_id is not null{both})"
            )
        else:
            aggregates.append("null")
        if "metric_id" in readout_columns:
            aggregates.append(f"list(distinct metric_id) filter (where _fail_{i} and metric_id is not null)")
        elif "event_name" in readout_columns:
            unnamed = " and experiment_id is null" if "experiment_id" in readout_columns else ""
            aggregates.append(f"list(distinct event_name) filter (where _fail_{i}{unnamed} and event_name is not null)")
        else:
            aggregates.append("null")
    derived = derived_sql(base, plan.zone_columns)
    rows = con.execute(f"""
        select _label, {", ".join(aggregates)}
        from (select *, {label_sql(partition_by)} as _label, {", ".join(flags)} from ({derived}))
        group by _label""").fetchall()
    width = 5
    for row in rows:
        label = row[0]
        for i, rule in enumerate(plan.zone_rules):
            considered, failing, counted, experiments, names = row[1 + width * i : 1 + width * (i + 1)]
            if not considered:
                continue
            tally = found[rule.rule]
            tally.counts[label] = [int(counted or 0), int(considered)]
            tally.readouts.rows += int(failing)
            tally.readouts.experiments |= {(x["e"], None if x["v"] is None else int(x["v"])) for x in experiments or []}
            if "metric_id" in readout_columns:
                tally.readouts.metrics |= set(names or [])
            else:
                tally.readouts.events |= set(names or [])
    return found
