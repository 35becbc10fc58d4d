"""``readout contracts validate``: run the contracts' suites, count failing rows, apply the thresholds, alert.

Two stages:

* ``raw`` (before ``dbt build``): the landing zone's Parquet files, read with DuckDB into pandas. Each
  file's schema is checked against its declared schema version; the rows of every known version are
  mapped onto the first version's shape and validated together.
* ``marts`` (after it): curated tables and marts read from the DuckDB warehouse (opened read-only).

Severity. A row-level rule counts its failing rows per partition (e.g. per source system): a warning
above ``warn_above`` of the partition's rows, an error above ``error_above`` (the materiality
threshold). Rows failing a rule with a ``quarantine_reason`` are the rows staging quarantines; above
``quarantined_share_error_above`` of one partition that is an error too. A table-level rule (a
missing column, a changed type, stale data, an empty table) is an error (or the warning its contract
names) as soon as it fails. Errors make the command exit 1; the build goes on past warnings.
"""

from __future__ import annotations

import datetime as dt
import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from ..landing import PROJECT_FILE, arrow_type_name, ingestion_bounds
from ..landing import resolve_as_of  # noqa: F401 - re-exported: `from readout.contracts.validate import resolve_as_of`
from .docs import GxRunner
from .load import Contract, Rule, select
from .suites import (AS_OF_VARIABLE, COLUMN_NAME, CONTRACT_COLUMN, DATA_TYPE, EVENTS_BEGIN_VARIABLE, EXPECTED_TYPE, MISSING_TYPE,
                     NOT_IN_CONTRACT, SOURCE_COLUMN, VERSION_COLUMN, SuiteSpec, row_condition_query, suite_specs)

SEVERITY_ORDER = {None: 0, "warning": 1, "error": 2}
MISSING = "(missing)"
DUCKDB_TYPES = {"string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
                "timestamp[us]": "TIMESTAMP"}
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
    failing_index: list = field(default_factory=list, repr=False)  # frame rows that fail (quarantined share)

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
            "contract": self.contract.name, "suite": self.suite, "rule": self.rule_id, "level": self.rule.level,
            "severity": self.severity, "count": self.count, "total": self.total, "unit": self.rule.unit,
            "quarantine_reason": self.rule.quarantine_reason,
            "partitions": [{"label": p.label, "count": p.count, "total": p.total, "severity": p.severity}
                           for p in self.partitions if p.count],
            "details": self.details, "readouts": self.readouts, "error": self.error,
            "sentence": self.sentence if self.alarm else None,
        }


@dataclass
class Report:
    stage: str
    outcomes: list[Outcome]
    as_of: dt.datetime | None = None
    docs: Path | None = None
    contracts: list[str] = field(default_factory=list)

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
    noun = {("source_system",): "source system", ("experiment_id", "experiment_version"): "experiment version"
            }.get(tuple(columns), "partition")
    return noun if count == 1 else noun + "s"


def _count_phrase(outcome: Outcome) -> str:
    rule = outcome.rule
    flagged = [p for p in outcome.partitions if p.severity] or [p for p in outcome.partitions if p.count]
    flagged.sort(key=lambda p: (-SEVERITY_ORDER[p.severity], -p.share))
    if len(outcome.partitions) > 1 or (flagged and flagged[0].label != "all"):
        parts = [f"{_fmt_int(p.count)} of {_fmt_int(p.total)} {p.label} {_unit(rule, p.total)} ({_pct(p.share)})"
                 for p in flagged[:3]]
        more = len(flagged) - 3
        noun = _partition_noun(outcome.partition_by, more)
        text = _join(parts + ([f"{more} more {noun}"] if more > 0 else []))
        if len(flagged) > 1:
            text = f"{_fmt_int(outcome.count)} {_unit(rule, outcome.count)} in all: {text}"
        return text
    total = outcome.total or 0
    return f"{_fmt_int(outcome.count)} of {_fmt_int(total)} {_unit(rule, total)} ({_pct(outcome.count / total if total else 0)})"


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
        template = rule.on_error or contract.actions.get("error") or \
            "do not finalize them until {owner} has fixed the cause"
    else:
        template = rule.on_warning or contract.actions.get("warning") or \
            "the readouts can proceed, but {owner} should look into it"
    return template.format(owner=contract.owner_team)


