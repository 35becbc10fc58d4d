"""Great Expectations (GX Core 1.x) suites generated from the contract files.

Every contract yields:

* ``<contract>.files`` (contracts with several schema versions): one row per landing file, its declared
  schema version must be one the contract defines;
* ``<contract>.schema_v<N>``: one row per landing file (or the warehouse relation) of schema version N x
  column, with the column's type. ``columns_and_types``: every (column, type) pair of the version's columns
  must be one it defines, so a missing column (type "(missing)"), a renamed or a retyped column is an
  error; ``no_extra_columns``: a column the version does not define (additive change) is a warning that
  names it (readers ignore it);
* ``<contract>.rows``: the data itself (after mapping every schema version onto the first one's shape
  and adding the contract's derived columns): the ``expectations`` of the contract, plus the freshness SLA;
* ``<contract>.<view>``: one per view (an aggregate relation derived from the warehouse).

The suites are written to ``contracts/gx/<suite>.json`` by ``readout contracts generate`` and committed;
``generate --check`` (and a test) fails when a committed file differs from what the YAML generates.
Expectation ids are derived from the suite and rule, so generation is byte-for-byte deterministic.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from .gx import import_gx
from .load import Contract, ContractError, Rule

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/readout/contracts")
SOURCE_COLUMN = "source"  #: schema frames: the file (relative to the landing zone) or the relation
COLUMN_NAME = "column_name"  #: schema frames: one row per source x column
CONTRACT_COLUMN = "contract_column_name"  #: schema frames: the column's name when the contract defines it, else null
DATA_TYPE = "data_type"  #: the column's type in the source; "(missing)" when the source lacks it
EXPECTED_TYPE = "expected_type"  #: the type the contract defines; "(not in the contract)" for extra columns
MISSING_TYPE = "(missing)"
NOT_IN_CONTRACT = "(not in the contract)"
VERSION_COLUMN = "declared_schema_version"  #: files frame: the schema version(s) a file's rows declare
AS_OF_VARIABLE = "as_of"  #: derived columns read the reference time as getvariable('as_of') (DuckDB)
#: derived columns read the dbt var events_begin (the first day of history) as getvariable('events_begin')
EVENTS_BEGIN_VARIABLE = "events_begin"


@dataclass(frozen=True)
class SuiteSpec:
    """A generated suite and the rules behind its expectations (same order)."""

    name: str
    kind: str  # files | schema | rows | view
    contract: Contract
    rules: tuple[Rule, ...]
    version: int | None = None
    view: str | None = None
    partition_by: tuple[str, ...] = ()

    def build(self):
        """The ``great_expectations.ExpectationSuite`` (built on demand: GX imports are slow)."""
        gx = import_gx()

        expectations = [_expectation(self, rule) for rule in self.rules]
        suite = gx.ExpectationSuite(
            name=self.name,
            id=str(uuid.uuid5(NAMESPACE, self.name)),
            expectations=expectations,
            meta={
                "contract": self.contract.name,
                "contract_file": f"contracts/{self.contract.path.name}",
                "owner": self.contract.owner_team,
                "kind": self.kind,
                "generated_by": "readout contracts generate (do not edit: edit the contract YAML)",
                **self._batch_meta(),
            },
        )
        # deterministic ids (GX refuses expectations that already carry one when building a suite)
        for expectation, rule in zip(suite.expectations, self.rules):
            expectation.id = str(uuid.uuid5(NAMESPACE, f"{self.name}/{rule.rule}"))
        return suite

    def _batch_meta(self) -> dict:
        """How the validated batch is read, so the JSON suite is complete without the YAML."""
        contract = self.contract
        source = f"landing:{contract.landing_folder}" if contract.is_landing else f"warehouse:{contract.relation}"
        if self.kind == "view":
            view = next(v for v in contract.views if v.name == self.view)
            return {"batch": "rows of this SQL over the warehouse (DuckDB)", "sql": view.sql}
        if self.kind == "rows":
            meta = {
                "batch": f"rows of {source}"
                + (
                    f", every schema version mapped onto version {contract.first_version}"
                    if contract.renames.get(max(contract.schema_versions))
                    else ""
                ),
                "derived_columns": dict(contract.derived_columns),
            }
            if contract.freshness:
                meta["freshness"] = contract.freshness.raw
            return meta
        if self.kind == "schema":
            return {"batch": f"one row per {source} file or relation x column, with its type"}
        return {"batch": f"one row per {source} file, with the schema version(s) its rows declare"}

    def to_json(self) -> str:
        return json.dumps(self.build().to_json_dict(), indent=2, sort_keys=False, default=str) + "\n"


def row_condition(where: dict):
    """A contract's ``where`` as a GX Condition (AND of every column's conditions)."""
    import_gx()
    from great_expectations.expectations.row_conditions import Column

    conditions = []
    for name, spec in where.items():
        column = Column(name)
        if spec == "null":
            conditions.append(column.is_null())
        elif spec == "not_null":
            conditions.append(column.is_not_null())
        else:
            for op, value in spec.items():
                conditions.append(
                    {
                        "in": lambda v, column=column: column.is_in(v),
                        "not_in": lambda v, column=column: column.is_not_in(v),
                        "==": lambda v, column=column: column == v,
                        "!=": lambda v, column=column: column != v,
                        "<": lambda v, column=column: column < v,
                        "<=": lambda v, column=column: column <= v,
                        ">": lambda v, column=column: column > v,
                        ">=": lambda v, column=column: column >= v,
                    }[op](value)
                )
    condition = conditions[0]
    for other in conditions[1:]:
        condition = condition & other
    return condition


def row_condition_query(where: dict) -> str:
    """The pandas query GX's pandas engine runs for ``where`` (the same rows, for the shares' denominators)."""
    import_gx()
    from great_expectations.execution_engine import PandasExecutionEngine

    global _ENGINE  # noqa: PLW0603 - one engine per process: building one takes seconds
    if _ENGINE is None:
        _ENGINE = PandasExecutionEngine()
    return _ENGINE.condition_to_filter_clause(row_condition(where))


_ENGINE = None


def _gx_severity(rule: Rule) -> str:
    if rule.level == "row":  # counted; a warning that escalates to an error above the materiality threshold
        return "critical" if rule.error_above == 0 else "warning"
    return "critical" if rule.severity == "error" else "warning"


def _expectation(spec: SuiteSpec, rule: Rule):
    import_gx()
    from great_expectations.expectations.registry import get_expectation_impl

    where = f"{spec.contract.path.name}: rule {rule.rule}"
    try:
        cls = get_expectation_impl(rule.expect)
    except Exception:  # noqa: BLE001 - GX raises its own error types for unknown names
        raise ContractError(f"{where}: {rule.expect!r} is not a Great Expectations expectation") from None
    meta = {
        "contract": spec.contract.name,
        "rule": rule.rule,
        "level": rule.level,
        "says": rule.says,
    }
    if rule.level == "row":
        meta["warn_above"] = rule.warn_above
        meta["error_above"] = rule.error_above
        if spec.partition_by:
            meta["per"] = list(spec.partition_by)
    else:
        meta["severity"] = rule.severity
    if rule.quarantine_reason:
        meta["quarantine_reason"] = rule.quarantine_reason
    note = f"{rule.rule}: {rule.description or rule.says}"
    kwargs = dict(rule.kwargs)
    if rule.where:
        kwargs["row_condition"] = row_condition(rule.where)
    try:
        return cls(**kwargs, meta=meta, notes=note, severity=_gx_severity(rule))
    except Exception as exc:  # noqa: BLE001 - pydantic validation errors: one line with the rule named
        first = str(exc).strip().splitlines()
        detail = "; ".join(line.strip() for line in first[:3])
        raise ContractError(f"{where}: invalid kwargs for {rule.expect} ({detail})") from None


# ---------------------------------------------------------------------------------------- generated
def _files_rules(contract: Contract) -> tuple[Rule, ...]:
    versions = [str(v) for v in sorted(contract.schema_versions)]
    return (
        Rule(
            rule="files.schema_version_known",
            expect="expect_column_values_to_be_in_set",
            kwargs={"column": VERSION_COLUMN, "value_set": versions},
            level="row",
            says=f"declare a {contract.version_column} the contract does not define (defined: "
            f"{', '.join(versions)}; a file holds exactly one)",
            warn_above=0.0,
            error_above=0.0,
            unit="files",
        ),
    )


def _schema_rules(contract: Contract, version: int) -> tuple[Rule, ...]:
    """Two expectations over the schema frame (one row per source x column). The contract's columns: every
    (column, type) pair must be one the version defines; a missing column appears with type "(missing)", so
    a missing, renamed or retyped column is an error. Extra columns (additive change): a warning naming
    each, never an error, since staging reads columns by name and ignores them."""
    columns = contract.columns(version)
    unit = "columns"
    return (
        Rule(
            rule=f"schema_v{version}.columns_and_types",
            expect="expect_column_pair_values_to_be_in_set",
            # extra columns have no contract name (null), so this pair check skips them
            kwargs={
                "column_A": CONTRACT_COLUMN,
                "column_B": DATA_TYPE,
                "ignore_row_if": "either_value_is_missing",
                "value_pairs_set": [[column, type_] for column, type_ in columns.items()],
            },
            level="row",
            says=f"not matching schema version {version}",
            warn_above=0.0,
            error_above=0.0,
            detail="{source}: {column_name} is {data_type} where the contract says {expected_type}",
            unit=unit,
        ),
        Rule(
            rule=f"schema_v{version}.no_extra_columns",
            expect="expect_column_values_to_not_be_in_set",
            kwargs={"column": EXPECTED_TYPE, "value_set": [NOT_IN_CONTRACT]},
            level="row",
            says=f"not in schema version {version} (an additive change)",
            description="a column the contract does not define: a warning that names it, never an error",
            warn_above=0.0,
            error_above=1.0,  # never an error
            detail="{source}: {column_name} ({data_type}) is not in the contract",
            unit=unit,
            on_warning="the readouts can proceed (staging reads only the contract's columns), but {owner} should "
            "add the column to the contract or stop sending it",
        ),
    )


def _freshness_rules(contract: Contract) -> tuple[Rule, ...]:
    """The SLA as two table-level rules on the freshness column (hours from a row's load to the as-of time):
    its minimum, the newest row's age, must not exceed warn_after (warning) and error_after (error)."""
    spec = contract.freshness
    if spec is None:
        return ()
    return tuple(
        Rule(
            rule=f"freshness.{level}",
            expect="expect_column_min_to_be_between",
            kwargs={"column": spec.column, "max_value": hours},
            level="table",
            says=f"is stale beyond the {hours:g}-hour freshness SLA",
            severity="warning" if level == "warn" else "error",
            description=f"the newest row no older than {hours:g} hours at the as-of time ({level} level)",
        )
        for level, hours in (("warn", spec.warn_after_hours), ("error", spec.error_after_hours))
    )


def suite_specs(contract: Contract) -> list[SuiteSpec]:
    """Every suite the contract generates, in a fixed order."""
    specs = []
    if contract.is_landing and contract.version_column and len(contract.schema_versions) > 1:
        specs.append(SuiteSpec(f"{contract.name}.files", "files", contract, _files_rules(contract)))
    for version in sorted(contract.schema_versions):
        specs.append(
            SuiteSpec(
                f"{contract.name}.schema_v{version}",
                "schema",
                contract,
                _schema_rules(contract, version),
                version=version,
            )
        )
    specs.append(
        SuiteSpec(
            f"{contract.name}.rows",
            "rows",
            contract,
            contract.rules + _freshness_rules(contract),
            partition_by=contract.partition_by,
        )
    )
    for view in contract.views:
        specs.append(
            SuiteSpec(
                f"{contract.name}.{view.name}",
                "view",
                contract,
                view.rules,
                view=view.name,
                partition_by=view.partition_by,
            )
        )
    return specs


def generate(contracts: dict[str, Contract], out_dir: Path, check: bool = False) -> tuple[list[Path], list[Path]]:
    """Write (or with ``check`` only compare) every suite's JSON. Returns (changed, stale extra files)."""
    expected: dict[Path, str] = {}
    for contract in contracts.values():
        for spec in suite_specs(contract):
            expected[out_dir / f"{spec.name}.json"] = spec.to_json()
    changed = [path for path, text in expected.items() if not path.exists() or path.read_text() != text]
    extra = sorted(p for p in out_dir.glob("*.json") if p not in expected) if out_dir.is_dir() else []
    if not check:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in changed:
            path.write_text(expected[path])
        for path in extra:
            path.unlink()
    return changed, extra
