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

import math

import numba
import numpy as np
from numba import njit, prange

from .. import rng
from ..plan import ScalarIndex as P
from ..plan import StepIndex as T

_M0 = np.uint64(rng.PHILOX_M0)
_M1 = np.uint64(rng.PHILOX_M1)
_W0 = np.uint64(rng.PHILOX_W0)
_W1 = np.uint64(rng.PHILOX_W1)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S12 = np.uint64(12)
_TWO_M53 = 2.0**-53
_TINY_YEARS = 1e-300
_QUANTUM = float(2**16)
_Q_LIMIT = 2.0**62
_LIMB_MASK = np.int64(0xFFFFFFFF)
_PER_PATH_STEP = np.uint64(rng.PER_PATH_STEP)

# AS241 coefficients, shared with the numpy implementation.
_A = np.array(rng._A)
_B = np.array(rng._B)
_C = np.array(rng._C)
_D = np.array(rng._D)
_E = np.array(rng._E)
_F = np.array(rng._F)

_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(inline="always", **_JIT)
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 values holding 32-bit words."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0 = p0 >> _S32
        lo0 = p0 & _MASK32
        hi1 = p1 >> _S32
        lo1 = p1 & _MASK32
        c0 = hi1 ^ c1 ^ k0
        c1 = lo1
        c2 = hi0 ^ c3 ^ k1
        c3 = lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@njit(inline="always", **_JIT)
def uniform(hi, lo):
    """Open-interval uniform (2k + 1) 2^-53 from the top 52 bits of hi:lo."""
    k = ((hi << _S32) | lo) >> _S12
    return (2.0 * np.float64(k) + 1.0) * _TWO_M53


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
    r = 0.180625 - q * q
    return q * (_horner(_A, r) / _horner(_B, r))


@njit(**_JIT)
def ndtri_tail(u):
    """AS241 tail branches for |u - 1/2| > 0.425."""
    lower = u < 0.5
    p = u if lower else 1.0 - u
    r = math.sqrt(-math.log(p))
    if r <= 5.0:
        val = _horner(_C, r - 1.6) / _horner(_D, r - 1.6)
    else:
        val = _horner(_E, r - 5.0) / _horner(_F, r - 5.0)
    return -val if lower else val


@njit(inline="always", **_JIT)
def ndtri(u):
    if abs(u - 0.5) <= 0.425:
        return ndtri_central(u)
    return ndtri_tail(u)


@njit(inline="always", **_JIT)
def count_below(cdf, u):
    """Number of table entries below u: a Poisson count by inversion."""
    c = 0
    while c < cdf.size and cdf[c] < u:
        c += 1
    return c


@njit(inline="always", **_JIT)
def escalated_years(a, b, start, growth):
    years_in = math.floor(a - start)
    anniversary = start + years_in + 1.0
    before = min(b, anniversary) - a
    after = max(b - anniversary, 0.0)
    return growth**years_in * (before + after * growth)


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


@njit(**_JIT)
def step_uniforms_only(k0, k1, first_path, n_paths, n_steps, block):
    """Draw (and sum) the per-step uniforms and normals alone: the floor a fused kernel approaches."""
    n_blocks = (n_paths + block - 1) // block
    partial = np.zeros(n_blocks)
    for b in prange(n_blocks):
        lo = b * block
        m = min(block, n_paths - lo)
        u = np.empty((10, m))
        acc = 0.0
        key0 = np.uint64(k0)
        key1 = np.uint64(k1)
        for k in range(n_steps):
            _draw_step(u, key0, key1, first_path + lo, m, k)
            for i in range(7):
                for j in range(m):
                    acc += u[i, j]
        partial[b] = acc
    return partial.sum()


