"""Issue 12: every readout row carries its status, and window completeness is true.

A clean simulated timeline (seed 5, 40,000 events) built on three run days, as a scheduler would: a full
build of the landing zone as of 2026-02-05, then the rows received since (`readout simulate --append`, late
rows included) and a plain incremental `dbt build` on 2026-02-13 and 2026-02-19. The simulator's versions
run from 2026-01-15 to 2026-02-12 (exp_search_ranking v1 to 2026-02-01); mobile uploads arrive up to ten
days late; the raw contract allows 72 hours (var lookback_days).

- 2026-02-05: every version still running is provisional (experiment_running, lookback_open, and
  windows_in_progress exactly where units of the row's arms have an open window); exp_search_ranking v1,
  ended on 02-01 with its slowest source's watermark past that, is confirmed.
- 2026-02-13: the versions have ended but their data is complete only to 02-10: provisional with
  lookback_open (and windows_in_progress on the 14-day metrics), no longer experiment_running.
- 2026-02-19: every window and the lookback have closed: confirmed, except the version an error-level
  contract alarm names through the blocking-alarms hook (contract_error; a warning blocks nothing) and the
  version whose control a new landing file doubles (a planted sample ratio mismatch).

The watermark is checked against the landing files themselves (the slowest source still sending, minus
the lag), and every exposed unit of a row's two arms is either in its n or counted as in progress or
truncated. The shared all-faults build shows the volume side: its planted one-day iOS outage blocks its version.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from e2e import SEED, dbt, dbt_build, project_env, query, readout, simulate
from faults import plant_sample_ratio_mismatch

from readout.landing import ensure_landing_tables
from readout.report import render
from readout.simulate import main as simulate_main

EVENTS = 40_000
RUN_DAYS = ["2026-02-05", "2026-02-13", "2026-02-19"]
LAG = dt.timedelta(days=3)  # dbt_project.yml var lookback_days, the raw contract's 72 hours
ENDED = pd.Timestamp("2026-02-12")
EARLY_VERSION = ("exp_search_ranking", 1)  # ended 2026-02-01
BLOCKED = ("exp_homepage_aa", 1)  # an error-level contract alarm names it before the last build
WARNED = ("exp_pricing_banner", 1)  # a warning-level one: blocks nothing
MISMATCHED = ("exp_onboarding_flow", 1, "control")  # a new landing file doubles its control before the last build

RESULTS = """
select r.*, coalesce(r.status_reasons, '') as reasons
from marts.fct_metric_results as r
order by experiment_id, experiment_version, population, variant_id, metric_id, estimator
"""


def landing_watermarks(landing) -> dict:
    """Each source system's latest received_at in the landing files, computed apart from the models."""
    with duckdb.connect() as con:
        rows = con.execute(
            "select source_system, max(cast(received_at as timestamptz) at time zone 'UTC') "
            f"from read_parquet('{landing}/events/**/*.parquet', union_by_name = true) group by 1"
        ).fetchall()
    return {source: pd.Timestamp(last) for source, last in rows}


