"""The sections of a scenario, one frozen dataclass per TOML section, and their parameters.

Each parameter is declared with :func:`~pivotmc.model.parameters.param`: its default, unit,
one-line description and allowed range. Defaults follow the pivotmc model specification (see the
README's model summary). Units are in the names where they fit (``grid_mw``,
``capex_per_it_mw``) and in the metadata otherwise.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import ClassVar, Mapping

import numpy as np

from pivotmc.errors import ValidationError
from pivotmc.model.factors import FACTORS, N_FACTORS
from pivotmc.model.parameters import FRACTION, NONNEG, POSITIVE, SPEED, VOLATILITY, Bound, ParameterSection, param
from pivotmc.model.strategies import STRATEGIES

__all__ = [
    "SimulationSettings",
    "ProtocolSettings",
    "BtcSettings",
    "FeesSettings",
    "HashrateSettings",
    "PowerSettings",
    "HostingSettings",
    "GpuSettings",
    "CloudSettings",
    "SiteSettings",
    "MiningSettings",
    "CorrelationSettings",
    "StrategySettings",
    "SwitchSettings",
    "TerminalSettings",
    "SECTION_TYPES",
    "DEFAULT_CORRELATIONS",
    "DEFAULT_STRATEGIES",
    "MAX_HORIZON_YEARS",
    "STEP_NAMES",
]

#: Strategies a scenario values unless told otherwise.
DEFAULT_STRATEGIES = STRATEGIES
MAX_HORIZON_YEARS = 50.0
#: The allowed numbers of steps a year, and what each is called.
STEP_NAMES = {12: "monthly", 52: "weekly", 365: "daily"}
_STEPS_PER_YEAR = tuple(STEP_NAMES)


@dataclass(frozen=True, slots=True)
class SimulationSettings(ParameterSection):
    """Time grid and discounting."""

    section: ClassVar[str] = "simulation"
    start: _dt.date = param(_dt.date(2026, 1, 1), "date", "valuation date t = 0", None)
    horizon_years: float = param(15.0, "years", "length of the simulation", Bound(0.0, MAX_HORIZON_YEARS, lo_open=True))
    steps_per_year: int = param(12, "1/year", "time steps per year: 12 (monthly), 52 (weekly) or 365 (daily)", None, choices=_STEPS_PER_YEAR)
    discount_rate: float = param(0.12, "1/year", "annual discount rate (WACC); DF(t) = (1 + r)^-t", Bound(0.0, 1.0))

    def _check(self) -> None:
        n = self.horizon_years * self.steps_per_year
        if abs(n - round(n)) > 1e-9 * max(1.0, n):
            raise ValidationError(
                f"simulation.horizon_years = {self.horizon_years!r} is not allowed: it must be a whole number "
                f"of steps at {self.steps_per_year} steps per year."
            )

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_years * self.steps_per_year))

    @property
    def dt(self) -> float:
        """Length of one step in years."""
        return 1.0 / self.steps_per_year


@dataclass(frozen=True, slots=True)
class ProtocolSettings(ParameterSection):
    """Bitcoin's issuance schedule (deterministic)."""

    section: ClassVar[str] = "protocol"
    blocks_per_day: float = param(144.0, "blocks/day", "average block rate", Bound(1.0, 1440.0))
    start_height: int = param(930_000, "blocks", "block height at the start date", NONNEG)
    halving_interval: int = param(210_000, "blocks", "blocks between halvings", POSITIVE)
    initial_subsidy_btc: float = param(50.0, "BTC", "subsidy before the first halving", POSITIVE)


@dataclass(frozen=True, slots=True)
class BtcSettings(ParameterSection):
    """BTC price: Merton jump-diffusion in log space, E[S_t] = S_0 exp(mu t)."""

    section: ClassVar[str] = "btc"
    price: float = param(90_000.0, "USD", "BTC price at t = 0 (S_0)", POSITIVE)
    mu: float = param(0.10, "1/year", "expected annual log-drift of E[S] (real-world)", Bound(-2.0, 2.0))
    sigma: float = param(0.50, "1/sqrt(year)", "diffusion volatility", VOLATILITY)
    jump_intensity: float = param(1.0, "1/year", "expected number of jumps per year (lambda)", Bound(0.0, 365.0))
    jump_mean: float = param(-0.05, "log", "mean log jump size (m_J)", Bound(-2.0, 2.0))
    jump_sd: float = param(0.15, "log", "standard deviation of the log jump size (s_J)", Bound(0.0, 2.0))


