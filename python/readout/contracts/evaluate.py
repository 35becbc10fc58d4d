"""From a suite's GX result on one batch of rows to counts, and from counts to outcomes.

``tally`` reads one GX validation result (or the fast engine's, engine.py, which has its shape): for every rule, per
partition (e.g. per source system), the rows that fail it and the rows it considered, and what the failing rows feed
(``Readouts``). Tallies of row-counting rules add up, so a landing zone validated file by file, in bounded batches
(batches.py), gets exactly the counts one validation of all its rows would; ``outcomes`` applies the thresholds to
the sums. Rules whose count is not a sum over rows (duplicates, extra variants) are counted on the whole zone
(zone.py for the landing zone; one frame for a warehouse table)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .engine import Unsupported, where_mask
from .engine import verdict as _between
from .load import Contract, Rule
from .results import SEVERITY_ORDER, Outcome, PartitionCount, _join
from .suites import SuiteSpec, row_condition_query

MISSING = "(missing)"
READOUT_COLUMNS = ("experiment_id", "experiment_version", "event_name", "metric_id")
QUARANTINED = "quarantined_share"


# -------------------------------------------------------------------------------------- readouts
def _metric_events(contract: Contract) -> dict[str, list[str]]:
    metrics = contract.feeds.get("metrics") or {}
    return {m: list(v.get("events") or []) for m, v in metrics.items() if isinstance(v, dict)}


@dataclass
class Readouts:
    """What a set of failing rows feeds, kept small and additive: the experiment versions they name, the
    metrics (mart rows) and, for rows naming no experiment, their event names."""

    rows: int = 0
    columns: frozenset = frozenset()  #: which of READOUT_COLUMNS the validated rows have
    experiments: set = field(default_factory=set)  #: (experiment_id, version or None)
    metrics: set = field(default_factory=set)
    events: set = field(default_factory=set)

    @classmethod
    def of(cls, failing: pd.DataFrame) -> Readouts:
        columns = frozenset(c for c in READOUT_COLUMNS if c in failing.columns)
        found = cls(len(failing), columns)
        if failing.empty:
            return found
        if "experiment_id" in columns:
            keys = (
                failing[["experiment_id"] + (["experiment_version"] if "experiment_version" in columns else [])]
                .dropna()
                .drop_duplicates()
            )
            for row in keys.itertuples(index=False):
                found.experiments.add((row[0], int(row[1]) if len(row) > 1 else None))
        if "metric_id" in columns:
            found.metrics = set(failing["metric_id"].dropna().unique().tolist())
        elif "event_name" in columns:
            rows = failing["experiment_id"].isna() if "experiment_id" in columns else slice(None)
            found.events = set(failing.loc[rows, "event_name"].dropna().unique().tolist())
        return found

    def add(self, other: Readouts) -> None:
        self.rows += other.rows
        self.columns = self.columns | other.columns
        self.experiments |= other.experiments
        self.metrics |= other.metrics
        self.events |= other.events

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "columns": sorted(self.columns),
            "experiments": sorted([e, v] for e, v in self.experiments),
            "metrics": sorted(self.metrics),
            "events": sorted(self.events),
        }

    @classmethod
    def from_json(cls, data: dict) -> Readouts:
        return cls(
            data["rows"],
            frozenset(data["columns"]),
            {(e, v) for e, v in data["experiments"]},
            set(data["metrics"]),
            set(data["events"]),
        )

    def describe(self, contract: Contract, known: set[tuple[str, int]] | None = None) -> str:
        """The readouts the failing rows feed, in words."""
        default = str(contract.feeds.get("readouts", "every readout"))
        if not self.rows:
            return default
        experiments = sorted(
            f"{e} v{v}" if v is not None else str(e) for e, v in self.experiments if known is None or (e, v) in known
        )
        metric_ids = sorted(self.metrics) if "metric_id" in self.columns else []
        outcome_metrics: list[str] = []
        if "metric_id" not in self.columns and "event_name" in self.columns:
            outcome_metrics = sorted(m for m, evs in _metric_events(contract).items() if self.events & set(evs))
        all_metrics = sorted(_metric_events(contract))
        if all_metrics and outcome_metrics == all_metrics:
            return "every readout (every metric of every experiment running at the time)"
        parts = []
        if experiments:
            names = experiments if len(experiments) <= 4 else experiments[:3] + [f"{len(experiments) - 3} more"]
            label = "readout" if len(experiments) == 1 else "readouts"
            text = f"the {_join(names)} {label}"
            if metric_ids:
                text += f" ({', '.join(metric_ids)})"
            parts.append(text)
        if outcome_metrics:
            parts.append(f"the {_join(outcome_metrics)} readouts of every experiment running at the time")
        if not parts and metric_ids:
            parts.append(f"the {_join(metric_ids)} readouts")
        if not parts:
            if "event_name" in self.columns and "experiment_id" in self.columns:
                return "no configured readout (the rows name no known experiment and feed no catalog metric)"
            return default
        return " and ".join(parts)


def readouts_affected(
    contract: Contract, failing: pd.DataFrame | None, known: set[tuple[str, int]] | None = None
) -> str:
    """The readouts a set of failing rows feeds, in words."""
    return Readouts.of(failing if failing is not None else pd.DataFrame()).describe(contract, known)


# ----------------------------------------------------------------------------------------- tallies
@dataclass
class Tally:
    """One rule on one batch of rows (or on several, added up). Row-level rules: per partition label,
    [failing, considered] rows; table-level rules: GX's observed value and verdict."""

    counts: dict[str, list[int]] = field(default_factory=dict)
    readouts: Readouts = field(default_factory=Readouts)
    details: list[str] = field(default_factory=list)
    error: str | None = None
    observed: Any = None
    success: bool | None = None

    def add(self, other: Tally) -> None:
        """Add another batch's counts (only meaningful for rules that count rows)."""
        for label, (count, total) in other.counts.items():
            mine = self.counts.setdefault(label, [0, 0])
            mine[0] += count
            mine[1] += total
        self.readouts.add(other.readouts)
        self.details += [line for line in other.details if line not in self.details]
        self.error = self.error or other.error

    def to_json(self) -> dict:
        data = {"counts": self.counts, "readouts": self.readouts.to_json()}
        if self.details:
            data["details"] = self.details
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: dict) -> Tally:
        return cls(
            {k: list(v) for k, v in data["counts"].items()},
            Readouts.from_json(data["readouts"]),
            list(data.get("details") or []),
            data.get("error"),
        )


