"""Scenarios for testing and benchmarking code built on pivotmc.

:data:`CASES` names scenarios that between them take every branch of the model:
the executor agreement tests run every one, and the benchmarks pick theirs by
name. :func:`scenarios` draws valid :class:`~pivotmc.model.scenario.Scenario`
objects small enough to simulate in a blink; :func:`invalid_overrides` draws
overrides that every constructor must reject, each paired with the parameter
name the error message has to mention. The module needs the optional
``hypothesis`` dependency.

Examples
--------
>>> from hypothesis import given
>>> from pivotmc import Scenario
>>> from pivotmc.testing import scenarios
>>> @given(scenarios())
... def test_round_trip(scenario):
...     assert Scenario.from_toml_string(scenario.to_toml()) == scenario
"""

from __future__ import annotations

import datetime as _dt
import math
import string
from dataclasses import fields
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        'pivotmc.testing needs hypothesis; install it with: pip install "pivotmc[test]"'
    ) from exc

import numpy as np

from pivotmc.model.factors import FACTORS, N_FACTORS
from pivotmc.model.scenario import MAX_HORIZON_YEARS, STRATEGIES, Scenario
from pivotmc.model.strategies import STRATEGY_SPECS

__all__ = ["CASES", "case", "scenarios", "invalid_overrides", "correlation_matrices"]

#: Named scenarios, as overrides of the default, that between them take every branch of
#: the model. ``case(name)`` builds one.
CASES: dict[str, dict[str, Any]] = {
    # All five strategies, 15 years, monthly steps: what ``pivotmc run`` values.
    "default": {},
    # Daily and weekly steps: thousands of steps, a halving inside a step, decisions every ~91 or 13 steps.
    "daily": {"simulation.steps_per_year": 365},
    "weekly": {"simulation.steps_per_year": 52, "simulation.horizon_years": 4.0},
    # Power spikes arriving inside steps; many small ones on a weekly grid.
    "spikes": {"power.spike_intensity": 8.0, "power.spike_mean_log": 0.6, "simulation.horizon_years": 3.0},
    "many-spikes-weekly": {"power.spike_intensity": 40.0, "power.spike_mean_log": 0.3,
                           "simulation.steps_per_year": 52, "simulation.horizon_years": 2.0},
    # The site pays the tenant's power at the mining blend; a PPA and a demand-response credit for mining.
    "site-pays-power": {"hosting.power_passthrough": False, "power.ppa_fraction": 0.4,
                        "mining.demand_response_credit": 30.0},
    # Mining that never curtails, and exit multiples of the static strategies.
    "terminal": {"mining.curtailment": False, "terminal.mine": 4.0, "terminal.host": 9.0, "terminal.hybrid": 6.0},
    # Heavy tenant defaults, rare renewals, re-lets without downtime, short leases.
    "defaults": {"hosting.default_hazard": 2.0, "hosting.renewal_probability": 0.3, "hosting.release_months": 0.0,
                 "hosting.term_years": 1.5},
    # Frequent, large BTC jumps; construction without lead time.
    "jumps-no-lead": {"btc.jump_intensity": 30.0, "btc.jump_sd": 0.5, "hosting.lead_time_min_months": 0.0,
                      "hosting.lead_time_mode_months": 0.0, "hosting.lead_time_max_months": 0.0},
    # Renewals and re-lets on step boundaries, some an ulp off them.
    "boundary-leases": {"hosting.lead_time_min_months": 7.0, "hosting.lead_time_mode_months": 7.0,
                        "hosting.lead_time_max_months": 7.0, "hosting.term_years": 2.0,
                        "hosting.renewal_probability": 0.5, "hosting.default_hazard": 0.5,
                        "simulation.horizon_years": 6.0},
    # A subset of the strategies, out of their usual order, without switch.
    "subset": {"strategies.evaluate": ["hybrid", "mine"], "strategies.hybrid_fraction": 0.3},
    # One strategy over a long horizon: many halvings, renewals and escalations.
    "one-strategy-long": {"strategies.evaluate": ["host"], "simulation.horizon_years": 40.0,
                          "hosting.escalator": 0.05, "hosting.term_years": 7.0},
    # Switch first, with monthly decisions and exit values; switch alone, weekly decisions, a quartic policy.
    "switch-first-monthly": {"strategies.evaluate": ["switch", "host"], "switch.decisions_per_year": 12,
                             "terminal.switch": 5.0, "terminal.host": 5.0},
    "switch-alone-weekly-quartic": {"strategies.evaluate": ["switch"], "simulation.steps_per_year": 52,
                                    "switch.decisions_per_year": 52, "switch.degree": 4,
                                    "simulation.horizon_years": 3.0, "terminal.switch": 8.0},
    # Cloud's contracts defaulting, renewing and re-sold, fleets refreshed, on weekly steps; the three-way switch.
    "cloud-churn": {"cloud.default_hazard": 2.0, "cloud.contract_years": 1.0, "cloud.gpu_life_years": 2.0,
                    "cloud.release_months": 1.0, "gpu.aging": 0.4, "simulation.steps_per_year": 52,
                    "simulation.horizon_years": 6.0, "power.ppa_fraction": 0.3, "terminal.cloud": 4.0},
    # Cloud alone, on a boundary-aligned lead time, contracts all on demand, no aging, a quarter of the site filled.
    "cloud-on-demand": {"strategies.evaluate": ["cloud", "mine"], "cloud.contracted_share": 0.0, "gpu.aging": 0.0,
                        "cloud.fill": 0.25, "hosting.lead_time_min_months": 6.0, "hosting.lead_time_mode_months": 6.0,
                        "hosting.lead_time_max_months": 6.0, "cloud.gpu_life_years": 1.0, "simulation.horizon_years": 4.0},
    # Every branch the default leaves idle, at once.
    "every-branch": {"power.spike_intensity": 3.0, "power.ppa_fraction": 0.3, "mining.demand_response_credit": 20.0,
                     "hosting.power_passthrough": False, "hosting.default_hazard": 0.1, "hosting.term_years": 3.0,
                     "terminal.mine": 5.0, "terminal.host": 8.0, "terminal.hybrid": 6.0},
}  # fmt: skip


