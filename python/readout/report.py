"""`readout report`: the readout in the terminal, read from the warehouse's published layer (schema published:
what the last build whose every audit passed published; a warehouse built before publishing: the marts).

It says first when the last dbt build failed or never finished (from the build log the project's hooks
write, ``macros/build_log.sql``) and flags the readouts that build touched; a warehouse locked by a
running build is a one-line error.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from readout.paths import warehouse_path
from readout.warehouse import BUILD_LOG_TABLE, schema_of

#: the marts this report reads
READOUT_MARTS = ("fct_sample_ratio_checks", "fct_metric_results")
#: commands whose success means the marts were (re)built (retry: a failed build's failed nodes, re-run)
BUILD_COMMANDS = ("build", "run", "retry")
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")

SRM_SQL = """
select experiment_id, experiment_version, population,
       string_agg(variant_id || ' ' || observed_units, ', ' order by variant_id) as units,
       max(p_value) as p_value, bool_or(is_sample_ratio_mismatch) as is_mismatch, max(status_reason) as note
from {schema}.fct_sample_ratio_checks
group by all
order by all
"""

#: data-quality alarms from the volume checks (issue 10): one line per flagged variant x platform x day
VOLUME_SQL = """
select experiment_id, experiment_version, variant_id, source_system, event_date,
       max(missing_share) as missing_share, sum(observed_events) as observed_events,
       sum(expected_events) as expected_events,
       string_agg(event_name, ', ' order by event_name) as event_names
from {schema}.fct_volume_checks
where is_volume_shortfall
group by all
order by all
"""
SEGMENT_SQL = """
select experiment_id, experiment_version, any_value(alarm) as alarm
from {schema}.fct_sample_ratio_checks_by_segment
where is_sample_ratio_mismatch
group by experiment_id, experiment_version, segment_label
order by all
"""
#: the primary metric's result a volume alarm is read against (CUPED where there is one)
PRIMARY_SQL = """
select experiment_id, experiment_version, variant_id, metric_id, relative_lift
from {schema}.fct_metric_results
where population = ? and metric_role = 'primary'
qualify row_number() over (partition by experiment_id, experiment_version, variant_id, metric_id
                           order by estimator = 'cuped' desc) = 1
order by all
"""

RESULTS_SQL = """
select experiment_id, experiment_version, variant_id, metric_id, metric_role, estimator,
       mean_control, mean_variant, relative_lift, relative_lift_ci_lower, relative_lift_ci_upper,
       adjusted_p_value, is_significant, guardrail_status, status_reason, {status_columns}