def _exception(result) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def partition_labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """One label per row: the partition's values joined ("ios", "exp_search_ranking v2"); nulls read "(missing)"."""
    if not columns:
        return pd.Series("all", index=frame.index, dtype=object)
    label = None
    for column in columns:
        if column not in frame.columns:
            text = pd.Series(MISSING, index=frame.index, dtype=object)
        else:
            values = frame[column]
            text = values.astype("string")
            if column == "experiment_version":
                text = "v" + text
            text = text.astype(object).where(values.notna(), MISSING)
        label = text if label is None else label + " " + text
    return label


def _method_count(rule: Rule, failing: pd.DataFrame) -> int:
    if failing.empty:
        return 0
    if rule.count == "duplicates":
        return len(failing) - len(failing[list(rule.count_key)].drop_duplicates())
    if rule.count == "extra_variants":
        with_value = failing[[*rule.count_key, rule.count_value]].drop_duplicates()
        return len(with_value) - len(failing[list(rule.count_key)].drop_duplicates())
    return len(failing)


def _details(rule: Rule, failing: pd.DataFrame) -> list[str]:
    if not rule.detail or failing.empty:
        return []
    out = []
    for record in failing.to_dict("records"):
        try:
            out.append(rule.detail.format(**{k: (None if _isna(v) else v) for k, v in record.items()}))
        except (KeyError, ValueError, TypeError):
            out.append(rule.detail)
    seen = []
    for line in out:
        if line not in seen:
            seen.append(line)
    return seen


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@dataclass
class Batch:
    """The tallies of one suite on one batch, by rule id (plus QUARANTINED when asked for); ``failing``
    and ``considered`` hold the frame rows of each row-level rule (for the caller, never stored)."""

    tallies: dict[str, Tally]
    rows: int
    failing: dict[str, pd.Index] = field(default_factory=dict, repr=False)
    considered: dict[str, pd.Index] = field(default_factory=dict, repr=False)