def case(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """The scenario of ``CASES[name]``, with dotted ``overrides`` applied on top.

    >>> case("daily", {"strategies.evaluate": ["mine"]}).n_steps
    5475
    """
    if name not in CASES:
        raise KeyError(f"unknown case {name!r}; the cases are {', '.join(CASES)}")
    return Scenario.default().with_overrides({**CASES[name], **(overrides or {})})

_VALID_STEPS = (12, 52, 365)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    # Subnormals are valid but say nothing about the economics; they only make
    # failures harder to read, so plausible draws leave them out.
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _log_floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    # Prices and sizes spanning decades: uniform in log space so that small and
    # large magnitudes are both drawn, rounded so the TOML text stays short.
    return _floats(math.log(lo), math.log(hi)).map(lambda x: float(f"{min(max(math.exp(x), lo), hi):.6g}"))


#: Plausible values of every scalar parameter, by dotted name. Cross-field groups
#: (time grid, lead times, correlation) are drawn separately so they stay consistent.
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "simulation.start": st.dates(_dt.date(2015, 1, 1), _dt.date(2040, 12, 31)),
    "simulation.discount_rate": _floats(0.0, 0.3),
    "protocol.blocks_per_day": _floats(120.0, 170.0),
    "protocol.start_height": st.integers(0, 2_000_000),
    "protocol.halving_interval": st.integers(100_000, 300_000),
    "protocol.initial_subsidy_btc": _floats(1.0, 100.0),
    "btc.price": _log_floats(1e3, 1e6),
    "btc.mu": _floats(-0.5, 0.5),
    "btc.sigma": _floats(0.0, 1.5),
    "btc.jump_intensity": _floats(0.0, 12.0),
    "btc.jump_mean": _floats(-0.5, 0.5),
    "btc.jump_sd": _floats(0.0, 0.5),
    "fees.initial_btc": _log_floats(1e-4, 1.0),
    "fees.long_run_btc": _log_floats(1e-4, 1.0),
    "fees.speed": _floats(0.0, 10.0),
    "fees.sigma": _floats(0.0, 1.5),
    "hashrate.initial_ehs": _log_floats(10.0, 1e4),
    "hashrate.speed": _floats(0.0, 10.0),
    "hashrate.sigma": _floats(0.0, 1.5),
    "hashrate.growth": _floats(-0.5, 0.5),
    "hashrate.efficiency_j_per_th": _floats(5.0, 100.0),
    "hashrate.efficiency_improvement": _floats(0.0, 0.3),
    "hashrate.marginal_power_price": _floats(5.0, 200.0),
    "hashrate.markup": st.one_of(st.none(), st.just("equilibrium"), _floats(0.5, 5.0)),
    "power.price": _log_floats(5.0, 300.0),
    "power.long_run_price": _log_floats(5.0, 300.0),
    "power.speed": _floats(0.0, 10.0),
    "power.sigma": _floats(0.0, 1.5),
    "power.seasonality": st.lists(_floats(0.5, 2.0), min_size=12, max_size=12),
    "power.spike_intensity": _floats(0.0, 6.0),
    "power.spike_mean_log": _floats(0.05, 1.0),
    "power.ppa_fraction": _floats(0.0, 1.0),
    "power.ppa_price": _floats(0.0, 200.0),
    "hosting.lease_rate": _log_floats(20.0, 500.0),
    "hosting.lease_long_run": _log_floats(20.0, 500.0),
    "hosting.lease_trend": _floats(-0.2, 0.2),
    "hosting.lease_speed": _floats(0.0, 10.0),
    "hosting.lease_sigma": _floats(0.0, 1.5),
    "hosting.pue": _floats(1.0, 2.0),
    "hosting.capex_per_it_mw": _floats(0.0, 2e7),
    "hosting.capex_overrun_sigma": _floats(0.0, 0.5),
    "hosting.tenant_capex_share": _floats(0.0, 1.0),
    "hosting.escalator": _floats(-0.05, 0.1),
    "hosting.term_years": _floats(1.0, 30.0),
    "hosting.power_passthrough": st.booleans(),
    "hosting.noi_margin": _floats(0.0, 1.0),
    "hosting.default_hazard": _floats(0.0, 0.5),
    "hosting.release_months": _floats(0.0, 24.0),
    "hosting.renewal_probability": _floats(0.0, 1.0),
    "gpu.price": _log_floats(0.3, 20.0), "gpu.long_run": _log_floats(0.3, 20.0), "gpu.trend": _floats(-0.3, 0.2),
    "gpu.speed": _floats(0.0, 10.0), "gpu.sigma": _floats(0.0, 1.5), "gpu.aging": _floats(0.0, 0.6),
    "cloud.kw_per_gpu": _floats(0.5, 5.0), "cloud.fill": _floats(0.0, 1.0), "cloud.capex_per_gpu": _floats(0.0, 1e5),
    "cloud.capex_trend": _floats(-0.3, 0.1), "cloud.contracted_share": _floats(0.0, 1.0),
    "cloud.contract_years": _floats(0.25, 10.0), "cloud.contracted_utilisation": _floats(0.0, 1.0),
    "cloud.on_demand_utilisation": _floats(0.0, 1.0), "cloud.average_draw": _floats(0.0, 1.0),
    "cloud.opex_share": _floats(0.0, 1.0), "cloud.default_hazard": _floats(0.0, 0.5),
    "cloud.release_months": _floats(0.0, 24.0), "cloud.gpu_life_years": _floats(1.0, 10.0),
    "cloud.residual_fraction": _floats(0.0, 1.0),
    "site.grid_mw": _log_floats(1.0, 1000.0),
    "mining.pue": _floats(1.0, 1.5),
    "mining.efficiency_j_per_th": _floats(5.0, 60.0),
    "mining.frontier_efficiency_j_per_th": _floats(5.0, 60.0),
    "mining.uptime": _floats(0.0, 1.0),
    "mining.pool_fee": _floats(0.0, 1.0),
    "mining.fixed_opex_per_mw_year": _floats(0.0, 2e5),
    "mining.curtailment": st.booleans(),
    "mining.demand_response_credit": _floats(0.0, 100.0),
    "mining.asic_price_per_th": _floats(0.0, 50.0),
    "mining.asic_reference_hashprice": _floats(10.0, 200.0),
    "mining.salvage_fraction": _floats(0.0, 1.0),
    "strategies.evaluate": st.lists(st.sampled_from(STRATEGIES), min_size=1, max_size=len(STRATEGIES), unique=True),
    "strategies.hybrid_fraction": _floats(0.0, 1.0),
    **{spec.exit_multiple: _floats(0.0, 15.0) for spec in STRATEGY_SPECS},
    "switch.degree": st.integers(1, 3),
    "switch.learning_seed": st.integers(0, 2**63 - 1),
}  # fmt: skip


