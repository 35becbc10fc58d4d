"""What the HTML report shows, read from the warehouse: the published readout (as `readout report` reads it), the
curated units for the exposure funnel, the quality marts and contract alarms, the history and the lineage, and the
deeper readouts of issue 16 (conversion funnels, segments, power, the Bayesian view).

Nothing here computes a statistic: every number is a mart's. The verdicts and levels come from
``readout.decision``. A table a warehouse does not have (built before it existed) reads as empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from readout.decision import srm_level, version_verdict
from readout.report import (
    SRM_WARNING_THRESHOLD,
    _build_log,
    _columns_of,
    _decide,
    _lock_error,
    _verdict_input,
    _version_status,
    build_state,
    project_vars,
    readout_schema,
    version_planning,
)
from readout.report import (
    _load as report_data,
)
from readout.warehouse import has_table, quoted, schema_of

#: the readout status reason codes, in the order fct_metric_results lists them
REASON_ORDER = (
    "experiment_running",
    "windows_in_progress",
    "lookback_open",
    "sample_ratio_mismatch",
    "segment_sample_ratio_mismatch",
    "volume_shortfall",
    "contract_error",
    "frozen",
)


@dataclass
class Version:
    """One experiment version and everything its page shows (DataFrames are the marts' rows for it)."""

    experiment_id: str
    experiment_version: int
    name: str
    lifecycle: str  #: draft, running, ramping, paused, concluded ('' when unknown)
    started_at: object
    ended_at: object
    is_imported: bool
    #: fct_metric_results of the population, with report._decide's columns (decision_estimator, is_decision, margin,
    #: verdict: the guardrail verdict, adjusted_lower/upper: the Bonferroni interval of the row's family, role_order)
    results: pd.DataFrame
    srm: pd.DataFrame  #: fct_sample_ratio_checks, both populations, with srm_level
    segments: pd.DataFrame  #: segment checks at warning or mismatch
    volume: pd.DataFrame  #: volume shortfalls
    contract_alarms: pd.DataFrame
    funnel: pd.DataFrame  #: per variant: assigned, exposed, eligible, analysed, in_progress, truncated
    history: pd.DataFrame
    changes: pd.DataFrame
    definitions: pd.DataFrame
    #: the deeper readouts (issue 16): fct_funnel_steps, fct_funnel_results, fct_metric_results_by_segment,
    #: fct_metric_power and fct_metric_results_bayesian rows of this version (the last three of the population)
    funnel_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    funnel_results: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_results: pd.DataFrame = field(default_factory=pd.DataFrame)
    power: pd.DataFrame = field(default_factory=pd.DataFrame)
    bayesian: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: section (funnels, segments, power, bayesian) -> why it shows nothing, in words ("not available because ...")
    unavailable: dict[str, str] = field(default_factory=dict)
    status: str = ""
    status_reasons: list[str] = field(default_factory=list)
    status_text: str = ""
    srm_verdict: str = "not_tested"
    srm_p_value: float | None = None
    verdict_code: str = ""
    verdict_reason: str = ""
    code_version: str = ""
    contract_versions: str = ""
    watermark_at: object = None
    refreshed_at: object = None  #: the latest build in the history that holds this version

    @property
    def key(self) -> str:
        return f"{self.experiment_id}-v{self.experiment_version}"

    @property
    def page(self) -> str:
        return f"{self.key}.html"

    @property
    def primary(self) -> pd.DataFrame:
        """The decision rows of the primary metrics (the estimator decided on)."""
        rows = self.results
        return rows[(rows.metric_role == "primary") & rows.is_decision] if len(rows) else rows

    @property
    def primary_aids(self) -> pd.DataFrame:
        """The primary decision rows with their chance to beat control and expected loss
        (fct_metric_results_bayesian) and their minimum detectable effect (fct_metric_power); missing: null."""
        rows = self.primary.reset_index(drop=True)
        keys = ["metric_id", "variant_id", "estimator"]
        for frame, columns in (
            (self.bayesian, ["chance_to_beat_control", "expected_loss"]),
            (self.power, ["minimum_detectable_effect"]),
        ):
            if len(rows) and len(frame):
                rows = rows.merge(frame[keys + columns].drop_duplicates(keys), on=keys, how="left")
            for column in columns:
                if column not in rows:
                    rows[column] = pd.Series([None] * len(rows), dtype=object)
        return rows


@dataclass
class Site:
    warehouse: Path
    schema: str
    population: str
    versions: list[Version]
    last_build: object  #: when the last successful build finished (None: no build log, or none succeeded)
    build_warning: str | None
    srm_threshold: float
    srm_warning_threshold: float


def _table(
    con: duckdb.DuckDBPyConnection, schema: str | None, table: str, where: str = "true", params: list | None = None
) -> pd.DataFrame:
    if schema is None or not has_table(con, schema, table):
        return pd.DataFrame()
    return con.execute(f"select * from {quoted(schema)}.{quoted(table)} where {where}", params or []).df()


def _of(frame: pd.DataFrame, experiment_id: str, version: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame.experiment_id == experiment_id) & (frame.experiment_version == version)].reset_index(drop=True)


