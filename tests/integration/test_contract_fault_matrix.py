"""The fault matrix (issues 6 and 10): every fault the simulator can plant, and every fault crafted here, is
caught by a data contract (contracts/*.yml), a staging quarantine reason, a dbt test or compile error, or a
one-line command-line error, with its count and severity; the clean simulation raises no alarm in any layer
(the volume and per-segment sample-ratio checks included). The matrix is printed as a table.

Cost control (2 cores): raw-stage simulator faults are simulated one at a time and only the raw contracts are
validated (no dbt). Mart-stage faults share two session builds (tests/integration/conftest.py): a clean
simulation, and one with every simulator fault plus a one-day iOS outage in one variant. Landing rows that
staging must quarantine are planted together in one copy of the clean landing zone, in a folder whose name
holds a quote, built through staging only. Faults crafted on the marts corrupt a copy of the clean warehouse
and are validated by the contracts only.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from e2e import BIN, PROJECT, SEED, build, project_env, query, readout, run, simulate

from readout.contracts import load_contracts
from readout.contracts.validate import Outcome, resolve_as_of, validate
from readout.importer import import_export
from readout.landing import event_time_range, ingestion_bounds
from readout.report import render
from readout.simulate import landing as simulate_landing

RAW_EVENTS = 40_000  #: per-fault raw simulations
CONTRACTS = load_contracts(PROJECT / "contracts")

#: simulator fault -> (stage, the contract rules that must flag it, other rules it may also trip)
SIMULATOR_FAULTS: dict[str, tuple[str, set[tuple[str, str]], set[tuple[str, str]]]] = {
    "duplicate_retries": ("raw", {("raw_events", "event_id_unique_per_source")}, set()),
    "conflicting_duplicates": (
        "raw",
        {("raw_events", "duplicate_payloads_agree"), ("raw_events", "event_id_unique_per_source")},
        set(),
    ),
    "unknown_ids": ("raw", {("raw_events", "experiment_known"), ("raw_events", "variant_known")}, set()),
    "malformed_rows": (
        "raw",
        {
            ("raw_events", "event_id_present"),
            ("raw_events", "unit_id_present"),
            ("raw_events", "event_at_parseable"),
            ("raw_events", "event_at_within_clock_skew"),
            ("raw_events", "revenue_non_negative"),
        },
        {("raw_events", "event_at_not_in_future")},
    ),
    "mixed_schema_versions": ("raw", {("raw_events", "one_schema_version_per_source")}, set()),
    "bot_traffic": ("marts", {("fct_experiment_units", "bot_and_internal_share")}, set()),
    # 30% of one arm's iOS exposures never logged: near the per-platform sample-ratio threshold at this size
    "variant_logging_loss": (
        "marts",
        {("fct_experiment_units", "exposure_logging.no_missing_exposures")},
        {("fct_sample_ratio_checks_by_segment", "no_segment_sample_ratio_mismatch")},
    ),
    "cross_variant_units": ("marts", {("fct_experiment_units", "not_in_several_variants")}, set()),
    "exposure_before_assignment": ("marts", {("fct_experiment_units", "not_exposed_before_assigned")}, set()),
    # units assigned and exposed up to 3 days before the start (now out of both populations) or after the end
    "exposure_outside_window": (
        "marts",
        {
            ("fct_experiment_units", "not_exposed_outside_window"),
            ("fct_experiment_units", "not_before_experiment_start"),
        },
        {("fct_experiment_units", "not_assigned_after_experiment_end")},
    ),
}
#: planted sub-counts the raw contract must count exactly: fault -> {manifest sub-count: rule}
EXACT_RAW_COUNTS = {
    "duplicate_retries": {None: "event_id_unique_per_source"},
    "conflicting_duplicates": {None: "duplicate_payloads_agree"},
    "unknown_ids": {"unknown_experiment": "experiment_known", "unknown_variant": "variant_known"},
    "malformed_rows": {
        "missing_event_id": "event_id_present",
        "missing_unit_id": "unit_id_present",
        "unparseable_event_at": "event_at_parseable",
        "future_event_at": "event_at_within_clock_skew",
        "negative_revenue": "revenue_non_negative",
    },
    "mixed_schema_versions": {None: "one_schema_version_per_source"},
}
EXACT_MART_COUNTS = {  # planted units = flagged units (each planted unit is in one experiment version)
    "cross_variant_units": "not_in_several_variants",
    "exposure_before_assignment": "not_exposed_before_assigned",
    "exposure_outside_window": "not_exposed_outside_window",
}
#: the outage is a crafted fault planted into the all-faults build
OUTAGE_RULES = {("fct_volume_checks", "no_volume_shortfall")}


# ------------------------------------------------------------------------------------------ helpers
@dataclass
class Catch:
    """A fault caught outside the data contracts: a staging quarantine reason, a dbt compile error, a one-line
    command-line error or the report's first line."""

    layer: str  # staging quarantine | staging | dbt compile | CLI | readout report | exact sums
    what: str  # the reason code, or the message
    severity: str  # quarantine | error | warning
    count: int
    unit: str = "rows"

    @property
    def count_text(self) -> str:
        return f"{self.count:,} {self.unit[:-1] if self.count == 1 and self.unit.endswith('s') else self.unit}"


