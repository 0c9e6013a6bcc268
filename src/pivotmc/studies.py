"""Studies over many scenarios on common random numbers: sensitivity and sweeps.

Every scenario of a study is simulated with the same seed, so path ``i`` sees
the same random numbers in all of them. Differences between scenarios are then
taken path by path, and their standard errors are those of the paired
differences, far below what independent runs would give.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import fields
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from .engine import simulate
from .errors import ValidationError
from .scenario import Bound, Scenario

__all__ = ["sensitivity", "sweep", "continuous_parameters", "simulate_to_precision"]

#: Parameters a relative shock makes no sense for: the time grid, the protocol's constants, and
#: the settings of the switch's policy learning (numerical, not economic).
_NOT_SHOCKED_SECTIONS = ("simulation", "protocol", "correlation", "strategies", "terminal", "switch")


def continuous_parameters(scenario: Scenario) -> list[str]:
    """Dotted names of the scalar float parameters that a relative shock moves (non-zero ones)."""
    names = []
    for section_field in fields(scenario):
        if section_field.name in _NOT_SHOCKED_SECTIONS:
            continue
        section = getattr(scenario, section_field.name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and not isinstance(value, bool) and value != 0.0:
                names.append(f"{section_field.name}.{f.name}")
    return names


def _bound_of(scenario: Scenario, dotted: str) -> Bound | None:
    section, key = dotted.split(".")
    for f in fields(getattr(scenario, section)):
        if f.name == key:
            return f.metadata.get("bound")
    raise ValidationError(f"unknown parameter {dotted!r}.")


def _clip(value: float, bound: Bound | None) -> float:
    """Move a shocked value inside its allowed range (closed ends only; open ends are left as is)."""
    if bound is None:
        return value
    if bound.lo is not None and not bound.lo_open:
        value = max(value, bound.lo)
    if bound.hi is not None and not bound.hi_open:
        value = min(value, bound.hi)
    return value


def _value(scenario: Scenario, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(scenario, section), key)


def sensitivity(
    scenario: Scenario,
    parameters: Sequence[str] | None = None,
    rel_shock: float = 0.2,
    n_paths: int = 20_000,
    seed: int = 0,
    backend: str = "auto",
    relearn: bool = False,
) -> xr.Dataset:
    """Mean NPV of every strategy when each parameter is moved down and up by ``rel_shock``.

    Parameters
    ----------
    scenario : Scenario
        The base case.
    parameters : sequence of str, optional
        Dotted names (``"btc.sigma"``); every continuous, non-zero parameter when omitted.
    rel_shock : float
        Relative size of the shock: values ``v (1 - rel_shock)`` and ``v (1 + rel_shock)``,
        moved inside the parameter's allowed range where they would leave it.
    n_paths, seed, backend
        As for :func:`pivotmc.simulate`; every run uses the same seed.
    relearn : bool
        Learn the switch's exercise policy afresh for every shocked scenario.
        By default the shocked runs apply the base case's policy: the change
        is then that of a fixed policy, equal to first order to the change of
        the re-optimised value (the envelope theorem), free of the noise of
        learning another policy, and a hundred learnings faster. Its sign is
        conservative: re-optimising could only add value to a shocked case.

    Returns
    -------
    xarray.Dataset
        Over ``(parameter, shock, strategy)`` with ``shock`` in ``["down", "up"]``:
        ``value`` (the shocked parameter value), ``mean_npv``, ``mean_npv_se``,
        ``change`` (mean of the path-wise difference to the base case) and its
        ``change_se`` (from the paired differences), ``change_se_unpaired`` (what
        independent runs would give, for comparison), and ``p_host_beats_mine``
        when both strategies are valued. The base case is in ``base_mean_npv``.
        A shock the scenario refuses (for example one that breaks the order of
        the lead times) is NaN, with the reason in the ``skipped`` attribute.
    """
    if not 0.0 < rel_shock < 1.0:
        raise ValidationError(f"rel_shock = {rel_shock!r} is not allowed: it must be in (0, 1).")
    names = list(parameters) if parameters is not None else continuous_parameters(scenario)
    if not names:
        raise ValidationError("sensitivity needs at least one parameter.")
    for name in names:
        if not isinstance(name, str) or name.count(".") != 1:
            raise ValidationError(f"parameter {name!r} must be written 'section.key', e.g. 'btc.sigma'.")
        if not isinstance(_value(scenario, name), float):
            raise ValidationError(f"{name} is not a continuous parameter; sensitivity shocks numbers only.")
    base = simulate(scenario, n_paths=n_paths, seed=seed, backend=backend)
    policy = None
    if "switch" in scenario.strategies.evaluate and not relearn:
        from .switch import learn

        policy = learn(scenario)  # the base run's, from the cache
    strategies = [str(s) for s in base.strategy.values]
    base_npv = base.npv.values
    shape = (len(names), 2, len(strategies))
    out = {k: np.full(shape, np.nan) for k in ("mean_npv", "mean_npv_se", "change", "change_se", "change_se_unpaired")}
    p_host = np.full(shape[:2], np.nan)
    values = np.full(shape[:2], np.nan)
    skipped: list[str] = []
    sd_base = base_npv.std(axis=1, ddof=1)
    for i, name in enumerate(names):
        v = _value(scenario, name)
        for j, factor in enumerate((1.0 - rel_shock, 1.0 + rel_shock)):
            shocked_value = _clip(v * factor, _bound_of(scenario, name))
            try:
                shocked = scenario.with_overrides({name: shocked_value})
            except ValidationError as exc:
                skipped.append(f"{name} x {factor:g}: {exc}")
                continue
            values[i, j] = shocked_value
            npv = simulate(shocked, n_paths=n_paths, seed=seed, backend=backend, switch_policy=policy).npv.values
            diff = npv - base_npv
            root_n = math.sqrt(n_paths)
            out["mean_npv"][i, j] = npv.mean(axis=1)
            out["mean_npv_se"][i, j] = npv.std(axis=1, ddof=1) / root_n
            out["change"][i, j] = diff.mean(axis=1)
            out["change_se"][i, j] = diff.std(axis=1, ddof=1) / root_n
            out["change_se_unpaired"][i, j] = np.sqrt(npv.var(axis=1, ddof=1) + sd_base**2) / root_n
            if "host" in strategies and "mine" in strategies:
                p_host[i, j] = float(np.mean(npv[strategies.index("host")] > npv[strategies.index("mine")]))
    dims = ("parameter", "shock", "strategy")
    ds = xr.Dataset(
        {
            "value": (("parameter", "shock"), values, {"long_name": "shocked parameter value"}),
            "mean_npv": (dims, out["mean_npv"], {"units": "USD"}),
            "mean_npv_se": (dims, out["mean_npv_se"], {"units": "USD"}),
            "change": (dims, out["change"], {"units": "USD", "long_name": "mean path-wise NPV change from the base case"}),
            "change_se": (dims, out["change_se"], {"units": "USD", "long_name": "standard error of the change, paired"}),
            "change_se_unpaired": (dims, out["change_se_unpaired"], {"units": "USD"}),
            "p_host_beats_mine": (("parameter", "shock"), p_host, {"units": "1"}),
            "base_mean_npv": (("strategy",), base_npv.mean(axis=1), {"units": "USD"}),
            "base_value": (("parameter",), np.array([_value(scenario, n) for n in names]), {}),
        },
        coords={"parameter": names, "shock": ["down", "up"], "strategy": strategies},
        attrs={"rel_shock": rel_shock, "n_paths": n_paths, "seed": seed, "backend": base.attrs["backend"],
               "skipped": "; ".join(skipped), "scenario": base.attrs["scenario"],
               "switch_policy": "learned for each shocked scenario" if relearn else "the base case's, for every shock"},
    )
    return ds


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    n_paths: int = 20_000,
    seed: int = 0,
    backend: str = "auto",
) -> xr.Dataset:
    """Simulate every combination of the values in ``grid`` on common random numbers.

    Parameters
    ----------
    scenario : Scenario
        The base case; ``grid`` overrides some of its parameters.
    grid : mapping of str to sequence
        Dotted parameter name to the values it takes, e.g.
        ``{"btc.sigma": [0.3, 0.5, 0.7], "hosting.lease_rate": [100, 140, 180]}``.

    Returns
    -------
    xarray.Dataset
        One dimension per swept parameter (named by its dotted name) plus
        ``strategy``: ``mean_npv`` and ``mean_npv_se``, ``p5``, ``p95``,
        ``prob_loss``, and ``p_host_beats_mine`` where both are valued.
        Every invalid combination is refused before anything runs.
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
    shape = tuple(len(a) for a in axes)
    results: dict[str, np.ndarray] = {}
    strategies: list[str] = []
    for flat, (combo, sc) in enumerate(zip(combos, scenarios)):
        npv = simulate(sc, n_paths=n_paths, seed=seed, backend=backend).npv
        if not strategies:
            strategies = [str(s) for s in npv.strategy.values]
            for key in ("mean_npv", "mean_npv_se", "p5", "p95", "prob_loss"):
                results[key] = np.empty(shape + (len(strategies),))
            results["p_host_beats_mine"] = np.full(shape, np.nan)
        idx = np.unravel_index(flat, shape)
        x = npv.values
        results["mean_npv"][idx] = x.mean(axis=1)
        results["mean_npv_se"][idx] = x.std(axis=1, ddof=1) / math.sqrt(n_paths)
        results["p5"][idx] = np.quantile(x, 0.05, axis=1)
        results["p95"][idx] = np.quantile(x, 0.95, axis=1)
        results["prob_loss"][idx] = (x < 0).mean(axis=1)
        if "host" in strategies and "mine" in strategies:
            results["p_host_beats_mine"][idx] = float(np.mean(x[strategies.index("host")] > x[strategies.index("mine")]))
    dims = tuple(names) + ("strategy",)
    data = {k: (dims, v, {"units": "1" if k == "prob_loss" else "USD"}) for k, v in results.items() if k != "p_host_beats_mine"}
    data["p_host_beats_mine"] = (tuple(names), results["p_host_beats_mine"], {"units": "1"})
    coords = {name: axis for name, axis in zip(names, axes)}
    coords["strategy"] = strategies
    return xr.Dataset(data, coords=coords, attrs={"n_paths": n_paths, "seed": seed})


