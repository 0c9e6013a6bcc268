"""The two entry points of the cpu executor, built from the step functions in the order every executor keeps.

``simulate_block`` values the strategies on one block of lanes and
``learning_block`` computes what the switch policy learns from;
``simulate_paths`` and ``learning_paths`` run them in parallel over the blocks
of a range of paths. Within a block the step loop is outside and the lane loops
inside (see :mod:`pivotmc.backends._cpu_kernels`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from pivotmc import random as rng
from pivotmc.backends._cpu_kernels.cloud import CloudRows, cloud_step, start_cloud
from pivotmc.backends._cpu_kernels.draws import draw_step, per_path_draws
from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends._cpu_kernels.lease import LeaseRows, lease_step
from pivotmc.backends._cpu_kernels.markets import advance_markets, correlate, initial_markets, mine
from pivotmc.backends._cpu_kernels.strategies import (
    accumulate, accumulate_conversion, accumulate_mining, convert_all, decide, gains, keep_factors, learned_actions,
    settle, strategy_cash_flows,
)  # fmt: skip
from pivotmc.backends._cpu_kernels.workspace import (
    CLOUD, CLOUD_CAPEX, CLOUD_EBITDA, FINAL0, HOST_CAPEX, HOST_EBITDA, L_CLOUD, L_CLOUD_PV, L_DECISION, L_HOST_PV,
    L_START, LANES, LEAD, LEARN_STRIDE, LEARN_STRIDE_CLOUD, MINE_PV, NPV0, RATE, S_CASH, S_EBITDA, SPENT, START,
    SW_ACTION, SW_CAPEX, SW_CLOUD, SW_CLOUD_STATE, SW_DECISION, SW_EBITDA, SW_END, SW_HOST, SW_INDEX, SW_RATE,
    SW_SALVAGE, SW_SPENT, SW_START, WORKSPACE, Block, LearningOutputs, Outputs, cloud_terms, lease_terms, market_params,
    mining_params, policy, step_inputs, strategies,
)  # fmt: skip
from pivotmc.model.factors import N_FACTORS
from pivotmc.model.plan import StepIndex as T

_HOST_LEASE = LeaseRows(START, -1, -1, HOST_EBITDA, HOST_CAPEX)
_STATIC_CLOUD = CloudRows(CLOUD, -1, CLOUD_EBITDA, CLOUD_CAPEX)
#: The switch's own lease and cloud conversion, from its decision on; each skips the lanes not converted to it,
#: and both write the switch's rows (a lane is on one of them at most).
_SWITCH_LEASE = LeaseRows(SW_START, SW_DECISION, SW_HOST, SW_EBITDA, SW_CAPEX)
_SWITCH_CLOUD = CloudRows(SW_CLOUD_STATE, SW_CLOUD, SW_EBITDA, SW_CAPEX)


@njit(inline="always", **JIT)
def _block(first_path, lo, n_paths, lanes, keep_paths, key):
    m = min(lanes, n_paths - lo)
    path0 = first_path + lo
    return Block(np.uint64(key[0]), np.uint64(key[1]), path0, lo, m, max(0, min(m, keep_paths - path0)))


@njit(parallel=True, **JIT)
def simulate_paths(plan, key, paths, strategy_arrays, policy_arrays, outputs):
    """Value the strategies on paths first_path .. first_path + n_paths - 1 of a packed plan.

    ``plan`` is (scalars, steps, chol, btc_jump_cdf, power_spike_cdf) of
    :func:`pivotmc.model.plan.pack`; ``key`` the Philox key; ``paths`` is
    (first_path, n_paths, keep_paths, lanes per block, at most :data:`LANES`);
    ``strategy_arrays`` (share converted to host, share converted to cloud,
    exit multiple, the switch's position or -1); ``policy_arrays`` (decision
    steps, centre, scale, coefficients (actions, dates, terms), terms:
    :meth:`pivotmc.policy.switch.SwitchPolicy.kernel_arrays`; the switch's
    exit multiple; the positions of host and cloud among its actions, -1 for
    one it does not have). ``outputs`` is (npv (strategies, n_paths), exact
    limb sums hi and lo (threads, strategies, steps), kept factors
    (len(KEPT_FACTORS), kept, steps), kept cash flows (strategies, kept,
    steps), the switch's decision index and action per path). Returns the
    number of cash flows too large to quantise (0 when all is well).
    """
    first_path, n_paths, keep_paths, block = paths
    npv, sums_hi, sums_lo, kept_factors, kept_cf, switch, action = outputs
    lanes = min(block, LANES)
    n_blocks = (n_paths + lanes - 1) // lanes
    overflow = np.zeros(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        tid = numba.get_thread_id()
        lanes_b = _block(first_path, b * lanes, n_paths, lanes, keep_paths, key)
        out = Outputs(npv, sums_hi[tid], sums_lo[tid], kept_factors, kept_cf, switch, action)
        overflow[b] = simulate_block(plan, lanes_b, strategy_arrays, policy_arrays, out)
    return overflow.sum()


@njit(parallel=True, **JIT)
def learning_paths(plan, key, paths, policy_arrays, outputs):
    """The switch policy's learning data on paths first_path .. first_path + n_paths - 1.

    Arguments as :func:`simulate_paths` (``paths`` without kept paths: first_path,
    n_paths, lanes); ``outputs`` is (features (dates, n_paths, features), gains
    (actions, dates, n_paths)).
    """
    first_path, n_paths, block = paths
    lanes = min(block, LANES)
    n_blocks = (n_paths + lanes - 1) // lanes
    for b in prange(n_blocks):
        lanes_b = _block(first_path, b * lanes, n_paths, lanes, 0, key)
        learning_block(plan, lanes_b, policy_arrays, LearningOutputs(outputs[0], outputs[1]))


@njit(**JIT)
def simulate_block(plan, block, strategy_arrays, policy_arrays, out):
    """Value the strategies on one block of lanes; return the number of cash flows too large to quantise."""
    scalars, steps, chol, jump_cdf, spike_cdf = plan
    markets = market_params(scalars, chol, jump_cdf, spike_cdf)
    mining = mining_params(scalars)
    lease = lease_terms(scalars)
    cloud = cloud_terms(scalars)
    strats = strategies(scalars, strategy_arrays)
    pol = policy(policy_arrays)
    grid = mining.grid
    m = block.m
    n_steps = steps.shape[1]
    n_dates = pol.decision_steps.size
    sw = strats.switch_index
    static_cloud = strats.static_cloud
    switch_cloud = sw >= 0 and pol.cloud_action >= 0
    w = np.empty(WORKSPACE)
    u = np.empty((rng.N_STEP_SLOTS, LANES))
    z = np.empty((N_FACTORS, LANES))
    tails = np.empty(LANES, dtype=np.int64)
    powers = np.empty((pol.centre.shape[1], pol.degree + 1))
    learned = np.empty(pol.coef.shape[0], dtype=np.bool_)

    initial_markets(w, markets, m)
    for j in range(m):
        w[RATE + j] = markets.lease_rate0
        w[SPENT + j] = 0.0
        for row in (SW_INDEX, SW_ACTION, SW_HOST, SW_CLOUD):
            w[row + j] = -1.0
        for row in (SW_DECISION, SW_START, SW_END, SW_RATE, SW_SPENT, SW_EBITDA, SW_CAPEX, SW_SALVAGE):
            w[row + j] = 0.0
    for s in range(strats.n):
        for j in range(m):
            w[NPV0 + s * LANES + j] = 0.0
            w[FINAL0 + s * LANES + j] = 0.0
    per_path_draws(w, lease, block)
    if static_cloud:
        for j in range(m):
            start_cloud(w, CLOUD, j, 0.0, w[LEAD + j], cloud.term, markets.gpu_price0)

    overflow = 0
    next_date = 0
    for k in range(n_steps):
        step = step_inputs(steps, k, lease, mining)
        if sw >= 0:
            for j in range(m):
                w[SW_SALVAGE + j] = 0.0  # the fleet is sold only in the step of the decision
            if next_date < n_dates and pol.decision_steps[next_date] == k:
                learned_actions(learned, pol.coef, next_date)
                if learned.any():
                    decide(w, powers, learned, pol, next_date, step, lease, cloud, grid, m)
                next_date += 1
        draw_step(u, z, tails, block, k)
        correlate(z, chol, m)
        advance_markets(w, u, z, tails, markets, step, block)
        mine(w, mining, step, m)
        lease_step(w, w, _HOST_LEASE, u, lease, step, m)
        if static_cloud:
            cloud_step(w, w, _STATIC_CLOUD, u, cloud, step, m)
        if sw >= 0:
            # The switch's own conversions, with the same uniforms (common random numbers).
            lease_step(w, w, _SWITCH_LEASE, u, lease, step, m)
            if switch_cloud:
                cloud_step(w, w, _SWITCH_CLOUD, u, cloud, step, m)
        for s in range(strats.n):
            strategy_cash_flows(w, s, strats, step, grid, m)
            overflow += accumulate(w, s, step, out, block)
        keep_factors(w, out.kept_factors, block, k)

    settle(w, strats, steps[T.discount, n_steps - 1], out.npv, block)
    if sw >= 0:
        for j in range(m):
            out.switch[block.lo + j] = np.int16(w[SW_INDEX + j])
            out.action[block.lo + j] = np.int8(w[SW_ACTION + j])
    return overflow


@njit(**JIT)
def learning_block(plan, block, policy_arrays, out):
    """The switch policy's learning data on one block of lanes: features and realised gains at each decision date."""
    scalars, steps, chol, jump_cdf, spike_cdf = plan
    markets = market_params(scalars, chol, jump_cdf, spike_cdf)
    mining = mining_params(scalars)
    lease = lease_terms(scalars)
    cloud = cloud_terms(scalars)
    pol = policy(policy_arrays)
    grid = mining.grid
    m = block.m
    n_steps = steps.shape[1]
    decision_steps = pol.decision_steps
    n_dates = decision_steps.size
    exit_weight = steps[T.discount, n_steps - 1] * pol.exit_multiple
    with_cloud = pol.cloud_action >= 0
    stride = LEARN_STRIDE_CLOUD if with_cloud else LEARN_STRIDE
    w = np.empty(WORKSPACE)
    lw = np.empty(stride * n_dates)  # per decision date, the rows of LEARN_ROWS (and CLOUD_ROWS)
    u = np.empty((rng.N_STEP_SLOTS, LANES))
    z = np.empty((N_FACTORS, LANES))
    tails = np.empty(LANES, dtype=np.int64)

    initial_markets(w, markets, m)
    for j in range(m):
        w[MINE_PV + j] = 0.0
    per_path_draws(w, lease, block)

    next_date = 0
    for k in range(n_steps):
        step = step_inputs(steps, k, lease, mining)
        if next_date < n_dates and decision_steps[next_date] == k:
            convert_all(w, lw, stride, out.features, next_date, step, lease, cloud, grid, block)
            next_date += 1
        draw_step(u, z, tails, block, k)
        correlate(z, chol, m)
        advance_markets(w, u, z, tails, markets, step, block)
        mine(w, mining, step, m)
        # Mining to the horizon, and each conversion's economics from each decision date so far.
        accumulate_mining(w, step, grid, exit_weight, m)
        for d in range(next_date):
            base = d * stride
            first = decision_steps[d] == k
            lease_step(w, lw, LeaseRows(base + L_START, base + L_DECISION, -1, S_EBITDA, S_CASH), u, lease, step, m)
            accumulate_conversion(w, lw, base, L_HOST_PV, first, step, grid, exit_weight, m)
            if with_cloud:
                cloud_step(w, lw, CloudRows(base + L_CLOUD, -1, S_EBITDA, S_CASH), u, cloud, step, m)
                accumulate_conversion(w, lw, base, L_CLOUD_PV, first, step, grid, exit_weight, m)
    gains(w, lw, stride, n_dates, out.gains, block)