def alert_sentence(outcome: Outcome) -> str:
    """One sentence a decision maker can act on: severity, table, [rule], count and share (per partition),
    what is wrong, the materiality threshold, the readouts affected and what to do. For example::

        ERROR fct_experiment_units [exposure_logging.no_missing_exposures]: 1 variant cell with exposures
        missing from one variant on one platform (exp_search_ranking v2 treatment on ios: 36% of 124 assigned
        units were never exposed vs 8% in the other variants); this affects the exp_search_ranking v2 readout,
        so do not finalize them until experimentation-analytics has found the missing exposures, because the
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
    return f"{head}: {what}; this affects {readouts}, so {_action(outcome)}."


# -------------------------------------------------------------------------------------- readouts
def _metric_events(contract: Contract) -> dict[str, list[str]]:
    metrics = contract.feeds.get("metrics") or {}
    return {m: list(v.get("events") or []) for m, v in metrics.items() if isinstance(v, dict)}


def readouts_affected(contract: Contract, failing: pd.DataFrame | None,
                      known: set[tuple[str, int]] | None = None) -> str:
    """The readouts a set of failing rows feeds, in words."""
    default = str(contract.feeds.get("readouts", "every readout"))
    if failing is None or failing.empty:
        return default
    experiments: list[str] = []
    outcome_metrics: list[str] = []
    if "experiment_id" in failing.columns:
        keys = failing[["experiment_id"] + (["experiment_version"] if "experiment_version" in failing.columns
                                            else [])].dropna().drop_duplicates()
        for row in keys.itertuples(index=False):
            version = int(row[1]) if len(row) > 1 else None
            if known is not None and (row[0], version) not in known:
                continue
            experiments.append(f"{row[0]} v{version}" if version is not None else str(row[0]))
        experiments.sort()
    metric_ids: list[str] = []
    if "metric_id" in failing.columns:
        metric_ids = sorted(failing["metric_id"].dropna().unique().tolist())
    elif "event_name" in failing.columns:
        events = set(failing.loc[failing.get("experiment_id").isna() if "experiment_id" in failing.columns
                                 else slice(None), "event_name"].dropna().unique())
        outcome_metrics = sorted(m for m, evs in _metric_events(contract).items() if events & set(evs))
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
        if "event_name" in failing.columns and "experiment_id" in failing.columns:
            return "no configured readout (the rows name no known experiment and feed no catalog metric)"
        return default
    return " and ".join(parts)


# -------------------------------------------------------------------------------------- evaluation
def _exception(result) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def _partition_labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
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


def _severity(rule: Rule, count: int, total: int) -> str | None:
    if count <= 0:
        return None
    share = count / total if total else 1.0
    if rule.error_above is not None and share > rule.error_above:
        return "error"
    if rule.warn_above is not None and share > rule.warn_above:
        return "warning"
    return None


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


def evaluate(spec: SuiteSpec, frame: pd.DataFrame, result, *, known: set | None = None,
             context: dict | None = None) -> list[Outcome]:
    """Turn one suite's GX validation result into outcomes with counts and severities."""
    context = context or {}
    by_rule = {}
    for r in result.results:
        by_rule[(r.expectation_config.meta or {}).get("rule")] = r
    labels = _partition_labels(frame, spec.partition_by)
    totals_all = labels.value_counts()
    outcomes = []
    for rule in spec.rules:
        outcome = Outcome(spec.contract, spec.name, rule, view=spec.view, partition_by=spec.partition_by)
        r = by_rule.get(rule.rule)
        if r is None:
            outcome.severity, outcome.error = "error", "the rule did not run"
            outcomes.append(outcome)
            continue
        error = _exception(r)
        if error:
            outcome.severity, outcome.error = "error", error.splitlines()[0][:200]
            outcomes.append(outcome)
            continue
        if rule.level == "table":
            if not r.success:
                outcome.severity = rule.severity
                outcome.count = 1
                outcome.problem = _table_problem(spec, rule, frame, r.result, context)
                outcome.readouts = str(spec.contract.feeds.get("readouts", "every readout"))
            outcomes.append(outcome)
            continue
        index = r.result.get("unexpected_index_list") or []
        if index and isinstance(index[0], dict):
            index = [next(iter(item.values())) for item in index]
        failing = frame.loc[index] if index else frame.iloc[0:0]
        if rule.where:
            considered = frame.query(row_condition_query(rule.where), engine="python") if len(frame) else frame
            totals = labels.loc[considered.index].value_counts()
        else:
            totals = totals_all
        failing_labels = labels.loc[failing.index] if len(failing) else labels.iloc[0:0]
        for label, total in totals.sort_index().items():
            subset = failing[failing_labels == label] if len(failing) else failing
            count = _method_count(rule, subset)
            outcome.partitions.append(PartitionCount(str(label), count, int(total),
                                                     _severity(rule, count, int(total))))
        outcome.count = sum(p.count for p in outcome.partitions)
        outcome.total = int(sum(totals))
        outcome.severity = max((p.severity for p in outcome.partitions), key=lambda s: SEVERITY_ORDER[s],
                               default=None)
        outcome.details = _details(rule, failing)
        outcome.readouts = readouts_affected(spec.contract, failing, known)
        outcome.failing_index = list(failing.index)
        outcomes.append(outcome)
    return outcomes


