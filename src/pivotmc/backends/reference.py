"""The reference backend: the whole model in plain numpy, vectorised over paths.

It is written to be read: one function advances the markets by a step, one
computes the per-MW economics of mining, one runs the hosting lease, and the
strategies combine them. Every other backend is tested against it, so its
arithmetic order is the specification (documented inline where it matters).

Paths are processed in blocks, so memory is O(block + kept paths x steps);
every operation is element-wise in the path, so results do not depend on the
block size, bit for bit.
"""

from __future__ import annotations

import numpy as np

from pivotmc import random as rng
from pivotmc.backends import KEPT_FACTORS, NO_POLICY_MESSAGE, Capabilities, ChunkResult, KeptPaths
from pivotmc.backends.accumulate import ExactSum
from pivotmc.errors import ValidationError
from pivotmc.model.plan import SWITCH_FEATURES, TINY_YEARS, Plan, hashprice
from pivotmc.model.units import HOURS_PER_DAY, MONTHS_PER_YEAR
from pivotmc.model.factors import FACTORS, SHOCK_SLOTS

__all__ = ["CAPABILITIES", "run_chunk", "switch_learning_data", "unavailable_reason", "DEFAULT_BLOCK_PATHS"]

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
    for lo in range(0, n_paths, block):
        hi = min(n_paths, lo + block)
        paths = np.arange(first_path + lo, first_path + hi, dtype=np.uint64)
        keep_here = max(0, min(n_kept, hi) - lo)
        switch_here = None if switch is None else switch[lo:hi]
        _simulate_block(plan, key, paths, npv[:, lo:hi], sums, kept, lo, keep_here, switch_here, policy)
    return ChunkResult(first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept, switch_decision=switch)


