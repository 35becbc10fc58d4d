"""Issue 13 on the shared all-faults build (no build of its own): every number `readout report` prints for a
decision is the published mart's, the sample-ratio levels and guardrail verdicts are readout.decision's on those
numbers, the planted iOS outage and the planted contract errors make their versions untrustworthy, and metrics
come primary, guardrail, secondary."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from e2e import query
from faults import OUTAGE

from readout import cli
from readout.decision import guardrail_verdict, srm_level
from readout.report import render

LINE = re.compile(
    r"^    (?P<variant>\S+) (?P<metric>\S+) \[(?P<estimator>\w+), decide\]: (?P<lift>\S+) "
    r"\(95% (?P<lower>\S+), (?P<upper>[^;]+); Bonferroni m=(?P<m>\d+) (?P<adj_lower>\S+), "
    r"(?P<adj_upper>[^)]+)\), p raw (?P<p>\S+), p (?P<correction>\w+) (?P<p_adj>[^;]+);"
)


@pytest.fixture(scope="module")
def report(all_faults_simulation) -> dict:
    warehouse = all_faults_simulation["warehouse"]
    return {
        "text": render(warehouse),
        "warehouse": warehouse,
        "results": query(warehouse, "select * from published.fct_metric_results where population = 'exposed'"),
        "srm": query(warehouse, "select * from published.fct_sample_ratio_checks where population = 'exposed'"),
        "margins": query(
            warehouse,
            "select distinct experiment_id, experiment_version, metric_id, "
            "non_inferiority_margin from published.fct_variant_metric_stats",
        ),
    }


def _blocks(text: str) -> dict[str, str]:
    """Each experiment version's block, by 'experiment_id vN'."""
    blocks = {}
    for chunk in text.split("\n\n"):
        head = re.match(r"(\S+ v\d+)( \(.*\))?: (SHIP|DO NOT SHIP|KEEP RUNNING|DO NOT TRUST THE DATA|DRAFT)\n", chunk)
        if head:
            blocks[head.group(1)] = chunk
    return blocks


def _percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def test_every_decision_line_is_the_marts(report):
    results, margins = report["results"], report["margins"]
    with_cuped = results[results.estimator == "cuped"]
    cuped = set(zip(with_cuped.experiment_id, with_cuped.experiment_version, with_cuped.metric_id))
    checked = 0
    for key, block in _blocks(report["text"]).items():
        experiment_id, version = key.rsplit(" v", 1)
        for line in block.splitlines():
            match = LINE.match(line)
            if not match:
                continue
            row = results[
                (results.experiment_id == experiment_id)
                & (results.experiment_version == int(version))
                & (results.variant_id == match["variant"])
                & (results.metric_id == match["metric"])
                & (results.estimator == match["estimator"])
            ].iloc[0]
            # CUPED where the metric has a covariate (no settings in this warehouse say otherwise)
            assert (match["estimator"] == "cuped") == ((experiment_id, int(version), match["metric"]) in cuped), line
            for name, column in (
                ("lift", "relative_lift"),
                ("lower", "relative_lift_ci_lower"),
                ("upper", "relative_lift_ci_upper"),
            ):
                assert abs(_percent(match[name]) - row[column]) <= 0.0005 + 1e-12, (line, column)
            assert int(match["m"]) == row.correction_family_size and match["correction"] == row.correction_method
            assert float(match["p"]) == pytest.approx(row.p_value, rel=5e-3, abs=1e-12)
            assert float(match["p_adj"]) == pytest.approx(row.adjusted_p_value, rel=5e-3, abs=1e-12)
            assert (
                _percent(match["adj_lower"])
                <= _percent(match["lower"])
                <= _percent(match["upper"])
                <= _percent(match["adj_upper"])
            )
            if row.metric_role == "guardrail":
                margin = margins[
                    (margins.experiment_id == experiment_id)
                    & (margins.experiment_version == int(version))
                    & (margins.metric_id == match["metric"])
                ].non_inferiority_margin.max()
                verdict = guardrail_verdict(
                    row.relative_lift_ci_lower,
                    row.relative_lift_ci_upper,
                    None if pd.isna(margin) else margin,
                    row.direction,
                )
                shown = verdict.upper() if verdict in ("harmed", "fail") else verdict
                assert f"guardrail {shown} (margin -{margin:.1%})" in line, line
            checked += 1
    assert checked >= len(
        results[results.estimator == "cuped"].drop_duplicates(
            ["experiment_id", "experiment_version", "variant_id", "metric_id"]
        )
    )


def test_sample_ratio_levels_and_planned_split_are_the_marts(report):
    lines = report["text"].splitlines()
    for (experiment_id, version), rows in report["srm"].groupby(["experiment_id", "experiment_version"]):
        line = next(line for line in lines if line.startswith(f"  {experiment_id} v{version}: "))
        p_value = rows.p_value.max()
        level = (
            "mismatch"
            if rows.is_sample_ratio_mismatch.fillna(False).any()
            else srm_level(None if pd.isna(p_value) else p_value, 0.001)
        )
        expected = {
            "ok": "  ok",
            "warning": "  warning: borderline",
            "mismatch": "  MISMATCH",
            "not_tested": "  n/a: ",
        }[level]
        assert expected in line, line
        rows = rows.sort_values("variant_id")
        planned = " / ".join(f"{share:.0%}" for share in rows.expected_share)
        assert f"(planned {planned})" in line, line


def test_planted_faults_make_their_versions_untrustworthy_and_roles_come_in_order(report):
    blocks = _blocks(report["text"])
    results = report["results"]
    # the planted iOS outage (a volume shortfall) and the planted unit faults (contract errors) block their versions
    outage = next(block for key, block in blocks.items() if key.startswith(OUTAGE["experiment_id"] + " v"))
    assert outage.splitlines()[0].endswith("DO NOT TRUST THE DATA") and "volume shortfall" in outage
    blocked = results[
        results.status_reasons.fillna("").str.contains("contract_error|volume_shortfall|sample_ratio_mismatch")
    ]
    for experiment_id, version in set(zip(blocked.experiment_id, blocked.experiment_version)):
        assert blocks[f"{experiment_id} v{version}"].splitlines()[0].endswith("DO NOT TRUST THE DATA")
    for block in blocks.values():
        roles = [line.strip() for line in block.splitlines() if re.fullmatch(r"  [a-z]+", line)]
        assert roles == [role for role in ("primary", "guardrail", "secondary") if role in roles], block
    assert any("  secondary" in block for block in blocks.values())  # secondary metrics are shown


def test_one_experiment_from_the_command_line(report, capsys):
    assert cli.main(["report", "--warehouse", str(report["warehouse"]), "--experiment", "exp_pricing_banner"]) == 0
    out = capsys.readouterr().out
    assert list(_blocks(out)) == ["exp_pricing_banner v1"]
    assert cli.main(["report", "--warehouse", str(report["warehouse"]), "--experiment", "exp_nope"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("readout report: error: no experiment 'exp_nope' in the readout of ")
        and ("known: exp_checkout_button, exp_checkout_copy, exp_homepage_aa" in err)
        and err.count("\n") == 1
    )
