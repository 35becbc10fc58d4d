"""dbt's unit tests (models/**/_*.yml, ``unit_tests:``) run in the test suite, not in every build.

``readout build`` leaves them out unless given ``--unit-tests`` (readout.build.step_flags): a unit test runs a model
on fixed fixture rows, so it checks the checkout, not the data. The suite's shared clean build
(tests/integration/conftest.py) passes ``--unit-tests``, so every unit test of the project runs there on DuckDB
(and in the Spark equality test on Spark); here: that it did, and that each passed, while a default build ran none.
"""

from __future__ import annotations

import json

from e2e import build_results, target_dir


def test_the_clean_build_ran_every_unit_test_and_each_passed(clean_simulation):
    warehouse = clean_simulation["warehouse"]
    defined = set(json.loads((target_dir(warehouse) / "manifest.json").read_text())["unit_tests"])
    assert len(defined) >= 9
    ran = {r["unique_id"]: r["status"] for r in build_results(warehouse) if r["unique_id"].startswith("unit_test.")}
    assert set(ran) == defined
    assert set(ran.values()) == {"pass"}, ran


def test_a_default_build_runs_no_unit_test(all_faults_simulation):
    results = build_results(all_faults_simulation["warehouse"])
    assert any(r["unique_id"].startswith("test.") for r in results)  # the data tests ran
    assert not [r["unique_id"] for r in results if r["unique_id"].startswith("unit_test.")]