@st.composite
def correlation_matrices(draw: st.DrawFn, n: int = N_FACTORS, decimals: int = 3) -> tuple[tuple[float, ...], ...]:
    """Valid correlation matrices: symmetric, exactly unit diagonal, positive semi-definite.

    Each matrix is the Gram matrix of ``n`` random unit vectors in a space of
    random dimension (so singular matrices are drawn too), shrunk slightly
    toward the identity and rounded to ``decimals`` places.

    Parameters
    ----------
    n : int
        Size of the matrix (the number of market factors by default).
    decimals : int
        Decimal places kept in the off-diagonal entries; at least 2.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Tuples of ``n`` tuples of ``n`` floats, ready for ``correlation.matrix``.

    Notes
    -----
    Rounding moves each off-diagonal entry by at most ``h = 0.5 * 10**-decimals``,
    so by Gershgorin the eigenvalues move by at most ``(n - 1) h``. Mixing in
    ``delta = 2 (n - 1) h`` of the identity first lifts the smallest eigenvalue
    to ``delta``, which keeps the rounded matrix positive definite.
    """
    if decimals < 2:
        raise ValueError("decimals must be at least 2 to keep room for the shrinkage.")
    rank = draw(st.integers(1, n))
    vectors = np.array(
        draw(st.lists(st.lists(_floats(-1.0, 1.0), min_size=rank, max_size=rank), min_size=n, max_size=n))
    )
    for i in range(n):
        norm = np.linalg.norm(vectors[i])
        if norm < 1e-6:
            # A null vector has no direction; a basis vector keeps the matrix well defined.
            vectors[i] = 0.0
            vectors[i, i % rank] = 1.0
        else:
            vectors[i] /= norm
    gram = vectors @ vectors.T
    delta = 2 * (n - 1) * 0.5 * 10.0**-decimals
    shrunk = (1.0 - delta) * gram
    rows = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            # round() can give -0.0, which is fine: it equals 0.0 and survives TOML.
            value = round(float(np.clip(shrunk[i, j], -1.0, 1.0)), decimals)
            rows[i][j] = rows[j][i] = value
    return tuple(tuple(r) for r in rows)


