"""`readout report`: the readout in the terminal, read from the warehouse's published layer (schema published:
what the last build whose every audit passed published; a warehouse built before publishing: the marts).

It says first when the last dbt build failed or never finished (from the build log the project's hooks
write, ``macros/build_log.sql``) and flags the readouts that build touched; a warehouse locked by a
running build is a one-line error.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from readout.decision import (
    decision_estimator,
    detectable_note,
    guardrail_verdict,
    planning_note,
    simultaneous_interval,
    srm_level,
    version_verdict,
)
from readout.paths import warehouse_path
from readout.warehouse import BUILD_LOG_TABLE, has_table, quoted, schema_of

#: the marts this report reads
READOUT_MARTS = ("fct_sample_ratio_checks", "fct_metric_results")
POWER_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "variant_id",
    "metric_id",
    "estimator",
    "power",
    "minimum_detectable_effect",
    "planned_minimum_effect",
    "n_units_required",
    "n_units_entered",
    "days_to_required_units",
)
#: commands whose success means the marts were (re)built (retry: a failed build's failed nodes, re-run)
BUILD_COMMANDS = ("build", "run", "retry")
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")

#: the columns this report reads from each mart; a column a warehouse built before it existed reads as null
SRM_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "population",
    "variant_id",
    "observed_units",
    "expected_share",
    "p_value",
    "is_sample_ratio_mismatch",
    "status_reason",
)
RESULT_COLUMNS = (
    "experiment_id",
    "experiment_version",
    "variant_id",
    "metric_id",
    "metric_role",
    "estimator",
    "direction",
    "mean_control",
    "mean_variant",
    "relative_lift",
    "relative_lift_ci_lower",
    "relative_lift_ci_upper",
    "p_value",
    "adjusted_p_value",
    "correction_method",
    "correction_family_size",
    "alpha",
    "is_significant",
    "guardrail_status",
    "status_reason",
    "n_units_control",
    "n_units_variant",
    "readout_status",
    "status_reasons",
    "status_reason_text",
)
#: per metric of an experiment version: its type (a proportion's baseline prints as a rate) and guardrail margin
METRIC_SQL = """
select experiment_id, experiment_version, metric_id, any_value(metric_type) as metric_type,
       max(non_inferiority_margin) as non_inferiority_margin
from {schema}.fct_variant_metric_stats
group by all
"""
#: the order roles are shown in (issue 13)
ROLE_ORDER = ("primary", "guardrail", "secondary")
#: the sample-ratio p-value below which the report warns (the mismatch threshold is var('srm_threshold'))
SRM_WARNING_THRESHOLD = 0.01
#: dbt_project.yml of the project this package belongs to (the thresholds the marts were built with)
PROJECT_FILE = Path(__file__).resolve().parents[2] / "dbt_project.yml"

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
        previous = (
            f"the build of {_when(self.last_good.finished_at)}"
            if self.last_good is not None
            else "an earlier build (no successful build is logged)"
        )
        if source is None and self.published:
            return text + (
                f"; it published nothing: the readout shown is the one {previous} published, without the "
                "data that build would have added. Fix the build and run `make build` again."
            )
        if source is None:
            text += f"; the marts shown are from {previous}"
        else:
            name = (
                ("it" if source.status is None else "that failed build")
                if source is problem
                else (
                    f"the {'build that never finished' if source.status is None else 'failed build'} started "
                    f"{_when(source.started_at)}"
                )
            )
            touched = sorted(self.marts_touched())
            if source.status is None:
                text += f"; staging may be half-rebuilt and the marts shown partly from {name}, partly from {previous}"
            elif len(touched) == len(READOUT_MARTS):
                text += f"; the marts shown are from {name}"
            else:
                text += f"; {', '.join(touched)} from {name}, the other marts shown from {previous}"
        return text + ". Do not finalize these readouts until a build succeeds."


def _columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def readout_schema(con: duckdb.DuckDBPyConnection) -> str:
    """Where the readout is read from: the published layer (schema published, written only by a build whose
    every audit passed) when the warehouse has one, else the marts (a warehouse built before publishing)."""
    return "published" if _columns_of(con, "published", "fct_metric_results") else "marts"


def _select(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: tuple[str, ...],
    where: str = "true",
    params: list | None = None,
) -> pd.DataFrame:
    """The columns of a mart; one the warehouse's mart does not have (built before it existed) reads as null."""
    present = _columns_of(con, schema, table)
    select = ", ".join(name if name in present else f"null as {name}" for name in columns)
    return con.execute(f"select {select} from {quoted(schema)}.{quoted(table)} where {where}", params or []).df()


