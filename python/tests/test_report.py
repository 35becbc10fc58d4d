"""`readout report` renders the marts it finds and flags readouts a sample ratio mismatch makes untrustworthy."""

import duckdb
import pytest

from readout.report import render


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.fct_sample_ratio_checks as
            select * from (values
                ('e1', 1, 'exposed', 'control', 500, 0.00001, true, null),
                ('e1', 1, 'exposed', 'treatment', 400, 0.00001, true, null),
                ('e2', 1, 'exposed', 'control', 500, 0.9, false, null),
                ('e2', 1, 'exposed', 'treatment', 502, 0.9, false, null)
            ) t(experiment_id, experiment_version, population, variant_id, observed_units, p_value,
                is_sample_ratio_mismatch, status_reason)
            """
        )
        con.execute(
            """
            create table marts.fct_metric_results as
            select * from (values
                ('e1', 1, 'exposed', 'treatment', 'conversion', 'primary', 'unadjusted', 0.1, 0.12, 0.2, 0.05, 0.35, 0.01, true, null, null),
                ('e2', 1, 'exposed', 'treatment', 'retention', 'guardrail', 'unadjusted', 0.5, 0.45, -0.1, -0.15, -0.05, 0.001, true, 'fail', null)
            ) t(experiment_id, experiment_version, population, variant_id, metric_id, metric_role, estimator, mean_control,
                mean_variant, relative_lift, relative_lift_ci_lower, relative_lift_ci_upper, adjusted_p_value,
                is_significant, guardrail_status, status_reason)
            """
        )
    return path


def test_report_flags_srm_and_guardrails(warehouse):
    text = render(warehouse)
    assert "e1 v1: control 500, treatment 400; p = 1e-05  MISMATCH" in text
    assert "e1 v1 treatment conversion [unadjusted]: +20.0% (+5.0%, +35.0%), p = 0.01  significant; SRM: do not trust" in text
    assert "e2 v1 treatment retention [unadjusted]: -10.0% (-15.0%, -5.0%), p = 0.001  significant; guardrail fail" in text
    assert "e2 v1: control 500, treatment 502; p = 0.9  ok" in text


def test_report_without_a_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make demo`"):
        render(tmp_path / "missing.duckdb")


def test_report_on_an_unbuilt_warehouse_says_what_to_do(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(ValueError, match="run `make build` first"):
        render(path)
