"""Raw validation file by file (readout.contracts.batches): a refresh validates only new landing files and
reports exactly what one validation of the whole landing zone reports; a cached file is validated again when
the as-of time moves a rule's bound across its rows or the experiments export changes; a landing file that
changed or disappeared after validation is an error naming it; the rules across files, counted in SQL, flag
the rows GX flags."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from contract_findings import findings

from readout.contracts import batches, load_contracts
from readout.contracts import main as contracts_main
from readout.contracts.cache import LandingChanged
from readout.contracts.validate import resolve_as_of, validate
from readout.simulate import main as simulate_main

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = load_contracts(REPO / "contracts")
#: every simulator fault (duplicates across files, a schema migration, malformed and future rows) in files of
#: two blocks of units, as of a time before the end of the timeline so that an append adds files
SIMULATION = ["--seed", "11", "--events", "12000", "--chunk-events", "2000", "--faults", "all", "--quiet"]
START = "2026-02-12T00:00:00Z"


def simulate(landing: Path, *args: str) -> None:
    assert simulate_main(["--out", str(landing), *SIMULATION, *args]) == 0


def raw(landing: Path, as_of: dt.datetime, **options):
    return validate("raw", CONTRACTS, names=["raw_events"], landing=landing, as_of=as_of, **options)


def one_frame(landing: Path, as_of: dt.datetime):
    """The reference: the whole landing zone in one frame through GX (the contract read as a snapshot)."""
    contract = CONTRACTS["raw_events"]
    snapshot = dataclasses.replace(contract, source={**contract.source, "files": "snapshot"})
    return validate("raw", {"raw_events": snapshot}, landing=landing, as_of=as_of)


def event_files(landing: Path) -> list[str]:
    return sorted(p.name for p in (landing / "events").glob("*.parquet"))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batches") / "landing"
    simulate(folder, "--as-of", START)
    assert len(event_files(folder)) >= 3  # several files, v1 and v2 side by side
    return folder


def test_a_refresh_validates_only_the_new_files_and_reports_what_a_full_validation_does(landing, tmp_path):
    zone = tmp_path / "landing"
    shutil.copytree(landing, zone)
    cache = tmp_path / "cache"
    first = raw(zone, resolve_as_of("manifest", zone), cache_dir=cache, batch_rows=4_000)
    before = event_files(zone)
    assert first.batches[0].validated == len(before) and first.batches[0].cached == 0
    simulate(zone, "--append", "--append-events", "5%")
    added = sorted(set(event_files(zone)) - set(before))
    assert added
    as_of = resolve_as_of("manifest", zone)  # the append moved it
    refresh = raw(zone, as_of, cache_dir=cache, batch_rows=4_000)
    summary = refresh.batches[0]
    # the new files, and the old ones holding rows the as-of moved across a bound (rows dated in the future
    # of the old as-of); the others come from the cache
    again = sum(summary.revalidated.values())
    assert all("as-of" in reason for reason in summary.revalidated), summary.sentence
    assert (summary.validated, summary.cached) == (len(added) + again, len(before) - again), summary.sentence
    assert summary.cached > 0
    full = raw(zone, as_of)  # nothing remembered, default batches
    assert findings(refresh) == findings(full)
    assert findings(full) == findings(one_frame(zone, as_of))
    fired = {o.rule_id for o in full.alarms}  # the rules across files did count something
    assert {"event_id_unique_per_source", "duplicate_payloads_agree", "one_schema_version_per_source"} <= fired
    unchanged = raw(zone, as_of, cache_dir=cache)
    assert (unchanged.batches[0].validated, unchanged.batches[0].cached) == (0, len(before) + len(added))
    assert findings(unchanged) == findings(full)


def test_cached_files_follow_the_as_of_time(landing, tmp_path):
    cache = tmp_path / "cache"
    as_of = resolve_as_of("manifest", landing)
    raw(landing, as_of, cache_dir=cache)
    later = raw(landing, as_of + dt.timedelta(hours=3), cache_dir=cache)  # no row crosses a bound
    assert later.batches[0].validated == 0 and later.batches[0].cached == len(event_files(landing))
    # two days earlier, the rows received in those days are in the future: their files are validated again
    earlier_as_of = as_of - dt.timedelta(days=2)
    earlier = raw(landing, earlier_as_of, cache_dir=cache)
    summary = earlier.batches[0]
    assert summary.validated > 0 and any("as-of" in reason for reason in summary.revalidated), summary.sentence
    expected = raw(landing, earlier_as_of)
    assert findings(earlier) == findings(expected)
    future = next(o for o in expected.outcomes if o.rule_id == "received_at_not_in_future")
    assert future.count > 0


def test_a_changed_experiments_export_validates_every_file_again(landing, tmp_path):
    zone = tmp_path / "landing"
    shutil.copytree(landing, zone)
    cache = tmp_path / "cache"
    as_of = resolve_as_of("manifest", zone)
    raw(zone, as_of, cache_dir=cache)
    export = zone / "experiments" / "experiments.parquet"
    table = pq.read_table(export)
    pq.write_table(table.slice(1), export)  # one variant less: its events are now unknown_variant
    refreshed = raw(zone, as_of, cache_dir=cache)
    assert refreshed.batches[0].cached == 0 and "experiments export" in refreshed.batches[0].sentence
    assert findings(refreshed) == findings(raw(zone, as_of))


def test_a_changed_or_deleted_landing_file_is_an_error_naming_it(landing, tmp_path, capsys):
    zone = tmp_path / "landing"
    shutil.copytree(landing, zone)
    cache = tmp_path / "cache"
    as_of = resolve_as_of("manifest", zone)
    raw(zone, as_of, cache_dir=cache)
    changed = zone / "events" / event_files(zone)[0]
    pq.write_table(pq.read_table(changed).slice(1), changed)  # one row fewer
    with pytest.raises(LandingChanged, match=f"landing file {changed} changed after it was validated on "):
        raw(zone, as_of, cache_dir=cache)
    # on the command line: one line naming the file, exit 2; --full validates the landing zone afresh
    args = [
        "validate",
        "--stage",
        "raw",
        "--contract",
        "raw_events",
        "--landing",
        str(zone),
        "--as-of",
        "manifest",
        "--no-docs",
        "--fail-on",
        "never",
        "--cache-dir",
        str(cache),
    ]
    assert contracts_main(args) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(changed) in error[0] and "--full" in error[0], error
    assert contracts_main([*args, "--full", "--quiet"]) == 0
    assert contracts_main([*args, "--quiet"]) == 0  # the cache now holds the rewritten file
    gone = zone / "events" / event_files(zone)[-1]
    gone.unlink()
    with pytest.raises(LandingChanged, match=f"landing file {gone} .* is gone"):
        raw(zone, as_of, cache_dir=cache)
    capsys.readouterr()


def test_rules_across_files_flag_the_rows_gx_flags():
    """zone.py writes each expectation a rule across files may use as SQL: on a frame with nulls, ties and a
    row condition it flags exactly the rows GX flags."""
    import duckdb
    import pandas as pd

    from readout.contracts.docs import GxRunner
    from readout.contracts.evaluate import tally
    from readout.contracts.load import Rule
    from readout.contracts.suites import SuiteSpec
    from readout.contracts.zone import failing_sql, where_sql

    frame = pd.DataFrame(
        {
            "a": pd.array(["x", "x", "y", None, "y", "z", None, "x", None], dtype="string"),
            "b": pd.array([1, 1, 2, 2, None, 3, None, 1, 2], dtype="Int32"),
            "v": [0.5, 2.0, None, -1.0, 1.0, 1.5, 3.0, 0.0, 0.2],
            "flag": pd.array([True, False, None, True, False, True, None, False, True], dtype="boolean"),
        }
    )

    def rule(name, expect, where=None, **kwargs):
        return Rule(rule=name, expect=expect, kwargs=kwargs, level="row", says=name, where=where)

    rules = (
        rule(
            "pairs_unique_any",
            "expect_compound_columns_to_be_unique",
            column_list=["a", "b"],
            ignore_row_if="any_value_is_missing",
        ),
        rule("pairs_unique_all", "expect_compound_columns_to_be_unique", column_list=["a", "b"]),
        rule("a_unique", "expect_column_values_to_be_unique", column="a"),
        rule("a_unique_where", "expect_column_values_to_be_unique", column="a", where={"b": {"!=": 2}}),
        rule(
            "v_between", "expect_column_values_to_be_between", column="v", min_value=0, max_value=1.5, strict_max=True
        ),
        rule("flag_true", "expect_column_values_to_be_in_set", column="flag", value_set=[True]),
        rule("a_not_z", "expect_column_values_to_not_be_in_set", column="a", value_set=["z"]),
        rule("b_present_for_x", "expect_column_values_to_not_be_null", column="b", where={"a": {"in": ["x", "y"]}}),
        rule("v_null_unless_x", "expect_column_values_to_be_null", column="v", where={"a": {"not_in": ["x"]}}),
    )
    spec = SuiteSpec("sql_check.rows", "rows", CONTRACTS["raw_events"], rules)
    batch = tally(spec, frame, GxRunner(None).run(spec, frame))
    con = duckdb.connect()
    con.register("frame", frame.assign(_i=range(len(frame))))
    for item in rules:
        where = where_sql(item.where)
        flags = f"select _i, ({where}) and {failing_sql(item, where)} as failing from frame"
        flagged = {i for (i,) in con.execute(f"select _i from ({flags}) where failing").fetchall()}
        assert flagged and flagged == set(batch.failing[item.rule]), item.rule
    # a pair with one value missing counts unless the rule ignores rows with any value missing
    assert set(batch.failing["pairs_unique_all"]) - set(batch.failing["pairs_unique_any"]) == {3, 8}


def test_small_files_validated_together_give_each_file_what_it_gets_alone(landing, tmp_path, monkeypatch):
    """GX costs about a second per run whatever the rows, so small new files of one shape are validated in one
    run (batches.validate_pack); each file's remembered validation is the one it gets validated alone."""
    as_of = resolve_as_of("manifest", landing)
    alone_calls = []
    validate_file = batches.validate_file
    monkeypatch.setattr(batches, "validate_file", lambda *a, **k: alone_calls.append(a[1]) or validate_file(*a, **k))
    packed = raw(landing, as_of, cache_dir=tmp_path / "packed")
    files = event_files(landing)
    assert len(alone_calls) < len(files) - 1, "the small files should have been validated together"
    monkeypatch.setattr(batches, "PACK_FILES", False)
    alone = raw(landing, as_of, cache_dir=tmp_path / "alone")
    assert findings(packed) == findings(alone)
    assert {o.rule_id for o in alone.alarms} >= {"event_id_unique_per_source", "one_schema_version_per_source"}

    def remembered(folder: Path) -> dict:
        """Per file: its validation (but when it ran) and its keys file's rows (in any order)."""
        (path,) = folder.rglob("raw_events.json")
        out = {}
        for source, entry in json.loads(path.read_text())["files"].items():
            validation = {k: v for k, v in entry["validation"].items() if k not in ("validated_at", "keys_sha256")}
            keys = path.parent / "raw_events.keys" / f"{entry['footer_sha256'][:20]}.parquet"
            rows = sorted(map(str, pq.read_table(keys).to_pylist())) if validation["keys"] else None
            out[source] = (validation, rows)
        return out

    assert remembered(tmp_path / "packed") == remembered(tmp_path / "alone")
