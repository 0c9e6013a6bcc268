"""The switch's decision and the strategies' cash flows: step functions 7 to 9 (see pivotmc.backends.reference).

``decide`` applies the switch policy at a decision date, ``strategy_cash_flows``
combines mining and hosting into each strategy's EBITDA and cash flow, and
``accumulate`` discounts them into the NPV, the final year's EBITDA, the exact
quantised sums and the kept trajectories. The learning runs have their own:
``convert_all`` (every lane converts, in its own copy of the host economics
per date), ``accumulate_mining``, ``accumulate_hosting`` and ``gains``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.workspace import (
    FEATURE_ROWS, FINAL0, HASHPRICE, HOST_CAPEX, HOST_EBITDA, KEPT_ROWS, L_DECISION, L_END, L_HOST_PV, L_MINE_BEFORE,
    L_RATE, L_SALVAGE, L_SPENT, L_START, LANES, LEAD, LEARN_STRIDE, MARKET, MINE_CAPEX, MINE_EBITDA, MINE_PV, NPV0,
    S_CASH, S_EBITDA, SW_CAPEX, SW_DECISION, SW_EBITDA, SW_END, SW_INDEX, SW_RATE, SW_SALVAGE, SW_SPENT, SW_START,
)  # fmt: skip
from pivotmc.backends.accumulate import LIMB_BITS, QUANTISED_LIMIT, QUANTUM

_LIMB_MASK = np.int64((1 << LIMB_BITS) - 1)


@njit(inline="always", **JIT)
def decide(w, powers, policy, date, step, lease, grid, m):
    """The switch policy at decision date ``date``: lanes still mining whose estimated advantage is positive convert."""
    centre = policy.centre
    scale = policy.scale
    coef = policy.coef
    terms = policy.terms
    degree = policy.degree
    n_features = centre.shape[1]
    n_terms = terms.shape[0]
    t_now = step.t0
    for j in range(m):
        if w[SW_INDEX + j] >= 0.0:
            continue
        # The policy: estimated advantage of converting now, on the scaled log state.
        for f in range(n_features):
            x = (math.log(w[FEATURE_ROWS[f] + j]) - centre[date, f]) / scale[date, f]
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
            w[SW_END + j] = w[SW_START + j] + lease.term
            w[SW_RATE + j] = w[MARKET + j]
            w[SW_SPENT + j] = 0.0
            w[SW_SALVAGE + j] = grid * (step.salvage_unit * w[HASHPRICE + j])


@njit(inline="always", **JIT)
def strategy_cash_flows(w, s, strategies, step, grid, m):
    """Strategy ``s``'s EBITDA and cash flow per lane into the rows S_EBITDA and S_CASH."""
    if s == strategies.switch_index:
        # Mining until the decision, then the switch's own hosting economics.
        for j in range(m):
            converted = w[SW_INDEX + j] >= 0.0
            ebitda = grid * w[SW_EBITDA + j] if converted else grid * w[MINE_EBITDA + j]
            w[S_EBITDA + j] = ebitda
            w[S_CASH + j] = ebitda - (grid * w[SW_CAPEX + j] if converted else grid * w[MINE_CAPEX + j]) + w[SW_SALVAGE + j]
    else:
        mw_mine = strategies.mining_mw[s]
        mw_host = strategies.hosting_mw[s]
        first = step.k == 0
        salvage = mw_host * strategies.salvage_per_mw if first else 0.0
        for j in range(m):
            ebitda = mw_mine * w[MINE_EBITDA + j] + mw_host * w[HOST_EBITDA + j]
            cash_flow = ebitda - (mw_mine * w[MINE_CAPEX + j] + mw_host * w[HOST_CAPEX + j])
            if first:
                cash_flow = cash_flow + salvage
            w[S_EBITDA + j] = ebitda
            w[S_CASH + j] = cash_flow


