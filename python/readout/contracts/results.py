"""What a validation found: one ``Outcome`` per rule (counts per partition, severity), the ``Report`` of a run,
and the alert sentence each alarm prints.

An outcome is built from counts alone (``evaluate.py`` turns GX results into counts, ``batches.py`` adds
up the counts of a landing zone's files), so the sentence reads the same however the rows were read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from .load import Contract, Rule

SEVERITY_ORDER = {None: 0, "warning": 1, "error": 2}
MAX_DETAILS = 3


# ------------------------------------------------------------------------------------------ results
@dataclass
class PartitionCount:
    label: str
    count: int
    total: int
    severity: str | None

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0


@dataclass
class Outcome:
    """One rule evaluated on one batch: its count, severity and (when it alarms) the alert sentence."""

    contract: Contract
    suite: str
    rule: Rule
    severity: str | None = None
    count: int = 0
    total: int | None = None
    partitions: list[PartitionCount] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    readouts: str = ""
    problem: str | None = None  # replaces the count phrase for table-level findings
    error: str | None = None  # the rule could not be evaluated
    view: str | None = None
    partition_by: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.contract.name

    @property
    def rule_id(self) -> str:
        return f"{self.view}.{self.rule.rule}" if self.view else self.rule.rule

    @property
    def alarm(self) -> bool:
        return self.severity is not None

    @property
    def count_text(self) -> str:
        """``1,208 rows``, ``1 variant cell``; a table-level finding is one breach of the table."""
        if self.rule.level == "table" or self.error or self.problem:
            return "table-level"
        return f"{_fmt_int(self.count)} {_unit(self.rule, self.count)}"

    @property
    def sentence(self) -> str:
        return alert_sentence(self)

    def as_dict(self) -> dict:
        return {
            "contract": self.contract.name,
            "suite": self.suite,
            "rule": self.rule_id,
            "level": self.rule.level,
            "severity": self.severity,
            "count": self.count,
            "total": self.total,
            "unit": self.rule.unit,
            "quarantine_reason": self.rule.quarantine_reason,
            "partitions": [
                {"label": p.label, "count": p.count, "total": p.total, "severity": p.severity}
                for p in self.partitions
                if p.count
            ],
            "details": self.details,
            "readouts": self.readouts,
            "error": self.error,
            "sentence": self.sentence if self.alarm else None,
        }


@dataclass
class Report:
    stage: str
    outcomes: list[Outcome]
    as_of: dt.datetime | None = None
    docs: Path | None = None
    contracts: list[str] = field(default_factory=list)
    batches: list = field(default_factory=list)  #: per immutable landing table: files validated, from the cache
    engine: dict = field(default_factory=dict)  #: the engine asked for, its runs, the suites GX ran and why

    @property
    def alarms(self) -> list[Outcome]:
        """Errors first, then warnings."""
        return sorted((o for o in self.outcomes if o.alarm), key=lambda o: -SEVERITY_ORDER[o.severity])

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.severity == "error"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.severity == "warning"]

    def exit_code(self, fail_on: str = "error") -> int:
        if fail_on == "never":
            return 0
        if self.errors or (fail_on == "warning" and self.warnings):
            return 1
        return 0

    def as_dict(self) -> dict:
        return {
            "stage": self.stage,
            "as_of": self.as_of.isoformat() + "Z" if self.as_of else None,
            "contracts": self.contracts,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "rules_evaluated": len(self.outcomes),
            "alarms": [o.as_dict() for o in self.alarms],
            "docs": str(self.docs) if self.docs else None,
            "landing_files": [summary.as_dict() for summary in self.batches],
            "engine": self.engine,
        }


# ------------------------------------------------------------------------------------------- alerts
def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _pct(share: float) -> str:
    if share == 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    return f"{share:.1%}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _unit(rule: Rule, count: int) -> str:
    unit = rule.unit
    if count == 1 and unit.endswith("s"):
        return unit[:-1]
    return unit


def _partition_noun(columns: tuple[str, ...], count: int) -> str:
    noun = {("source_system",): "source system", ("experiment_id", "experiment_version"): "experiment version"}.get(
        tuple(columns), "partition"
    )
    return noun if count == 1 else noun + "s"


def _count_phrase(outcome: Outcome) -> str:
    rule = outcome.rule
    flagged = [p for p in outcome.partitions if p.severity] or [p for p in outcome.partitions if p.count]
    flagged.sort(key=lambda p: (-SEVERITY_ORDER[p.severity], -p.share))
    if len(outcome.partitions) > 1 or (flagged and flagged[0].label != "all"):
        parts = [
            f"{_fmt_int(p.count)} of {_fmt_int(p.total)} {p.label} {_unit(rule, p.total)} ({_pct(p.share)})"
            for p in flagged[:3]
        ]
        more = len(flagged) - 3
        noun = _partition_noun(outcome.partition_by, more)
        text = _join(parts + ([f"{more} more {noun}"] if more > 0 else []))
        if len(flagged) > 1:
            text = f"{_fmt_int(outcome.count)} {_unit(rule, outcome.count)} in all: {text}"
        return text
    total = outcome.total or 0
    share = _pct(outcome.count / total if total else 0)
    return f"{_fmt_int(outcome.count)} of {_fmt_int(total)} {_unit(rule, total)} ({share})"


def _threshold_phrase(outcome: Outcome) -> str:
    rule = outcome.rule
    if rule.level != "row":
        return ""
    if outcome.severity == "error":
        limit = rule.error_above
        return "" if not limit else f", above the {_pct(limit)} materiality threshold"
    if outcome.severity == "warning" and rule.error_above is not None and rule.error_above < 1:
        return f", below the {_pct(rule.error_above)} materiality threshold"
    return ""


def _action(outcome: Outcome) -> str:
    contract, rule = outcome.contract, outcome.rule
    if outcome.severity == "error":
        template = (
            rule.on_error or contract.actions.get("error") or "do not finalize them until {owner} has fixed the cause"
        )
    else:
        template = (
            rule.on_warning
            or contract.actions.get("warning")
            or "the readouts can proceed, but {owner} should look into it"
        )
    return template.format(owner=contract.owner_team)


#: the readouts an alarm names, when they are one: "the exp_x v1 readout", optionally with its metrics
_ONE_READOUT = re.compile(r"the (?!.* and )[^,]+ readout(?: \([^)]*\))?")


def alert_sentence(outcome: Outcome) -> str:
    """One sentence a decision maker can act on: severity, table, [rule], count and share (per partition),
    what is wrong, the materiality threshold, the readouts affected and what to do. For example::

        ERROR fct_experiment_units [exposure_logging.no_missing_exposures]: 1 variant cell with exposures
        missing from one variant on one platform (exp_search_ranking v2 treatment on ios: 36% of 124 assigned
        units were never exposed vs 8% in the other variants); this affects the exp_search_ranking v2 readout,
        so do not finalize it until experimentation-analytics has found the missing exposures, because the
        exposed population is biased.
    """
    severity = (outcome.severity or "ok").upper()
    head = f"{severity} {outcome.table} [{outcome.rule_id}]"
    if outcome.error:
        what = f"could not be checked ({outcome.error})"
    elif outcome.problem:
        what = outcome.problem
    elif outcome.rule.detail:  # the details say what is wrong where; says is a noun phrase ("with ...")
        what = f"{_fmt_int(outcome.count)} {_unit(outcome.rule, outcome.count)} {outcome.rule.says}"
    else:
        what = f"{_count_phrase(outcome)} {outcome.rule.says}"
    if outcome.details:
        shown = outcome.details[:MAX_DETAILS]
        more = len(outcome.details) - len(shown)
        what += " (" + "; ".join(shown) + (f"; and {more} more" if more > 0 else "") + ")"
    what += _threshold_phrase(outcome)
    readouts = outcome.readouts or str(outcome.contract.feeds.get("readouts", "every readout"))
    action = _action(outcome)
    if _ONE_READOUT.fullmatch(readouts):  # "the exp_x v1 readout, so do not finalize it" (the templates say them)
        action = re.sub(r"\bthem\b", "it", action)
    return f"{head}: {what}; this affects {readouts}, so {action}."