def _table_problem(spec: SuiteSpec, rule: Rule, frame: pd.DataFrame, result: dict, context: dict) -> str:
    observed = result.get("observed_value")
    if rule.rule.startswith("freshness."):
        as_of = context.get("as_of")
        limit = rule.kwargs.get("max_value")
        if observed is None or _isna(observed):
            return "is stale: no row has a parseable load time"
        newest = as_of - dt.timedelta(hours=float(observed)) if as_of else None
        return (f"is stale: the newest row was received {float(observed):,.1f} hours before the as-of time "
                f"{as_of:%Y-%m-%d %H:%M} UTC (at {newest:%Y-%m-%d %H:%M} UTC), beyond the {limit:g}-hour freshness SLA")
    if rule.expect == "expect_table_row_count_to_be_between":
        return f"{rule.says} ({observed} rows)"
    return f"{rule.says} (observed {observed})"


def _quarantined_share(contract: Contract, spec: SuiteSpec, frame: pd.DataFrame, outcomes: list[Outcome],
                       known: set | None) -> Outcome | None:
    threshold = contract.materiality.get("quarantined_share_error_above")
    if threshold is None:
        return None
    index: set = set()
    for outcome in outcomes:
        if outcome.rule.quarantine_reason:
            index.update(outcome.failing_index)
    rule = Rule(rule="quarantined_share", expect="(rows failing any rule with a quarantine_reason)", kwargs={},
                level="row", says="fail a quarantine rule (staging quarantines them, so they are missing from "
                                  "every readout)", warn_above=None, error_above=float(threshold),
                unit=contract.data.get("unit", "rows"))
    outcome = Outcome(contract, spec.name, rule, partition_by=spec.partition_by)
    labels = _partition_labels(frame, spec.partition_by)
    failing = frame.loc[sorted(index)] if index else frame.iloc[0:0]
    failing_labels = labels.loc[failing.index] if len(failing) else labels.iloc[0:0]
    for label, total in labels.value_counts().sort_index().items():
        count = int((failing_labels == label).sum()) if len(failing) else 0
        outcome.partitions.append(PartitionCount(str(label), count, int(total), _severity(rule, count, int(total))))
    outcome.count = sum(p.count for p in outcome.partitions)
    outcome.total = len(frame)
    outcome.severity = max((p.severity for p in outcome.partitions), key=lambda s: SEVERITY_ORDER[s], default=None)
    outcome.readouts = readouts_affected(contract, failing, known)
    return outcome


# -------------------------------------------------------------------------------------- reading
def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_type(type_) -> str:
    return arrow_type_name(type_)


def _derived_sql(base_sql: str, derived: dict[str, str], keep: list[str] | None = None) -> str:
    """Each derived column in its own layer (so later ones may use earlier ones); ``keep``: the columns returned."""
    layers = [f"d0 as ({base_sql})"]
    for i, (name, expression) in enumerate(derived.items(), start=1):
        layers.append(f"d{i} as (select t.*, {expression} as {_ident(name)} from d{i - 1} as t)")
    columns = ", ".join(map(_ident, keep)) if keep else "*"
    return "with " + ",\n".join(layers) + f"\nselect {columns} from d{len(derived)}"


