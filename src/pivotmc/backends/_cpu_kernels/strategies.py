"""The switch's decision and the strategies' cash flows: step functions 7 to 9 (see pivotmc.backends.reference).

``decide`` applies the switch policy at a decision date, ``strategy_cash_flows``
combines mining, hosting and cloud into each strategy's EBITDA and cash flow,
and ``accumulate`` discounts them into the NPV, the final year's EBITDA, the
exact quantised sums and the kept trajectories. The learning runs have their
own: ``convert_all`` (every lane converts, in its own copies of the host and,
for the three-way switch, the cloud economics per date), ``accumulate_mining``,
``accumulate_conversion`` and ``gains``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.cloud import start_cloud
from pivotmc.backends._cpu_kernels.workspace import (
    CLOUD_CAPEX, CLOUD_EBITDA, FEATURE_ROWS, FINAL0, GPU, HASHPRICE, HOST_CAPEX, HOST_EBITDA, KEPT_ROWS, L_CLOUD,
    L_CLOUD_PV, L_DECISION, L_END, L_HOST_PV, L_MINE_BEFORE, L_RATE, L_SALVAGE, L_SPENT, L_START, LANES, LEAD,
    LEARN_STRIDE_CLOUD, MARKET, MINE_CAPEX, MINE_EBITDA, MINE_PV, NPV0, S_CASH, S_EBITDA, SW_ACTION, SW_CAPEX,
    SW_CLOUD, SW_CLOUD_STATE, SW_DECISION, SW_EBITDA, SW_END, SW_HOST, SW_INDEX, SW_RATE, SW_SALVAGE, SW_SPENT,
    SW_START,
)  # fmt: skip
from pivotmc.backends.accumulate import LIMB_BITS, QUANTISED_LIMIT, QUANTUM

_LIMB_MASK = np.int64((1 << LIMB_BITS) - 1)


@njit(inline="always", **JIT)
def decide(w, powers, learned, policy, date, step, lease, cloud, grid, m):
    """The switch policy at decision date ``date``: each lane still mining takes the action with the largest
    estimated advantage (the first on a tie) if it is positive, converting to host (its lease signed at the
    market rate) or to cloud (its first contract at the GPU price); its fleet is sold (``SW_SALVAGE``).

    ``learned[a]`` is whether action ``a`` has a regression at this date (else its advantage is -inf).
    """
    centre = policy.centre
    scale = policy.scale
    coef = policy.coef
    terms = policy.terms
    degree = policy.degree
    n_features = centre.shape[1]
    n_terms = terms.shape[0]
    n_actions = coef.shape[0]
    t_now = step.t0
    for j in range(m):
        if w[SW_INDEX + j] >= 0.0:
            continue
        # The policy: estimated advantage of each action now, on the scaled log state.
        for f in range(n_features):
            x = (math.log(w[FEATURE_ROWS[f] + j]) - centre[date, f]) / scale[date, f]
            powers[f, 0] = 1.0
            for e in range(1, degree + 1):
                powers[f, e] = powers[f, e - 1] * x
        best = 0
        best_advantage = -np.inf
        for a in range(n_actions):
            advantage = -np.inf
            if learned[a]:
                advantage = 0.0
                for t in range(n_terms):
                    col = 1.0
                    for f in range(n_features):
                        if terms[t, f] != 0:
                            col = col * powers[f, terms[t, f]]
                    advantage += col * coef[a, date, t]
            if a == 0 or advantage > best_advantage:
                best = a
                best_advantage = advantage
        if best_advantage > 0.0:
            date_f = np.float64(date)
            w[SW_INDEX + j] = date_f
            w[SW_ACTION + j] = np.float64(best)
            if best == policy.cloud_action:
                w[SW_CLOUD + j] = date_f
                start_cloud(w, SW_CLOUD_STATE, j, t_now, w[LEAD + j], cloud.term, w[GPU + j])
            else:
                w[SW_HOST + j] = date_f
                w[SW_DECISION + j] = t_now
                w[SW_START + j] = t_now + w[LEAD + j]
                w[SW_END + j] = w[SW_START + j] + lease.term
                w[SW_RATE + j] = w[MARKET + j]
                w[SW_SPENT + j] = 0.0
            w[SW_SALVAGE + j] = grid * (step.salvage_unit * w[HASHPRICE + j])


@njit(inline="always", **JIT)
def learned_actions(learned, coef, date):
    """Whether each action has a regression at decision date ``date`` (no NaN coefficient)."""
    for a in range(coef.shape[0]):
        ok = True
        for t in range(coef.shape[2]):
            ok = ok and not math.isnan(coef[a, date, t])
        learned[a] = ok


@njit(inline="always", **JIT)
def strategy_cash_flows(w, s, strategies, step, grid, m):
    """Strategy ``s``'s EBITDA and cash flow per lane into the rows S_EBITDA and S_CASH."""
    if s == strategies.switch_index:
        # Mining until the decision, then the switch's own conversion (its host or cloud economics).
        for j in range(m):
            converted = w[SW_INDEX + j] >= 0.0
            ebitda = grid * w[SW_EBITDA + j] if converted else grid * w[MINE_EBITDA + j]
            w[S_EBITDA + j] = ebitda
            w[S_CASH + j] = ebitda - (grid * w[SW_CAPEX + j] if converted else grid * w[MINE_CAPEX + j]) + w[SW_SALVAGE + j]
    else:
        mw_mine = strategies.mining_mw[s]
        mw_host = strategies.hosting_mw[s]
        mw_cloud = strategies.cloud_mw[s]
        on_cloud = mw_cloud > 0.0  # a strategy without cloud adds nothing (exactly) from it
        first = step.k == 0
        salvage = strategies.salvage[s] if first else 0.0
        for j in range(m):
            ebitda = mw_mine * w[MINE_EBITDA + j] + mw_host * w[HOST_EBITDA + j]
            cash_flow = ebitda - (mw_mine * w[MINE_CAPEX + j] + mw_host * w[HOST_CAPEX + j])
            if on_cloud:
                cloud_ebitda = mw_cloud * w[CLOUD_EBITDA + j]
                ebitda = ebitda + cloud_ebitda
                cash_flow = cash_flow + (cloud_ebitda - mw_cloud * w[CLOUD_CAPEX + j])
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
def convert_all(w, lw, stride, features, date, step, lease, cloud, grid, block):
    """At decision date ``date`` every lane converts, in its own copies of the host economics and (with a
    ``stride`` of LEARN_STRIDE_CLOUD) of the cloud economics; record its features."""
    t_now = step.t0
    n_features = features.shape[2]
    with_cloud = stride == LEARN_STRIDE_CLOUD
    base = date * stride
    for j in range(block.m):
        for f in range(n_features):
            features[date, block.lo + j, f] = math.log(w[FEATURE_ROWS[f] + j])
        r = base + j
        lw[r + L_DECISION] = t_now
        lw[r + L_START] = t_now + w[LEAD + j]
        lw[r + L_END] = lw[r + L_START] + lease.term
        lw[r + L_RATE] = w[MARKET + j]
        lw[r + L_SPENT] = 0.0
        lw[r + L_HOST_PV] = 0.0
        lw[r + L_MINE_BEFORE] = w[MINE_PV + j]
        lw[r + L_SALVAGE] = grid * (step.salvage_unit * w[HASHPRICE + j])
        if with_cloud:
            lw[r + L_CLOUD_PV] = 0.0
            start_cloud(lw, base + L_CLOUD, j, t_now, w[LEAD + j], cloud.term, w[GPU + j])


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
def accumulate_conversion(w, lw, base, pv_row, first_step, step, grid, exit_weight, m):
    """The NPV of a conversion at the decision date whose rows start at ``base``, into its row ``pv_row``
    (its step's EBITDA and capex per grid MW are in S_EBITDA and S_CASH)."""
    salvage_row = base + L_SALVAGE
    pv_row = base + pv_row
    first = 1.0 if first_step else 0.0
    final = 1.0 if step.in_final_year else 0.0
    disc = step.disc
    for j in range(m):
        he = grid * w[S_EBITDA + j]
        cash_flow = he - grid * w[S_CASH + j] + first * lw[salvage_row + j]
        lw[pv_row + j] = lw[pv_row + j] + disc * cash_flow + final * (exit_weight * he)


@njit(inline="always", **JIT)
def gains(w, lw, stride, n_dates, gains_out, block):
    """Realised gain of converting at each date, per action (host, then cloud with a LEARN_STRIDE_CLOUD
    ``stride``): the conversion's NPV from the date against the mining NPV it replaces."""
    with_cloud = stride == LEARN_STRIDE_CLOUD
    for d in range(n_dates):
        for j in range(block.m):
            base = d * stride + j
            replaced = w[MINE_PV + j] - lw[base + L_MINE_BEFORE]
            gains_out[0, d, block.lo + j] = lw[base + L_HOST_PV] - replaced
            if with_cloud:
                gains_out[1, d, block.lo + j] = lw[base + L_CLOUD_PV] - replaced
