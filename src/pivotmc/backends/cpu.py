"""The ``cpu`` backend: fused Numba kernels, parallel over blocks of paths.

The scenario is packed once into flat arrays (:func:`pivotmc.plan.pack`);
:func:`pivotmc.backends._cpu_kernels.simulate_paths` does the rest. Compiled
kernels are cached on disk next to the module (Numba's ``cache=True``), so
only the first run on a machine pays the compilation.
"""

from __future__ import annotations

import numpy as np

from ..accumulate import ExactSum, overflow_error
from ..errors import ValidationError
from ..plan import Plan, pack
from . import ChunkResult, KeptPaths

__all__ = ["run_chunk", "unavailable_reason", "DEFAULT_BLOCK_PATHS"]

#: Lanes per block: the per-lane state of a block stays in the L1/L2 caches.
DEFAULT_BLOCK_PATHS = 256  # lanes per block; the kernel caps it at _cpu_kernels.LANES


def unavailable_reason() -> str | None:
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a base dependency
        return "backend 'cpu' needs numba: pip install numba."
    return None


def run_chunk(
    plan: Plan,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    keep_paths: int = 0,
    block_paths: int | None = None,
) -> ChunkResult:
    """Simulate paths ``first_path .. first_path + n_paths - 1`` (see the reference backend)."""
    import numba

    from ._cpu_kernels import MAX_STRATEGIES, ensure_fresh_cache, simulate_paths

    ensure_fresh_cache()
    packed = pack(plan)
    if plan.n_strategies > MAX_STRATEGIES:  # pragma: no cover - the scenario allows fewer
        raise ValidationError(f"the cpu backend values at most {MAX_STRATEGIES} strategies at once.")
    n_strat, n_steps = plan.n_strategies, plan.n_steps
    kept, kept_factors = KeptPaths.allocate(first_path, n_paths, keep_paths, n_strat, n_steps)
    npv = np.empty((n_strat, n_paths))
    threads = numba.config.NUMBA_NUM_THREADS
    sums_hi = np.zeros((threads, n_strat, n_steps), dtype=np.int64)
    sums_lo = np.zeros((threads, n_strat, n_steps), dtype=np.int64)
    overflow = simulate_paths(
        packed.scalars, packed.steps, packed.chol, packed.btc_jump_cdf, packed.power_spike_cdf,
        packed.conversion_share, packed.exit_multiple,
        key[0], key[1], first_path, n_paths, keep_paths, int(block_paths or DEFAULT_BLOCK_PATHS),
        npv, sums_hi, sums_lo, kept_factors, kept.cash_flow,
    )
    if overflow:
        raise overflow_error(overflow)
    sums = ExactSum((n_strat, n_steps))
    for t in range(threads):
        sums.add_limbs(sums_hi[t], sums_lo[t])
    return ChunkResult(first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept)