@dataclass
class LandingFile:
    path: Path
    source: str
    columns: dict[str, str]
    rows: int
    declared: str
    version: int | None


def _landing_files(contract: Contract, landing: Path, con: duckdb.DuckDBPyConnection) -> list[LandingFile]:
    folder = landing / contract.landing_folder
    if not landing.is_dir():
        raise FileNotFoundError(f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
                                "`readout simulate` writes one)")
    paths = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not paths:
        raise FileNotFoundError(f"no Parquet files under {folder} (landing table of contract {contract.name})")
    files = []
    first = contract.first_version
    for path in paths:
        try:
            schema = pq.read_schema(path)
            rows = pq.read_metadata(path).num_rows
        except Exception as exc:  # noqa: BLE001 - an unreadable file is a contract breach, reported below
            files.append(LandingFile(path, str(path.relative_to(landing)), {}, 0, f"unreadable: {exc}", None))
            continue
        columns = {field.name: _arrow_type(field.type) for field in schema}
        vc = contract.version_column
        if not vc:
            declared, version = str(first), first
        elif vc not in columns:
            declared, version = "", None
        elif rows == 0:
            declared, version = str(first), first
        else:
            values = [v for (v,) in con.execute(
                f"select distinct {_ident(vc)} from read_parquet({_q(path)}) order by 1").fetchall()]
            declared = ",".join("null" if v is None else str(v) for v in values)
            version = values[0] if len(values) == 1 and values[0] in contract.schema_versions else None
        files.append(LandingFile(path, str(path.relative_to(landing)), columns, rows, declared, version))
    return files


def _schema_frame(contract: Contract, version: int, sources: list[tuple[str, dict[str, str]]]) -> pd.DataFrame:
    """One row per source x column: the contract's columns (type "(missing)" when absent) and any extra ones
    (no contract name, expected type "(not in the contract)")."""
    expected = contract.columns(version)
    records = []
    for source, columns in sources:
        for column, type_ in expected.items():
            records.append((source, column, column, columns.get(column, MISSING_TYPE), type_))
        for column, type_ in columns.items():
            if column not in expected:
                records.append((source, column, None, type_, NOT_IN_CONTRACT))
    return pd.DataFrame.from_records(records, columns=[SOURCE_COLUMN, COLUMN_NAME, CONTRACT_COLUMN, DATA_TYPE,
                                                       EXPECTED_TYPE]).astype(object)


def _landing_rows_sql(contract: Contract, groups: dict[int, list[LandingFile]], landing: Path) -> str:
    base_columns = contract.columns(contract.first_version)
    selects = []
    prefix = str(landing.resolve()) + os.sep
    for version, files in sorted(groups.items()):
        renames = contract.renames.get(version, {})
        observed = set().union(*(f.columns for f in files))
        items = []
        for column, type_ in base_columns.items():
            source = renames.get(column, column)
            duck = DUCKDB_TYPES[type_]
            if source in observed:
                items.append(f"try_cast({_ident(source)} as {duck}) as {_ident(column)}")
            else:
                items.append(f"cast(null as {duck}) as {_ident(column)}")
        items.append(f"replace(filename, {_q(prefix)}, '') as _source")
        paths = "[" + ", ".join(_q(f.path.resolve()) for f in files) + "]"
        selects.append(f"select {', '.join(items)} from read_parquet({paths}, union_by_name = true, filename = true)")
    return "\nunion all by name\n".join(selects)


def _register_landing_experiments(con: duckdb.DuckDBPyConnection, landing: Path) -> set[tuple[str, int]]:
    folder = landing / "experiments"
    empty = ("select cast(null as varchar) as experiment_id, cast(null as integer) as experiment_version, "
             "cast(null as varchar) as variant_id where false")
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        glob = _q(str(folder / "**" / "*.parquet"))
        sql = f"select * from read_parquet({glob}, union_by_name = true) union all by name {empty}"
    else:
        sql = empty
    try:
        con.execute(f"create or replace temp view landing_experiments as {sql}")
    except duckdb.Error:
        con.execute(f"create or replace temp view landing_experiments as {empty}")
    rows = con.execute("select distinct experiment_id, try_cast(experiment_version as integer) "
                       "from landing_experiments where experiment_id is not null").fetchall()
    return {(e, v) for e, v in rows}


