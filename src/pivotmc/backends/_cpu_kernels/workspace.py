"""The lane workspace and the records every step function takes.

A block's per-lane values live in one flat array, row after row, with a row
length known at compile time. LLVM then sees every access as one base plus a
constant offset, proves the rows independent, and vectorises the lane loops;
with separate arrays it must check aliasing at run time and gives up.

The scalars of the packed plan are grouped once per block into named records
(the same names as the CUDA structs and the reference's arguments):
:data:`MarketParams`, :data:`MiningParams`, :data:`LeaseTerms`,
:data:`CloudTerms`, :data:`Strategies`, :data:`Policy`, :data:`Block`, and
per step :data:`StepInputs`. Numba passes them as tuples, so inlined step functions
read their fields as registers.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from pivotmc.backends._cpu_kernels.jit import JIT
from pivotmc.backends.kernel_constants import GROWTH_TABLE_SIZE, MAX_STRATEGIES
from pivotmc.backends import KEPT_FACTORS
from pivotmc.model.plan import CLOUD_FEATURES, SWITCH_FEATURES
from pivotmc.model.plan import ScalarIndex as P
from pivotmc.model.plan import StepIndex as T
from pivotmc.model.units import HOURS_PER_YEAR, MONTHS_PER_YEAR

LANES = 256
#: A cloud conversion's rows (see reference_steps.Cloud), one after another from its first row.
CLOUD_ROWS = ("decision", "commission", "bought", "paid", "spent", "c_start", "c_end", "c_price")
CL_DECISION, CL_COMMISSION, CL_BOUGHT, CL_PAID, CL_SPENT, CL_START, CL_END, CL_PRICE = (
    i * LANES for i in range(len(CLOUD_ROWS))
)  # fmt: skip
ROWS = (
    "jump", "spike",
    "log_btc", "log_fees", "fees", "log_hr", "power_dev", "lease_dev", "gpu_dev",
    "btc", "hashrate", "power", "market", "hashprice", "gpu",
    "mine_ebitda", "mine_capex", "host_ebitda", "host_capex", "cloud_ebitda", "cloud_capex",
    "lead", "capex_per_mw", "start", "end", "rate", "spent",
    *("cloud_" + name for name in CLOUD_ROWS),
    "sw_index", "sw_action", "sw_host", "sw_cloud",
    "sw_decision", "sw_start", "sw_end", "sw_rate", "sw_spent", "sw_ebitda", "sw_capex", "sw_salvage",
    *("sw_cloud_" + name for name in CLOUD_ROWS),
    "mine_pv", "s_ebitda", "s_cash",
)  # fmt: skip
_OFF = {name: i * LANES for i, name in enumerate(ROWS)}
JUMP, SPIKE = _OFF["jump"], _OFF["spike"]
LOG_BTC, LOG_FEES, FEES, LOG_HR = _OFF["log_btc"], _OFF["log_fees"], _OFF["fees"], _OFF["log_hr"]
POWER_DEV, LEASE_DEV, GPU_DEV = _OFF["power_dev"], _OFF["lease_dev"], _OFF["gpu_dev"]
BTC, HASHRATE, POWER, MARKET, HASHPRICE = _OFF["btc"], _OFF["hashrate"], _OFF["power"], _OFF["market"], _OFF["hashprice"]
GPU = _OFF["gpu"]
MINE_EBITDA, MINE_CAPEX, HOST_EBITDA, HOST_CAPEX = _OFF["mine_ebitda"], _OFF["mine_capex"], _OFF["host_ebitda"], _OFF["host_capex"]
CLOUD_EBITDA, CLOUD_CAPEX, CLOUD = _OFF["cloud_ebitda"], _OFF["cloud_capex"], _OFF["cloud_decision"]
LEAD, CAPEX_PER_MW, START, END, RATE, SPENT = _OFF["lead"], _OFF["capex_per_mw"], _OFF["start"], _OFF["end"], _OFF["rate"], _OFF["spent"]
SW_INDEX, SW_DECISION, SW_START, SW_END = _OFF["sw_index"], _OFF["sw_decision"], _OFF["sw_start"], _OFF["sw_end"]
SW_RATE, SW_SPENT, SW_EBITDA, SW_CAPEX, SW_SALVAGE = _OFF["sw_rate"], _OFF["sw_spent"], _OFF["sw_ebitda"], _OFF["sw_capex"], _OFF["sw_salvage"]
#: The switch's action per lane (-1 until it converts), and per conversion the decision index of the lanes
#: converted to it (-1 for the others: the conversion's step skips them); its cloud conversion's rows.
SW_ACTION, SW_HOST, SW_CLOUD = _OFF["sw_action"], _OFF["sw_host"], _OFF["sw_cloud"]
SW_CLOUD_STATE = _OFF["sw_cloud_decision"]
MINE_PV, S_EBITDA, S_CASH = _OFF["mine_pv"], _OFF["s_ebitda"], _OFF["s_cash"]
#: The factors' rows by their result names, in the orders of KEPT_FACTORS and of the switch's features.
_FACTOR_ROWS = {"btc_price": BTC, "hashrate": HASHRATE, "fees": FEES, "power_price": POWER, "lease_rate": MARKET,
                "hashprice": HASHPRICE, "gpu_price": GPU}  # fmt: skip
KEPT_ROWS = tuple(_FACTOR_ROWS[name] for name in KEPT_FACTORS)
#: The rows of the switch's features: the first len(plan.switch_features) of them (the GPU price for the
#: three-way switch only).
FEATURE_ROWS = tuple(_FACTOR_ROWS[name] for name in SWITCH_FEATURES + CLOUD_FEATURES)
#: Rows of the learning workspace, one set per decision date, flat as in the main workspace: the host
#: conversion's, then (three-way switch only) the cloud conversion's.
LEARN_ROWS = ("decision", "start", "end", "rate", "spent", "host_pv", "mine_before", "salvage", "cloud_pv")
L_DECISION, L_START, L_END, L_RATE, L_SPENT, L_HOST_PV, L_MINE_BEFORE, L_SALVAGE, L_CLOUD_PV = (
    i * LANES for i in range(len(LEARN_ROWS))
)  # fmt: skip
L_CLOUD = len(LEARN_ROWS) * LANES  # the cloud conversion's rows (CLOUD_ROWS)
#: Rows per decision date of the two-way switch (without the cloud conversion's state), and of the three-way one.
LEARN_STRIDE = (len(LEARN_ROWS) - 1) * LANES
LEARN_STRIDE_CLOUD = L_CLOUD + len(CLOUD_ROWS) * LANES
NPV0 = len(ROWS) * LANES  # then MAX_STRATEGIES rows of NPV, then as many of final-year EBITDA
FINAL0 = NPV0 + MAX_STRATEGIES * LANES
WORKSPACE = FINAL0 + MAX_STRATEGIES * LANES
#: A lease's rows (start, end, rate, spent) follow one another from its start row.
LEASE_END, LEASE_RATE, LEASE_SPENT = LANES, 2 * LANES, 3 * LANES

# --------------------------------------------------------------------------- #
# Records
# --------------------------------------------------------------------------- #
#: The markets' dynamics and their state at t = 0.
MarketParams = namedtuple("MarketParams", (
    "chol", "jump_cdf", "spike_cdf", "has_spikes",
    "hr_drift", "hr_kdt", "hr_vol", "btc_drift", "btc_vol", "jump_mean", "jump_sd",
    "fees_level", "fees_decay", "fees_noise", "power_decay", "power_noise", "spike_mean", "spike_speed_dt",
    "lease_decay", "lease_noise", "gpu_decay", "gpu_noise", "blocks_per_day",
    "log_btc0", "log_fees0", "log_hr0", "power_dev0", "lease_dev0", "gpu_dev0", "hashprice0", "power0", "lease_rate0",
    "gpu_price0",
))  # fmt: skip
#: Mining economics per grid MW.
MiningParams = namedtuple("MiningParams", (
    "grid", "ppa", "ppa_price", "spot_share", "energy", "curtailment", "days", "net_share", "pool_keep",
    "dr_credit", "fixed_opex", "asic_price",
))  # fmt: skip
#: The hosting conversion: construction (lead time, capex per MW) and the lease's terms.
LeaseTerms = namedtuple("LeaseTerms", (
    "lead_min", "lead_mode", "lead_max", "capex_per_mw", "capex_sigma",
    "growth", "growth_pow", "release", "boundary", "term", "hazard", "renewal",
    "kw_revenue", "noi", "passthrough", "hours_per_year", "ppa", "ppa_price",
))  # fmt: skip
#: The cloud conversion: the GPU fleet, its contracts and the step's economics per grid MW (reference_steps.cloud_step).
CloudTerms = namedtuple("CloudTerms", (
    "n_gpu", "capex_per_gpu", "capex_trend", "life", "residual", "aging", "term", "hazard", "release",
    "revenue_scale", "contract_weight", "spot_weight", "margin", "power_scale", "ppa_cost", "spot_power",
))  # fmt: skip
#: The strategies valued: MW mining, hosting and on cloud, exit multiples, the salvage of the fleet converted at
#: t = 0, the switch's position (-1: none), whether a static strategy runs the cloud economics.
Strategies = namedtuple("Strategies", (
    "n", "mining_mw", "hosting_mw", "cloud_mw", "exit_multiple", "salvage", "switch_index", "static_cloud",
))  # fmt: skip
#: The switch policy: decision steps and, per action and date, the regression (see SwitchPolicy.kernel_arrays;
#: coef is (actions, dates, terms)); the positions of host and cloud among the plan's actions (-1: not an action).
Policy = namedtuple("Policy", (
    "decision_steps", "centre", "scale", "coef", "terms", "degree", "exit_multiple", "host_action", "cloud_action",
))  # fmt: skip
#: A block of lanes: its Philox key, first global path, first path of the run's outputs, lanes and kept lanes.
Block = namedtuple("Block", ("key0", "key1", "path0", "lo", "m", "n_keep"))
#: Step k's row of the plan, and what follows from it.
StepInputs = namedtuple("StepInputs", (
    "k", "t0", "t1", "by_t1", "full_step", "p_default_full", "disc", "subsidy", "hstar_coef",
    "power_level", "lease_level", "gpu_level", "ph", "refresh_cost", "in_final_year", "salvage_unit",
))  # fmt: skip
#: What a valuation writes: per-path NPV, exact per-step sums, kept trajectories, switch decisions and actions.
Outputs = namedtuple("Outputs", ("npv", "sums_hi", "sums_lo", "kept_factors", "kept_cf", "switch", "action"))
#: What a learning run writes: features and realised gains per decision date.
LearningOutputs = namedtuple("LearningOutputs", ("features", "gains"))


@njit(inline="always", **JIT)
def market_params(scalars, chol, jump_cdf, spike_cdf):
    return MarketParams(
        chol, jump_cdf, spike_cdf, spike_cdf.size > 1,
        scalars[P.hashrate_drift], scalars[P.hashrate_kappa_dt], scalars[P.hashrate_vol],
        scalars[P.btc_drift], scalars[P.btc_vol], scalars[P.btc_jump_mean], scalars[P.btc_jump_sd],
        scalars[P.fees_log_level], scalars[P.fees_decay], scalars[P.fees_noise],
        scalars[P.power_decay], scalars[P.power_noise], scalars[P.power_spike_mean_log], scalars[P.power_speed_dt],
        scalars[P.lease_decay], scalars[P.lease_noise], scalars[P.gpu_decay], scalars[P.gpu_noise],
        scalars[P.blocks_per_day],
        scalars[P.btc_log_price0], scalars[P.fees_log0], scalars[P.hashrate_log0], scalars[P.power_dev0],
        scalars[P.lease_dev0], scalars[P.gpu_dev0], scalars[P.initial_hashprice], scalars[P.initial_power_price],
        scalars[P.lease_rate0], scalars[P.gpu_price0],
    )  # fmt: skip


@njit(inline="always", **JIT)
def mining_params(scalars):
    ppa = scalars[P.mining_ppa_fraction]
    return MiningParams(
        scalars[P.grid_mw], ppa, scalars[P.ppa_price], 1.0 - ppa, scalars[P.mining_uptime] * scalars[P.hours_per_step],
        scalars[P.mining_curtailment] != 0.0, scalars[P.days_per_step], scalars[P.mining_net_share], scalars[P.pool_keep],
        scalars[P.mining_dr_credit], scalars[P.mining_fixed_opex_per_step], scalars[P.asic_price_per_th_per_hashprice],
    )  # fmt: skip


@njit(inline="always", **JIT)
def lease_terms(scalars):
    growth = 1.0 + scalars[P.lease_escalator]
    # Escalator factors by whole contract year (a lookup instead of pow in the lease loop).
    growth_pow = np.empty(GROWTH_TABLE_SIZE)
    for i in range(GROWTH_TABLE_SIZE):
        growth_pow[i] = growth ** np.float64(i)
    return LeaseTerms(
        scalars[P.lead_time_min], scalars[P.lead_time_mode], scalars[P.lead_time_max],
        scalars[P.host_capex_per_mw], scalars[P.capex_overrun_sigma],
        growth, growth_pow, scalars[P.release_time], scalars[P.boundary_tolerance], scalars[P.lease_term],
        scalars[P.default_hazard], scalars[P.renewal_probability],
        MONTHS_PER_YEAR * scalars[P.lease_kw_per_mw], scalars[P.noi_margin], scalars[P.power_passthrough] != 0.0,
        scalars[P.hours_per_step] / scalars[P.dt], scalars[P.mining_ppa_fraction], scalars[P.ppa_price],
    )  # fmt: skip


@njit(inline="always", **JIT)
def cloud_terms(scalars):
    share = scalars[P.cloud_contracted_share]
    ppa = scalars[P.mining_ppa_fraction]
    n_gpu = scalars[P.cloud_gpus_per_mw]
    return CloudTerms(
        n_gpu, scalars[P.cloud_capex_per_gpu], scalars[P.cloud_capex_trend], scalars[P.cloud_life],
        scalars[P.cloud_residual], scalars[P.gpu_aging], scalars[P.cloud_contract_term], scalars[P.cloud_hazard],
        scalars[P.cloud_release], n_gpu * HOURS_PER_YEAR, share * scalars[P.cloud_contract_util],
        (1.0 - share) * scalars[P.cloud_spot_util], scalars[P.cloud_margin], scalars[P.cloud_power_mw] * HOURS_PER_YEAR,
        ppa * scalars[P.ppa_price], 1.0 - ppa,
    )  # fmt: skip


@njit(inline="always", **JIT)
def strategies(scalars, arrays):
    share, cloud_share, exit_multiple, switch_index = arrays
    n = share.size
    grid = scalars[P.grid_mw]
    mining_mw = np.empty(n)
    hosting_mw = np.empty(n)
    cloud_mw = np.empty(n)
    salvage = np.empty(n)
    static_cloud = False
    for s in range(n):
        mining_mw[s] = grid * (1.0 - share[s] - cloud_share[s])
        hosting_mw[s] = grid * share[s]
        cloud_mw[s] = grid * cloud_share[s]
        salvage[s] = (hosting_mw[s] + cloud_mw[s]) * scalars[P.salvage_per_mw]
        static_cloud = static_cloud or cloud_share[s] > 0.0
    return Strategies(n, mining_mw, hosting_mw, cloud_mw, exit_multiple, salvage, switch_index, static_cloud)


@njit(inline="always", **JIT)
def policy(arrays):
    decision_steps, centre, scale, coef, terms, exit_multiple, host_action, cloud_action = arrays
    degree = 0
    for t in range(terms.shape[0]):
        for f in range(centre.shape[1]):
            degree = max(degree, terms[t, f])
    return Policy(decision_steps, centre, scale, coef, terms, degree, exit_multiple, host_action, cloud_action)


@njit(inline="always", **JIT)
def step_inputs(steps, k, lease, mining):
    t0 = steps[T.t_start, k]
    t1 = steps[T.t_end, k]
    full_step = t1 - t0
    return StepInputs(
        k, t0, t1, t1 + lease.boundary, full_step, -math.expm1(-lease.hazard * full_step),
        steps[T.discount, k], steps[T.subsidy_per_block, k], steps[T.log_hstar_coef, k],
        steps[T.power_log_level, k], steps[T.lease_log_level, k], steps[T.gpu_log_level, k], steps[T.ph_per_mw, k],
        steps[T.refresh_th_per_mw, k] * mining.asic_price, steps[T.terminal_weight, k] != 0.0,
        steps[T.salvage_per_hashprice, k],
    )  # fmt: skip