@dataclass(frozen=True, slots=True)
class FeesSettings(ParameterSection):
    """Transaction fees per block: log-OU around a long-run level."""

    section: ClassVar[str] = "fees"
    initial_btc: float = param(0.025, "BTC/block", "fees per block at t = 0 (F_0)", POSITIVE)
    long_run_btc: float = param(0.025, "BTC/block", "long-run level (the log-OU reverts to its log; a median)", POSITIVE)
    speed: float = param(4.0, "1/year", "mean-reversion speed", SPEED)
    sigma: float = param(0.8, "1/sqrt(year)", "volatility of log fees", VOLATILITY)


@dataclass(frozen=True, slots=True)
class HashrateSettings(ParameterSection):
    """Network hashrate: error correction toward the price-implied free-entry equilibrium."""

    section: ClassVar[str] = "hashrate"
    initial_ehs: float = param(1_100.0, "EH/s", "network hashrate at t = 0 (H_0)", POSITIVE)
    speed: float = param(3.0, "1/year", "speed of adjustment toward equilibrium (kappa_H)", SPEED)
    sigma: float = param(0.15, "1/sqrt(year)", "volatility of log hashrate", VOLATILITY)
    growth: float = param(0.0, "1/year", "drift of log hashrate besides the correction (g)", Bound(-1.0, 1.0))
    efficiency_j_per_th: float = param(20.0, "J/TH", "network fleet efficiency at t = 0 (eps_0)", POSITIVE)
    efficiency_improvement: float = param(0.10, "1/year", "annual improvement of fleet efficiency", Bound(0.0, 1.0, hi_open=True))
    marginal_power_price: float = param(45.0, "USD/MWh", "marginal miner's power price (p_marg)", POSITIVE)
    markup: float | None = param(
        None,
        "1",
        'revenue / power cost at which entry stops (phi); "equilibrium" calibrates it so that H*_0 = H_0',
        POSITIVE,
        none_token="equilibrium",
    )


@dataclass(frozen=True, slots=True)
class PowerSettings(ParameterSection):
    """Site power price: log-OU around a seasonal level, with optional upward spikes."""

    section: ClassVar[str] = "power"
    price: float = param(40.0, "USD/MWh", "spot power price at t = 0 (E_0)", POSITIVE)
    long_run_price: float = param(42.0, "USD/MWh", "long-run level before seasonality (a median: the log-OU reverts to its log)", POSITIVE)
    speed: float = param(2.0, "1/year", "mean-reversion speed (a spike decays at this speed too, from the moment it arrives)", SPEED)
    sigma: float = param(0.35, "1/sqrt(year)", "volatility of log power price", VOLATILITY)
    seasonality: tuple[float, ...] = param(
        (1.0,) * 12, "1", "multipliers of the long-run level by calendar month, January first", POSITIVE, length=12
    )
    spike_intensity: float = param(0.0, "1/year", "expected number of upward spikes per year (Poisson arrivals at any time, also within a step)", Bound(0.0, 365.0))
    spike_mean_log: float = param(0.5, "log", "mean of the exponential log-size of a spike", POSITIVE)
    ppa_fraction: float = param(0.0, "1", "share of load bought at the fixed PPA price", FRACTION)
    ppa_price: float = param(45.0, "USD/MWh", "fixed PPA price", NONNEG)


