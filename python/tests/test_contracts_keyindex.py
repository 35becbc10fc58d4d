"""The key index (readout.contracts.keyindex) counts the rules across landing files incrementally: after every
step of a timeline of batches (retries and conflicting copies arriving in later files, an event_id shared by
two producers, a producer falling back to an older schema version, null ids, a file taken out, a file whose
keys changed) its counts equal counting the whole zone afresh (zone.count_zone, itself held equal to GX in
test_contracts_batches.py), and a new batch reads only the rows sharing an event_id with it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from readout.contracts import keyindex, load_contracts
from readout.contracts.batches import plan
from readout.contracts.keyindex import KeyIndex, layout
from readout.contracts.suites import suite_specs
from readout.contracts.zone import count_zone

REPO = Path(__file__).resolve().parents[2]
CONTRACT = load_contracts(REPO / "contracts")["raw_events"]
PLAN = plan(CONTRACT, next(s for s in suite_specs(CONTRACT) if s.kind == "rows"))
TYPES = {
    "event_id": pa.string(),
    "event_name": pa.string(),
    "schema_version": pa.int32(),
    "source_system": pa.string(),
    "experiment_id": pa.string(),
    "experiment_version": pa.int32(),
    "payload_hash": pa.uint64(),
}


def row(event_id, source="web", payload=1, version=1, name="page_view", experiment=None):
    return {
        "event_id": event_id,
        "event_name": name,
        "schema_version": version,
        "source_system": source,
        "experiment_id": experiment,
        "experiment_version": 1 if experiment else None,
        "payload_hash": payload,
    }


def batch(first: int, count: int, source: str = "web", version: int = 1) -> list[dict]:
    return [
        row(f"e{i}", source, payload=i, version=version, experiment="exp_a" if i % 3 == 0 else None)
        for i in range(first, first + count)
    ]


#: the timeline: each step adds (or replaces) files by name, or takes one out (None)
STEPS = [
    {"a": batch(0, 300), "b": batch(300, 300, "ios", 2)},
    {"c": batch(600, 200) + [row("e5"), row("e7", payload=99, experiment="exp_b")]},  # a retry and a conflict
    {"d": batch(800, 100, "android") + [row("e301", "web"), row(None, "web"), row(None, "ios")]},  # shared id, nulls
    {"e": batch(900, 50, "ios", 1) + [row("e302", "ios", payload=302, version=1)]},  # ios back on v1, a retry
    {"f": [row(None, "web"), row("e950", "web", name="purchase")]},
    {"c": None},  # a file taken out: its retry and conflict go with it
    {"b": batch(300, 250, "ios", 2) + [row("e0", "ios", payload=5)]},  # a file whose keys changed
    {"a": None, "g": batch(0, 10) + [row("e10", payload=-1 % 2**64)]},
]


def write(folder: Path, name: str, rows: list[dict], generation: int) -> tuple[str, str]:
    path = folder / f"{name}.{generation}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([(c, TYPES[c]) for c in PLAN.zone.key_columns])), path)
    return str(path), f"{name}-{generation}"


def as_dicts(tallies: dict) -> dict:
    return {
        rule: (t.counts, t.readouts.rows, t.readouts.experiments, t.readouts.events, t.error)
        for rule, t in tallies.items()
    }


def test_the_layout_of_the_raw_events_contract():
    lay = layout(PLAN.zone, PLAN.rows_spec.partition_by)
    assert set(PLAN.zone.key_columns) == set(TYPES)
    assert lay.closure == ("event_id",)  # every fine grouping contains it
    assert [(w.function, w.column, w.partition) for w in lay.coarse] == [("min", "schema_version", ("source_system",))]


@pytest.mark.parametrize("update_rows", [5_000_000, 150])
def test_the_index_counts_what_the_whole_zone_counts_at_every_step(tmp_path, monkeypatch, update_rows):
    # 150: the files are added in updates of at most 150 rows (a file of more is an update of its own), as a
    # landing zone of 100M events is, several updates per call
    monkeypatch.setattr(keyindex, "UPDATE_ROWS", update_rows)
    con = duckdb.connect()
    files: dict[str, tuple[str, str]] = {}
    index = KeyIndex(con, tmp_path / "index.duckdb", PLAN.zone, PLAN.rows_spec.partition_by, PLAN.readout_columns)
    flagged = set()
    for generation, step in enumerate(STEPS):
        for name, rows in step.items():
            if rows is None:
                files.pop(name)
            else:
                files[name] = write(tmp_path, name, rows, generation)
        found = index.tallies(dict(files), "state")
        afresh = count_zone(
            con, PLAN.zone, PLAN.rows_spec.partition_by, [p for p, _ in files.values()], PLAN.readout_columns
        )
        assert as_dicts(found) == as_dicts(afresh), f"step {generation}"
        flagged |= {rule for rule, t in found.items() if t.readouts.rows}
        again = KeyIndex(con, tmp_path / "index.duckdb", PLAN.zone, PLAN.rows_spec.partition_by, PLAN.readout_columns)
        assert as_dicts(again.tallies(dict(files), "state")) == as_dicts(afresh)  # read back, nothing to update
        assert again.last_update == {}
    assert flagged == {r.rule for r in PLAN.zone.zone_rules}  # the timeline exercised every rule across files
    # a new batch of new ids reads no earlier row; one retry brings exactly its event_id's rows
    files["h"] = write(tmp_path, "h", batch(5000, 40), 99)
    index.tallies(dict(files), "state")
    assert index.last_update == {
        "added_files": 1,
        "removed_files": 0,
        "affected_rows": 0,
        "added_rows": 40,
        "updates": 1,
    }
    files["i"] = write(tmp_path, "i", [row("e5000", payload=7)], 99)
    index.tallies(dict(files), "state")
    assert index.last_update["affected_rows"] == 1
    # another state (contract, validator, as-of) starts the index afresh, with the same counts
    fresh = index.tallies(dict(files), "another state")
    assert index.last_update["added_files"] == len(files)
    assert index.last_update["added_rows"] == sum(pq.read_metadata(p).num_rows for p, _ in files.values())
    # at 150 rows: b (251 rows, alone), d (103), then e, f, g, h and i (105 rows together)
    assert index.last_update["updates"] == (1 if update_rows > 1000 else 3)
    assert as_dicts(fresh) == as_dicts(
        count_zone(con, PLAN.zone, PLAN.rows_spec.partition_by, [p for p, _ in files.values()], PLAN.readout_columns)
    )


@pytest.mark.parametrize("broken", ["garbage", "empty"])
def test_an_unreadable_index_is_rebuilt(tmp_path, broken):
    con = duckdb.connect()
    files = {"a": write(tmp_path, "a", batch(0, 20) + [row("e1", payload=9)], 0)}
    path = tmp_path / "index.duckdb"
    path.write_bytes(b"not a database" if broken == "garbage" else b"")
    found = KeyIndex(con, path, PLAN.zone, PLAN.rows_spec.partition_by, PLAN.readout_columns).tallies(files, "s")
    assert as_dicts(found) == as_dicts(
        count_zone(con, PLAN.zone, PLAN.rows_spec.partition_by, [files["a"][0]], PLAN.readout_columns)
    )


def test_grouped_gives_every_row_what_its_window_gives():
    """keyindex.grouped: simple windows as groupings joined back, against DuckDB's own windows, over null and NaN
    partition keys, a partition by an expression, two aggregates of one partition, and a window it must leave
    alone (an order by)."""
    con = duckdb.connect()
    con.execute("""create table rows as select * from (values
        (1, 'a', 'x', 1.0), (2, 'a', 'x', 2.0), (3, 'a', null, 5.0), (4, null, 'x', 3.0), (5, null, null, null),
        (6, null, null, 7.0), (7, 'b', 'y', 'nan'::double), (8, 'b', 'y', 1.0), (9, 'c', 'z', null)
    ) as r(id, g, h, v)""")
    select = (
        "min(t.v) over (partition by t.g, t.h) as lo, max(t.v) over (partition by t.g, t.h) as hi, "
        "count(*) over (partition by (t.v is not null), t.g) > 1 as shared, "
        "coalesce(max(t.h) over (partition by t.g), '-') || 'x' as top, "
        "count(*) over (partition by t.g order by t.id) as running"
    )
    rewritten = keyindex.grouped(select, "rows")
    assert rewritten.count(" over ") == 1  # the four simple windows are groupings; the ordered one stays
    assert rewritten.count("group by all") == 3  # (g, h) holds two aggregates
    expected = con.execute(f"select t.*, {select} from rows as t order by id").fetchall()
    got = con.execute(f"select * from ({rewritten}) order by id").fetchall()
    assert [tuple(map(repr, r)) for r in got] == [tuple(map(repr, r)) for r in expected]  # NaN as NaN
    assert keyindex.grouped("t.v + 1 as w", "rows") == "select t.*, t.v + 1 as w from rows as t"


def test_the_index_counts_the_raw_events_rules_without_a_window(tmp_path):
    """The key index's counting query holds no window for the raw events contract: each is a grouping."""
    con = duckdb.connect()
    statements = []

    class Recording:
        def execute(self, sql, *args):
            statements.append(sql)
            return con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(con, name)

    index = KeyIndex(
        Recording(), tmp_path / "index.duckdb", PLAN.zone, PLAN.rows_spec.partition_by, PLAN.readout_columns
    )
    index.tallies({"a": write(tmp_path, "a", batch(0, 20) + [row("e1", payload=9)], 0)}, "state")
    flags = [s for s in statements if "temp table kidx_flags" in s]
    assert flags and all(" over " not in " ".join(s.split()) for s in flags)