def _mart(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, where: str = "true", params: list | None = None
) -> pd.DataFrame | None:
    """A mart's rows, or None when the warehouse has no such mart (built before it existed)."""
    if not has_table(con, schema, table):
        return None
    return con.execute(f"select * from {quoted(schema)}.{quoted(table)} where {where}", params or []).df()


#: the deeper readouts' sections and the mart each reads first
DEEPER_MARTS = {
    "funnels": "fct_funnel_steps",
    "segments": "fct_metric_results_by_segment",
    "power": "fct_metric_power",
    "bayesian": "fct_metric_results_bayesian",
}


def _unavailable(item: Version, section: str, rows: pd.DataFrame | None, population: str) -> str | None:
    """Why a deeper readout's section of a version shows nothing, in words; None when it has rows."""
    if rows is None:
        return (
            f"not available because this warehouse was built before the mart {DEEPER_MARTS[section]} existed: "
            "rebuild it (`make build`)"
        )
    if len(rows):
        return None
    if item.lifecycle == "draft":
        return "not available because this experiment is a draft: it never started, so it has no units"
    if section == "funnels" and item.is_imported:
        return "not available because an imported export has no events, so no funnel step can be timed"
    if section == "segments" and population != "exposed":
        return "not available because segments are cut for the exposed population only (open the exposed report)"
    if section == "segments" and item.is_imported:
        return (
            "not available because the import's mapping declares no unit attribute to cut by (the mapping's "
            "`segments:` field)"
        )
    if item.results.empty:
        return "not available because this version has no metric result yet: no unit's window is complete"
    return "not available because this version has no unit in a segment or funnel window that is complete yet"


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


FUNNEL_SQL = """
select experiment_id, experiment_version, variant_id,
       count(*) filter (where assigned_at is not null) as assigned,
       count(*) filter (where first_exposed_at is not null) as exposed,
       count(*) filter (where is_eligible) as eligible,
       count(*) filter (where is_bot_or_internal) as bot_or_internal,
       count(*) filter (where is_consent_denied) as consent_denied,
       count(*) filter (where is_in_several_variants) as in_several_variants,
       count(*) filter (where is_exposed_before_assigned) as exposed_before_assigned,
       count(*) filter (where is_exposed_outside_window or is_before_experiment_start
                        or is_assigned_after_experiment_end) as outside_window,
       count(*) filter (where is_assigned_never_exposed) as never_exposed,
       count(*) filter (where is_exposed_without_assignment or is_exposure_variant_mismatch) as other_exclusions
from {relation}
group by all
"""


def load(warehouse: Path, population: str = "exposed", experiment: str | None = None) -> Site:
    """Everything the site shows. A missing or unbuilt warehouse is a ValueError or FileNotFoundError in one
    line (the CLI prints it, exit 2)."""
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; run `make demo` (or `make build`) first")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            site = _load(con, warehouse, population, experiment)
    except duckdb.Error as exc:
        locked = _lock_error(warehouse, str(exc))
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            locked or f"cannot read the readout in {warehouse} ({first_line}); run `make build` first"
        ) from None
    return site


