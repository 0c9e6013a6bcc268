"""Studies over many scenarios on common random numbers: sensitivity and sweeps.

Every scenario of a study is simulated with the same seed, so path ``i`` sees
the same random numbers in all of them. Differences between scenarios are then
taken path by path, and their standard errors are those of the paired
differences, far below what independent runs would give.

What a sensitivity shocks is :mod:`pivotmc.analysis.shocks`'s; the results are
printed by :mod:`pivotmc.analysis.study_text`. :func:`simulate_to_precision`
(:mod:`pivotmc.analysis.precision`) is importable from here too.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from pivotmc.analysis.precision import simulate_to_precision
from pivotmc.analysis.shocks import SHOCKS as _SHOCKS
from pivotmc.analysis.shocks import continuous_parameters
from pivotmc.analysis.shocks import shock_values as _shocked
from pivotmc.analysis.shocks import shocked_parameter as _parameter
from pivotmc.analysis.study_text import format_sensitivity, format_sweep
from pivotmc.analysis.study_text import plain as _plain
from pivotmc.analysis.summary import pairwise_probabilities
from pivotmc.errors import ValidationError
from pivotmc.model.scenario import Scenario
from pivotmc.model.strategies import STATIC_STRATEGIES, learned_strategy
from pivotmc.run.simulate import simulate

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

#: Sections that set the switch's decision dates or how its policy is learned: a shocked case
#: of one of their parameters learns its own policy (the base case's would not fit, or not move).
_RELEARN_SECTIONS = ("simulation", "switch")
#: The first two static strategies, staying and converting (mine, host): studies report how often the second beats the first.
_STAY, _CONVERT = STATIC_STRATEGIES[:2]
_BEATS = f"p_{_CONVERT}_beats_{_STAY}"
_BEATS_LONG_NAME = f"share of paths on which {_CONVERT}'s NPV exceeds {_STAY}'s"


def _rivals(strategies: list[str]) -> tuple[int, int] | None:
    """Positions of the two static strategies among ``strategies``, staying first, if both are valued."""
    return (strategies.index(_STAY), strategies.index(_CONVERT)) if {_STAY, _CONVERT} <= set(strategies) else None


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
