"""Every contract rule fires on crafted data with the exact count and severity, and clean data raises nothing.

Landing zones and warehouses are written here by hand (no simulator, no dbt): a clean base plus extra
rows that each break exactly one rule, so every rule's count is known in advance.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from contract_findings import findings

from readout import contract as instrumentation
from readout.contracts import load_contracts
from readout.contracts.validate import alert_sentence, resolve_as_of, validate
from readout.landing import arrow_schema
from readout.stats import compute_segment_sample_ratio_checks, compute_volume_checks

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = load_contracts(REPO / "contracts")
AS_OF = dt.datetime(2026, 1, 12, 13)  # 1.5 hours after the newest received_at of the clean rows
BASE = dt.datetime(2026, 1, 12)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------------------------------ landing
def event(**values) -> dict:
    row = {name: None for name in instrumentation.EVENT_COLUMNS_V1}
    row.update(schema_version=1, consent_granted=True, properties='{"page": "/"}')
    row.update(values)
    return row


def clean_events() -> list[dict]:
    """100 rows per client platform, 40 server assignments of exp_a v1; all valid."""
    rows = []
    for source in ("web", "ios", "android"):
        for i in range(100):
            unit = f"{source}-u{i % 20}"
            at = BASE + dt.timedelta(minutes=7 * i)
            common = dict(
                event_id=f"{source}-{i}",
                source_system=source,
                anonymous_id=unit,
                session_id=f"s-{unit}",
                event_at=iso(at),
                received_at=iso(at + dt.timedelta(seconds=5)),
            )
            kind = i % 10
            if kind == 0:
                rows.append(
                    event(
                        **common,
                        event_name="experiment_exposed",
                        experiment_id="exp_a",
                        experiment_version=1,
                        variant_id=["control", "treatment"][i % 20 // 10],
                        properties='{"surface": "home"}',
                    )
                )
            elif kind == 1:
                rows.append(event(**common, event_name="purchase", revenue=9.99, currency="USD"))
            elif kind == 2:
                rows.append(event(**common, event_name="signup"))
            else:
                rows.append(event(**common, event_name="session_start"))
    for i in range(40):
        at = BASE + dt.timedelta(minutes=11 * i)
        rows.append(
            event(
                event_id=f"server-{i}",
                source_system="server",
                event_name="experiment_assigned",
                anonymous_id=f"web-u{i % 20}",
                experiment_id="exp_a",
                experiment_version=1,
                variant_id=["control", "treatment"][i % 2],
                assignment_mechanism="hash",
                event_at=iso(at),
                received_at=iso(at + dt.timedelta(seconds=1)),
                properties='{"service": "assignment-api"}',
            )
        )
    return rows


def experiments_rows(extra: list[dict] = ()) -> list[dict]:
    def variant(experiment_id, variant_id, weight, control, **over):
        row = dict(
            experiment_id=experiment_id,
            experiment_version=1,
            name=experiment_id,
            status="running",
            started_at=dt.datetime(2026, 1, 10),
            ended_at=None,
            unit_type="anonymous_id",
            variant_id=variant_id,
            is_control=control,
            allocation_weight=weight,
        )
        row.update(over)
        return row

    rows = [
        variant("exp_a", "control", 0.5, True),
        variant("exp_a", "treatment", 0.5, False),
        variant("exp_draft", "control", 0.5, True, status="draft", started_at=None),
        variant("exp_draft", "treatment", 0.5, False, status="draft", started_at=None),
    ]
    return rows + [variant(**row) for row in extra]


def to_v2(row: dict) -> dict:
    out = {instrumentation.EVENT_RENAMES_V2.get(k, k): v for k, v in row.items()}
    out["schema_version"] = 2
    return out


def write_landing(
    root: Path,
    v1: list[dict],
    v2: list[dict] = (),
    experiments: list[dict] | None = None,
    extra_files: dict[str, pa.Table] | None = None,
) -> Path:
    (root / "events").mkdir(parents=True)
    (root / "experiments").mkdir()
    pq.write_table(
        pa.Table.from_pylist(v1, schema=arrow_schema(instrumentation.EVENT_COLUMNS_V1)),
        root / "events" / "part-0.parquet",
    )
    if v2:
        pq.write_table(
            pa.Table.from_pylist(list(v2), schema=arrow_schema(instrumentation.EVENT_COLUMNS_V2)),
            root / "events" / "part-0-v2.parquet",
        )
    for name, table in (extra_files or {}).items():
        pq.write_table(table, root / "events" / name)
    pq.write_table(
        pa.Table.from_pylist(
            experiments or experiments_rows(), schema=arrow_schema(instrumentation.EXPERIMENT_COLUMNS)
        ),
        root / "experiments" / "experiments.parquet",
    )
    return root


def split_versions(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """android rows go to a schema-version-2 file (renamed columns), the rest stay version 1."""
    return [r for r in rows if r["source_system"] != "android"], [
        to_v2(r) for r in rows if r["source_system"] == "android"
    ]


def by_rule(report, contract: str) -> dict:
    return {o.rule_id: o for o in report.outcomes if o.contract.name == contract}


def alarms(report) -> list[tuple[str, str, str, int]]:
    return sorted((o.contract.name, o.rule_id, o.severity, o.count) for o in report.alarms)


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory) -> Path:
    v1, v2 = split_versions(clean_events())
    return write_landing(tmp_path_factory.mktemp("clean"), v1, v2)


def test_clean_landing_raises_no_alarm(clean_landing):
    report = validate("raw", CONTRACTS, landing=clean_landing, as_of=AS_OF)
    assert alarms(report) == []
    rules = by_rule(report, "raw_events")
    assert rules["event_id_present"].total == 340 and rules["event_id_present"].count == 0
    assert {p.label for p in rules["event_id_present"].partitions} == {"web", "ios", "android", "server"}


def _extra(template: dict, suffix: str, **changes) -> dict:
    row = dict(template, event_id=f"{template['event_id']}-{suffix}")
    row.update(changes)
    return row


@pytest.fixture(scope="module")
def faulty_landing(tmp_path_factory) -> Path:
    rows = clean_events()
    web = {r["event_name"]: r for r in rows if r["source_system"] == "web"}
    android = {r["event_name"]: r for r in rows if r["source_system"] == "android"}
    ios = {r["event_name"]: r for r in rows if r["source_system"] == "ios"}
    server = next(r for r in rows if r["source_system"] == "server")
    session, purchase, exposure = web["session_start"], web["purchase"], web["experiment_exposed"]
    late = dt.datetime.fromisoformat(ios["session_start"]["received_at"][:-1]) - dt.timedelta(days=4)
    future = iso(dt.datetime(2026, 2, 1))
    extra = [
        _extra(session, "a", event_id=None),
        _extra(android["session_start"], "b", event_id=None),
        _extra(android["signup"], "c", event_id=None),
        _extra(session, "d", event_name=None),
        _extra(session, "e", event_name="page_view"),
        _extra(session, "f", source_system=None),
        _extra(session, "g", source_system="tvos"),
        _extra(session, "h", anonymous_id=None, user_id=None),
        _extra(session, "i", consent_granted=None),
        _extra(session, "j", event_at="not-a-date"),
        _extra(session, "k", received_at="garbage"),
        _extra(
            session, "l", event_at=iso(dt.datetime.fromisoformat(session["received_at"][:-1]) + dt.timedelta(hours=2))
        ),
        _extra(session, "m", event_at=future, received_at=future),
        *[_extra(ios["session_start"], f"n{i}", event_at=iso(late)) for i in range(3)],
        _extra(exposure, "o", experiment_id=None),
        _extra(exposure, "p", variant_id=None),
        _extra(exposure, "q", experiment_id="exp_unknown"),
        _extra(exposure, "r", variant_id="variant_c"),
        _extra(server, "s", assignment_mechanism="random"),
        _extra(purchase, "t", revenue=-5.0),
        _extra(android["purchase"], "t2", revenue=-1.0),
        _extra(purchase, "u", revenue=None),
        _extra(purchase, "v", currency="usd"),
        _extra(purchase, "w", currency=None),
        _extra(session, "x", properties="{bad json"),
        _extra(session, "y", properties='{"traffic_type": "crawler"}'),
        dict(session, received_at=iso(dt.datetime(2026, 1, 12, 12))),  # identical retries of one event ...
        dict(session, received_at=iso(dt.datetime(2026, 1, 12, 12, 1))),
        dict(web["signup"], properties='{"method": "other"}'),  # ... and a conflicting copy of another
        _extra(purchase, "z1", revenue=float("nan")),
        _extra(android["purchase"], "z2", revenue=float("inf")),  # arrives as v2 revenue_amount
        _extra(
            ios["session_start"],
            "z3",
            event_at=iso(dt.datetime(2025, 6, 1)),
            received_at=iso(dt.datetime(2025, 6, 1, 0, 1)),
        ),  # before events_begin (2026-01-01)
        dict(ios["session_start"], event_id=exposure["event_id"]),  # web's event_id, sent by ios too
    ]
    v1, v2 = split_versions(rows + extra)
    return write_landing(tmp_path_factory.mktemp("faulty"), v1, v2)


@pytest.fixture(scope="module")
def faulty_report(faulty_landing):
    return validate("raw", CONTRACTS, landing=faulty_landing, as_of=AS_OF)


EXPECTED_RAW = {  # rule: (count, severity); web has 123 rows, android 104, ios 105, server 41
    "event_id_present": (3, "error"),  # web 1/123 warns; android 2/104 is above 1%
    "event_name_present": (1, "warning"),
    "event_name_allowed": (1, "warning"),
    "source_system_present": (1, "error"),  # its own partition, (missing): 1 of 1
    "source_system_allowed": (1, "error"),  # tvos: 1 of 1
    "unit_id_present": (1, "warning"),
    "consent_granted_present": (1, "warning"),
    "event_at_parseable": (1, "warning"),
    "received_at_parseable": (1, "warning"),
    "event_at_within_clock_skew": (1, "warning"),
    "event_at_not_in_future": (1, "warning"),
    "received_at_not_in_future": (1, "warning"),
    "event_at_not_before_history": (1, "warning"),  # ios 1/105
    "arrived_within_lookback": (3, "warning"),  # ios 3/105 = 2.9%: above 2%, below 10%
    "experiment_id_on_experiment_events": (1, "error"),  # the share is of web exposures: 1 of 14
    "variant_id_on_experiment_events": (1, "error"),
    "experiment_known": (1, "warning"),
    "variant_known": (1, "warning"),
    "assignment_mechanism_allowed": (1, "error"),  # 1 of 41 server assignments
    "revenue_non_negative": (2, "warning"),  # one of them arrives as v2 revenue_amount
    "revenue_finite": (2, "warning"),  # NaN on web (1/123), +inf on android (1/104)
    "revenue_on_purchase": (1, "error"),  # 1 of 15 web purchases (the NaN one has a revenue)
    "currency_with_revenue": (1, "error"),  # 1 of 13 web rows with revenue
    "currency_present_with_revenue": (1, "error"),
    "properties_json": (1, "warning"),
    "traffic_type_allowed": (1, "warning"),
    "event_id_unique_per_source": (3, "warning"),  # 2 retries + 1 conflicting copy: 3/123 < 5%
    "event_id_unique_across_sources": (2, "warning"),  # the web exposure and its id on ios: never an error
    "duplicate_payloads_agree": (1, "warning"),
}


@pytest.mark.parametrize("rule", sorted(EXPECTED_RAW))
def test_each_raw_event_rule_counts_its_rows_with_the_right_severity(faulty_report, rule):
    outcome = by_rule(faulty_report, "raw_events")[rule]
    assert (outcome.count, outcome.severity) == EXPECTED_RAW[rule], outcome.sentence


def test_no_other_raw_rule_fires_on_the_crafted_rows(faulty_report):
    fired = {o.rule_id for o in faulty_report.alarms if o.contract.name == "raw_events"}
    assert fired == set(EXPECTED_RAW) | {"quarantined_share"}


def test_quarantined_share_escalates_per_source_system(faulty_report):
    outcome = by_rule(faulty_report, "raw_events")["quarantined_share"]
    partitions = {p.label: (p.count, p.total, p.severity) for p in outcome.partitions}
    # web: 15 rows fail a quarantine rule (the future row fails two; the purchase without revenue and the
    # NaN one count too) of 123; ios: the row before events_begin, below the 1% threshold
    assert partitions["web"] == (15, 123, "error")
    assert partitions["android"] == (4, 104, "error")
    assert partitions["ios"] == (1, 105, None) and partitions["server"] == (0, 41, None)
    assert outcome.severity == "error" and outcome.count == 15 + 4 + 1 + 1 + 1


def test_error_alarm_sentence_names_table_rule_count_severity_readouts_and_action(faulty_report):
    outcome = by_rule(faulty_report, "raw_events")["event_id_present"]
    sentence = alert_sentence(outcome)
    assert sentence.startswith("ERROR raw_events [event_id_present]: 3 rows in all: 2 of 104 android rows (1.9%)")
    assert "have no event_id, above the 1.0% materiality threshold" in sentence
    assert "this affects the retention_d7, revenue_per_session, sessions readouts" not in sentence
    assert (
        "affects the retention_d7, revenue_per_session and sessions readouts of every experiment running" in sentence
    )  # session_start and signup rows: signup feeds no catalog metric
    assert sentence.endswith(
        "so do not finalize them until data-platform has fixed the producer and replayed the rows."
    )
    assert sentence.count(".") >= 1 and "\n" not in sentence


def test_warning_sentence_says_below_threshold_and_names_the_experiment(faulty_report):
    outcome = by_rule(faulty_report, "raw_events")["variant_known"]
    sentence = outcome.sentence
    assert sentence.startswith("WARNING raw_events [variant_known]: 1 of 123 web rows (0.8%) name a variant")
    assert "below the 1.0% materiality threshold" in sentence
    assert "this affects the exp_a v1 readout" in sentence
    assert "the readouts can proceed" in sentence
    unknown = by_rule(faulty_report, "raw_events")["experiment_known"].sentence
    assert "no configured readout" in unknown


def test_cli_exit_codes_json_report_and_docs(faulty_landing, clean_landing, tmp_path, capsys):
    from readout.contracts import main

    as_of = ["--as-of", "2026-01-12T13:00:00Z", "--cache-dir", str(tmp_path / "cache")]
    out = tmp_path / "report.json"
    assert (
        main(
            [
                "validate",
                "--stage",
                "raw",
                "--landing",
                str(faulty_landing),
                *as_of,
                "--json",
                str(out),
                "--docs-dir",
                str(tmp_path / "docs"),
            ]
        )
        == 1
    )
    printed = capsys.readouterr().out.splitlines()
    report = json.loads(out.read_text())
    assert report["errors"] == sum(line.startswith("ERROR ") for line in printed) > 0
    assert report["warnings"] == sum(line.startswith("WARNING ") for line in printed) > 0
    assert printed[-1].startswith("contracts BREACHED (stage raw, as of 2026-01-12T13:00:00Z)")
    assert (tmp_path / "docs" / "raw" / "index.html").exists()
    alarm = next(a for a in report["alarms"] if a["rule"] == "event_id_present")
    assert alarm["partitions"] == [
        {"label": "android", "count": 2, "total": 104, "severity": "error"},
        {"label": "web", "count": 1, "total": 123, "severity": "warning"},
    ]
    assert (
        main(
            [
                "validate",
                "--stage",
                "raw",
                "--landing",
                str(faulty_landing),
                *as_of,
                "--no-docs",
                "--fail-on",
                "never",
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["validate", "--stage", "raw", "--landing", str(clean_landing), *as_of, "--no-docs"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("contracts held")


def test_an_empty_table_breaks_the_contract(tmp_path):
    landing = write_landing(tmp_path, [], experiments=experiments_rows())
    report = validate("raw", CONTRACTS, names=["raw_events"], landing=landing, as_of=AS_OF)
    rules = by_rule(report, "raw_events")
    assert rules["rows_present"].severity == "error"
    assert rules["rows_present"].sentence.startswith("ERROR raw_events [rows_present]: has no rows at all (0 rows)")
    assert rules["freshness.error"].severity == "error"


def test_an_unreadable_file_is_an_error(clean_landing, tmp_path):
    import shutil

    landing = tmp_path / "landing"
    shutil.copytree(clean_landing, landing)
    (landing / "experiments" / "broken.parquet").write_bytes(b"not parquet at all")
    report = validate("raw", CONTRACTS, names=["raw_experiments"], landing=landing, as_of=AS_OF)
    assert [(o.rule_id, o.severity) for o in report.alarms] == [("readable", "error")]
    assert "experiments/broken.parquet" in report.alarms[0].sentence


# -------------------------------------------------------------------------------------- schema
def test_schema_faults_name_the_file_and_column(tmp_path):
    rows = clean_events()
    web = [r for r in rows if r["source_system"] == "web"][:10]
    renamed = pa.Table.from_pylist(
        [
            {
                ("anon_id" if k == "anonymous_id" else k): (
                    str(v) if k == "experiment_version" and v is not None else v
                )
                for k, v in dict(r, event_id=r["event_id"] + "-x").items()
            }
            for r in web
        ],
        schema=pa.schema(
            [
                (
                    "anon_id" if f.name == "anonymous_id" else f.name,
                    pa.string() if f.name == "experiment_version" else f.type,
                )
                for f in arrow_schema(instrumentation.EVENT_COLUMNS_V1)
            ]
        ),
    )
    version3 = pa.Table.from_pylist(
        [dict(web[0], event_id="v3", schema_version=3)], schema=arrow_schema(instrumentation.EVENT_COLUMNS_V1)
    )
    v1, v2 = split_versions(rows)
    landing = write_landing(
        tmp_path, v1, v2, extra_files={"part-renamed.parquet": renamed, "part-v3.parquet": version3}
    )
    report = validate("raw", CONTRACTS, names=["raw_events"], landing=landing, as_of=AS_OF)
    rules = by_rule(report, "raw_events")
    schema = rules["schema_v1.columns_and_types"]
    assert (schema.count, schema.severity) == (2, "error")
    assert sorted(schema.details) == [
        "events/part-renamed.parquet: anonymous_id is (missing) where the contract says string",
        "events/part-renamed.parquet: experiment_version is string where the contract says int32",
    ]
    added = rules["schema_v1.no_extra_columns"]  # the renamed column's new name is an added one
    assert (added.count, added.severity) == (1, "warning")
    assert added.details == ["events/part-renamed.parquet: anon_id (string) is not in the contract"]
    files = rules["files.schema_version_known"]
    assert (files.count, files.severity) == (1, "error") and files.total == 4
    assert rules["schema_v2.columns_and_types"].severity is None
    # the renamed file's rows still reach the row rules: their anonymous_id reads as null
    assert rules["unit_id_present"].count == 10
    assert schema.sentence.startswith(
        "ERROR raw_events [schema_v1.columns_and_types]: 2 columns not matching "
        "schema version 1 (events/part-renamed.parquet: "
    )


def test_an_added_column_is_a_warning_that_names_it(tmp_path):
    rows = clean_events()
    web = [dict(r, event_id=r["event_id"] + "-x") for r in rows if r["source_system"] == "web"][:10]
    schema = arrow_schema(instrumentation.EVENT_COLUMNS_V1).append(pa.field("app_build", pa.string()))
    added = pa.Table.from_pylist([dict(r, app_build="7.1") for r in web], schema=schema)
    v1, v2 = split_versions(rows)
    landing = write_landing(tmp_path, v1, v2, extra_files={"part-added.parquet": added})
    report = validate("raw", CONTRACTS, names=["raw_events"], landing=landing, as_of=AS_OF)
    assert alarms(report) == [("raw_events", "schema_v1.no_extra_columns", "warning", 1)]
    assert report.exit_code() == 0
    assert report.alarms[0].sentence.startswith(
        "WARNING raw_events [schema_v1.no_extra_columns]: 1 column not in schema version 1 (an additive change) "
        "(events/part-added.parquet: app_build (string) is not in the contract)"
    )
    assert "add the column to the contract or stop sending it" in report.alarms[0].sentence


# ----------------------------------------------------------------------------------------- freshness
@pytest.mark.parametrize(
    "hours, expected", [(3, []), (10, ["freshness.warn"]), (30, ["freshness.error", "freshness.warn"])]
)
def test_freshness_against_the_as_of_time(clean_landing, hours, expected):
    newest = max(dt.datetime.fromisoformat(r["received_at"][:-1]) for r in clean_events())
    report = validate(
        "raw", CONTRACTS, names=["raw_events"], landing=clean_landing, as_of=newest + dt.timedelta(hours=hours)
    )
    fired = sorted(o.rule_id for o in report.alarms)
    assert fired == expected
    if hours == 30:
        error = by_rule(report, "raw_events")["freshness.error"]
        assert error.severity == "error"
        assert (
            "is stale: the newest row was received 30.0 hours before the as-of time 2026-01-13 17:33 UTC "
            "(at 2026-01-12 11:33 UTC), beyond the 24-hour freshness SLA" in error.sentence
        )


def test_as_of_from_the_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(
        json.dumps({"arguments": {"as_of": None}, "date_range": {"received_at_max": "2026-02-23T04:25:19.034Z"}})
    )
    assert resolve_as_of("manifest", tmp_path) == dt.datetime(2026, 2, 23, 4, 25, 19, 34000)
    (tmp_path / "manifest.json").write_text(json.dumps({"arguments": {"as_of": "2026-02-05T00:00:00.000Z"}}))
    assert resolve_as_of("manifest", tmp_path) == dt.datetime(2026, 2, 5)
    assert resolve_as_of("2026-02-05T01:00:00+01:00", None) == dt.datetime(2026, 2, 5)
    with pytest.raises(FileNotFoundError):
        resolve_as_of("manifest", tmp_path / "missing")


# --------------------------------------------------------------------------------------- experiments
def test_each_experiments_export_rule_fires(tmp_path):
    start, before = dt.datetime(2026, 1, 10), dt.datetime(2026, 1, 1)
    extra = [
        dict(experiment_id="exp_b", variant_id="control", weight=0.5, control=True),
        dict(experiment_id="exp_b", variant_id="treatment", weight=0.4, control=False),
        dict(experiment_id="exp_c", variant_id="control", weight=0.5, control=True),
        dict(experiment_id="exp_c", variant_id="treatment", weight=0.5, control=True),
        dict(experiment_id="exp_d", variant_id="control", weight=0.5, control=True, status="live"),
        dict(experiment_id="exp_d", variant_id="treatment", weight=0.5, control=False, status="live"),
        dict(experiment_id="exp_e", variant_id="control", weight=0.5, control=True, ended_at=before),
        dict(experiment_id="exp_e", variant_id="treatment", weight=0.5, control=False, ended_at=before),
        dict(experiment_id="exp_f", variant_id="control", weight=0.5, control=True, unit_type="session"),
        dict(experiment_id="exp_f", variant_id="treatment", weight=0.5, control=False, unit_type="session"),
        dict(experiment_id="exp_g", variant_id="control", weight=1.0, control=True),
        dict(experiment_id="exp_g", variant_id="treatment", weight=0.0, control=False),
        dict(experiment_id="exp_h", variant_id="control", weight=0.5, control=True, name=None),
        dict(experiment_id="exp_h", variant_id="treatment", weight=0.5, control=False),
        dict(experiment_id="exp_i", variant_id="control", weight=0.5, control=True),
        dict(experiment_id="exp_i", variant_id="treatment", weight=0.25, control=False),
        dict(experiment_id="exp_i", variant_id="treatment", weight=0.25, control=False),
        dict(experiment_id="exp_j", variant_id="control", weight=0.5, control=True, started_at=None),
        dict(experiment_id="exp_j", variant_id="treatment", weight=0.5, control=False, started_at=None),
    ]
    assert start  # the base rows start on 2026-01-10
    v1, v2 = split_versions(clean_events())
    landing = write_landing(tmp_path, v1, v2, experiments=experiments_rows(extra))
    report = validate("raw", CONTRACTS, names=["raw_experiments"], landing=landing, as_of=AS_OF)
    assert alarms(report) == sorted(
        [
            ("raw_experiments", "weights_sum_to_one", "error", 2),
            ("raw_experiments", "one_control", "error", 2),
            ("raw_experiments", "status_allowed", "error", 2),
            ("raw_experiments", "ended_after_started", "error", 2),
            ("raw_experiments", "unit_type_allowed", "error", 2),
            ("raw_experiments", "allocation_weight_in_range", "error", 1),
            ("raw_experiments", "required_name", "error", 1),
            ("raw_experiments", "key_unique", "error", 1),
            ("raw_experiments", "started_at_unless_draft", "error", 2),
        ]
    )
    sentence = by_rule(report, "raw_experiments")["one_control"].sentence
    assert sentence.startswith("ERROR raw_experiments [one_control]: 2 of 23 rows (8.7%) belong to an experiment")
    # one readout: "it" (the contract's template says "them")
    assert "exp_c v1 readout, so do not finalize it until experimentation-platform has corrected the export" in sentence


# ------------------------------------------------------------------------------------------- marts
def _table(con, contract: str, frame: pd.DataFrame, drop: tuple[str, ...] = (), add: dict | None = None):
    spec = CONTRACTS[contract]
    columns = [f"cast({name} as {type_}) as {name}" for name, type_ in spec.columns(1).items() if name not in drop]
    columns += [f"{value} as {name}" for name, value in (add or {}).items()]
    schema = spec.relation.split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    con.register("frame", frame.reindex(columns=list(spec.columns(1))))
    con.execute(f"create table {spec.relation} as select {', '.join(columns)} from frame")
    con.unregister("frame")


def _units(faults: bool) -> pd.DataFrame:
    rows = []
    for i in range(100):
        variant = "control" if i < 50 else "treatment"
        never = (i < 2) or (50 <= i < 52) or (faults and 52 <= i < 70)
        exposed = not never
        rows.append(
            dict(
                unit_id=f"u{i}",
                experiment_id="exp_e",
                experiment_version=1,
                variant_id=variant,
                assigned_variant_id=variant,
                exposed_variant_id=variant if exposed else None,
                assignment_mechanism="hash",
                exposure_source_system="ios" if exposed else None,
                exposure_count=1 if exposed else 0,
                is_consent_denied=False,
                is_bot_or_internal=False,
                is_exposed_without_assignment=False,
                is_exposed_before_assigned=False,
                is_in_several_variants=False,
                is_exposure_variant_mismatch=False,
                is_exposed_outside_window=False,
                is_before_experiment_start=False,
                is_assigned_after_experiment_end=False,
                is_assigned_never_exposed=never,
                is_eligible=exposed,
                is_in_assigned_population=True,
                is_in_exposed_population=exposed,
                assigned_at=dt.datetime(2026, 1, 15),
                first_exposed_at=dt.datetime(2026, 1, 15, 1) if exposed else None,
            )
        )
    frame = pd.DataFrame(rows).astype(object)
    if faults:
        frame = pd.concat([frame, frame.iloc[[90]]], ignore_index=True)  # a second row for u90
        frame.loc[91, ["is_eligible", "is_in_exposed_population"]] = None
        frame.loc[92, "is_in_exposed_population"] = False
        frame.loc[93, "exposure_count"] = 0
        frame.loc[[94, 95], "is_in_several_variants"] = True
        frame.loc[96, "is_exposed_before_assigned"] = True
        frame.loc[97, "is_bot_or_internal"] = True
    return frame


def _exposures(faults: bool) -> pd.DataFrame:
    rows = [
        dict(
            unit_id=f"u{i}",
            experiment_id="exp_e",
            experiment_version=1,
            exposed_variant_id="control",
            exposure_source_system="ios",
            first_exposed_at=dt.datetime(2026, 1, 15),
            last_exposed_at=dt.datetime(2026, 1, 16),
            exposure_count=2,
            exposed_variant_count=1,
        )
        for i in range(10)
    ]
    frame = pd.DataFrame(rows)
    if faults:
        frame.loc[1, "first_exposed_at"] = dt.datetime(2026, 1, 17)
        frame.loc[2, "exposure_count"] = 0
        frame = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    return frame


METRICS = ["conversion", "revenue", "revenue_per_session", "retention_d7", "sessions"]


def _stats(faults: bool) -> pd.DataFrame:
    rows = [
        dict(
            experiment_id="exp_e",
            experiment_version=1,
            population=population,
            variant_id=variant,
            metric_id=metric,
            metric_type="mean",
            direction="increase",
            role="secondary",
            metric_version=1,
            allocation_weight=0.5,
            n_units=40,
            n_units_window_in_progress=0,
            n_units_window_truncated=0,
            n_units_capped=0,
            metric_sum=10.0,
            metric_sum_of_squares=12.0,
            covariate_sum=3.0,
            covariate_sum_of_squares=4.0,
            is_control=variant == "control",
        )
        for population in ("assigned", "exposed")
        for variant in ("control", "treatment")
        for metric in METRICS
    ]
    frame = pd.DataFrame(rows)
    if faults:
        frame.loc[0, "n_units"] = 0
        clicks = frame.iloc[[0, 5]].assign(metric_id="clicks", n_units=40)
        lonely = frame.iloc[[0]].assign(experiment_id="exp_f", n_units=40)  # its treatment row is missing
        frame = pd.concat([frame, clicks, lonely], ignore_index=True)
    return frame


def _results(faults: bool) -> pd.DataFrame:
    rows = [
        dict(
            experiment_id="exp_e",
            experiment_version=1,
            population=population,
            variant_id="treatment",
            metric_id=metric,
            estimator="unadjusted",
            control_variant_id="control",
            metric_role="secondary",
            direction="increase",
            ci_method="welch",
            n_units_control=40,
            n_units_variant=40,
            mean_control=1.0,
            mean_variant=1.1,
            absolute_lift=0.1,
            absolute_lift_ci_lower=-0.1,
            absolute_lift_ci_upper=0.3,
            relative_lift=0.1,
            relative_lift_ci_lower=-0.1,
            relative_lift_ci_upper=0.3,
            p_value=0.3,
            adjusted_p_value=0.6,
            sequential_ci_lower=-0.2,
            sequential_ci_upper=0.4,
            alpha=0.05,
            is_significant=False,
            correction_method="holm",
            correction_family_size=len(METRICS),
            readout_status="confirmed",
            status_reason_text="Confirmed.",
            n_units_window_in_progress=0,
            n_units_window_truncated=0,
        )
        for population in ("assigned", "exposed")
        for metric in METRICS
    ]
    frame = pd.DataFrame(rows).astype(object)
    if faults:
        frame.loc[0, "absolute_lift_ci_lower"] = 0.2
        frame.loc[1, "p_value"] = -0.1
        frame.loc[2, ["p_value", "adjusted_p_value", "is_significant"]] = [0.02, 0.01, True]
        frame.loc[3, "is_significant"] = True
        frame.loc[4, ["p_value", "is_significant"]] = [None, None]
    return frame


def _srm(faults: bool) -> pd.DataFrame:
    def rows(experiment_id, population, p_values, mismatch=False):
        return [
            dict(
                experiment_id=experiment_id,
                experiment_version=1,
                population=population,
                variant_id=variant,
                observed_units=50 if variant == "control" else 30,
                expected_share=0.5,
                expected_units=40.0,
                chi_square=0.45,
                degrees_of_freedom=1,
                p_value=p,
                is_sample_ratio_mismatch=mismatch,
            )
            for variant, p in zip(("control", "treatment"), p_values)
        ]

    frame = rows("exp_e", "assigned", [0.5, 0.5]) + rows("exp_e", "exposed", [0.5, 0.5])
    if faults:
        frame += rows("exp_f", "exposed", [1e-6, 1e-6], mismatch=True) + rows("exp_g", "assigned", [0.4, 0.5])
    return pd.DataFrame(frame)


def _volume(faults: bool) -> pd.DataFrame:
    """Twenty days of session_start counts per variant on ios (computed by the real statistics); with faults,
    the treatment logs nothing on day 10."""
    days = pd.date_range("2026-01-10", periods=20, freq="D")
    rows = [
        dict(
            experiment_id="exp_e",
            experiment_version=1,
            source_system="ios",
            event_name="session_start",
            event_class="outcome",
            event_date=day,
            variant_id=variant,
            event_count=0 if faults and variant == "treatment" and i == 10 else 200 + (i * 7 + len(variant)) % 11,
        )
        for i, day in enumerate(days)
        for variant in ("control", "treatment")
    ]
    return compute_volume_checks(pd.DataFrame(rows))


def _segments(faults: bool) -> pd.DataFrame:
    """New exposed units per platform; with faults, ios is 200 vs 120 against a 50/50 split."""
    rows = [
        dict(
            experiment_id="exp_e",
            experiment_version=1,
            segment="platform",
            source_system=platform,
            exposure_date=None,
            variant_id=variant,
            expected_share=0.5,
            observed_units=120 if faults and platform == "ios" and variant == "treatment" else 200,
        )
        for platform in ("ios", "web")
        for variant in ("control", "treatment")
    ]
    return compute_segment_sample_ratio_checks(pd.DataFrame(rows))


def write_warehouse(path: Path, faults: bool, skip: tuple[str, ...] = ()) -> Path:
    con = duckdb.connect(str(path))
    try:
        _table(con, "fct_experiment_units", _units(faults))
        if "int_exposures_deduplicated_to_first_per_unit" not in skip:
            _table(con, "int_exposures_deduplicated_to_first_per_unit", _exposures(faults))
        _table(con, "fct_variant_metric_stats", _stats(faults))
        _table(
            con,
            "fct_metric_results",
            _results(faults),
            drop=("ci_method",) if faults else (),
            add={"notes": "'x'"} if faults else None,
        )
        _table(con, "fct_sample_ratio_checks", _srm(faults))
        _table(con, "fct_volume_checks", _volume(faults))
        _table(con, "fct_sample_ratio_checks_by_segment", _segments(faults))
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create table intermediate.int_events_stitched as select unit_id, 'ios' as source_system "
            "from marts.fct_experiment_units"
        )
        # no summary-statistics import here (fct_variant_metric_stats' derived is_summary_import looks them up)
        con.execute(
            "create table intermediate.int_import_summary_stats (experiment_id varchar, experiment_version integer)"
        )
    finally:
        con.close()
    return path


def test_clean_marts_raise_no_alarm(tmp_path):
    report = validate("marts", CONTRACTS, warehouse=write_warehouse(tmp_path / "w.duckdb", faults=False))
    assert alarms(report) == []
    assert len(report.outcomes) > 60


EXPECTED_MARTS = [
    ("fct_experiment_units", "exposed_population_is_eligible", "error", 1),
    ("fct_experiment_units", "exposure_count_positive", "error", 1),
    ("fct_experiment_units", "exposure_logging.no_missing_exposures", "error", 1),
    ("fct_experiment_units", "flag_not_null_is_eligible", "error", 1),
    ("fct_experiment_units", "flag_not_null_is_in_exposed_population", "error", 1),
    ("fct_experiment_units", "not_exposed_before_assigned", "warning", 1),
    ("fct_experiment_units", "not_in_several_variants", "error", 2),
    ("fct_experiment_units", "one_row_per_unit_and_version", "error", 1),
    ("fct_experiment_units", "bot_and_internal_share", "warning", 1),
    ("fct_metric_results", "absolute_lift_above_lower", "error", 1),
    ("fct_metric_results", "adjusted_p_not_below_raw", "error", 1),
    ("fct_metric_results", "estimable_rows_complete", "error", 1),
    ("fct_metric_results", "p_value_in_unit_interval_p_value", "error", 1),
    ("fct_metric_results", "schema_v1.columns_and_types", "error", 1),
    ("fct_metric_results", "schema_v1.no_extra_columns", "warning", 1),
    ("fct_metric_results", "significance_consistent", "error", 1),
    ("fct_sample_ratio_checks", "no_sample_ratio_mismatch", "error", 2),
    ("fct_sample_ratio_checks", "one_result_per_version_and_population", "error", 2),
    ("fct_sample_ratio_checks_by_segment", "no_segment_sample_ratio_mismatch", "error", 2),
    ("fct_volume_checks", "no_volume_shortfall", "error", 1),
    ("fct_variant_metric_stats", "metric_in_catalog", "error", 2),
    ("fct_variant_metric_stats", "n_units_positive", "error", 1),
    ("fct_variant_metric_stats", "weights_sum_to_one", "error", 1),
    ("int_exposures_deduplicated_to_first_per_unit", "counts_positive_exposure_count", "error", 1),
    ("int_exposures_deduplicated_to_first_per_unit", "first_not_after_last", "error", 1),
    ("int_exposures_deduplicated_to_first_per_unit", "one_row_per_unit_and_version", "error", 1),
]


def test_each_mart_rule_fires_on_crafted_rows(tmp_path):
    report = validate("marts", CONTRACTS, warehouse=write_warehouse(tmp_path / "w.duckdb", faults=True))
    assert alarms(report) == sorted(EXPECTED_MARTS)
    units = by_rule(report, "fct_experiment_units")
    logging_gap = units["exposure_logging.no_missing_exposures"].sentence
    assert logging_gap == (
        "ERROR fct_experiment_units [exposure_logging.no_missing_exposures]: 1 variant cell with exposures missing "
        "from one variant on one platform (exp_e v1 treatment on ios: 40% of 50 assigned units were never exposed vs "
        "4% in the other variants); this affects the exp_e v1 readout, so do not finalize it until "
        "experimentation-analytics has found the missing exposures, because the exposed population is biased."
    )
    several = units["not_in_several_variants"]
    assert several.partitions[0].label == "exp_e v1" and several.partitions[0].total == 101
    srm = by_rule(report, "fct_sample_ratio_checks")["no_sample_ratio_mismatch"].sentence
    assert "exp_f v1 (exposed): control has 50 units where 40 were expected (p = 1.0e-06)" in srm
    schema = by_rule(report, "fct_metric_results")["schema_v1.columns_and_types"]
    assert schema.details == ["marts.fct_metric_results: ci_method is (missing) where the contract says varchar"]
    added = by_rule(report, "fct_metric_results")["schema_v1.no_extra_columns"]
    assert added.details == ["marts.fct_metric_results: notes (varchar) is not in the contract"]


def test_a_missing_relation_is_an_error_not_a_crash(tmp_path):
    warehouse = write_warehouse(
        tmp_path / "w.duckdb", faults=False, skip=("int_exposures_deduplicated_to_first_per_unit",)
    )
    report = validate("marts", CONTRACTS, warehouse=warehouse)
    assert alarms(report) == [("int_exposures_deduplicated_to_first_per_unit", "readable", "error", 1)]
    assert "does not exist in the warehouse" in report.alarms[0].sentence


def test_data_docs_are_written(clean_landing, tmp_path):
    report = validate(
        "raw", CONTRACTS, names=["raw_experiments"], landing=clean_landing, as_of=AS_OF, docs_dir=tmp_path / "docs"
    )
    assert report.docs == (tmp_path / "docs" / "index.html").resolve()
    html = report.docs.read_text()
    assert "raw_experiments.rows" in html
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))


def test_great_expectations_itself_reports_what_the_fast_engine_reports(faulty_landing, faulty_report, tmp_path):
    """The fast engine (the default, readout.contracts.engine) against GX running every suite (--engine gx): the
    raw fault matrix and the mart fault matrix give the same outcomes, counts, partitions, readouts and sentences."""
    assert faulty_report.engine == {"name": "fast", "runs": {"fast": 7, "gx": 0}, "gx_ran": {}}
    through_gx = validate("raw", CONTRACTS, landing=faulty_landing, as_of=AS_OF, engine="gx")
    assert through_gx.engine["runs"] == {"fast": 0, "gx": 7}
    assert findings(through_gx) == findings(faulty_report)
    warehouse = write_warehouse(tmp_path / "w.duckdb", faults=True)
    fast = validate("marts", CONTRACTS, warehouse=warehouse)
    assert fast.engine["runs"]["fast"] > 10 and len(fast.errors) > 10
    assert findings(validate("marts", CONTRACTS, warehouse=warehouse, engine="gx")) == findings(fast)