def unexpected_rows(result) -> list:
    """The index labels of the rows one expectation's COMPLETE result found failing."""
    index = result.result.get("unexpected_index_list") or []
    if index and isinstance(index[0], dict):
        index = [next(iter(item.values())) for item in index]
    return index


def considered_mask(rule: Rule, frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` a row rule with a ``where`` considers (a row's own values decide): the rows GX's
    query of the rule's row condition selects (engine.where_mask; test_contracts_engine.py holds them equal)."""
    try:
        return where_mask(rule.where, frame)
    except Unsupported:
        considered = frame.query(row_condition_query(rule.where), engine="python") if len(frame) else frame
        return frame.index.isin(considered.index)


def considered_masks(spec: SuiteSpec, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`considered_mask` of every row rule with a ``where`` that can be evaluated (one that cannot is left
    to :func:`tally`, which reaches it only when GX ran the rule)."""
    masks = {}
    for rule in spec.rules:
        if rule.level != "table" and rule.where:
            try:
                masks[rule.rule] = considered_mask(rule, frame)
            except Exception:  # noqa: BLE001 - tally raises it where it did before, if the rule ran
                continue
    return masks


def _results(spec: SuiteSpec, result):
    """Each rule of ``spec`` that has a result (one without is counted as "did not run" by outcomes()): the rule,
    its result and the first line of its error (None when it ran)."""
    by_rule = {(r.expectation_config.meta or {}).get("rule"): r for r in result.results}
    for rule in spec.rules:
        r = by_rule.get(rule.rule)
        if r is not None:
            error = _exception(r)
            yield rule, r, error.splitlines()[0][:200] if error else None


def tally(
    spec: SuiteSpec, frame: pd.DataFrame, result, *, quarantine: bool = False, masks: dict | None = None
) -> Batch:
    """Count one suite's GX validation result on ``frame`` (COMPLETE result format). ``masks``: the rows each
    rule with a ``where`` considers, when already known (:func:`considered_masks`)."""
    labels = partition_labels(frame, spec.partition_by)
    totals_all = labels.value_counts()
    batch = Batch({}, len(frame))
    empty = frame.iloc[0:0]  # the failing rows of a rule no row fails (most rules, most batches: kept cheap)
    columns = Readouts.of(empty).columns
    for rule, r, error in _results(spec, result):
        if error:
            batch.tallies[rule.rule] = Tally(error=error)
            continue
        if rule.level == "table":
            batch.tallies[rule.rule] = Tally(observed=r.result.get("observed_value"), success=bool(r.success))
            continue
        index = unexpected_rows(r)
        failing = frame.loc[index] if index else empty
        if rule.where:
            mask = masks.get(rule.rule) if masks is not None else None
            mask = np.asarray(mask if mask is not None else considered_mask(rule, frame), dtype=bool)
            totals = labels[mask].value_counts()
            batch.considered[rule.rule] = frame.index[mask]
        else:
            totals = totals_all
            batch.considered[rule.rule] = frame.index
        if len(failing):
            failing_labels = labels.loc[failing.index]
            counts = {
                str(label): [_method_count(rule, failing[failing_labels == label]), int(total)]
                for label, total in totals.items()
            }
            batch.tallies[rule.rule] = Tally(counts, Readouts.of(failing), _details(rule, failing))
        else:
            counts = {str(label): [0, int(total)] for label, total in totals.items()}
            batch.tallies[rule.rule] = Tally(counts, Readouts(0, columns))
        batch.failing[rule.rule] = failing.index
    if quarantine:
        batch.tallies[QUARANTINED] = _quarantined(spec, frame, labels, totals_all, batch)
    return batch


def tally_by_file(
    spec: SuiteSpec,
    frame: pd.DataFrame,
    result,
    owner: np.ndarray,
    positions: list[np.ndarray],
    table_values,
    masks: dict | None = None,
) -> list[Batch]:
    """:func:`tally` of each file's rows of a pack of files validated in one run (``frame``, indexed 0..n-1;
    ``owner``: each row's file; ``positions``: each file's rows, in order), as :func:`tally` gives it for the file's
    rows alone (indexed from 0), counted for every file at once: per rule, one count of the considered and the
    failing rows per file x partition; the failing rows' readouts and details per file that has some. The counts
    are :func:`tally`'s (python/tests/test_contracts_batches.py holds each file's validation equal to its validation
    alone). ``table_values(rule, k)``: a table rule's value over file ``k``'s rows."""
    files = len(positions)
    codes, names = pd.factorize(partition_labels(frame, spec.partition_by))
    width = max(len(names), 1)
    cells = owner * width + codes

    def per_file(rows: np.ndarray) -> np.ndarray:
        """Rows counted per file x partition label."""
        return np.bincount(cells[rows], minlength=files * width).reshape(files, width)

    def counted(table: np.ndarray, k: int, failing: np.ndarray | None = None) -> dict[str, list[int]]:
        return {
            str(names[j]): [int(failing[k, j]) if failing is not None else 0, int(table[k, j])]
            for j in np.flatnonzero(table[k])
        }

    everything = np.arange(len(frame))
    totals = per_file(everything)
    local = np.empty(len(frame), dtype=np.int64)
    for at in positions:
        local[at] = np.arange(len(at))
    columns = Readouts.of(frame.iloc[0:0]).columns
    batches = [Batch({}, len(at)) for at in positions]
    quarantined = np.zeros(len(frame), dtype=bool)
    for rule, r, error in _results(spec, result):
        if error:
            for batch in batches:
                batch.tallies[rule.rule] = Tally(error=error)
            continue
        if rule.level == "table":
            for k, batch in enumerate(batches):
                value = table_values(rule, k)
                batch.tallies[rule.rule] = Tally(observed=value, success=_between(rule.kwargs, value))
            continue
        bad = np.asarray(unexpected_rows(r), dtype=np.int64)
        if rule.where:
            mask = masks.get(rule.rule) if masks is not None else None
            mask = np.asarray(mask if mask is not None else considered_mask(rule, frame), dtype=bool)
            considered = per_file(np.flatnonzero(mask))
        else:
            mask, considered = None, totals
        failing = per_file(bad) if len(bad) and rule.count == "rows" else None
        if len(bad) and rule.quarantine_reason:
            quarantined[bad] = True
        for k, (batch, at) in enumerate(zip(batches, positions, strict=True)):
            mine = bad[owner[bad] == k] if len(bad) else bad
            batch.considered[rule.rule] = pd.RangeIndex(len(at)) if mask is None else pd.Index(np.flatnonzero(mask[at]))
            batch.failing[rule.rule] = pd.Index(local[mine])
            if not len(mine):
                batch.tallies[rule.rule] = Tally(counted(considered, k), Readouts(0, columns))
                continue
            rows = frame.iloc[mine]
            counts = counted(considered, k, failing)
            if failing is None:  # duplicates or extra variants: counted within each partition's failing rows
                labels = names[codes[mine]]
                for label in counts:
                    counts[label][0] = _method_count(rule, rows[labels == label])
            batch.tallies[rule.rule] = Tally(counts, Readouts.of(rows), _details(rule, rows))
    failing = per_file(np.flatnonzero(quarantined))
    for k, (batch, at) in enumerate(zip(batches, positions, strict=True)):
        rows = frame.iloc[at[quarantined[at]]]
        batch.tallies[QUARANTINED] = Tally(counted(totals, k, failing), Readouts.of(rows))
    return batches


def _quarantined(spec: SuiteSpec, frame: pd.DataFrame, labels: pd.Series, totals: pd.Series, batch: Batch) -> Tally:
    """Rows failing any rule with a quarantine reason (staging quarantines them), per partition."""
    index = pd.Index([])
    for rule in spec.rules:
        if rule.quarantine_reason and len(batch.failing.get(rule.rule, ())):
            index = index.union(batch.failing[rule.rule])
    failing = frame.loc[index] if len(index) else frame.iloc[0:0]
    failing_labels = labels.loc[failing.index] if len(failing) else labels.iloc[0:0]
    counts = {
        str(label): [int((failing_labels == label).sum()) if len(failing) else 0, int(total)]
        for label, total in totals.items()
    }
    return Tally(counts, Readouts.of(failing))


# ---------------------------------------------------------------------------------------- outcomes
def _severity(rule: Rule, count: int, total: int) -> str | None:
    if count <= 0:
        return None
    share = count / total if total else 1.0
    if rule.error_above is not None and share > rule.error_above:
        return "error"
    if rule.warn_above is not None and share > rule.warn_above:
        return "warning"
    return None


def quarantined_rule(contract: Contract) -> Rule | None:
    threshold = contract.materiality.get("quarantined_share_error_above")
    if threshold is None:
        return None
    return Rule(
        rule=QUARANTINED,
        expect="(rows failing any rule with a quarantine_reason)",
        kwargs={},
        level="row",
        says="fail a quarantine rule (staging quarantines them, so they are missing from every readout)",
        warn_above=None,
        error_above=float(threshold),
        unit=contract.data.get("unit", "rows"),
    )


def outcome(
    spec: SuiteSpec, rule: Rule, found: Tally | None, *, known: set | None = None, context: dict | None = None
) -> Outcome:
    """One rule's outcome from its tally: counts per partition and severity, or the table-level verdict."""
    result = Outcome(spec.contract, spec.name, rule, view=spec.view, partition_by=spec.partition_by)
    if found is None:
        result.severity, result.error = "error", "the rule did not run"
        return result
    if found.error:
        result.severity, result.error = "error", found.error
        return result
    if rule.level == "table":
        if not found.success:
            result.severity = rule.severity
            result.count = 1
            result.problem = table_problem(rule, found.observed, context or {})
            result.readouts = str(spec.contract.feeds.get("readouts", "every readout"))
        return result
    for label in sorted(found.counts):
        count, total = found.counts[label]
        result.partitions.append(PartitionCount(label, count, total, _severity(rule, count, total)))
    result.count = sum(p.count for p in result.partitions)
    result.total = sum(p.total for p in result.partitions)
    result.severity = max((p.severity for p in result.partitions), key=lambda s: SEVERITY_ORDER[s], default=None)
    result.details = list(found.details)
    result.readouts = found.readouts.describe(spec.contract, known)
    return result


def outcomes(
    spec: SuiteSpec, tallies: dict[str, Tally], *, known: set | None = None, context: dict | None = None
) -> list[Outcome]:
    """The outcome of every rule of the suite, in its order, then the quarantined share when tallied."""
    found = [outcome(spec, rule, tallies.get(rule.rule), known=known, context=context) for rule in spec.rules]
    quarantined = quarantined_rule(spec.contract)
    if QUARANTINED in tallies and quarantined is not None:
        found.append(outcome(spec, quarantined, tallies[QUARANTINED], known=known))
    return found


def evaluate(
    spec: SuiteSpec,
    frame: pd.DataFrame,
    result,
    *,
    known: set | None = None,
    context: dict | None = None,
    quarantine: bool = False,
) -> list[Outcome]:
    """Turn one suite's GX validation result on one frame into outcomes with counts and severities."""
    return outcomes(spec, tally(spec, frame, result, quarantine=quarantine).tallies, known=known, context=context)


def table_problem(rule: Rule, observed: Any, context: dict) -> str:
    if rule.rule.startswith("freshness."):
        as_of = context.get("as_of")
        limit = rule.kwargs.get("max_value")
        if observed is None or _isna(observed):
            return "is stale: no row has a parseable load time"
        newest = as_of - dt.timedelta(hours=float(observed)) if as_of else None
        return (
            f"is stale: the newest row was received {float(observed):,.1f} hours before the as-of time "
            f"{as_of:%Y-%m-%d %H:%M} UTC (at {newest:%Y-%m-%d %H:%M} UTC), beyond the {limit:g}-hour freshness SLA"
        )
    if rule.expect == "expect_table_row_count_to_be_between":
        return f"{rule.says} ({observed} rows)"
    return f"{rule.says} (observed {observed})"