def scenarios(max_horizon_years: float = 3, steps_per_year: tuple[int, ...] = (12,)) -> st.SearchStrategy[Scenario]:
    """Valid scenarios: the default with a random subset of parameters changed.

    Every changed value lies in its allowed range and in an economically
    plausible one (BTC between $1k and $1M, volatilities up to 1.5, speeds up
    to 10 a year, sites of 1 to 1,000 MW, ...). Cross-field rules hold: lead
    times are ordered, the correlation matrix is valid, and the horizon and
    ASIC refresh interval are whole numbers of steps. Where power spikes are
    drawn, the power price reverts fast enough for them to decay (spikes
    decay at its mean-reversion speed).

    Parameters
    ----------
    max_horizon_years : float
        Longest horizon drawn. Small values keep simulations of generated
        scenarios fast.
    steps_per_year : tuple of int
        Time grids to draw from, among 12, 52 and 365.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Strategy producing :class:`~pivotmc.model.scenario.Scenario` objects.

    Raises
    ------
    ValueError
        If ``max_horizon_years`` or ``steps_per_year`` admit no valid grid.
    """
    if not 0 < max_horizon_years <= MAX_HORIZON_YEARS:
        raise ValueError(f"max_horizon_years must lie in (0, {MAX_HORIZON_YEARS:g}], got {max_horizon_years!r}.")
    steps_per_year = tuple(steps_per_year)
    if not steps_per_year or any(s not in _VALID_STEPS for s in steps_per_year):
        raise ValueError(f"steps_per_year must be a non-empty tuple drawn from {_VALID_STEPS}, got {steps_per_year!r}.")
    # A grid coarser than the horizon allows no step at all; only grids with one are kept.
    grids = tuple((s, int(math.floor(max_horizon_years * s + 1e-9))) for s in steps_per_year)
    grids = tuple(g for g in grids if g[1] >= 1)
    if not grids:
        raise ValueError(f"max_horizon_years = {max_horizon_years!r} is shorter than one step of every grid {steps_per_year}.")
    return _scenarios(grids)


