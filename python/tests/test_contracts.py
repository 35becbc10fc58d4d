"""Data contracts (contracts/*.yml): they load, generate the committed GX suites, and agree with the code,
the dbt project and the metric catalog they describe."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from readout import contract as instrumentation
from readout.contracts import freshness_thresholds, load_contracts
from readout.contracts.load import ContractError, load_contract
from readout.contracts.suites import generate, suite_specs

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
DBT_PROJECT = yaml.safe_load((REPO / "dbt_project.yml").read_text())
VARS = DBT_PROJECT["vars"]


@pytest.fixture(scope="module")
def contracts():
    return load_contracts(CONTRACTS)


def _rule(contract, rule_id):
    return next(rule for rule in contract.rules if rule.rule == rule_id)


# --------------------------------------------------------------------------------------- structure
def test_every_guarded_table_has_a_contract(contracts):
    assert set(contracts) == {
        "raw_events",
        "raw_experiments",
        "fct_experiment_units",
        "int_exposures_deduplicated_to_first_per_unit",
        "fct_variant_metric_stats",
        "fct_metric_results",
        "fct_sample_ratio_checks",
        "fct_volume_checks",
        "fct_sample_ratio_checks_by_segment",
    }
    assert {c.stage for c in contracts.values()} == {"raw", "marts"}


def test_every_contract_states_its_policies_and_owner(contracts):
    for contract in contracts.values():
        for key in ("nulls", "deduplication", "late_data", "replay"):
            assert len(contract.data["policies"][key].split()) >= 5, (contract.name, key)
        assert contract.owner_team and contract.data["grain"]
        assert "freshness" in contract.data, f"{contract.name}: say freshness: null when there is no SLA"
        assert contract.materiality.get("error_above") is not None


def test_every_contract_builds_its_suites_with_one_expectation_per_rule(contracts):
    for contract in contracts.values():
        for spec in suite_specs(contract):
            suite = spec.build()
            assert [e.meta["rule"] for e in suite.expectations] == [r.rule for r in spec.rules]
            assert len({e.id for e in suite.expectations}) == len(suite.expectations)


def test_committed_suites_are_exactly_what_the_contracts_generate(contracts):
    changed, extra = generate(contracts, CONTRACTS / "gx", check=True)
    assert not changed and not extra, (
        "contracts/gx is out of date with the contract YAML (run `readout contracts generate`): "
        + ", ".join(p.name for p in changed + extra)
    )


def test_generation_is_deterministic_and_check_detects_an_edit(tmp_path, contracts):
    copy = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, copy)
    changed, _ = generate(load_contracts(copy), copy / "gx", check=True)
    assert changed == []
    text = (copy / "raw_events.yml").read_text().replace("error_above: 0.05", "error_above: 0.07")
    (copy / "raw_events.yml").write_text(text)
    changed, _ = generate(load_contracts(copy), copy / "gx", check=True)
    assert [p.name for p in changed] == ["raw_events.rows.json"]
    (copy / "gx" / "orphan.rows.json").write_text("{}")
    changed, extra = generate(load_contracts(copy), copy / "gx", check=False)
    assert [p.name for p in extra] == ["orphan.rows.json"] and not (copy / "gx" / "orphan.rows.json").exists()
    assert generate(load_contracts(copy), copy / "gx", check=True) == ([], [])


def test_suite_json_records_the_rule_and_its_thresholds():
    suite = json.loads((CONTRACTS / "gx" / "raw_events.rows.json").read_text())
    by_rule = {e["meta"]["rule"]: e for e in suite["expectations"]}
    unique = by_rule["event_id_unique_per_source"]
    assert unique["type"] == "expect_compound_columns_to_be_unique"
    assert unique["meta"]["error_above"] == 0.05 and unique["meta"]["per"] == ["source_system"]
    assert by_rule["freshness.error"]["type"] == "expect_column_min_to_be_between"
    assert by_rule["freshness.error"]["kwargs"] == {"column": "hours_since_received", "max_value": 24.0}
    assert by_rule["freshness.error"]["severity"] == "critical" and by_rule["freshness.warn"]["severity"] == "warning"
    assert suite["meta"]["contract_file"] == "contracts/raw_events.yml"


# --------------------------------------------------------------------------- agreement with the code
def test_raw_events_schema_versions_are_the_instrumentation_contract(contracts):
    raw = contracts["raw_events"]
    assert raw.schema_versions == instrumentation.EVENT_COLUMNS_BY_VERSION
    assert raw.renames[2] == instrumentation.EVENT_RENAMES_V2
    assert contracts["raw_experiments"].schema_versions == {1: instrumentation.EXPERIMENT_COLUMNS}


def test_raw_vocabularies_are_the_instrumentation_contract_and_dbt_vars(contracts):
    raw, experiments = contracts["raw_events"], contracts["raw_experiments"]
    value_set = lambda c, r: _rule(c, r).kwargs["value_set"]  # noqa: E731
    assert value_set(raw, "event_name_allowed") == list(instrumentation.EVENT_NAMES) == VARS["accepted_event_names"]
    assert (
        value_set(raw, "source_system_allowed")
        == list(instrumentation.SOURCE_SYSTEMS)
        == VARS["accepted_source_systems"]
    )
    assert sorted(raw.schema_versions) == VARS["accepted_schema_versions"]
    assert value_set(raw, "assignment_mechanism_allowed") == list(instrumentation.ASSIGNMENT_MECHANISMS)
    assert value_set(raw, "traffic_type_allowed") == list(instrumentation.TRAFFIC_TYPES)
    assert value_set(experiments, "status_allowed") == list(instrumentation.EXPERIMENT_STATUSES)
    assert value_set(experiments, "unit_type_allowed") == list(instrumentation.UNIT_TYPES)


def test_tolerances_are_the_dbt_project_vars(contracts):
    raw = contracts["raw_events"]
    assert raw.tolerances["future_minutes"] == VARS["future_tolerance_minutes"]
    for rule in ("event_at_within_clock_skew", "event_at_not_in_future", "received_at_not_in_future"):
        assert _rule(raw, rule).kwargs["max_value"] == VARS["future_tolerance_minutes"], rule
    assert _rule(raw, "arrived_within_lookback").kwargs["max_value"] == 24 * VARS["lookback_days"]
    srm = contracts["fct_sample_ratio_checks"].derived_columns["mismatch_consistent"]
    assert f"p_value < {VARS['srm_threshold']}" in srm


#: staging reasons the raw contract checks per file, not per row: an undefined schema version, a retyped column
CHECKED_PER_FILE = {
    "unknown_schema_version": "files.schema_version_known",
    "unparseable_revenue": "schema_v1.columns_and_types",
}


def test_every_staging_quarantine_reason_is_documented_and_checked_by_the_raw_contract(contracts):
    staging = (REPO / "models" / "staging" / "landing" / "stg_landing__events_checked.sql").read_text()
    reasons = set(re.findall(r'"([a-z_]+)"\]', staging))
    assert {
        "non_finite_revenue",
        "missing_revenue",
        "future_received_at",
        "event_at_before_history",
        "unparseable_revenue",
    } <= reasons
    documented = (CONTRACTS / "instrumentation_contract.md").read_text()
    assert not [r for r in sorted(reasons) if f"`{r}`" not in documented]
    raw = contracts["raw_events"]
    linked = {rule.quarantine_reason for rule in raw.rules if rule.quarantine_reason}
    assert linked == reasons - set(CHECKED_PER_FILE), "a raw rule per staging reason, and no reason staging lacks"
    generated = {rule.rule for spec in suite_specs(raw) for rule in spec.rules}
    assert set(CHECKED_PER_FILE.values()) <= generated
    assert _rule(raw, "revenue_on_purchase").quarantine_reason == "missing_revenue"


def _dbt_columns(path: Path, model: str) -> dict[str, str]:
    models = yaml.safe_load(path.read_text())["models"]
    node = next(m for m in models if m["name"] == model)
    return {c["name"]: c["data_type"] for c in node["columns"]}


@pytest.mark.parametrize(
    "name, yml",
    [
        ("fct_experiment_units", "models/marts/experiments/_experiments__models.yml"),
        ("fct_variant_metric_stats", "models/marts/experiments/_experiments__models.yml"),
        ("fct_metric_results", "models/marts/experiments/_experiments__models.yml"),
        ("fct_sample_ratio_checks", "models/marts/experiments/_experiments__models.yml"),
        ("int_exposures_deduplicated_to_first_per_unit", "models/intermediate/experiments/_experiments__models.yml"),
        ("fct_volume_checks", "models/marts/quality/_quality__models.yml"),
        ("fct_sample_ratio_checks_by_segment", "models/marts/quality/_quality__models.yml"),
    ],
)
def test_warehouse_contract_columns_are_the_dbt_model_contract(contracts, name, yml):
    contract = contracts[name]
    assert contract.columns(1) == _dbt_columns(REPO / yml, name), (
        f"contracts/{name}.yml and the dbt model contract in {yml} list different columns or types"
    )
    assert contract.relation.split(".")[1] == name


def test_metric_definitions_are_the_governed_catalog(contracts):
    with (REPO / "seeds" / "metric_catalog.csv").open() as handle:
        catalog = {row["metric_id"]: row for row in csv.DictReader(handle)}
    for contract in contracts.values():
        metrics = contract.feeds.get("metrics") or {}
        for metric_id, spec in metrics.items():
            assert metric_id in catalog, f"{contract.name} defines {metric_id}, which is not in the catalog"
            definition = spec["definition"] if isinstance(spec, dict) else spec
            assert definition.rstrip(".") == catalog[metric_id]["description"], (contract.name, metric_id)
            if isinstance(spec, dict):
                row = catalog[metric_id]
                assert set(spec["events"]) == {row["numerator_event"], row["denominator_event"]} - {""}
    for name in ("raw_events", "fct_variant_metric_stats", "fct_metric_results", "fct_experiment_units"):
        assert set(contracts[name].feeds["metrics"]) == set(catalog), name
    assert set(_rule(contracts["fct_variant_metric_stats"], "metric_in_catalog").kwargs["value_set"]) == set(catalog)


# --------------------------------------------------------------------------------------- freshness
def test_freshness_thresholds_in_dbt_shape():
    spec = freshness_thresholds("raw_events", CONTRACTS)
    assert spec == {
        "loaded_at_field": "cast(received_at as timestamptz)",
        "freshness": {"warn_after": {"count": 6, "period": "hour"}, "error_after": {"count": 24, "period": "hour"}},
    }
    with pytest.raises(ValueError, match="has no freshness SLA"):
        freshness_thresholds("fct_metric_results", CONTRACTS)


def test_dbt_source_freshness_matches_the_contract_when_declared():
    sources = yaml.safe_load((REPO / "models/staging/landing/_landing__sources.yml").read_text())
    events = next(t for s in sources["sources"] for t in s["tables"] if t["name"] == "events")
    config = {**events, **(events.get("config") or {})}
    if "freshness" not in config:
        pytest.skip("models/staging/landing/_landing__sources.yml declares no freshness for events yet")
    spec = freshness_thresholds("raw_events", CONTRACTS)
    assert config["freshness"] == spec["freshness"]
    assert config["loaded_at_field"] == spec["loaded_at_field"]


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("owner"), "missing required key 'owner'"),
        (lambda d: d["expectations"][0].update(level="column"), "level must be one of row, table"),
        (lambda d: d["expectations"][0].update(error_above=2), "must be a share between 0 and 1"),
        (lambda d: d["expectations"][1].update(rule=d["expectations"][0]["rule"]), "is used twice"),
        (lambda d: d["schema"]["versions"][1]["columns"].update(event_id="text"), "has type 'text'"),
        # the pydantic schemas (readout.yamlschema) name the exact key and list the allowed keys and values
        (
            lambda d: d["freshness"].update(warn_after={"count": 2, "period": "week"}),
            "freshness.warn_after.period must be one of minute, hour, day, got 'week'",
        ),
        (lambda d: d["expectations"][0].update(typo=1), "unknown key 'typo' (allowed: rule, expect, says,"),
        (lambda d: d["expectations"][0]["kwargs"].update(row_condition="x > 1"), "write the row condition as 'where'"),
        (lambda d: d["expectations"][0].update(where={"x": {"~": 1}}), "where.x must be null, not_null or {op: value}"),
    ],
)
def test_a_malformed_contract_is_a_one_line_error_naming_the_file(tmp_path, edit, message):
    data = yaml.safe_load((CONTRACTS / "raw_events.yml").read_text())
    edit(data)
    path = tmp_path / "raw_events.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value).startswith("raw_events.yml") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_expectation_kwargs_name_the_rule(tmp_path):
    data = yaml.safe_load((CONTRACTS / "raw_experiments.yml").read_text())
    data["expectations"][-1]["kwargs"] = {"min_value": "many"}
    path = tmp_path / "raw_experiments.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ContractError, match=r"raw_experiments.yml: rule rows_present: invalid kwargs"):
        for spec in suite_specs(load_contract(path)):
            spec.build()


def _cli(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "readout.contracts", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_cli_user_errors_are_one_line_with_exit_2(tmp_path):
    missing = _cli("validate", "--stage", "raw", "--landing", str(tmp_path / "nowhere"), "--no-docs")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr
    assert "landing zone" in missing.stderr and "Traceback" not in missing.stderr
    warehouse = _cli("validate", "--stage", "marts", "--warehouse", str(tmp_path / "none.duckdb"), "--no-docs")
    assert warehouse.returncode == 2 and "warehouse" in warehouse.stderr and warehouse.stderr.count("\n") == 1
    unknown = _cli("validate", "--contract", "nope", "--no-docs")
    assert unknown.returncode == 2 and "unknown contract 'nope'" in unknown.stderr
    engine = _cli("validate", "--landing", str(tmp_path), "--no-docs", env={"READOUT_CONTRACT_ENGINE": "pandas"})
    assert engine.returncode == 2 and engine.stderr.count("\n") == 1, engine.stderr
    assert "unknown contract engine 'pandas'" in engine.stderr and "READOUT_CONTRACT_ENGINE" in engine.stderr
    as_of = _cli("validate", "--stage", "raw", "--as-of", "yesterday-ish", "--landing", str(tmp_path))
    assert as_of.returncode == 2 and "--as-of" in as_of.stderr


def test_cli_generate_check_and_freshness(tmp_path, capsys):
    from readout.contracts import main

    assert main(["generate", "--check"]) == 0
    copy = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, copy)
    (copy / "gx" / "raw_events.rows.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["--contracts-dir", str(copy), "generate", "--check"]) == 1
    assert "raw_events.rows.json" in capsys.readouterr().err
    assert main(["--contracts-dir", str(copy), "generate"]) == 0
    assert main(["--contracts-dir", str(copy), "generate", "--check"]) == 0
    capsys.readouterr()
    assert main(["freshness"]) == 0
    block = yaml.safe_load(capsys.readouterr().out)
    assert block["config"]["freshness"]["error_after"] == {"count": 24, "period": "hour"}
    assert block["config"]["loaded_at_field"] == "cast(received_at as timestamptz)"


def test_a_files_declared_schema_version_is_read_from_its_footer_only_when_the_footer_proves_it(tmp_path):
    """read._single_value answers a file's declared schema version from the Parquet statistics only when every row
    group says one value and no null; otherwise the rows are read (mixed versions, nulls, no statistics, text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from readout.contracts.read import _single_value

    def footer(values, type_=None, **options):
        path = tmp_path / f"f{len(list(tmp_path.iterdir()))}.parquet"
        column = pa.array(values, type=type_ or pa.int32())
        pq.write_table(pa.table({"schema_version": column}), path, row_group_size=2, **options)
        return pq.read_metadata(path)

    assert _single_value(footer([2, 2, 2, 2, 2]), "schema_version") == [2]  # three row groups, one value
    assert _single_value(footer([1, 1, 2, 2]), "schema_version") is None  # one version per row group, two in all
    assert _single_value(footer([1, 2, 1]), "schema_version") is None
    assert _single_value(footer([1, None, 1]), "schema_version") is None
    assert _single_value(footer([1, 1], write_statistics=False), "schema_version") is None
    assert _single_value(footer(["1", "1"], pa.string()), "schema_version") is None
    assert _single_value(footer([1, 1]), "nope") is None