def write_blocking_alarms(warehouse) -> None:
    """What `readout build` feeds in from the mart contracts (the hook's documented table), planted by hand for
    the plain `dbt build` that follows (which does not rewrite it)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""
            create or replace table main.readout_blocking_alarms as select * from (values
                ('exp_homepage_aa', 1, 'contract', 'exposure_logging.no_missing_exposures', 'error',
                 'ERROR fct_experiment_units [exposure_logging.no_missing_exposures]: do not finalize'),
                ('exp_pricing_banner', 1, 'contract', 'bot_and_internal_share', 'warning', 'WARNING ...')
            ) t(experiment_id, experiment_version, alarm_source, rule, severity, alarm)""")


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("readout_status")
    landing, warehouse = root / "landing", root / "timeline.duckdb"
    simulate(landing, "none", EVENTS, "--as-of", RUN_DAYS[0])
    ensure_landing_tables(landing)
    days = {}
    for number, day in enumerate(RUN_DAYS):
        if number == 0:
            dbt_build(landing, warehouse, contracts=False)  # the contract alarm is planted by hand below
        else:
            code = simulate_main(["--append", "--as-of", day, "--out", str(landing), "--quiet"])
            assert code == 0, f"readout simulate --append --as-of {day} exited {code}"
            if day == RUN_DAYS[-1]:
                write_blocking_alarms(warehouse)
                days["planted_units"] = plant_sample_ratio_mismatch(landing, *MISMATCHED)
            readout("event-time-range", "--check-only", "--landing", str(landing), env=project_env(landing, warehouse))
            dbt("build", landing=landing, warehouse=warehouse)
        days[day] = {
            "results": query(warehouse, RESULTS),
            "versions": query(warehouse, "select * from intermediate.int_experiment_version_watermarks"),
            "landing": landing_watermarks(landing),
            "report": render(warehouse),
        }
    days["units"] = query(
        warehouse,
        """
        select experiment_id, experiment_version, variant_id, count(*) as n
        from marts.fct_experiment_units where is_in_exposed_population group by all""",
    )
    days["seed"] = SEED
    return days


def rows_of(results: pd.DataFrame, version: tuple[str, int]) -> pd.DataFrame:
    return results[(results.experiment_id == version[0]) & (results.experiment_version == version[1])]


def test_the_watermark_is_the_slowest_source_still_sending_minus_the_lag(timeline):
    for day in RUN_DAYS:
        last = timeline[day]["landing"]
        zone = max(last.values())
        active = [when for when in last.values() if when > zone - LAG]  # a source quiet for longer is idle
        expected = min(active) - LAG
        versions = timeline[day]["versions"]
        with_units = versions[versions.source_system_count > 0]
        assert len(with_units) == 6, day
        assert (with_units.watermark_at == expected).all(), (day, expected, with_units.watermark_at.tolist())
        results = timeline[day]["results"]
        assert (results.watermark_at == expected).all(), day
        # one global max(received_at) would have been later than the true watermark
        assert expected < zone - LAG or expected == zone - LAG


def test_early_on_running_versions_are_provisional_with_their_reasons(timeline):
    results = timeline["2026-02-05"]["results"]
    running = results[~results.experiment_id.eq(EARLY_VERSION[0]) | results.experiment_version.ne(EARLY_VERSION[1])]
    assert (running.readout_status == "provisional").all()
    assert running.reasons.str.startswith("experiment_running").all()
    assert running.reasons.str.contains("lookback_open").all()
    in_progress = running.n_units_window_in_progress > 0
    assert in_progress.any() and (running.reasons.str.contains("windows_in_progress") == in_progress).all()
    assert running.status_reason_text.str.startswith("Provisional: the experiment version is still running").all()
    # the version that ended on 02-01, with every source's watermark past that, is already final
    early = rows_of(results, EARLY_VERSION)
    assert len(early) and (early.readout_status == "confirmed").all() and early.status_reasons.isna().all()
    assert early.status_reason_text.str.startswith("Confirmed: the version ended 2026-02-01").all()
    assert "[provisional: experiment_running, windows_in_progress, lookback_open]" in timeline["2026-02-05"]["report"]


def test_after_the_end_the_lookback_keeps_them_provisional(timeline):
    results = timeline["2026-02-13"]["results"]
    ended = results.drop(rows_of(results, EARLY_VERSION).index)
    assert len(ended) and (ended.watermark_at < ENDED).all()  # ended on 02-12, data complete to 02-10 only
    assert (ended.readout_status == "provisional").all()
    assert not ended.reasons.str.contains("experiment_running").any()
    assert ended.reasons.str.contains("lookback_open").all()
    assert ended.status_reason_text.str.contains("the version ended 2026-02-12 00:00:00").all()
    # 7-day conversion windows have all closed; 14-day ones of the last enrolled units are still open
    assert (ended[ended.metric_id == "conversion"].reasons == "lookback_open").all()
    assert (ended[ended.metric_id == "retention_d7"].n_units_window_in_progress > 0).all()
    assert (rows_of(results, EARLY_VERSION).readout_status == "confirmed").all()