@dataclass
class MatrixRow:
    fault: str
    origin: str  # simulator | crafted
    planted: str
    alarms: list[Outcome]
    dbt: str  # what dbt's tests said, or why they did not run
    expected: set[tuple[str, str]] = field(default_factory=set)
    catches: list[Catch] = field(default_factory=list)

    @property
    def layers(self) -> str:
        stages = sorted({o.contract.stage for o in self.alarms})
        caught = [f"contracts ({', '.join(stages)})"] if stages else []
        caught += sorted({c.layer for c in self.catches})
        if self.dbt.startswith("FAIL"):
            caught.append("dbt tests")
        return " + ".join(caught) or "NOT CAUGHT"


def raw_report(landing: Path, as_of: dt.datetime | None = None, names=("raw_events", "raw_experiments")):
    return validate(
        "raw", CONTRACTS, names=list(names), landing=landing, as_of=as_of or resolve_as_of("manifest", landing)
    )


def fired(report) -> set[tuple[str, str]]:
    return {(o.contract.name, o.rule_id) for o in report.alarms}


def outcome(report, contract: str, rule: str) -> Outcome:
    return next(o for o in report.outcomes if o.contract.name == contract and o.rule_id == rule)


def rewrite(path: Path, change) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def sentences(report) -> str:
    return "\n".join(o.sentence for o in report.alarms)