@dataclass(frozen=True, slots=True)
class HostingSettings(ParameterSection):
    """AI/HPC hosting: the lease-rate market, the conversion and the lease contract."""

    section: ClassVar[str] = "hosting"
    lease_rate: float = param(140.0, "USD/kW-month", "market lease rate at t = 0 (R_0), per kW of critical IT load", POSITIVE)
    lease_long_run: float = param(140.0, "USD/kW-month", "long-run level at t = 0 (a median), drifting at lease_trend", POSITIVE)
    lease_trend: float = param(-0.03, "1/year", "drift of the long-run log level per year", Bound(-1.0, 1.0))
    lease_speed: float = param(0.5, "1/year", "mean-reversion speed of the lease rate", SPEED)
    lease_sigma: float = param(0.20, "1/sqrt(year)", "volatility of the log lease rate", VOLATILITY)
    pue: float = param(1.35, "1", "grid power / critical IT power of the converted site", Bound(1.0, 3.0))
    lead_time_min_months: float = param(8.0, "months", "construction lead time: minimum of the triangular law", NONNEG)
    lead_time_mode_months: float = param(10.0, "months", "construction lead time: mode", NONNEG)
    lead_time_max_months: float = param(18.0, "months", "construction lead time: maximum", NONNEG)
    capex_per_it_mw: float = param(9.0e6, "USD/MW", "conversion capex per MW of critical IT load", NONNEG)
    capex_overrun_sigma: float = param(0.15, "log", "per-path lognormal capex overrun, exp(sigma Z), median 1", Bound(0.0, 2.0))
    tenant_capex_share: float = param(0.0, "1", "share of capex funded by the tenant", FRACTION)
    escalator: float = param(0.025, "1/year", "annual lease escalator, stepping up each contract year", Bound(-0.5, 1.0))
    term_years: float = param(12.0, "years", "lease term", Bound(1.0, 50.0))
    power_passthrough: bool = param(True, "", "true: the tenant pays its power; false: the site pays it only while a lease runs (not while building or between leases), for the whole converted grid capacity at full draw (grid_mw, or hybrid's share of it), at the blend of power.ppa_fraction at power.ppa_price and the rest at the spot price at the step's end", None)
    noi_margin: float = param(0.85, "1", "site NOI margin: opex = (1 - noi_margin) x lease revenue", FRACTION)
    default_hazard: float = param(0.03, "1/year", "tenant default hazard while a lease runs", Bound(0.0, 10.0))
    release_months: float = param(6.0, "months", "downtime before re-letting after a default or a non-renewal; the new lease is signed at the first market rate observed at or after its start (on a step boundary: that boundary's)", NONNEG)
    renewal_probability: float = param(0.8, "1", "probability that a lease renews at term end, at the first market rate observed at or after the term end (on a step boundary: that boundary's)", FRACTION)

    def _check(self) -> None:
        lo, mode, hi = self.lead_time_min_months, self.lead_time_mode_months, self.lead_time_max_months
        if not lo <= mode <= hi:
            raise ValidationError(
                "hosting.lead_time_min_months <= hosting.lead_time_mode_months <= hosting.lead_time_max_months "
                f"must hold, got {lo!r}, {mode!r}, {hi!r}."
            )


@dataclass(frozen=True, slots=True)
class GpuSettings(ParameterSection):
    """The GPU rental market: the price of a GPU-hour (H100-equivalent), a log-OU around a trending level."""

    section: ClassVar[str] = "gpu"
    price: float = param(2.40, "USD/GPU-hour", "market rental price of a new GPU at t = 0 (G_0), H100-equivalent", POSITIVE)
    long_run: float = param(2.40, "USD/GPU-hour", "long-run level at t = 0 (a median), drifting at trend", POSITIVE)
    trend: float = param(-0.10, "1/year", "drift of the long-run log level per year", Bound(-1.0, 1.0))
    speed: float = param(2.0, "1/year", "mean-reversion speed of the log price", SPEED)
    sigma: float = param(0.25, "1/sqrt(year)", "volatility of the log price", VOLATILITY)
    aging: float = param(0.15, "1/year", "a fleet of age a rents at G exp(-aging a): newer generations push older ones down", Bound(0.0, 5.0))


@dataclass(frozen=True, slots=True)
class CloudSettings(ParameterSection):
    """The cloud strategy: convert as for hosting, buy GPUs at commissioning and sell compute."""

    section: ClassVar[str] = "cloud"
    kw_per_gpu: float = param(1.4, "kW", "critical IT load per GPU, network included (DGX H100: 10.2 kW per 8 GPUs)", Bound(0.01, 100.0))
    fill: float = param(1.0, "1", "share of the critical IT capacity populated with GPUs (0: an idle converted site)", FRACTION)
    capex_per_gpu: float = param(40_000.0, "USD", "all-in price of a GPU at t = 0 (server share, network, storage)", NONNEG)
    capex_trend: float = param(-0.10, "1/year", "a fleet bought at t costs capex_per_gpu exp(capex_trend t) per GPU", Bound(-1.0, 1.0))
    contracted_share: float = param(0.8, "1", "share of the GPUs sold on take-or-pay contracts; the rest sells on demand", FRACTION)
    contract_years: float = param(3.0, "years", "contract term; renewed at term end at the fleet's market price", Bound(0.25, 50.0))
    contracted_utilisation: float = param(0.97, "1", "billed share of the hours of contracted GPUs", FRACTION)
    on_demand_utilisation: float = param(0.70, "1", "billed share of the hours of on-demand GPUs", FRACTION)
    average_draw: float = param(0.8, "1", "average power draw of the fleet as a share of its nameplate IT load", FRACTION)
    opex_share: float = param(0.15, "1", "non-power opex as a share of revenue", FRACTION)
    default_hazard: float = param(0.03, "1/year", "default hazard of a contract's tenant while the contract runs", Bound(0.0, 10.0))
    release_months: float = param(6.0, "months", "after a default, months before the contracted GPUs are re-sold on a new contract at the fleet's market price", NONNEG)
    gpu_life_years: float = param(5.0, "years", "refresh interval: the fleet is sold at residual_fraction of its price and a new one bought", Bound(1.0, 50.0))
    residual_fraction: float = param(0.20, "1", "resale value of a fleet at refresh, as a share of its purchase price", FRACTION)