def project_vars(path: Path = PROJECT_FILE) -> dict:
    """The dbt project's vars (the sample-ratio threshold the marts were built with); empty when not found."""
    try:
        return (yaml.safe_load(path.read_text()) or {}).get("vars", {}) or {}
    except (OSError, yaml.YAMLError):
        return {}


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
            invocations.append(
                Invocation(
                    **common,
                    finished_at=end.finished_at,
                    status=_text(end.status),
                    error_count=_count(end.error_count),
                    test_failure_count=_count(end.test_failure_count),
                    failed_nodes=_text(end.failed_nodes),
                    built_models=tuple(name.strip() for name in _text(end.built_models).split(",") if name.strip()),
                )
            )
        else:
            invocations.append(Invocation(**common))
    invocations.sort(key=lambda item: item.started_at)
    good = [item for item in invocations if item.is_build and item.status == "success"]
    last_good = good[-1] if good else None
    later = [item for item in invocations if last_good is None or item.started_at > last_good.started_at]
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
    return (
        f"a build is running: the warehouse {warehouse} is locked{who}; run `readout report` again when it has finished"
    )


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
        missing = (
            f"{row.missing_share:.0%} of {row.variant_id}'s expected {row.source_system} events on {day} are "
            f"missing ({row.event_names}: {row.observed_events:,.0f} of ~{row.expected_events:,.0f})"
        )
        reads = primary[
            (primary.experiment_id == row.experiment_id) & (primary.experiment_version == row.experiment_version)
        ]
        read = next(iter(reads.itertuples()), None)
        subject = (
            f"{read.variant_id} {read.metric_id} {_direction(read.relative_lift)}, but " if read is not None else ""
        )
        lines.append(
            f"  {row.experiment_id} v{row.experiment_version}: {subject}{missing}, so do not finalize the readout."
        )
    lines += [f"  {row.alarm}" for row in segments.itertuples()]  # the alarm names its experiment version
    return lines


def _load(con: duckdb.DuckDBPyConnection, population: str) -> dict[str, pd.DataFrame | str]:
    """Every mart row the report prints (the readout's schema: published, else marts)."""
    schema = readout_schema(con)
    data: dict = {"schema": schema}
    data["srm"] = _select(con, schema, "fct_sample_ratio_checks", SRM_COLUMNS)
    data["results"] = _select(con, schema, "fct_metric_results", RESULT_COLUMNS, "population = ?", [population])
    # the quality marts came with issue 10: an older warehouse has none, and its report still reads
    data["volume"] = (
        con.execute(VOLUME_SQL.format(schema=schema)).df()
        if _columns_of(con, schema, "fct_volume_checks")
        else pd.DataFrame(columns=["experiment_id", "experiment_version"])
    )
    data["segments"] = (
        con.execute(SEGMENT_SQL.format(schema=schema)).df()
        if _columns_of(con, schema, "fct_sample_ratio_checks_by_segment")
        else pd.DataFrame(columns=["experiment_id", "experiment_version", "alarm"])
    )
    data["primary"] = con.execute(PRIMARY_SQL.format(schema=schema), [population]).df()
    stats_columns = _columns_of(con, schema, "fct_variant_metric_stats")
    data["metrics"] = (
        con.execute(METRIC_SQL.format(schema=schema)).df()
        if {"metric_type", "non_inferiority_margin"} <= stats_columns
        else pd.DataFrame(
            columns=["experiment_id", "experiment_version", "metric_id", "metric_type", "non_inferiority_margin"]
        )
    )
    # the experiment versions' names and lifecycle, and their settings (issue 14), where the warehouse has them
    versions = schema_of(con, "int_experiment_versions")
    data["versions"] = (
        _select(
            con,
            versions,
            "int_experiment_versions",
            ("experiment_id", "experiment_version", "experiment_name", "experiment_status"),
        )
        if versions
        else pd.DataFrame(columns=["experiment_id", "experiment_version", "experiment_name", "experiment_status"])
    )
    # power (issue 16): the units and days the planned effect needs, for the "keep running" verdict
    data["power"] = (
        _select(
            con, schema, "fct_metric_power", POWER_COLUMNS, "population = ? and metric_role = 'primary'", [population]
        )
        if _columns_of(con, schema, "fct_metric_power")
        else pd.DataFrame(columns=list(POWER_COLUMNS))
    )
    settings = schema_of(con, "int_experiment_settings")
    data["settings"] = (
        _select(con, settings, "int_experiment_settings", ("experiment_id", "experiment_version", "decision_estimator"))
        if settings and has_table(con, settings, "int_experiment_settings")
        else pd.DataFrame(columns=["experiment_id", "experiment_version", "decision_estimator"])
    )
    return data