def test_once_windows_and_lookback_close_they_are_confirmed_unless_an_error_blocks_them(timeline):
    results = timeline["2026-02-19"]["results"]
    assert (results.watermark_at >= ENDED).all()
    assert (results.n_units_window_in_progress == 0).all()
    blocked = rows_of(results, BLOCKED)
    assert len(blocked) and (blocked.readout_status == "provisional").all()
    assert (blocked.status_reasons == "contract_error").all()
    assert blocked.status_reason_text.str.contains(
        r"1 data-contract error\(s\) block it \(exposure_logging.no_missing_exposures\)"
    ).all()
    others = results.drop(blocked.index).drop(rows_of(results, MISMATCHED[:2]).index)
    assert len(rows_of(others, WARNED)) and (others.readout_status == "confirmed").all()
    assert others.status_reasons.isna().all()
    report = timeline["2026-02-19"]["report"]
    assert "[provisional: contract_error]" in report and "[confirmed]" in report
    assert "\n  exp_homepage_aa v1 (" in report


def test_every_exposed_unit_is_in_n_or_counted_as_in_progress_or_truncated(timeline):
    """The last day's units against each earlier day's counts: a unit is never silently dropped (the exposed
    population only grows as late exposures arrive, so an earlier day counts at most the last day's units)."""
    units = timeline["units"].set_index(["experiment_id", "experiment_version", "variant_id"])["n"]
    for day in RUN_DAYS:
        results = timeline[day]["results"]
        rows = results[(results.population == "exposed") & (results.estimator == "unadjusted")]
        accounted = (
            rows.n_units_control
            + rows.n_units_variant
            + rows.n_units_window_in_progress
            + rows.n_units_window_truncated
        )
        arms = [
            units.get((r.experiment_id, r.experiment_version, r.variant_id), 0)
            + units.get((r.experiment_id, r.experiment_version, r.control_variant_id), 0)
            for r in rows.itertuples()
        ]
        if day == RUN_DAYS[-1]:
            assert accounted.tolist() == arms
        else:
            assert (accounted <= pd.Series(arms, index=rows.index)).all()


def test_a_sample_ratio_mismatch_keeps_its_version_from_being_confirmed(timeline):
    assert timeline["planted_units"] > 50
    results = timeline["2026-02-19"]["results"]
    mismatched = rows_of(results, MISMATCHED[:2])
    assert len(mismatched) and (mismatched.readout_status == "provisional").all()
    assert mismatched.reasons.str.contains(r"(?:^|,)sample_ratio_mismatch(?:,|$)").all()
    assert mismatched.status_reason_text.str.contains("a sample ratio mismatch blocks it").all()
    # no other version carries it, and it never blocked this one before it was planted
    assert not results.drop(mismatched.index).reasons.str.contains("sample_ratio_mismatch").any()
    assert not timeline["2026-02-13"]["results"].reasons.str.contains("sample_ratio_mismatch").any()


def test_a_volume_shortfall_keeps_its_version_from_being_confirmed(all_faults_simulation):
    """The shared all-faults build's planted one-day iOS outage in exp_checkout_button's treatment."""
    results = query(all_faults_simulation["warehouse"], RESULTS)
    flagged = query(
        all_faults_simulation["warehouse"],
        """
        select distinct experiment_id, experiment_version from marts.fct_volume_checks where is_volume_shortfall""",
    )
    assert ("exp_checkout_button", 1) in set(flagged.itertuples(index=False, name=None))
    blocked = results.merge(flagged, on=["experiment_id", "experiment_version"])
    assert len(blocked) and (blocked.readout_status == "provisional").all()
    assert blocked.reasons.str.contains("volume_shortfall").all()
    assert blocked.status_reason_text.str.contains("missing events on a platform and day").all()