@njit(inline="always", **_JIT)
def _draw_step(u, key0, key1, path0, m, k):
    """The ten per-step uniforms of lanes 0..m-1, then slots 0-4 and 6 turned into normals."""
    kk = np.uint64(k)
    for j in range(m):
        p = np.uint64(path0 + j)
        c0 = p & _MASK32
        c1 = p >> _S32
        for pair in range(5):
            x0, x1, x2, x3 = philox(c0, c1, kk, np.uint64(pair), key0, key1)
            u[2 * pair, j] = uniform(x0, x1)
            u[2 * pair + 1, j] = uniform(x2, x3)
    # Normals in place: the rational central branch for every lane (vectorisable),
    # then the rare tails with their logarithm.
    for i in (0, 1, 2, 3, 4, 6):
        for j in range(m):
            x = u[i, j]
            u[i, j] = ndtri_central(x)
            if abs(x - 0.5) > 0.425:
                u[i, j] = ndtri_tail(x)


@njit(parallel=True, **_JIT)
def simulate_paths(
    scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
    k0, k1, first_path, n_paths, keep_paths, block,
    npv_out, sums_hi, sums_lo, kept_factors, kept_cf,
):
    """Simulate paths first_path .. first_path + n_paths - 1 of a packed plan.

    Writes ``npv_out`` (strategies, n_paths), adds exact limb sums of each
    step's cash flow into ``sums_hi``/``sums_lo`` (threads, strategies, steps),
    and fills ``kept_factors`` (6, kept, steps) and ``kept_cf`` (strategies,
    kept, steps) for global paths below ``keep_paths``. Returns the number of
    cash flows too large to quantise (0 when all is well).
    """
    n_blocks = (n_paths + block - 1) // block
    overflow = np.zeros(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        overflow[b] = _simulate_block(
            scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
            k0, k1, first_path, b * block, min(block, n_paths - b * block), keep_paths,
            npv_out, sums_hi[numba.get_thread_id()], sums_lo[numba.get_thread_id()], kept_factors, kept_cf,
        )
    return overflow.sum()


@njit(**_JIT)
def _simulate_block(
    scalars, steps, chol, jump_cdf, spike_cdf, share, exit_multiple,
    k0, k1, first_path, lo, m, keep_paths,
    npv_out, sums_hi, sums_lo, kept_factors, kept_cf,
):
    n_strat = share.size
    n_steps = steps.shape[1]
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    path0 = first_path + lo
    n_keep = max(0, min(m, keep_paths - path0))
    overflow = 0

    dt = scalars[P.dt]
    grid = scalars[P.grid_mw]
    g_lease = 1.0 + scalars[P.lease_escalator]
    release = scalars[P.release_time]
    term = scalars[P.lease_term]
    ppa = scalars[P.mining_ppa_fraction]
    ppa_price = scalars[P.ppa_price]
    spot_share = 1.0 - ppa
    energy = scalars[P.mining_uptime] * scalars[P.hours_per_step]
    curtailment = scalars[P.mining_curtailment] != 0.0
    passthrough = scalars[P.power_passthrough] != 0.0
    has_spikes = spike_cdf.size > 1

    # per-lane state
    log_btc = np.full(m, scalars[P.btc_log_price0])
    log_fees = np.full(m, scalars[P.fees_log0])
    log_hr = np.full(m, scalars[P.hashrate_log0])
    power_dev = np.full(m, scalars[P.power_dev0])
    lease_dev = np.full(m, scalars[P.lease_dev0])
    lead = np.empty(m)
    capex_per_mw = np.empty(m)
    start = np.empty(m)
    end = np.empty(m)
    rate = np.full(m, scalars[P.lease_rate0])
    spent = np.zeros(m)
    npv = np.zeros((n_strat, m))
    final_ebitda = np.zeros((n_strat, m))
    u = np.empty((10, m))
    mining_mw = np.empty(n_strat)
    hosting_mw = np.empty(n_strat)
    for s in range(n_strat):
        mining_mw[s] = grid * (1.0 - share[s])
        hosting_mw[s] = grid * share[s]

    lt_lo = scalars[P.lead_time_min]
    lt_mode = scalars[P.lead_time_mode]
    lt_hi = scalars[P.lead_time_max]
    for j in range(m):
        p = np.uint64(path0 + j)
        x0, x1, x2, x3 = philox(p & _MASK32, p >> _S32, _PER_PATH_STEP, np.uint64(0), key0, key1)
        u_lead = uniform(x0, x1)
        u_over = uniform(x2, x3)
        if lt_hi <= lt_lo:
            lead[j] = lt_lo
        else:
            width = lt_hi - lt_lo
            if u_lead < (lt_mode - lt_lo) / width:
                lead[j] = lt_lo + math.sqrt(u_lead * width * (lt_mode - lt_lo))
            else:
                lead[j] = lt_hi - math.sqrt((1.0 - u_lead) * width * (lt_hi - lt_mode))
        capex_per_mw[j] = scalars[P.host_capex_per_mw] * math.exp(scalars[P.capex_overrun_sigma] * ndtri(u_over))
        start[j] = lead[j]
        end[j] = lead[j] + term

    for k in range(n_steps):
        _draw_step(u, key0, key1, path0, m, k)
        t0 = steps[T.t_start, k]
        t1 = steps[T.t_end, k]
        disc = steps[T.discount, k]
        subsidy = steps[T.subsidy_per_block, k]
        ph = steps[T.ph_per_mw, k]
        refresh = steps[T.refresh_th_per_mw, k]
        in_final_year = steps[T.terminal_weight, k] != 0.0
        for j in range(m):
            z0 = u[0, j]
            z1 = u[1, j]
            z2 = u[2, j]
            z3 = u[3, j]
            z4 = u[4, j]
            z_btc = chol[0, 0] * z0
            z_fees = chol[1, 0] * z0 + chol[1, 1] * z1
            z_hr = chol[2, 0] * z0 + chol[2, 1] * z1 + chol[2, 2] * z2
            z_power = chol[3, 0] * z0 + chol[3, 1] * z1 + chol[3, 2] * z2 + chol[3, 3] * z3
            z_lease = chol[4, 0] * z0 + chol[4, 1] * z1 + chol[4, 2] * z2 + chol[4, 3] * z3 + chol[4, 4] * z4

            # hashrate: error correction toward the equilibrium at t_k
            log_hstar = steps[T.log_hstar_coef, k] + math.log(subsidy + math.exp(log_fees[j])) + log_btc[j]
            log_hr[j] = (
                log_hr[j]
                + (scalars[P.hashrate_drift] + scalars[P.hashrate_kappa_dt] * (log_hstar - log_hr[j]))
                + scalars[P.hashrate_vol] * z_hr
            )
            # BTC
            jumps = count_below(jump_cdf, u[5, j])
            jump = 0.0
            if jumps > 0:
                fj = np.float64(jumps)
                jump = fj * scalars[P.btc_jump_mean] + math.sqrt(fj) * scalars[P.btc_jump_sd] * u[6, j]
            log_btc[j] = log_btc[j] + scalars[P.btc_drift] + scalars[P.btc_vol] * z_btc + jump
            # fees
            level = scalars[P.fees_log_level]
            log_fees[j] = level + (log_fees[j] - level) * scalars[P.fees_decay] + scalars[P.fees_noise] * z_fees
            # power
            power_dev[j] = power_dev[j] * scalars[P.power_decay] + scalars[P.power_noise] * z_power
            if has_spikes:
                count = count_below(spike_cdf, u[7, j])
                if count > 0:
                    total = 0.0
                    pp = np.uint64(path0 + j)
                    for i in range(count):
                        slot = rng.SLOT_POWER_SPIKE_SIZE0 + i
                        y0, y1, y2, y3 = philox(pp & _MASK32, pp >> _S32, np.uint64(k), np.uint64(slot // 2), key0, key1)
                        us = uniform(y0, y1) if slot % 2 == 0 else uniform(y2, y3)
                        total = total + scalars[P.power_spike_mean_log] * -math.log(us)
                    power_dev[j] = power_dev[j] + total
            # lease rate
            lease_dev[j] = lease_dev[j] * scalars[P.lease_decay] + scalars[P.lease_noise] * z_lease

            btc_price = math.exp(log_btc[j])
            fees = math.exp(log_fees[j])
            hashrate = math.exp(log_hr[j])
            power_price = math.exp(steps[T.power_log_level, k] + power_dev[j])
            market = math.exp(steps[T.lease_log_level, k] + lease_dev[j])
            hp = scalars[P.blocks_per_day] * (subsidy + fees) * btc_price / (1000.0 * hashrate)

            # mining, per grid MW
            revenue_full = hp * ph * scalars[P.days_per_step] * scalars[P.mining_net_share]
            curtailed = 0.0
            if curtailment:
                breakeven = hp * ph * scalars[P.pool_keep] / 24.0
                if power_price > breakeven:
                    curtailed = 1.0
            running = ppa + spot_share * (1.0 - curtailed)
            power_cost = energy * (ppa * ppa_price + spot_share * (1.0 - curtailed) * power_price)
            credit = energy * spot_share * curtailed * scalars[P.mining_dr_credit]
            mine_ebitda = revenue_full * running - power_cost + credit - scalars[P.mining_fixed_opex_per_step]
            mine_capex = refresh * scalars[P.asic_price_per_th_per_hashprice] * hp

            # hosting lease, per grid MW
            now_spent = min(t1 / max(lead[j], _TINY_YEARS), 1.0)
            capex_share = now_spent - spent[j]
            spent[j] = now_spent
            if math.isnan(rate[j]) and start[j] < t1:
                rate[j] = market
            a = max(t0, start[j])
            bb = min(t1, end[j])
            rate_years = 0.0
            leased = 0.0
            if bb > a:
                rate_years = rate[j] * escalated_years(a, bb, start[j], g_lease)
                leased = bb - a
            if end[j] <= t1:
                if u[9, j] < scalars[P.renewal_probability]:
                    new_start = end[j]
                else:
                    new_start = end[j] + release
                start[j] = new_start
                end[j] = new_start + term
                if start[j] < t1:
                    rate[j] = market
                    b2 = min(t1, end[j])
                    rate_years = rate_years + rate[j] * escalated_years(start[j], b2, start[j], g_lease)
                    leased = leased + (b2 - start[j])
                else:
                    rate[j] = np.nan
            if leased > 0.0 and u[8, j] < -math.expm1(-scalars[P.default_hazard] * leased):
                start[j] = t1 + release
                end[j] = start[j] + term
                rate[j] = np.nan
            host_ebitda = rate_years * (12.0 * scalars[P.lease_kw_per_mw]) * scalars[P.noi_margin]
            if not passthrough:
                blend = ppa * ppa_price + (1.0 - ppa) * power_price
                host_ebitda = host_ebitda - leased * (scalars[P.hours_per_step] / dt) * blend
            host_capex = capex_share * capex_per_mw[j]

            for s in range(n_strat):
                ebitda = mining_mw[s] * mine_ebitda + hosting_mw[s] * host_ebitda
                cash_flow = ebitda - (mining_mw[s] * mine_capex + hosting_mw[s] * host_capex)
                if k == 0:
                    cash_flow = cash_flow + hosting_mw[s] * scalars[P.salvage_per_mw]
                npv[s, j] = npv[s, j] + disc * cash_flow
                if in_final_year:
                    final_ebitda[s, j] = final_ebitda[s, j] + ebitda
                scaled = np.rint(cash_flow * _QUANTUM)
                if abs(scaled) < _Q_LIMIT:
                    q = np.int64(scaled)
                    sums_hi[s, k] += q >> 32
                    sums_lo[s, k] += q & _LIMB_MASK
                else:
                    overflow += 1
                if j < n_keep:
                    kept_cf[s, lo + j, k] = cash_flow
            if j < n_keep:
                row = lo + j
                kept_factors[0, row, k] = btc_price
                kept_factors[1, row, k] = hashrate
                kept_factors[2, row, k] = fees
                kept_factors[3, row, k] = power_price
                kept_factors[4, row, k] = market
                kept_factors[5, row, k] = hp

    last = steps[T.discount, n_steps - 1]
    for s in range(n_strat):
        for j in range(m):
            npv_out[s, lo + j] = npv[s, j] + last * (exit_multiple[s] * final_ebitda[s, j])
    return overflow