def render(
    warehouse: Path,
    population: str = "exposed",
    all_metrics: bool = False,
    experiment: str | None = None,
    version: int | None = None,
) -> str:
    """The readout in the terminal: the build's state, the legend, the sample-ratio checks, the data-quality
    alarms, then one block per experiment version (its verdict, then its metrics by role: primary, guardrail,
    secondary), then why each readout has its status. ``experiment`` (and ``version``) show one experiment;
    ``all_metrics`` is kept for the command line's sake: secondary metrics are always shown."""
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"no warehouse at {Path(warehouse).resolve()}; run `make demo` (or dbt build) first")
    state: BuildState | None = None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            state = build_state(_build_log(con), published=readout_schema(con) == "published")
            data = _load(con, population)
    except duckdb.Error as exc:
        locked = _lock_error(warehouse, str(exc))
        if locked:
            raise ValueError(locked) from None
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = state.problem if state is not None else None
        if problem is None:
            raise ValueError(
                f"cannot read the readout marts in {warehouse} ({first_line}); run `make build` first"
            ) from None
        outcome = "never finished" if problem.status is None else f"failed ({problem.failures()})"
        raise ValueError(
            f"cannot read the readout marts in {warehouse} ({first_line}): {problem.describe()} "
            f"{outcome}; fix it and run `make build` again"
        ) from None
    _only(data, experiment, version, warehouse)
    schema, srm, results = data["schema"], data["srm"], data["results"]
    variables = project_vars()
    threshold = float(variables.get("srm_threshold", 0.001))
    warning_threshold = float(variables.get("srm_warning_threshold", SRM_WARNING_THRESHOLD))
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
    lines += _legend(results, threshold, warning_threshold) + [""]

    checks = srm[srm.population == population]
    levels: dict[tuple, str] = {}
    lines.append(
        f"Sample ratio checks (observed units, planned split; ok, warning below p = {warning_threshold:g}, "
        f"MISMATCH below p = {threshold:g})"
    )
    for (experiment_id, experiment_version), rows in checks.groupby(["experiment_id", "experiment_version"], sort=True):
        rows = rows.sort_values("variant_id")
        p_value = rows.p_value.max()
        mismatch = rows.is_sample_ratio_mismatch.fillna(False).astype(bool).any()
        level = (
            "mismatch"
            if mismatch
            else srm_level(None if pd.isna(p_value) else float(p_value), threshold, warning_threshold)
        )
        levels[(experiment_id, int(experiment_version))] = level
        note = rows.status_reason.dropna()
        verdict = {
            "ok": "ok",
            "warning": "warning: borderline, check the assignment",
            "mismatch": "MISMATCH",
            "not_tested": "not tested",
        }[level]
        if level == "not_tested" and len(note):
            verdict = f"n/a: {note.iloc[0]}"
        units = ", ".join(f"{row.variant_id} {_count(row.observed_units)}" for row in rows.itertuples())
        planned = " / ".join(f"{share:.0%}" for share in rows.expected_share.dropna())
        split = f" (planned {planned})" if planned else ""
        flag = f"  {build_flag}" if "fct_sample_ratio_checks" in touched else ""
        shown = "n/a" if pd.isna(p_value) else f"{p_value:.2g}"
        lines.append(f"  {experiment_id} v{experiment_version}: {units}{split}; p = {shown}  {verdict}{flag}")

    if checks.empty:
        lines.append("  (no experiment in this readout)")
    volume, segments = data["volume"], data["segments"]
    alarmed = {(row.experiment_id, row.experiment_version) for row in volume.itertuples()}
    alarmed |= {(row.experiment_id, row.experiment_version) for row in segments.itertuples()}
    if alarmed:
        lines += ["", "Data-quality alarms (volume by day x platform x variant, sample ratio per platform and day)"]
        lines += quality_alarms(volume, segments, data["primary"])

    results = _decide(results, data["metrics"], data["settings"])
    versions = data["versions"]
    keys = sorted({(row.experiment_id, int(row.experiment_version)) for row in results.itertuples()} | set(levels))
    result_flag = build_flag if "fct_metric_results" in touched else ""
    for key in keys:
        rows = results[(results.experiment_id == key[0]) & (results.experiment_version == key[1])]
        meta = versions[(versions.experiment_id == key[0]) & (versions.experiment_version == key[1])]
        lines += [""] + _version_block(
            key, rows, meta, levels.get(key, "not_tested"), key in alarmed, result_flag, data["power"]
        )
    lines += _status_sentences(results)
    return "\n".join(lines)


