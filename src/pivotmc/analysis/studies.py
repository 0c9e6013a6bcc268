"""Studies over many scenarios on common random numbers: sensitivity and sweeps.

Every scenario of a study is simulated with the same seed, so path ``i`` sees
the same random numbers in all of them. Differences between scenarios are then
taken path by path, and their standard errors are those of the paired
differences, far below what independent runs would give.
"""

from __future__ import annotations

import itertools
import math
import typing
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from pivotmc.analysis.summary import pairwise_probabilities
from pivotmc.run.simulate import simulate
from pivotmc.errors import ValidationError, require_dataset
from pivotmc.model.scenario import Bound, Scenario
from pivotmc.model.strategies import STATIC_STRATEGIES, learned_strategy, tie_reason
from pivotmc.text import Span, error_decimals, exact_cells, percent, pm_cells, table, wrap

__all__ = [
    "sensitivity",
    "sweep",
    "format_sensitivity",
    "format_sweep",
    "continuous_parameters",
    "simulate_to_precision",
]

#: ``progress(done_cases, total_cases)``, as the studies call it.
Progress = Callable[[int, int], None]

#: Parameters a relative shock makes no sense for: the time grid, the protocol's constants, and
#: the settings of the switch's policy learning (numerical, not economic).
_NOT_SHOCKED_SECTIONS = ("simulation", "protocol", "correlation", "strategies", "terminal", "switch")
#: Sections that set the switch's decision dates or how its policy is learned: a shocked case
#: of one of their parameters learns its own policy (the base case's would not fit, or not move).
_RELEARN_SECTIONS = ("simulation", "switch")
#: Parameters held as floats that the scenario requires to be a whole number of time steps.
_WHOLE_STEPS = ("simulation.horizon_years", "mining.refresh_years")
_SHOCKS = ("down", "up")
_MILLION = 1e6
#: The two static strategies, staying and converting (mine, host): studies report how often the second beats the first.
_STAY, _CONVERT = STATIC_STRATEGIES
_BEATS = f"p_{_CONVERT}_beats_{_STAY}"
_BEATS_LONG_NAME = f"share of paths on which {_CONVERT}'s NPV exceeds {_STAY}'s"


def _rivals(strategies: list[str]) -> tuple[int, int] | None:
    """Positions of the two static strategies among ``strategies``, staying first, if both are valued."""
    return (strategies.index(_STAY), strategies.index(_CONVERT)) if {_STAY, _CONVERT} <= set(strategies) else None


