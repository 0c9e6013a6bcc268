"""One step of a hosting lease for every lane of a block: step function 6 (see pivotmc.backends.reference)."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from pivotmc import random as rng
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.workspace import CAPEX_PER_MW, LEAD, LEASE_END, LEASE_RATE, LEASE_SPENT, MARKET, POWER
from pivotmc.model.plan import TINY_YEARS

#: Where a lease lives: its rows in its workspace (start, then end, rate and capex share spent), the row of its
#: decision times (-1: decided at t = 0), the row of ``w`` whose negative lanes it skips (-1: none), and the rows
#: of ``w`` that receive the step's EBITDA and capex share per grid MW.
LeaseRows = namedtuple("LeaseRows", ("start", "decision", "only", "ebitda", "capex"))


@njit(**JIT)
def lease_step(w, ls, rows, u, lease, step, m):
    """One step of a hosting lease for every lane: events, EBITDA and capex share per grid MW.

    The lease's state is in ``ls`` at ``rows`` (:data:`LeaseRows`); the
    markets, lead times and capex per MW in ``w``. Lease dates up to
    ``step.by_t1`` (t1 plus the plan's boundary tolerance) count as at or
    before t1.
    """
    t0 = step.t0
    t1 = step.t1
    by_t1 = step.by_t1
    row = rows.start
    for j in range(m):
        if rows.only >= 0 and w[rows.only + j] < 0.0:
            continue
        lead = w[LEAD + j]
        market = w[MARKET + j]
        start = ls[row + j]
        end = ls[row + LEASE_END + j]
        rate = ls[row + LEASE_RATE + j]
        decision = ls[rows.decision + j] if rows.decision >= 0 else 0.0
        now_spent = min((t1 - decision) / max(lead, TINY_YEARS), 1.0)
        capex_share = now_spent - ls[row + LEASE_SPENT + j]
        ls[row + LEASE_SPENT + j] = now_spent
        if math.isnan(rate) and start <= by_t1:
            rate = market
        a = max(t0, start)
        bb = min(t1, end)
        rate_years = 0.0
        leased = 0.0
        if bb > a:
            rate_years = rate * escalated(a, bb, start, lease.growth, lease.growth_pow)
            leased = bb - a
        if end <= by_t1:
            start = end if u[rng.SLOT_LEASE_RENEWAL, j] < lease.renewal else end + lease.release
            end = start + lease.term
            rate = market if start <= by_t1 else np.nan
            if start < t1:
                b2 = min(t1, end)
                rate_years = rate_years + rate * escalated(start, b2, start, lease.growth, lease.growth_pow)
                leased = leased + (b2 - start)
        if leased > 0.0:
            p_default = step.p_default_full if leased == step.full_step else -math.expm1(-lease.hazard * leased)
            if u[rng.SLOT_TENANT_DEFAULT, j] < p_default:
                start = t1 + lease.release
                end = start + lease.term
                rate = market if start <= by_t1 else np.nan
        ls[row + j] = start
        ls[row + LEASE_END + j] = end
        ls[row + LEASE_RATE + j] = rate
        ebitda = rate_years * lease.kw_revenue * lease.noi
        if not lease.passthrough:
            ebitda = ebitda - leased * lease.hours_per_year * (lease.ppa * lease.ppa_price + (1.0 - lease.ppa) * w[POWER + j])
        w[rows.ebitda + j] = ebitda
        w[rows.capex + j] = capex_share * w[CAPEX_PER_MW + j]


@njit(inline="always", **JIT)
def escalated(a, b, start, growth, growth_pow):
    """Integral over [a, b] of growth**floor(t - start): see reference.escalated_years."""
    years_in = math.floor(a - start)
    anniversary = start + years_in + 1.0
    before = min(b, anniversary) - a
    after = max(b - anniversary, 0.0)
    n = int(years_in)
    factor = growth_pow[n] if n < growth_pow.size else growth**years_in
    return factor * (before + after * growth)
