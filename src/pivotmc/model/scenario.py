"""The scenario: every setting of a simulation, typed, immutable and validated.

A :class:`Scenario` is a tree of frozen dataclasses, one per TOML section. Each
parameter carries its unit, a one-line description and the range it accepts in
its field metadata; that one table drives validation, the commented TOML that
``pivotmc scenario`` prints, and the error messages.

Defaults follow the pivotmc model specification (see the README's model
summary). Units are in the names where they fit (``grid_mw``,
``capex_per_it_mw``) and in the metadata otherwise.
"""

from __future__ import annotations

import datetime as _dt
import math
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.factors import FACTORS, N_FACTORS
from pivotmc.model.strategies import STRATEGIES

if TYPE_CHECKING:
    import tomlkit
    import tomlkit.items

__all__ = [
    "Scenario",
    "SimulationSettings",
    "ProtocolSettings",
    "BtcSettings",
    "FeesSettings",
    "HashrateSettings",
    "PowerSettings",
    "HostingSettings",
    "SiteSettings",
    "MiningSettings",
    "CorrelationSettings",
    "StrategySettings",
    "SwitchSettings",
    "TerminalSettings",
    "FACTORS",
    "STRATEGIES",
    "MAX_HORIZON_YEARS",
    "STEP_NAMES",
]

#: Strategies a scenario values unless told otherwise.
DEFAULT_STRATEGIES = STRATEGIES
MAX_HORIZON_YEARS = 50.0
#: The allowed numbers of steps a year, and what each is called.
STEP_NAMES = {12: "monthly", 52: "weekly", 365: "daily"}
_STEPS_PER_YEAR = tuple(STEP_NAMES)


