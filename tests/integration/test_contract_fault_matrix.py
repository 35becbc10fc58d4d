"""Issue 6, the fault matrix: every fault the simulator can plant, and faults crafted here, is flagged by a
data contract (contracts/*.yml) or a dbt test, with the table, rule, count and severity; the clean
simulation raises no alarm in either layer. The matrix is printed as a table.

Cost control (2 cores, about 2-3 minutes): raw-stage faults are simulated one at a time and only the raw
contracts are validated (no dbt). Mart-stage faults need `dbt build`: one build of a clean simulation and
one with every fault planted. variant_logging_loss (30% of one arm's iOS exposures never logged) is only
detectable with enough units, hence the larger all-faults build. Faults crafted on the marts corrupt a
copy of the clean warehouse and are validated by the contracts only (dbt is not re-run on them).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from readout.contracts import load_contracts
from readout.contracts.validate import Outcome, resolve_as_of, validate
from readout.landing import ensure_landing_tables
from readout.simulate import main as simulate_main

from e2e import PROJECT, dbt, dbt_build

SEED = 5
RAW_EVENTS = 40_000  #: per-fault raw simulations
CLEAN_EVENTS = 40_000  #: the clean build
BUILD_EVENTS = 100_000  #: the all-faults build (variant_logging_loss needs about this many units)
CONTRACTS = load_contracts(PROJECT / "contracts")

#: simulator fault -> (stage, the contract rules that must flag it, other rules it may also trip)
SIMULATOR_FAULTS: dict[str, tuple[str, set[tuple[str, str]], set[tuple[str, str]]]] = {
    "duplicate_retries": ("raw", {("raw_events", "event_id_unique_per_source")}, set()),
    "conflicting_duplicates": ("raw", {("raw_events", "duplicate_payloads_agree"),
                                       ("raw_events", "event_id_unique_per_source")}, set()),
    "unknown_ids": ("raw", {("raw_events", "experiment_known"), ("raw_events", "variant_known")}, set()),
    "malformed_rows": ("raw", {("raw_events", "event_id_present"), ("raw_events", "unit_id_present"),
                               ("raw_events", "event_at_parseable"), ("raw_events", "event_at_within_clock_skew"),
                               ("raw_events", "revenue_non_negative")},
                       {("raw_events", "event_at_not_in_future")}),
    "mixed_schema_versions": ("raw", {("raw_events", "one_schema_version_per_source")}, set()),
    "bot_traffic": ("marts", {("fct_experiment_units", "bot_and_internal_share")}, set()),
    "variant_logging_loss": ("marts", {("fct_experiment_units", "exposure_logging.no_missing_exposures")}, set()),
    "cross_variant_units": ("marts", {("fct_experiment_units", "not_in_several_variants")}, set()),
    "exposure_before_assignment": ("marts", {("fct_experiment_units", "not_exposed_before_assigned")}, set()),
    "exposure_outside_window": ("marts", {("fct_experiment_units", "not_exposed_outside_window")}, set()),
}
#: planted sub-counts the raw contract must count exactly: fault -> {manifest sub-count: rule}
EXACT_RAW_COUNTS = {
    "duplicate_retries": {None: "event_id_unique_per_source"},
    "conflicting_duplicates": {None: "duplicate_payloads_agree"},
    "unknown_ids": {"unknown_experiment": "experiment_known", "unknown_variant": "variant_known"},
    "malformed_rows": {"missing_event_id": "event_id_present", "missing_unit_id": "unit_id_present",
                       "unparseable_event_at": "event_at_parseable", "future_event_at": "event_at_within_clock_skew",
                       "negative_revenue": "revenue_non_negative"},
    "mixed_schema_versions": {None: "one_schema_version_per_source"},
}
EXACT_MART_COUNTS = {  # planted units = flagged units (each planted unit is in one experiment version)
    "cross_variant_units": "not_in_several_variants",
    "exposure_before_assignment": "not_exposed_before_assigned",
    "exposure_outside_window": "not_exposed_outside_window",
}


# ------------------------------------------------------------------------------------------ helpers
@dataclass
class MatrixRow:
    fault: str
    origin: str  # simulator | crafted
    planted: str
    alarms: list[Outcome]
    dbt: str  # what dbt's tests said, or why they did not run
    expected: set[tuple[str, str]] = field(default_factory=set)

    @property
    def layers(self) -> str:
        stages = sorted({o.contract.stage for o in self.alarms})
        caught = [f"contracts ({', '.join(stages)})"] if stages else []
        if self.dbt.startswith("FAIL"):
            caught.append("dbt tests")
        return " + ".join(caught) or "NOT CAUGHT"


def simulate(out: Path, faults: str, events: int, *extra: str) -> dict:
    code = simulate_main(["--seed", str(SEED), "--events", str(events), "--faults", faults, "--out", str(out),
                          "--quiet", *extra])
    assert code == 0, f"readout simulate --faults {faults} exited {code}"
    return json.loads((out / "manifest.json").read_text())


def raw_report(landing: Path, as_of: dt.datetime | None = None, names=("raw_events", "raw_experiments")):
    return validate("raw", CONTRACTS, names=list(names), landing=landing,
                    as_of=as_of or resolve_as_of("manifest", landing))


def build(landing: Path, warehouse: Path, *select: str) -> tuple[str, list[str]]:
    """dbt build (whole project, or --select): 'PASS (n tests)' or 'FAIL: <tests>'."""
    ensure_landing_tables(landing)
    target = warehouse.parent / f"target-{warehouse.stem}"
    args = ("--target-path", str(target), "--log-path", str(target / "logs"))
    if select:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        result = dbt("build", "--select", *select, *args, landing=landing, warehouse=warehouse, check=False)
    else:
        result = dbt_build(landing, warehouse, *args, check=False)
    run_results = json.loads((target / "run_results.json").read_text())["results"]
    tests = [r for r in run_results if r["unique_id"].startswith(("test.", "unit_test."))]
    failed = sorted(r["unique_id"].split(".")[2] for r in tests if r["status"] in ("fail", "error"))
    errors = [r["unique_id"] for r in run_results if r["status"] == "error" and not r["unique_id"].startswith("test.")]
    assert not errors, f"dbt build errored (not a test failure): {errors}\n{result.stdout[-3000:]}"
    return (f"FAIL: {', '.join(failed)}" if failed else f"pass ({len(tests)} tests)"), failed


def fired(report) -> set[tuple[str, str]]:
    return {(o.contract.name, o.rule_id) for o in report.alarms}


def outcome(report, contract: str, rule: str) -> Outcome:
    return next(o for o in report.outcomes if o.contract.name == contract and o.rule_id == rule)


def rewrite(path: Path, change) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def sentences(report) -> str:
    return "\n".join(o.sentence for o in report.alarms)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fault_matrix")


@pytest.fixture(scope="module")
def clean(root):
    landing = root / "clean"
    manifest = simulate(landing, "none", CLEAN_EVENTS)
    raw = raw_report(landing)
    warehouse = root / "clean.duckdb"
    dbt_status, _ = build(landing, warehouse)
    marts = validate("marts", CONTRACTS, warehouse=warehouse)
    return {"landing": landing, "manifest": manifest, "raw": raw, "warehouse": warehouse, "dbt": dbt_status,
            "marts": marts}


@pytest.fixture(scope="module")
def all_faults(root):
    landing = root / "all"
    manifest = simulate(landing, "all", BUILD_EVENTS)
    warehouse = root / "all.duckdb"
    dbt_status, _ = build(landing, warehouse)
    marts = validate("marts", CONTRACTS, warehouse=warehouse)
    return {"manifest": manifest, "dbt": dbt_status, "marts": marts}


@pytest.fixture(scope="module")
def matrix(root, clean, all_faults) -> list[MatrixRow]:
    rows: list[MatrixRow] = []
    for fault, (stage, required, _) in SIMULATOR_FAULTS.items():
        if stage == "raw":
            landing = root / f"sim-{fault}"
            manifest = simulate(landing, fault, RAW_EVENTS)
            report = raw_report(landing, names=["raw_events"])
            dbt_status = "not run (raw stage)"
        else:
            manifest, report, dbt_status = all_faults["manifest"], all_faults["marts"], all_faults["dbt"]
        entry = manifest["faults"][fault]
        planted = f"{entry['count']:,} {entry['unit']}"
        alarms = [o for o in report.alarms
                  if stage == "raw" or (o.contract.name, o.rule_id) in SIMULATOR_FAULTS[fault][1]]
        row = MatrixRow(fault, "simulator", planted, alarms, dbt_status, required)
        row.report, row.manifest = report, manifest
        rows.append(row)
    rows += crafted_raw_faults(root, clean)
    rows += crafted_mart_faults(root, clean)
    return rows


# ------------------------------------------------------------------------------------- crafted faults
def _clean_copy(root: Path, clean: dict, name: str) -> Path:
    landing = root / f"crafted-{name}"
    shutil.copytree(clean["landing"], landing, ignore=shutil.ignore_patterns("imports"))
    return landing


def _events_file(landing: Path) -> Path:
    return sorted((landing / "events").glob("part-*.parquet"))[0]


def crafted_raw_faults(root: Path, clean: dict) -> list[MatrixRow]:
    rows = []

    def add(name, landing, expected, planted, report=None, dbt_status="not run (raw stage)"):
        report = report or raw_report(landing)
        row = MatrixRow(name, "crafted", planted, report.alarms, dbt_status, expected)
        row.report = report
        rows.append(row)

    landing = _clean_copy(root, clean, "renamed_column")
    rewrite(_events_file(landing), lambda t: t.rename_columns(
        ["anon_id" if c == "anonymous_id" else c for c in t.column_names]))
    add("renamed column (anonymous_id -> anon_id)", landing,
        {("raw_events", "schema_v1.columns_and_types"), ("raw_events", "unit_id_present")}, "1 file")

    landing = _clean_copy(root, clean, "changed_type")
    rewrite(_events_file(landing), lambda t: t.set_column(
        t.column_names.index("experiment_version"), "experiment_version",
        pc.cast(t["experiment_version"], pa.string())))
    add("changed type (experiment_version int32 -> string)", landing,
        {("raw_events", "schema_v1.columns_and_types")}, "1 column")

    landing = _clean_copy(root, clean, "unknown_event_name")
    renamed = {}

    def page_views(t):
        names = t["event_name"].to_pylist()
        sources = t["source_system"].to_pylist()
        count = 0
        for i, (name, source) in enumerate(zip(names, sources)):
            if name == "session_start" and source == "ios" and i % 20 == 0:
                names[i] = "page_view"
                count += 1
        renamed["count"] = count
        return t.set_column(t.column_names.index("event_name"), "event_name", pa.array(names, pa.string()))

    rewrite(_events_file(landing), page_views)
    add("unknown event name (page_view on ios)", landing,
        {("raw_events", "event_name_allowed"), ("raw_events", "quarantined_share")}, f"{renamed['count']:,} rows")

    landing = _clean_copy(root, clean, "null_flood")
    flooded = {}

    def null_flood(t):
        sources = t["source_system"].to_pylist()
        mask = [source == "ios" and i % 4 == 0 for i, source in enumerate(sources)]
        flooded["count"] = sum(mask)
        mask = pa.array(mask)
        for column in ("anonymous_id", "user_id"):
            index = t.column_names.index(column)
            t = t.set_column(index, column, pc.if_else(mask, pa.scalar(None, pa.string()), t[column]))
        return t

    rewrite(_events_file(landing), null_flood)
    add("null flood (unit ids null on 25% of ios rows)", landing,
        {("raw_events", "unit_id_present"), ("raw_events", "quarantined_share")}, f"{flooded['count']:,} rows")

    landing = root / "crafted-stale"
    simulate(landing, "none", RAW_EVENTS, "--as-of", "2026-02-05T00:00:00Z")
    add("stale data (nothing received for 2 days)", landing,
        {("raw_events", "freshness.warn"), ("raw_events", "freshness.error")}, "48 hours",
        report=raw_report(landing, as_of=dt.datetime(2026, 2, 7)))

    landing = _clean_copy(root, clean, "weights")
    experiments = landing / "experiments" / "experiments.parquet"

    def weights(t):
        ids, variants = t["experiment_id"].to_pylist(), t["variant_id"].to_pylist()
        values = [0.4 if (e, v) == ("exp_checkout_button", "treatment") else w
                  for e, v, w in zip(ids, variants, t["allocation_weight"].to_pylist())]
        return t.set_column(t.column_names.index("allocation_weight"), "allocation_weight", pa.array(values))

    rewrite(experiments, weights)
    add("variant weights sum to 0.9 (export)", landing, {("raw_experiments", "weights_sum_to_one")}, "2 rows",
        report=raw_report(landing, names=["raw_experiments"]))

    landing = _clean_copy(root, clean, "two_controls")
    experiments = landing / "experiments" / "experiments.parquet"

    def two_controls(t):
        ids = t["experiment_id"].to_pylist()
        values = [True if e == "exp_homepage_aa" else c for e, c in zip(ids, t["is_control"].to_pylist())]
        return t.set_column(t.column_names.index("is_control"), "is_control", pa.array(values))

    rewrite(experiments, two_controls)
    dbt_status, _ = build(landing, root / "two_controls.duckdb", "+int_experiment_versions")
    add("two controls in one experiment version (export)", landing, {("raw_experiments", "one_control")},
        "2 rows", report=raw_report(landing, names=["raw_experiments"]), dbt_status=dbt_status)
    return rows


def crafted_mart_faults(root: Path, clean: dict) -> list[MatrixRow]:
    faults = [
        ("interval lower bound above the estimate", "fct_metric_results", "absolute_lift_above_lower", "1 row",
         "update marts.fct_metric_results set absolute_lift_ci_lower = absolute_lift + 1 "
         "where rowid = (select min(rowid) from marts.fct_metric_results where absolute_lift is not null)"),
        ("p-value outside [0, 1]", "fct_metric_results", "p_value_in_unit_interval_p_value", "1 row",
         "update marts.fct_metric_results set p_value = 1.5 "
         "where rowid = (select min(rowid) from marts.fct_metric_results where p_value is not null)"),
        ("two SRM results in one version x population", "fct_sample_ratio_checks",
         "one_result_per_version_and_population", "1 row",
         "update marts.fct_sample_ratio_checks set p_value = p_value / 2 "
         "where rowid = (select min(rowid) from marts.fct_sample_ratio_checks where p_value is not null)"),
        ("n_units = 0 in the metric mart", "fct_variant_metric_stats", "n_units_positive", "1 row",
         "update marts.fct_variant_metric_stats set n_units = 0 "
         "where rowid = (select min(rowid) from marts.fct_variant_metric_stats)"),
        ("dropped mart column (ci_method)", "fct_metric_results", "schema_v1.columns_and_types", "1 column",
         "alter table marts.fct_metric_results drop column ci_method"),
        ("duplicate first exposure", "int_exposures_deduplicated_to_first_per_unit", "one_row_per_unit_and_version",
         "1 row", "insert into intermediate.int_exposures_deduplicated_to_first_per_unit "
                  "select * from intermediate.int_exposures_deduplicated_to_first_per_unit limit 1"),
    ]
    rows = []
    for name, contract, rule, planted, sql in faults:
        warehouse = root / f"crafted-{rule}.duckdb"
        shutil.copy(clean["warehouse"], warehouse)
        with duckdb.connect(str(warehouse)) as con:
            con.execute(sql)
        report = validate("marts", CONTRACTS, names=[contract], warehouse=warehouse)
        row = MatrixRow(name, "crafted", planted, report.alarms, "not run (corrupted after the build)",
                        {(contract, rule)})
        row.report = report
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------- tests
def format_matrix(rows: list[MatrixRow], clean: dict) -> str:
    header = ("fault", "origin", "planted", "caught by", "contract [rule]", "severity", "count", "dbt tests")
    lines = [header]
    for row in rows:
        alarms = sorted(row.alarms, key=lambda o: ((o.contract.name, o.rule_id) not in row.expected, o.rule_id))
        if not alarms:
            lines.append((row.fault, row.origin, row.planted, row.layers, "-", "-", "-", row.dbt))
        for i, o in enumerate(alarms):
            first = i == 0
            lines.append((row.fault if first else "", row.origin if first else "", row.planted if first else "",
                          row.layers if first else "", f"{o.contract.name} [{o.rule_id}]", o.severity.upper(),
                          o.count_text, row.dbt if first else ""))
    for stage in ("raw", "marts"):
        report = clean[stage]
        lines.append(("(clean simulation)", "simulator", "none", f"contracts ({stage})",
                      f"{len(report.outcomes)} rules evaluated", "none", f"{len(report.alarms)} alarms",
                      clean["dbt"] if stage == "marts" else "not run (raw stage)"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
        if n == 0:
            out.append("-+-".join("-" * width for width in widths))
    return "\n".join(out)


def test_clean_simulation_raises_no_alarm(clean):
    assert not clean["raw"].alarms, "the clean simulation breaks a raw contract:\n" + sentences(clean["raw"])
    assert not clean["marts"].alarms, "the clean build breaks a mart contract:\n" + sentences(clean["marts"])
    assert clean["dbt"].startswith("pass"), clean["dbt"]
    assert len(clean["raw"].outcomes) > 40 and len(clean["marts"].outcomes) > 60


def test_every_fault_is_flagged_with_table_rule_count_and_severity(matrix, clean, capsys):
    with capsys.disabled():
        print("\n\nContract fault matrix (seed %d; raw faults on %s events, mart faults on %s):\n"
              % (SEED, f"{RAW_EVENTS:,}", f"{BUILD_EVENTS:,}"))
        print(format_matrix(matrix, clean))
        print()
    assert {row.fault for row in matrix if row.origin == "simulator"} == set(SIMULATOR_FAULTS)
    for row in matrix:
        flagged = {(o.contract.name, o.rule_id) for o in row.alarms}
        missing = row.expected - flagged
        assert not missing, f"{row.fault}: not flagged by {sorted(missing)}; alarms:\n" + \
            "\n".join(o.sentence for o in row.alarms)
        for o in row.alarms:
            assert o.severity in ("warning", "error") and o.count > 0
            assert o.sentence.startswith(f"{o.severity.upper()} {o.contract.name} [{o.rule_id}]: ")
            assert "this affects" in o.sentence and ", so " in o.sentence


def test_simulated_raw_faults_trip_only_their_rules_with_exact_counts(matrix):
    for row in (r for r in matrix if r.origin == "simulator" and SIMULATOR_FAULTS[r.fault][0] == "raw"):
        _, required, allowed = SIMULATOR_FAULTS[row.fault]
        stray = fired(row.report) - required - allowed
        assert not stray, f"{row.fault} also tripped {sorted(stray)}:\n" + sentences(row.report)
        entry = row.manifest["faults"][row.fault]
        for sub, rule in EXACT_RAW_COUNTS[row.fault].items():
            planted = entry["count"] if sub is None else entry["sub_counts"][sub]
            assert outcome(row.report, "raw_events", rule).count == planted, (row.fault, sub, rule)


def test_simulated_mart_faults_are_flagged_in_the_all_faults_build_only(matrix, clean, all_faults):
    expected_mart_rules = set().union(*(r for s, r, _ in SIMULATOR_FAULTS.values() if s == "marts"))
    stray = fired(all_faults["marts"]) - expected_mart_rules
    assert not stray, "the all-faults build tripped unexpected mart rules:\n" + sentences(all_faults["marts"])
    assert not fired(clean["marts"]) & expected_mart_rules
    faults = all_faults["manifest"]["faults"]
    for fault, rule in EXACT_MART_COUNTS.items():
        assert outcome(all_faults["marts"], "fct_experiment_units", rule).count == faults[fault]["count"], fault
    gap = outcome(all_faults["marts"], "fct_experiment_units", "exposure_logging.no_missing_exposures")
    target = faults["variant_logging_loss"]
    assert gap.details and gap.details[0].startswith(
        f"{target['experiment_id']} v{target['experiment_version']} {target['variant_id']} on {target['source_system']}:")
    assert "do not finalize" in gap.sentence
    assert all_faults["dbt"].startswith("pass"), all_faults["dbt"]


def test_dbt_catches_the_second_control_too(matrix):
    row = next(r for r in matrix if r.fault.startswith("two controls"))
    assert row.dbt.startswith("FAIL") and "control_count" in row.dbt, row.dbt
    assert row.layers == "contracts (raw) + dbt tests"
