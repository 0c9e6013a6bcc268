"""The run loop every in-memory run goes through: consecutive chunks of paths, one policy, and a
stopping rule.

A run is ``n_paths`` paths in consecutive chunks; each chunk is one call of the executor with the
plan, the key and the exercise policy learned before the loop. A stopping rule (:class:`Precision`)
may end the run early, after any chunk, from the running moments of the NPVs: the paths already
run are then the whole run, so its results equal those of a run of that many paths, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from pivotmc.backends import Backend, ChunkResult
from pivotmc.errors import ValidationError
from pivotmc.model.plan import Plan
from pivotmc.run.results import merge_chunks

__all__ = ["Precision", "run_paths"]


@dataclass(frozen=True)
class Precision:
    """Stop once every strategy's mean NPV is known to a 95% half-width of ``relative`` of its size.

    The half-width ``1.96 SE`` must be at most ``relative * |mean|`` or ``absolute_floor`` USD,
    whichever is larger (the floor keeps a mean near zero from asking for unbounded paths).
    """

    relative: float = 0.01
    absolute_floor: float = 1e5

    def __post_init__(self) -> None:
        if not 0.0 < self.relative < 1.0:
            raise ValidationError(f"precision = {self.relative!r} is not allowed: it must be a relative half-width in (0, 1).")
        if not (self.absolute_floor >= 0 and math.isfinite(self.absolute_floor)):
            raise ValidationError(f"absolute_floor = {self.absolute_floor!r} is not allowed: it must be a number >= 0 (USD).")

    def reached(self, moments: _Moments) -> bool:
        mean, half = moments.mean(), 1.96 * moments.std_error()
        return bool(np.all(half <= np.maximum(self.relative * np.abs(mean), self.absolute_floor)))


class _Moments:
    """Running sums of the NPVs per strategy, for the stopping rule."""

    def __init__(self, n_strategies: int) -> None:
        self.count = 0
        self.total = np.zeros(n_strategies)
        self.total_sq = np.zeros(n_strategies)

    def add(self, npv: np.ndarray) -> None:
        self.count += npv.shape[1]
        self.total += npv.sum(axis=1)
        self.total_sq += (npv**2).sum(axis=1)

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def std_error(self) -> np.ndarray:
        if self.count < 2:
            return np.full_like(self.total, np.inf)
        mean = self.mean()
        var = np.maximum(self.total_sq / self.count - mean**2, 0.0) * self.count / (self.count - 1)
        return np.sqrt(var / self.count)


def run_paths(
    runner: Backend,
    plan: Plan,
    key: tuple[int, int],
    n_paths: int,
    *,
    policy=None,
    keep_paths: int = 0,
    block_paths: int | None = None,
    chunk_paths: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: Precision | None = None,
) -> tuple[ChunkResult, bool]:
    """Run paths ``0 .. n_paths - 1`` in chunks of ``chunk_paths`` (default: one chunk).

    ``progress(done, total)`` is called with 0 first and after each chunk; a run that ``stop`` ends
    early reports ``(done, done)`` last, so that a bar drawn from it ends full. Returns the merged
    result of the paths run and whether ``stop`` ended the run.
    """
    size = n_paths if chunk_paths is None else max(1, min(int(chunk_paths), n_paths))
    moments = _Moments(plan.n_strategies) if stop is not None else None
    parts: list[ChunkResult] = []
    done = 0
    stopped = False
    if progress is not None:
        progress(0, n_paths)
    while done < n_paths:
        count = min(size, n_paths - done)
        part = runner.run_chunk(plan, key, done, count, keep_paths, block_paths, policy)
        parts.append(part)
        done += count
        if moments is not None:
            moments.add(part.npv)
            stopped = stop.reached(moments)
        if progress is not None:
            progress(done, done if stopped else n_paths)
        if stopped:
            break
    return (parts[0] if len(parts) == 1 else merge_chunks(parts)), stopped
