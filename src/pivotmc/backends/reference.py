"""The reference backend: the whole model in plain numpy, vectorised over paths.

It is written to be read, as the step functions every executor shares, in
the same order and under the same names (the Numba kernels in
:mod:`pivotmc.backends._cpu_kernels`, the CUDA kernel with a ``pivotmc_``
prefix): ``per_path_draws``, ``draw_step``, ``correlate``, ``advance_markets``,
``mine``, ``lease_step``, ``decide``, ``strategy_cash_flows`` and ``accumulate``
(in :mod:`pivotmc.backends.reference_steps`), and the entry points
``simulate_block`` and ``learning_block`` built from them here. Every other
backend is tested against it, so its arithmetic order is the specification
(documented inline where it matters).

Paths are processed in blocks, so memory is O(block + kept paths x steps);
every operation is element-wise in the path, so results do not depend on the
block size, bit for bit.
"""

from __future__ import annotations

import numpy as np

from pivotmc.backends import NO_POLICY_MESSAGE, Capabilities, ChunkResult, KeptPaths
from pivotmc.backends.accumulate import ExactSum
from pivotmc.backends.reference_cloud import Cloud, cloud_step
from pivotmc.backends.reference_steps import (
    Lease, Markets, Outputs, accumulate, advance_markets, correlate, decide, draw_step, initial_state, lease_step, mine,
    per_path_draws, settle, strategy_cash_flows, switch_features,
)  # fmt: skip
from pivotmc.errors import ValidationError
from pivotmc.model.plan import Plan

__all__ = [
    "CAPABILITIES", "run_chunk", "switch_learning_data", "unavailable_reason", "DEFAULT_BLOCK_PATHS", "correlate",
    "simulate_block", "learning_block",
]  # fmt: skip

DEFAULT_BLOCK_PATHS = 1 << 13
CAPABILITIES = Capabilities(learning=True, compiles=False)


def unavailable_reason() -> str | None:
    return None


def run_chunk(
    plan: Plan,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    keep_paths: int = 0,
    block_paths: int | None = None,
    policy=None,
) -> ChunkResult:
    """Simulate paths ``first_path .. first_path + n_paths - 1``.

    Parameters
    ----------
    plan : Plan
        The lowered scenario.
    key : (int, int)
        Philox key from :func:`pivotmc.random.seed_key`.
    first_path, n_paths : int
        The global path range; path ``i`` always sees the same random numbers.
    keep_paths : int
        Trajectories are returned for global paths ``< keep_paths``.
    block_paths : int, optional
        Paths per vectorised block (memory knob; results do not depend on it).
    policy : pivotmc.policy.switch.SwitchPolicy, optional
        The switch strategy's exercise policy; needed when the plan values switch.
    """
    if plan.switch_index >= 0 and policy is None:
        raise ValidationError(NO_POLICY_MESSAGE)
    block = int(block_paths or DEFAULT_BLOCK_PATHS)
    n_strat, n_steps = plan.n_strategies, plan.n_steps
    npv = np.empty((n_strat, n_paths))
    sums = ExactSum((n_strat, n_steps))
    kept, _ = KeptPaths.allocate(first_path, n_paths, keep_paths, n_strat, n_steps)
    n_kept = kept.paths.size
    switch = np.full(n_paths, -1, dtype=np.int16) if plan.switch_index >= 0 else None
    action = np.full(n_paths, -1, dtype=np.int8) if plan.switch_index >= 0 else None
    for lo in range(0, n_paths, block):
        hi = min(n_paths, lo + block)
        paths = np.arange(first_path + lo, first_path + hi, dtype=np.uint64)
        keep_here = max(0, min(n_kept, hi) - lo)
        switch_here = None if switch is None else switch[lo:hi]
        action_here = None if action is None else action[lo:hi]
        out = Outputs(npv[:, lo:hi], sums, kept, lo, keep_here, switch_here, action_here)
        simulate_block(plan, key, paths, out, policy)
    return ChunkResult(
        first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept, switch_decision=switch, switch_action=action
    )


