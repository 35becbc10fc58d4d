"""Issue 10, item 1: a one-day platform outage in one variant is caught. One day of iOS events of the units
assigned to exp_checkout_button's treatment is deleted from the all-faults simulation (tests/integration/
conftest.py); the volume check (fct_volume_checks) must raise an error naming the experiment, version, variant,
platform, day and the share missing, and the clean simulation must raise no volume or per-segment
sample-ratio alarm.

Cost: none of its own; it reads the session's clean and all-faults builds.
"""

from __future__ import annotations

import pytest
import yaml
from e2e import PROJECT, query
from faults import OUTAGE

from readout.contracts import load_contracts
from readout.contracts.validate import validate

CONTRACTS = load_contracts(PROJECT / "contracts")
CHECKS = ["fct_volume_checks", "fct_sample_ratio_checks_by_segment"]
VARS = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def clean(clean_simulation) -> dict:
    return {
        "warehouse": clean_simulation["warehouse"],
        "report": validate("marts", CONTRACTS, names=CHECKS, warehouse=clean_simulation["warehouse"]),
    }


@pytest.fixture(scope="module")
def outage(all_faults_simulation) -> dict:
    warehouse = all_faults_simulation["warehouse"]
    return {
        "warehouse": warehouse,
        "planted": all_faults_simulation["outage"],
        "report": validate("marts", CONTRACTS, names=CHECKS, warehouse=warehouse),
    }


def _outcome(report, contract: str, rule: str):
    return next(o for o in report.outcomes if o.contract.name == contract and o.rule_id == rule)


def _sentences(report) -> str:
    return "\n".join(o.sentence for o in report.alarms)


def test_the_clean_simulation_raises_no_volume_or_segment_alarm(clean):
    report = clean["report"]
    assert not report.alarms, _sentences(report)
    assert len(report.outcomes) > 20
    cells = query(
        clean["warehouse"],
        """
        select count(*) filter (where is_tested) as tested, count(*) filter (where is_volume_shortfall) as flagged,
               count(*) filter (where alarm is not null) as alarms
        from marts.fct_volume_checks""",
    ).iloc[0]
    assert cells["tested"] > 200 and cells["flagged"] == 0 and cells["alarms"] == 0
    segments = query(
        clean["warehouse"],
        """
        select segment, count(*) filter (where srm_status = 'mismatch') as mismatches,
               count(*) filter (where p_value is not null) as tested
        from marts.fct_sample_ratio_checks_by_segment group by 1 order by 1""",
    ).set_index("segment")
    assert set(segments.index) == {"day", "platform", "platform_day"}
    assert (segments["tested"] > 0).all() and (segments["mismatches"] == 0).all()


def test_the_outage_cells_are_tested_and_in_line_without_the_outage(clean):
    cells = query(
        clean["warehouse"],
        f"""
        select event_name, is_tested, missing_share from marts.fct_volume_checks
        where experiment_id = '{OUTAGE["experiment_id"]}' and variant_id = '{OUTAGE["variant_id"]}'
          and source_system = '{OUTAGE["source_system"]}' and event_date = date '{OUTAGE["day"]}'""",
    )
    assert set(cells["event_name"]) >= {"experiment_exposed", "session_start"}
    tested = cells[cells["is_tested"]]
    assert not tested.empty and (tested["missing_share"].abs() < 0.5).all(), cells


def test_a_one_day_ios_outage_in_one_variant_raises_an_error_naming_it(outage):
    planted = outage["planted"]
    assert planted["rows"] > 0 and planted["rows_by_event_name"].get("session_start", 0) > 0
    report = outage["report"]
    shortfall = _outcome(report, "fct_volume_checks", "no_volume_shortfall")
    assert shortfall.severity == "error", _sentences(report)
    where = f"{OUTAGE['experiment_id']} v1 {OUTAGE['variant_id']} on {OUTAGE['source_system']} on {OUTAGE['day']}: "
    assert shortfall.details and all(d.startswith(where) for d in shortfall.details), shortfall.details
    assert all("100% of the expected" in d and "are missing (0 of ~" in d for d in shortfall.details)
    sentence = shortfall.sentence
    assert sentence.startswith("ERROR fct_volume_checks [no_volume_shortfall]: ")
    assert f"this affects the {OUTAGE['experiment_id']} v1 readout, so do not finalize" in sentence
    # nothing else is flagged by the volume check: the other variant, platforms and days of the build stay
    # quiet (the per-segment sample ratio may also flag the simulator's variant_logging_loss on another experiment)
    others = [
        o
        for o in report.alarms
        if o is not shortfall
        and not (o.rule_id == "no_segment_sample_ratio_mismatch" and all("exp_search_ranking" in d for d in o.details))
    ]
    assert not others, _sentences(report)


def test_the_flagged_cells_report_the_planted_share_and_volume(outage):
    planted = outage["planted"]
    flagged = query(
        outage["warehouse"],
        """
        select * from marts.fct_volume_checks where is_volume_shortfall order by event_name""",
    )
    assert not flagged.empty
    assert set(flagged["experiment_id"]) == {OUTAGE["experiment_id"]}
    assert set(flagged["variant_id"]) == {OUTAGE["variant_id"]}
    assert set(flagged["source_system"]) == {OUTAGE["source_system"]}
    assert {f"{d:%Y-%m-%d}" for d in flagged["event_date"]} == {OUTAGE["day"]}
    assert set(flagged["event_name"]) <= set(planted["rows_by_event_name"])
    # every event of the day was deleted: the whole expected volume is missing ...
    assert (flagged["observed_events"] == 0).all() and (flagged["missing_share"] == 1.0).all()
    # ... and the volume expected from the other variant is the volume deleted, within its noise
    for row in flagged.itertuples():
        removed = planted["rows_by_event_name"][row.event_name]
        assert abs(row.expected_events - removed) <= 3 * removed**0.5 + 2, (
            row.event_name,
            row.expected_events,
            removed,
        )
    assert (flagged["adjusted_p_value"] < VARS["volume_alpha"]).all()
    for alarm in flagged["alarm"]:
        assert alarm.startswith(f"{OUTAGE['experiment_id']} v1 {OUTAGE['variant_id']} on ios on {OUTAGE['day']}: 100%")
        assert alarm.endswith(
            f"so do not finalize the {OUTAGE['experiment_id']} v1 readout until the missing events are found"
        )


def test_contract_thresholds_are_the_dbt_vars():
    volume = CONTRACTS["fct_volume_checks"].derived_columns["shortfall_consistent"]
    assert f"missing_share >= {VARS['volume_min_missing_share']:g}" in volume
    assert f"adjusted_p_value < {VARS['volume_alpha']:g}" in volume
    segment = CONTRACTS["fct_sample_ratio_checks_by_segment"].derived_columns["status_consistent"]
    assert f"adjusted_p_value < {VARS['srm_threshold']:g} then 'mismatch'" in segment
    assert f"adjusted_p_value < {VARS['srm_warning_threshold']:g} then 'warning'" in segment