@njit(inline="always", **JIT)
def accumulate(w, s, step, out, block):
    """Discount strategy ``s``'s cash flow into its NPV, add its final-year EBITDA, its exact sums and kept
    trajectories; return the number of cash flows too large to quantise."""
    npv_row = NPV0 + s * LANES
    final_row = FINAL0 + s * LANES
    disc = step.disc
    in_final_year = step.in_final_year
    hi_sum = np.int64(0)
    lo_sum = np.int64(0)
    bad = 0
    for j in range(block.m):
        ebitda = w[S_EBITDA + j]
        cash_flow = w[S_CASH + j]
        w[npv_row + j] = w[npv_row + j] + disc * cash_flow
        if in_final_year:
            w[final_row + j] = w[final_row + j] + ebitda
        scaled = np.rint(cash_flow * QUANTUM)
        ok = abs(scaled) < QUANTISED_LIMIT
        q = np.int64(scaled if ok else 0.0)
        hi_sum += q >> LIMB_BITS
        lo_sum += q & _LIMB_MASK
        bad += 0 if ok else 1
    k = step.k
    out.sums_hi[s, k] += hi_sum
    out.sums_lo[s, k] += lo_sum
    for j in range(block.n_keep):
        out.kept_cf[s, block.lo + j, k] = w[S_CASH + j]
    return bad


@njit(inline="always", **JIT)
def keep_factors(w, kept_factors, block, k):
    """The kept lanes' factor trajectories at step k."""
    for j in range(block.n_keep):
        for f in range(len(KEPT_ROWS)):
            kept_factors[f, block.lo + j, k] = w[KEPT_ROWS[f] + j]


@njit(inline="always", **JIT)
def settle(w, strategies, last_discount, npv_out, block):
    """Each strategy's NPV: the discounted cash flows plus the exit value of the final year's EBITDA."""
    for s in range(strategies.n):
        for j in range(block.m):
            npv_out[s, block.lo + j] = w[NPV0 + s * LANES + j] + last_discount * (
                strategies.exit_multiple[s] * w[FINAL0 + s * LANES + j]
            )


# --------------------------------------------------------------------------- #
# Learning
# --------------------------------------------------------------------------- #
@njit(inline="always", **JIT)
def convert_all(w, lw, features, date, step, lease, grid, block):
    """At decision date ``date`` every lane converts, in its own copy of the host economics; record its features."""
    t_now = step.t0
    for j in range(block.m):
        for f in range(len(FEATURE_ROWS)):
            features[date, block.lo + j, f] = math.log(w[FEATURE_ROWS[f] + j])
        r = date * LEARN_STRIDE + j
        lw[r + L_DECISION] = t_now
        lw[r + L_START] = t_now + w[LEAD + j]
        lw[r + L_END] = lw[r + L_START] + lease.term
        lw[r + L_RATE] = w[MARKET + j]
        lw[r + L_SPENT] = 0.0
        lw[r + L_HOST_PV] = 0.0
        lw[r + L_MINE_BEFORE] = w[MINE_PV + j]
        lw[r + L_SALVAGE] = grid * (step.salvage_unit * w[HASHPRICE + j])


@njit(inline="always", **JIT)
def accumulate_mining(w, step, grid, exit_weight, m):
    """The NPV of mining to the horizon, exit value included."""
    disc = step.disc
    for j in range(m):
        me = grid * w[MINE_EBITDA + j]
        pv = w[MINE_PV + j] + disc * (me - grid * w[MINE_CAPEX + j])
        if step.in_final_year:
            pv = pv + exit_weight * me
        w[MINE_PV + j] = pv


@njit(inline="always", **JIT)
def accumulate_hosting(w, lw, date, first_step, step, grid, exit_weight, m):
    """The NPV of hosting after converting at decision date ``date`` (its lease's step is in S_EBITDA, S_CASH)."""
    base = date * LEARN_STRIDE
    salvage_row = base + L_SALVAGE
    pv_row = base + L_HOST_PV
    first = 1.0 if first_step else 0.0
    final = 1.0 if step.in_final_year else 0.0
    disc = step.disc
    for j in range(m):
        he = grid * w[S_EBITDA + j]
        cash_flow = he - grid * w[S_CASH + j] + first * lw[salvage_row + j]
        lw[pv_row + j] = lw[pv_row + j] + disc * cash_flow + final * (exit_weight * he)


@njit(inline="always", **JIT)
def gains(w, lw, n_dates, gains_out, block):
    """Realised gain of converting at each date: host NPV from the date against the mining NPV it replaces."""
    for d in range(n_dates):
        for j in range(block.m):
            base = d * LEARN_STRIDE + j
            gains_out[d, block.lo + j] = lw[base + L_HOST_PV] - (w[MINE_PV + j] - lw[base + L_MINE_BEFORE])