@dataclass(frozen=True, slots=True)
class SiteSettings(ParameterSection):
    """The site: grid capacity is the scarce asset every strategy uses."""

    section: ClassVar[str] = "site"
    grid_mw: float = param(100.0, "MW", "grid interconnection capacity", POSITIVE)


@dataclass(frozen=True, slots=True)
class MiningSettings(ParameterSection):
    """The site's mining operation."""

    section: ClassVar[str] = "mining"
    pue: float = param(1.05, "1", "grid power / ASIC power", Bound(1.0, 3.0))
    efficiency_j_per_th: float = param(17.5, "J/TH", "efficiency of the fleet owned at t = 0", POSITIVE)
    frontier_efficiency_j_per_th: float = param(
        17.5, "J/TH", "efficiency of new machines at t = 0; improves at hashrate.efficiency_improvement", POSITIVE
    )
    uptime: float = param(0.97, "1", "fraction of time the fleet hashes", FRACTION)
    pool_fee: float = param(0.02, "1", "mining pool fee", FRACTION)
    fixed_opex_per_mw_year: float = param(40_000.0, "USD/MW/year", "fixed opex per MW of mining grid capacity", NONNEG)
    curtailment: bool = param(True, "", "curtail spot-bought load when power costs more than it earns", None)
    demand_response_credit: float = param(0.0, "USD/MWh", "credit per MWh curtailed", NONNEG)
    refresh_years: float = param(4.0, "years", "ASIC refresh interval (a new fleet at the frontier efficiency)", POSITIVE)
    asic_price_per_th: float = param(15.0, "USD/TH", "price of new machines at the reference hashprice", NONNEG)
    asic_reference_hashprice: float = param(45.0, "USD/PH/day", "hashprice at which machines cost asic_price_per_th", POSITIVE)
    salvage_fraction: float = param(0.3, "1", "sale value of the fleet on conversion, as a share of its market price", FRACTION)


#: Default correlations of factor shocks, by pair; every other pair is uncorrelated.
DEFAULT_CORRELATIONS = {("btc", "fees"): 0.3, ("btc", "hashrate"): 0.1, ("btc", "lease"): 0.2, ("lease", "gpu"): 0.6}


def _correlation_matrix(pairs: Mapping[tuple[str, str], float]) -> tuple[tuple[float, ...], ...]:
    """The correlation matrix, in the order of :data:`FACTORS`, with these pairs and zeros elsewhere."""
    m = np.eye(N_FACTORS)
    for (a, b), rho in pairs.items():
        i, j = FACTORS.index(a), FACTORS.index(b)
        m[i, j] = m[j, i] = rho
    return tuple(tuple(float(v) for v in row) for row in m)


def _complete_matrix(rows: list) -> list:
    """A matrix over the first factors only (a scenario written before later factors existed), completed with
    the default correlations of the others; a full matrix is returned as it is."""
    n = len(rows)
    if n != N_FACTORS - 1 or any(isinstance(r, (str, bytes)) or not hasattr(r, "__len__") or len(r) != n for r in rows):
        return rows
    full = [list(row) for row in _correlation_matrix(DEFAULT_CORRELATIONS)]
    for i in range(n):
        full[i][:n] = list(rows[i])
    return full


_SHOCKS = ", ".join(f"Z_{name}" for name in FACTORS)