def _only(data: dict, experiment: str | None, version: int | None, warehouse: Path) -> None:
    """Keep one experiment (and version) in every frame; an unknown one is a one-line error naming the known."""
    if experiment is None and version is None:
        return
    known = sorted(
        set(data["results"].experiment_id) | set(data["srm"].experiment_id) | set(data["versions"].experiment_id)
    )
    if experiment is not None and experiment not in known:
        raise ValueError(
            f"no experiment {experiment!r} in the readout of {warehouse}; known: {', '.join(known) or 'none'}"
        )
    versions = sorted(
        {
            int(v)
            for frame in (data["results"], data["srm"])
            for e, v in zip(frame.experiment_id, frame.experiment_version)
            if experiment is None or e == experiment
        }
    )
    for name, frame in data.items():
        if isinstance(frame, pd.DataFrame) and "experiment_id" in frame:
            keep = frame.experiment_id == experiment if experiment is not None else pd.Series(True, frame.index)
            if version is not None:
                keep &= frame.experiment_version == version
            data[name] = frame[keep].reset_index(drop=True)
    if version is not None and data["results"].empty and data["srm"].empty:
        raise ValueError(
            f"no version {version} of {experiment or 'any experiment'} in the readout of {warehouse}; "
            f"known: {', '.join(f'v{known}' for known in versions) or 'none'}"
        )


def _legend(results: pd.DataFrame, threshold: float, warning_threshold: float) -> list[str]:
    """What the labels mean: which estimator to decide on, which p-value is which, what the intervals are."""
    methods = sorted(set(results.correction_method.dropna()))
    correction = "/".join(methods) if methods else "adjusted"
    lines = [
        "How to read it (README: Reading the report)",
        "  verdict: ship, do not ship, keep running or do not trust the data, per experiment version, with why.",
        "  [decide] marks the estimator to decide on (CUPED where the metric has a pre-exposure covariate, unless "
        "the experiment's settings say otherwise); the line below it, 'sensitivity', is the other estimator.",
        f"  p raw: the metric's own p-value; p {correction}: adjusted for the m hypotheses of its family (every "
        "metric x treatment variant of the version and estimator); 'significant' is p adjusted < alpha.",
        "  95%: the relative lift's own interval; 'Bonferroni m=N': the same interval at level 1 - alpha/N over "
        "the N hypotheses of the family, the interval that matches the correction (Holm and BH, step-wise, may call "
        "significant a result whose Bonferroni interval touches 0). The p-values test the absolute difference "
        "(Welch t), the intervals are of the relative lift (delta method): on small or skewed samples they can "
        "disagree; 'significant' follows the adjusted p-value.",
        "  guardrails: pass (harmful end within the margin), harmed (whole interval on the harmful side of 0), fail "
        "(whole interval beyond the margin), inconclusive.",
        f"  sample ratio: ok, warning (p < {warning_threshold:g}), MISMATCH (p < {threshold:g}: do not trust the "
        "data).",
    ]
    return [lines[0]] + [
        wrapped
        for line in lines[1:]
        for wrapped in textwrap.wrap(line.strip(), 118, initial_indent="  ", subsequent_indent="    ")
    ]


