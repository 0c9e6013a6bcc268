"""Lowering: a validated :class:`~pivotmc.model.scenario.Scenario` becomes numbers.

Everything that does not depend on a path is computed here once: per-step
schedules (times, discount factors, subsidy, fleet efficiency, seasonal and
trending log-levels), per-step OU decay factors and noise scales, the Cholesky
factor of the correlation matrix, Poisson inversion tables, and the per-MW
economics of mining and hosting. Backends see only a :class:`Plan`.

Conventions (shared by every backend)
-------------------------------------
* Step ``k`` covers ``(t_k, t_{k+1}]`` with ``t_k = k * dt``. The market state is
  advanced from ``t_k`` to ``t_{k+1}`` with step ``k``'s shocks; step ``k``'s cash
  flows are earned at the state observed at ``t_{k+1}`` and discounted from
  ``t_{k+1}``.
* Step ``k``'s subsidy (per block) is its pro-rated average (see
  :func:`pivotmc.model.protocol.step_subsidy_btc`); it enters both the hashrate
  equilibrium of step ``k`` and step ``k``'s hashprice.
* Days are Julian: a year is 365.25 days, 8766 hours.
* Power spikes arrive at uniform times within a step and decay from their
  arrival: a spike of log-size ``Y`` arriving a fraction ``f`` into step ``k``
  adds ``Y exp(-speed dt (1 - f))`` to the log-deviation at ``t_{k+1}``, which is
  the continuous-time model's value whatever the step size.
* A lease that is not signed at a decision (a renewal, or a re-let after a
  non-renewal or a default) is signed at the first market rate observed at or
  after its commencement: at ``t_k``'s rate if it commences exactly on the step
  boundary ``t_k``, at ``t_{k+1}``'s if it commences inside ``(t_k, t_{k+1})``.
  Lease dates within :data:`BOUNDARY_TOLERANCE_YEARS` of a boundary count as on
  it, so that a date computed as another date plus whole months lands on the
  boundary whatever the rounding. Leases signed at a decision (``host`` at
  t = 0, a conversion of ``switch``) take the decision's rate.
* ``cloud`` commissions its GPUs when construction ends (the path's lead time
  after the decision) and pays for them in the step that holds that date, at
  ``capex_per_gpu exp(capex_trend t)``; a refresh every ``gpu_life_years`` sells
  the fleet at ``residual_fraction`` of its price and buys the new one in the
  step that holds the refresh date. Its first compute contract is signed at
  the decision at the price of a new GPU-hour then (G at the decision) and runs
  from commissioning for ``contract_years``; later contracts (renewals at term
  end, re-sales after a default and ``release_months``) are signed at the
  fleet's market price ``G exp(-aging age)`` observed at the end of the step in
  which they start (on a boundary: that boundary's). On-demand GPU-hours sell
  at the step's end G times the exact time-average over the step of the
  fleet's aging factor ``exp(-aging age)``.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from pivotmc.model.protocol import step_subsidy_btc
from pivotmc.model.transitions import lower_cholesky_psd, ou_coefficients, poisson_cdf_table
from pivotmc.model.scenario import HashrateSettings, Scenario
from pivotmc.model.strategies import (
    LEARNED_STRATEGY, conversion_shares, exit_multiples, learned_actions, learned_strategy, spec,
)  # fmt: skip
from pivotmc.model.units import DAYS_PER_YEAR, HOURS_PER_DAY, HOURS_PER_YEAR, MONTHS_PER_YEAR, PH_PER_EH

__all__ = ["Plan", "lower", "hashprice", "log_hstar_coefficient", "lower_cholesky_psd", "poisson_cdf_table", "step_dates"]

#: Lease dates this close to a step boundary (years; about 0.03 s) count as on it.
BOUNDARY_TOLERANCE_YEARS = 1e-9
#: Lead times are clipped below to this (years) where capex is spread over them: a lead time of
#: zero spends it all in the first step instead of dividing by zero.
TINY_YEARS = 1e-300
#: State variables the switch policy regresses on (their logs), at each decision date.
SWITCH_FEATURES = ("hashprice", "lease_rate", "power_price")
#: What the three-way switch (mine, host or cloud) also regresses on.
CLOUD_FEATURES = ("gpu_price",)


def hashprice(blocks_per_day: float, subsidy_btc: np.ndarray | float, fees_btc, btc_price, hashrate_ehs):
    """Hashprice in USD per PH/s per day: ``blocks_per_day (subsidy + F) S / (1000 H)``."""
    return blocks_per_day * (subsidy_btc + fees_btc) * btc_price / (PH_PER_EH * hashrate_ehs)


def log_hstar_coefficient(blocks_per_day: float, hashrate: HashrateSettings, t: np.ndarray, markup: float = 1.0) -> np.ndarray:
    """``ln(blocks_per_day / (24 eps_t p_marg phi))`` at times ``t`` (years).

    The equilibrium hashrate is ``ln H*_t = this + ln((subsidy + F) S)``, with ``eps_t`` the
    network's fleet efficiency at ``t``; the engine and the hashrate calibration both use it.
    """
    eps = hashrate.efficiency_j_per_th * (1.0 - hashrate.efficiency_improvement) ** t
    return np.log(blocks_per_day / (HOURS_PER_DAY * eps * hashrate.marginal_power_price * markup))


def step_dates(start: _dt.date, steps_per_year: int, n_steps: int) -> np.ndarray:
    """Calendar date at the end of each step (``datetime64[ns]``).

    Monthly steps from the first of a month end on the first of the following
    months; otherwise a step ends ``round(365.25 * t)`` days after the start.
    """
    base = np.datetime64(start, "D")
    k = np.arange(1, n_steps + 1)
    if steps_per_year == 12 and start.day == 1:
        return (np.datetime64(start, "M") + k).astype("datetime64[D]").astype("datetime64[ns]")
    days = np.rint(DAYS_PER_YEAR * k / steps_per_year).astype(np.int64)
    return (base + days).astype("datetime64[ns]")


@dataclass(frozen=True, eq=False)
class Plan:
    """A scenario lowered to the numbers the kernels use (see the module notes)."""

    scenario: Scenario
    strategies: tuple[str, ...]
    conversion_share: np.ndarray  # (n_strategies,) share of grid converted to hosting at t = 0 (pivotmc.model.strategies)
    cloud_share: np.ndarray  # (n_strategies,) share of grid converted to cloud at t = 0
    exit_multiple: np.ndarray  # (n_strategies,) of final-year EBITDA
    n_steps: int
    steps_per_year: int
    dt: float
    # -- per-step schedules, shape (n_steps,) --------------------------------
    t_start: np.ndarray  # t_k, years
    t_end: np.ndarray  # t_{k+1}, years
    discount: np.ndarray  # (1 + r)^-t_{k+1}
    subsidy_per_block: np.ndarray  # BTC, step average
    log_hstar_coef: np.ndarray  # ln(blocks_per_day / (24 eps_k p_marg phi)), eps_k at t_k
    power_log_level: np.ndarray  # seasonal log level of E at t_{k+1}
    lease_log_level: np.ndarray  # trending log level of R at t_{k+1}
    gpu_log_level: np.ndarray  # trending log level of G at t_{k+1}
    ph_per_mw: np.ndarray  # site hashrate per grid MW during step k, PH/s
    refresh_th_per_mw: np.ndarray  # TH bought per grid MW at the end of step k (0 if no refresh)
    terminal_weight: np.ndarray  # 1 for the steps of the final year (their EBITDA sets the exit value)
    salvage_per_hashprice: np.ndarray  # USD per grid MW per USD/PH/day: the fleet of step k sold at t_k
    # -- scalars ---------------------------------------------------------------
    blocks_per_day: float
    days_per_step: float
    hours_per_step: float
    chol: np.ndarray  # (factors, factors) lower-triangular factor of the correlation matrix (pivotmc.model.factors)
    btc_log_price0: float
    btc_drift: float  # (mu - sigma^2/2 - lambda kbar) dt
    btc_vol: float  # sigma sqrt(dt)
    btc_jump_cdf: np.ndarray
    btc_jump_mean: float
    btc_jump_sd: float
    fees_log0: float
    fees_log_level: float
    fees_decay: float
    fees_noise: float
    hashrate_log0: float
    hashrate_drift: float  # g dt
    hashrate_kappa_dt: float
    hashrate_vol: float
    markup: float  # phi as used (calibrated when the scenario says "equilibrium")
    power_dev0: float  # ln E_0 minus the seasonal log level at t = 0
    power_decay: float
    power_noise: float
    power_spike_cdf: np.ndarray
    power_spike_mean_log: float
    power_speed_dt: float  # speed x dt: a spike arriving a fraction f into a step decays by exp(-speed dt (1 - f)) by its end
    lease_dev0: float
    lease_decay: float
    lease_noise: float
    lease_rate0: float
    gpu_dev0: float  # ln G_0 minus the log level at t = 0
    gpu_decay: float
    gpu_noise: float
    gpu_price0: float
    initial_hashprice: float
    initial_power_price: float
    # mining, per MW of grid capacity
    mining_uptime: float
    mining_net_share: float  # uptime (1 - pool fee)
    pool_keep: float  # 1 - pool fee
    mining_ppa_fraction: float
    ppa_price: float
    mining_curtailment: bool
    mining_dr_credit: float
    mining_fixed_opex_per_step: float  # USD per MW per step
    asic_price_per_th_per_hashprice: float  # USD/TH per USD/PH/day
    salvage_per_mw: float  # USD per grid MW of fleet sold at t = 0
    # hosting, per MW of grid capacity
    lease_kw_per_mw: float  # critical IT kW per grid MW
    host_capex_per_mw: float  # USD per grid MW, owner's share, before overrun
    capex_overrun_sigma: float
    lead_time_min: float  # years
    lead_time_mode: float
    lead_time_max: float
    lease_escalator: float
    lease_term: float  # years
    power_passthrough: bool
    noi_margin: float
    default_hazard: float
    release_time: float  # years
    boundary_tolerance: float  # years: lease dates this close to a step boundary count as on it
    renewal_probability: float
    grid_mw: float
    # cloud, per MW of grid capacity
    gpu_aging: float  # 1/year: a fleet of age a rents at G exp(-aging a)
    cloud_gpus_per_mw: float  # GPUs per grid MW
    cloud_capex_per_gpu: float  # USD at t = 0
    cloud_capex_trend: float  # 1/year
    cloud_contracted_share: float
    cloud_contract_term: float  # years
    cloud_contract_util: float
    cloud_spot_util: float
    cloud_power_mw: float  # MW drawn per grid MW while the fleet runs
    cloud_margin: float  # 1 - non-power opex share of revenue
    cloud_hazard: float  # 1/year
    cloud_release: float  # years
    cloud_life: float  # years between refreshes
    cloud_residual: float
    # -- the switch strategy ---------------------------------------------------
    switch_index: int  # position of the learned strategy (the switch) in strategies, -1 if it is not valued
    decision_steps: np.ndarray  # (dates,) int: the switch decides at t_k for these k
    switch_actions: tuple[str, ...]  # the conversions the switch chooses among (pivotmc.model.strategies.CONVERSIONS)

    @property
    def n_strategies(self) -> int:
        return len(self.strategies)

    @property
    def switch_exit_multiple(self) -> float:
        """The exit multiple of the learned strategy, which its policy learns with whether or not it is valued."""
        return float(self.scenario.value(spec(LEARNED_STRATEGY).exit_multiple))

    @property
    def switch_features(self) -> tuple[str, ...]:
        """The state variables the switch policy regresses on: the GPU price too when it may convert to cloud."""
        return SWITCH_FEATURES + (CLOUD_FEATURES if "cloud" in self.switch_actions else ())

    @property
    def switch_cloud(self) -> bool:
        """Whether the switch may convert to cloud (the three-way switch)."""
        return "cloud" in self.switch_actions

    @property
    def static_cloud(self) -> bool:
        """Whether a static strategy converts some of the site to cloud at t = 0."""
        return bool(np.any(self.cloud_share > 0.0))

    @property
    def values_cloud(self) -> bool:
        """Whether some strategy (static, or the three-way switch) runs the cloud economics."""
        return self.static_cloud or self.switch_cloud

    @property
    def decision_times(self) -> np.ndarray:
        """Model time of each decision date, years."""
        return self.t_start[self.decision_steps]


def lower(scenario: Scenario) -> Plan:
    """Lower a validated scenario to a :class:`Plan`."""
    sim, proto, btc, fees, hr = scenario.simulation, scenario.protocol, scenario.btc, scenario.fees, scenario.hashrate
    power, host, mining, site = scenario.power, scenario.hosting, scenario.mining, scenario.site
    gpu, cloud = scenario.gpu, scenario.cloud
    K, spy, dt = sim.n_steps, sim.steps_per_year, sim.dt
    k = np.arange(K)
    t_start = k * dt
    t_end = (k + 1) * dt
    discount = (1.0 + sim.discount_rate) ** (-t_end)

    blocks, subsidy = step_subsidy_btc(proto, spy, K)
    subsidy_per_block = subsidy / blocks

    # Network fleet efficiency eps_k at t_k; phi calibrated so that H*_0 = H_0 by default.
    if hr.markup is None:
        revenue0 = proto.blocks_per_day * (subsidy_per_block[0] + fees.initial_btc) * btc.price
        markup = revenue0 / (HOURS_PER_DAY * hr.efficiency_j_per_th * hr.marginal_power_price * hr.initial_ehs)
    else:
        markup = hr.markup
    log_hstar_coef = log_hstar_coefficient(proto.blocks_per_day, hr, t_start, markup)

    # Seasonal level: the calendar month that holds the middle of each step.
    ends = step_dates(sim.start, spy, K)
    starts = np.concatenate([[np.datetime64(sim.start, "ns")], ends[:-1]])
    months = (starts + (ends - starts) / 2).astype("datetime64[M]").astype(np.int64) % 12
    seasonality = np.array(power.seasonality)
    power_log_level = np.log(power.long_run_price * seasonality[months])
    power_dev0 = math.log(power.price) - math.log(power.long_run_price * seasonality[sim.start.month - 1])

    lease_log_level = math.log(host.lease_long_run) + host.lease_trend * t_end
    lease_dev0 = math.log(host.lease_rate) - math.log(host.lease_long_run)
    gpu_log_level = math.log(gpu.long_run) + gpu.trend * t_end
    gpu_dev0 = math.log(gpu.price) - math.log(gpu.long_run)

    # Mining fleet: the t = 0 fleet until the first refresh, then the frontier of each refresh date.
    refresh_every = int(round(mining.refresh_years * spy))
    fleet_eps = np.empty(K)
    refresh_th_per_mw = np.zeros(K)
    eps = mining.efficiency_j_per_th
    for step in range(K):
        fleet_eps[step] = eps
        if (step + 1) % refresh_every == 0 and step + 1 < K:
            eps = mining.frontier_efficiency_j_per_th * (1.0 - hr.efficiency_improvement) ** t_end[step]
            refresh_th_per_mw[step] = 1e6 / (mining.pue * eps)
    ph_per_mw = 1e3 / (mining.pue * fleet_eps)

    kbar = math.exp(btc.jump_mean + 0.5 * btc.jump_sd**2) - 1.0
    fees_decay, fees_noise = ou_coefficients(fees.speed, fees.sigma, dt)
    power_decay, power_noise = ou_coefficients(power.speed, power.sigma, dt)
    lease_decay, lease_noise = ou_coefficients(host.lease_speed, host.lease_sigma, dt)
    gpu_decay, gpu_noise = ou_coefficients(gpu.speed, gpu.sigma, dt)

    initial_hashprice = float(
        hashprice(proto.blocks_per_day, subsidy_per_block[0], fees.initial_btc, btc.price, hr.initial_ehs)
    )
    asic_price_per_th_per_hashprice = mining.asic_price_per_th / mining.asic_reference_hashprice
    # The fleet in use during step k, sold at t_k at salvage_fraction of a market price that tracks hashprice.
    salvage_per_hashprice = mining.salvage_fraction * (1e3 * ph_per_mw) * asic_price_per_th_per_hashprice
    salvage_per_mw = float(salvage_per_hashprice[0] * initial_hashprice)

    strategies = scenario.strategies.evaluate
    learned = learned_strategy(strategies)
    terminal_weight = (k >= K - spy).astype(np.float64)
    every = spy / scenario.switch.decisions_per_year
    decision_steps = np.unique(np.rint(np.arange(0.0, K, every)).astype(np.int64))
    decision_steps = decision_steps[decision_steps < K]
    cloud_share = conversion_shares(scenario, strategies, "cloud")
    switch_actions = learned_actions(strategies) if learned is not None else ()

    return Plan(
        scenario=scenario,
        strategies=strategies,
        conversion_share=conversion_shares(scenario, strategies),
        cloud_share=cloud_share,
        exit_multiple=exit_multiples(scenario, strategies),
        n_steps=K,
        steps_per_year=spy,
        dt=dt,
        t_start=t_start,
        t_end=t_end,
        discount=discount,
        subsidy_per_block=subsidy_per_block,
        log_hstar_coef=log_hstar_coef,
        power_log_level=power_log_level,
        lease_log_level=lease_log_level,
        gpu_log_level=gpu_log_level,
        ph_per_mw=ph_per_mw,
        refresh_th_per_mw=refresh_th_per_mw,
        terminal_weight=terminal_weight,
        salvage_per_hashprice=salvage_per_hashprice,
        blocks_per_day=proto.blocks_per_day,
        days_per_step=DAYS_PER_YEAR * dt,
        hours_per_step=HOURS_PER_YEAR * dt,
        chol=lower_cholesky_psd(np.array(scenario.correlation.matrix)),
        btc_log_price0=math.log(btc.price),
        btc_drift=(btc.mu - 0.5 * btc.sigma**2 - btc.jump_intensity * kbar) * dt,
        btc_vol=btc.sigma * math.sqrt(dt),
        btc_jump_cdf=poisson_cdf_table(btc.jump_intensity * dt),
        btc_jump_mean=btc.jump_mean,
        btc_jump_sd=btc.jump_sd,
        fees_log0=math.log(fees.initial_btc),
        fees_log_level=math.log(fees.long_run_btc),
        fees_decay=fees_decay,
        fees_noise=fees_noise,
        hashrate_log0=math.log(hr.initial_ehs),
        hashrate_drift=hr.growth * dt,
        hashrate_kappa_dt=hr.speed * dt,
        hashrate_vol=hr.sigma * math.sqrt(dt),
        markup=markup,
        power_dev0=power_dev0,
        power_decay=power_decay,
        power_noise=power_noise,
        power_spike_cdf=poisson_cdf_table(power.spike_intensity * dt),
        power_spike_mean_log=power.spike_mean_log,
        power_speed_dt=power.speed * dt,
        lease_dev0=lease_dev0,
        lease_decay=lease_decay,
        lease_noise=lease_noise,
        lease_rate0=host.lease_rate,
        gpu_dev0=gpu_dev0,
        gpu_decay=gpu_decay,
        gpu_noise=gpu_noise,
        gpu_price0=gpu.price,
        initial_hashprice=initial_hashprice,
        initial_power_price=power.price,
        mining_uptime=mining.uptime,
        mining_net_share=mining.uptime * (1.0 - mining.pool_fee),
        pool_keep=1.0 - mining.pool_fee,
        mining_ppa_fraction=power.ppa_fraction,
        ppa_price=power.ppa_price,
        mining_curtailment=mining.curtailment,
        mining_dr_credit=mining.demand_response_credit,
        mining_fixed_opex_per_step=mining.fixed_opex_per_mw_year * dt,
        asic_price_per_th_per_hashprice=asic_price_per_th_per_hashprice,
        salvage_per_mw=salvage_per_mw,
        lease_kw_per_mw=1000.0 / host.pue,
        host_capex_per_mw=host.capex_per_it_mw / host.pue * (1.0 - host.tenant_capex_share),
        capex_overrun_sigma=host.capex_overrun_sigma,
        lead_time_min=host.lead_time_min_months / MONTHS_PER_YEAR,
        lead_time_mode=host.lead_time_mode_months / MONTHS_PER_YEAR,
        lead_time_max=host.lead_time_max_months / MONTHS_PER_YEAR,
        lease_escalator=host.escalator,
        lease_term=host.term_years,
        power_passthrough=host.power_passthrough,
        noi_margin=host.noi_margin,
        default_hazard=host.default_hazard,
        release_time=host.release_months / MONTHS_PER_YEAR,
        boundary_tolerance=BOUNDARY_TOLERANCE_YEARS,
        renewal_probability=host.renewal_probability,
        grid_mw=site.grid_mw,
        gpu_aging=gpu.aging,
        cloud_gpus_per_mw=cloud.fill * 1000.0 / (host.pue * cloud.kw_per_gpu),
        cloud_capex_per_gpu=cloud.capex_per_gpu,
        cloud_capex_trend=cloud.capex_trend,
        cloud_contracted_share=cloud.contracted_share,
        cloud_contract_term=cloud.contract_years,
        cloud_contract_util=cloud.contracted_utilisation,
        cloud_spot_util=cloud.on_demand_utilisation,
        cloud_power_mw=cloud.fill * cloud.average_draw,
        cloud_margin=1.0 - cloud.opex_share,
        cloud_hazard=cloud.default_hazard,
        cloud_release=cloud.release_months / MONTHS_PER_YEAR,
        cloud_life=cloud.gpu_life_years,
        cloud_residual=cloud.residual_fraction,
        switch_index=strategies.index(learned) if learned is not None else -1,
        decision_steps=decision_steps,
        switch_actions=switch_actions,
    )


# --------------------------------------------------------------------------- #
# Flat arrays for compiled kernels (Numba and CUDA share this layout)
# --------------------------------------------------------------------------- #
#: Names of the scalar parameters, in the order of ``PackedPlan.scalars``. The
#: CUDA kernels and the Numba kernels index that array with these positions.
SCALAR_FIELDS = (
    "dt", "blocks_per_day", "days_per_step", "hours_per_step",
    "btc_log_price0", "btc_drift", "btc_vol", "btc_jump_mean", "btc_jump_sd",
    "fees_log0", "fees_log_level", "fees_decay", "fees_noise",
    "hashrate_log0", "hashrate_drift", "hashrate_kappa_dt", "hashrate_vol",
    "power_dev0", "power_decay", "power_noise", "power_spike_mean_log", "power_speed_dt",
    "lease_dev0", "lease_decay", "lease_noise", "lease_rate0",
    "mining_uptime", "mining_net_share", "pool_keep", "mining_ppa_fraction", "ppa_price",
    "mining_curtailment", "mining_dr_credit", "mining_fixed_opex_per_step",
    "asic_price_per_th_per_hashprice", "salvage_per_mw",
    "lease_kw_per_mw", "host_capex_per_mw", "capex_overrun_sigma",
    "lead_time_min", "lead_time_mode", "lead_time_max",
    "lease_escalator", "lease_term", "power_passthrough", "noi_margin",
    "default_hazard", "release_time", "boundary_tolerance", "renewal_probability", "grid_mw",
    "initial_hashprice", "initial_power_price",
    "gpu_dev0", "gpu_decay", "gpu_noise", "gpu_price0", "gpu_aging",
    "cloud_gpus_per_mw", "cloud_capex_per_gpu", "cloud_capex_trend", "cloud_contracted_share", "cloud_contract_term",
    "cloud_contract_util", "cloud_spot_util", "cloud_power_mw", "cloud_margin", "cloud_hazard", "cloud_release",
    "cloud_life", "cloud_residual", "values_cloud",
)
#: Rows of ``PackedPlan.steps``, each a per-step schedule of length n_steps.
STEP_FIELDS = (
    "t_start", "t_end", "discount", "subsidy_per_block", "log_hstar_coef",
    "power_log_level", "lease_log_level", "ph_per_mw", "refresh_th_per_mw", "terminal_weight",
    "salvage_per_hashprice", "gpu_log_level",
)
#: Positions as integer enums: compiled kernels read them as constants (``P.dt``).
ScalarIndex = IntEnum("ScalarIndex", [(name, i) for i, name in enumerate(SCALAR_FIELDS)])
StepIndex = IntEnum("StepIndex", [(name, i) for i, name in enumerate(STEP_FIELDS)])


@dataclass(frozen=True, eq=False)
class PackedPlan:
    """A :class:`Plan` as contiguous float64 arrays."""

    scalars: np.ndarray  # (len(SCALAR_FIELDS),)
    steps: np.ndarray  # (len(STEP_FIELDS), n_steps)
    chol: np.ndarray  # (factors, factors)
    btc_jump_cdf: np.ndarray
    power_spike_cdf: np.ndarray
    conversion_share: np.ndarray  # (n_strategies,)
    exit_multiple: np.ndarray  # (n_strategies,)
    cloud_share: np.ndarray  # (n_strategies,)


def pack(plan: Plan) -> PackedPlan:
    """Flatten a plan for compiled kernels (booleans become 0.0 / 1.0)."""
    scalars = np.array([float(getattr(plan, name)) for name in SCALAR_FIELDS])
    steps = np.ascontiguousarray(np.stack([np.asarray(getattr(plan, name), dtype=np.float64) for name in STEP_FIELDS]))
    return PackedPlan(
        scalars=scalars,
        steps=steps,
        chol=np.ascontiguousarray(plan.chol),
        btc_jump_cdf=np.ascontiguousarray(plan.btc_jump_cdf),
        power_spike_cdf=np.ascontiguousarray(plan.power_spike_cdf),
        conversion_share=np.ascontiguousarray(plan.conversion_share),
        exit_multiple=np.ascontiguousarray(plan.exit_multiple),
        cloud_share=np.ascontiguousarray(plan.cloud_share),
    )