def _set_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None) -> None:
    """Derived columns read the reference time as getvariable('as_of')."""
    moment = as_of or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(f"set variable {AS_OF_VARIABLE} = timestamp '{moment:%Y-%m-%d %H:%M:%S.%f}'")


def _set_events_begin(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Derived columns read the first day of history as getvariable('events_begin'), from the dbt project's
    vars (the project holding the contracts folder), so staging and the contract share one value."""
    project = contract.path.resolve().parent.parent
    begin = ingestion_bounds(project if (project / PROJECT_FILE).is_file() else None).events_begin
    con.execute(f"set variable {EVENTS_BEGIN_VARIABLE} = timestamp '{begin:%Y-%m-%d %H:%M:%S}'")


def needed_columns(spec: SuiteSpec, columns: list[str]) -> list[str]:
    """The columns the suite's rules, partitions, counts, details and readouts read (a narrower frame is
    much faster for GX to filter)."""
    wanted = set(spec.partition_by) | {"experiment_id", "experiment_version", "event_name", "metric_id"}
    for rule in spec.rules:
        for key in ("column", "column_A", "column_B"):
            if isinstance(rule.kwargs.get(key), str):
                wanted.add(rule.kwargs[key])
        wanted.update(rule.kwargs.get("column_list") or [])
        wanted.update(rule.where or {})
        wanted.update(rule.count_key)
        if rule.count_value:
            wanted.add(rule.count_value)
        if rule.detail:
            wanted.update(name for _, name, _, _ in string.Formatter().parse(rule.detail) if name)
    return [c for c in columns if c in wanted]


def _not_validated(contract: Contract, spec: SuiteSpec, message: str) -> Outcome:
    rule = Rule(rule="readable", expect="(read)", kwargs={}, level="table", says="could not be read",
                severity="error")
    outcome = Outcome(contract, spec.name, rule, severity="error", count=1, view=spec.view)
    outcome.problem = message
    return outcome


def validate_landing(contract: Contract, landing: Path, runner: GxRunner, as_of: dt.datetime) -> list[Outcome]:
    con = duckdb.connect()
    try:
        _set_as_of(con, as_of)
        _set_events_begin(con, contract)
        known = _register_landing_experiments(con, landing)
        files = _landing_files(contract, landing, con)
        specs = {spec.kind if spec.kind != "schema" else f"schema_v{spec.version}": spec
                 for spec in suite_specs(contract)}
        outcomes: list[Outcome] = []
        for f in files:
            if f.declared.startswith("unreadable"):
                outcomes.append(_not_validated(contract, specs["rows"], f"has a file that is not readable Parquet "
                                                                        f"({f.source}: {f.declared[12:].strip()[:120]})"))
        if "files" in specs:
            frame = pd.DataFrame({SOURCE_COLUMN: [f.source for f in files],
                                  VERSION_COLUMN: [f.declared for f in files]}).astype(object)
            outcomes += evaluate(specs["files"], frame, runner.run(specs["files"], frame))
        groups: dict[int, list[LandingFile]] = {}
        for f in files:
            if f.version is not None:
                groups.setdefault(f.version, []).append(f)
        for version, members in sorted(groups.items()):
            spec = specs[f"schema_v{version}"]
            frame = _schema_frame(contract, version, [(f.source, f.columns) for f in members])
            outcomes += evaluate(spec, frame, runner.run(spec, frame))
        rows_spec = specs["rows"]
        if not groups:
            outcomes.append(_not_validated(contract, rows_spec, "has no file of a schema version the contract defines"))
            return outcomes
        names = [*contract.columns(contract.first_version), "_source", *contract.derived_columns]
        sql = _derived_sql(_landing_rows_sql(contract, groups, landing), contract.derived_columns,
                           keep=needed_columns(rows_spec, names))
        try:
            frame = con.execute(sql).df()
        except duckdb.Error as exc:
            outcomes.append(_not_validated(contract, rows_spec, f"could not be read: {str(exc).splitlines()[0]}"))
            return outcomes
        result = runner.run(rows_spec, frame)
        row_outcomes = evaluate(rows_spec, frame, result, known=known if contract.name != "raw_experiments" else None,
                                context={"as_of": as_of})
        quarantined = _quarantined_share(contract, rows_spec, frame, row_outcomes, known)
        outcomes += row_outcomes + ([quarantined] if quarantined else [])
        return outcomes
    finally:
        con.close()


def validate_warehouse(contract: Contract, con: duckdb.DuckDBPyConnection, runner: GxRunner) -> list[Outcome]:
    schema_name, table_name = contract.relation.split(".", 1)
    specs = suite_specs(contract)
    columns = dict(con.execute(
        "select column_name, lower(data_type) from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [schema_name, table_name]).fetchall())
    schema_spec = next(s for s in specs if s.kind == "schema")
    if not columns:
        return [_not_validated(contract, schema_spec,
                               f"does not exist in the warehouse (relation {contract.relation}; was it built?)")]
    outcomes: list[Outcome] = []
    frame = _schema_frame(contract, schema_spec.version, [(contract.relation, columns)])
    outcomes += evaluate(schema_spec, frame, runner.run(schema_spec, frame))
    rows_spec = next(s for s in specs if s.kind == "rows")
    sql = _derived_sql(f"select * from {contract.relation}", contract.derived_columns,
                       keep=needed_columns(rows_spec, [*columns, *contract.derived_columns]))
    try:
        data = con.execute(sql).df()
    except duckdb.Error as exc:
        outcomes.append(_not_validated(contract, rows_spec, f"could not be read: {str(exc).splitlines()[0]}"))
        return outcomes
    outcomes += evaluate(rows_spec, data, runner.run(rows_spec, data))
    for spec in specs:
        if spec.kind != "view":
            continue
        view = next(v for v in contract.views if v.name == spec.view)
        try:
            data = con.execute(view.sql).df()
        except duckdb.Error as exc:
            outcomes.append(_not_validated(contract, spec, f"view {view.name} could not be computed: "
                                                           f"{str(exc).splitlines()[0]}"))
            continue
        outcomes += evaluate(spec, data, runner.run(spec, data))
    return outcomes


# ---------------------------------------------------------------------------------------------- run
def validate(stage: str, contracts: dict[str, Contract], *, names: list[str] | None = None,
             landing: Path | None = None, warehouse: Path | None = None, as_of: dt.datetime | None = None,
             docs_dir: Path | None = None) -> Report:
    """Validate the contracts of ``stage`` (raw, marts or all). User errors raise FileNotFoundError/ValueError."""
    chosen = select(contracts, names, stage)
    if not chosen:
        raise ValueError(f"no contract for stage {stage!r}" + (f" among {', '.join(names)}" if names else ""))
    as_of = as_of or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    needs_landing = any(c.is_landing for c in chosen)
    needs_warehouse = any(not c.is_landing for c in chosen)
    if needs_landing and (landing is None or not Path(landing).is_dir()):
        raise FileNotFoundError(f"landing zone {landing} not found (set READOUT_LANDING_PATH or pass --landing; "
                                "`readout simulate` writes one)")
    if needs_warehouse and (warehouse is None or not Path(warehouse).is_file()):
        raise FileNotFoundError(f"warehouse {warehouse} not found (set READOUT_DUCKDB_PATH or pass --warehouse; "
                                "`dbt build` writes it)")
    runner = GxRunner(docs_dir)
    outcomes: list[Outcome] = []
    for contract in (c for c in chosen if c.is_landing):
        outcomes += validate_landing(contract, Path(landing), runner, as_of)
    if needs_warehouse:
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error as exc:
            raise ValueError(f"cannot open warehouse {warehouse} read-only: {str(exc).splitlines()[0]}") from None
        try:
            _set_as_of(con, as_of)
            for contract in (c for c in chosen if not c.is_landing):
                outcomes += validate_warehouse(contract, con, runner)
        finally:
            con.close()
    docs = runner.build_docs()
    return Report(stage=stage, outcomes=outcomes, as_of=as_of if needs_landing else None, docs=docs,
                  contracts=[c.name for c in chosen])
