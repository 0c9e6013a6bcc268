"""The model as an analyst would write it by hand in numpy: the yardstick for "x analyst".

This is what the backends are worth comparing against when the question is
"how much faster than doing it myself?". It is the same model as
:mod:`pivotmc.backends.reference` (same factor dynamics and economics, read
from the same lowered :class:`~pivotmc.model.plan.Plan`) but none of the engine's
guarantees: numpy's own ``Generator`` draws the random numbers in whatever
order the code asks for them, sums are plain floating point, and nothing but
the NPVs is kept. Its results therefore match the engine's in distribution
only, never path by path.

Usage::

    from pivotmc.model.plan import lower
    from pivotmc.model.scenario import Scenario
    npv = run(lower(Scenario.default()), n_paths=100_000, seed=1)   # (strategies, paths), USD
"""

from __future__ import annotations

import numpy as np

from pivotmc.model.plan import Plan

__all__ = ["run", "DEFAULT_BLOCK_PATHS"]

#: Large enough that numpy's per-call overhead is amortised, small enough that the
#: few dozen working arrays of a block stay in cache instead of streaming from memory.
DEFAULT_BLOCK_PATHS = 1 << 14


def run(plan: Plan, n_paths: int, seed: int, block_paths: int = DEFAULT_BLOCK_PATHS) -> np.ndarray:
    """NPV of every strategy of ``plan`` on ``n_paths`` paths, shape ``(strategies, n_paths)``, USD.

    The static strategies only (mine, host, hybrid): the switch needs a learned policy.
    """
    if plan.switch_index >= 0:
        raise ValueError("the numpy baseline values the static strategies only: leave switch out of strategies.evaluate.")
    rng = np.random.default_rng(seed)
    npv = np.empty((plan.n_strategies, n_paths))
    for lo in range(0, n_paths, block_paths):
        hi = min(n_paths, lo + block_paths)
        npv[:, lo:hi] = _run_block(plan, hi - lo, rng)
    return npv


