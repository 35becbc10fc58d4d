"""Render the site: an index and one page per experiment version, from the Jinja2 templates in templates/.

Every number is written twice: as text for the reader and, exactly (Python's repr of the mart's double), in a
``data-*`` attribute of the element that shows it, so a test or a scraper reads back the marts' values.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
import pandas as pd

from readout.decision import srm_level
from readout.html.data import Site, Version
from readout.html.plots import (
    ForestRow,
    HistoryPoint,
    Interval,
    conversion_plot,
    forest_plot,
    funnel_plot,
    history_plot,
)

#: the exclusions the summary counts (fct_experiment_units flags), in words
EXCLUSIONS = {
    "bot_or_internal": "bot or internal traffic",
    "consent_denied": "declined analytics tracking",
    "in_several_variants": "seen in several variants",
    "exposed_before_assigned": "exposed before assigned",
    "outside_window": "assigned or exposed outside the experiment's run",
    "never_exposed": "assigned but never exposed",
    "other_exclusions": "exposed without an assignment or to another variant",
}
FUNNEL_STAGES = {
    "assigned": "assigned",
    "exposed": "exposed",
    "eligible": "eligible",
    "analysed": "analysed",
    "in_progress": "window in progress",
}
VERDICT_WORDS = {
    "ship": "Ship",
    "do_not_ship": "Do not ship",
    "keep_running": "Keep running",
    "do_not_trust_data": "Do not trust the data",
    "draft": "Draft",
}


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def exact(value) -> str:
    """A number as an attribute value that reads back as the same double ('' when missing)."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) or hasattr(value, "item"):
        number = value.item() if hasattr(value, "item") else value
        return repr(float(number)) if isinstance(number, float) else str(number)
    return str(value)


def percent(value, digits: int = 1) -> str:
    return "n/a" if _missing(value) or not math.isfinite(float(value)) else f"{float(value):+.{digits}%}"


def points(value, digits: int = 1) -> str:
    """A change of a fraction, in percentage points."""
    return "n/a" if _missing(value) else f"{float(value) * 100:+.{digits}f} pp"


def share(value, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{digits}%}"


def count(value) -> str:
    return "n/a" if _missing(value) else f"{int(value):,}"


def number(value, digits: int = 4) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{digits}g}"


def days(value) -> str:
    return "n/a" if _missing(value) or not math.isfinite(float(value)) else f"{float(value):,.1f}"


