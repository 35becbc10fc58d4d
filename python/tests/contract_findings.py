"""What a contract validation reports, outcome by outcome, for tests that hold two validations equal."""

from __future__ import annotations


def findings(outcomes) -> list[tuple]:
    """Everything each outcome reports (its alarm sentence included), in order: a report's outcomes, or a list."""
    return [
        (
            o.contract.name,
            o.suite,
            o.rule_id,
            o.severity,
            o.count,
            o.total,
            [(p.label, p.count, p.total, p.severity) for p in o.partitions],
            o.details,
            o.readouts,
            o.problem,
            o.error,
            o.sentence,
        )
        for o in getattr(outcomes, "outcomes", outcomes)
    ]