def _load(con: duckdb.DuckDBPyConnection, warehouse: Path, population: str, experiment: str | None) -> Site:
    schema = readout_schema(con)
    if not _columns_of(con, schema, "fct_metric_results"):
        raise ValueError(
            f"the warehouse {warehouse} holds no readout (no {schema}.fct_metric_results): run `make build` first"
        )
    state = build_state(_build_log(con), published=schema == "published")
    variables = project_vars()
    threshold = float(variables.get("srm_threshold", 0.001))
    warning = float(variables.get("srm_warning_threshold", SRM_WARNING_THRESHOLD))
    shared = report_data(con, population)  # what the terminal report reads: metric types, margins, settings
    results = _table(con, schema, "fct_metric_results", "population = ?", [population])
    results = _decide(results, shared["metrics"], shared["settings"]) if len(results) else results
    srm = _table(con, schema, "fct_sample_ratio_checks")
    segments = _table(con, schema, "fct_sample_ratio_checks_by_segment", "srm_status in ('warning', 'mismatch')")
    volume = _table(con, schema, "fct_volume_checks", "is_volume_shortfall")
    stats = _table(con, schema, "fct_variant_metric_stats", "population = ?", [population])
    alarms = _table(con, schema_of(con, "readout_blocking_alarms"), "readout_blocking_alarms")
    units_schema = schema_of(con, "fct_experiment_units")
    units = (
        con.execute(FUNNEL_SQL.format(relation=f"{quoted(units_schema)}.fct_experiment_units")).df()
        if units_schema
        else pd.DataFrame()
    )
    history = _table(
        con, "history", "fct_readout_history", "record_type = 'metric_result' and population = ?", [population]
    )
    changes = _table(con, "history", "fct_readout_changes", "population = ? or population is null", [population])
    definitions = _table(con, "intermediate", "int_metric_definitions")
    catalog = _table(con, schema_of(con, "metric_catalog"), "metric_catalog")
    metadata = _table(con, "intermediate", "int_experiment_versions")
    # the deeper readouts (issue 16); None: the warehouse has no such mart
    deeper = {
        "funnel_steps": _mart(con, schema, "fct_funnel_steps"),
        "funnel_results": _mart(con, schema, "fct_funnel_results"),
        "segment_results": _mart(con, schema, "fct_metric_results_by_segment", "population = ?", [population]),
        "power": _mart(con, schema, "fct_metric_power", "population = ?", [population]),
        "bayesian": _mart(con, schema, "fct_metric_results_bayesian", "population = ?", [population]),
    }

    if not definitions.empty and not catalog.empty:
        extra = [column for column in catalog.columns if column not in definitions.columns or column == "metric_id"]
        definitions = definitions.merge(catalog[extra], on="metric_id", how="left")
    keys = set()
    for frame in (metadata, results, srm):
        if not frame.empty:
            keys |= set(zip(frame.experiment_id, frame.experiment_version.astype(int)))
    if experiment is not None:
        keys = {key for key in keys if key[0] == experiment}
        if not keys:
            raise ValueError(f"no experiment {experiment!r} in the readout of {warehouse}")
    versions = []
    for experiment_id, version in sorted(keys):
        meta = _of(metadata, experiment_id, version)
        first = meta.iloc[0] if len(meta) else None
        item = Version(
            experiment_id=experiment_id,
            experiment_version=version,
            name=str(first.experiment_name) if first is not None else experiment_id,
            lifecycle=str(first.experiment_status) if first is not None else "",
            started_at=first.started_at if first is not None else None,
            ended_at=first.ended_at if first is not None else None,
            is_imported=bool(first.is_imported) if first is not None and "is_imported" in meta else False,
            results=_of(results, experiment_id, version),
            srm=_of(srm, experiment_id, version),
            segments=_of(segments, experiment_id, version),
            volume=_of(volume, experiment_id, version),
            contract_alarms=_of(alarms, experiment_id, version),
            funnel=pd.DataFrame(),
            history=_of(history, experiment_id, version),
            changes=_of(changes, experiment_id, version),
            definitions=_of(definitions, experiment_id, version),
        )
        item.funnel = _funnel(_of(units, experiment_id, version), _of(stats, experiment_id, version), item.srm)
        for name, frame in deeper.items():
            setattr(item, name, pd.DataFrame() if frame is None else _of(frame, experiment_id, version))
        for section, name in (
            ("funnels", "funnel_steps"),
            ("segments", "segment_results"),
            ("power", "power"),
            ("bayesian", "bayesian"),
        ):
            frame = deeper[name]
            reason = _unavailable(item, section, None if frame is None else getattr(item, name), population)
            if reason:
                item.unavailable[section] = reason
        _settle(item, population, threshold, warning, _of(shared["power"], experiment_id, version))
        versions.append(item)
    return Site(
        warehouse=warehouse,
        schema=schema,
        population=population,
        versions=versions,
        last_build=state.last_good.finished_at if state is not None and state.last_good else None,
        build_warning=state.warning() if state is not None else None,
        srm_threshold=threshold,
        srm_warning_threshold=warning,
    )