def continuous_parameters(scenario: Scenario) -> list[str]:
    """Dotted names of the parameters a default sensitivity shocks: every non-zero scalar number of the economic sections.

    That is every float parameter, those held to whole time steps (``mining.refresh_years``)
    included, outside the time grid, the protocol, the correlations, the strategies' settings,
    the exit multiples and the switch's learning settings. Zero parameters are left out: a
    relative shock does not move them.
    """
    names = []
    for section_field in fields(scenario):
        if section_field.name in _NOT_SHOCKED_SECTIONS:
            continue
        section = getattr(scenario, section_field.name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and value != 0.0:
                names.append(f"{section_field.name}.{f.name}")
    return names


@dataclass(frozen=True)
class _Parameter:
    """A parameter as sensitivity shocks it."""

    name: str
    value: float
    bound: Bound | None
    #: Allowed values are k / per_unit for whole k (1 for integers, steps per year for _WHOLE_STEPS); 0 if continuous.
    per_unit: int
    is_int: bool


def _parameter(scenario: Scenario, name: str) -> _Parameter:
    value = scenario.value(name)  # an unknown name gets the scenario's message, with the nearest known one
    section_name, key = name.split(".")
    if section_name == "correlation" and key != "matrix":
        return _Parameter(name, value, Bound(-1.0, 1.0), 0, False)
    section = getattr(scenario, section_name)
    known = {f.name: f for f in fields(section)}
    hint = typing.get_type_hints(type(section))[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or hint not in (int, float, float | None):
        raise ValidationError(
            f"{name} = {value!r} is not a number; sensitivity shocks numbers only (continuous or whole-unit parameters)."
        )
    is_int = hint is int
    per_unit = 1 if is_int else scenario.simulation.steps_per_year if name in _WHOLE_STEPS else 0
    return _Parameter(name, float(value), known[key].metadata.get("bound"), per_unit, is_int)


def _into_bound(p: _Parameter, target: float, sign: int) -> tuple[float | None, bool]:
    """``target`` moved back inside the parameter's range (on its grid of whole units): (value, clipped).

    None where the nearest allowed value in the shock's direction is no move at all, or where
    the range's end is open and a continuous parameter has no nearest value.
    """
    bound = p.bound
    if bound is None or bound.contains(target):
        return target, False
    end, is_open = (bound.lo, bound.lo_open) if sign < 0 else (bound.hi, bound.hi_open)
    if p.per_unit:
        k = end * p.per_unit
        k = math.ceil(k) if sign < 0 else math.floor(k)
        if is_open and k / p.per_unit == end:
            k -= sign
        value = k / p.per_unit
    else:
        if is_open:
            return None, True
        value = end
    if (value - p.value) * sign <= 0.0:
        return None, True
    return value, True


def _shocked(p: _Parameter, rel_shock: float) -> list[tuple[float | None, bool, str]]:
    """The down and up values of a parameter: (value or None, clipped, reason when None)."""
    out = []
    for sign, label in ((-1, "down"), (1, "up")):
        if p.per_unit:
            # Whole units (whole time steps for _WHOLE_STEPS), at least one, so that every shock moves.
            units = max(1, round(rel_shock * abs(p.value) * p.per_unit))
            target = (round(p.value * p.per_unit) + sign * units) / p.per_unit
        elif p.value == 0.0:
            out.append((None, False, f"{p.name} is 0: a relative shock does not move it"))
            continue
        else:
            target = p.value + sign * rel_shock * abs(p.value)
        value, clipped = _into_bound(p, target, sign)
        if value is None:
            rule = p.bound.describe() if p.bound is not None else "a number"  # a bound is what stopped it
            if p.per_unit:
                rule += ", in whole units" if p.is_int else f", a whole number of steps ({p.per_unit} a year)"
            out.append((None, clipped, f"no room to shock {p.name} = {p.value:g} {label}: it must be {rule}"))
        else:
            out.append((value, clipped, ""))
    return out


def _labels(values) -> np.ndarray:
    """``values`` as an array, text as Python strings (an object array), as :func:`pivotmc.simulate` holds it."""
    array = np.asarray(values)
    return array.astype(object) if array.dtype.kind == "U" else array


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def sensitivity(
    scenario: Scenario,
    parameters: Sequence[str] | None = None,
    rel_shock: float = 0.2,
    n_paths: int = 20_000,
    seed: int = 0,
    backend: str = "auto",
    relearn: bool = False,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Mean NPV of every strategy when each parameter is moved down and up.

    Parameters
    ----------
    scenario : Scenario
        The base case.
    parameters : sequence of str, optional
        Dotted names (``"btc.sigma"``, ``"correlation.btc_fees"``); every
        parameter of :func:`continuous_parameters` when omitted.
    rel_shock : float
        Relative size of the shock, in (0, 1). A parameter of value ``v`` is
        shocked ``down`` to ``v - rel_shock |v|`` and ``up`` to
        ``v + rel_shock |v|``: down always lowers the value and up raises it,
        negative values included. A parameter that is 0 is not shocked (a
        relative shock does not move it): its rows are NaN with the reason in
        ``skip_reason``. Integer parameters, and those the scenario holds to
        whole time steps (``mining.refresh_years``), move by
        ``round(rel_shock |v|)`` whole units (steps), at least one. A value
        that would leave the parameter's allowed range is cut back to the
        range's closed end (the nearest whole unit inside, for whole-unit
        parameters) and flagged in ``clipped``: its shock is smaller than the
        other side's. A shock with no room left (the base value at its bound)
        is skipped with the reason.
    n_paths, seed, backend
        As for :func:`pivotmc.simulate`; every run uses the same seed.
    relearn : bool
        Learn the switch's exercise policy afresh for every shocked scenario.
        By default the shocked runs apply the base case's policy: the change
        is then that of a fixed policy, equal to first order to the change of
        the re-optimised value (the envelope theorem), free of the noise of
        learning another policy, and a hundred learnings faster. Its sign is
        conservative: re-optimising could only add value to a shocked case.
        Parameters of the ``simulation`` and ``switch`` sections (the decision
        dates and the learning itself) always learn their own policy.
    progress : callable, optional
        Called as ``progress(done_cases, total_cases)``: with 0 at the start
        and after each case, the base case and every shock (skipped ones too),
        ``total_cases = 1 + 2 * len(parameters)``.

    Returns
    -------
    xarray.Dataset
        Over ``(parameter, shock, strategy)`` with ``shock`` in ``["down", "up"]``:
        ``value`` (the shocked parameter value), ``clipped`` (bool: the shock
        was cut short at a bound), ``skip_reason`` (text, empty where the
        shock ran), ``mean_npv``, ``mean_npv_se``, ``change`` (mean of the
        path-wise difference to the base case) and its ``change_se`` (from the
        paired differences), ``change_se_unpaired`` (what independent runs
        would give, for comparison), and ``p_host_beats_mine`` when both
        strategies are valued. The base case is in ``base_value(parameter)``,
        ``base_mean_npv(strategy)`` and ``base_mean_npv_se(strategy)``. A
        skipped shock, or one the scenario refuses (for example one that breaks
        the order of the lead times), is NaN, with the reason in
        ``skip_reason`` and, all together, in the ``skipped`` attribute.
        :func:`format_sensitivity` prints it as a table.
    """
    if isinstance(rel_shock, bool) or not isinstance(rel_shock, (int, float)) or not 0.0 < rel_shock < 1.0:
        raise ValidationError(f"rel_shock = {rel_shock!r} is not allowed: it must be in (0, 1).")
    if isinstance(parameters, str):
        parameters = [parameters]  # one parameter, named alone
    names = list(parameters) if parameters is not None else continuous_parameters(scenario)
    if not names:
        raise ValidationError("sensitivity needs at least one parameter.")
    if len(set(names)) != len(names):
        raise ValidationError(f"sensitivity parameters must not repeat, got {names}.")
    params = [_parameter(scenario, name) for name in names]
    total = 1 + 2 * len(params)
    _tick(progress, 0, total)
    base = simulate(scenario, n_paths=n_paths, seed=seed, backend=backend)
    _tick(progress, 1, total)
    policy = None
    if learned_strategy(scenario.strategies.evaluate) is not None and not relearn:
        from pivotmc.policy.switch import learn

        policy = learn(scenario)  # the base run's, from the cache
    strategies = [str(s) for s in base.strategy.values]
    rivals = _rivals(strategies)
    base_npv = base.npv.values
    shape = (len(names), 2, len(strategies))
    out = {k: np.full(shape, np.nan) for k in ("mean_npv", "mean_npv_se", "change", "change_se", "change_se_unpaired")}
    p_host = np.full(shape[:2], np.nan)
    values = np.full(shape[:2], np.nan)
    clipped = np.zeros(shape[:2], dtype=bool)
    reasons = np.full(shape[:2], "", dtype=object)
    skipped: list[str] = []
    sd_base = base_npv.std(axis=1, ddof=1)
    root_n = math.sqrt(n_paths)
    done = 1
    for i, p in enumerate(params):
        own_policy = p.name.split(".")[0] in _RELEARN_SECTIONS
        for j, (value, cut, reason) in enumerate(_shocked(p, rel_shock)):
            shocked = None
            if value is not None:
                try:
                    shocked = scenario.with_overrides({p.name: int(round(value)) if p.is_int else value})
                except ValidationError as exc:
                    reason = str(exc).rstrip(".")
            if shocked is None:
                reasons[i, j] = reason
                skipped.append(f"{p.name} {_SHOCKS[j]}: {reason}")
            else:
                values[i, j] = value
                clipped[i, j] = cut
                npv = simulate(shocked, n_paths=n_paths, seed=seed, backend=backend,
                               switch_policy=None if own_policy else policy).npv.values
                diff = npv - base_npv
                out["mean_npv"][i, j] = npv.mean(axis=1)
                out["mean_npv_se"][i, j] = npv.std(axis=1, ddof=1) / root_n
                out["change"][i, j] = diff.mean(axis=1)
                out["change_se"][i, j] = diff.std(axis=1, ddof=1) / root_n
                out["change_se_unpaired"][i, j] = np.sqrt(npv.var(axis=1, ddof=1) + sd_base**2) / root_n
                if rivals is not None:
                    p_host[i, j] = float(np.mean(npv[rivals[1]] > npv[rivals[0]]))
            done += 1
            _tick(progress, done, total)
    dims = ("parameter", "shock", "strategy")
    usd = "USD"
    ds = xr.Dataset(
        {
            "value": (("parameter", "shock"), values, {"long_name": "shocked parameter value"}),
            "clipped": (("parameter", "shock"), clipped,
                        {"long_name": "the shock was cut short at the parameter's bound (smaller than rel_shock)"}),
            "skip_reason": (("parameter", "shock"), reasons, {"long_name": "why the shock was not run (empty if it ran)"}),
            "mean_npv": (dims, out["mean_npv"], {"units": usd, "long_name": "mean NPV of the shocked case"}),
            "mean_npv_se": (dims, out["mean_npv_se"], {"units": usd, "long_name": "standard error of mean_npv"}),
            "change": (dims, out["change"], {"units": usd, "long_name": "mean path-wise NPV change from the base case"}),
            "change_se": (dims, out["change_se"], {"units": usd, "long_name": "standard error of the change, paired"}),
            "change_se_unpaired": (dims, out["change_se_unpaired"],
                                   {"units": usd, "long_name": "standard error of the change had the runs been independent"}),
            _BEATS: (("parameter", "shock"), p_host, {"units": "1", "long_name": _BEATS_LONG_NAME}),
            "base_mean_npv": (("strategy",), base_npv.mean(axis=1), {"units": usd, "long_name": "mean NPV of the base case"}),
            "base_mean_npv_se": (("strategy",), sd_base / root_n, {"units": usd, "long_name": "standard error of base_mean_npv"}),
            "base_value": (("parameter",), np.array([p.value for p in params]), {"long_name": "parameter value of the base case"}),
        },
        coords={"parameter": _labels(names), "shock": _labels(_SHOCKS), "strategy": _labels(strategies)},
        attrs={"rel_shock": float(rel_shock), "n_paths": n_paths, "seed": seed, "backend": base.attrs["backend"],
               "skipped": "; ".join(skipped), "scenario": base.attrs["scenario"],
               "shock_rule": (f"down = v - {rel_shock:g} |v|, up = v + {rel_shock:g} |v|; whole-unit parameters by "
                              "whole units, at least one; cut back to a closed bound (clipped); 0 is not shocked"),
               "switch_policy": "learned for each shocked scenario" if relearn else "the base case's, for every shock"},
    )
    return ds


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    n_paths: int = 20_000,
    seed: int = 0,
    backend: str = "auto",
    progress: Progress | None = None,
) -> xr.Dataset:
    """Simulate every combination of the values in ``grid`` on common random numbers.

    Parameters
    ----------
    scenario : Scenario
        The base case; ``grid`` overrides some of its parameters.
    grid : mapping of str to sequence
        Dotted parameter name to the values it takes, e.g.
        ``{"btc.sigma": [0.3, 0.5, 0.7], "hosting.lease_rate": [100, 140, 180]}``.
    n_paths, seed, backend
        As for :func:`pivotmc.simulate`; every case, the base included, uses the same seed.
    progress : callable, optional
        Called as ``progress(done_cases, total_cases)``: with 0 at the start and
        after each case, the base case first; ``total_cases`` is the number of
        combinations plus one.

    Returns
    -------
    xarray.Dataset
        One dimension per swept parameter (named by its dotted name) plus
        ``strategy``: ``mean_npv`` and ``mean_npv_se``, ``p5``, ``p95``,
        ``prob_loss``; ``change`` and ``change_se``, the mean path-wise change
        of NPV from the base case and its paired standard error. The base case
        is ``scenario`` as given, simulated on the same paths (its values of
        the swept parameters are in the ``base_value`` attribute of each
        swept coordinate); its means are ``base_mean_npv(strategy)`` and
        ``base_mean_npv_se(strategy)``. ``prob_greater(..., strategy,
        versus)`` is the share of paths on which the strategy's NPV exceeds
        that of ``versus``, and ``prob_equal`` the share on which they are
        equal (switch equals mine on the paths where it never converts), so
        that ``prob_greater[a, b] + prob_greater[b, a] + prob_equal[a, b] = 1``;
        ``p_host_beats_mine`` repeats ``prob_greater`` of host against mine
        where both are valued. Every combination is validated before anything
        runs. :func:`format_sweep` prints it as tables.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValidationError("sweep needs a non-empty mapping of 'section.key' to a list of values.")
    names = list(grid)
    axes = []
    for name in names:
        values = grid[name]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValidationError(f"sweep values for {name!r} must be a non-empty list.")
        axes.append(list(values))
    combos = list(itertools.product(*axes))
    scenarios = [scenario.with_overrides(dict(zip(names, combo))) for combo in combos]  # validate all first
    base_values = {}
    for name in names:
        base_values[name] = scenario.value(name)
        if not isinstance(base_values[name], (int, float, str)) or isinstance(base_values[name], bool):
            base_values[name] = str(base_values[name])  # an attribute netCDF can hold
    total = len(combos) + 1
    _tick(progress, 0, total)
    base = simulate(scenario, n_paths=n_paths, seed=seed, backend=backend)
    base_npv = base.npv.values
    strategies = [str(s) for s in base.strategy.values]
    _tick(progress, 1, total)
    shape = tuple(len(a) for a in axes)
    k = len(strategies)
    results = {key: np.empty(shape + (k,)) for key in ("mean_npv", "mean_npv_se", "p5", "p95", "prob_loss", "change", "change_se")}
    greater = np.empty(shape + (k, k))
    equal = np.empty(shape + (k, k))
    root_n = math.sqrt(n_paths)
    for flat, sc in enumerate(scenarios):
        x = base_npv if sc == scenario else simulate(sc, n_paths=n_paths, seed=seed, backend=backend).npv.values
        idx = np.unravel_index(flat, shape)
        diff = x - base_npv
        results["mean_npv"][idx] = x.mean(axis=1)
        results["mean_npv_se"][idx] = x.std(axis=1, ddof=1) / root_n
        results["p5"][idx] = np.quantile(x, 0.05, axis=1)
        results["p95"][idx] = np.quantile(x, 0.95, axis=1)
        results["prob_loss"][idx] = (x < 0).mean(axis=1)
        results["change"][idx] = diff.mean(axis=1)
        results["change_se"][idx] = diff.std(axis=1, ddof=1) / root_n
        greater[idx], equal[idx] = pairwise_probabilities(x)
        _tick(progress, flat + 2, total)
    dims = tuple(names) + ("strategy",)
    long_names = {
        "mean_npv": "mean NPV", "mean_npv_se": "standard error of mean_npv", "p5": "5th percentile of NPV",
        "p95": "95th percentile of NPV", "prob_loss": "probability that NPV < 0",
        "change": "mean path-wise NPV change from the base case",
        "change_se": "standard error of change, from the paired differences",
    }
    data = {key: (dims, v, {"units": "1" if key == "prob_loss" else "USD", "long_name": long_names[key]})
            for key, v in results.items()}
    pair_dims = dims + ("versus",)
    data["prob_greater"] = (pair_dims, greater, {"units": "1", "long_name": "share of paths on which NPV(strategy) > NPV(versus)"})
    data["prob_equal"] = (pair_dims, equal, {"units": "1", "long_name": "share of paths on which NPV(strategy) == NPV(versus)"})
    rivals = _rivals(strategies)
    if rivals is not None:
        data[_BEATS] = (tuple(names), greater[..., rivals[1], rivals[0]], {"units": "1", "long_name": _BEATS_LONG_NAME})
    data["base_mean_npv"] = (("strategy",), base_npv.mean(axis=1), {"units": "USD", "long_name": "mean NPV of the base case"})
    data["base_mean_npv_se"] = (("strategy",), base_npv.std(axis=1, ddof=1) / root_n,
                                {"units": "USD", "long_name": "standard error of base_mean_npv"})
    coords: dict[str, Any] = {
        name: xr.Variable((name,), _labels(axis), {"base_value": base_values[name]}) for name, axis in zip(names, axes)
    }
    coords["strategy"] = _labels(strategies)
    coords["versus"] = _labels(strategies)
    base_text = ", ".join(f"{name} = {_plain(base_values[name])}" for name in names)
    return xr.Dataset(data, coords=coords, attrs={
        "n_paths": n_paths, "seed": seed, "backend": base.attrs["backend"], "scenario": base.attrs["scenario"],
        "base_case": f"the scenario as given ({base_text}), on the same paths",
    })


def simulate_to_precision(
    scenario: Scenario,
    precision: float = 0.01,
    seed: int = 0,
    backend: str = "auto",
    absolute_floor: float = 1e5,
    batch_paths: int = 50_000,
    max_paths: int = 10_000_000,
    keep_paths: int = 0,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Add batches of paths until every strategy's mean NPV is precise enough.

    The run stops once the 95% confidence half-width ``1.96 SE`` of each
    strategy's mean NPV is at most ``precision * |mean|`` or ``absolute_floor``
    USD, whichever is larger (the floor keeps a mean near zero from asking for
    unbounded paths), or when ``max_paths`` are spent. Batches are consecutive
    path ranges of the same seed, so the result equals a plain
    :func:`pivotmc.simulate` of the same number of paths, bit for bit, and is
    reproducible. The switch strategy's policy is learned once, before the
    first batch, as :func:`pivotmc.simulate` learns it, and every batch
    applies it.

    ``progress``, if given, is called as ``progress(done_paths, max_paths)``:
    with 0 at the start and after each batch; a run that stops early reports
    ``(done_paths, done_paths)`` last, so that a bar drawn from it ends full.

    Returns
    -------
    xarray.Dataset
        As :func:`pivotmc.simulate`, with attributes ``stopped_because``
        (``"precision reached"`` or ``"path budget spent"``), ``target_precision``
        and ``absolute_floor``, and ``half_width_95(strategy)``.
    """
    from pivotmc import random as rng
    from pivotmc.run.loop import Precision
    from pivotmc.run.simulate import run_in_memory

    stop = Precision(precision, absolute_floor)
    for name, value in (("batch_paths", batch_paths), ("max_paths", max_paths)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ValidationError(f"{name} = {value!r} is not allowed: it must be an integer >= 2.")
    ds = run_in_memory(
        scenario, int(max_paths), rng.seed_key(seed), int(seed), backend, keep_paths=keep_paths,
        progress=progress, stop=stop, chunk_paths=int(batch_paths),
    )
    done = ds.sizes["path"]
    npv = ds.npv.values
    ds["half_width_95"] = (("strategy",), 1.96 * npv.std(axis=1, ddof=1) / math.sqrt(done), {"units": "USD"})
    return ds


# ---------------------------------------------------------------------------
# Text rendering
# ---------------------------------------------------------------------------


def _plain(value: Any) -> str:
    """A parameter value as a person writes it: 0.5, 140, 3.166667."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return exact_cells([float(value)])[0]
    return str(value)


def _base_line(ds: xr.Dataset, strategies: list[str], scale: float, unit_label: str) -> list[str]:
    mean = ds["base_mean_npv"].values / scale
    se = ds["base_mean_npv_se"].values / scale if "base_mean_npv_se" in ds else np.full(mean.shape, np.nan)
    decimals = error_decimals(se, 1, 4, by="smallest")  # each SE to two figures
    cells = [pm_cells([m], [e], decimals)[0] for m, e in zip(mean, se)]
    return wrap(f"Base case mean NPV ± SE ({unit_label}): " + ", ".join(f"{s} {c}" for s, c in zip(strategies, cells)))


def format_sensitivity(ds: xr.Dataset, scale: float = _MILLION, unit_label: str = "USD m") -> str:
    """Render a :func:`sensitivity` result as a plain-text table at most 100 columns wide.

    One block per parameter: its name and base value, then a ``down`` and an
    ``up`` row with the shocked value and, for every strategy, the mean
    path-wise change of NPV from the base case ± its paired standard error.
    A column's amounts share their decimals (enough for two significant
    figures of its typical standard error); a change that is exactly 0 on
    every path (a parameter that does not enter the strategy) prints as
    ``0``; a shock cut short at a bound is marked ``*``; a skipped shock
    prints its reason. Wider tables (many strategies, large amounts) continue
    in a second block of columns below.
    """
    require_dataset(ds, ("change", "change_se", "base_mean_npv", "value"), "pivotmc.analysis.studies.sensitivity")
    strategies = [str(s) for s in ds.strategy.values]
    rel = float(ds.attrs.get("rel_shock", math.nan))
    n_paths = int(ds.attrs.get("n_paths", 0))
    lines = wrap(f"Sensitivity: change in mean NPV from the base case ({unit_label}) ± paired standard error")
    lines += wrap(f"{n_paths:,} paths per case, seed {ds.attrs.get('seed', '?')}, backend "
                  f"{ds.attrs.get('backend', '?')!r}, common random numbers; switch policy: "
                  f"{ds.attrs.get('switch_policy', 'as simulate learns it')}.")
    lines += wrap(f"Shocks: down = v - {100 * rel:g}% of |v|, up = v + {100 * rel:g}% of |v| (down always lowers the value); "
                  "whole-unit parameters move by whole units (steps), at least one; a value of 0 is not shocked.")
    lines += _base_line(ds, strategies, scale, unit_label)
    lines.append("")

    change = ds["change"].transpose("parameter", "shock", "strategy").values / scale
    change_se = ds["change_se"].transpose("parameter", "shock", "strategy").values / scale
    columns = []
    for k in range(len(strategies)):
        decimals = error_decimals(change_se[:, :, k].ravel(), 2, 4)
        columns.append(np.array(pm_cells(change[:, :, k].ravel(), change_se[:, :, k].ravel(), decimals, signed=True),
                                dtype=object).reshape(change.shape[:2]))
    values = ds["value"].transpose("parameter", "shock").values
    base_values = ds["base_value"].values
    clipped = ds["clipped"].transpose("parameter", "shock").values if "clipped" in ds else np.zeros(values.shape, bool)
    reasons = ds["skip_reason"].transpose("parameter", "shock").values if "skip_reason" in ds else None
    rows: list[Any] = []
    any_zero = any_clipped = False
    for i, name in enumerate(str(p) for p in ds.parameter.values):
        texts = exact_cells([base_values[i], *values[i]])
        rows.append(f"{name} (base {texts[0]})")
        for j, shock in enumerate(_SHOCKS):
            if not math.isfinite(values[i, j]):
                reason = str(reasons[i, j]) if reasons is not None and reasons[i, j] else "not run"
                rows.append([f"  {shock}", Span(f"skipped: {reason}")])
                continue
            mark = "*" if clipped[i, j] else " "
            any_clipped |= bool(clipped[i, j])
            cells = [str(col[i, j]) for col in columns]
            any_zero |= any(cell.strip() == "0" for cell in cells)
            rows.append([f"  {shock}", texts[1 + j] + mark, *cells])
    lines += table(["", "value", *strategies], rows, fixed_columns=2)
    notes = []
    if any_clipped:
        notes.append("* cut short at the parameter's bound: a smaller shock than the other side's.")
    if any_zero:
        notes.append("0: no path changes; the parameter does not enter that strategy.")
    if notes:
        lines += [""] + [line for note in notes for line in wrap(note)]
    return "\n".join(lines) + "\n"


def format_sweep(ds: xr.Dataset, scale: float = _MILLION, unit_label: str = "USD m") -> str:
    """Render a :func:`sweep` result as plain-text tables at most 100 columns wide.

    Three tables, one row per case: the mean NPV of every strategy ± its
    standard error (the base case first); the mean path-wise change from the
    base case ± its paired standard error; and, for every pair of strategies,
    the share of paths on which one beats the other, with the share of ties
    in a column of its own wherever a pair ties on some path. Amounts in a
    column share their decimals; tables wider than 100 columns continue in a
    second block of columns below.
    """
    require_dataset(ds, ("mean_npv",), "pivotmc.analysis.studies.sweep")
    strategies = [str(s) for s in ds.strategy.values]
    names = [d for d in ds["mean_npv"].dims if d != "strategy"]
    shape = tuple(ds.sizes[n] for n in names)
    n_cases = int(np.prod(shape))
    lines = wrap(f"Sweep over {n_cases} case{'s' if n_cases != 1 else ''}, {int(ds.attrs.get('n_paths', 0)):,} paths "
                 f"each, seed {ds.attrs.get('seed', '?')}, backend {ds.attrs.get('backend', '?')!r}, "
                 "on common random numbers.")
    if "base_case" in ds.attrs:
        lines += wrap(f"Base case: {ds.attrs['base_case']}.")
    # Each swept parameter's values, the base's included, in one format.
    axis_cells = []
    for n in names:
        coord = list(ds[n].values)
        base = ds[n].attrs.get("base_value", "")
        if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in [*coord, base]):
            cells = exact_cells([float(v) for v in [*coord, base]])
        else:
            cells = [str(v) for v in [*coord, base]]
        axis_cells.append(cells)
    combos = list(itertools.product(*(range(s) for s in shape)))

    def case_cells(combo: tuple[int, ...]) -> list[str]:
        return [axis_cells[a][i] for a, i in enumerate(combo)]

    def amounts(var: str, se_var: str, signed: bool, base: bool) -> list[list[str]]:
        x = ds[var].transpose(*names, "strategy").values.reshape(n_cases, -1) / scale
        se = ds[se_var].transpose(*names, "strategy").values.reshape(n_cases, -1) / scale
        if base:
            x = np.vstack([ds["base_mean_npv"].values / scale, x])
            se = np.vstack([ds["base_mean_npv_se"].values / scale, se])
        cols = [pm_cells(x[:, k], se[:, k], error_decimals(se[:, k], 1, 4), signed=signed)
                for k in range(len(strategies))]
        return [[col[r] for col in cols] for r in range(x.shape[0])]

    header = ["", *names]
    mean_rows = amounts("mean_npv", "mean_npv_se", False, "base_mean_npv_se" in ds)
    rows: list[Any] = []
    if len(mean_rows) > n_cases:
        rows.append(["base", *(cells[-1] for cells in axis_cells), *mean_rows[0]])
        mean_rows = mean_rows[1:]
    rows += [["", *case_cells(c), *r] for c, r in zip(combos, mean_rows)]
    lines += ["", f"Mean NPV ± standard error ({unit_label})"]
    lines += table([*header, *strategies], rows, fixed_columns=1 + len(names))
    any_zero = False
    if "change" in ds:
        change_rows = amounts("change", "change_se", True, False)
        any_zero = any(cell.strip() == "0" for r in change_rows for cell in r)
        lines += ["", f"Change in mean NPV from the base case ± paired standard error ({unit_label})"]
        lines += table([*header, *strategies], [["", *case_cells(c), *r] for c, r in zip(combos, change_rows)],
                       fixed_columns=1 + len(names))
    if "prob_greater" in ds and len(strategies) > 1:
        greater = ds["prob_greater"].transpose(*names, "strategy", "versus").values.reshape(n_cases, len(strategies), -1)
        equal = ds["prob_equal"].transpose(*names, "strategy", "versus").values.reshape(n_cases, len(strategies), -1)
        pair_header: list[str] = []
        pair_cols: list[list[str]] = []
        tied = []
        for a, b in itertools.combinations(range(len(strategies)), 2):
            later, earlier = strategies[b], strategies[a]  # later > earlier: "switch>mine", "host>mine"
            pair_header.append(f"{later}>{earlier}")
            pair_cols.append([percent(v) for v in greater[:, b, a]])
            if np.nanmax(equal[:, b, a]) > 0.0:
                pair_header.append(f"{later}={earlier}")
                pair_cols.append([percent(v) for v in equal[:, b, a]])
                tied.append((later, earlier))
        lines += ["", "P(A > B), share of paths on which A's NPV exceeds B's; P(A = B), the share of ties"]
        lines += table([*header, *pair_header],
                       [["", *case_cells(c), *(col[r] for col in pair_cols)] for r, c in enumerate(combos)],
                       fixed_columns=1 + len(names))
        note = "P(B > A) = 100% - P(A > B) - P(A = B)"
        note += "; ties are shown where a pair ties on some path." if tied else "; no pair ties on any path."
        for reason in (tie_reason(a, b) for a, b in tied):
            note += f" {reason[0].upper()}{reason[1:]}." if reason else ""
        lines += wrap(note)
    if any_zero:
        lines += wrap("0: no path changes from the base case.")
    return "\n".join(lines) + "\n"