def one_line_error(result: subprocess.CompletedProcess, program: str) -> str:
    """The single stderr line of a command that refused its input (exit 2, no traceback)."""
    assert result.returncode == 2, (result.returncode, result.stdout[-1000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), result.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fault_matrix")


@pytest.fixture(scope="module")
def clean(clean_simulation) -> dict:
    return clean_simulation


@pytest.fixture(scope="module")
def all_faults(all_faults_simulation) -> dict:
    return all_faults_simulation


@pytest.fixture(scope="module")
def matrix(root, clean, all_faults, clean_rebuild) -> list[MatrixRow]:
    rows: list[MatrixRow] = []
    for fault, (stage, required, also) in SIMULATOR_FAULTS.items():
        if stage == "raw":
            landing = root / f"sim-{fault}"
            manifest = simulate(landing, fault, RAW_EVENTS)
            report = raw_report(landing, names=["raw_events"])
            dbt_status = "not run (raw stage)"
        else:
            manifest, report, dbt_status = all_faults["manifest"], all_faults["marts"], all_faults["dbt"]
        entry = manifest["faults"][fault]
        planted = f"{entry['count']:,} {entry['unit']}"
        alarms = [o for o in report.alarms if stage == "raw" or (o.contract.name, o.rule_id) in required | also]
        row = MatrixRow(fault, "simulator", planted, alarms, dbt_status, required)
        row.report, row.manifest = report, manifest
        rows.append(row)
    rows.append(outage_row(all_faults))
    rows += crafted_raw_faults(root, clean)
    rows += crafted_staging_faults(root, clean)
    rows += crafted_mart_faults(root, clean)
    rows += command_line_faults(root, clean)
    rows.append(rebuild_differs(clean, clean_rebuild["warehouse"]))
    return rows


# ------------------------------------------------------------------------------------- crafted faults
def _clean_copy(root: Path, clean: dict, name: str) -> Path:
    landing = root / f"crafted-{name}"
    shutil.copytree(clean["landing"], landing, ignore=shutil.ignore_patterns("imports"))
    return landing


def _events_file(landing: Path) -> Path:
    return sorted((landing / "events").glob("part-*.parquet"))[0]


def outage_row(all_faults: dict) -> MatrixRow:
    planted = all_faults["outage"]
    report = all_faults["marts"]
    alarms = [o for o in report.alarms if (o.contract.name, o.rule_id) in OUTAGE_RULES]
    row = MatrixRow(
        f"one-day {planted['source_system']} outage in one variant ({planted['experiment_id']} "
        f"{planted['variant_id']}, {planted['day']})",
        "crafted",
        f"{planted['rows']:,} rows",
        alarms,
        all_faults["dbt"],
        OUTAGE_RULES,
    )
    row.report = report
    return row


def crafted_raw_faults(root: Path, clean: dict) -> list[MatrixRow]:
    rows = []

    def add(name, landing, expected, planted, report=None, dbt_status="not run (raw stage)", catches=()):
        report = report or raw_report(landing)
        row = MatrixRow(name, "crafted", planted, report.alarms, dbt_status, expected, list(catches))
        row.report = report
        rows.append(row)
        return row

    landing = _clean_copy(root, clean, "renamed_column")
    rewrite(
        _events_file(landing),
        lambda t: t.rename_columns(["anon_id" if c == "anonymous_id" else c for c in t.column_names]),
    )
    add(
        "renamed column (anonymous_id -> anon_id)",
        landing,
        {("raw_events", "schema_v1.columns_and_types"), ("raw_events", "unit_id_present")},
        "1 file",
        catches=[preflight_catch(landing, "column anonymous_id is missing")],
    )

    landing = _clean_copy(root, clean, "changed_type")
    rewrite(
        _events_file(landing),
        lambda t: t.set_column(
            t.column_names.index("experiment_version"),
            "experiment_version",
            pc.cast(t["experiment_version"], pa.string()),
        ),
    )
    add(
        "changed type (experiment_version int32 -> string)",
        landing,
        {("raw_events", "schema_v1.columns_and_types")},
        "1 column",
        catches=[preflight_catch(landing, "column experiment_version is string where schema version 1 says int32")],
    )

    landing = _clean_copy(root, clean, "revenue_as_text")
    rewrite(
        _events_file(landing),
        lambda t: t.set_column(t.column_names.index("revenue"), "revenue", pc.cast(t["revenue"], pa.string())),
    )
    add(
        "retyped column (revenue double -> text)",
        landing,
        {("raw_events", "schema_v1.columns_and_types")},
        "1 column",
        catches=[preflight_catch(landing, "column revenue is string where schema version 1 says double")],
    )

    landing = _clean_copy(root, clean, "added_column")
    rewrite(_events_file(landing), lambda t: t.append_column("app_build", pa.array(["7.1"] * len(t), pa.string())))
    add(
        "added column (app_build)",
        landing,
        {("raw_events", "schema_v1.no_extra_columns")},
        "1 column",
        catches=[preflight_warning(landing, "column app_build (string) is not in schema version 1")],
    )

    landing = _clean_copy(root, clean, "corrupt_file")
    (landing / "events" / "part-corrupt.parquet").write_bytes(b"PAR1 this is not a parquet file")
    line = one_line_error(run_preflight(landing), "readout event-time-range")
    assert "events/part-corrupt.parquet is not readable Parquet" in line, line
    rows.append(
        MatrixRow(
            "corrupt landing file",
            "crafted",
            "1 file",
            [],
            "not run (stopped before dbt)",
            catches=[Catch("CLI", line.split(": error: ", 1)[1][:70] + "...", "error", 1, "file")],
        )
    )

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
    add(
        "unknown event name (page_view on ios)",
        landing,
        {("raw_events", "event_name_allowed"), ("raw_events", "quarantined_share")},
        f"{renamed['count']:,} rows",
    )

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
    add(
        "null flood (unit ids null on 25% of ios rows)",
        landing,
        {("raw_events", "unit_id_present"), ("raw_events", "quarantined_share")},
        f"{flooded['count']:,} rows",
    )

    landing = root / "crafted-stale"
    simulate(landing, "none", RAW_EVENTS, "--as-of", "2026-02-05T00:00:00Z")
    add(
        "stale data (nothing received for 2 days)",
        landing,
        {("raw_events", "freshness.warn"), ("raw_events", "freshness.error")},
        "48 hours",
        report=raw_report(landing, as_of=dt.datetime(2026, 2, 7)),
    )

    landing = _clean_copy(root, clean, "weights")
    experiments = landing / "experiments" / "experiments.parquet"

    def weights(t):
        ids, variants = t["experiment_id"].to_pylist(), t["variant_id"].to_pylist()
        values = [
            0.4 if (e, v) == ("exp_checkout_button", "treatment") else w
            for e, v, w in zip(ids, variants, t["allocation_weight"].to_pylist())
        ]
        return t.set_column(t.column_names.index("allocation_weight"), "allocation_weight", pa.array(values))

    rewrite(experiments, weights)
    add(
        "variant weights sum to 0.9 (export)",
        landing,
        {("raw_experiments", "weights_sum_to_one")},
        "2 rows",
        report=raw_report(landing, names=["raw_experiments"]),
    )

    landing = _clean_copy(root, clean, "two_controls")
    experiments = landing / "experiments" / "experiments.parquet"

    def two_controls(t):
        ids = t["experiment_id"].to_pylist()
        values = [True if e == "exp_homepage_aa" else c for e, c in zip(ids, t["is_control"].to_pylist())]
        return t.set_column(t.column_names.index("is_control"), "is_control", pa.array(values))

    rewrite(experiments, two_controls)
    dbt_status, _ = build(landing, root / "two_controls.duckdb", "+int_experiment_versions")
    add(
        "two controls in one experiment version (export)",
        landing,
        {("raw_experiments", "one_control")},
        "2 rows",
        report=raw_report(landing, names=["raw_experiments"]),
        dbt_status=dbt_status,
    )
    return rows


def run_preflight(landing: Path) -> subprocess.CompletedProcess:
    """The landing preflight `make build` runs before dbt (no warehouse is touched)."""
    return readout(
        "event-time-range",
        "--check-only",
        "--landing",
        str(landing),
        env=project_env(landing, landing.parent / "never.duckdb"),
        check=False,
    )


def preflight_catch(landing: Path, expected: str) -> Catch:
    """`readout event-time-range`, which `make build` runs before dbt, stops with one line naming the column."""
    result = run_preflight(landing)
    line = one_line_error(result, "readout event-time-range")
    assert expected in line and "contract error" in line, line
    return Catch("CLI", "preflight: " + expected, "error", 1, "column")


def preflight_warning(landing: Path, expected: str) -> Catch:
    """An added column is a warning naming it; the range is still printed and the build goes on."""
    result = run_preflight(landing)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "warning" in warnings[0] and expected in warnings[0], result.stderr
    return Catch("CLI", "preflight: " + expected, "warning", 1, "column")


# ------------------------------------------------------------------------------ staging quarantine
#: crafted landing rows staging must quarantine (or keep), each with its raw contract rule and reason
HOSTILE_ROWS = {
    # name: (rows planted, raw contract rule, staging quarantine reason or None when the rows are staged)
    "NaN and +inf revenue on purchases": (2, "revenue_finite", "non_finite_revenue"),
    "purchase without revenue": (1, "revenue_on_purchase", "missing_revenue"),
    "event_at and received_at in 2099": (5, "received_at_not_in_future", "future_received_at"),
    "event_at before events_begin (2025-06)": (1, "event_at_not_before_history", "event_at_before_history"),
    "one event_id from web and from ios": (2, "event_id_unique_across_sources", None),
}


def plant_hostile_rows(table: pa.Table) -> pa.Table:
    rows = table.to_pylist()
    far = "2099-06-01T00:00:00.000Z"
    buys = [r for r in rows if r["event_name"] == "purchase" and r["source_system"] == "web"][:3]
    sessions = [r for r in rows if r["event_name"] == "session_start" and r["source_system"] == "web"][:6]
    extra = [
        dict(r, event_id=f"{r['event_id']}-revenue-{i}", revenue=value)
        for i, (r, value) in enumerate(zip(buys, (float("nan"), float("inf"), None)))
    ]
    extra += [dict(r, event_id=f"{r['event_id']}-2099", event_at=far, received_at=far) for r in sessions[:5]]
    extra.append(dict(sessions[5], event_id=f"{sessions[5]['event_id']}-history", event_at="2025-06-01T00:00:00.000Z"))
    # the same id from another producer: a legitimate event, not a duplicate (the contract: unique per source)
    extra.append(dict(sessions[0], source_system="ios", anonymous_id=f"{sessions[0]['anonymous_id']}-ios"))
    return pa.concat_tables([table, pa.Table.from_pylist(extra, schema=table.schema)])


def quarantine_counts(warehouse: Path) -> dict[str, int]:
    counts = query(
        warehouse,
        """
        select reason, count(*) as n
        from staging.stg_landing__events_quarantined, unnest(string_split(quarantine_reasons, ',')) as r(reason)
        group by reason""",
    )
    return dict(zip(counts.reason, counts.n.astype(int)))


def crafted_staging_faults(root: Path, clean: dict) -> list[MatrixRow]:
    landing = root / "crafted-it's hostile"  # a quote in the path: it is quoted, not pasted, into the SQL
    shutil.copytree(clean["landing"], landing, ignore=shutil.ignore_patterns("imports"))
    rewrite(_events_file(landing), plant_hostile_rows)
    report = raw_report(landing)
    warehouse = root / "hostile.duckdb"
    dbt_status, _ = build(landing, warehouse, "staging")  # every staging model and test, conservation included
    assert dbt_status.startswith("pass"), dbt_status
    before, after = quarantine_counts(clean["warehouse"]), quarantine_counts(warehouse)
    flags = lambda path: event_time_range(path, resolve_as_of("manifest", path), ingestion_bounds(PROJECT))  # noqa: E731
    assert flags(landing) == flags(clean["landing"]), "quarantined timestamps moved the backfill range"
    shared = query(
        warehouse,
        """
        select count(*) as n from staging.stg_landing__events
        where event_id in (select event_id from staging.stg_landing__events where source_system = 'ios')
          and event_id in (select event_id from staging.stg_landing__events where source_system = 'web')""",
    ).n[0]
    rows = []
    for name, (planted, rule, reason) in HOSTILE_ROWS.items():
        alarms = [o for o in report.alarms if o.rule_id == rule]
        if reason:
            catch = Catch("staging quarantine", reason, "quarantine", after.get(reason, 0) - before.get(reason, 0))
        else:
            catch = Catch("staging", "kept: one event per producer", "none", int(shared))
        row = MatrixRow(name, "crafted", f"{planted:,} rows", alarms, dbt_status, {("raw_events", rule)}, [catch])
        row.report, row.planted_rows, row.reason = report, planted, reason
        rows.append(row)
    return rows


def crafted_mart_faults(root: Path, clean: dict) -> list[MatrixRow]:
    faults = [
        (
            "interval lower bound above the estimate",
            "fct_metric_results",
            "absolute_lift_above_lower",
            "1 row",
            "update marts.fct_metric_results set absolute_lift_ci_lower = absolute_lift + 1 "
            "where rowid = (select min(rowid) from marts.fct_metric_results where absolute_lift is not null)",
        ),
        (
            "p-value outside [0, 1]",
            "fct_metric_results",
            "p_value_in_unit_interval_p_value",
            "1 row",
            "update marts.fct_metric_results set p_value = 1.5 "
            "where rowid = (select min(rowid) from marts.fct_metric_results where p_value is not null)",
        ),
        (
            "a metric leaves its correction family",
            "fct_metric_results",
            "correction_family_complete",
            "1 row",
            "delete from marts.fct_metric_results "
            "where experiment_id = 'exp_checkout_button' and population = 'exposed' "
            "and estimator = 'unadjusted' and metric_id = 'revenue'",
        ),
        (
            "two SRM results in one version x population",
            "fct_sample_ratio_checks",
            "one_result_per_version_and_population",
            "1 row",
            "update marts.fct_sample_ratio_checks set p_value = p_value / 2 "
            "where rowid = (select min(rowid) from marts.fct_sample_ratio_checks where p_value is not null)",
        ),
        (
            "n_units = 0 in the metric mart",
            "fct_variant_metric_stats",
            "n_units_positive",
            "1 row",
            "update marts.fct_variant_metric_stats set n_units = 0 "
            "where rowid = (select min(rowid) from marts.fct_variant_metric_stats)",
        ),
        (
            "dropped mart column (ci_method)",
            "fct_metric_results",
            "schema_v1.columns_and_types",
            "1 column",
            "alter table marts.fct_metric_results drop column ci_method",
        ),
        (
            "duplicate first exposure",
            "int_exposures_deduplicated_to_first_per_unit",
            "one_row_per_unit_and_version",
            "1 row",
            "insert into intermediate.int_exposures_deduplicated_to_first_per_unit "
            "select * from intermediate.int_exposures_deduplicated_to_first_per_unit limit 1",
        ),
    ]
    rows = []
    for name, contract, rule, planted, sql in faults:
        warehouse = root / f"crafted-{rule}.duckdb"
        shutil.copy(clean["warehouse"], warehouse)
        with duckdb.connect(str(warehouse)) as con:
            con.execute(sql)
        report = validate("marts", CONTRACTS, names=[contract], warehouse=warehouse)
        row = MatrixRow(
            name, "crafted", planted, report.alarms, "not run (corrupted after the build)", {(contract, rule)}
        )
        row.report = report
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ command line and lifecycle
INJECTED_ROW = (
    "sneaky,1,Counts sessions as purchases,growth-analytics,proportion,"
    "\"purchase' or events.event_name = 'session_start\",any,,,,0,7,increase,secondary,none,,,14"
)


def catalog_injection(root: Path, clean: dict) -> MatrixRow:
    """A catalog row that once compiled into the SQL: the build stops at compile time with one line."""
    project = root / "injected_project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT / name, project / name)
    for name in ("models", "macros", "seeds", "readouts"):
        shutil.copytree(PROJECT / name, project / name)
    catalog = project / "seeds" / "metric_catalog.csv"
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + INJECTED_ROW + "\n")
    warehouse = root / "injected.duckdb"
    shutil.copy(clean["warehouse"], warehouse)
    env = project_env(clean["landing"], warehouse)
    result = run(
        [
            str(BIN / "dbt"),
            "build",
            "--project-dir",
            str(project),
            "--select",
            "metric_catalog",
            "int_unit_metric_values",
        ],
        env,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith('metric catalog (seeds/metric_catalog.csv) row metric_id "sneaky"')
    ]
    assert len(lines) == 1 and "numerator_event is" in lines[0] and "allowed: " in lines[0], output[-3000:]
    # nothing was built from it: the published metric values are the clean build's
    assert (
        query(warehouse, "select count(*) as n from intermediate.int_unit_metric_values where metric_id = 'sneaky'").n[
            0
        ]
        == 0
    )
    return MatrixRow(
        "SQL injected through a catalog row (numerator_event)",
        "crafted",
        "1 row",
        [],
        "not run (compile error)",
        catches=[Catch("dbt compile", "numerator_event not an event name", "error", 1, "row")],
    )