def switch_learning_data(
    plan: Plan, key: tuple[int, int], first_path: int, n_paths: int, block_paths: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """What the switch policy learns from, for paths ``first_path ..`` (see :mod:`pivotmc.policy.switch`).

    Returns
    -------
    features : ndarray, float32, shape (dates, n_paths, len(SWITCH_FEATURES))
        Logs of hashprice, lease rate and power price at each decision date.
    gains : ndarray, float64, shape (dates, n_paths)
        Realised NPV (to t = 0) of converting at each decision date minus that
        of mining to the horizon: host cash flows from the date (salvage,
        construction, the lease and what follows it) against the mining cash
        flows they replace, exit values included.
    """
    block = int(block_paths or DEFAULT_BLOCK_PATHS)
    n_dates = plan.decision_steps.size
    features = np.empty((n_dates, n_paths, len(SWITCH_FEATURES)), dtype=np.float32)
    gains = np.empty((n_dates, n_paths))
    for lo in range(0, n_paths, block):
        hi = min(n_paths, lo + block)
        paths = np.arange(first_path + lo, first_path + hi, dtype=np.uint64)
        features[:, lo:hi], gains[:, lo:hi] = _learning_block(plan, key, paths)
    return features, gains


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


def correlated_shocks(chol: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
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


class _Markets:
    """Market state of a block of paths, in logs (and log-deviations for the OU factors)."""

    def __init__(self, plan: Plan, n: int) -> None:
        self.log_btc = np.full(n, plan.btc_log_price0)
        self.log_fees = np.full(n, plan.fees_log0)
        self.log_hashrate = np.full(n, plan.hashrate_log0)
        self.power_dev = np.full(n, plan.power_dev0)
        self.lease_dev = np.full(n, plan.lease_dev0)

    def advance(self, plan: Plan, k: int, u: np.ndarray, key, paths) -> dict[str, np.ndarray]:
        """Advance from t_k to t_{k+1} with step k's uniforms ``u`` (10, n); return the new levels."""
        shock = correlated_shocks(plan.chol, rng.ndtri(u[list(SHOCK_SLOTS)]))
        z_btc, z_fees, z_hashrate = shock["btc"], shock["fees"], shock["hashrate"]
        z_power, z_lease = shock["power"], shock["lease"]

        # Hashrate: error correction toward the equilibrium of the state at t_k.
        log_hstar = plan.log_hstar_coef[k] + np.log(plan.subsidy_per_block[k] + np.exp(self.log_fees)) + self.log_btc
        self.log_hashrate = (
            self.log_hashrate
            + (plan.hashrate_drift + plan.hashrate_kappa_dt * (log_hstar - self.log_hashrate))
            + plan.hashrate_vol * z_hashrate
        )

        # BTC: exact log-normal step plus a compound-Poisson sum of normal log-jumps.
        jumps = np.searchsorted(plan.btc_jump_cdf, u[rng.SLOT_BTC_JUMP_COUNT], side="left").astype(np.float64)
        jump = np.zeros_like(jumps)
        some = jumps > 0.0  # the jump-size normal is needed only where a jump happened
        n_some = jumps[some]
        jump[some] = n_some * plan.btc_jump_mean + np.sqrt(n_some) * plan.btc_jump_sd * rng.ndtri(u[rng.SLOT_BTC_JUMP_SIZE][some])
        self.log_btc = self.log_btc + plan.btc_drift + plan.btc_vol * z_btc + jump

        # Fees: exact log-OU transition.
        self.log_fees = plan.fees_log_level + (self.log_fees - plan.fees_log_level) * plan.fees_decay + plan.fees_noise * z_fees

        # Power: exact OU of the log-deviation from the seasonal level, plus upward spikes.
        self.power_dev = self.power_dev * plan.power_decay + plan.power_noise * z_power
        if plan.power_spike_cdf.size > 1:
            self.power_dev = self.power_dev + _spikes(plan, u[rng.SLOT_POWER_SPIKE_COUNT], key, paths, k)

        # Lease rate: exact OU of the log-deviation from the trending level.
        self.lease_dev = self.lease_dev * plan.lease_decay + plan.lease_noise * z_lease

        btc_price = np.exp(self.log_btc)
        fees = np.exp(self.log_fees)
        hashrate = np.exp(self.log_hashrate)
        return {
            "btc_price": btc_price,
            "hashrate": hashrate,
            "fees": fees,
            "power_price": np.exp(plan.power_log_level[k] + self.power_dev),
            "lease_rate": np.exp(plan.lease_log_level[k] + self.lease_dev),
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


def mining_per_mw(plan: Plan, k: int, m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
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


class _Lease:
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

    def step(self, plan: Plan, k: int, m: dict[str, np.ndarray], u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance over step k; return (lease revenue in USD/kW-month x months, leased years, capex share)."""
        t0, t1 = plan.t_start[k], plan.t_end[k]
        market = m["lease_rate"]

        spent = np.minimum((t1 - self.decision) / np.maximum(self.lead_time, TINY_YEARS), 1.0)
        capex_share = spent - self.spent
        self.spent = spent

        # A lease commencing in this step, or on its end t1, is signed at the market rate of t1.
        by_t1 = t1 + plan.boundary_tolerance
        self.rate = np.where(np.isnan(self.rate) & (self.start <= by_t1), market, self.rate)
        a = np.maximum(t0, self.start)
        b = np.minimum(t1, self.end)
        active = b > a
        rate_years = np.where(active, self.rate * escalated_years(a, b, self.start, self.growth), 0.0)
        leased = np.where(active, b - a, 0.0)

        # Term end: renew at market now, or re-let after the downtime.
        ended = self.end <= by_t1
        if ended.any():
            renew = u[rng.SLOT_LEASE_RENEWAL] < plan.renewal_probability
            new_start = np.where(renew, self.end, self.end + plan.release_time)
            self.start = np.where(ended, new_start, self.start)
            self.end = np.where(ended, new_start + plan.lease_term, self.end)
            signed = ended & (self.start <= by_t1)
            self.rate = np.where(ended, np.where(signed, market, np.nan), self.rate)
            begins = ended & (self.start < t1)
            b2 = np.minimum(t1, self.end)
            rate_years = rate_years + np.where(begins, self.rate * escalated_years(self.start, b2, self.start, self.growth), 0.0)
            leased = leased + np.where(begins, b2 - self.start, 0.0)

        # Tenant default at the end of the step, with the hazard over the time leased.
        default = (leased > 0.0) & (u[rng.SLOT_TENANT_DEFAULT] < -np.expm1(-plan.default_hazard * leased))
        if default.any():
            self.start = np.where(default, t1 + plan.release_time, self.start)
            self.end = np.where(default, self.start + plan.lease_term, self.end)
            self.rate = np.where(default, np.where(self.start <= by_t1, market, np.nan), self.rate)
        return rate_years, leased, capex_share


def hosting_per_mw(
    plan: Plan, m: dict[str, np.ndarray], rate_years: np.ndarray, leased: np.ndarray, capex_share: np.ndarray, capex_per_mw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hosting EBITDA and capex of a step per MW of grid capacity (USD).

    Without power pass-through the site pays for power only while a lease
    runs (``leased`` years of the step: not while building, nor between
    leases), for its whole grid MW at full draw, at the blend of the PPA
    fraction at the PPA price and the rest at the spot price of the step's end.
    """
    revenue = rate_years * (MONTHS_PER_YEAR * plan.lease_kw_per_mw)
    ebitda = revenue * plan.noi_margin
    if not plan.power_passthrough:
        blend = plan.mining_ppa_fraction * plan.ppa_price + (1.0 - plan.mining_ppa_fraction) * m["power_price"]
        ebitda = ebitda - leased * (plan.hours_per_step / plan.dt) * blend
    return ebitda, capex_share * capex_per_mw


# --------------------------------------------------------------------------- #
# One block of paths
# --------------------------------------------------------------------------- #
def _per_path_draws(plan: Plan, key, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each path's construction lead time (years) and capex per grid MW with its overrun."""
    # One pair: SLOT_LEAD_TIME and SLOT_CAPEX_OVERRUN.
    u_lead, u_overrun = rng.uniform_pair(key, paths, rng.PER_PATH_STEP, rng.SLOT_LEAD_TIME // 2)
    lead_time = triangular_inverse(u_lead, plan.lead_time_min, plan.lead_time_mode, plan.lead_time_max)
    capex_per_mw = plan.host_capex_per_mw * np.exp(plan.capex_overrun_sigma * rng.ndtri(u_overrun))
    return lead_time, capex_per_mw


def _initial_state(plan: Plan, n: int) -> dict[str, np.ndarray]:
    """The decision state at t = 0 (what the switch sees before the first step)."""
    return {
        "hashprice": np.full(n, plan.initial_hashprice),
        "lease_rate": np.full(n, plan.lease_rate0),
        "power_price": np.full(n, plan.initial_power_price),
    }


def switch_features(state: dict[str, np.ndarray]) -> np.ndarray:
    """The switch policy's regressors (paths, features): logs of the state's SWITCH_FEATURES, in order."""
    return np.column_stack([np.log(state[name]) for name in SWITCH_FEATURES])


def _simulate_block(
    plan: Plan,
    key: tuple[int, int],
    paths: np.ndarray,
    npv_out: np.ndarray,
    sums: ExactSum,
    kept: KeptPaths,
    offset: int,
    keep_here: int,
    switch_out: np.ndarray | None = None,
    switch_policy=None,
) -> None:
    n = paths.size
    lead_time, capex_per_mw = _per_path_draws(plan, key, paths)

    markets = _Markets(plan, n)
    lease = _Lease(plan, lead_time)
    mining_mw = plan.grid_mw * (1.0 - plan.conversion_share)[:, None]  # (strategies, 1)
    hosting_mw = plan.grid_mw * plan.conversion_share[:, None]
    npv = np.zeros((plan.n_strategies, n))
    final_year_ebitda = np.zeros((plan.n_strategies, n))

    sw = plan.switch_index
    if sw >= 0:
        # The switch mines until its policy converts; its own lease starts at that decision.
        policy = switch_policy.stopping
        decision_at = {int(k): j for j, k in enumerate(plan.decision_steps)}
        switch_lease = _Lease(plan, lead_time)
        state = _initial_state(plan, n)

    for k in range(plan.n_steps):
        salvage_now = None
        if sw >= 0 and k in decision_at:
            j = decision_at[k]
            waiting = np.flatnonzero(switch_out < 0)
            go = waiting[policy.advantage(j, switch_features(state)[waiting]) > 0.0] if waiting.size else waiting
            if go.size:
                switch_out[go] = j
                switch_lease.convert(plan, go, plan.t_start[k], state["lease_rate"][go])
                salvage_now = np.zeros(n)
                salvage_now[go] = plan.grid_mw * (plan.salvage_per_hashprice[k] * state["hashprice"][go])
        u = rng.step_uniforms(key, paths, k)
        m = markets.advance(plan, k, u, key, paths)
        mine_ebitda, mine_capex = mining_per_mw(plan, k, m)
        if sw >= 0:
            # Uses the same uniforms as the host lease (common random numbers).
            sw_years, sw_leased, sw_share = switch_lease.step(plan, k, m, u)
            sw_ebitda, sw_capex = hosting_per_mw(plan, m, sw_years, sw_leased, sw_share, capex_per_mw)
        rate_years, leased, capex_share = lease.step(plan, k, m, u)
        host_ebitda, host_capex = hosting_per_mw(plan, m, rate_years, leased, capex_share, capex_per_mw)

        ebitda = mining_mw * mine_ebitda + hosting_mw * host_ebitda
        cash_flow = ebitda - (mining_mw * mine_capex + hosting_mw * host_capex)
        if k == 0:
            cash_flow = cash_flow + hosting_mw * plan.salvage_per_mw  # the converted fleet is sold at the decision
        if sw >= 0:
            converted = switch_out >= 0
            grid = plan.grid_mw
            ebitda[sw] = np.where(converted, grid * sw_ebitda, grid * mine_ebitda)
            cash_flow[sw] = ebitda[sw] - np.where(converted, grid * sw_capex, grid * mine_capex)
            if salvage_now is not None:
                cash_flow[sw] = cash_flow[sw] + salvage_now  # its fleet is sold at the decision
            state = m
        npv += plan.discount[k] * cash_flow
        if plan.terminal_weight[k]:
            final_year_ebitda += ebitda
        sums.add(cash_flow, (slice(None), k))
        if keep_here:
            rows = slice(offset, offset + keep_here)
            for name in KEPT_FACTORS:
                kept.factors[name][rows, k] = m[name][:keep_here]
            kept.cash_flow[:, rows, k] = cash_flow[:, :keep_here]

    npv += plan.discount[-1] * (plan.exit_multiple[:, None] * final_year_ebitda)
    npv_out[...] = npv


def _learning_block(plan: Plan, key: tuple[int, int], paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decision-date features and realised gains of converting at each date (see switch_learning_data)."""
    n = paths.size
    lead_time, capex_per_mw = _per_path_draws(plan, key, paths)
    grid = plan.grid_mw
    exit_weight = plan.discount[-1] * plan.switch_exit_multiple
    markets = _Markets(plan, n)
    decision_at = {int(k): j for j, k in enumerate(plan.decision_steps)}
    n_dates = plan.decision_steps.size
    features = np.empty((n_dates, n, len(SWITCH_FEATURES)))
    host_pv = np.zeros((n_dates, n))  # NPV of the hosting cash flows after converting at each date
    mine_before = np.zeros((n_dates, n))  # NPV of the mining cash flows before each date
    mine_pv = np.zeros(n)
    leases: list[_Lease] = []
    state = _initial_state(plan, n)
    everyone = np.arange(n)
    for k in range(plan.n_steps):
        salvage_now = None
        if k in decision_at:
            j = decision_at[k]
            features[j] = switch_features(state)
            mine_before[j] = mine_pv
            lease = _Lease(plan, lead_time)
            lease.convert(plan, everyone, plan.t_start[k], state["lease_rate"])
            leases.append(lease)
            salvage_now = grid * (plan.salvage_per_hashprice[k] * state["hashprice"])
        u = rng.step_uniforms(key, paths, k)
        m = markets.advance(plan, k, u, key, paths)
        mine_ebitda, mine_capex = mining_per_mw(plan, k, m)
        mine_pv = mine_pv + plan.discount[k] * (grid * mine_ebitda - grid * mine_capex)
        if plan.terminal_weight[k]:
            mine_pv = mine_pv + exit_weight * (grid * mine_ebitda)
        for j, lease in enumerate(leases):
            rate_years, leased, capex_share = lease.step(plan, k, m, u)
            host_ebitda, host_capex = hosting_per_mw(plan, m, rate_years, leased, capex_share, capex_per_mw)
            cash_flow = grid * host_ebitda - grid * host_capex
            if salvage_now is not None and j == len(leases) - 1:
                cash_flow = cash_flow + salvage_now
            host_pv[j] += plan.discount[k] * cash_flow
            if plan.terminal_weight[k]:
                host_pv[j] += exit_weight * (grid * host_ebitda)
        state = m
    gains = host_pv - (mine_pv - mine_before)
    return features.astype(np.float32), gains