@st.composite
def _scenarios(draw: st.DrawFn, grids: tuple[tuple[int, int], ...]) -> Scenario:
    steps, max_steps = draw(st.sampled_from(grids))
    n_steps = draw(st.integers(1, max_steps))
    refresh_steps = draw(st.integers(max(1, steps // 2), 8 * steps))

    overrides: dict[str, Any] = draw(st.fixed_dictionaries({}, optional=_PLAUSIBLE))
    overrides["simulation.steps_per_year"] = steps
    overrides["simulation.horizon_years"] = n_steps / steps
    overrides["mining.refresh_years"] = refresh_steps / steps
    # Few learning paths keep generated runs fast; the policy stays a valid (if rough) one.
    overrides["switch.learning_paths"] = draw(st.integers(64, 256))
    overrides["switch.decisions_per_year"] = draw(st.sampled_from([d for d in (1, 2, 4, 12, 52) if d <= steps]))
    spike_log_rate = overrides.get("power.spike_intensity", 0.0) * overrides.get("power.spike_mean_log", 0.5)
    slowest = max(0.5, spike_log_rate / 2.0)
    if spike_log_rate > 0.0 and overrides.get("power.speed", 2.0) < slowest:
        # Spikes decay at the mean-reversion speed, so the log price settles about
        # intensity * mean_log / speed above its mean. Slow reversion under frequent
        # spikes would pile them up to prices no power market has seen.
        overrides["power.speed"] = draw(_floats(slowest, 10.0))

    if draw(st.booleans()):
        lead = sorted(draw(st.lists(_floats(0.0, 36.0), min_size=3, max_size=3)))
        overrides["hosting.lead_time_min_months"] = lead[0]
        overrides["hosting.lead_time_mode_months"] = lead[1]
        overrides["hosting.lead_time_max_months"] = lead[2]
    if draw(st.booleans()):
        overrides["correlation.matrix"] = draw(correlation_matrices())
    return _build(overrides)


def _build(overrides: dict[str, Any]) -> Scenario:
    """A scenario from dotted overrides of the default, via the nested-mapping constructor."""
    nested: dict[str, dict[str, Any]] = {}
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        nested.setdefault(section, {})[key] = value
    return Scenario.from_dict(nested)


# --------------------------------------------------------------------------- #
# Invalid input
# --------------------------------------------------------------------------- #
def _parameters() -> list[tuple[str, Any, Any]]:
    """``(dotted name, type hint, bound)`` of every scenario parameter, from the field metadata."""
    import typing

    out = []
    for section_field in fields(Scenario):
        section_type = typing.get_type_hints(Scenario)[section_field.name]
        hints = typing.get_type_hints(section_type)
        for f in fields(section_type):
            out.append((f"{section_type.section}.{f.name}", hints[f.name], f.metadata.get("bound")))
    return out


def _scalar_floats(params: list[tuple[str, Any, Any]]) -> list[tuple[str, Any]]:
    return [(name, bound) for name, tp, bound in params if tp is float or tp == (float | None)]


_IDENT = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).filter(lambda s: s[0] != "_")
_WORDS = st.one_of(st.sampled_from(["0.5", "1e3", "", "ten", "nan", "true"]), st.text(string.ascii_letters, max_size=8))


@st.composite
def invalid_overrides(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Overrides the scenario must reject, with the name its error message must contain.

    Each draw is one kind of mistake: NaN or an infinity, zero or a negative
    value where a positive one is required, a negative value where a
    non-negative one is, a volatility above 3, a fraction outside [0, 1], a
    horizon over 50 years (or not a whole number of steps), a
    ``steps_per_year`` outside {12, 52, 365}, an unknown key or section, a
    correlation matrix that is not symmetric, has a diagonal entry other than 1,
    is not positive semi-definite or has an entry outside [-1, 1], lead times
    out of order, or a value of the wrong type (a string for a number, a number
    for a boolean, a boolean for a number).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Pairs ``(overrides, name)`` where ``overrides`` maps ``"section.key"``
        to a value, suitable for :meth:`Scenario.with_overrides`, and ``name``
        is the parameter (or section) the resulting
        :class:`~pivotmc.errors.ValidationError` names.
    """
    params = _parameters()
    floats = _scalar_floats(params)
    positive = [n for n, b in floats if b is not None and b.lo == 0 and b.lo_open and b.hi is None]
    nonneg = [n for n, b in floats if b is not None and b.lo == 0 and not b.lo_open]
    volatility = [n for n, b in floats if b is not None and b.lo == 0 and b.hi == 3.0 and not b.hi_open]
    fraction = [n for n, b in floats if b is not None and b.lo == 0 and b.hi == 1.0 and not (b.lo_open or b.hi_open)]
    booleans = [n for n, tp, _ in params if tp is bool]
    sections = {name.split(".")[0]: [] for name, _, _ in params}
    for name, _, _ in params:
        section, key = name.split(".")
        sections[section].append(key)

    kind = draw(
        st.sampled_from(
            [
                "nan", "inf", "not_positive", "negative", "volatility", "fraction", "horizon_long",
                "horizon_fractional", "refresh_fractional", "steps", "unknown_key", "unknown_section",
                "asymmetric", "diagonal", "not_psd", "entry_range", "pair_range", "unknown_pair",
                "lead_order", "string_for_number", "number_for_bool", "bool_for_number", "markup_word",
            ]
        )
    )
    if kind == "nan":
        name = draw(st.sampled_from([n for n, _ in floats]))
        return {name: math.nan}, name
    if kind == "inf":
        name = draw(st.sampled_from([n for n, _ in floats]))
        return {name: draw(st.sampled_from([math.inf, -math.inf]))}, name
    if kind == "not_positive":
        name = draw(st.sampled_from(positive))
        return {name: draw(st.one_of(st.just(0.0), st.just(0), _floats(-1e6, -1e-9)))}, name
    if kind == "negative":
        name = draw(st.sampled_from(nonneg))
        return {name: draw(st.one_of(st.just(-1), _floats(-1e6, -1e-9)))}, name
    if kind == "volatility":
        name = draw(st.sampled_from(volatility))
        return {name: draw(_floats(3.0, 1e3).filter(lambda x: x > 3.0))}, name
    if kind == "fraction":
        name = draw(st.sampled_from(fraction))
        return {name: draw(st.one_of(_floats(-1e3, -1e-9), _floats(1.0, 1e3).filter(lambda x: x > 1.0)))}, name
    if kind == "horizon_long":
        name = "simulation.horizon_years"
        return {name: draw(st.one_of(st.integers(51, 1000), _floats(MAX_HORIZON_YEARS, 1e6).filter(lambda x: x > MAX_HORIZON_YEARS)))}, name
    if kind == "horizon_fractional":
        # Monthly steps: a horizon of k + 1/2 months is never a whole number of steps.
        months = draw(st.integers(0, 119))
        return {"simulation.steps_per_year": 12, "simulation.horizon_years": (months + 0.5) / 12}, "simulation.horizon_years"
    if kind == "refresh_fractional":
        months = draw(st.integers(0, 95))
        return {"simulation.steps_per_year": 12, "mining.refresh_years": (months + 0.5) / 12}, "mining.refresh_years"
    if kind == "steps":
        name = "simulation.steps_per_year"
        return {name: draw(st.integers(-1000, 10_000).filter(lambda s: s not in _VALID_STEPS))}, name
    if kind == "unknown_key":
        section = draw(st.sampled_from(sorted(s for s in sections if s != "correlation")))
        key = draw(_IDENT.filter(lambda k: k not in sections[section]))
        return {f"{section}.{key}": draw(st.one_of(st.integers(0, 10), _floats(0.0, 10.0)))}, f"{section}.{key}"
    if kind == "unknown_section":
        section = draw(_IDENT.filter(lambda s: s not in sections))
        return {f"{section}.{draw(_IDENT)}": 1.0}, section

    default = [list(r) for r in Scenario.default().correlation.matrix]
    n = N_FACTORS
    if kind == "asymmetric":
        i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        default[i][j] = draw(_floats(-1.0, 1.0).filter(lambda v, old=default[i][j]: v != old))
        return {"correlation.matrix": default}, "correlation.matrix"
    if kind == "diagonal":
        i = draw(st.integers(0, n - 1))
        default[i][i] = draw(_floats(-1.0, 1.0).filter(lambda v: v != 1.0))
        return {"correlation.matrix": default}, "correlation.matrix"
    if kind == "not_psd":
        # With a, b > 0 on two pairs and -c on the third, a 3x3 block 1 + a*B has
        # eigenvalue 1 - 2a when a = b = c; above 1/2 it is negative.
        a, b, c = draw(st.lists(st.integers(0, n - 1), min_size=3, max_size=3, unique=True))
        rho = draw(_floats(0.55, 1.0))
        m = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
        m[a][b] = m[b][a] = rho
        m[a][c] = m[c][a] = rho
        m[b][c] = m[c][b] = -rho
        return {"correlation.matrix": m}, "correlation.matrix"
    if kind == "entry_range":
        i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        default[i][j] = default[j][i] = draw(st.one_of(_floats(1.0, 10.0), _floats(-10.0, -1.0)).filter(lambda v: abs(v) > 1))
        return {"correlation.matrix": default}, "correlation.matrix"
    if kind == "pair_range":
        a, b = draw(st.lists(st.sampled_from(FACTORS), min_size=2, max_size=2, unique=True))
        return {f"correlation.{a}_{b}": draw(_floats(1.0, 10.0).filter(lambda v: v > 1))}, "correlation.matrix"
    if kind == "unknown_pair":
        a = draw(st.sampled_from(FACTORS))
        b = draw(st.one_of(st.just(a), _IDENT.filter(lambda s: s not in FACTORS and "_" not in s)))
        return {f"correlation.{a}_{b}": 0.1}, f"correlation.{a}_{b}"
    if kind == "lead_order":
        lo, mode, hi = sorted(draw(st.lists(_floats(0.0, 36.0), min_size=3, max_size=3, unique=True)))
        order = draw(st.sampled_from([(mode, lo, hi), (lo, hi, mode), (hi, mode, lo), (hi, lo, mode), (mode, hi, lo)]))
        values = dict(zip(("min", "mode", "max"), order))
        return {f"hosting.lead_time_{k}_months": v for k, v in values.items()}, "hosting.lead_time_mode_months"
    if kind == "string_for_number":
        name = draw(st.sampled_from([n for n, _ in floats if n != "hashrate.markup"]))
        return {name: draw(_WORDS)}, name
    if kind == "number_for_bool":
        name = draw(st.sampled_from(booleans))
        return {name: draw(st.one_of(st.integers(0, 1), _floats(0.0, 1.0)))}, name
    if kind == "bool_for_number":
        name = draw(st.sampled_from([n for n, _ in floats]))
        return {name: draw(st.booleans())}, name
    # kind == "markup_word": only the word "equilibrium" stands for the calibrated markup.
    word = draw(_WORDS.filter(lambda w: w != "equilibrium"))
    return {"hashrate.markup": word}, "hashrate.markup"