def simulate_to_precision(
    scenario: Scenario,
    precision: float = 0.01,
    seed: int = 0,
    backend: str = "auto",
    absolute_floor: float = 1e5,
    batch_paths: int = 50_000,
    max_paths: int = 10_000_000,
    keep_paths: int = 0,
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

    Returns
    -------
    xarray.Dataset
        As :func:`pivotmc.simulate`, with attributes ``stopped_because``
        (``"precision reached"`` or ``"path budget spent"``), ``target_precision``
        and ``absolute_floor``, and ``half_width_95(strategy)``.
    """
    from . import rng
    from .backends import get_backend
    from .engine import build_dataset, merge_chunks
    from .plan import lower
    from .switch import attach_policy

    if not 0.0 < precision < 1.0:
        raise ValidationError(f"precision = {precision!r} is not allowed: it must be a relative half-width in (0, 1).")
    if absolute_floor < 0 or not math.isfinite(absolute_floor):
        raise ValidationError(f"absolute_floor = {absolute_floor!r} is not allowed: it must be a number >= 0 (USD).")
    for name, value in (("batch_paths", batch_paths), ("max_paths", max_paths)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ValidationError(f"{name} = {value!r} is not allowed: it must be an integer >= 2.")
    key = rng.seed_key(seed)
    runner = get_backend(backend)
    plan = attach_policy(lower(scenario))
    parts = []
    done = 0
    total = np.zeros(plan.n_strategies)
    total_sq = np.zeros(plan.n_strategies)
    reason = "path budget spent"
    while done < max_paths:
        count = min(batch_paths, max_paths - done)
        part = runner.run_chunk(plan, key, done, count, keep_paths, None)
        parts.append(part)
        done += count
        total += part.npv.sum(axis=1)
        total_sq += (part.npv**2).sum(axis=1)
        mean = total / done
        var = np.maximum(total_sq / done - mean**2, 0.0) * done / (done - 1)
        half = 1.96 * np.sqrt(var / done)
        if np.all(half <= np.maximum(precision * np.abs(mean), absolute_floor)):
            reason = "precision reached"
            break
    ds = build_dataset(plan, merge_chunks(parts), n_paths=done, seed=int(seed), backend=runner.name)
    npv = ds.npv.values
    ds["half_width_95"] = (("strategy",), 1.96 * npv.std(axis=1, ddof=1) / math.sqrt(done), {"units": "USD"})
    ds.attrs.update({"stopped_because": reason, "target_precision": precision, "absolute_floor": absolute_floor})
    return ds