from {schema}.fct_metric_results
where population = ? and (metric_role in ('primary', 'guardrail') or ?)
order by experiment_id, experiment_version, variant_id, metric_role, metric_id, estimator
"""
#: the readout status columns (issue 12); a warehouse built before them reads them as null
STATUS_COLUMNS = ("readout_status", "status_reasons", "status_reason_text")


def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.1%}"


def _when(value) -> str:
    return "an unknown time" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S} UTC"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Invocation:
    """One dbt invocation of the build log: its `started` row joined to its `finished` row, if any."""

    invocation_id: str
    command: str
    started_at: pd.Timestamp
    finished_at: pd.Timestamp | None = None
    status: str | None = None  #: success | failed; None: never finished
    error_count: int = 0
    test_failure_count: int = 0
    failed_nodes: str = ""
    built_models: tuple[str, ...] = ()

    @property
    def is_build(self) -> bool:
        return self.command.split(" ")[0] in BUILD_COMMANDS

    def describe(self) -> str:
        return f"the last dbt {self.command} (started {_when(self.started_at)})"

    def failures(self) -> str:
        parts = []
        if self.test_failure_count:
            parts.append(f"{_plural(self.test_failure_count, 'test')} failed")
        if self.error_count:
            parts.append(f"{_plural(self.error_count, 'node')} errored")
        return (" and ".join(parts) or "it failed") + (f": {self.failed_nodes}" if self.failed_nodes else "")


@dataclass(frozen=True)
class BuildState:
    """What the build log says about the marts this report reads."""

    last_good: Invocation | None  #: the latest build that finished successfully
    problems: tuple[Invocation, ...] = ()  #: invocations after it that failed or never finished, oldest first
    #: the report reads the published layer (write-audit-publish): a failed or unfinished build never wrote it
    published: bool = False

    @property
    def problem(self) -> Invocation | None:
        """The latest failed or unfinished invocation, the one the report names first."""
        return self.problems[-1] if self.problems else None

    def _touched(self, invocation: Invocation) -> set[str]:
        """Readout marts an invocation may have written: all when a build never finished (what it rebuilt is
        unknown), those it built when it failed, none when it was not a build."""
        if not invocation.is_build or (self.published and invocation.status is not None):
            return set()  # a failed build publishes nothing; a killed one may have been killed while publishing
        return set(READOUT_MARTS) if invocation.status is None else set(READOUT_MARTS) & set(invocation.built_models)

    @property
    def source(self) -> Invocation | None:
        """The latest failed or unfinished build that may have written the marts shown."""
        touching = [item for item in self.problems if self._touched(item)]
        return touching[-1] if touching else None

    def marts_touched(self) -> set[str]:
        return self._touched(self.source) if self.source is not None else set()

    def flag(self) -> str:
        """The note on each readout of a mart the source build may have written."""
        if self.source is None:
            return ""
        return "from a build that never finished" if self.source.status is None else "from a failed build"

    def warning(self) -> str | None:
        """The first line of the report, when the last build did not finish or failed."""
        problem, source = self.problem, self.source
        if problem is None:
            return None
        if problem.status is None:
            text = f"WARNING: {problem.describe()} never finished: it was killed, or is still running"
        else:
            text = f"WARNING: {problem.describe()} failed ({problem.failures()})"
        previous = (f"the build of {_when(self.last_good.finished_at)}" if self.last_good is not None
                    else "an earlier build (no successful build is logged)")
        if source is None and self.published:
            return text + (f"; it published nothing: the readout shown is the one {previous} published, without the "
                           "data that build would have added. Fix the build and run `make build` again.")
        if source is None:
            text += f"; the marts shown are from {previous}"
        else:
            name = ("it" if source.status is None else "that failed build") if source is problem else (
                f"the {'build that never finished' if source.status is None else 'failed build'} started "
                f"{_when(source.started_at)}")
            touched = sorted(self.marts_touched())
            if source.status is None:
                text += f"; staging may be half-rebuilt and the marts shown partly from {name}, partly from {previous}"
            elif len(touched) == len(READOUT_MARTS):
                text += f"; the marts shown are from {name}"
            else:
                text += f"; {', '.join(touched)} from {name}, the other marts shown from {previous}"
        return text + ". Do not finalize these readouts until a build succeeds."


def _columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table]).fetchall()}


def readout_schema(con: duckdb.DuckDBPyConnection) -> str:
    """Where the readout is read from: the published layer (schema published, written only by a build whose
    every audit passed) when the warehouse has one, else the marts (a warehouse built before publishing)."""
    return "published" if _columns_of(con, "published", "fct_metric_results") else "marts"


def _results_sql(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> str:
    present = _columns_of(con, schema, "fct_metric_results")
    return RESULTS_SQL.format(schema=schema, status_columns=", ".join(
        name if name in present else f"null::varchar as {name}" for name in STATUS_COLUMNS))


def readout_status(row) -> str:
    """The row's readout status and its reason codes, as printed at the end of its line: ``[confirmed]``,
    ``[provisional: experiment_running, windows_in_progress]``, ``[frozen]`` (the numbers of a `readout freeze`;
    the version's sentence says who froze it, when and why); empty for a warehouse built before readouts had a
    status."""
    status = _text(row.readout_status)
    reasons = [code for code in _text(row.status_reasons).split(",") if code and code != status]
    if not status:
        return ""
    return f"[{status}]" if not reasons else f"[{status}: {', '.join(reasons)}]"


def _build_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """The build log's rows, or None for a warehouse built before the project wrote one."""
    schema = schema_of(con, BUILD_LOG_TABLE)
    if schema is None:
        return None
    schema = schema.replace('"', '""')
    return con.execute(f'select * from "{schema}".{BUILD_LOG_TABLE} order by started_at, event desc').df()


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _count(value) -> int:
    return 0 if pd.isna(value) else int(value)


def build_state(log: pd.DataFrame | None, published: bool = False) -> BuildState | None:
    """The last successful build and the failed or unfinished invocations after it."""
    if log is None:
        return None
    invocations: list[Invocation] = []
    for invocation_id, rows in log.groupby("invocation_id", sort=False):
        started = rows[rows.event == "started"]
        finished = rows[rows.event == "finished"]
        first = (started if len(started) else rows).iloc[0]
        common = {"invocation_id": str(invocation_id), "command": _text(first.command), "started_at": first.started_at}
        if len(finished):
            end = finished.iloc[-1]
            invocations.append(Invocation(
                **common, finished_at=end.finished_at, status=_text(end.status),
                error_count=_count(end.error_count), test_failure_count=_count(end.test_failure_count),
                failed_nodes=_text(end.failed_nodes),
                built_models=tuple(name.strip() for name in _text(end.built_models).split(",") if name.strip())))
        else:
            invocations.append(Invocation(**common))
    invocations.sort(key=lambda item: item.started_at)
    good = [item for item in invocations if item.is_build and item.status == "success"]
    last_good = good[-1] if good else None
    later = [item for item in invocations
             if last_good is None or item.started_at > last_good.started_at]
    return BuildState(last_good, tuple(item for item in later if item.status != "success"), published)


def _lock_error(warehouse: Path, message: str) -> str | None:
    """A one-line explanation when ``message`` is DuckDB's "another process holds the lock" error."""
    if "Could not set lock" not in message and "Conflicting lock" not in message:
        return None
    holder = _LOCK_HOLDER.search(message)
    who = ""
    if holder:
        pid = holder.group("pid")
        who = f" by PID {pid} ({_command_line(pid) or holder.group('program')})"
    return (f"a build is running: the warehouse {warehouse} is locked{who}; "
            "run `readout report` again when it has finished")


def _command_line(pid: str) -> str:
    """The process's command line, shortened (Linux /proc); empty when unknown."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    parts = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    if parts and Path(parts[0]).name.startswith("python") and len(parts) > 1:
        parts = parts[1:]  # python /path/to/bin/dbt build ... -> dbt build ...
    if parts:
        parts[0] = Path(parts[0]).name
    text = " ".join(" ".join(parts).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _direction(lift: float) -> str:
    if pd.isna(lift):
        return "cannot be estimated"
    return f"is {'up' if lift > 0 else 'down' if lift < 0 else 'flat'} ({_percent(lift)})"


def quality_alarms(volume: pd.DataFrame, segments: pd.DataFrame, primary: pd.DataFrame) -> list[str]:
    """One sentence per volume shortfall (read against the experiment's primary metric, so a reader sees which
    number not to trust) and per segment sample-ratio mismatch."""
    lines = []
    for row in volume.itertuples():
        day = f"{pd.Timestamp(row.event_date):%Y-%m-%d}"
        missing = (f"{row.missing_share:.0%} of {row.variant_id}'s expected {row.source_system} events on {day} are "
                   f"missing ({row.event_names}: {row.observed_events:,.0f} of ~{row.expected_events:,.0f})")
        reads = primary[(primary.experiment_id == row.experiment_id)
                        & (primary.experiment_version == row.experiment_version)]
        read = next(iter(reads.itertuples()), None)
        subject = (f"{read.variant_id} {read.metric_id} {_direction(read.relative_lift)}, but " if read is not None
                   else "")
        lines.append(f"  {row.experiment_id} v{row.experiment_version}: {subject}{missing}, so do not finalize the "
                     "readout.")
    lines += [f"  {row.alarm}" for row in segments.itertuples()]  # the alarm names its experiment version
    return lines


def render(warehouse: Path, population: str = "exposed", all_metrics: bool = False) -> str:
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"no warehouse at {Path(warehouse).resolve()}; run `make demo` (or dbt build) first")
    state: BuildState | None = None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            schema = readout_schema(con)
            state = build_state(_build_log(con), published=schema == "published")
            srm = con.execute(SRM_SQL.format(schema=schema)).df()
            results = con.execute(_results_sql(con, schema), [population, all_metrics]).df()
            # the quality marts came with issue 10: an older warehouse has none, and its report still reads
            volume = (con.execute(VOLUME_SQL.format(schema=schema)).df()
                      if _columns_of(con, schema, "fct_volume_checks")
                      else pd.DataFrame(columns=["experiment_id", "experiment_version"]))
            segments = (con.execute(SEGMENT_SQL.format(schema=schema)).df()
                        if _columns_of(con, schema, "fct_sample_ratio_checks_by_segment")
                        else pd.DataFrame(columns=["experiment_id", "experiment_version", "alarm"]))
            primary = con.execute(PRIMARY_SQL.format(schema=schema), [population]).df()
    except duckdb.Error as exc:
        locked = _lock_error(warehouse, str(exc))
        if locked:
            raise ValueError(locked) from None
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = state.problem if state is not None else None
        if problem is None:
            raise ValueError(f"cannot read the readout marts in {warehouse} ({first_line}); run `make build` first") from None
        outcome = "never finished" if problem.status is None else f"failed ({problem.failures()})"
        raise ValueError(f"cannot read the readout marts in {warehouse} ({first_line}): {problem.describe()} "
                         f"{outcome}; fix it and run `make build` again") from None
    lines = []
    warning = state.warning() if state is not None else None
    if warning:
        lines += [warning, ""]
    if state is None:
        built = "no build log: built before the project logged its builds"
    elif state.last_good is not None:
        built = f"last successful build {_when(state.last_good.finished_at)}"
    else:
        built = "no successful build logged"
    layer = "published readout; " if schema == "published" else ""
    lines += [f"readout: {warehouse} ({layer}population: {population}; {built})", ""]
    touched = state.marts_touched() if state is not None else set()
    build_flag = state.flag() if state is not None else ""
    mismatched = {
        (row.experiment_id, row.experiment_version)
        for row in srm.itertuples()
        if row.population == population and row.is_mismatch
    }
    lines.append("Sample ratio checks")
    for row in srm[srm.population == population].itertuples():
        verdict = "MISMATCH" if row.is_mismatch else (f"n/a: {row.note}" if isinstance(row.note, str) else "ok")
        p_value = "n/a" if pd.isna(row.p_value) else f"{row.p_value:.2g}"
        flag = f"  {build_flag}" if "fct_sample_ratio_checks" in touched else ""
        lines.append(f"  {row.experiment_id} v{row.experiment_version}: {row.units}; p = {p_value}  {verdict}{flag}")
    alarmed = {(row.experiment_id, row.experiment_version) for row in volume.itertuples()}
    alarmed |= {(row.experiment_id, row.experiment_version) for row in segments.itertuples()}
    if alarmed:
        lines += ["", "Data-quality alarms (volume by day x platform x variant, sample ratio per platform and day)"]
        lines += quality_alarms(volume, segments, primary)
    lines += ["", "Metric results (relative lift, 95% interval, adjusted p, [readout status: reasons])"]
    for row in results.itertuples():
        key = (row.experiment_id, row.experiment_version)
        flags = []
        status = readout_status(row)
        if row.is_significant is True:
            flags.append("significant")
        if isinstance(row.guardrail_status, str):
            flags.append(f"guardrail {row.guardrail_status}")
        if key in mismatched:
            flags.append("SRM: do not trust")
        if key in alarmed:
            flags.append("data-quality alarm: do not finalize")
        if isinstance(row.status_reason, str):
            flags.append(row.status_reason)
        if "fct_metric_results" in touched:
            flags.append(build_flag)
        p_value = "n/a" if pd.isna(row.adjusted_p_value) else f"{row.adjusted_p_value:.3g}"
        lines.append(
            f"  {row.experiment_id} v{row.experiment_version} {row.variant_id} {row.metric_id} [{row.estimator}]: "
            f"{_percent(row.relative_lift)} ({_percent(row.relative_lift_ci_lower)}, {_percent(row.relative_lift_ci_upper)}), "
            f"p = {p_value}" + (f"  {'; '.join(flags)}" if flags else "") + (f"  {status}" if status else "")
        )
    lines += _status_sentences(results)
    return "\n".join(lines)


def _status_sentences(results: pd.DataFrame) -> list[str]:
    """Why each experiment version's readout is what it is, in plain words: one sentence per experiment
    version, that of its result with the most reasons (the window counts differ per metric and variant)."""
    texts = results.dropna(subset=["status_reason_text"])
    if texts.empty:
        return []
    lines = ["", "Readout status (per experiment version, the result held back by the most reasons)"]
    for (experiment_id, version), rows in texts.groupby(["experiment_id", "experiment_version"], sort=True):
        codes = rows["status_reasons"].fillna("")
        worst = rows.loc[(codes.str.count(",") + (codes != "")).idxmax()]
        which = f" ({worst.variant_id} {worst.metric_id})" if isinstance(worst.status_reasons, str) else ""
        lines.append(f"  {experiment_id} v{version}{which}: {worst.status_reason_text}")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", help="DuckDB file (default: $READOUT_DUCKDB_PATH or warehouse/readout.duckdb)")
    parser.add_argument("--population", choices=["exposed", "assigned"], default="exposed")
    parser.add_argument("--all-metrics", action="store_true", help="secondary metrics too")


def run(args: argparse.Namespace) -> int:
    print(render(warehouse_path(args.warehouse), args.population, args.all_metrics))
    return 0