def killed_build(root: Path, clean: dict) -> MatrixRow:
    """A build killed half-way: its `started` row has no `finished` row; the report says so first."""
    warehouse = root / "killed.duckdb"
    shutil.copy(clean["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into main.readout_build_log (invocation_id, event, command, status, started_at) "
            "select 'killed', 'started', 'build --full-refresh', 'started', max(started_at) + interval 1 minute "
            "from main.readout_build_log"
        )
    first = render(warehouse).splitlines()[0]
    assert first.startswith("WARNING") and "never finished: it was killed" in first, first
    return MatrixRow(
        "dbt build killed half-way",
        "crafted",
        "1 build",
        [],
        "not run (log row added)",
        catches=[Catch("readout report", "first line: the last build never finished", "warning", 1, "build")],
    )


def build_running(root: Path, clean: dict) -> MatrixRow:
    """`readout report` while another process holds the warehouse: a build is running, not 'run make build'."""
    warehouse = root / "locked.duckdb"
    shutil.copy(clean["warehouse"], warehouse)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = readout(
            "report", "--warehouse", str(warehouse), env=project_env(clean["landing"], warehouse), check=False
        )
    finally:
        holder.kill()
        holder.wait()
    line = one_line_error(result, "readout report")
    assert "a build is running" in line and f"PID {holder.pid}" in line, line
    return MatrixRow(
        "readout report while a build holds the warehouse",
        "crafted",
        "1 lock",
        [],
        "not run",
        catches=[Catch("CLI", "a build is running (PID named)", "error", 1, "lock")],
    )


def bad_simulator_arguments(root: Path) -> MatrixRow:
    lines = []
    for args in (["--seed", str(2**64)], ["--events", "2000000000"], ["--seed", "-1"]):
        result = readout(
            "simulate",
            *args,
            "--out",
            str(root / "never"),
            "--quiet",
            env=project_env(root / "never", root / "never.duckdb"),
            check=False,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        lines.append(result.stderr.strip().splitlines()[-1])
    assert not (root / "never").exists()
    return MatrixRow(
        "readout simulate --seed 2**64 / --events 2e9 / --seed -1",
        "crafted",
        "3 commands",
        [],
        "not run",
        catches=[Catch("CLI", "argument out of range", "error", len(lines), "commands")],
    )


def killed_simulation(root: Path) -> MatrixRow:
    """`readout simulate` stopped by SIGTERM half-way removes its temp folder and keeps the previous output."""
    out = root / "killed_simulation"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "readout.simulate",
            "--out",
            str(out),
            "--quiet",
            "--events",
            "5000000",
            "--chunk-events",
            "50000",
            "--seed",
            "8",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    events = out / simulate_landing.STAGING / "events"
    deadline = time.monotonic() + 60
    while not (events.is_dir() and any(events.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert process.stderr.read() == "readout simulate: interrupted\n"
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert simulate_landing.STAGING not in left, left
    return MatrixRow(
        "readout simulate killed half-way (SIGTERM)",
        "crafted",
        "1 run",
        [],
        "not run",
        catches=[Catch("CLI", "interrupted; temp folder removed", "error", 1, "run")],
    )


def rebuild_differs(clean: dict, clean_rebuild: Path) -> MatrixRow:
    """Two builds of the same data once differed in the last digits of doubles; the marts must now be equal."""
    tables = query(
        clean["warehouse"],
        "select table_name from information_schema.tables where table_schema = 'marts' and table_name like 'fct%'",
    ).table_name
    differing = []
    for table in sorted(tables):
        a = query(clean["warehouse"], f"select * from marts.{table} order by all")
        b = query(clean_rebuild, f"select * from marts.{table} order by all")
        if not a.equals(b):
            differing.append(table)
    return MatrixRow(
        "a rebuild of the same data (parallel double sums)",
        "crafted",
        f"{len(tables)} marts",
        [],
        "pass (rebuilt)",
        catches=[
            Catch(
                "exact sums",
                "marts differing from the first build",
                "error" if differing else "none",
                len(differing),
                "marts",
            )
        ],
    )


def frozen_record_faults(root: Path, clean: dict) -> MatrixRow:
    """A frozen readout edited by hand stops `readout build` before dbt; freezing twice and restating what is not
    frozen are refused: one line each, exit 2, the records unchanged (a copy of the project: readouts/ is its)."""
    project = root / "frozen_project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT / name, project / name)
    for name in ("models", "macros", "seeds", "readouts", "contracts"):
        shutil.copytree(PROJECT / name, project / name)
    warehouse = root / "frozen.duckdb"
    shutil.copy(clean["warehouse"], warehouse)
    env = project_env(clean["landing"], warehouse)
    at = ("--warehouse", str(warehouse), "--project-dir", str(project))
    readout("freeze", "exp_checkout_button", "--version", "1", "--reason", "fault matrix", "--by", "ci", *at, env=env)
    seed = project / "readouts" / "frozen_metric_results.csv"
    frozen = seed.read_text()
    lines = [
        one_line_error(
            readout("freeze", "exp_checkout_button", "--version", "1", "--reason", "again", *at, env=env, check=False),
            "readout freeze",
        ),
        one_line_error(
            readout("restate", "exp_homepage_aa", "--version", "1", "--reason", "none", *at, env=env, check=False),
            "readout restate",
        ),
    ]
    assert "already frozen" in lines[0] and "is not frozen" in lines[1], lines
    header, first, *rest = frozen.splitlines(keepends=True)
    assert ",0." in first
    seed.write_text(header + first.replace(",0.", ",0.9", 1) + "".join(rest))  # a frozen number edited by hand
    edited = seed.read_text()
    lines.append(one_line_error(readout("build", "--project-dir", str(project), env=env, check=False), "readout build"))
    assert "edited by hand" in lines[-1], lines[-1]
    assert seed.read_text() == edited
    return MatrixRow(
        "frozen readout: edited by hand / frozen twice / restate of one not frozen",
        "crafted",
        "3 commands",
        [],
        "not run (stopped before dbt)",
        catches=[Catch("CLI", "one line naming the record", "error", len(lines), "commands")],
    )


def malformed_contract(root: Path, clean: dict) -> MatrixRow:
    """A data contract with an unquoted YAML boolean and a misspelt key: the contracts are refused, exit 2, one
    line per problem naming the field, the value and the fix, before anything is validated with them."""
    contracts = root / "malformed_contracts"
    shutil.copytree(PROJECT / "contracts", contracts)
    bad = contracts / "raw_events.yml"
    assert "team: data-platform" in bad.read_text()
    bad.write_text(bad.read_text().replace("team: data-platform", "team: yes\n  colour: red", 1))
    env = {**project_env(clean["landing"], root / "never.duckdb"), "READOUT_CONTRACTS_DIR": str(contracts)}
    result = readout("contracts", "generate", "--check", env=env, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "has 2 problems" in result.stderr, result.stderr
    assert "owner.team must be text, got True" in result.stderr and "quote it" in result.stderr, result.stderr
    assert "owner: unknown key 'colour'" in result.stderr, result.stderr
    return MatrixRow(
        "data contract YAML: unquoted boolean / unknown key",
        "crafted",
        "2 keys",
        [],
        "not run (contracts refused)",
        catches=[Catch("CLI", "one line per problem: field, value, fix", "error", 2, "problems")],
    )


def spark_profile_fault(root: Path, clean: dict) -> MatrixRow:
    """A Spark target in profiles.yml that does not render (a Jinja filter dbt does not have): `readout build
    --target spark` refuses it in one line naming the file and the target, before Spark or dbt starts."""
    profiles = root / "bad_profiles"
    profiles.mkdir()
    text = (PROJECT / "profiles.yml").read_text()
    assert "      threads: 1\n" in text
    bad = text.replace(
        "      threads: 1\n", "      threads: \"{{ env_var('READOUT_SPARK_THREADS', '1') | as_integer }}\"\n", 1
    )
    (profiles / "profiles.yml").write_text(bad)
    env = {**project_env(clean["landing"], root / "never.duckdb"), "DBT_PROFILES_DIR": str(profiles)}
    line = one_line_error(readout("build", "--target", "spark", env=env, check=False), "readout build")
    assert "the 'spark' target does not render" in line and "as_integer" in line and str(profiles) in line, line
    return MatrixRow(
        "Spark profile target that does not render (unknown Jinja filter)",
        "crafted",
        "1 setting",
        [],
        "not run (profile refused)",
        catches=[Catch("CLI", "the 'spark' target does not render (No filter named ...)", "error", 1, "settings")],
    )


def summary_import_faults(root: Path) -> MatrixRow:
    """A per-arm summary export with a missing standard deviation, zero counts and a pair with zero variance in both
    arms lands, its pairs to get a result row with a status reason, counted in the import summary; a cell that is not
    a number refuses the whole export, one line, nothing written."""
    mapping, export = PROJECT / "mappings" / "example_summary.yml", PROJECT / "mappings" / "example_summary.csv"
    counts = import_export(mapping, export, root / "summary").counts
    assert (counts["rows_missing_variance"], counts["rows_zero_count"], counts["pairs_zero_variance_final"]) == (
        1,
        3,
        1,
    )
    bad = root / "summary_bad.csv"
    assert "15000,0.1003," in export.read_text()
    bad.write_text(export.read_text().replace("15000,0.1003,", "15000,about 0.1,", 1))
    env = project_env(root / "summary_bad", root / "summary_bad.duckdb")
    line = one_line_error(readout("import", str(mapping), "--file", str(bad), env=env, check=False), "readout import")
    assert "column 'mean' has values that a" in line, line
    assert not (root / "summary_bad").exists(), "a refused summary export wrote landing files"
    degenerate = counts["rows_missing_variance"] + counts["rows_zero_count"] + counts["rows_missing_mean"]
    return MatrixRow(
        "summary export: missing sd / zero counts / zero variance / a cell not a number",
        "crafted",
        f"{degenerate + 1} rows",
        [],
        "not run (import)",
        catches=[
            Catch("readout import", "not analysable: a result row with a status_reason", "warning", degenerate),
            Catch("CLI", "column 'mean' has values that are not numbers", "error", 1, "rows"),
        ],
    )


def command_line_faults(root: Path, clean: dict) -> list[MatrixRow]:
    return [
        catalog_injection(root, clean),
        killed_build(root, clean),
        build_running(root, clean),
        bad_simulator_arguments(root),
        killed_simulation(root),
        frozen_record_faults(root, clean),
        malformed_contract(root, clean),
        spark_profile_fault(root, clean),
        summary_import_faults(root),
    ]


# ---------------------------------------------------------------------------------------------- tests
def format_matrix(rows: list[MatrixRow], clean: dict) -> str:
    header = ("fault", "origin", "planted", "caught by", "contract [rule] or reason", "severity", "count", "dbt tests")
    lines = [header]
    for row in rows:
        alarms = sorted(row.alarms, key=lambda o: ((o.contract.name, o.rule_id) not in row.expected, o.rule_id))
        cells = [(f"{o.contract.name} [{o.rule_id}]", o.severity.upper(), o.count_text) for o in alarms]
        cells += [(f"{c.layer}: {c.what}", c.severity.upper(), c.count_text) for c in row.catches]
        if not cells:
            lines.append((row.fault, row.origin, row.planted, row.layers, "-", "-", "-", row.dbt))
        for i, (what, severity, count) in enumerate(cells):
            first = i == 0
            lines.append(
                (
                    row.fault if first else "",
                    row.origin if first else "",
                    row.planted if first else "",
                    row.layers if first else "",
                    what,
                    severity,
                    count,
                    row.dbt if first else "",
                )
            )
    for stage in ("raw", "marts"):
        report = clean[stage]
        lines.append(
            (
                "(clean simulation)",
                "simulator",
                "none",
                f"contracts ({stage})",
                f"{len(report.outcomes)} rules evaluated",
                "none",
                f"{len(report.alarms)} alarms",
                clean["dbt"] if stage == "marts" else "not run (raw stage)",
            )
        )
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
    # the volume and per-segment sample-ratio checks ran on the clean build: tested cells, none flagged
    checked = {o.contract.name for o in clean["marts"].outcomes}
    assert {"fct_volume_checks", "fct_sample_ratio_checks_by_segment"} <= checked
    tested = query(
        clean["warehouse"],
        "select count(*) filter (where is_tested) as n, "
        "count(*) filter (where is_volume_shortfall) as flagged "
        "from marts.fct_volume_checks",
    ).iloc[0]
    assert tested.n > 200 and tested.flagged == 0, tested
    assert quarantine_counts(clean["warehouse"]) == {}, "the clean simulation has quarantined rows"


def test_every_fault_is_flagged_with_table_rule_count_and_severity(matrix, clean, capsys):
    with capsys.disabled():
        print(f"\n\nFault matrix (seed {SEED}; raw faults on {RAW_EVENTS:,} events, mart faults on 100,000):\n")
        print(format_matrix(matrix, clean))
        print()
    assert {row.fault for row in matrix if row.origin == "simulator"} == set(SIMULATOR_FAULTS)
    for row in matrix:
        assert row.layers != "NOT CAUGHT", row.fault
        flagged = {(o.contract.name, o.rule_id) for o in row.alarms}
        missing = row.expected - flagged
        assert not missing, f"{row.fault}: not flagged by {sorted(missing)}; alarms:\n" + "\n".join(
            o.sentence for o in row.alarms
        )
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
    expected_mart_rules = set().union(*(r | a for s, r, a in SIMULATOR_FAULTS.values() if s == "marts")) | OUTAGE_RULES
    stray = fired(all_faults["marts"]) - expected_mart_rules
    assert not stray, "the all-faults build tripped unexpected mart rules:\n" + sentences(all_faults["marts"])
    assert not fired(clean["marts"]) & expected_mart_rules
    faults = all_faults["manifest"]["faults"]
    for fault, rule in EXACT_MART_COUNTS.items():
        assert outcome(all_faults["marts"], "fct_experiment_units", rule).count == faults[fault]["count"], fault
    gap = outcome(all_faults["marts"], "fct_experiment_units", "exposure_logging.no_missing_exposures")
    target = faults["variant_logging_loss"]
    assert gap.details and gap.details[0].startswith(
        f"{target['experiment_id']} v{target['experiment_version']} {target['variant_id']} "
        f"on {target['source_system']}:"
    )
    assert "do not finalize" in gap.sentence
    assert all_faults["dbt"].startswith("pass"), all_faults["dbt"]


def test_the_outage_alarm_names_experiment_day_platform_and_missing_share(matrix, all_faults):
    planted = all_faults["outage"]
    shortfall = outcome(all_faults["marts"], "fct_volume_checks", "no_volume_shortfall")
    assert shortfall.severity == "error", sentences(all_faults["marts"])
    where = f"{planted['experiment_id']} v1 {planted['variant_id']} on {planted['source_system']} on {planted['day']}: "
    assert shortfall.details and all(d.startswith(where) for d in shortfall.details), shortfall.details
    assert all("100% of the expected" in d for d in shortfall.details), shortfall.details
    assert f"this affects the {planted['experiment_id']} v1 readout, so do not finalize" in shortfall.sentence
    # the alarm is about the outage alone: no other day, platform or variant of the build is flagged
    flagged = query(
        all_faults["warehouse"],
        "select distinct experiment_id, variant_id, source_system, event_date "
        "from marts.fct_volume_checks where is_volume_shortfall",
    )
    assert len(flagged) == 1 and flagged.iloc[0].experiment_id == planted["experiment_id"], flagged


def test_crafted_landing_rows_are_quarantined_with_their_reason_and_exact_count(matrix):
    rows = [r for r in matrix if r.fault in HOSTILE_ROWS]
    assert len(rows) == len(HOSTILE_ROWS)
    for row in rows:
        (catch,) = row.catches
        assert catch.count == row.planted_rows, (row.fault, catch)
        raw = outcome(row.report, *next(iter(row.expected)))
        assert raw.count == row.planted_rows and raw.severity == "warning", (row.fault, raw.sentence)


def test_the_catalog_injection_and_the_command_line_faults_are_caught(matrix):
    by_layer = {row.fault: row.layers for row in matrix if row.catches and not row.alarms}
    assert by_layer["SQL injected through a catalog row (numerator_event)"] == "dbt compile"
    assert by_layer["dbt build killed half-way"] == "readout report"
    assert by_layer["corrupt landing file"] == "CLI"
    assert by_layer["frozen readout: edited by hand / frozen twice / restate of one not frozen"] == "CLI"
    assert by_layer["data contract YAML: unquoted boolean / unknown key"] == "CLI"
    assert by_layer["Spark profile target that does not render (unknown Jinja filter)"] == "CLI"


def test_a_rebuild_of_the_same_data_publishes_identical_marts(matrix):
    row = next(r for r in matrix if r.fault.startswith("a rebuild of the same data"))
    assert row.planted != "0 marts"
    (catch,) = row.catches
    assert catch.count == 0, (
        "marts differ between two builds of the same data (tests/integration/test_rebuild_is_identical.py shows where)"
    )