def when(value) -> str:
    return "n/a" if _missing(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def words(code) -> str:
    return "" if _missing(code) else str(code).replace("_", " ")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("readout.html", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        exact=exact,
        percent=percent,
        points=points,
        share=share,
        count=count,
        number=number,
        days=days,
        when=when,
        words=words,
        verdict=lambda code: VERDICT_WORDS.get(code, words(code)),
    )
    env.tests["missing"] = _missing
    return env


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, missing values as None (NaN would print as 'nan' and be truthy in a template)."""
    if frame is None or frame.empty:
        return []
    return [{key: None if _missing(value) else value for key, value in row.items()} for row in frame.to_dict("records")]


def _interval(row) -> Interval:
    def value(name):
        return None if _missing(row.get(name)) else float(row[name])

    return Interval(value("relative_lift"), value("relative_lift_ci_lower"), value("relative_lift_ci_upper"))


def forest_rows(version: Version) -> list[ForestRow]:
    rows = []
    if version.results.empty:
        return rows
    for (_, metric, variant), group in version.results.groupby(["role_order", "metric_id", "variant_id"], sort=True):
        first = group.iloc[0]
        margin = first["margin"]
        signed = (
            None
            if _missing(margin) or first["metric_role"] != "guardrail"
            else (-float(margin) if first["direction"] == "increase" else float(margin))
        )
        rows.append(
            ForestRow(
                role=str(first["metric_role"]),
                label=f"{metric} ({variant})",
                intervals={row["estimator"]: _interval(row) for _, row in group.iterrows()},
                decision=str(first["decision_estimator"]),
                margin=signed,
            )
        )
    return rows


def history_series(version: Version) -> dict[str, list[HistoryPoint]]:
    """The primary metrics' decision rows over the builds in the history; the latest point carries the current
    readout's always-valid interval when the history itself has none."""
    series: dict[str, list[HistoryPoint]] = {}
    if version.history.empty or version.results.empty:
        return series
    decisions = version.primary[
        ["metric_id", "variant_id", "estimator", "sequential_ci_lower", "sequential_ci_upper"]
    ].rename(
        columns={"sequential_ci_lower": "sequential_ci_lower_now", "sequential_ci_upper": "sequential_ci_upper_now"}
    )
    history = version.history.merge(decisions, on=["metric_id", "variant_id", "estimator"], how="inner")
    for (metric, variant), rows in history.groupby(["metric_id", "variant_id"], sort=True):
        rows = rows.sort_values("built_at")
        points = []
        for number, row in enumerate(rows.to_dict("records")):
            at = row["watermark_at"] if not _missing(row.get("watermark_at")) else row["built_at"]
            lower = row.get("sequential_ci_lower")
            upper = row.get("sequential_ci_upper")
            if _missing(lower) and number == len(rows) - 1:
                lower, upper = row["sequential_ci_lower_now"], row["sequential_ci_upper_now"]
            points.append(
                HistoryPoint(
                    pd.Timestamp(at),
                    *(
                        None if _missing(row[name]) else float(row[name])
                        for name in ("absolute_lift", "absolute_lift_ci_lower", "absolute_lift_ci_upper")
                    ),
                    None if _missing(lower) else float(lower),
                    None if _missing(upper) else float(upper),
                )
            )
        series[f"{metric} ({variant})"] = points
    return series


DECISION_KEYS = ["metric_id", "variant_id", "estimator"]


def decision_rows(frame: pd.DataFrame, results: pd.DataFrame, roles: tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows of a mart keyed like fct_metric_results (power, Bayesian view, segments) for the estimator decided
    on, primary metrics first (``roles``: only those roles); every row when the version has no result to say
    which estimator is decided on."""
    if frame.empty or results.empty:
        return frame
    decided = results[results.is_decision]
    if roles:
        decided = decided[decided.metric_role.isin(roles)]
    decided = decided[[*DECISION_KEYS, "role_order"]].drop_duplicates(DECISION_KEYS)
    merged = frame.merge(decided, on=DECISION_KEYS, how="inner")
    order = [column for column in ("segment_type", "segment_value", "role_order", *DECISION_KEYS) if column in merged]
    return merged.sort_values(order, kind="stable").reset_index(drop=True)


def funnel_tables(version: Version) -> list[dict]:
    """One table per funnel: a row per step x variant (fct_funnel_steps) with, for a treatment variant, its
    reach and step-to-step results against control (fct_funnel_results), and the funnel's conversion chart."""
    steps, results = version.funnel_steps, version.funnel_results
    tables = []
    if steps.empty:
        return tables
    for funnel_id, rows in steps.groupby("funnel_id", sort=True):
        rows = rows.sort_values(["step_number", "is_control", "variant_id"], ascending=[True, False, True])
        measured = results[results.funnel_id == funnel_id] if len(results) else results
        lines = []
        for row in _records(rows):
            line = dict(row)
            for measure in ("reach", "from_previous"):
                found = (
                    measured[
                        (measured.step_number == row["step_number"])
                        & (measured.variant_id == row["variant_id"])
                        & (measured.measure == measure)
                    ]
                    if len(measured)
                    else measured
                )
                line[measure] = _records(found)[0] if len(found) else None
            lines.append(line)
        variants = sorted(
            set(rows.variant_id), key=lambda name: (not rows[rows.variant_id == name].is_control.any(), name)
        )
        names = [
            f"{number}. {name}"
            for number, name in rows.drop_duplicates("step_number")[["step_number", "step_name"]].itertuples(
                index=False
            )
        ]
        values = {
            variant: [
                None if _missing(value) else float(value)
                for value in rows[rows.variant_id == variant].sort_values("step_number").conversion_from_exposure
            ]
            for variant in variants
        }
        first = rows.iloc[0]
        tables.append(
            {
                "funnel_id": funnel_id,
                "funnel_version": first["funnel_version"],
                "rows": lines,
                "in_progress": int(rows.drop_duplicates("variant_id").n_units_window_in_progress.sum()),
                "truncated": int(rows.drop_duplicates("variant_id").n_units_window_truncated.sum()),
                "alpha": None if measured.empty else measured.alpha.iloc[0],
                "correction_method": None if measured.empty else measured.correction_method.iloc[0],
                "family_size": None if measured.empty else measured.correction_family_size.iloc[0],
                "svg": conversion_plot(
                    names,
                    values,
                    f"conversion-{version.key}-{funnel_id}",
                    f"Conversion from exposure to each step of the {funnel_id} funnel, per variant, "
                    f"{version.experiment_id} v{version.experiment_version}",
                ),
            }
        )
    return tables


def segment_rows(version: Version, site: Site) -> list[dict]:
    """The primary metrics' segment results for the estimator decided on, each with its segment's sample-ratio
    level (as the version's own check: mismatch, warning, ok or not tested)."""
    rows = decision_rows(version.segment_results, version.results, ("primary",))
    out = _records(rows)
    for row in out:
        row["srm_level"] = (
            "mismatch"
            if row.get("is_sample_ratio_mismatch") is True
            else srm_level(row.get("srm_p_value"), site.srm_threshold, site.srm_warning_threshold)
        )
    return out


def version_context(version: Version, site: Site) -> dict:
    funnel = version.funnel
    variants = [str(name) for name in funnel.variant_id] if len(funnel) else []
    stages = (
        {
            label: [None if _missing(value) else int(value) for value in funnel[column]]
            for column, label in FUNNEL_STAGES.items()
        }
        if len(funnel)
        else {}
    )
    excluded = {
        label: int(funnel[column].fillna(0).sum())
        for column, label in EXCLUSIONS.items()
        if column in funnel and funnel[column].fillna(0).sum() > 0
    }
    history = history_series(version)
    results = version.results
    changes = version.changes
    moved = changes[changes.change_cause != "none"] if len(changes) else changes
    compared = len(version.history) and version.history.build_id.nunique() > 1  # else no earlier build to compare
    return {
        "version": version,
        "results": _records(results),
        "srm": _records(version.srm.sort_values(["population", "variant_id"]) if len(version.srm) else version.srm),
        "segments": _records(
            version.segments.drop_duplicates(["segment", "segment_label"])
            if len(version.segments)
            else version.segments
        ),
        "volume": _records(version.volume),
        "contract_alarms": _records(version.contract_alarms),
        "funnel": _records(funnel),
        "excluded": excluded,
        "changes": _records(moved.sort_values(["metric_id", "variant_id", "estimator"]))
        if compared and len(moved)
        else [],
        "changes_total": len(changes) if compared else 0,
        "definitions": _records(version.definitions),
        "families": _records(
            results.drop_duplicates("estimator")[["estimator", "correction_method", "correction_family_size", "alpha"]]
            if len(results)
            else results
        ),
        "forest_svg": forest_plot(
            forest_rows(version),
            f"forest-{version.key}",
            f"Relative lift per metric and variant, {version.experiment_id} v{version.experiment_version}",
        )
        if len(results)
        else "",
        "funnel_svg": funnel_plot(
            variants,
            stages,
            f"funnel-{version.key}",
            f"Exposure funnel per variant, {version.experiment_id} v{version.experiment_version}",
        )
        if variants
        else "",
        "history_svg": history_plot(
            history,
            f"history-{version.key}",
            f"Primary metric over the builds, {version.experiment_id} v{version.experiment_version}",
        )
        if history
        else "",
        "funnels": funnel_tables(version),
        "segment_rows": segment_rows(version, site),
        "power_rows": _records(decision_rows(version.power, version.results)),
        "bayes_rows": _records(decision_rows(version.bayesian, version.results)),
        "unavailable": version.unavailable,
        "history_builds": int(version.history.build_id.nunique()) if len(version.history) else 0,
        "history_has_sequential": "sequential_ci_lower" in version.history,
        "commit": version.code_version.split("+")[0].split(" ")[0] if version.code_version else "",
        "contracts": [item for item in version.contract_versions.split(",") if item]
        if version.contract_versions
        else [],
    }


def write_site(site: Site, out: Path) -> list[Path]:
    """Write index.html and one page per experiment version into ``out``; the pages written, index first."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    common = {"site": site}
    written = [out / "index.html"]
    written[0].write_text(env.get_template("index.html.j2").render(**common), encoding="utf-8")
    page = env.get_template("experiment.html.j2")
    for version in site.versions:
        path = out / version.page
        path.write_text(page.render(**common, **version_context(version, site)), encoding="utf-8")
        written.append(path)
    return written