def _run_block(plan: Plan, n: int, rng: np.random.Generator) -> np.ndarray:
    p = plan
    scen = p.scenario
    # The plan holds these rates only as inversion tables; numpy's poisson wants the means.
    jump_rate = scen.btc.jump_intensity * p.dt
    spike_rate = scen.power.spike_intensity * p.dt
    hazard = p.default_hazard
    growth = 1.0 + p.lease_escalator
    spot_share = 1.0 - p.mining_ppa_fraction
    energy_mwh = p.mining_uptime * p.hours_per_step
    ppa_cost = energy_mwh * p.mining_ppa_fraction * p.ppa_price

    # Per-path draws made at the decision: construction lead time and capex overrun.
    if p.lead_time_max > p.lead_time_min:
        lead = rng.triangular(p.lead_time_min, p.lead_time_mode, p.lead_time_max, n)
    else:
        lead = np.full(n, p.lead_time_min)
    capex_per_mw = p.host_capex_per_mw * np.exp(p.capex_overrun_sigma * rng.standard_normal(n))

    log_s = np.full(n, p.btc_log_price0)
    log_f = np.full(n, p.fees_log0)
    log_h = np.full(n, p.hashrate_log0)
    x_power = np.full(n, p.power_dev0)
    x_lease = np.full(n, p.lease_dev0)

    # The lease: start/end in model years, and the contracted rate (NaN between
    # a lease ending and the next one commencing, when the market sets it).
    start = lead.copy()
    end = lead + p.lease_term
    rate = np.full(n, p.lease_rate0)
    built = np.zeros(n)

    # Every strategy is a fixed split of the grid, so its cash flow is a linear
    # mix of one MW of mining and one MW of hosting; value those two, mix at the end.
    pv_mine = np.zeros(n)
    pv_host = np.zeros(n)
    last_year_mine = np.zeros(n)
    last_year_host = np.zeros(n)

    for k in range(p.n_steps):
        t0, t1 = p.t_start[k], p.t_end[k]
        z = p.chol[:5, :5] @ rng.standard_normal((5, n))  # mine, host and hybrid need the first five factors

        # --- markets from t0 to t1 -------------------------------------------------
        log_h_star = p.log_hstar_coef[k] + np.log(p.subsidy_per_block[k] + np.exp(log_f)) + log_s
        log_h += p.hashrate_drift + p.hashrate_kappa_dt * (log_h_star - log_h) + p.hashrate_vol * z[2]

        n_jumps = rng.poisson(jump_rate, n)
        jumps = n_jumps * p.btc_jump_mean + np.sqrt(n_jumps) * p.btc_jump_sd * rng.standard_normal(n)
        log_s += p.btc_drift + p.btc_vol * z[0] + jumps

        log_f = p.fees_log_level + p.fees_decay * (log_f - p.fees_log_level) + p.fees_noise * z[1]

        x_power = p.power_decay * x_power + p.power_noise * z[3]
        if spike_rate > 0.0:
            # Spikes arrive uniformly within the step and decay from their arrival:
            # exponential log-size times exp(-speed x time left in the step).
            counts = rng.poisson(spike_rate, n)
            total = int(counts.sum())
            if total:
                sizes = rng.exponential(p.power_spike_mean_log, total)
                sizes *= np.exp(-p.power_speed_dt * rng.random(total))
                x_power += np.bincount(np.repeat(np.arange(n), counts), weights=sizes, minlength=n)
        x_lease = p.lease_decay * x_lease + p.lease_noise * z[4]

        btc = np.exp(log_s)
        fees = np.exp(log_f)
        power = np.exp(p.power_log_level[k] + x_power)
        market_rate = np.exp(p.lease_log_level[k] + x_lease)
        hashprice = p.blocks_per_day * (p.subsidy_per_block[k] + fees) * btc / (1000.0 * np.exp(log_h))

        # --- one MW of mining ---------------------------------------------------------
        hash_value = hashprice * p.ph_per_mw[k]  # USD per day per grid MW
        if p.mining_curtailment:
            on = power <= hash_value * p.pool_keep / 24.0
        else:
            on = np.ones(n, dtype=bool)
        spot_on = np.where(on, spot_share, 0.0)
        mine_ebitda = (
            hash_value * p.days_per_step * p.mining_net_share * (p.mining_ppa_fraction + spot_on)
            - ppa_cost
            - energy_mwh * spot_on * power
            + energy_mwh * (spot_share - spot_on) * p.mining_dr_credit
            - p.mining_fixed_opex_per_step
        )
        mine_cf = mine_ebitda
        if p.refresh_th_per_mw[k]:
            mine_cf = mine_ebitda - p.refresh_th_per_mw[k] * p.asic_price_per_th_per_hashprice * hashprice

        # --- one MW of hosting --------------------------------------------------------
        built_now = np.minimum(t1 / np.maximum(lead, 1e-300), 1.0)
        build_capex = (built_now - built) * capex_per_mw
        built = built_now

        # A renewal or re-let is signed at the first market rate observed at or after its start.
        by_t1 = t1 + p.boundary_tolerance
        rate = np.where(np.isnan(rate) & (start <= by_t1), market_rate, rate)
        a = np.maximum(start, t0)
        b = np.minimum(end, t1)
        leased = np.maximum(b - a, 0.0)
        rate_years = np.where(leased > 0.0, rate * _escalated_years(a, b, start, growth), 0.0)

        ended = end <= by_t1
        if ended.any():
            renewed = rng.random(n) < p.renewal_probability
            start = np.where(ended, np.where(renewed, end, end + p.release_time), start)
            end = np.where(ended, start + p.lease_term, end)
            rate = np.where(ended, np.where(start <= by_t1, market_rate, np.nan), rate)
            begins = ended & (start < t1)
            b2 = np.minimum(end, t1)
            rate_years += np.where(begins, rate * _escalated_years(start, b2, start, growth), 0.0)
            leased += np.where(begins, b2 - start, 0.0)

        defaults = (leased > 0.0) & (rng.random(n) < -np.expm1(-hazard * leased))
        if defaults.any():
            start = np.where(defaults, t1 + p.release_time, start)
            end = np.where(defaults, start + p.lease_term, end)
            rate = np.where(defaults, np.where(start <= by_t1, market_rate, np.nan), rate)

        host_ebitda = p.noi_margin * 12.0 * p.lease_kw_per_mw * rate_years
        if not p.power_passthrough:
            blended = p.mining_ppa_fraction * p.ppa_price + spot_share * power
            host_ebitda = host_ebitda - leased * (p.hours_per_step / p.dt) * blended
        host_cf = host_ebitda - build_capex
        if k == 0:
            host_cf = host_cf + p.salvage_per_mw

        pv_mine += p.discount[k] * mine_cf
        pv_host += p.discount[k] * host_cf
        if p.terminal_weight[k]:
            last_year_mine += mine_ebitda
            last_year_host += host_ebitda

    hosting_mw = p.grid_mw * p.conversion_share[:, None]
    mining_mw = p.grid_mw - hosting_mw
    exit_value = p.discount[-1] * p.exit_multiple[:, None]
    return mining_mw * (pv_mine + exit_value * last_year_mine) + hosting_mw * (pv_host + exit_value * last_year_host)


def _escalated_years(a: np.ndarray, b: np.ndarray, start: np.ndarray, growth: float) -> np.ndarray:
    """Years leased in ``[a, b]`` weighted by the escalator, which steps up on each anniversary of ``start``."""
    years_done = np.floor(a - start)
    anniversary = start + years_done + 1.0
    return growth**years_done * (np.minimum(b, anniversary) - a + growth * np.maximum(b - anniversary, 0.0))
