"""The markets and mining for every lane of a block: step functions 3 to 5 (see pivotmc.backends.reference).

``correlate`` turns the step's normals into correlated shocks, ``advance_markets``
moves every factor and computes the prices, ``mine`` the mining economics per
grid MW. Each is a loop over lanes of straight-line arithmetic (a SIMD loop);
the rare jumps and spikes are listed first and handled in scalar passes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pivotmc import random as rng
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.numerics import MASK32, S32, count_below, fast_exp, fast_log, ndtri, philox, uniform
from pivotmc.backends._cpu_kernels.workspace import (
    BTC, FEES, GPU, GPU_DEV, HASHPRICE, HASHRATE, JUMP, LEASE_DEV, LOG_BTC, LOG_FEES, LOG_HR, MARKET, MINE_CAPEX,
    MINE_EBITDA, POWER, POWER_DEV, SPIKE,
)  # fmt: skip
from pivotmc.model.factors import N_FACTORS
from pivotmc.model.factors import FactorIndex as F
from pivotmc.model.units import HOURS_PER_DAY, PH_PER_EH

# Spike i's size and arrival time are the two halves of one pair (see pivotmc.random).
assert rng.SLOT_POWER_SPIKE_SIZE0 % 2 == 0 and rng.SLOT_POWER_SPIKE_TIME0 == rng.SLOT_POWER_SPIKE_SIZE0 + 1
_SPIKE_PAIR0 = rng.SLOT_POWER_SPIKE_SIZE0 // 2


@njit(inline="always", **JIT)
def initial_markets(w, markets, m):
    """The market state at t = 0, and the decision state the switch sees before the first step."""
    fees0 = fast_exp(markets.log_fees0)
    for j in range(m):
        w[HASHPRICE + j] = markets.hashprice0
        w[MARKET + j] = markets.lease_rate0
        w[POWER + j] = markets.power0
        w[GPU + j] = markets.gpu_price0
        w[LOG_BTC + j] = markets.log_btc0
        w[LOG_FEES + j] = markets.log_fees0
        w[FEES + j] = fees0
        w[LOG_HR + j] = markets.log_hr0
        w[POWER_DEV + j] = markets.power_dev0
        w[LEASE_DEV + j] = markets.lease_dev0
        w[GPU_DEV + j] = markets.gpu_dev0
        w[SPIKE + j] = 0.0


@njit(inline="always", **JIT)
def correlate(z, chol, m):
    """Correlated shocks, in place: each row of the Cholesky factor times the lane's normals.

    Summed left to right with the diagonal last (as every executor does); from
    the last row up, so that a row reads only normals no row has replaced yet.
    The trip counts are constants: LLVM unrolls both loops and the lane loop
    stays a SIMD loop.
    """
    for j in range(m):
        for row in range(N_FACTORS - 1, -1, -1):
            acc = chol[row, 0] * z[0, j]
            for col in range(1, row + 1):
                acc = acc + chol[row, col] * z[col, j]
            z[row, j] = acc


@njit(inline="always", **JIT)
def advance_markets(w, u, z, tails, markets, step, block):
    """BTC jumps, power spikes, every factor's log-state from t_k to t_{k+1}, the prices and the hashprice."""
    m = block.m
    jump_cdf = markets.jump_cdf
    spike_cdf = markets.spike_cdf
    # Jumps and spikes are rare: the lanes that have one are listed first, without branches.
    n_jump = 0
    for j in range(m):
        w[JUMP + j] = 0.0
        tails[n_jump] = j
        n_jump += 1 if u[rng.SLOT_BTC_JUMP_COUNT, j] > jump_cdf[0] else 0
    for t in range(n_jump):
        j = tails[t]
        fj = np.float64(count_below(jump_cdf, u[rng.SLOT_BTC_JUMP_COUNT, j]))
        w[JUMP + j] = fj * markets.jump_mean + math.sqrt(fj) * markets.jump_sd * ndtri(u[rng.SLOT_BTC_JUMP_SIZE, j])
    has_spikes = markets.has_spikes
    if has_spikes:
        spike_mean = markets.spike_mean
        spike_speed_dt = markets.spike_speed_dt
        kk = np.uint64(step.k)
        for j in range(m):
            w[SPIKE + j] = 0.0
            if u[rng.SLOT_POWER_SPIKE_COUNT, j] > spike_cdf[0]:
                pp = np.uint64(block.path0 + j)
                total = 0.0
                for i in range(count_below(spike_cdf, u[rng.SLOT_POWER_SPIKE_COUNT, j])):
                    # Spike i: size and arrival time from the two halves of pair 8 + i.
                    pair = np.uint64(_SPIKE_PAIR0 + i)
                    y0, y1, y2, y3 = philox(pp & MASK32, pp >> S32, kk, pair, block.key0, block.key1)
                    size = spike_mean * -math.log(uniform(y0, y1))
                    total = total + size * math.exp(-spike_speed_dt * (1.0 - uniform(y2, y3)))
                w[SPIKE + j] = total

    hr_drift = markets.hr_drift
    hr_kdt = markets.hr_kdt
    hr_vol = markets.hr_vol
    btc_drift = markets.btc_drift
    btc_vol = markets.btc_vol
    fees_level = markets.fees_level
    fees_decay = markets.fees_decay
    fees_noise = markets.fees_noise
    power_decay = markets.power_decay
    power_noise = markets.power_noise
    lease_decay = markets.lease_decay
    lease_noise = markets.lease_noise
    gpu_decay = markets.gpu_decay
    gpu_noise = markets.gpu_noise
    blocks_per_day = markets.blocks_per_day
    subsidy = step.subsidy
    hstar_coef = step.hstar_coef
    power_level = step.power_level
    lease_level = step.lease_level
    gpu_level = step.gpu_level
    for j in range(m):
        z_btc = z[F.btc, j]
        z_fees = z[F.fees, j]
        z_hr = z[F.hashrate, j]
        z_power = z[F.power, j]
        z_lease = z[F.lease, j]
        z_gpu = z[F.gpu, j]

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
        gpu_dev = w[GPU_DEV + j] * gpu_decay + gpu_noise * z_gpu
        w[LOG_BTC + j] = log_btc
        w[LOG_HR + j] = log_hr
        w[LOG_FEES + j] = log_fees
        w[POWER_DEV + j] = power_dev
        w[LEASE_DEV + j] = lease_dev
        w[GPU_DEV + j] = gpu_dev

        b = fast_exp(log_btc)
        f = fast_exp(log_fees)
        h = fast_exp(log_hr)
        w[BTC + j] = b
        w[FEES + j] = f
        w[HASHRATE + j] = h
        w[POWER + j] = fast_exp(power_level + power_dev)
        w[MARKET + j] = fast_exp(lease_level + lease_dev)
        w[GPU + j] = fast_exp(gpu_level + gpu_dev)
        w[HASHPRICE + j] = blocks_per_day * (subsidy + f) * b / (PH_PER_EH * h)


@njit(inline="always", **JIT)
def mine(w, mining, step, m):
    """Mining EBITDA and capex of the step per grid MW: spot-bought load curtailed when power costs more than it earns."""
    ph = step.ph
    refresh_cost = step.refresh_cost
    days = mining.days
    net_share = mining.net_share
    pool_keep = mining.pool_keep
    curtailment = mining.curtailment
    ppa = mining.ppa
    ppa_price = mining.ppa_price
    spot_share = mining.spot_share
    energy = mining.energy
    dr_credit = mining.dr_credit
    fixed_opex = mining.fixed_opex
    for j in range(m):
        price = w[HASHPRICE + j]
        e = w[POWER + j]
        revenue_full = price * ph * days * net_share
        breakeven = price * ph * pool_keep / HOURS_PER_DAY
        curtailed = 1.0 if (curtailment and e > breakeven) else 0.0
        running = ppa + spot_share * (1.0 - curtailed)
        power_cost = energy * (ppa * ppa_price + spot_share * (1.0 - curtailed) * e)
        credit = energy * spot_share * curtailed * dr_credit
        w[MINE_EBITDA + j] = revenue_full * running - power_cost + credit - fixed_opex
        w[MINE_CAPEX + j] = refresh_cost * price
