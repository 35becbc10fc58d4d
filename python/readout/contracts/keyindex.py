"""The rules across landing files, counted incrementally: a key index that remembers every validated file's keys
and the rules' counts, so a new batch costs what the batch costs, not what the landing zone holds.

zone.py counts the rules that compare rows across files (duplicates, conflicting payloads, one event_id from two
producers, one schema version per source) over the union of every file's keys: at 100M events that is 100M rows
ranked on every refresh. This index, a DuckDB file beside the cache's JSON (``<contract>.index.duckdb``), holds

* ``keys``: every indexed file's keys (the columns those rules read), with ``_file`` and ``_h``, a hash of the
  closure key (below);
* ``files``: which file (path and the SHA-256 of its keys file) each ``_file`` is;
* ``agg_<i>``: per partition, the value of each coarse window (``min(t.x) over (partition by t.source_system)``,
  partitioned by the contract's partition columns only: a handful of rows);
* ``tally_labels``, ``tally_experiments``, ``tally_names``: the rules' counts per partition label and, per rule,
  the failing rows per experiment version and per event name (counts, so they can be taken away again).

A row's verdict on a rule across files depends only on the rows of its window partitions. The coarse windows'
values are kept per partition (and change only when a batch moves a minimum or maximum); every other grouping
the rules use (fine windows such as ``partition by t.source_system, t.event_id``, the uniqueness rules' columns
and the count keys) contains the *closure key*, the columns all of them share (``event_id``). So when files are
added (or removed), the rows whose verdict can change are those sharing a closure key value with the added or
removed rows, or lying in a coarse partition whose value moved; those rows, ``A``, are closed under every
grouping, so the contract's own derived SQL evaluated over ``A`` alone gives every row of ``A`` the verdict it
has over the whole zone. The counts are then updated by ``counts(A after) - counts(A before)``. Finding ``A``
is one scan of one 64-bit column (``_h``) of the index; everything else is proportional to the batch.

Nothing here is approximate: a hash collision only adds a whole closure group to ``A``, whose before and after
counts cancel. A contract whose windows share no closure key (or that uses a window this module cannot read)
makes ``A`` the whole zone: still exact, as slow as counting afresh. The index is rebuilt from the files' keys
when the contract, the validator, the experiments export or (for rules reading it) the as-of changed, and a file
that left the landing zone or whose keys changed is taken out row for row. python/tests/test_contracts_keyindex.py
holds the index equal to counting the whole zone afresh (zone.count_zone) over appends, retries that arrive
later, a schema migration starting late, and a removed file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .evaluate import READOUT_COLUMNS, Readouts, Tally
from .read import ident, q
from .zone import MULTI_ROW, Split, failing_sql, label_sql, where_sql

FORMAT = 1  #: bump when the index's tables change meaning
#: key rows added to the index per update (one transaction); more files are added in several updates
UPDATE_ROWS = 5_000_000
_COARSE = re.compile(
    r"\b(min|max)\s*\(\s*t\.(\w+)\s*\)\s*over\s*\(\s*partition\s+by\s+"
    r"(t\.\w+(?:\s*,\s*t\.\w+)*)\s*\)",
    re.IGNORECASE,
)
_WINDOW = re.compile(r"\bover\s*\(", re.IGNORECASE)
_PARTITION = re.compile(r"\bover\s*\(\s*partition\s+by\s+(t\.\w+(?:\s*,\s*t\.\w+)*)\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class Coarse:
    function: str  #: min or max
    column: str
    partition: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """How a contract's rules across files are counted incrementally: its coarse windows (replaced by a lookup
    of ``agg_<i>``), the derived SQL that reads them, and the closure key."""

    coarse: tuple[Coarse, ...]
    zone_columns: dict[str, str]  #: the zone's derived columns, coarse windows replaced by ``t._agg<i>``
    closure: tuple[str, ...]  #: empty: every row is one group (the whole zone is recounted)
    keys: tuple[str, ...]


def layout(split: Split, partition_by: tuple[str, ...]) -> Layout:
    keys = set(split.key_columns)
    coarse: list[Coarse] = []
    groupings: list[set[str]] = []
    columns: dict[str, str] = {}
    whole_zone = False
    for name, expression in split.zone_columns.items():

        def lookup(match: re.Match) -> str:
            window = Coarse(match[1].lower(), match[2], tuple(c.strip()[2:] for c in match[3].split(",")))
            if window.column not in keys or not set(window.partition) <= set(partition_by) & keys:
                return match[0]  # not coarse: counted over the closure like any other window
            if window not in coarse:
                coarse.append(window)
            return f"t._agg{coarse.index(window)}"

        rewritten = _COARSE.sub(lookup, expression)
        windows = len(_WINDOW.findall(rewritten))
        partitions = _PARTITION.findall(rewritten)
        if len(partitions) != windows:  # a window without a plain partition by: one group, the whole zone
            whole_zone = True
        groupings += [{c.strip()[2:] for c in p.split(",")} for p in partitions]
        columns[name] = rewritten
    for rule in split.zone_rules:
        if rule.expect in MULTI_ROW:
            groupings.append(set(rule.kwargs.get("column_list") or [rule.kwargs.get("column")]))
        if rule.count != "rows":
            groupings.append(set(rule.count_key))
    closure = set.intersection(*groupings) & keys if groupings and not whole_zone else set()
    return Layout(tuple(coarse), columns, tuple(c for c in split.key_columns if c in closure), split.key_columns)


def _null_safe(left: str, right: str, columns) -> str:
    return " and ".join(f"{left}.{ident(c)} is not distinct from {right}.{ident(c)}" for c in columns) or "true"


#: a window this module evaluates as a grouping joined back: min, max or count of a column (or rows), over a
#: ``partition by`` and nothing else (no order, no frame)
_AGGREGATE = re.compile(r"\b(min|max|count)\s*\(\s*(\*|t\.\w+|\"[^\"]+\"|\w+)\s*\)\s*over\s*\(", re.IGNORECASE)


def _outside_quotes(text: str, start: int = 0):
    """``(index, character, depth)`` of each character of ``text`` from ``start`` that is outside quoted names and
    strings, ``depth`` the parentheses open after it (counted from ``start``); an unclosed quote ends the text."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char in "'\"":
            i = text.find(char, i + 1)
            if i < 0:
                return
        else:
            depth += (char == "(") - (char == ")")
            yield i, char, depth
        i += 1


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis closing the one just before ``start`` (-1 if none)."""
    return next((i for i, char, depth in _outside_quotes(text, start) if char == ")" and depth == -1), -1)


def _top_level(text: str) -> list[str]:
    """``text`` split at its commas outside parentheses, quoted names and strings."""
    cuts = [i for i, char, depth in _outside_quotes(text) if char == "," and depth == 0]
    return [text[a + 1 : b].strip() for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]


def grouped(select: str, source: str) -> str:
    """``select`` (the expressions of one ``select t.*, <select> from <source> as t``) with each simple window
    (``min``/``max``/``count`` over a ``partition by`` alone) replaced by the value of a grouping of ``source`` by
    the same partition, joined back null-safely (every row meets exactly its own group, so the rows are the same
    and so is each value): DuckDB aggregates by hashing where a window sorts, about half the time at 1M rows.
    A window of another shape stays a window. Returns the whole query."""
    groups: dict[tuple[str, ...], list[str]] = {}
    pieces, position = [], 0
    for match in _AGGREGATE.finditer(select):
        if match.start() < position:
            continue
        end = _closing(select, match.end())
        spec = select[match.end() : end].strip() if end > 0 else ""
        if not spec.lower().startswith("partition by") or re.search(r"\b(order|rows|range|groups)\b", spec, re.I):
            continue
        partition = tuple(_top_level(spec[len("partition by") :]))
        aggregate = f"{match[1].lower()}({match[2]})"
        values = groups.setdefault(partition, [])
        if aggregate not in values:
            values.append(aggregate)
        g = list(groups).index(partition)
        pieces += [select[position : match.start()], f"_w{g}._v{values.index(aggregate)}"]
        position = end + 1
    if not groups:
        return f"select t.*, {select} from {source} as t"
    joins = []
    for g, (partition, values) in enumerate(groups.items()):
        keys = ", ".join(f"{p} as _k{k}" for k, p in enumerate(partition))
        aggregates = ", ".join(f"{v} as _v{i}" for i, v in enumerate(values))
        on = " and ".join(f"({p}) is not distinct from _w{g}._k{k}" for k, p in enumerate(partition))
        joins.append(f" left join (select {keys}, {aggregates} from {source} as t group by all) as _w{g} on {on}")
    return f"select t.*, {''.join(pieces) + select[position:]} from {source} as t{''.join(joins)}"


class KeyIndex:
    """The index of one contract's landing zone, attached to the validation's connection (module docstring)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        split: Split,
        partition_by: tuple[str, ...],
        readout_columns: frozenset,
    ):
        self.con, self.path, self.split = con, path, split
        self.partition_by, self.readout_columns = partition_by, readout_columns
        self.layout = layout(split, partition_by)
        self.last_update: dict = {}  #: what the last update did (rows indexed, affected, seconds)

    # ----------------------------------------------------------------------------------------- state
    def _attach(self, state: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con.execute(f"attach {q(str(self.path))} as kidx")
            found = self.con.execute("select state from kidx.meta").fetchall()
        except duckdb.Error:
            found = []
            self._detach()
            self.path.unlink(missing_ok=True)
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            self.con.execute(f"attach {q(str(self.path))} as kidx")
        if found != [(state,)]:  # another contract, validator or context: start afresh
            self._create(state)

    def _detach(self) -> None:
        try:
            self.con.execute("detach kidx")
        except duckdb.Error:
            pass

    def _create(self, state: str) -> None:
        lay, con = self.layout, self.con
        for (table,) in con.execute("select table_name from duckdb_tables() where database_name = 'kidx'").fetchall():
            con.execute(f"drop table kidx.{ident(table)}")
        types = dict(
            con.execute(
                f"select column_name, column_type from (describe select * from read_parquet({q(self._sample)}))"
            ).fetchall()
        )
        columns = ", ".join(f"{ident(c)} {types[c]}" for c in lay.keys)
        con.execute(f"create table kidx.keys (_file integer, _h ubigint, {columns})")
        con.execute("create table kidx.files (_file integer, source varchar, keys_sha256 varchar, rows bigint)")
        for i, window in enumerate(lay.coarse):
            parts = ", ".join(f"{ident(c)} {types[c]}" for c in window.partition)
            con.execute(f"create table kidx.agg{i} ({parts}, value {types[window.column]})")
        con.execute(
            "create table kidx.tally_labels (rule varchar, label varchar, considered bigint, failing bigint, "
            "counted bigint)"
        )
        con.execute("create table kidx.tally_experiments (rule varchar, e varchar, v integer, n bigint)")
        con.execute("create table kidx.tally_names (rule varchar, name varchar, n bigint)")
        con.execute("create table kidx.meta (state varchar)")
        con.execute("insert into kidx.meta values (?)", [state])

    # ---------------------------------------------------------------------------------------- update
    def tallies(self, files: dict[str, tuple[str, str]], state: str) -> dict[str, Tally]:
        """The rules' tallies over ``files`` (source -> (keys file, SHA-256 of the keys file)), after bringing
        the index up to date with them."""
        if not self.split.zone_rules:
            return {}
        self._sample = next(iter(files.values()))[0] if files else None
        if self._sample is None:
            return {rule.rule: Tally(readouts=Readouts(0, self.readout_columns)) for rule in self.split.zone_rules}
        self._attach(json.dumps([FORMAT, state, self.layout.closure, [c.__dict__ for c in self.layout.coarse]]))
        try:
            indexed = {
                source: (sha, file_id)
                for file_id, source, sha in self.con.execute(
                    "select _file, source, keys_sha256 from kidx.files"
                ).fetchall()
            }
            removed = sorted(fid for source, (sha, fid) in indexed.items() if files.get(source, (None, None))[1] != sha)
            added = sorted(s for s, (_, sha) in files.items() if indexed.get(s, (None,))[0] != sha)
            next_id = max([fid for _, fid in indexed.values()], default=-1) + 1
            # in steps of at most UPDATE_ROWS added rows, each committed: a first build over a whole landing zone in
            # one update held every key at once (out of memory at 100M events); each step is an update like any
            # other, so the counts are the same, and a step that fails leaves the steps before it indexed
            done: dict = {}
            # removed files with nothing added: one update that only takes them out
            for step, sources in enumerate(self._steps(added, files) or ([[]] if removed else [])):
                self._update(removed if step == 0 else [], {s: files[s] for s in sources}, next_id)
                next_id += len(sources)
                done = {key: done.get(key, 0) + value for key, value in self.last_update.items()}
                done["updates"] = step + 1
            self.last_update = done
            return self._read()
        finally:
            self._detach()

    def _steps(self, added: list[str], files: dict[str, tuple[str, str]]) -> list[list[str]]:
        """``added`` in consecutive groups of at most UPDATE_ROWS key rows (by the keys files' Parquet metadata;
        a file larger than that is a group of its own)."""
        if not added:
            return []
        paths = [files[s][0] for s in added]
        listed = ", ".join(q(p) for p in paths)
        counts = dict(self.con.execute(f"select file_name, num_rows from parquet_file_metadata([{listed}])").fetchall())
        if set(counts) != set(paths):  # every keys file is counted, or the steps would not be bounded
            raise duckdb.InvalidInputException(f"the keys files' row counts name {len(counts)} of {len(paths)} files")
        steps: list[list[str]] = [[]]
        rows = 0
        for source, path in zip(added, paths, strict=True):
            n = counts.get(path, 0)
            if steps[-1] and rows + n > UPDATE_ROWS:
                steps.append([])
                rows = 0
            steps[-1].append(source)
            rows += n
        return steps

    def _update(self, removed: list[int], added: dict[str, tuple[str, str]], next_id: int) -> None:
        con, lay = self.con, self.layout
        keys = ", ".join(ident(c) for c in lay.keys)
        h = f"hash({', '.join(ident(c) for c in lay.closure)})" if lay.closure else "0::ubigint"
        ids = {source: next_id + i for i, source in enumerate(sorted(added))}
        mapping = ", ".join(f"({q(path)}, {ids[s]})" for s, (path, _) in added.items()) or "(null, null)"
        con.execute(
            f"""create or replace temp table kidx_new as
            select m.id::integer as _file, {h}::ubigint as _h, {keys}
            from read_parquet([{", ".join(q(p) for p, _ in added.values())}], filename = true) as k
            join (values {mapping}) as m(path, id) on k.filename = m.path"""
            if added
            else "create or replace temp table kidx_new as select * from kidx.keys limit 0"
        )
        gone = f"_file in ({', '.join(map(str, removed))})" if removed else "false"
        # the coarse windows' values after the change: merged with the new rows, or recounted if rows left
        for i, w in enumerate(lay.coarse):
            part = ", ".join(ident(c) for c in w.partition)
            source = (
                f"select {part}, {w.function}({ident(w.column)}) as value from kidx.keys where not ({gone}) "
                f"group by all union all "
                if removed
                else f"select * from kidx.agg{i} union all "
            )
            con.execute(f"""create or replace temp table kidx_agg{i} as select {part}, {w.function}(value) as value
                from ({source} select {part}, {ident(w.column)} from kidx_new) group by all""")
        # the seeds: closure hashes of the rows added, removed, or in a coarse partition whose value moved
        seeds = ["select _h from kidx_new", f"select _h from kidx.keys where {gone}" if removed else None]
        for i, w in enumerate(lay.coarse):
            moved = (
                f"select o.* from kidx.agg{i} as o full join kidx_agg{i} as n on {_null_safe('o', 'n', w.partition)}"
                f" where o.value is distinct from n.value"
            )
            if con.execute(f"select count(*) from ({moved})").fetchone()[0]:
                changed = ", ".join(f"coalesce(o.{ident(c)}, n.{ident(c)}) as {ident(c)}" for c in w.partition)
                con.execute(f"""create or replace temp table kidx_moved{i} as select {changed}
                    from kidx.agg{i} as o full join kidx_agg{i} as n on {_null_safe("o", "n", w.partition)}
                    where o.value is distinct from n.value""")
                seeds.append(
                    f"select k._h from kidx.keys as k semi join kidx_moved{i} as m on "
                    f"{_null_safe('k', 'm', w.partition)}"
                )
        con.execute(
            "create or replace temp table kidx_seed as select distinct _h from ("
            + " union all ".join(s for s in seeds if s)
            + ")"
        )
        # A: the indexed rows sharing a closure value with a seed (found by the 64-bit hash alone)
        con.execute(
            "create or replace temp table kidx_old as select k.* from kidx.keys as k "
            "semi join kidx_seed as s on k._h = s._h"
            if lay.closure
            else "create or replace temp table kidx_old as select * from kidx.keys"
        )
        self._counts("select * from kidx_old", "kidx.agg", "before")
        self._counts(f"select * from kidx_old where not ({gone}) union all select * from kidx_new", "kidx_agg", "after")
        affected = con.execute("select count(*) from kidx_old").fetchone()[0]
        tables = (
            ("tally_labels", "rule, label", ("considered", "failing", "counted")),
            ("tally_experiments", "rule, e, v", ("n",)),
            ("tally_names", "rule, name", ("n",)),
        )
        for table, key, values in tables:  # the counts now: kept + after - before
            sums = ", ".join(f"sum({v})::bigint as {v}" for v in values)
            negated = ", ".join(f"-{v}" for v in values)
            con.execute(f"""create or replace temp table kidx_sum_{table} as
                select {key}, {sums} from (
                    select * from kidx.{table} union all select * from kidx_after_{table}
                    union all select {key}, {negated} from kidx_before_{table})
                group by all having {values[0]} <> 0""")
        rows = dict(con.execute("select _file, count(*) from kidx_new group by all").fetchall())
        con.execute("begin transaction")  # the index moves from one state to the next in one step
        try:
            for table, _, _ in tables:
                con.execute(f"delete from kidx.{table}")
                con.execute(f"insert into kidx.{table} select * from kidx_sum_{table}")
            for i in range(len(lay.coarse)):
                con.execute(f"delete from kidx.agg{i}")
                con.execute(f"insert into kidx.agg{i} select * from kidx_agg{i}")
            if removed:
                con.execute(f"delete from kidx.keys where {gone}")
                con.execute(f"delete from kidx.files where {gone}")
            con.execute("insert into kidx.keys select * from kidx_new")
            for source, (_, sha) in added.items():
                con.execute(
                    "insert into kidx.files values (?, ?, ?, ?)", [ids[source], source, sha, rows.get(ids[source], 0)]
                )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        self.last_update = {
            "added_files": len(added),
            "removed_files": len(removed),
            "affected_rows": affected,
            "added_rows": sum(rows.values()),
        }

    def _counts(self, rows_sql: str, aggregates: str, when: str) -> None:
        """The rules' counts over ``rows_sql`` (closed under every grouping) with the coarse windows of
        ``aggregates<i>``, into the temporary tables kidx_<when>_tally_*."""
        con, lay, readouts = self.con, self.layout, self.readout_columns
        joins = "".join(
            f" left join {aggregates}{i} as a{i} on {_null_safe('r', f'a{i}', w.partition)}"
            for i, w in enumerate(lay.coarse)
        )
        lookups = "".join(f", a{i}.value as _agg{i}" for i in range(len(lay.coarse)))
        base = f"select r.*{lookups} from ({rows_sql}) as r{joins}"
        flags = []
        for i, rule in enumerate(self.split.zone_rules):
            where = where_sql(rule.where)
            flags.append(f"({where}) as _in_{i}, ({where}) and {failing_sql(rule, where)} as _fail_{i}")
        # the contract's derived SQL (read.derived_sql's layers, one per column) and the flags, each window a
        # grouping joined back (``grouped``); one flat with: a nested one costs a quarter of a second at 1M rows
        layers = [f"d0 as ({base})"]
        for i, (name, expression) in enumerate(lay.zone_columns.items(), start=1):
            layers.append(f"d{i} as ({grouped(f'{expression} as {ident(name)}', f'd{i - 1}')})")
        last = f"d{len(lay.zone_columns)}"
        flagged = grouped(f"{label_sql(self.partition_by)} as _label, {', '.join(flags)}", last)
        con.execute("create or replace temp table kidx_flags as with " + ",\n".join(layers) + f"\n{flagged}")
        labels, experiments, names = [], [], []
        for i, rule in enumerate(self.split.zone_rules):
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
            labels.append(
                f"select {q(rule.rule)} as rule, _label as label, count(*) filter (where _in_{i}) as "
                f"considered, count(*) {fail} as failing, {counted} as counted from kidx_flags group by _label"
            )
            if "experiment_id" in readouts:
                version = "experiment_version" if "experiment_version" in readouts else "null::integer"
                both = " and experiment_version is not null" if "experiment_version" in readouts else ""
                experiments.append(
                    f"select {q(rule.rule)} as rule, experiment_id::varchar as e, {version}::integer as v, "
                    f"count(*) as n "
                    f"from kidx_flags where _fail_{i} and experiment_id is not null{both} group by all"
                )
            name = "metric_id" if "metric_id" in readouts else "event_name" if "event_name" in readouts else None
            if name:
                unnamed = " and experiment_id is null" if name == "event_name" and "experiment_id" in readouts else ""
                names.append(
                    f"select {q(rule.rule)} as rule, {name}::varchar as name, count(*) as n from kidx_flags "
                    f"where _fail_{i}{unnamed} and {name} is not null group by all"
                )
        for table, parts, shape in (
            (
                "tally_labels",
                labels,
                "null::varchar as rule, null::varchar as label, 0::bigint as considered, "
                "0::bigint as failing, 0::bigint as counted",
            ),
            (
                "tally_experiments",
                experiments,
                "null::varchar as rule, null::varchar as e, null::integer as v, 0::bigint as n",
            ),
            ("tally_names", names, "null::varchar as rule, null::varchar as name, 0::bigint as n"),
        ):
            con.execute(
                f"create or replace temp table kidx_{when}_{table} as "
                + " union all by name ".join([f"select {shape} where false", *parts])
            )

    def _read(self) -> dict[str, Tally]:
        found = {rule.rule: Tally(readouts=Readouts(0, self.readout_columns)) for rule in self.split.zone_rules}
        for rule, label, considered, failing, counted in self.con.execute(
            "select * from kidx.tally_labels where considered > 0 order by all"
        ).fetchall():
            found[rule].counts[label] = [int(counted), int(considered)]
            found[rule].readouts.rows += int(failing)
        for rule, e, v, _ in self.con.execute("select * from kidx.tally_experiments where n > 0").fetchall():
            found[rule].readouts.experiments.add((e, None if v is None else int(v)))
        metrics = "metric_id" in self.readout_columns
        for rule, name, _ in self.con.execute("select * from kidx.tally_names where n > 0").fetchall():
            (found[rule].readouts.metrics if metrics else found[rule].readouts.events).add(name)
        return found


def state_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


__all__ = ["KeyIndex", "Layout", "layout", "state_key", "READOUT_COLUMNS"]
