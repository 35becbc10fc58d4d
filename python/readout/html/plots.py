"""The report's charts: matplotlib figures written as inline SVG, each with a <title> and a <desc> (the text
alternative a screen reader reads, listing every number drawn) and role="img".

Figures are built with ``matplotlib.figure.Figure`` (no pyplot: no global state, no GUI backend). Text stays
text (``svg.fonttype = none``) and ids are salted per chart, so several charts share one page and the output
is deterministic.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import matplotlib
from matplotlib.figure import Figure

#: the estimators' colours (colour-blind safe: Okabe-Ito) and markers
COLOURS = {"unadjusted": "#0072B2", "cuped": "#D55E00"}
MARKERS = {"unadjusted": "o", "cuped": "s"}
MARGIN_COLOUR = "#B8006B"
STAGE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


@dataclass(frozen=True)
class Interval:
    estimate: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class ForestRow:
    """One metric x variant line: an interval per estimator, the estimator decided on, the guardrail margin (the
    relative lift beyond which the guardrail fails, signed: -0.02 for a metric whose increase is good)."""

    role: str
    label: str
    intervals: dict[str, Interval]
    decision: str
    margin: float | None = None


def _finite(*values) -> bool:
    return all(value is not None and math.isfinite(value) for value in values)


def _percent(value: float | None) -> str:
    return "n/a" if not _finite(value) else f"{value:+.1%}"


def to_svg(figure: Figure, chart_id: str, title: str, description: str) -> str:
    """The figure as an inline <svg> element (no XML prolog) with <title>, <desc> and aria attributes."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    opening = re.match(r"<svg\b[^>]*>", text).group(0)
    accessible = opening[:-1].replace(' width="', ' class="chart" width="', 1) + (
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    return accessible + text[len(opening) :]


def forest_plot(rows: Sequence[ForestRow], chart_id: str, title: str) -> str:
    """Relative lifts with their 95% intervals, one line per metric x variant grouped by role, the estimators
    side by side (the one decided on filled, the other hollow), zero and each guardrail's margin drawn."""
    height = 1.6 + 0.55 * max(len(rows), 1)
    figure = Figure(figsize=(7.5, height), layout="constrained")
    axes = figure.subplots()
    described = []
    labels, positions = [], []
    previous_role = None
    for number, row in enumerate(rows):
        y = len(rows) - 1 - number
        positions.append(y)
        labels.append(row.label)
        if previous_role is not None and row.role != previous_role:
            axes.axhline(y + 0.5, color="#999999", linewidth=0.6)
        if row.role != previous_role:
            axes.annotate(
                row.role.upper(),
                xy=(0, y + 0.45),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color="#555555",
                va="top",
                ha="left",
                xytext=(3, 0),
                textcoords="offset points",
            )
        previous_role = row.role
        for estimator, offset in (("unadjusted", 0.14), ("cuped", -0.14)):
            interval = row.intervals.get(estimator)
            if interval is None or not _finite(interval.estimate, interval.lower, interval.upper):
                continue
            decided = estimator == row.decision
            below, above = (interval.estimate - interval.lower) * 100, (interval.upper - interval.estimate) * 100
            axes.errorbar(
                [interval.estimate * 100],
                [y + offset],
                xerr=[[below], [above]],
                fmt=MARKERS[estimator],
                color=COLOURS[estimator],
                capsize=3,
                markersize=6,
                markerfacecolor=COLOURS[estimator] if decided else "white",
                linewidth=1.4,
            )
            name = f"{row.label} {estimator}{' (decision)' if decided else ''}"
            described.append(
                f"{name}: {_percent(interval.estimate)} ({_percent(interval.lower)} to {_percent(interval.upper)})"
            )
        if _finite(row.margin):
            axes.plot([row.margin * 100] * 2, [y - 0.42, y + 0.42], color=MARGIN_COLOUR, linestyle="--", linewidth=2.4)
            described.append(f"{row.label} guardrail margin at {_percent(row.margin)}")
    axes.axvline(0, color="#333333", linewidth=0.8)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.set_xlabel("relative lift vs control (%), 95% interval", fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", color="#dddddd", linewidth=0.5)
    handles = [
        axes.errorbar([], [], xerr=[], fmt=MARKERS[name], color=COLOURS[name], label=name)
        for name in ("unadjusted", "cuped")
    ]
    handles.append(axes.plot([], [], color=MARGIN_COLOUR, linestyle="--", label="guardrail margin")[0])
    figure.legend(
        handles=handles,
        fontsize=7,
        loc="outside lower center",
        ncol=3,
        frameon=False,
        title="filled marker: the estimator decided on; hollow: the other, as a check",
        title_fontsize=7,
    )
    description = (
        "Relative lift of each variant against control, 95% intervals. "
        + ("; ".join(described) if described else "No interval could be estimated.")
        + "."
    )
    return to_svg(figure, chart_id, title, description)


@dataclass(frozen=True)
class HistoryPoint:
    at: object  #: the data watermark (or the build time) of the build
    estimate: float | None
    lower: float | None
    upper: float | None
    sequential_lower: float | None = None
    sequential_upper: float | None = None


def history_plot(series: dict[str, Sequence[HistoryPoint]], chart_id: str, title: str) -> str:
    """Absolute lift over the builds in the history, per line (metric x variant): the fixed-horizon 95% interval
    as solid bars, the always-valid confidence sequence as dashed bars (wider: it may be read at every refresh)."""
    figure = Figure(figsize=(7.5, 3.2), layout="constrained")
    axes = figure.subplots()
    described = []
    for number, (label, points) in enumerate(series.items()):
        sequential = False
        colour = STAGE_COLOURS[number % len(STAGE_COLOURS)]
        points = [point for point in points if _finite(point.estimate)]
        if not points:
            continue
        axes.plot(
            [point.at for point in points],
            [point.estimate for point in points],
            marker="o",
            color=colour,
            label=f"{label}: fixed-horizon 95%",
        )
        for point in points:
            if _finite(point.lower, point.upper):
                axes.errorbar(
                    [point.at],
                    [point.estimate],
                    yerr=[[point.estimate - point.lower], [point.upper - point.estimate]],
                    color=colour,
                    capsize=4,
                    linewidth=2,
                )
            if _finite(point.sequential_lower, point.sequential_upper):
                bars = axes.errorbar(
                    [point.at],
                    [point.estimate],
                    yerr=[[point.estimate - point.sequential_lower], [point.sequential_upper - point.estimate]],
                    color=colour,
                    capsize=9,
                    linewidth=1,
                    alpha=0.7,
                    label=f"{label}: always-valid" if not sequential else None,
                )
                bars[-1][0].set_linestyle("--")
                sequential = True
        for point in points:
            text = f"{label} at {point.at:%Y-%m-%d %H:%M}: {point.estimate:+.4g} (fixed-horizon " + (
                f"{point.lower:+.4g} to {point.upper:+.4g}" if _finite(point.lower, point.upper) else "n/a"
            )
            if _finite(point.sequential_lower, point.sequential_upper):
                text += f"; always-valid {point.sequential_lower:+.4g} to {point.sequential_upper:+.4g}"
            described.append(text + ")")
    axes.axhline(0, color="#333333", linewidth=0.8)
    axes.set_ylabel("absolute lift", fontsize=8)
    axes.set_xlabel("data complete to (watermark)", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(color="#eeeeee", linewidth=0.5)
    if described:
        axes.legend(fontsize=7, frameon=False)
    axes.margins(x=0.15)
    figure.autofmt_xdate()
    description = (
        "Absolute lift of the primary metric at each build in the history, with the fixed-horizon 95% "
        "interval (solid bars) and the always-valid interval (dashed bars). "
        + ("; ".join(described) if described else "The history holds no estimate yet.")
        + "."
    )
    return to_svg(figure, chart_id, title, description)


def funnel_plot(variants: Sequence[str], stages: dict[str, Sequence[int | None]], chart_id: str, title: str) -> str:
    """Units per variant at each stage of the funnel (assigned, exposed, eligible, analysed, in progress)."""
    figure = Figure(figsize=(7.5, 0.9 + 0.32 * len(stages) * max(len(variants), 1)), layout="constrained")
    axes = figure.subplots()
    described = []
    names = list(stages)
    width = 0.8 / max(len(variants), 1)
    for number, variant in enumerate(variants):
        values = [stages[stage][number] for stage in names]
        counts = [0 if value is None else value for value in values]
        y = [len(names) - 1 - index - 0.4 + width * (number + 0.5) for index in range(len(names))]
        axes.barh(y, counts, height=width * 0.9, color=STAGE_COLOURS[number % len(STAGE_COLOURS)], label=variant)
        described.append(
            f"{variant}: "
            + ", ".join(f"{stage} {'n/a' if value is None else f'{value:,}'}" for stage, value in zip(names, values))
        )
    axes.set_yticks(range(len(names)), list(reversed(names)), fontsize=8)
    axes.set_xlabel("units", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.5)
    if variants:
        axes.legend(fontsize=7, frameon=False, loc="lower right")
    description = "Units per variant at each stage. " + ("; ".join(described) if described else "No units.") + "."
    return to_svg(figure, chart_id, title, description)


def conversion_plot(steps: Sequence[str], values: dict[str, Sequence[float | None]], chart_id: str, title: str) -> str:
    """A conversion funnel: per step (top to bottom), the share of each variant's units that reached it from
    exposure, as horizontal bars side by side."""
    variants = list(values)
    figure = Figure(figsize=(7.5, 0.9 + 0.3 * len(steps) * max(len(variants), 1)), layout="constrained")
    axes = figure.subplots()
    described = []
    width = 0.8 / max(len(variants), 1)
    for number, variant in enumerate(variants):
        shares = list(values[variant])
        y = [len(steps) - 1 - index - 0.4 + width * (number + 0.5) for index in range(len(steps))]
        axes.barh(
            y,
            [0.0 if not _finite(share) else share * 100 for share in shares],
            height=width * 0.9,
            color=STAGE_COLOURS[number % len(STAGE_COLOURS)],
            label=variant,
        )
        described.append(
            f"{variant}: "
            + ", ".join(
                f"{step} {'n/a' if not _finite(share) else f'{share:.1%}'}" for step, share in zip(steps, shares)
            )
        )
    axes.set_yticks(range(len(steps)), list(reversed(steps)), fontsize=8)
    axes.set_xlabel("units that reached the step, % of the units with a complete funnel window", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.5)
    if variants:
        axes.legend(fontsize=7, frameon=False, loc="lower right")
    description = (
        "Share of units that reached each step from exposure, per variant. "
        + ("; ".join(described) if described else "No units.")
        + "."
    )
    return to_svg(figure, chart_id, title, description)
