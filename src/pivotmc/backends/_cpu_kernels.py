"""Numba kernels of the ``cpu`` backend.

One fused pass per block of paths: draw the random numbers in-kernel, advance
every factor, accumulate every strategy's discounted cash flow, and write only
per-path NPVs, exact per-step sums and the kept trajectories. The arithmetic
follows :mod:`pivotmc.backends.reference` operation by operation (same order
of additions and products), so the two agree to the last bits that libm and
numpy's vectorised transcendental functions leave.

Within a block the step loop is outside and the path ("lane") loops inside, so
the integer-only Philox rounds and the rational part of the inverse normal run
as SIMD loops over lanes; branches and libm calls live in separate loops.

Nothing here is compiled at import: Numba compiles on the first call.
"""

from __future__ import annotations

import hashlib
import math
import os

import numba
import numpy as np
from numba import njit, prange

from pivotmc import random as rng
from pivotmc.backends import KEPT_FACTORS, fastmath, kernel_constants
from pivotmc.backends.accumulate import LIMB_BITS, QUANTISED_LIMIT, QUANTUM
from pivotmc.backends.kernel_constants import GROWTH_TABLE_SIZE, MAX_STRATEGIES
from pivotmc.model.plan import SWITCH_FEATURES, TINY_YEARS
from pivotmc.model.factors import N_FACTORS, SHOCK_SLOTS
from pivotmc.model.factors import FactorIndex as F
from pivotmc.model.plan import ScalarIndex as P
from pivotmc.model.plan import StepIndex as T
from pivotmc.model.units import HOURS_PER_DAY, MONTHS_PER_YEAR, PH_PER_EH