def _decide(results: pd.DataFrame, metrics: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """The results with the decision estimator, the guardrail verdict and margin, the metric type and the
    Bonferroni interval, ordered by experiment version, role (primary, guardrail, secondary), metric, variant,
    decision estimator first."""
    if results.empty:
        return results.assign(
            decision_estimator=[],
            is_decision=[],
            margin=[],
            metric_type=[],
            verdict=[],
            adjusted_lower=[],
            adjusted_upper=[],
            role_order=[],
        )
    keys = ["experiment_id", "experiment_version"]
    frame = results.merge(metrics, on=keys + ["metric_id"], how="left")
    frame = frame.merge(settings.drop_duplicates(keys), on=keys, how="left")
    with_cuped = frame[frame.estimator == "cuped"]
    cuped = set(zip(with_cuped.experiment_id, with_cuped.experiment_version, with_cuped.metric_id))
    frame["decision_estimator"] = [
        decision_estimator(
            (row.experiment_id, row.experiment_version, row.metric_id) in cuped,
            row.decision_estimator if isinstance(row.decision_estimator, str) else None,
        )
        for row in frame.itertuples()
    ]
    frame["is_decision"] = frame.estimator == frame.decision_estimator
    frame["margin"] = frame.non_inferiority_margin
    frame["verdict"] = [_guardrail(row) for row in frame.itertuples()]
    bounds = [
        simultaneous_interval(
            _float(row.relative_lift),
            _float(row.relative_lift_ci_lower),
            _float(row.relative_lift_ci_upper),
            _float(row.alpha),
            _float(row.correction_family_size),
        )
        if row.correction_method in ("holm", "bh")
        else (float("nan"), float("nan"))
        for row in frame.itertuples()
    ]
    frame["adjusted_lower"] = [bound[0] for bound in bounds]
    frame["adjusted_upper"] = [bound[1] for bound in bounds]
    frame["role_order"] = frame.metric_role.map({role: n for n, role in enumerate(ROLE_ORDER)}).fillna(len(ROLE_ORDER))
    return frame.sort_values(
        ["experiment_id", "experiment_version", "role_order", "metric_id", "variant_id", "is_decision", "estimator"],
        ascending=[True, True, True, True, True, False, True],
    ).reset_index(drop=True)


def _flag(value) -> bool:
    """A nullable boolean of a mart: True, False, or null (pandas' NA, which has no truth value) as False."""
    return False if value is None or pd.isna(value) else bool(value)


def _float(value) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def _guardrail(row) -> str | None:
    """A guardrail's verdict (readout.decision); the mart's own pass/fail/inconclusive where its direction is
    unknown (a warehouse built before the marts carried it)."""
    if row.metric_role != "guardrail":
        return None
    if row.direction not in ("increase", "decrease"):
        return row.guardrail_status if isinstance(row.guardrail_status, str) else None
    return guardrail_verdict(
        _float(row.relative_lift_ci_lower),
        _float(row.relative_lift_ci_upper),
        None if pd.isna(row.margin) else float(row.margin),
        row.direction,
    )


def _version_status(rows: pd.DataFrame) -> tuple[str, list[str]]:
    """A version's status (frozen, else provisional if any row is, else confirmed) and its reason codes."""
    statuses = set(rows.readout_status.dropna()) if len(rows) else set()
    status = next((name for name in ("frozen", "provisional", "confirmed") if name in statuses), "")
    codes: list[str] = []
    for text in rows.status_reasons.dropna() if len(rows) else []:
        codes += [code for code in str(text).split(",") if code and code not in codes]
    return status, codes


def _verdict_input(row) -> dict:
    entry = {
        "metric_id": row.metric_id,
        "variant_id": row.variant_id,
        "lift": _float(row.relative_lift),
        "lower": _float(row.relative_lift_ci_lower),
        "upper": _float(row.relative_lift_ci_upper),
        "p_value_adjusted": _float(row.adjusted_p_value),
        "is_significant": _flag(row.is_significant),
        "direction": row.direction if isinstance(row.direction, str) else "increase",
    }
    if row.metric_role == "guardrail":
        entry["guardrail_verdict"] = row.verdict
    return entry


VERDICT_WORDS = {
    "ship": "SHIP",
    "do_not_ship": "DO NOT SHIP",
    "keep_running": "KEEP RUNNING",
    "do_not_trust_data": "DO NOT TRUST THE DATA",
    "draft": "DRAFT",
}


def version_planning(power: pd.DataFrame | None, decision: pd.DataFrame) -> dict[str, str]:
    """readout.decision's planning and detectable notes for an experiment version (version_verdict's keyword
    arguments), from its fct_metric_power rows of the primary metrics' decision lines (``decision``: the
    version's rows with is_decision)."""
    if power is None or power.empty or decision.empty:
        return {}
    keys = {
        (row.experiment_id, int(row.experiment_version), row.variant_id, row.metric_id, row.estimator)
        for row in decision.itertuples()
        if row.metric_role == "primary"
    }
    rows = [
        row
        for row in power.to_dict("records")
        if (row["experiment_id"], int(row["experiment_version"]), row["variant_id"], row["metric_id"], row["estimator"])
        in keys
    ]
    return {"planning": planning_note(rows), "detectable": detectable_note(rows)}


def _version_block(
    key: tuple,
    rows: pd.DataFrame,
    meta: pd.DataFrame,
    srm: str,
    alarmed: bool,
    build_flag: str,
    power: pd.DataFrame | None = None,
) -> list[str]:
    """One experiment version: its verdict and why, then its metrics by role, each decision line followed by its
    sensitivity check."""
    experiment_id, experiment_version = key
    name = meta.experiment_name.iloc[0] if len(meta) and isinstance(meta.experiment_name.iloc[0], str) else ""
    lifecycle = meta.experiment_status.iloc[0] if len(meta) and isinstance(meta.experiment_status.iloc[0], str) else ""
    status, codes = _version_status(rows)
    decision = rows[rows.is_decision] if len(rows) else rows
    verdict = version_verdict(
        status,
        codes,
        srm,
        [_verdict_input(row) for row in decision.itertuples() if row.metric_role == "primary"],
        [_verdict_input(row) for row in decision.itertuples() if row.metric_role == "guardrail"],
        is_draft=lifecycle == "draft",
        **version_planning(power, decision),
    )
    title = f"{experiment_id} v{experiment_version}" + (f" ({name})" if name and name != experiment_id else "")
    lines = [f"{title}: {VERDICT_WORDS[verdict.code]}", f"  verdict: {verdict.reason}"]
    if lifecycle == "draft":
        lines.append("  note: this experiment is a draft (not started as configured): read nothing into its numbers.")
    for role in ROLE_ORDER + ("other",):
        of_role = rows[rows.metric_role == role] if role != "other" else rows[~rows.metric_role.isin(ROLE_ORDER)]
        if of_role.empty:
            continue
        lines.append(f"  {role}")
        for row in of_role.itertuples():
            lines.append(_metric_line(row, srm == "mismatch", alarmed, build_flag))
    return lines


def _mean(value, metric_type) -> str:
    if pd.isna(value):
        return "n/a"
    return f"{value:.2%}" if metric_type == "proportion" else f"{value:,.4g}"


def _metric_line(row, mismatch: bool, alarmed: bool, build_flag: str) -> str:
    """A metric x variant x estimator: lift, the 95% and the adjusted interval, both p-values, the baseline and
    the units; the decision estimator's line carries the verdict flags, the other is its sensitivity check."""
    correction = row.correction_method if isinstance(row.correction_method, str) else "adjusted"
    interval = f"95% {_percent(row.relative_lift_ci_lower)}, {_percent(row.relative_lift_ci_upper)}"
    if not pd.isna(row.adjusted_lower):
        interval += (
            f"; Bonferroni m={_count(row.correction_family_size)} {_percent(row.adjusted_lower)}, "
            f"{_percent(row.adjusted_upper)}"
        )
    p_raw = "n/a" if pd.isna(row.p_value) else f"{row.p_value:.3g}"
    p_adjusted = "n/a" if pd.isna(row.adjusted_p_value) else f"{row.adjusted_p_value:.3g}"
    p_values = (
        (f"p = {p_adjusted}" if correction == "none" else f"p raw {p_raw}, p {correction} {p_adjusted}")
        if not pd.isna(row.p_value) or correction != "adjusted"
        else f"p {correction} {p_adjusted}"
    )
    flags = []
    if _flag(row.is_significant):
        flags.append("significant")
    if isinstance(row.verdict, str):
        margin = (
            "" if pd.isna(row.margin) else (f" (margin {'-' if row.direction != 'decrease' else '+'}{row.margin:.1%})")
        )
        flags.append(f"guardrail {row.verdict.upper() if row.verdict in ('harmed', 'fail') else row.verdict}{margin}")
    if row.is_decision:
        if mismatch:
            flags.append("SRM: do not trust")
        if alarmed:
            flags.append("data-quality alarm: do not finalize")
    if isinstance(row.status_reason, str):
        flags.append(row.status_reason)
    if build_flag:
        flags.append(build_flag)
    baseline = ""
    if not pd.isna(row.mean_control):
        baseline = f"; control {_mean(row.mean_control, row.metric_type)} vs {_mean(row.mean_variant, row.metric_type)}"
    if not pd.isna(row.n_units_control):
        baseline += f", n {_count(row.n_units_control):,} vs {_count(row.n_units_variant):,}"
    status = readout_status(row)
    if row.is_decision:
        head = f"    {row.variant_id} {row.metric_id} [{row.estimator}, decide]"
    else:
        head = f"      sensitivity [{row.estimator}]"
    return (
        f"{head}: {_percent(row.relative_lift)} ({interval}), {p_values}{baseline}"
        + (f"  {'; '.join(flags)}" if flags else "")
        + (f"  {status}" if status else "")
    )


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
    parser.add_argument(
        "--target",
        default=None,
        help="the dbt target (profiles.yml) whose build to read: spark reads the Spark build through a DuckDB copy "
        "of its tables (readout.spark.duckdb_copy: for small builds); default: the DuckDB warehouse",
    )
    parser.add_argument("--population", choices=["exposed", "assigned"], default="exposed")
    parser.add_argument(
        "--all-metrics", action="store_true", help="kept for old scripts: secondary metrics are always shown now"
    )
    parser.add_argument("--experiment", metavar="ID", help="show one experiment (an unknown ID lists the known ones)")
    parser.add_argument("--version", type=int, metavar="N", help="with --experiment: show one version of it")
    parser.add_argument(
        "--html",
        metavar="DIR",
        help="write the readout as a static HTML site into DIR instead "
        "(index.html and one page per experiment version; opens from disk, no network)",
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "target", None):
        from readout.spark import warehouse_for

        args.warehouse = str(warehouse_for(args.target, args.warehouse))
    if getattr(args, "html", None):
        from readout.html import render_html  # matplotlib and jinja2 load only for the HTML report

        pages = render_html(
            warehouse_path(args.warehouse), Path(args.html), args.population, getattr(args, "experiment", None)
        )
        print(f"HTML readout: {pages[0].resolve()} ({len(pages) - 1} experiment version pages)")
        return 0
    print(render(warehouse_path(args.warehouse), args.population, args.all_metrics, args.experiment, args.version))
    return 0
