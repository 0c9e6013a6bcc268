"""The random numbers of a block: each path's own draws, and each step's uniforms and normals.

Step functions 1 and 2 of every executor (see pivotmc.backends.reference):
``per_path_draws`` and ``draw_step``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from pivotmc import random as rng
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.numerics import MASK32, S32, SPLIT1, ndtri, ndtri_central, ndtri_tail, philox, uniform
from pivotmc.backends._cpu_kernels.workspace import CAPEX_PER_MW, END, LANES, LEAD, START, Block
from pivotmc.model.factors import N_FACTORS, SHOCK_SLOTS

_PER_PATH_STEP = np.uint64(rng.PER_PATH_STEP)
# A path's lead time and capex overrun are the two halves of one pair (see pivotmc.random).
assert rng.SLOT_LEAD_TIME % 2 == 0 and rng.SLOT_CAPEX_OVERRUN == rng.SLOT_LEAD_TIME + 1
_PER_PATH_PAIR = np.uint64(rng.SLOT_LEAD_TIME // 2)
#: The random slot of each factor's shock (pivotmc.model.factors); N_FACTORS, a global, is a compile-time trip count.
_SHOCK_SLOTS = np.array(SHOCK_SLOTS, dtype=np.int64)


@njit(inline="always", **JIT)
def per_path_draws(w, lease, block):
    """Each lane's construction lead time (triangular) and capex per grid MW (log-normal overrun)."""
    lt_lo = lease.lead_min
    lt_mode = lease.lead_mode
    lt_hi = lease.lead_max
    for j in range(block.m):
        p = np.uint64(block.path0 + j)
        x0, x1, x2, x3 = philox(p & MASK32, p >> S32, _PER_PATH_STEP, _PER_PATH_PAIR, block.key0, block.key1)
        u_lead = uniform(x0, x1)
        u_over = uniform(x2, x3)
        if lt_hi <= lt_lo:
            lead = lt_lo
        else:
            width = lt_hi - lt_lo
            if u_lead < (lt_mode - lt_lo) / width:
                lead = lt_lo + math.sqrt(u_lead * width * (lt_mode - lt_lo))
            else:
                lead = lt_hi - math.sqrt((1.0 - u_lead) * width * (lt_hi - lt_mode))
        w[LEAD + j] = lead
        w[CAPEX_PER_MW + j] = lease.capex_per_mw * math.exp(lease.capex_sigma * ndtri(u_over))
        w[START + j] = lead
        w[END + j] = lead + lease.term


@njit(inline="always", **JIT)
def draw_step(u, z, tails, block, k):
    """The per-step uniforms into ``u`` (rng.N_STEP_SLOTS, lanes) and the factors' normals into ``z`` (factors, lanes)."""
    kk = np.uint64(k)
    m = block.m
    for pair in range(rng.N_STEP_PAIRS):
        pp = np.uint64(pair)
        for j in range(m):
            p = np.uint64(block.path0 + j)
            x0, x1, x2, x3 = philox(p & MASK32, p >> S32, kk, pp, block.key0, block.key1)
            u[2 * pair, j] = uniform(x0, x1)
            u[2 * pair + 1, j] = uniform(x2, x3)
    # The rational central branch for every lane (a SIMD loop), then the tails.
    for i in range(N_FACTORS):
        slot = _SHOCK_SLOTS[i]
        for j in range(m):
            z[i, j] = ndtri_central(u[slot, j])
    # Compact the tail lanes first (a branch-free pass), so the scalar pass over
    # them does not mispredict on the 15% of lanes that need a logarithm.
    for i in range(N_FACTORS):
        slot = _SHOCK_SLOTS[i]
        n_tail = 0
        for j in range(m):
            tails[n_tail] = j
            n_tail += 1 if abs(u[slot, j] - 0.5) > SPLIT1 else 0
        for t in range(n_tail):
            j = tails[t]
            z[i, j] = ndtri_tail(u[slot, j])


@njit(parallel=True, **JIT)
def step_uniforms_only(k0, k1, first_path, n_paths, n_steps, block):
    """Draw the per-step random numbers alone, as the fused kernel does: its floor."""
    lanes = min(block, LANES)
    n_blocks = (n_paths + lanes - 1) // lanes
    partial = np.zeros(n_blocks)
    for b in prange(n_blocks):
        lo = b * lanes
        m = min(lanes, n_paths - lo)
        u = np.empty((rng.N_STEP_SLOTS, lanes))
        z = np.empty((N_FACTORS, lanes))
        tails = np.empty(lanes, dtype=np.int64)
        lanes_of = Block(np.uint64(k0), np.uint64(k1), first_path + lo, lo, m, 0)
        acc = 0.0
        for k in range(n_steps):
            draw_step(u, z, tails, lanes_of, k)
            acc += z[k % N_FACTORS, k % m]  # keeps the draws alive without a dependency chain
        partial[b] = acc
    return partial.sum()