# Every constant below comes from its one Python source (see pivotmc.backends.kernel_constants).
_M0 = np.uint64(rng.PHILOX_M0)
_M1 = np.uint64(rng.PHILOX_M1)
_W0 = np.uint64(rng.PHILOX_W0)
_W1 = np.uint64(rng.PHILOX_W1)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_UNIFORM_SHIFT = np.uint64(64 - (rng.UNIFORM_BITS - 1))  # k: the top UNIFORM_BITS - 1 bits of the word
_UNIFORM_SCALE = 2.0**-rng.UNIFORM_BITS
_QUANTUM = QUANTUM
_Q_LIMIT = QUANTISED_LIMIT
_LIMB_MASK = np.int64((1 << LIMB_BITS) - 1)
_PER_PATH_STEP = np.uint64(rng.PER_PATH_STEP)
# Spike i's size and arrival time are the two halves of one pair (see pivotmc.random), and so are
# a path's lead time and capex overrun.
assert rng.SLOT_POWER_SPIKE_SIZE0 % 2 == 0 and rng.SLOT_POWER_SPIKE_TIME0 == rng.SLOT_POWER_SPIKE_SIZE0 + 1
assert rng.SLOT_LEAD_TIME % 2 == 0 and rng.SLOT_CAPEX_OVERRUN == rng.SLOT_LEAD_TIME + 1
_SPIKE_PAIR0 = rng.SLOT_POWER_SPIKE_SIZE0 // 2
_PER_PATH_PAIR = np.uint64(rng.SLOT_LEAD_TIME // 2)
#: The random slot of each factor's shock (pivotmc.model.factors); N_FACTORS, a global, is a compile-time trip count.
_SHOCK_SLOTS = np.array(SHOCK_SLOTS, dtype=np.int64)

# AS241 (pivotmc.random.normal): region bounds and coefficients.
_SPLIT1, _CONST1, _SPLIT2, _CONST2 = rng.AS241_SPLIT1, rng.AS241_CONST1, rng.AS241_SPLIT2, rng.AS241_CONST2
_A = np.array(rng.AS241_A)
_B = np.array(rng.AS241_B)
_C = np.array(rng.AS241_C)
_D = np.array(rng.AS241_D)
_E = np.array(rng.AS241_E)
_F = np.array(rng.AS241_F)

# error_model="numpy": no zero-division branches, which would stop loops from vectorising.
_JIT = dict(nogil=True, cache=os.environ.get("PIVOTMC_NO_CACHE") is None, error_model="numpy")


@njit(inline="always", **_JIT)
def _philox_round(c0, c1, c2, c3, k0, k1):
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (p1 >> _S32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK32


@njit(inline="always", **_JIT)
def _bump(k0, k1):
    return (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32


@njit(inline="always", **_JIT)
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 values holding 32-bit words.

    The round count is a compile-time constant, so LLVM unrolls the rounds and
    a loop over lanes around a call becomes straight-line integer code that it
    vectorises.
    """
    for _ in range(rng.PHILOX_ROUNDS - 1):
        c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
        k0, k1 = _bump(k0, k1)
    return _philox_round(c0, c1, c2, c3, k0, k1)


@njit(inline="always", **_JIT)
def uniform(hi, lo):
    """Open-interval uniform (2k + 1) 2^-53 from the top 52 bits of hi:lo (rng.UNIFORM_BITS = 53)."""
    k = ((hi << _S32) | lo) >> _UNIFORM_SHIFT
    return (2.0 * np.float64(k) + 1.0) * _UNIFORM_SCALE


@njit(inline="always", **_JIT)
def _horner(coef, x):
    acc = coef[coef.size - 1]
    for i in range(coef.size - 2, -1, -1):
        acc = acc * x + coef[i]
    return acc


@njit(inline="always", **_JIT)
def ndtri_central(u):
    """AS241 central branch; exact where |u - 1/2| <= 0.425, finite elsewhere in (0, 1)."""
    q = u - 0.5
    r = _CONST1 - q * q
    return q * (_horner(_A, r) / _horner(_B, r))


@njit(**_JIT)
def ndtri_tail(u):
    """AS241 tail branches for |u - 1/2| > 0.425."""
    lower = u < 0.5
    p = u if lower else 1.0 - u
    r = math.sqrt(-math.log(p))
    if r <= _SPLIT2:
        val = _horner(_C, r - _CONST2) / _horner(_D, r - _CONST2)
    else:
        val = _horner(_E, r - _SPLIT2) / _horner(_F, r - _SPLIT2)
    return -val if lower else val


@njit(inline="always", **_JIT)
def ndtri(u):
    if abs(u - 0.5) <= _SPLIT1:
        return ndtri_central(u)
    return ndtri_tail(u)


@njit(inline="always", **_JIT)
def count_below(cdf, u):
    """Number of table entries below u: a Poisson count by inversion."""
    c = 0
    while c < cdf.size and cdf[c] < u:
        c += 1
    return c


@njit(**_JIT)
def philox_words(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of arrays of counters (for tests against the numpy generator)."""
    n = c0.size
    out = np.empty((4, n), dtype=np.uint64)
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    for j in range(n):
        x0, x1, x2, x3 = philox(np.uint64(c0[j]), np.uint64(c1[j]), np.uint64(c2[j]), np.uint64(c3[j]), key0, key1)
        out[0, j] = x0
        out[1, j] = x1
        out[2, j] = x2
        out[3, j] = x3
    return out


# --------------------------------------------------------------------------- #
# Vectorisable exp and log
# --------------------------------------------------------------------------- #
# Straight-line polynomials and a bit cast (see pivotmc.backends.fastmath), which LLVM vectorises.
_LN2_HI, _LN2_LO, _INV_LN2, _SQRT2 = fastmath.LN2_HI, fastmath.LN2_LO, fastmath.INV_LN2, fastmath.SQRT2
_EXP_MIN_ARG, _EXP_MAX_ARG = fastmath.EXP_MIN_ARG, fastmath.EXP_MAX_ARG
_EXP_COEF = np.array(fastmath.EXP_COEF)
_LOG_COEF = np.array(fastmath.LOG_COEF)
_MANTISSA = np.int64((1 << 52) - 1)
_EXP_BIAS = np.int64(1023)


@njit(inline="always", **_JIT)
def fast_exp(x):
    """e**x for -708 <= x <= 709 (arguments are clamped to that range)."""
    x = min(max(x, _EXP_MIN_ARG), _EXP_MAX_ARG)
    n = math.floor(x * _INV_LN2 + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _horner(_EXP_COEF, r)
    scale = np.int64((np.int64(n) + _EXP_BIAS) << 52).view(np.float64)
    return p * scale


@njit(inline="always", **_JIT)
def fast_log(x):
    """Natural log of a positive normal float."""
    bits = np.float64(x).view(np.int64)
    e = np.float64((bits >> 52) - _EXP_BIAS)
    m = np.int64((bits & _MANTISSA) | (_EXP_BIAS << 52)).view(np.float64)  # in [1, 2)
    if m > _SQRT2:
        m = m * 0.5
        e = e + 1.0
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    return e * _LN2_HI + (s * _horner(_LOG_COEF, s2) + e * _LN2_LO)


# --------------------------------------------------------------------------- #
# The lane workspace
# --------------------------------------------------------------------------- #
# A block's per-lane values live in one flat array, row after row, with a row
# length known at compile time. LLVM then sees every access as one base plus a
# constant offset, proves the rows independent, and vectorises the lane loops;
# with separate arrays it must check aliasing at run time and gives up.
LANES = 256
_ROWS = (
    "jump", "spike",
    "log_btc", "log_fees", "fees", "log_hr", "power_dev", "lease_dev",
    "btc", "hashrate", "power", "market", "hashprice",
    "mine_ebitda", "mine_capex", "host_ebitda", "host_capex",
    "lead", "capex_per_mw", "start", "end", "rate", "spent",
    "sw_index", "sw_decision", "sw_start", "sw_end", "sw_rate", "sw_spent", "sw_ebitda", "sw_capex", "sw_salvage",
    "mine_pv", "s_ebitda", "s_cash",
)
_OFF = {name: i * LANES for i, name in enumerate(_ROWS)}
JUMP, SPIKE = _OFF["jump"], _OFF["spike"]
LOG_BTC, LOG_FEES, FEES, LOG_HR = _OFF["log_btc"], _OFF["log_fees"], _OFF["fees"], _OFF["log_hr"]
POWER_DEV, LEASE_DEV = _OFF["power_dev"], _OFF["lease_dev"]
BTC, HASHRATE, POWER, MARKET, HASHPRICE = _OFF["btc"], _OFF["hashrate"], _OFF["power"], _OFF["market"], _OFF["hashprice"]
MINE_EBITDA, MINE_CAPEX, HOST_EBITDA, HOST_CAPEX = _OFF["mine_ebitda"], _OFF["mine_capex"], _OFF["host_ebitda"], _OFF["host_capex"]
LEAD, CAPEX_PER_MW, START, END, RATE, SPENT = _OFF["lead"], _OFF["capex_per_mw"], _OFF["start"], _OFF["end"], _OFF["rate"], _OFF["spent"]
SW_INDEX, SW_DECISION, SW_START, SW_END = _OFF["sw_index"], _OFF["sw_decision"], _OFF["sw_start"], _OFF["sw_end"]
SW_RATE, SW_SPENT, SW_EBITDA, SW_CAPEX, SW_SALVAGE = _OFF["sw_rate"], _OFF["sw_spent"], _OFF["sw_ebitda"], _OFF["sw_capex"], _OFF["sw_salvage"]
MINE_PV, S_EBITDA, S_CASH = _OFF["mine_pv"], _OFF["s_ebitda"], _OFF["s_cash"]
#: The factors' rows by their result names, in the orders of KEPT_FACTORS and SWITCH_FEATURES.
_FACTOR_ROWS = {"btc_price": BTC, "hashrate": HASHRATE, "fees": FEES, "power_price": POWER, "lease_rate": MARKET,
                "hashprice": HASHPRICE}  # fmt: skip
_KEPT_ROWS = tuple(_FACTOR_ROWS[name] for name in KEPT_FACTORS)
_FEATURE_ROWS = tuple(_FACTOR_ROWS[name] for name in SWITCH_FEATURES)
#: Rows of the learning workspace (one set per decision date): see switch_learning_data.
_LEARN_ROWS = ("decision", "start", "end", "rate", "spent", "host_pv", "mine_before", "salvage")
L_DECISION, L_START, L_END, L_RATE, L_SPENT, L_HOST_PV, L_MINE_BEFORE, L_SALVAGE = range(len(_LEARN_ROWS))
_LEARN_STRIDE = len(_LEARN_ROWS) * LANES
NPV0 = len(_ROWS) * LANES  # then MAX_STRATEGIES rows of NPV, then as many of final-year EBITDA
FINAL0 = NPV0 + MAX_STRATEGIES * LANES
WORKSPACE = FINAL0 + MAX_STRATEGIES * LANES


@njit(inline="always", **_JIT)
def _draw_step(u, z, tails, key0, key1, path0, m, k):
    """The per-step uniforms into ``u`` (rng.N_STEP_SLOTS, lanes) and the factors' normals into ``z`` (factors, lanes)."""
    kk = np.uint64(k)
    for pair in range(rng.N_STEP_PAIRS):
        pp = np.uint64(pair)
        for j in range(m):
            p = np.uint64(path0 + j)
            x0, x1, x2, x3 = philox(p & _MASK32, p >> _S32, kk, pp, key0, key1)
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
            n_tail += 1 if abs(u[slot, j] - 0.5) > _SPLIT1 else 0
        for t in range(n_tail):
            j = tails[t]
            z[i, j] = ndtri_tail(u[slot, j])


@njit(parallel=True, **_JIT)
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
        acc = 0.0
        for k in range(n_steps):
            _draw_step(u, z, tails, np.uint64(k0), np.uint64(k1), first_path + lo, m, k)
            acc += z[k % N_FACTORS, k % m]  # keeps the draws alive without a dependency chain
        partial[b] = acc
    return partial.sum()


# --------------------------------------------------------------------------- #
# The fused kernel
# --------------------------------------------------------------------------- #
@njit(parallel=True, **_JIT)
def simulate_paths(
    scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
    k0, k1, first_path, n_paths, keep_paths, block,
    npv_out, sums_hi, sums_lo, kept_factors, kept_cf,
    switch_index, decision_steps, centre, scale, coef, terms, switch_out,
    learn, switch_exit, learn_features, learn_gains,
):
    """Simulate paths first_path .. first_path + n_paths - 1 of a packed plan.

    Writes ``npv_out`` (strategies, n_paths), adds exact limb sums of each
    step's cash flow into ``sums_hi``/``sums_lo`` (threads, strategies, steps),
    and fills ``kept_factors`` (len(KEPT_FACTORS), kept, steps) and ``kept_cf`` (strategies,
    kept, steps) for global paths below ``keep_paths``. ``block`` is the number
    of lanes per block (at most :data:`LANES`). Returns the number of cash flows
    too large to quantise (0 when all is well).

    The switch strategy (at position ``switch_index``, -1 if absent) decides
    at the steps ``decision_steps`` with the policy ``centre``, ``scale``,
    ``coef``, ``terms`` (see :meth:`pivotmc.policy.switch.SwitchPolicy.kernel_arrays`)
    and writes each path's decision index to ``switch_out``. With ``learn``,
    the kernel instead fills ``learn_features`` (dates, n_paths, 3) and
    ``learn_gains`` (dates, n_paths) for the policy's learning paths (pass no
    strategies then); ``switch_exit`` is the switch's exit multiple.
    """
    lanes = min(block, LANES)
    n_blocks = (n_paths + lanes - 1) // lanes
    overflow = np.zeros(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        tid = numba.get_thread_id()
        overflow[b] = _simulate_block(
            scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
            k0, k1, first_path, b * lanes, min(lanes, n_paths - b * lanes), keep_paths,
            npv_out, sums_hi[tid], sums_lo[tid], kept_factors, kept_cf,
            switch_index, decision_steps, centre, scale, coef, terms, switch_out,
            learn, switch_exit, learn_features, learn_gains,
        )
    return overflow.sum()


@njit(**_JIT)
def _simulate_block(
    scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
    k0, k1, first_path, lo, m, keep_paths,
    npv_out, sums_hi, sums_lo, kept_factors, kept_cf,
    switch_index, decision_steps, centre, scale, coef, terms, switch_out,
    learn, switch_exit, learn_features, learn_gains,
):
    n_strat = share.size
    n_steps = steps.shape[1]
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    path0 = first_path + lo
    n_keep = max(0, min(m, keep_paths - path0))
    overflow = 0
    w = np.empty(WORKSPACE)
    u = np.empty((rng.N_STEP_SLOTS, LANES))
    z = np.empty((N_FACTORS, LANES))
    tails = np.empty(LANES, dtype=np.int64)

    dt = scalars[P.dt]
    grid = scalars[P.grid_mw]
    g_lease = 1.0 + scalars[P.lease_escalator]
    release = scalars[P.release_time]
    boundary = scalars[P.boundary_tolerance]
    term = scalars[P.lease_term]
    hazard = scalars[P.default_hazard]
    renewal = scalars[P.renewal_probability]
    ppa = scalars[P.mining_ppa_fraction]
    ppa_price = scalars[P.ppa_price]
    spot_share = 1.0 - ppa
    energy = scalars[P.mining_uptime] * scalars[P.hours_per_step]
    curtailment = scalars[P.mining_curtailment] != 0.0
    passthrough = scalars[P.power_passthrough] != 0.0
    has_spikes = spike_cdf.size > 1
    blocks_per_day = scalars[P.blocks_per_day]
    days = scalars[P.days_per_step]
    net_share = scalars[P.mining_net_share]
    pool_keep = scalars[P.pool_keep]
    dr_credit = scalars[P.mining_dr_credit]
    fixed_opex = scalars[P.mining_fixed_opex_per_step]
    asic_price = scalars[P.asic_price_per_th_per_hashprice]
    kw_revenue = MONTHS_PER_YEAR * scalars[P.lease_kw_per_mw]
    noi = scalars[P.noi_margin]
    hours_per_year = scalars[P.hours_per_step] / dt
    hr_drift = scalars[P.hashrate_drift]
    hr_kdt = scalars[P.hashrate_kappa_dt]
    hr_vol = scalars[P.hashrate_vol]
    btc_drift = scalars[P.btc_drift]
    btc_vol = scalars[P.btc_vol]
    jump_mean = scalars[P.btc_jump_mean]
    jump_sd = scalars[P.btc_jump_sd]
    fees_level = scalars[P.fees_log_level]
    fees_decay = scalars[P.fees_decay]
    fees_noise = scalars[P.fees_noise]
    power_decay = scalars[P.power_decay]
    power_noise = scalars[P.power_noise]
    spike_mean = scalars[P.power_spike_mean_log]
    spike_speed_dt = scalars[P.power_speed_dt]
    lease_decay = scalars[P.lease_decay]
    lease_noise = scalars[P.lease_noise]
    salvage_per_mw = scalars[P.salvage_per_mw]
    # Escalator factors by whole contract year (a lookup instead of pow in the lease loop).
    growth_pow = np.empty(GROWTH_TABLE_SIZE)
    for i in range(GROWTH_TABLE_SIZE):
        growth_pow[i] = g_lease ** np.float64(i)
    mining_mw = np.empty(n_strat)
    hosting_mw = np.empty(n_strat)
    for s in range(n_strat):
        mining_mw[s] = grid * (1.0 - share[s])
        hosting_mw[s] = grid * share[s]

    n_dates = decision_steps.size
    n_features = centre.shape[1]
    n_terms = terms.shape[0]
    degree = 0
    for t in range(n_terms):
        for f in range(n_features):
            degree = max(degree, terms[t, f])
    powers = np.empty((n_features, degree + 1))
    # Learning: per decision date, the rows of _LEARN_ROWS, flat as in the main workspace.
    lw = np.empty(len(_LEARN_ROWS) * LANES * (n_dates if learn else 0))
    next_date = 0
    exit_weight = steps[T.discount, n_steps - 1] * switch_exit

    fees0 = fast_exp(scalars[P.fees_log0])
    for j in range(m):
        # The decision state at t = 0 (overwritten by the first step).
        w[HASHPRICE + j] = scalars[P.initial_hashprice]
        w[MARKET + j] = scalars[P.lease_rate0]
        w[POWER + j] = scalars[P.initial_power_price]
        w[SW_INDEX + j] = -1.0
        w[SW_DECISION + j] = 0.0
        w[SW_START + j] = 0.0
        w[SW_END + j] = 0.0
        w[SW_RATE + j] = 0.0
        w[SW_SPENT + j] = 0.0
        w[SW_EBITDA + j] = 0.0
        w[SW_CAPEX + j] = 0.0
        w[SW_SALVAGE + j] = 0.0
        w[MINE_PV + j] = 0.0
        w[LOG_BTC + j] = scalars[P.btc_log_price0]
        w[LOG_FEES + j] = scalars[P.fees_log0]
        w[FEES + j] = fees0
        w[LOG_HR + j] = scalars[P.hashrate_log0]
        w[POWER_DEV + j] = scalars[P.power_dev0]
        w[LEASE_DEV + j] = scalars[P.lease_dev0]
        w[RATE + j] = scalars[P.lease_rate0]
        w[SPENT + j] = 0.0
        w[SPIKE + j] = 0.0
    for s in range(n_strat):
        for j in range(m):
            w[NPV0 + s * LANES + j] = 0.0
            w[FINAL0 + s * LANES + j] = 0.0

    lt_lo = scalars[P.lead_time_min]
    lt_mode = scalars[P.lead_time_mode]
    lt_hi = scalars[P.lead_time_max]
    for j in range(m):
        p = np.uint64(path0 + j)
        x0, x1, x2, x3 = philox(p & _MASK32, p >> _S32, _PER_PATH_STEP, _PER_PATH_PAIR, key0, key1)
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
        w[CAPEX_PER_MW + j] = scalars[P.host_capex_per_mw] * math.exp(scalars[P.capex_overrun_sigma] * ndtri(u_over))
        w[START + j] = lead
        w[END + j] = lead + term

    for k in range(n_steps):
        date = -1
        if next_date < n_dates and decision_steps[next_date] == k:
            date = next_date
            next_date += 1
        salvage_unit = steps[T.salvage_per_hashprice, k]
        if switch_index >= 0:
            for j in range(m):
                w[SW_SALVAGE + j] = 0.0  # the fleet is sold only in the step of the decision
        if date >= 0 and learn:
            # Every lane converts at this date in its own copy of the host economics.
            t_now = steps[T.t_start, k]
            for j in range(m):
                for f in range(len(_FEATURE_ROWS)):
                    learn_features[date, lo + j, f] = math.log(w[_FEATURE_ROWS[f] + j])
                r = date * _LEARN_STRIDE + j
                lw[r + L_DECISION * LANES] = t_now
                lw[r + L_START * LANES] = t_now + w[LEAD + j]
                lw[r + L_END * LANES] = lw[r + L_START * LANES] + term
                lw[r + L_RATE * LANES] = w[MARKET + j]
                lw[r + L_SPENT * LANES] = 0.0
                lw[r + L_HOST_PV * LANES] = 0.0
                lw[r + L_MINE_BEFORE * LANES] = w[MINE_PV + j]
                lw[r + L_SALVAGE * LANES] = grid * (salvage_unit * w[HASHPRICE + j])
        elif date >= 0 and switch_index >= 0 and not math.isnan(coef[date, 0]):
            t_now = steps[T.t_start, k]
            for j in range(m):
                if w[SW_INDEX + j] >= 0.0:
                    continue
                # The policy: estimated advantage of converting now, on the scaled log state.
                for f in range(n_features):
                    x = (math.log(w[_FEATURE_ROWS[f] + j]) - centre[date, f]) / scale[date, f]
                    powers[f, 0] = 1.0
                    for e in range(1, degree + 1):
                        powers[f, e] = powers[f, e - 1] * x
                advantage = 0.0
                for t in range(n_terms):
                    col = 1.0
                    for f in range(n_features):
                        if terms[t, f] != 0:
                            col = col * powers[f, terms[t, f]]
                    advantage += col * coef[date, t]
                if advantage > 0.0:
                    w[SW_INDEX + j] = np.float64(date)
                    w[SW_DECISION + j] = t_now
                    w[SW_START + j] = t_now + w[LEAD + j]
                    w[SW_END + j] = w[SW_START + j] + term
                    w[SW_RATE + j] = w[MARKET + j]
                    w[SW_SPENT + j] = 0.0
                    w[SW_SALVAGE + j] = grid * (salvage_unit * w[HASHPRICE + j])
        _draw_step(u, z, tails, key0, key1, path0, m, k)
        t0 = steps[T.t_start, k]
        t1 = steps[T.t_end, k]
        by_t1 = t1 + boundary
        full_step = t1 - t0
        p_default_full = -math.expm1(-hazard * full_step)
        disc = steps[T.discount, k]
        subsidy = steps[T.subsidy_per_block, k]
        hstar_coef = steps[T.log_hstar_coef, k]
        power_level = steps[T.power_log_level, k]
        lease_level = steps[T.lease_log_level, k]
        ph = steps[T.ph_per_mw, k]
        refresh_cost = steps[T.refresh_th_per_mw, k] * asic_price
        in_final_year = steps[T.terminal_weight, k] != 0.0

        # Jumps and spikes are rare: the lanes that have one are listed first, without branches.
        n_jump = 0
        for j in range(m):
            w[JUMP + j] = 0.0
            tails[n_jump] = j
            n_jump += 1 if u[rng.SLOT_BTC_JUMP_COUNT, j] > jump_cdf[0] else 0
        for t in range(n_jump):
            j = tails[t]
            fj = np.float64(count_below(jump_cdf, u[rng.SLOT_BTC_JUMP_COUNT, j]))
            w[JUMP + j] = fj * jump_mean + math.sqrt(fj) * jump_sd * ndtri(u[rng.SLOT_BTC_JUMP_SIZE, j])
        if has_spikes:
            for j in range(m):
                w[SPIKE + j] = 0.0
                if u[rng.SLOT_POWER_SPIKE_COUNT, j] > spike_cdf[0]:
                    pp = np.uint64(path0 + j)
                    total = 0.0
                    for i in range(count_below(spike_cdf, u[rng.SLOT_POWER_SPIKE_COUNT, j])):
                        # Spike i: size and arrival time from the two halves of pair 8 + i.
                        pair = np.uint64(_SPIKE_PAIR0 + i)
                        y0, y1, y2, y3 = philox(pp & _MASK32, pp >> _S32, np.uint64(k), pair, key0, key1)
                        size = spike_mean * -math.log(uniform(y0, y1))
                        total = total + size * math.exp(-spike_speed_dt * (1.0 - uniform(y2, y3)))
                    w[SPIKE + j] = total

        # Markets and mining: straight-line arithmetic over lanes (a SIMD loop).
        for j in range(m):
            # Correlated shocks, in place: each row of the Cholesky factor times the lane's normals, summed left
            # to right with the diagonal last (as every executor does); from the last row up, so that a row reads
            # only normals no row has replaced yet. The trip counts are constants: LLVM unrolls both loops and
            # the lane loop stays a SIMD loop.
            for row in range(N_FACTORS - 1, -1, -1):
                acc = chol[row, 0] * z[0, j]
                for col in range(1, row + 1):
                    acc = acc + chol[row, col] * z[col, j]
                z[row, j] = acc
            z_btc = z[F.btc, j]
            z_fees = z[F.fees, j]
            z_hr = z[F.hashrate, j]
            z_power = z[F.power, j]
            z_lease = z[F.lease, j]

            log_btc = w[LOG_BTC + j]
            log_hr = w[LOG_HR + j]
            log_hstar = hstar_coef + fast_log(subsidy + w[FEES + j]) + log_btc
            log_hr = log_hr + (hr_drift + hr_kdt * (log_hstar - log_hr)) + hr_vol * z_hr
            log_btc = log_btc + btc_drift + btc_vol * z_btc + w[JUMP + j]
            log_fees = fees_level + (w[LOG_FEES + j] - fees_level) * fees_decay + fees_noise * z_fees
            power_dev = w[POWER_DEV + j] * power_decay + power_noise * z_power
            if has_spikes:
                power_dev = power_dev + w[SPIKE + j]
            lease_dev = w[LEASE_DEV + j] * lease_decay + lease_noise * z_lease
            w[LOG_BTC + j] = log_btc
            w[LOG_HR + j] = log_hr
            w[LOG_FEES + j] = log_fees
            w[POWER_DEV + j] = power_dev
            w[LEASE_DEV + j] = lease_dev

            b = fast_exp(log_btc)
            f = fast_exp(log_fees)
            h = fast_exp(log_hr)
            e = fast_exp(power_level + power_dev)
            w[BTC + j] = b
            w[FEES + j] = f
            w[HASHRATE + j] = h
            w[POWER + j] = e
            w[MARKET + j] = fast_exp(lease_level + lease_dev)
            price = blocks_per_day * (subsidy + f) * b / (PH_PER_EH * h)
            w[HASHPRICE + j] = price

            revenue_full = price * ph * days * net_share
            breakeven = price * ph * pool_keep / HOURS_PER_DAY
            curtailed = 1.0 if (curtailment and e > breakeven) else 0.0
            running = ppa + spot_share * (1.0 - curtailed)
            power_cost = energy * (ppa * ppa_price + spot_share * (1.0 - curtailed) * e)
            credit = energy * spot_share * curtailed * dr_credit
            w[MINE_EBITDA + j] = revenue_full * running - power_cost + credit - fixed_opex
            w[MINE_CAPEX + j] = refresh_cost * price

        # The hosting leases: per-lane events, scalar passes over lanes.
        _lease_pass(
            w, START, -1, -1, w, m, t0, t1, by_t1, full_step, p_default_full, u, g_lease, growth_pow, release, term, hazard,
            renewal, kw_revenue, noi, passthrough, hours_per_year, ppa, ppa_price, HOST_EBITDA, HOST_CAPEX,
        )
        if switch_index >= 0:
            # The switch's own lease, from its decision on (the same uniforms: common random numbers).
            _lease_pass(
                w, SW_START, SW_DECISION, SW_INDEX, w, m, t0, t1, by_t1, full_step, p_default_full, u, g_lease, growth_pow, release,
                term, hazard, renewal, kw_revenue, noi, passthrough, hours_per_year, ppa, ppa_price, SW_EBITDA, SW_CAPEX,
            )

        if learn:
            # Mining to the horizon, and the host economics from each decision date so far.
            for j in range(m):
                me = grid * w[MINE_EBITDA + j]
                pv = w[MINE_PV + j] + disc * (me - grid * w[MINE_CAPEX + j])
                if in_final_year:
                    pv = pv + exit_weight * me
                w[MINE_PV + j] = pv
            for d in range(next_date):
                base = d * _LEARN_STRIDE
                _lease_pass(
                    lw, base + L_START * LANES, base + L_DECISION * LANES, -1, w, m, t0, t1, by_t1, full_step, p_default_full, u,
                    g_lease, growth_pow, release, term, hazard, renewal, kw_revenue, noi, passthrough, hours_per_year, ppa,
                    ppa_price, S_EBITDA, S_CASH,
                )
                salvage_row = base + L_SALVAGE * LANES
                pv_row = base + L_HOST_PV * LANES
                first_step = 1.0 if decision_steps[d] == k else 0.0
                final = 1.0 if in_final_year else 0.0
                for j in range(m):
                    he = grid * w[S_EBITDA + j]
                    cash_flow = he - grid * w[S_CASH + j] + first_step * lw[salvage_row + j]
                    lw[pv_row + j] = lw[pv_row + j] + disc * cash_flow + final * (exit_weight * he)

        # Strategies: discounting, the final year's EBITDA and exact sums (SIMD loops).
        for s in range(n_strat):
            mw_mine = mining_mw[s]
            mw_host = hosting_mw[s]
            salvage = mw_host * salvage_per_mw if k == 0 else 0.0
            npv_row = NPV0 + s * LANES
            final_row = FINAL0 + s * LANES
            hi_sum = np.int64(0)
            lo_sum = np.int64(0)
            bad = 0
            # The strategy's EBITDA and cash flow per lane into two scratch rows...
            if s == switch_index:
                # Mining until the decision, then the switch's own hosting economics.
                for j in range(m):
                    converted = w[SW_INDEX + j] >= 0.0
                    ebitda = grid * w[SW_EBITDA + j] if converted else grid * w[MINE_EBITDA + j]
                    w[S_EBITDA + j] = ebitda
                    w[S_CASH + j] = ebitda - (grid * w[SW_CAPEX + j] if converted else grid * w[MINE_CAPEX + j]) + w[SW_SALVAGE + j]
            else:
                for j in range(m):
                    ebitda = mw_mine * w[MINE_EBITDA + j] + mw_host * w[HOST_EBITDA + j]
                    cash_flow = ebitda - (mw_mine * w[MINE_CAPEX + j] + mw_host * w[HOST_CAPEX + j])
                    if k == 0:
                        cash_flow = cash_flow + salvage
                    w[S_EBITDA + j] = ebitda
                    w[S_CASH + j] = cash_flow
            # ...then discounting, the final year and the exact sums, the same for every strategy.
            for j in range(m):
                ebitda = w[S_EBITDA + j]
                cash_flow = w[S_CASH + j]
                w[npv_row + j] = w[npv_row + j] + disc * cash_flow
                if in_final_year:
                    w[final_row + j] = w[final_row + j] + ebitda
                scaled = np.rint(cash_flow * _QUANTUM)
                ok = abs(scaled) < _Q_LIMIT
                q = np.int64(scaled if ok else 0.0)
                hi_sum += q >> LIMB_BITS
                lo_sum += q & _LIMB_MASK
                bad += 0 if ok else 1
            sums_hi[s, k] += hi_sum
            sums_lo[s, k] += lo_sum
            overflow += bad
            for j in range(n_keep):
                kept_cf[s, lo + j, k] = w[S_CASH + j]
        for j in range(n_keep):
            for f in range(len(_KEPT_ROWS)):
                kept_factors[f, lo + j, k] = w[_KEPT_ROWS[f] + j]

    last = steps[T.discount, n_steps - 1]
    for s in range(n_strat):
        for j in range(m):
            npv_out[s, lo + j] = w[NPV0 + s * LANES + j] + last * (exit_multiple[s] * w[FINAL0 + s * LANES + j])
    if switch_index >= 0 and not learn:
        for j in range(m):
            switch_out[lo + j] = np.int16(w[SW_INDEX + j])
    if learn:
        for d in range(n_dates):
            for j in range(m):
                base = d * _LEARN_STRIDE + j
                learn_gains[d, lo + j] = lw[base + L_HOST_PV * LANES] - (w[MINE_PV + j] - lw[base + L_MINE_BEFORE * LANES])
    return overflow


@njit(**_JIT)
def _lease_pass(
    ls, row, decision_row, only_row, w, m, t0, t1, by_t1, full_step, p_default_full, u, g_lease, growth_pow, release, term,
    hazard, renewal, kw_revenue, noi, passthrough, hours_per_year, ppa, ppa_price, ebitda_row, capex_row,
):
    """One step of a hosting lease for every lane: see reference._Lease.step and hosting_per_mw.

    The lease's start, end, rate and capex share spent are rows ``row``,
    ``row + LANES``, ``row + 2 LANES``, ``row + 3 LANES`` of ``ls``; it was
    decided at the times in row ``decision_row`` of ``ls`` (at t = 0 if -1).
    Lanes whose row ``only_row`` of ``w`` is negative are skipped (-1: none).
    The step's EBITDA and capex share per grid MW go to rows ``ebitda_row``
    and ``capex_row`` of ``w``. Lease dates up to ``by_t1`` (t1 plus the
    plan's boundary tolerance) count as at or before t1.
    """
    for j in range(m):
        if only_row >= 0 and w[only_row + j] < 0.0:
            continue
        lead = w[LEAD + j]
        market = w[MARKET + j]
        start = ls[row + j]
        end = ls[row + LANES + j]
        rate = ls[row + 2 * LANES + j]
        decision = ls[decision_row + j] if decision_row >= 0 else 0.0
        now_spent = min((t1 - decision) / max(lead, TINY_YEARS), 1.0)
        capex_share = now_spent - ls[row + 3 * LANES + j]
        ls[row + 3 * LANES + j] = now_spent
        if math.isnan(rate) and start <= by_t1:
            rate = market
        a = max(t0, start)
        bb = min(t1, end)
        rate_years = 0.0
        leased = 0.0
        if bb > a:
            rate_years = rate * _escalated(a, bb, start, g_lease, growth_pow)
            leased = bb - a
        if end <= by_t1:
            start = end if u[rng.SLOT_LEASE_RENEWAL, j] < renewal else end + release
            end = start + term
            rate = market if start <= by_t1 else np.nan
            if start < t1:
                b2 = min(t1, end)
                rate_years = rate_years + rate * _escalated(start, b2, start, g_lease, growth_pow)
                leased = leased + (b2 - start)
        if leased > 0.0:
            p_default = p_default_full if leased == full_step else -math.expm1(-hazard * leased)
            if u[rng.SLOT_TENANT_DEFAULT, j] < p_default:
                start = t1 + release
                end = start + term
                rate = market if start <= by_t1 else np.nan
        ls[row + j] = start
        ls[row + LANES + j] = end
        ls[row + 2 * LANES + j] = rate
        ebitda = rate_years * kw_revenue * noi
        if not passthrough:
            ebitda = ebitda - leased * hours_per_year * (ppa * ppa_price + (1.0 - ppa) * w[POWER + j])
        w[ebitda_row + j] = ebitda
        w[capex_row + j] = capex_share * w[CAPEX_PER_MW + j]



@njit(inline="always", **_JIT)
def _escalated(a, b, start, growth, growth_pow):
    """Integral over [a, b] of growth**floor(t - start): see reference.escalated_years."""
    years_in = math.floor(a - start)
    anniversary = start + years_in + 1.0
    before = min(b, anniversary) - a
    after = max(b - anniversary, 0.0)
    n = int(years_in)
    factor = growth_pow[n] if n < growth_pow.size else growth**years_in
    return factor * (before + after * growth)


# --------------------------------------------------------------------------- #
# Cache freshness
# --------------------------------------------------------------------------- #
# Numba invalidates a cached kernel when this file changes, not when a module it
# takes constants from does (the packed-plan layout in plan.py, the RNG layout,
# units ...). The fingerprint of those constants is frozen into the cached code;
# a mismatch means the cache is stale.
def layout_fingerprint(shared: dict) -> np.int64:
    """Fingerprint of the constants the kernels take from Python (``shared``: kernel_constants.constants())."""
    frozen = (sorted(shared.items()), GROWTH_TABLE_SIZE, _ROWS, _LEARN_ROWS, LANES)
    return np.int64(int.from_bytes(hashlib.sha256(repr(frozen).encode()).digest()[:7], "little"))


LAYOUT_FINGERPRINT = layout_fingerprint(kernel_constants.constants())


@njit(**_JIT)
def compiled_fingerprint():
    return LAYOUT_FINGERPRINT


_CACHED = (simulate_paths, _simulate_block, _lease_pass, step_uniforms_only, philox_words, ndtri_tail, compiled_fingerprint)


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
