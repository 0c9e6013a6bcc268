"""The reference executor's step functions: the model in plain numpy, vectorised over paths.

One function per step, in the order every executor runs them and under the
names they share (see :mod:`pivotmc.backends.reference`, which builds its
entry points from them). Their arithmetic order is the specification that
the compiled executors follow operation by operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pivotmc import random as rng
from pivotmc.backends import KEPT_FACTORS, KeptPaths
from pivotmc.backends.accumulate import ExactSum
from pivotmc.model.factors import FACTORS, SHOCK_SLOTS
from pivotmc.model.plan import TINY_YEARS, Plan, hashprice
from pivotmc.model.units import HOURS_PER_DAY, MONTHS_PER_YEAR


# --------------------------------------------------------------------------- #
# Building blocks
# --------------------------------------------------------------------------- #
def triangular_inverse(u: np.ndarray, low: float, mode: float, high: float) -> np.ndarray:
    """Inverse CDF of the triangular law (low, mode, high)."""
    if high <= low:
        return np.full_like(u, low)
    width = high - low
    split = (mode - low) / width
    rising = low + np.sqrt(u * width * (mode - low))
    falling = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(u < split, rising, falling)


def escalated_years(a: np.ndarray, b: np.ndarray, start: np.ndarray, growth: float) -> np.ndarray:
    """Integral over ``[a, b]`` of ``growth ** floor(t - start)`` (years; ``a >= start``, ``b - a <= 1``).

    The lease rate steps up by the escalator on each anniversary of the lease
    start; a step of at most a year crosses at most one anniversary.
    """
    years_in = np.floor(a - start)
    anniversary = start + years_in + 1.0
    before = np.minimum(b, anniversary) - a
    after = np.maximum(b - anniversary, 0.0)
    return growth**years_in * (before + after * growth)


def switch_features(plan: Plan, state: dict[str, np.ndarray]) -> np.ndarray:
    """The switch policy's regressors (paths, features): logs of the state's ``plan.switch_features``, in order."""
    return np.column_stack([np.log(state[name]) for name in plan.switch_features])


# --------------------------------------------------------------------------- #
# Records: the state of a block of paths, and what a valuation writes
# --------------------------------------------------------------------------- #
class Markets:
    """Market state of a block of paths, in logs (and log-deviations for the OU factors)."""

    def __init__(self, plan: Plan, n: int) -> None:
        self.log_btc = np.full(n, plan.btc_log_price0)
        self.log_fees = np.full(n, plan.fees_log0)
        self.log_hashrate = np.full(n, plan.hashrate_log0)
        self.power_dev = np.full(n, plan.power_dev0)
        self.lease_dev = np.full(n, plan.lease_dev0)
        self.gpu_dev = np.full(n, plan.gpu_dev0)


def initial_state(plan: Plan, n: int) -> dict[str, np.ndarray]:
    """The decision state at t = 0 (what the switch sees before the first step)."""
    return {
        "hashprice": np.full(n, plan.initial_hashprice),
        "lease_rate": np.full(n, plan.lease_rate0),
        "power_price": np.full(n, plan.initial_power_price),
        "gpu_price": np.full(n, plan.gpu_price0),
    }


class Lease:
    """The hosting lease of a block of paths: construction, term, renewals, defaults.

    A lease is (start, end, rate). The first lease is signed at the decision
    to convert, at the market rate of that date; construction starts then and
    takes the path's lead time. ``host`` decides at t = 0 (at R_0); the switch
    decides later, path by path. Later leases (renewals, re-lets) have a NaN
    ``rate`` until they commence, and are signed at the first market rate
    observed at or after their start: a lease starting exactly at ``t_k`` at
    the rate of ``t_k`` (observed at the end of step k - 1), one starting in
    ``(t_k, t_{k+1})`` at the rate of ``t_{k+1}``. Dates within
    ``plan.boundary_tolerance`` of a boundary count as on it.
    """

    def __init__(self, plan: Plan, lead_time: np.ndarray) -> None:
        self.lead_time = lead_time
        self.decision = np.zeros(lead_time.size)
        self.start = self.decision + lead_time
        self.end = self.start + plan.lease_term
        self.rate = np.full(lead_time.size, plan.lease_rate0)
        self.spent = np.zeros(lead_time.size)  # share of construction capex spent so far
        self.growth = 1.0 + plan.lease_escalator

    def convert(self, plan: Plan, which: np.ndarray, decision: float, rate: np.ndarray) -> None:
        """Decide at time ``decision`` to convert the paths ``which``, signing at ``rate``."""
        self.decision[which] = decision
        self.start[which] = decision + self.lead_time[which]
        self.end[which] = self.start[which] + plan.lease_term
        self.rate[which] = rate
        self.spent[which] = 0.0


@dataclass
class Outputs:
    """What a valuation of a block writes: per-path NPV (strategies, paths), exact per-step sums, the kept
    trajectories (rows ``offset ..`` of ``kept`` for the block's first ``keep_here`` paths) and the switch's
    decision index and action per path (None without the switch). ``npv`` and ``final_year_ebitda`` accumulate."""

    npv_out: np.ndarray
    sums: ExactSum
    kept: KeptPaths
    offset: int
    keep_here: int
    switch: np.ndarray | None = None
    action: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.npv = np.zeros(self.npv_out.shape)
        self.final_year_ebitda = np.zeros(self.npv_out.shape)


# --------------------------------------------------------------------------- #
# The step functions, in the order every executor runs them
# --------------------------------------------------------------------------- #
def per_path_draws(plan: Plan, key, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each path's construction lead time (years) and capex per grid MW with its overrun."""
    # One pair: SLOT_LEAD_TIME and SLOT_CAPEX_OVERRUN.
    u_lead, u_overrun = rng.uniform_pair(key, paths, rng.PER_PATH_STEP, rng.SLOT_LEAD_TIME // 2)
    lead_time = triangular_inverse(u_lead, plan.lead_time_min, plan.lead_time_mode, plan.lead_time_max)
    capex_per_mw = plan.host_capex_per_mw * np.exp(plan.capex_overrun_sigma * rng.ndtri(u_overrun))
    return lead_time, capex_per_mw


def draw_step(key, paths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Step k's uniforms (rng.N_STEP_SLOTS, paths) and the factors' independent normals (factors, paths)."""
    u = rng.step_uniforms(key, paths, k)
    return u, rng.ndtri(u[list(SHOCK_SLOTS)])


def correlate(chol: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor's shock from independent normals ``z`` (factors, paths): row i of ``chol`` times z.

    The products are summed left to right, the diagonal term last: the order
    every executor keeps, so that they agree to the last bit.
    """
    shocks = {}
    for i, name in enumerate(FACTORS):
        acc = chol[i, 0] * z[0]
        for j in range(1, i + 1):
            acc = acc + chol[i, j] * z[j]
        shocks[name] = acc
    return shocks


def advance_markets(
    plan: Plan, markets: Markets, k: int, u: np.ndarray, shock: dict[str, np.ndarray], key, paths: np.ndarray
) -> dict[str, np.ndarray]:
    """Advance ``markets`` from t_k to t_{k+1} with step k's uniforms ``u`` and ``shock``; return the new levels."""
    z_btc, z_fees, z_hashrate = shock["btc"], shock["fees"], shock["hashrate"]
    z_power, z_lease, z_gpu = shock["power"], shock["lease"], shock["gpu"]

    # Hashrate: error correction toward the equilibrium of the state at t_k.
    log_hstar = plan.log_hstar_coef[k] + np.log(plan.subsidy_per_block[k] + np.exp(markets.log_fees)) + markets.log_btc
    markets.log_hashrate = (
        markets.log_hashrate
        + (plan.hashrate_drift + plan.hashrate_kappa_dt * (log_hstar - markets.log_hashrate))
        + plan.hashrate_vol * z_hashrate
    )

    # BTC: exact log-normal step plus a compound-Poisson sum of normal log-jumps.
    jumps = np.searchsorted(plan.btc_jump_cdf, u[rng.SLOT_BTC_JUMP_COUNT], side="left").astype(np.float64)
    jump = np.zeros_like(jumps)
    some = jumps > 0.0  # the jump-size normal is needed only where a jump happened
    n_some = jumps[some]
    jump[some] = n_some * plan.btc_jump_mean + np.sqrt(n_some) * plan.btc_jump_sd * rng.ndtri(u[rng.SLOT_BTC_JUMP_SIZE][some])
    markets.log_btc = markets.log_btc + plan.btc_drift + plan.btc_vol * z_btc + jump

    # Fees: exact log-OU transition.
    markets.log_fees = plan.fees_log_level + (markets.log_fees - plan.fees_log_level) * plan.fees_decay + plan.fees_noise * z_fees

    # Power: exact OU of the log-deviation from the seasonal level, plus upward spikes.
    markets.power_dev = markets.power_dev * plan.power_decay + plan.power_noise * z_power
    if plan.power_spike_cdf.size > 1:
        markets.power_dev = markets.power_dev + _spikes(plan, u[rng.SLOT_POWER_SPIKE_COUNT], key, paths, k)

    # Lease rate: exact OU of the log-deviation from the trending level.
    markets.lease_dev = markets.lease_dev * plan.lease_decay + plan.lease_noise * z_lease

    # GPU rental price: exact OU of the log-deviation from the trending level.
    markets.gpu_dev = markets.gpu_dev * plan.gpu_decay + plan.gpu_noise * z_gpu

    btc_price = np.exp(markets.log_btc)
    fees = np.exp(markets.log_fees)
    hashrate = np.exp(markets.log_hashrate)
    return {
        "btc_price": btc_price,
        "hashrate": hashrate,
        "fees": fees,
        "power_price": np.exp(plan.power_log_level[k] + markets.power_dev),
        "lease_rate": np.exp(plan.lease_log_level[k] + markets.lease_dev),
        "gpu_price": np.exp(plan.gpu_log_level[k] + markets.gpu_dev),
        "hashprice": hashprice(plan.blocks_per_day, plan.subsidy_per_block[k], fees, btc_price, hashrate),
    }


def _spikes(plan: Plan, u_count: np.ndarray, key, paths: np.ndarray, k: int) -> np.ndarray:
    """The step's power-price spikes, each decayed from its arrival to the step's end.

    A Poisson count of spikes, given which their arrival times are independent
    and uniform over the step: spike i, of exponential log-size ``Y_i`` and
    arriving a fraction ``f_i`` into the step, adds ``Y_i exp(-speed dt (1 - f_i))``
    to the log-deviation at the step's end, exactly as in continuous time.
    """
    count = np.searchsorted(plan.power_spike_cdf, u_count, side="left")
    total = np.zeros(paths.size)
    for i in range(int(count.max(initial=0))):
        has = count > i
        u_size, u_time = rng.uniform_pair(key, paths[has], k, rng.SLOT_POWER_SPIKE_SIZE0 // 2 + i)
        size = plan.power_spike_mean_log * -np.log(u_size)
        total[has] = total[has] + size * np.exp(-plan.power_speed_dt * (1.0 - u_time))
    return total


def mine(plan: Plan, k: int, m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mining EBITDA and capex of step k per MW of grid capacity (USD).

    Spot-bought load is curtailed when power costs more per MWh than the
    hashes it buys earn; PPA power is paid for anyway, so that share runs.
    """
    hp = m["hashprice"]
    revenue_full = hp * plan.ph_per_mw[k] * plan.days_per_step * plan.mining_net_share
    energy = plan.mining_uptime * plan.hours_per_step  # MWh per grid MW while hashing
    spot_share = 1.0 - plan.mining_ppa_fraction
    if plan.mining_curtailment:
        breakeven = hp * plan.ph_per_mw[k] * plan.pool_keep / HOURS_PER_DAY  # USD earned per MWh drawn
        curtailed = (m["power_price"] > breakeven).astype(np.float64)
    else:
        curtailed = np.zeros_like(hp)
    running = plan.mining_ppa_fraction + spot_share * (1.0 - curtailed)
    power_cost = energy * (plan.mining_ppa_fraction * plan.ppa_price + spot_share * (1.0 - curtailed) * m["power_price"])
    credit = energy * spot_share * curtailed * plan.mining_dr_credit
    ebitda = revenue_full * running - power_cost + credit - plan.mining_fixed_opex_per_step
    capex = plan.refresh_th_per_mw[k] * plan.asic_price_per_th_per_hashprice * hp
    return ebitda, capex


def lease_step(
    plan: Plan, lease: Lease, k: int, m: dict[str, np.ndarray], u: np.ndarray, capex_per_mw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``lease`` over step k; return the step's hosting EBITDA and capex per MW of grid capacity (USD).

    Without power pass-through the site pays for power only while a lease
    runs (``leased`` years of the step: not while building, nor between
    leases), for its whole grid MW at full draw, at the blend of the PPA
    fraction at the PPA price and the rest at the spot price of the step's end.
    """
    t0, t1 = plan.t_start[k], plan.t_end[k]
    market = m["lease_rate"]

    spent = np.minimum((t1 - lease.decision) / np.maximum(lease.lead_time, TINY_YEARS), 1.0)
    capex_share = spent - lease.spent
    lease.spent = spent

    # A lease commencing in this step, or on its end t1, is signed at the market rate of t1.
    by_t1 = t1 + plan.boundary_tolerance
    lease.rate = np.where(np.isnan(lease.rate) & (lease.start <= by_t1), market, lease.rate)
    a = np.maximum(t0, lease.start)
    b = np.minimum(t1, lease.end)
    active = b > a
    rate_years = np.where(active, lease.rate * escalated_years(a, b, lease.start, lease.growth), 0.0)
    leased = np.where(active, b - a, 0.0)

    # Term end: renew at market now, or re-let after the downtime.
    ended = lease.end <= by_t1
    if ended.any():
        renew = u[rng.SLOT_LEASE_RENEWAL] < plan.renewal_probability
        new_start = np.where(renew, lease.end, lease.end + plan.release_time)
        lease.start = np.where(ended, new_start, lease.start)
        lease.end = np.where(ended, new_start + plan.lease_term, lease.end)
        signed = ended & (lease.start <= by_t1)
        lease.rate = np.where(ended, np.where(signed, market, np.nan), lease.rate)
        begins = ended & (lease.start < t1)
        b2 = np.minimum(t1, lease.end)
        rate_years = rate_years + np.where(begins, lease.rate * escalated_years(lease.start, b2, lease.start, lease.growth), 0.0)
        leased = leased + np.where(begins, b2 - lease.start, 0.0)

    # Tenant default at the end of the step, with the hazard over the time leased.
    default = (leased > 0.0) & (u[rng.SLOT_TENANT_DEFAULT] < -np.expm1(-plan.default_hazard * leased))
    if default.any():
        lease.start = np.where(default, t1 + plan.release_time, lease.start)
        lease.end = np.where(default, lease.start + plan.lease_term, lease.end)
        lease.rate = np.where(default, np.where(lease.start <= by_t1, market, np.nan), lease.rate)

    # The hosting economics of the step.
    revenue = rate_years * (MONTHS_PER_YEAR * plan.lease_kw_per_mw)
    ebitda = revenue * plan.noi_margin
    if not plan.power_passthrough:
        blend = plan.mining_ppa_fraction * plan.ppa_price + (1.0 - plan.mining_ppa_fraction) * m["power_price"]
        ebitda = ebitda - leased * (plan.hours_per_step / plan.dt) * blend
    return ebitda, capex_share * capex_per_mw


def decide(
    plan: Plan, policy, date: int, k: int, state: dict[str, np.ndarray], switch_out: np.ndarray, action_out: np.ndarray,
    lease: Lease, cloud,
) -> np.ndarray | None:
    """The switch policy at decision date ``date`` (step k): each path still mining takes the action whose estimated
    advantage is the largest (the first on a tie) if it is positive, converting to host (signing ``lease`` at the
    state's lease rate) or to cloud (``cloud``, contracting at the state's GPU price). Returns the salvage of the
    converting paths' fleets (None if no path converts)."""
    waiting = np.flatnonzero(switch_out < 0)
    if not waiting.size:
        return None
    advantage = policy.stopping.advantages(date, switch_features(plan, state)[waiting])  # (paths, actions)
    best = np.argmax(advantage, axis=1)
    going = advantage[np.arange(waiting.size), best] > 0.0
    go, chosen = waiting[going], best[going]
    if not go.size:
        return None
    switch_out[go] = date
    action_out[go] = chosen
    t = plan.t_start[k]
    to_host = go[chosen == plan.switch_actions.index("host")]
    lease.convert(plan, to_host, t, state["lease_rate"][to_host])
    if cloud is not None:
        to_cloud = go[chosen == plan.switch_actions.index("cloud")]
        cloud.convert(plan, to_cloud, t, state["gpu_price"][to_cloud])
    salvage = np.zeros(switch_out.size)
    salvage[go] = plan.grid_mw * (plan.salvage_per_hashprice[k] * state["hashprice"][go])
    return salvage


def strategy_cash_flows(
    plan: Plan, k: int, mining: tuple[np.ndarray, np.ndarray], hosting: tuple[np.ndarray, np.ndarray], switch=None,
    cloud: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each strategy's EBITDA and cash flow of step k (strategies, paths): its split of mining, hosting and cloud.

    ``switch`` is (decision index, action per path, its hosting EBITDA and capex per MW, its cloud EBITDA and
    capex per MW or None, salvage or None) when the plan values the switch, which mines until it converts;
    ``cloud`` is the cloud economics' (EBITDA, capex) per MW when a static strategy runs them.
    """
    mine_ebitda, mine_capex = mining
    host_ebitda, host_capex = hosting
    mining_mw = plan.grid_mw * (1.0 - plan.conversion_share - plan.cloud_share)[:, None]  # (strategies, 1)
    hosting_mw = plan.grid_mw * plan.conversion_share[:, None]
    cloud_mw = plan.grid_mw * plan.cloud_share[:, None]
    ebitda = mining_mw * mine_ebitda + hosting_mw * host_ebitda
    cash_flow = ebitda - (mining_mw * mine_capex + hosting_mw * host_capex)
    if cloud is not None:
        cloud_ebitda = cloud_mw * cloud[0]
        ebitda = ebitda + cloud_ebitda
        cash_flow = cash_flow + (cloud_ebitda - cloud_mw * cloud[1])
    if k == 0:
        cash_flow = cash_flow + (hosting_mw + cloud_mw) * plan.salvage_per_mw  # the converted fleet is sold at the decision
    if switch is not None:
        sw = plan.switch_index
        decided, action, sw_host, sw_cloud, salvage_now = switch
        grid = plan.grid_mw
        converted = decided >= 0
        sw_ebitda, sw_capex = sw_host
        if sw_cloud is not None:
            on_cloud = converted & (action == plan.switch_actions.index("cloud"))
            sw_ebitda = np.where(on_cloud, sw_cloud[0], sw_ebitda)
            sw_capex = np.where(on_cloud, sw_cloud[1], sw_capex)
        ebitda[sw] = np.where(converted, grid * sw_ebitda, grid * mine_ebitda)
        cash_flow[sw] = ebitda[sw] - np.where(converted, grid * sw_capex, grid * mine_capex)
        if salvage_now is not None:
            cash_flow[sw] = cash_flow[sw] + salvage_now  # its fleet is sold at the decision
    return ebitda, cash_flow


def accumulate(plan: Plan, k: int, m: dict[str, np.ndarray], ebitda: np.ndarray, cash_flow: np.ndarray, out: Outputs) -> None:
    """Discount step k's cash flows into the NPV, add the final year's EBITDA, the exact sums and kept trajectories."""
    out.npv += plan.discount[k] * cash_flow
    if plan.terminal_weight[k]:
        out.final_year_ebitda += ebitda
    out.sums.add(cash_flow, (slice(None), k))
    if out.keep_here:
        rows = slice(out.offset, out.offset + out.keep_here)
        for name in KEPT_FACTORS:
            out.kept.factors[name][rows, k] = m[name][: out.keep_here]
        out.kept.cash_flow[:, rows, k] = cash_flow[:, : out.keep_here]


def settle(plan: Plan, out: Outputs) -> None:
    """Each strategy's NPV: the discounted cash flows plus the exit value of the final year's EBITDA."""
    out.npv += plan.discount[-1] * (plan.exit_multiple[:, None] * out.final_year_ebitda)
    out.npv_out[...] = out.npv