def _funnel(units: pd.DataFrame, stats: pd.DataFrame, srm: pd.DataFrame) -> pd.DataFrame:
    """Per variant: assigned, exposed, eligible (fct_experiment_units), analysed and in-progress windows (the
    primary metric's fct_variant_metric_stats: units with a complete window, units whose window is open)."""
    variants = sorted((set(units.variant_id) if len(units) else set()) | (set(srm.variant_id) if len(srm) else set()))
    frame = pd.DataFrame({"variant_id": variants})
    if len(units):
        frame = frame.merge(units.drop(columns=["experiment_id", "experiment_version"]), on="variant_id", how="left")
    if len(stats):
        primary = stats[stats.role == "primary"].sort_values("metric_id")
        primary = primary[primary.metric_id == primary.metric_id.iloc[0]] if len(primary) else primary
        frame = frame.merge(
            primary[
                ["variant_id", "metric_id", "n_units", "n_units_window_in_progress", "n_units_window_truncated"]
            ].rename(
                columns={
                    "n_units": "analysed",
                    "n_units_window_in_progress": "in_progress",
                    "n_units_window_truncated": "truncated",
                }
            ),
            on="variant_id",
            how="left",
        )
    for column in ("assigned", "exposed", "eligible", "analysed", "in_progress", "truncated"):
        if column not in frame:
            frame[column] = pd.NA
    return frame


def _status_text(rows: pd.DataFrame) -> str:
    """The status sentence of the row held back by the most reasons (the window counts differ per metric)."""
    if rows.empty or rows.status_reason_text.isna().all():
        return ""
    counts = rows.status_reasons.fillna("").str.count(",") + (rows.status_reasons.fillna("") != "")
    text = rows.loc[counts.idxmax(), "status_reason_text"]
    return text if isinstance(text, str) else ""


def _settle(
    item: Version, population: str, threshold: float, warning: float, power: pd.DataFrame | None = None
) -> None:
    """The version's status, sample-ratio verdict and verdict (readout.decision, as the terminal report)."""
    status, codes = _version_status(item.results)
    item.status, item.status_reasons = status, [code for code in codes if code != status]
    item.status_text = _status_text(item.results)
    checks = item.srm[item.srm.population == population] if len(item.srm) else item.srm
    if len(item.srm):
        item.srm = item.srm.assign(
            srm_level=[
                "mismatch" if row.is_sample_ratio_mismatch is True else _srm(row.p_value, threshold, warning)
                for row in item.srm.itertuples()
            ]
        )
    if len(checks):
        item.srm_p_value = _number(checks.p_value.iloc[0])
        item.srm_verdict = (
            "mismatch"
            if checks.is_sample_ratio_mismatch.fillna(False).astype(bool).any()
            else _srm(checks.p_value.iloc[0], threshold, warning)
        )
    rows = item.results
    if len(rows):
        watermarks = rows.watermark_at.dropna() if "watermark_at" in rows else []
        item.watermark_at = watermarks.max() if len(watermarks) else None
    decision_rows = rows[rows.is_decision] if len(rows) else rows
    verdict = version_verdict(
        item.status,
        item.status_reasons,
        item.srm_verdict,
        [_verdict_input(row) for row in decision_rows.itertuples() if row.metric_role == "primary"],
        [_verdict_input(row) for row in decision_rows.itertuples() if row.metric_role == "guardrail"],
        is_draft=item.lifecycle == "draft",
        **version_planning(power, decision_rows),
    )
    item.verdict_code, item.verdict_reason = verdict.code, verdict.reason
    if len(item.history):
        latest = item.history.sort_values("built_at").iloc[-1]
        item.refreshed_at = latest.built_at
        item.code_version, item.contract_versions = str(latest.code_version), str(latest.contract_versions)


def _srm(p_value, threshold: float, warning: float) -> str:
    return srm_level(_number(p_value), threshold, warning)
