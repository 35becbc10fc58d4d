"""Vectorised simulation helpers: many experiments at once, reduced to per-arm sufficient
statistics with array operations (chunked to bound memory)."""

from __future__ import annotations

import numpy as np


def _sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.sum(axis=1), (x * x).sum(axis=1)


class Simulator:
    """Generates ``sims`` experiments of ``n`` units per arm in chunks (bounded memory) and
    returns per-experiment sufficient statistics as arrays of length ``sims``."""

    chunk = 2_000

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def _chunks(self, sims: int):
        done = 0
        while done < sims:
            size = min(self.chunk, sims - done)
            yield size
            done += size

    def sample_stats(self, sims: int, n: int, draw) -> dict[str, np.ndarray]:
        """``draw(rng, shape) -> values``; returns ``n``, ``sum``, ``sum_squares`` arrays."""
        sums, squares = [], []
        for size in self._chunks(sims):
            s, ss = _sums(draw(self.rng, (size, n)))
            sums.append(s)
            squares.append(ss)
        total = np.concatenate(sums)
        return {"n": np.full(sims, float(n)), "sum": total, "sum_squares": np.concatenate(squares)}

    def paired_stats(self, sims: int, n: int, draw) -> dict[str, np.ndarray]:
        """``draw(rng, shape) -> (a, b)`` per-unit pairs; returns the six paired sums."""
        keys = ("a_sum", "a_sum_squares", "b_sum", "b_sum_squares", "ab_sum")
        parts: dict[str, list] = {k: [] for k in keys}
        for size in self._chunks(sims):
            a, b = draw(self.rng, (size, n))
            for k, v in zip(keys, (*_sums(a), *_sums(b), (a * b).sum(axis=1)), strict=True):
                parts[k].append(v)
        out = {k: np.concatenate(v) for k, v in parts.items()}
        out["n"] = np.full(sims, float(n))
        return out


def coverage(lower: np.ndarray, upper: np.ndarray, truth: float) -> float:
    return float(np.mean((lower <= truth) & (truth <= upper)))