def switch_learning_data(
    plan: Plan, key: tuple[int, int], first_path: int, n_paths: int, block_paths: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """What the switch policy learns from, for paths ``first_path ..`` (see :mod:`pivotmc.policy.switch`).

    Returns
    -------
    features : ndarray, float32, shape (dates, n_paths, len(plan.switch_features))
        Logs of hashprice, lease rate and power price (and GPU price for the
        three-way switch) at each decision date.
    gains : ndarray, float64, shape (len(plan.switch_actions), dates, n_paths)
        Per action, the realised NPV (to t = 0) of converting at each decision
        date minus that of mining to the horizon: the conversion's cash flows
        from the date (salvage, construction, the lease or the GPU fleet and
        what follows) against the mining cash flows they replace, exit values
        included.
    """
    block = int(block_paths or DEFAULT_BLOCK_PATHS)
    n_dates = plan.decision_steps.size
    features = np.empty((n_dates, n_paths, len(plan.switch_features)), dtype=np.float32)
    gains = np.empty((len(plan.switch_actions), n_dates, n_paths))
    for lo in range(0, n_paths, block):
        hi = min(n_paths, lo + block)
        paths = np.arange(first_path + lo, first_path + hi, dtype=np.uint64)
        features[:, lo:hi], gains[:, :, lo:hi] = learning_block(plan, key, paths)
    return features, gains


# --------------------------------------------------------------------------- #
# The entry points: one block of paths
# --------------------------------------------------------------------------- #
def simulate_block(plan: Plan, key: tuple[int, int], paths: np.ndarray, out: Outputs, switch_policy=None) -> None:
    """Value the strategies on one block of paths into ``out``."""
    n = paths.size
    lead_time, capex_per_mw = per_path_draws(plan, key, paths)
    markets = Markets(plan, n)
    lease = Lease(plan, lead_time)
    cloud = Cloud(plan, lead_time) if plan.static_cloud else None
    switch = plan.switch_index >= 0
    if switch:
        # The switch mines until its policy converts; its own lease or fleet starts at that decision.
        decision_at = {int(k): j for j, k in enumerate(plan.decision_steps)}
        switch_lease = Lease(plan, lead_time)
        switch_cloud = Cloud(plan, lead_time) if plan.switch_cloud else None
        state = initial_state(plan, n)

    for k in range(plan.n_steps):
        salvage_now = None
        if switch and k in decision_at:
            salvage_now = decide(
                plan, switch_policy, decision_at[k], k, state, out.switch, out.action, switch_lease, switch_cloud
            )
        u, z = draw_step(key, paths, k)
        shock = correlate(plan.chol, z)
        m = advance_markets(plan, markets, k, u, shock, key, paths)
        mining = mine(plan, k, m)
        hosting = lease_step(plan, lease, k, m, u, capex_per_mw)
        cloud_flows = cloud_step(plan, cloud, k, m, u, capex_per_mw) if cloud is not None else None
        switch_flows = None
        if switch:
            # The same uniforms as the static strategies' conversions (common random numbers).
            sw_host = lease_step(plan, switch_lease, k, m, u, capex_per_mw)
            sw_cloud = cloud_step(plan, switch_cloud, k, m, u, capex_per_mw) if switch_cloud is not None else None
            switch_flows = (out.switch, out.action, sw_host, sw_cloud, salvage_now)
            state = m
        ebitda, cash_flow = strategy_cash_flows(plan, k, mining, hosting, switch_flows, cloud_flows)
        accumulate(plan, k, m, ebitda, cash_flow, out)
    settle(plan, out)


def learning_block(plan: Plan, key: tuple[int, int], paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decision-date features and realised gains of converting at each date (see switch_learning_data)."""
    n = paths.size
    lead_time, capex_per_mw = per_path_draws(plan, key, paths)
    grid = plan.grid_mw
    exit_weight = plan.discount[-1] * plan.switch_exit_multiple
    markets = Markets(plan, n)
    decision_at = {int(k): j for j, k in enumerate(plan.decision_steps)}
    n_dates = plan.decision_steps.size
    n_actions = len(plan.switch_actions)
    features = np.empty((n_dates, n, len(plan.switch_features)))
    action_pv = np.zeros((n_actions, n_dates, n))  # NPV of each conversion's cash flows after converting at each date
    mine_before = np.zeros((n_dates, n))  # NPV of the mining cash flows before each date
    mine_pv = np.zeros(n)
    conversions: list[list] = []  # per date, the conversion of every path to each action, in its own copy
    state = initial_state(plan, n)
    everyone = np.arange(n)
    for k in range(plan.n_steps):
        salvage_now = None
        if k in decision_at:
            j = decision_at[k]
            features[j] = switch_features(plan, state)
            mine_before[j] = mine_pv
            lease = Lease(plan, lead_time)
            lease.convert(plan, everyone, plan.t_start[k], state["lease_rate"])
            copies = [lease]
            if plan.switch_cloud:
                cloud = Cloud(plan, lead_time)
                cloud.convert(plan, everyone, plan.t_start[k], state["gpu_price"])
                copies.append(cloud)
            conversions.append(copies)
            salvage_now = grid * (plan.salvage_per_hashprice[k] * state["hashprice"])
        u, z = draw_step(key, paths, k)
        shock = correlate(plan.chol, z)
        m = advance_markets(plan, markets, k, u, shock, key, paths)
        mine_ebitda, mine_capex = mine(plan, k, m)
        # Mining to the horizon, and each conversion's economics from each decision date so far.
        mine_pv = mine_pv + plan.discount[k] * (grid * mine_ebitda - grid * mine_capex)
        if plan.terminal_weight[k]:
            mine_pv = mine_pv + exit_weight * (grid * mine_ebitda)
        for j, copies in enumerate(conversions):
            for a, copy in enumerate(copies):
                step = lease_step if isinstance(copy, Lease) else cloud_step
                conv_ebitda, conv_capex = step(plan, copy, k, m, u, capex_per_mw)
                cash_flow = grid * conv_ebitda - grid * conv_capex
                if salvage_now is not None and j == len(conversions) - 1:
                    cash_flow = cash_flow + salvage_now
                action_pv[a, j] += plan.discount[k] * cash_flow
                if plan.terminal_weight[k]:
                    action_pv[a, j] += exit_weight * (grid * conv_ebitda)
        state = m
    gains = action_pv - (mine_pv - mine_before)
    return features.astype(np.float32), gains