# --------------------------------------------------------------------------- #
# Parameter metadata and checks
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Bound:
    """An interval a number must lie in; ``None`` ends are unbounded."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, x: float) -> bool:
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        if self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi):
            return False
        return True

    def describe(self) -> str:
        if self.lo == 0 and self.lo_open and self.hi is None:
            return "a positive number"
        if self.lo == 0 and not self.lo_open and self.hi is None:
            return "a number >= 0"
        left = "-inf" if self.lo is None else f"{self.lo:g}"
        right = "inf" if self.hi is None else f"{self.hi:g}"
        lb = "(" if (self.lo_open or self.lo is None) else "["
        rb = ")" if (self.hi_open or self.hi is None) else "]"
        return f"a number in {lb}{left}, {right}{rb}"


POSITIVE = Bound(0.0, None, lo_open=True)
NONNEG = Bound(0.0, None)
FRACTION = Bound(0.0, 1.0)
ANY = Bound()
VOLATILITY = Bound(0.0, 3.0)  # annual volatilities above 300% are almost surely a units mistake
SPEED = Bound(0.0, 100.0)  # mean-reversion speeds per year


def param(default: Any, unit: str, doc: str, bound: Bound | None = ANY, **extra: Any) -> Any:
    """Declare a scenario parameter with its unit, description and allowed range."""
    meta = {"unit": unit, "doc": doc, "bound": bound, **extra}
    return field(default=default, metadata=meta)


class ParameterSection:
    """Base of every scenario section: coercion and range checks from field metadata."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = _coerce(f"{self.section}.{f.name}", getattr(self, f.name), hints[f.name], f.metadata)
            object.__setattr__(self, f.name, value)
        self._check()

    def _check(self) -> None:
        """Cross-field checks of the section (overridden where needed)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


def _fail(name: str, value: Any, allowed: str) -> ValidationError:
    return ValidationError(f"{name} = {value!r} is not allowed: it must be {allowed}.")


def _type_fail(name: str, value: Any, expected: str) -> ParameterTypeError:
    return ParameterTypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}.")


def _as_float(name: str, value: Any, bound: Bound | None) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _type_fail(name, value, "a number")
    x = float(value)
    if math.isnan(x) or math.isinf(x):
        raise _fail(name, value, "a finite number" if bound is None else bound.describe())
    if bound is not None and not bound.contains(x):
        raise _fail(name, value, bound.describe())
    return x


def _coerce(name: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> Any:
    bound = meta.get("bound")
    choices = meta.get("choices")
    if tp is float:
        return _as_float(name, value, bound)
    if tp == (float | None):
        token = meta.get("none_token")
        if value is None or value == token:
            return None
        if isinstance(value, str):
            raise _type_fail(name, value, f'a number or "{token}"')
        return _as_float(name, value, bound)
    if tp is int:
        if isinstance(value, (bool, np.bool_)):
            raise _type_fail(name, value, "an integer")
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if not isinstance(value, (int, np.integer)):
            raise _type_fail(name, value, "an integer")
        value = int(value)
        if choices is not None and value not in choices:
            raise _fail(name, value, "one of " + ", ".join(map(str, choices)))
        if bound is not None and not bound.contains(value):
            raise _fail(name, value, bound.describe().replace("a number", "an integer"))
        return value
    if tp is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise _type_fail(name, value, "true or false")
        return bool(value)
    if tp is _dt.date:
        if isinstance(value, _dt.datetime):
            raise _type_fail(name, value, "a date (YYYY-MM-DD) without a time")
        if isinstance(value, str):
            try:
                value = _dt.date.fromisoformat(value)
            except ValueError:
                raise _fail(name, value, "a date written YYYY-MM-DD") from None
        if not isinstance(value, _dt.date):
            raise _type_fail(name, value, "a date (YYYY-MM-DD)")
        return value
    if tp == tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise _type_fail(name, value, "a list of names")
        out = []
        for item in value:
            if not isinstance(item, str):
                raise _type_fail(name, item, "a list of names")
            if choices is not None and item not in choices:
                raise _fail(name, item, "one of " + ", ".join(choices))
            if item in out:
                raise _fail(name, list(value), "a list without repeated names")
            out.append(item)
        if not out:
            raise _fail(name, list(value), "a non-empty list of " + ", ".join(choices or ()))
        return tuple(out)
    if tp == tuple[float, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise _type_fail(name, value, "a list of numbers")
        length = meta.get("length")
        if length is not None and len(value) != length:
            raise _fail(name, list(value), f"a list of {length} numbers")
        return tuple(_as_float(f"{name}[{i}]", v, bound) for i, v in enumerate(value))
    if tp == tuple[tuple[float, ...], ...]:
        n = meta["length"]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise _type_fail(name, value, f"a {n}x{n} matrix (list of lists of numbers)")
        rows = list(value)
        if len(rows) != n or any(
            isinstance(r, (str, bytes)) or not isinstance(r, (list, tuple, np.ndarray)) or len(r) != n for r in rows
        ):
            raise _fail(name, "...", f"a {n}x{n} matrix")
        return tuple(tuple(_as_float(f"{name}[{i}][{j}]", v, bound) for j, v in enumerate(r)) for i, r in enumerate(rows))
    raise TypeError(f"unsupported parameter type {tp!r} for {name}")  # pragma: no cover


# --------------------------------------------------------------------------- #
# Sections
# --------------------------------------------------------------------------- #
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
DEFAULT_CORRELATIONS = {("btc", "fees"): 0.3, ("btc", "hashrate"): 0.1, ("btc", "lease"): 0.2}


def _correlation_matrix(pairs: Mapping[tuple[str, str], float]) -> tuple[tuple[float, ...], ...]:
    """The correlation matrix, in the order of :data:`FACTORS`, with these pairs and zeros elsewhere."""
    m = np.eye(N_FACTORS)
    for (a, b), rho in pairs.items():
        i, j = FACTORS.index(a), FACTORS.index(b)
        m[i, j] = m[j, i] = rho
    return tuple(tuple(float(v) for v in row) for row in m)


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


# --------------------------------------------------------------------------- #
# The scenario
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a simulation needs besides the number of paths, the seed and the backend.

    Build one with :meth:`default`, :meth:`from_toml`, :meth:`from_dict` or
    :meth:`with_overrides`; every constructor validates, so a ``Scenario`` that
    exists is valid. It is immutable and hashable.

    Examples
    --------
    >>> s = Scenario.default().with_overrides({"btc.sigma": 0.7, "site.grid_mw": 150})
    >>> s.btc.sigma, s.site.grid_mw
    (0.7, 150.0)
    """

    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    btc: BtcSettings = field(default_factory=BtcSettings)
    fees: FeesSettings = field(default_factory=FeesSettings)
    hashrate: HashrateSettings = field(default_factory=HashrateSettings)
    power: PowerSettings = field(default_factory=PowerSettings)
    hosting: HostingSettings = field(default_factory=HostingSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    mining: MiningSettings = field(default_factory=MiningSettings)
    correlation: CorrelationSettings = field(default_factory=CorrelationSettings)
    strategies: StrategySettings = field(default_factory=StrategySettings)
    switch: SwitchSettings = field(default_factory=SwitchSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = _SECTION_TYPES[f.name]
            if not isinstance(value, expected):
                raise ParameterTypeError(f"Scenario.{f.name} must be a {expected.__name__}, got {type(value).__name__}.")
        spy = self.simulation.steps_per_year
        if self.hashrate.speed > spy:
            # The error-correction step moves ln H by speed*dt of the gap: beyond 1 it overshoots.
            raise ValidationError(
                f"hashrate.speed = {self.hashrate.speed!r} is not allowed at {spy} steps per year: "
                f"it must be at most {spy} (speed x step length <= 1)."
            )
        if self.switch.decisions_per_year > spy:
            raise ValidationError(
                f"switch.decisions_per_year = {self.switch.decisions_per_year!r} is not allowed at {spy} steps per year: "
                f"decisions fall on step boundaries, so there can be at most {spy} a year."
            )
        refresh_steps = self.mining.refresh_years * self.simulation.steps_per_year
        if abs(refresh_steps - round(refresh_steps)) > 1e-9 * max(1.0, refresh_steps):
            raise ValidationError(
                f"mining.refresh_years = {self.mining.refresh_years!r} is not allowed: it must be a whole number "
                f"of steps at {self.simulation.steps_per_year} steps per year."
            )

    # -- constructors ------------------------------------------------------ #
    @classmethod
    def default(cls) -> Scenario:
        """The scenario of the model specification: a 100 MW site, 15 years, monthly steps."""
        return cls()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build from nested mappings ``{section: {key: value}}``; missing keys take defaults.

        Unknown sections or keys raise :class:`ValidationError`: a typo is never ignored.
        """
        if not isinstance(data, Mapping):
            raise ParameterTypeError(f"a scenario must be a mapping of sections, got {type(data).__name__}.")
        sections = {}
        for name, values in data.items():
            if name not in _SECTION_TYPES:
                raise ValidationError(
                    f"unknown scenario section [{name}]; the sections are: {', '.join(_SECTION_TYPES)}."
                )
            if not isinstance(values, Mapping):
                raise ParameterTypeError(f"[{name}] must be a table of parameters, got {type(values).__name__}.")
            section_type = _SECTION_TYPES[name]
            known = [f.name for f in fields(section_type)]
            for key in values:
                if key not in known:
                    raise ValidationError(f"unknown parameter {name}.{key}{_suggest(key, known)}; [{name}] has: {', '.join(known)}.")
            sections[name] = section_type(**values)
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read a scenario from a TOML file (sections and keys as :meth:`to_toml` writes them)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read scenario file {str(path)!r}: {exc.strerror or exc}.") from None
        except UnicodeDecodeError:
            raise ValidationError(f"{str(path)!r} is not a scenario: a scenario is a TOML text file (pivotmc scenario > my.toml).") from None
        return cls.from_toml_string(text, source=str(path))

    @classmethod
    def from_toml_string(cls, text: str, source: str = "<string>") -> Scenario:
        """Parse a scenario from TOML text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"{source} is not valid TOML: {exc}.") from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new validated scenario with dotted parameters replaced.

        Keys are ``"section.key"`` (``"btc.sigma"``, ``"site.grid_mw"``). For the
        correlation matrix, ``"correlation.btc_fees"`` sets both symmetric
        entries of a pair; ``"correlation.matrix"`` replaces it whole.
        """
        if not isinstance(overrides, Mapping):
            raise ParameterTypeError(f"overrides must be a mapping of 'section.key' to value, got {type(overrides).__name__}.")
        data = self.to_dict()
        for dotted, value in overrides.items():
            section, key = _split_dotted(data, dotted)
            if section == "correlation" and key != "matrix":
                a, _, b = key.partition("_")
                m = [list(r) for r in data["correlation"]["matrix"]]
                i, j = FACTORS.index(a), FACTORS.index(b)
                m[i][j] = m[j][i] = value
                data["correlation"]["matrix"] = m
                continue
            data[section][key] = value
        return Scenario.from_dict(data)

    def value(self, dotted: str) -> Any:
        """The value of a parameter named ``"section.key"`` (``"btc.sigma"``, ``"correlation.btc_fees"``).

        An unknown name raises :class:`ValidationError` naming the nearest known one.
        """
        section, key = _split_dotted(self.to_dict(), dotted)
        if section == "correlation" and key != "matrix":
            a, _, b = key.partition("_")
            return self.correlation.pair(a, b)
        return getattr(getattr(self, section), key)

    # -- serialisation ----------------------------------------------------- #
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dictionaries ``{section: {key: value}}`` (tuples stay tuples)."""
        return {f.name: getattr(self, f.name).to_dict() for f in fields(self)}

    def to_toml(self, comments: bool = True) -> str:
        """The scenario as TOML text; ``Scenario.from_toml_string(s.to_toml()) == s`` exactly.

        With ``comments`` each section is preceded by what it is and each parameter
        followed by its unit and meaning.
        """
        import tomlkit

        return tomlkit.dumps(self.to_toml_document(comments))

    def to_toml_document(
        self,
        comments: bool = True,
        *,
        header: Sequence[str] = (),
        notes: Mapping[str, Sequence[str]] | None = None,
    ) -> tomlkit.TOMLDocument:
        """The scenario as a :mod:`tomlkit` document: the one TOML writer, which :meth:`to_toml` prints.

        ``header`` lines open the document as comments; ``notes`` maps a dotted
        parameter name (``"btc.sigma"``) to comment lines put just above it. Lines
        are given without their ``#``.
        """
        import tomlkit

        notes = notes or {}
        doc = tomlkit.document()
        for line in header:
            doc.add(tomlkit.comment(line))
        if header:
            doc.add(tomlkit.nl())
        if comments:
            doc.add(tomlkit.comment("pivotmc scenario. Every parameter is optional: a missing one takes its default."))
            doc.add(tomlkit.comment("Units and meanings follow each line; see the README for the model."))
            doc.add(tomlkit.nl())
        sections = fields(self)
        for i, f in enumerate(sections):
            section = getattr(self, f.name)
            if comments and section.__doc__:
                doc.add(tomlkit.comment(section.__doc__.strip().splitlines()[0]))
            table = tomlkit.table()
            for sf in fields(section):
                item = _toml_item(getattr(section, sf.name), sf.metadata)
                note = _toml_note(sf.metadata) if comments else None
                if note is not None and "\n" in item.as_string():
                    table.add(tomlkit.comment(f"{sf.name}: {note}"))
                    note = None
                for line in notes.get(f"{section.section}.{sf.name}", ()):
                    table.add(tomlkit.comment(line))
                if note is not None:
                    item.comment(note)
                    # Comments line up in one column after the shorter settings.
                    item.trivia.comment_ws = " " * (max(_TOML_NOTE_COLUMN - len(f"{sf.name} = {item.as_string()}"), 0) + 1)
                table.add(sf.name, item)
            if i < len(sections) - 1:
                table.add(tomlkit.nl())
            doc.add(section.section, table)
            table.trivia.indent = ""  # the blank line before a section is the previous one's last line
        return doc

    # -- derived quantities ------------------------------------------------- #
    @property
    def n_steps(self) -> int:
        """Number of time steps."""
        return self.simulation.n_steps


_SECTION_TYPES: dict[str, type] = {
    "simulation": SimulationSettings,
    "protocol": ProtocolSettings,
    "btc": BtcSettings,
    "fees": FeesSettings,
    "hashrate": HashrateSettings,
    "power": PowerSettings,
    "hosting": HostingSettings,
    "site": SiteSettings,
    "mining": MiningSettings,
    "correlation": CorrelationSettings,
    "strategies": StrategySettings,
    "switch": SwitchSettings,
    "terminal": TerminalSettings,
}


def _split_dotted(data: Mapping[str, Mapping[str, Any]], dotted: Any) -> tuple[str, str]:
    """``(section, key)`` of a known parameter name, else ValidationError naming the nearest."""
    if not isinstance(dotted, str) or dotted.count(".") != 1:
        raise ValidationError(f"parameter name {dotted!r} must be written 'section.key', e.g. 'btc.sigma'.")
    section, key = dotted.split(".")
    if section not in data:
        raise ValidationError(
            f"unknown scenario section in {dotted!r}{_suggest(section, list(data))}; the sections are: {', '.join(data)}."
        )
    if section == "correlation" and key != "matrix":
        a, _, b = key.partition("_")
        if a not in FACTORS or b not in FACTORS or a == b:
            raise ValidationError(
                f"unknown correlation pair {dotted!r}; write 'correlation.A_B' with A, B among {', '.join(FACTORS)}."
            )
        return section, key
    if key not in data[section]:
        known = list(data[section])
        raise ValidationError(f"unknown parameter {dotted}{_suggest(key, known)}; [{section}] has: {', '.join(known)}.")
    return section, key


def _suggest(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Column at which the comment of a one-line parameter starts, so that comments line up.
_TOML_NOTE_COLUMN = 44


def _toml_note(meta: Mapping[str, Any]) -> str:
    """A parameter's comment: its unit in brackets, then what it is."""
    unit, doc = meta.get("unit", ""), meta.get("doc", "")
    return f"[{unit}] {doc}" if unit else doc


def _toml_item(value: Any, meta: Mapping[str, Any]) -> tomlkit.items.Item:
    """A parameter's value as a TOML item: ``None`` as its word, a matrix one row a line."""
    import tomlkit

    if value is None:
        return tomlkit.item(meta["none_token"])
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        rows = tomlkit.array()
        rows.extend(list(row) for row in value)
        return rows.multiline(True)
    if isinstance(value, tuple):
        return tomlkit.item(list(value))
    return tomlkit.item(value)
