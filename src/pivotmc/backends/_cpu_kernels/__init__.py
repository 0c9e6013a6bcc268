"""Numba kernels of the ``cpu`` backend.

One fused pass per block of paths: draw the random numbers in-kernel, advance
every factor, accumulate every strategy's discounted cash flow, and write only
per-path NPVs, exact per-step sums and the kept trajectories. The arithmetic
follows :mod:`pivotmc.backends.reference` operation by operation (same order
of additions and products), so the two agree to the last bits that libm and
numpy's vectorised transcendental functions leave.

The kernels are the step functions every executor shares, in the same order
and under the same names: ``per_path_draws`` and ``draw_step``
(:mod:`.draws`), ``correlate``, ``advance_markets`` and ``mine``
(:mod:`.markets`), ``lease_step`` (:mod:`.lease`), ``cloud_step``
(:mod:`.cloud`), ``decide``, ``strategy_cash_flows`` and ``accumulate``
(:mod:`.strategies`), taking the records of :mod:`.workspace`; the entry points ``simulate_block`` and
``learning_block`` and their parallel drivers ``simulate_paths`` and
``learning_paths`` are in :mod:`.entry`.

Within a block the step loop is outside and the path ("lane") loops inside, so
the integer-only Philox rounds and the rational part of the inverse normal run
as SIMD loops over lanes; branches and libm calls live in separate loops.

Nothing here is compiled at import: Numba compiles on the first call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit

from pivotmc.backends import kernel_constants
from pivotmc.backends._cpu_kernels.cloud import cloud_step
from pivotmc.backends._cpu_kernels.draws import step_uniforms_only
from pivotmc.backends._cpu_kernels.entry import learning_block, learning_paths, simulate_block, simulate_paths
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.lease import lease_step
from pivotmc.backends._cpu_kernels.numerics import fast_exp, fast_log, ndtri_tail, philox_words
from pivotmc.backends._cpu_kernels.workspace import CLOUD_ROWS, LANES, LEARN_ROWS, ROWS
from pivotmc.backends.kernel_constants import GROWTH_TABLE_SIZE

__all__ = [
    "LANES", "ensure_fresh_cache", "fast_exp", "fast_log", "learning_paths", "philox_words", "simulate_paths",
    "step_uniforms_only",
]  # fmt: skip


# --------------------------------------------------------------------------- #
# Cache freshness
# --------------------------------------------------------------------------- #
# Numba invalidates a cached kernel when its own file changes, not when a module it
# takes constants from does (the packed-plan layout in plan.py, the RNG layout,
# units ...), nor when a step function it inlines from another module of this
# package does. The fingerprint of those constants and of this package's sources
# is frozen into the cached code; a mismatch means the cache is stale.
_SOURCES = tuple(sorted(Path(__file__).parent.glob("*.py")))


def layout_fingerprint(shared: dict) -> np.int64:
    """Fingerprint of the constants the kernels take from Python (``shared``: kernel_constants.constants())
    and of the kernels' own sources."""
    sources = tuple(hashlib.sha256(path.read_bytes()).hexdigest() for path in _SOURCES)
    frozen = (sorted(shared.items()), GROWTH_TABLE_SIZE, ROWS, LEARN_ROWS, CLOUD_ROWS, LANES, sources)
    return np.int64(int.from_bytes(hashlib.sha256(repr(frozen).encode()).digest()[:7], "little"))


LAYOUT_FINGERPRINT = layout_fingerprint(kernel_constants.constants())


@njit(**JIT)
def compiled_fingerprint():
    return LAYOUT_FINGERPRINT


_CACHED = (
    simulate_paths, learning_paths, simulate_block, learning_block, lease_step, cloud_step, step_uniforms_only,
    philox_words, ndtri_tail, compiled_fingerprint,
)  # fmt: skip


def ensure_fresh_cache() -> bool:
    """Drop cached kernels compiled against another layout; True if it had to."""
    if compiled_fingerprint() == LAYOUT_FINGERPRINT:
        return False
    for dispatcher in _CACHED:
        cache = getattr(dispatcher, "_cache", None)
        if cache is not None and hasattr(cache, "flush"):
            cache.flush()
    compiled_fingerprint.recompile()
    for dispatcher in _CACHED:
        if dispatcher is not compiled_fingerprint and dispatcher.signatures:
            dispatcher.recompile()
    return True