@dataclass(frozen=True, slots=True)
class CorrelationSettings(ParameterSection):
    __doc__ = f"""Correlation of the factor shocks, in the order {', '.join(FACTORS)}."""

    section: ClassVar[str] = "correlation"
    matrix: tuple[tuple[float, ...], ...] = param(
        _correlation_matrix(DEFAULT_CORRELATIONS),
        "1",
        f"correlation of ({_SHOCKS}): symmetric, unit diagonal, positive semi-definite",
        Bound(-1.0, 1.0),
        length=N_FACTORS,
        complete=lambda rows: _complete_matrix(rows),
    )

    def _check(self) -> None:
        m = np.array(self.matrix)
        if not np.all(np.diag(m) == 1.0):
            raise ValidationError(f"correlation.matrix must have a unit diagonal, got {np.diag(m).tolist()}.")
        if not np.array_equal(m, m.T):
            i, j = np.argwhere(m != m.T)[0]
            raise ValidationError(
                f"correlation.matrix must be symmetric: entry [{i}][{j}] = {m[i, j]!r} but [{j}][{i}] = {m[j, i]!r}."
            )
        smallest = float(np.linalg.eigvalsh(m)[0])
        if smallest < -1e-10:
            raise ValidationError(
                f"correlation.matrix must be positive semi-definite; its smallest eigenvalue is {smallest:.4g}."
            )

    def pair(self, a: str, b: str) -> float:
        """Correlation between factors ``a`` and ``b`` (names from :data:`FACTORS`)."""
        return self.matrix[FACTORS.index(a)][FACTORS.index(b)]


@dataclass(frozen=True, slots=True)
class StrategySettings(ParameterSection):
    """Which strategies to value and their settings."""

    section: ClassVar[str] = "strategies"
    evaluate: tuple[str, ...] = param(
        DEFAULT_STRATEGIES, "", "strategies to value, in result order (switch is the real option)", None, choices=STRATEGIES
    )
    hybrid_fraction: float = param(0.5, "1", "share of grid capacity the hybrid converts to hosting", FRACTION)


@dataclass(frozen=True, slots=True)
class TerminalSettings(ParameterSection):
    """Terminal value at the horizon: a multiple of final-year EBITDA per strategy (0 = none)."""

    section: ClassVar[str] = "terminal"
    mine: float = param(0.0, "1", "exit multiple of final-year EBITDA for mine", Bound(0.0, 100.0))
    host: float = param(0.0, "1", "exit multiple of final-year EBITDA for host", Bound(0.0, 100.0))
    hybrid: float = param(0.0, "1", "exit multiple of final-year EBITDA for hybrid", Bound(0.0, 100.0))
    switch: float = param(0.0, "1", "exit multiple of final-year EBITDA for switch", Bound(0.0, 100.0))
    cloud: float = param(0.0, "1", "exit multiple of final-year EBITDA for cloud", Bound(0.0, 100.0))


@dataclass(frozen=True, slots=True)
class SwitchSettings(ParameterSection):
    """The switch strategy: mine, holding the option to convert the whole site at a decision date.

    The exercise policy is learned by least-squares Monte Carlo on its own paths
    (``learning_paths`` of them, from ``learning_seed``, in a counter range no
    valuation path uses) and then applied to every simulated path.
    """

    section: ClassVar[str] = "switch"
    decisions_per_year: int = param(4, "1/year", "decision dates per year, the first at t = 0 (4 = quarterly), each at the nearest step boundary", Bound(1, 365))
    learning_paths: int = param(50_000, "paths", "paths that learn the exercise policy", Bound(64, 1 << 24))
    learning_seed: int = param(0, "", "seed of the policy-learning paths", Bound(0, 2**63 - 1))
    degree: int = param(2, "1", "total degree of the polynomial regression basis", Bound(1, 4))


#: Each section's class, by its name in the scenario and in TOML, in the scenario's order.
SECTION_TYPES: dict[str, type] = {
    "simulation": SimulationSettings,
    "protocol": ProtocolSettings,
    "btc": BtcSettings,
    "fees": FeesSettings,
    "hashrate": HashrateSettings,
    "power": PowerSettings,
    "hosting": HostingSettings,
    "gpu": GpuSettings,
    "cloud": CloudSettings,
    "site": SiteSettings,
    "mining": MiningSettings,
    "correlation": CorrelationSettings,
    "strategies": StrategySettings,
    "switch": SwitchSettings,
    "terminal": TerminalSettings,
}
