"""Many two-arm comparisons of one kind in one array call, with per-pair failures.

The estimators (:mod:`~readout.stats.welch`, :mod:`~readout.stats.ratio`,
:mod:`~readout.stats.cuped`, :mod:`~readout.stats.sequential`) accept arrays, one element per
pair, but raise ``ValueError`` when *any* element cannot be estimated. :class:`PairBatch` calls
them once on every pair of one kind; when a call fails it splits the pairs in halves until each
failing pair is alone, and re-runs that pair on Python floats, exactly as a per-pair call would,
so its message is the per-pair message. Every operation in the estimators is elementwise (powers
go through :func:`~readout.stats.estimate.power`), so every figure equals, bit for bit, the
figure of estimating the pair on its own. :func:`readout.stats.compute_metric_results` uses this;
its tests compare it with the per-pair path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .sequential import asymptotic_confidence_sequence

__all__ = ["PairBatch", "run_batched"]

_NAN = float("nan")


def run_batched(call: Callable, columns: tuple, positions: np.ndarray, ok: list, errors: dict) -> None:
    """``call(*[column[positions] for column in columns])``, appending each ``(positions, result)``
    chunk that succeeds to ``ok`` and the message of each pair that fails alone to
    ``errors[position]``. A lone pair is called with Python floats."""
    if len(positions) == 0:
        return
    if len(positions) == 1:
        p = int(positions[0])
        args = tuple(float(column[p]) for column in columns)
    else:
        args = tuple(column[positions] for column in columns)
    try:
        result = call(*args)
    except ValueError as exc:
        if len(positions) == 1:
            errors[int(positions[0])] = str(exc)
            return
        half = len(positions) // 2
        run_batched(call, columns, positions[:half], ok, errors)
        run_batched(call, columns, positions[half:], ok, errors)
        return
    ok.append((positions, result))


def _positions(chunks: list, n: int) -> np.ndarray:
    return np.sort(np.concatenate([p for p, _ in chunks])) if chunks else np.arange(n)[:0]


def _each(chunks: list, *fields: str):
    """``(position, field values...)`` for every pair of the successful chunks."""
    for positions, result in chunks:
        values = [np.broadcast_to(getattr(result, f), positions.shape) for f in fields]
        yield from zip(positions.tolist(), *(v.tolist() for v in values), strict=True)


class _Means:
    def __init__(self, means: tuple) -> None:
        self.control, self.variant = means


class PairBatch:
    """Every pair of one kind: the statistics class ``build`` of one arm (called with the arm's
    columns), the absolute and relative lift estimators and, for CUPED, the adjusted means.

    :meth:`add` queues a pair with its output row (a dict the figures are written into) and its
    list of reasons (failure messages are appended in the per-pair order: statistics, absolute
    lift, sequential interval, relative lift); :meth:`run` estimates all queued pairs."""

    def __init__(self, build: Callable, absolute: Callable, relative: Callable, adjusted_means=None) -> None:
        self.build, self.absolute, self.relative, self.adjusted_means = build, absolute, relative, adjusted_means
        self.rows: list[dict] = []
        self.reasons: list[list[str]] = []
        self.target_n: list[float] = []
        self.control: list[tuple] = []
        self.variant: list[tuple] = []

    def add(self, row: dict, reasons: list[str], target_n: float, control: tuple, variant: tuple) -> None:
        self.rows.append(row)
        self.reasons.append(reasons)
        self.target_n.append(target_n)
        self.control.append(control)
        self.variant.append(variant)

    def run(self, alpha: float) -> None:
        n = len(self.rows)
        if n == 0:
            return
        width = len(self.control[0])
        c = np.array(self.control, dtype=float).reshape(n, width)
        t = np.array(self.variant, dtype=float).reshape(n, width)
        columns = tuple(c[:, j] for j in range(width)) + tuple(t[:, j] for j in range(width))

        def pair(*cols) -> tuple[Any, Any]:
            return self.build(*cols[:width]), self.build(*cols[width:])

        built: list = []
        failed: dict[int, str] = {}
        run_batched(pair, columns, np.arange(n), built, failed)
        for i, message in failed.items():
            self.reasons[i].append(message)
        usable = _positions(built, n)

        if self.adjusted_means is not None:  # a failure here is reported by the estimators below
            means: list = []
            run_batched(lambda *cols: _Means(self.adjusted_means(*pair(*cols))), columns, usable, means, {})
            for i, m_c, m_t in _each(means, "control", "variant"):
                self.rows[i].update(mean_control=float(m_c), mean_variant=float(m_t))

        absolute: list = []
        failed = {}
        run_batched(lambda *cols: self.absolute(*pair(*cols), alpha), columns, usable, absolute, failed)
        later: dict[int, list[str]] = {i: [message] for i, message in failed.items()}
        estimate, std_error = np.full(n, _NAN), np.full(n, _NAN)
        for i, est, se, lower, upper, p in _each(absolute, "estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
            estimate[i], std_error[i] = est, se
            self.rows[i].update(
                absolute_lift=est, absolute_lift_ci_lower=lower, absolute_lift_ci_upper=upper, p_value=p
            )

        # the always-valid interval of every pair with an absolute lift, per planned sample size
        estimated = _positions(absolute, n)
        n_total = c[:, 0] + t[:, 0]
        targets = np.array(self.target_n, dtype=float)
        for target in dict.fromkeys(targets[estimated].tolist()):
            sequences: list = []
            failed = {}
            run_batched(
                lambda est, se, total, target=target: asymptotic_confidence_sequence(
                    est, se, total, alpha, target_n=target
                ),
                (estimate, std_error, n_total),
                estimated[targets[estimated] == target],
                sequences,
                failed,
            )
            for i, lower, upper in _each(sequences, "lower", "upper"):
                self.rows[i].update(sequential_ci_lower=lower, sequential_ci_upper=upper)
            for i, message in failed.items():
                later.setdefault(i, []).append(f"sequential interval: {message}")
        for i, messages in later.items():
            self.reasons[i].extend(messages)

        relative: list = []
        failed = {}
        run_batched(lambda *cols: self.relative(*pair(*cols), alpha), columns, usable, relative, failed)
        for i, est, lower, upper in _each(relative, "estimate", "ci_lower", "ci_upper"):
            self.rows[i].update(relative_lift=est, relative_lift_ci_lower=lower, relative_lift_ci_upper=upper)
        for i, message in failed.items():
            self.reasons[i].append(message)
