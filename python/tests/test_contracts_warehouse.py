"""Mart contracts in bounded memory (readout.contracts.validate._warehouse_rows): a warehouse table's rows are
streamed to the suite's engine (the fast one by default) in batches and the rules across rows (duplicates) are
counted by DuckDB over the whole table; the report equals one GX validation of the whole table in one frame, rule
for rule and count for count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from contract_findings import findings

from readout.contracts import load_contracts
from readout.contracts.docs import GxRunner
from readout.contracts.evaluate import evaluate
from readout.contracts.read import derived_sql, needed_columns
from readout.contracts.suites import suite_specs
from readout.contracts.validate import validate

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = load_contracts(REPO / "contracts")
NAME = "fct_experiment_units"


def units_table(rows: int, seed: int = 3) -> pd.DataFrame:
    """Units of four experiment versions with every fault the contract counts: duplicated unit x versions,
    null keys and flags, flags set (several of them above the 1% error threshold in one version only),
    exposure counts below 1, the exposed population not matching eligibility."""
    rng = np.random.default_rng(seed)
    contract = CONTRACTS[NAME]
    columns = contract.columns(contract.first_version)
    experiment = rng.choice(["exp_a", "exp_b"], rows)
    version = rng.integers(1, 3, rows).astype("int32")
    frame = pd.DataFrame(
        {
            "unit_id": [f"u{i}" for i in rng.integers(0, rows, rows)],  # some units twice in a version
            "experiment_id": experiment,
            "experiment_version": version,
            "variant_id": rng.choice(["control", "treatment"], rows),
            "assigned_variant_id": rng.choice(["control", "treatment"], rows),
            "exposed_variant_id": rng.choice(["control", "treatment"], rows),
            "assignment_mechanism": "server",
            "exposure_source_system": rng.choice(["ios", "web"], rows),
            "exposure_count": rng.integers(0, 4, rows),
            "assigned_at": pd.Timestamp("2026-02-01") + pd.to_timedelta(rng.integers(0, 86400, rows), unit="s"),
            "first_exposed_at": pd.Timestamp("2026-02-02"),
        }
    )
    for column, type_ in columns.items():
        if type_ == "boolean":
            rate = 0.03 if column != "is_bot_or_internal" else 0.002
            rate = rate * (4 if column == "is_in_several_variants" else 1)
            flag = rng.random(rows) < np.where((experiment == "exp_b") & (version == 2), rate, rate / 50)
            frame[column] = pd.array(flag, dtype="boolean")
    frame.loc[rng.random(rows) < 0.001, "variant_id"] = None
    frame.loc[rng.random(rows) < 0.001, "experiment_id"] = None
    frame.loc[rng.random(rows) < 0.002, "is_eligible"] = pd.NA
    frame.loc[rng.random(rows) < 0.05, "first_exposed_at"] = pd.NaT
    return frame[list(columns)]


def warehouse(path: Path, frame: pd.DataFrame) -> Path:
    contract = CONTRACTS[NAME]
    columns = contract.columns(contract.first_version)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.register("frame", frame)
        casts = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in columns.items())
        con.execute(f"create table marts.{NAME} as select {casts} from frame")
    return path


def test_mart_rows_in_batches_report_what_one_frame_does(tmp_path):
    path = warehouse(tmp_path / "wh.duckdb", units_table(9000))
    report = validate("marts", CONTRACTS, names=[NAME], warehouse=path, batch_rows=2048)  # 5 batches
    contract = CONTRACTS[NAME]
    rows_spec = next(s for s in suite_specs(contract) if s.kind == "rows")
    with duckdb.connect(str(path), read_only=True) as con:
        names = [*contract.columns(contract.first_version), *contract.derived_columns]
        sql = derived_sql(
            f"select * from {contract.relation}", contract.derived_columns, needed_columns(rows_spec, names)
        )
        whole = con.execute(sql).df()
    reference = evaluate(rows_spec, whole, GxRunner(None).run(rows_spec, whole))
    batched = [o for o in report.outcomes if o.suite == rows_spec.name]
    assert findings(batched) == findings(reference)
    by_rule = {o.rule_id: o for o in batched}
    # the faults are there to be caught: duplicates, nulls, a flag above the threshold in one version only
    assert by_rule["one_row_per_unit_and_version"].count > 0
    assert by_rule["required_variant_id"].severity == "error"
    several = {p.label: p.severity for p in by_rule["not_in_several_variants"].partitions}
    assert several["exp_b v2"] == "error" and several["exp_a v1"] != "error"
    assert by_rule["rows_present"].severity is None


def test_an_empty_mart_is_an_error_not_a_crash(tmp_path):
    path = warehouse(tmp_path / "wh.duckdb", units_table(50).iloc[0:0])
    report = validate("marts", CONTRACTS, names=[NAME], warehouse=path, batch_rows=2048)
    by_rule = {o.rule_id: o for o in report.outcomes}
    assert by_rule["rows_present"].severity == "error"
    assert by_rule["one_row_per_unit_and_version"].count == 0
