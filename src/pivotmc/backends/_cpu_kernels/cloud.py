"""One step of a cloud conversion for every lane of a block: the GPU fleet, its compute contracts and the
step's economics (see pivotmc.backends.reference_steps.cloud_step, which this follows operation by operation).

A conversion's state is the rows :data:`~.workspace.CLOUD_ROWS` of a workspace, one after another from its
first row: decision time, commissioning date, purchase date of the fleet in use (NaN before commissioning),
its price per GPU, the share of construction capex spent, and the contract (start, end, price; a NaN price
is signed at the first fleet market price observed at or after its start).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from pivotmc import random as rng
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.workspace import (
    CAPEX_PER_MW, CL_BOUGHT, CL_COMMISSION, CL_DECISION, CL_END, CL_PAID, CL_PRICE, CL_SPENT, CL_START, GPU, LEAD,
    POWER,
)  # fmt: skip
from pivotmc.model.plan import TINY_YEARS

#: Where a cloud conversion lives: the first of its rows in its workspace, the row of ``w`` whose negative lanes
#: it skips (-1: none), and the rows of ``w`` that receive the step's EBITDA and capex per grid MW.
CloudRows = namedtuple("CloudRows", ("state", "only", "ebitda", "capex"))


@njit(inline="always", **JIT)
def start_cloud(cs, row, j, decision, lead, term, price):
    """Lane ``j`` decides at ``decision`` to convert to cloud, its first contract signed at ``price``
    (reference_steps.Cloud: its constructor for a decision at 0, ``convert`` otherwise)."""
    commission = decision + lead
    cs[row + CL_DECISION + j] = decision
    cs[row + CL_COMMISSION + j] = commission
    cs[row + CL_BOUGHT + j] = np.nan
    cs[row + CL_PAID + j] = 0.0
    cs[row + CL_SPENT + j] = 0.0
    cs[row + CL_START + j] = commission
    cs[row + CL_END + j] = commission + term
    cs[row + CL_PRICE + j] = price


@njit(inline="always", **JIT)
def aging_years(a, b, bought, aging, full, full_factor):
    """Integral over [a, b] (0 if b <= a) of exp(-aging (t - bought)): see reference_steps.aging_years.

    ``full_factor`` is its last factor for a length of ``full`` (the whole step), the common case.
    """
    length = max(b - a, 0.0)
    if aging == 0.0:
        return length
    factor = full_factor if length == full else -math.expm1(-aging * length) / aging
    return math.exp(-aging * (a - bought)) * factor


@njit(inline="always", **JIT)
def _fleet_price(g, running, aging, t1, bought):
    """The fleet's market price at t1: G exp(-aging age) once it runs, G before (reference_steps.cloud_step)."""
    return g * math.exp(-aging * (t1 - bought)) if running else g


@njit(**JIT)
def cloud_step(w, cs, rows, u, cloud, step, m):
    """One step of a cloud conversion for every lane: construction, commissioning, a refresh, the contract
    (signing, renewal at term end, the tenant's default); the step's EBITDA and capex per grid MW.

    The conversion's state is in ``cs`` from row ``rows.state`` (:data:`CloudRows`); the markets, lead
    times and capex per MW in ``w``. Dates up to ``step.by_t1`` count as at or before t1.
    """
    t0 = step.t0
    t1 = step.t1
    by_t1 = step.by_t1
    row = rows.state
    n_gpu = cloud.n_gpu
    aging = cloud.aging
    # What the whole step gives, computed once: most lanes run (and are contracted) through it.
    full = step.full_step
    aging_full = -math.expm1(-aging * full) / aging if aging != 0.0 else full
    p_default_full = -math.expm1(-cloud.hazard * full)
    for j in range(m):
        if rows.only >= 0 and w[rows.only + j] < 0.0:
            continue
        g = w[GPU + j]
        commission = cs[row + CL_COMMISSION + j]
        bought = cs[row + CL_BOUGHT + j]
        paid = cs[row + CL_PAID + j]
        c_start = cs[row + CL_START + j]
        c_end = cs[row + CL_END + j]
        c_price = cs[row + CL_PRICE + j]

        # Construction, as for host.
        now_spent = min((t1 - cs[row + CL_DECISION + j]) / max(w[LEAD + j], TINY_YEARS), 1.0)
        capex_share = now_spent - cs[row + CL_SPENT + j]
        cs[row + CL_SPENT + j] = now_spent

        # Commissioning: the first fleet is bought at its date's price.
        gpu_capex = 0.0
        if math.isnan(bought) and commission <= by_t1:
            paid = cloud.capex_per_gpu * math.exp(cloud.capex_trend * commission)
            bought = commission
            gpu_capex = n_gpu * paid
        running = not math.isnan(bought)
        a = max(t0, commission)
        operating = 0.0
        aged = 0.0
        if running:
            operating = max(t1 - a, 0.0)
            # A refresh in the step: the old fleet ages until it, the new one from it.
            refresh_at = bought + cloud.life
            if refresh_at <= by_t1:
                aged = aging_years(a, refresh_at, bought, aging, full, aging_full) + aging_years(
                    refresh_at, t1, refresh_at, aging, full, aging_full
                )
                new_paid = cloud.capex_per_gpu * math.exp(cloud.capex_trend * refresh_at)
                gpu_capex = gpu_capex + n_gpu * (new_paid - cloud.residual * paid)
                paid = new_paid
                bought = refresh_at
            else:
                aged = aging_years(a, t1, bought, aging, full, aging_full)

        # The contract: signed, run, renewed at market at term end, defaulted. A contract is signed at the
        # fleet's market price at t1, computed only then (most lane-steps sign nothing).
        if math.isnan(c_price) and c_start <= by_t1:
            c_price = _fleet_price(g, running, aging, t1, bought)
        ca = max(t0, c_start)
        cb = min(t1, c_end)
        price_years = 0.0
        contracted = 0.0
        if cb > ca:
            price_years = c_price * (cb - ca)
            contracted = cb - ca
        if c_end <= by_t1:
            c_start = c_end
            c_end = c_start + cloud.term
            c_price = _fleet_price(g, running, aging, t1, bought)
            if c_start < t1:
                b2 = min(t1, c_end)
                price_years = price_years + c_price * (b2 - c_start)
                contracted = contracted + (b2 - c_start)
        p_default = p_default_full if contracted == full else -math.expm1(-cloud.hazard * contracted)
        if contracted > 0.0 and u[rng.SLOT_CLOUD_DEFAULT, j] < p_default:
            c_start = t1 + cloud.release
            c_end = c_start + cloud.term
            c_price = _fleet_price(g, running, aging, t1, bought) if c_start <= by_t1 else np.nan

        cs[row + CL_BOUGHT + j] = bought
        cs[row + CL_PAID + j] = paid
        cs[row + CL_START + j] = c_start
        cs[row + CL_END + j] = c_end
        cs[row + CL_PRICE + j] = c_price

        # The step's economics.
        revenue = cloud.revenue_scale * (cloud.contract_weight * price_years + cloud.spot_weight * (g * aged))
        blend = cloud.ppa_cost + cloud.spot_power * w[POWER + j]
        w[rows.ebitda + j] = revenue * cloud.margin - cloud.power_scale * operating * blend
        w[rows.capex + j] = capex_share * w[CAPEX_PER_MW + j] + gpu_capex
