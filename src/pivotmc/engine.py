"""``simulate``: validate, lower, run a backend, and return an xarray Dataset."""

from __future__ import annotations

import datetime as _dt
import numbers
import os
from typing import Callable

import numpy as np
import xarray as xr

from . import rng
from .accumulate import ExactSum
from .backends import KEPT_FACTORS, ChunkResult, KeptPaths, get_backend
from .errors import ParameterTypeError, ValidationError
from .plan import Plan, lower, step_dates
from .scenario import Scenario

__all__ = ["simulate", "MAX_PATHS"]

#: Path indices fill the two low counter words; 2**32 paths is far beyond any run's needs
#: and keeps the index exact in every backend's integer types.
MAX_PATHS = 2**32
#: A run with a progress callback is split into this many chunks, of at least PROGRESS_MIN_CHUNK paths
#: (a chunk has a fixed cost, and a run of a few hundred paths needs no progress).
PROGRESS_CHUNKS = 50
PROGRESS_MIN_CHUNK = 1024

FACTOR_ATTRS = {
    "btc_price": ("USD", "BTC price"),
    "hashrate": ("EH/s", "network hashrate"),
    "fees": ("BTC/block", "transaction fees per block"),
    "power_price": ("USD/MWh", "site spot power price"),
    "lease_rate": ("USD/kW-month", "market AI-hosting lease rate per kW of critical IT load"),
    "hashprice": ("USD/PH/day", "hashprice"),
}


def _check_count(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValidationError(f"{name} = {value} is not allowed: it must be an integer {allowed}.")
    return value


def simulate(
    scenario: Scenario | None = None,
    n_paths: int = 10_000,
    seed: int = 0,
    backend: str = "auto",
    keep_paths: int = 0,
    block_paths: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: str | os.PathLike | None = None,
    chunk_paths: int | None = None,
    client=None,
    overwrite: bool = False,
    switch_policy=None,
) -> xr.Dataset:
    """Simulate ``n_paths`` correlated market paths and value every strategy on them.

    Parameters
    ----------
    scenario : Scenario, optional
        The settings; :meth:`Scenario.default` when omitted.
    n_paths : int
        Number of paths, at least 1.
    seed : int
        Seed in ``[0, 2**64)``. Path ``i`` sees the same random numbers for the
        same seed whatever the backend, block size or ``n_paths``.
    backend : str
        ``"auto"`` (the fastest that runs here) or a name from
        :data:`pivotmc.backends.BACKENDS`.
    keep_paths : int
        Number of leading paths whose full trajectories are returned.
    block_paths : int, optional
        Paths per block (a memory knob; results do not depend on it).
    progress : callable, optional
        Called as ``progress(done_paths, n_paths)`` as the run advances (the run
        is then split into a few dozen chunks, or into the store's chunks;
        results do not depend on it).
    store : str or path-like, optional
        A Zarr store (a directory, conventionally ``*.zarr``) to write the result
        to, chunk by chunk, as it is computed; the returned Dataset then reads
        from it. A store left by an interrupted run with the same arguments is
        resumed: only its missing chunks are computed. Needs the ``dask`` extra.
    chunk_paths : int, optional
        Paths per chunk of a store run (default
        :data:`pivotmc.store.DEFAULT_CHUNK_PATHS`, at most ``n_paths``); each
        chunk is one task. Results do not depend on it.
    client : dask.distributed.Client or str, optional
        Run the chunks of a store run on this Dask cluster (a client, or a
        scheduler address such as ``"tcp://host:8786"``) instead of in this
        process. Every worker must see ``store`` at the same path.
    overwrite : bool
        Start the store afresh, even if it holds another run. Without it, a
        store that holds a run with another scenario, seed, ``n_paths``,
        ``chunk_paths``, ``keep_paths`` or backend is refused.
    switch_policy : pivotmc.switch.SwitchPolicy, optional
        Apply this exercise policy to the switch strategy instead of learning
        the scenario's own (:func:`pivotmc.switch.learn`), e.g. the base
        scenario's policy under stressed markets. In-memory runs only.

    Returns
    -------
    xarray.Dataset
        ``npv(strategy, path)`` in USD; ``cash_flow_mean(strategy, time)``, the
        mean undiscounted cash flow of each step; ``discount_factor(time)``;
        for ``kept_path`` (the first ``keep_paths`` paths) the trajectories
        ``btc_price``, ``hashrate``, ``fees``, ``power_price``, ``lease_rate``,
        ``hashprice`` and ``cash_flow(strategy, kept_path, time)``. ``time`` holds
        the date at the end of each step (when its cash flow is earned) and
        ``t_years`` its model time. Attributes record provenance.

        When ``switch`` is valued, also: ``switch_time(path)`` (years; NaN
        where the path never converts) and ``switch_decision(path)`` (index of
        the decision date, -1 for never); ``switch_share(decision)``, the share
        of paths converting at each date; ``option_value`` and
        ``option_value_std_error`` (switch minus the better of mine and host,
        USD); the exercise boundary ``switch_boundary_lease_rate(decision,
        boundary_point)`` at the hashprices ``switch_boundary_hashprice``; and
        the learned policy's coefficients (see :mod:`pivotmc.switch`).

    Raises
    ------
    ValidationError
        Bad input (a subclass of ValueError), before anything runs; also a
        store that holds another run, or ``store``/``client`` without the
        ``dask`` extra installed (:class:`pivotmc.store.ExtraNotInstalledError`).
    """
    if scenario is None:
        scenario = Scenario.default()
    if not isinstance(scenario, Scenario):
        raise ParameterTypeError(f"scenario must be a pivotmc.Scenario, got {type(scenario).__name__}.")
    n_paths = _check_count("n_paths", n_paths, 1, MAX_PATHS)
    keep_paths = _check_count("keep_paths", keep_paths, 0, n_paths)
    if block_paths is not None:
        block_paths = _check_count("block_paths", block_paths, 1)
    key = rng.seed_key(seed)
    if switch_policy is not None and store is not None:
        raise ValidationError("switch_policy applies to in-memory runs; a store run learns its scenario's own policy.")
    if store is not None:
        from .store import simulate_to_store  # the dask extra is optional: import it only when asked for

        return simulate_to_store(
            scenario, store, n_paths=n_paths, seed=int(seed), key=key, backend=backend, keep_paths=keep_paths,
            block_paths=block_paths, chunk_paths=chunk_paths, client=client, overwrite=overwrite, progress=progress,
        )
    store_only = {"chunk_paths": chunk_paths is not None, "client": client is not None, "overwrite": bool(overwrite)}
    for name, given in store_only.items():
        if given:
            raise ValidationError(f"{name} applies only to a run written to a store: pass store='results.zarr' too.")
    runner = get_backend(backend)

    plan = lower(scenario)
    if plan.switch_index >= 0:
        from .switch import attach_policy, with_policy

        plan = attach_policy(plan) if switch_policy is None else with_policy(plan, switch_policy)
    if progress is None:
        chunk = runner.run_chunk(plan, key, 0, n_paths, keep_paths, block_paths)
    else:
        size = max(PROGRESS_MIN_CHUNK, -(-n_paths // PROGRESS_CHUNKS))
        progress(0, n_paths)
        parts = []
        for first in range(0, n_paths, size):
            parts.append(runner.run_chunk(plan, key, first, min(size, n_paths - first), keep_paths, block_paths))
            progress(first + parts[-1].npv.shape[1], n_paths)
        chunk = merge_chunks(parts)
    return build_dataset(plan, chunk, n_paths=n_paths, seed=int(seed), backend=runner.name)


def merge_chunks(parts: list[ChunkResult]) -> ChunkResult:
    """Join the results of consecutive path ranges into one (exact sums add exactly)."""
    parts = sorted(parts, key=lambda c: c.first_path)
    for before, after in zip(parts, parts[1:]):
        if before.first_path + before.npv.shape[1] != after.first_path:
            raise ValueError("chunks to merge must cover consecutive path ranges")  # pragma: no cover - internal
    sums = ExactSum(parts[0].cash_flow_sum.hi.shape)
    for part in parts:
        sums.merge(part.cash_flow_sum)
    kept = KeptPaths(
        paths=np.concatenate([p.kept.paths for p in parts]),
        factors={name: np.concatenate([p.kept.factors[name] for p in parts]) for name in KEPT_FACTORS},
        cash_flow=np.concatenate([p.kept.cash_flow for p in parts], axis=1),
    )
    switch = None if parts[0].switch_decision is None else np.concatenate([p.switch_decision for p in parts])
    return ChunkResult(
        first_path=parts[0].first_path,
        npv=np.concatenate([p.npv for p in parts], axis=1),
        cash_flow_sum=sums,
        kept=kept,
        switch_decision=switch,
    )


def build_dataset(
    plan: Plan,
    chunk: ChunkResult,
    *,
    n_paths: int,
    seed: int,
    backend: str,
    cash_flow_mean=None,
    path_coordinate: bool = True,
) -> xr.Dataset:
    """Assemble the result Dataset of a run from its (merged) chunk result.

    Parameters
    ----------
    plan : Plan
        The lowered scenario that was run.
    chunk : ChunkResult
        All the run's paths. Its arrays may be lazy (dask) placeholders, as in
        the layout of a Zarr store.
    n_paths, seed : int
        Recorded in the attributes; ``n_paths`` also divides the exact sums.
    backend : str
        Name of the backend that ran, recorded in the attributes.
    cash_flow_mean : array-like, optional
        Used instead of the mean of ``chunk.cash_flow_sum`` (a store's layout
        has no sums yet).
    path_coordinate : bool
        Give ``path`` its coordinate. A store leaves it out, since its reader
        rebuilds it, and it would otherwise be as long as the run.

    Returns
    -------
    xarray.Dataset
        The Dataset :func:`simulate` returns, provenance attributes included.
    """
    from . import __version__

    scenario = plan.scenario
    strategies = list(plan.strategies)
    time = step_dates(scenario.simulation.start, plan.steps_per_year, plan.n_steps)
    kept = chunk.kept
    coords = {"strategy": ("strategy", np.array(strategies, dtype=object))}
    if path_coordinate:
        paths = np.arange(chunk.first_path, chunk.first_path + chunk.npv.shape[1], dtype=np.int64)
        coords["path"] = ("path", paths)
    coords.update({
        "time": ("time", time, {"long_name": "end of step (cash-flow date)"}),
        "t_years": ("time", plan.t_end, {"units": "years", "long_name": "model time at the end of the step"}),
        "kept_path": ("kept_path", kept.paths, {"long_name": "index of a path whose trajectory is kept"}),
    })
    if cash_flow_mean is None:
        cash_flow_mean = chunk.cash_flow_sum.mean(n_paths)
    data = {
        "npv": (("strategy", "path"), chunk.npv, {"units": "USD", "long_name": "net present value"}),
        "cash_flow_mean": (
            ("strategy", "time"),
            cash_flow_mean,
            {"units": "USD", "long_name": "mean undiscounted cash flow of the step over all paths"},
        ),
        "discount_factor": (("time",), plan.discount, {"units": "1", "long_name": "discount factor to t = 0"}),
        "cash_flow": (
            ("strategy", "kept_path", "time"),
            kept.cash_flow,
            {"units": "USD", "long_name": "undiscounted cash flow of the step"},
        ),
    }
    for name in KEPT_FACTORS:
        units, long_name = FACTOR_ATTRS[name]
        data[name] = (("kept_path", "time"), kept.factors[name], {"units": units, "long_name": long_name})
    attrs = {
        "title": "pivotmc simulation",
        "Conventions": "CF-1.8",
        "pivotmc_version": __version__,
        "scenario": scenario.to_toml(comments=False),
        "seed": seed,
        "backend": backend,
        "n_paths": n_paths,
        "rng": "Philox4x32-10",
        "rng_layout_version": rng.RNG_LAYOUT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hashrate_markup": plan.markup,
    }
    ds = xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
    if plan.switch_index >= 0:
        ds = _with_switch(ds, plan, chunk, time)
    return ds


def _with_switch(ds: xr.Dataset, plan: Plan, chunk: ChunkResult, time: np.ndarray) -> xr.Dataset:
    """Add the switch strategy's per-path dates, option value, policy and exercise boundary.

    With lazy (store layout) arrays, ``switch_share`` and the option value are
    left out: they need every path, and the store writes them with
    :func:`switch_share_variables` and :func:`option_value_variables` once its
    chunks are done.
    """
    from .plan import SWITCH_FEATURES
    from .switch import BOUNDARY_QUANTILES

    policy = plan.switch_policy
    steps = plan.decision_steps
    starts = np.concatenate([[np.datetime64(plan.scenario.simulation.start, "ns")], time[:-1]])
    ds = ds.assign_coords(
        decision=("decision", np.arange(steps.size)),
        decision_time=("decision", plan.decision_times, {"units": "years", "long_name": "model time of the decision date"}),
        decision_date=("decision", starts[steps], {"long_name": "decision date"}),
        boundary_point=("boundary_point", BOUNDARY_QUANTILES, {"long_name": "quantile of hashprice at the date"}),
        switch_feature=("switch_feature", np.array(SWITCH_FEATURES, dtype=object)),
        basis_term=("basis_term", np.array(["*".join(f"{SWITCH_FEATURES[i]}^{e}" for i, e in enumerate(t) if e) or "1"
                                            for t in policy.stopping.terms], dtype=object)),
    )
    decision = chunk.switch_decision
    if decision is not None:
        lazy = not isinstance(decision, np.ndarray)
        if lazy:
            times = decision.map_blocks(switch_times, plan.decision_times, dtype=np.float64)
        else:
            times = switch_times(decision, plan.decision_times)
        ds["switch_decision"] = ("path", decision, dict(SWITCH_DECISION_ATTRS))
        ds["switch_time"] = ("path", times, dict(SWITCH_TIME_ATTRS))
        if not lazy:
            counts = np.bincount(decision[decision >= 0].astype(np.int64), minlength=steps.size)
            ds = ds.assign(switch_share_variables(counts, decision.size))
            ds = ds.assign(option_value_variables(lambda s: chunk.npv[plan.strategies.index(s)], plan.strategies))
    p = policy.stopping
    ds["switch_boundary_hashprice"] = (("decision", "boundary_point"), policy.boundary_hashprice, {"units": "USD/PH/day", "long_name": "hashprice on the exercise boundary"})
    ds["switch_boundary_lease_rate"] = (
        ("decision", "boundary_point"),
        policy.boundary_lease_rate,
        {"units": "USD/kW-month", "long_name": "lowest lease rate at which converting is optimal (NaN: none)"},
    )
    ds["switch_boundary_power_price"] = ("decision", policy.boundary_power_price, {"units": "USD/MWh", "long_name": "power price held at its median on the boundary"})
    ds["switch_policy_centre"] = (("decision", "switch_feature"), p.centre, {"long_name": "centre of the log features"})
    ds["switch_policy_scale"] = (("decision", "switch_feature"), p.scale, {"long_name": "scale of the log features"})
    ds["switch_policy_coefficients"] = (
        ("decision", "basis_term"),
        p.coefficients,
        {"units": "USD", "long_name": "advantage of converting, in money of the date, on the scaled log features"},
    )
    ds.attrs.update({
        "switch_learning_paths": policy.learning_paths,
        "switch_learning_seed": policy.learning_seed,
        "switch_learning_backend": policy.learner,
        "switch_in_sample_gain": policy.in_sample_gain,
    })
    return ds


SWITCH_DECISION_ATTRS = {"long_name": "decision date at which the switch converts, -1 never"}
SWITCH_TIME_ATTRS = {"units": "years", "long_name": "time at which the switch converts (NaN: never)"}


def switch_times(decision: np.ndarray, decision_times: np.ndarray) -> np.ndarray:
    """Model time (years) at which each path converts, from its decision-date index (-1, never: NaN)."""
    return np.where(decision >= 0, decision_times[np.maximum(decision, 0)], np.nan)


def switch_share_variables(counts: np.ndarray, n_paths: int) -> dict:
    """``switch_share(decision)`` from the number of paths converting at each decision date."""
    return {"switch_share": ("decision", counts / n_paths, {"units": "1", "long_name": "share of paths converting at the date"})}


def option_value_variables(npv_of: Callable[[str], np.ndarray], strategies) -> dict:
    """``option_value`` and ``option_value_std_error`` (0-d), or nothing where switch has no static strategy to beat.

    ``npv_of(strategy)`` gives a strategy's NPVs over every path; it is called
    one strategy at a time (a store reads each from disk), and holds at most
    two of them at once.
    """
    from .switch import STATIC_STRATEGIES, option_value

    static = [s for s in STATIC_STRATEGIES if s in strategies]
    if "switch" not in strategies or not static:
        return {}
    means = {s: float(np.mean(npv_of(s))) for s in static}
    best = max(means, key=means.get)  # the choice switch.option_value makes, without holding both rows
    value, se, best = option_value(npv_of("switch"), {best: npv_of(best)})
    note = f"mean of switch minus {best} (the better static strategy by mean NPV), path by path"
    return {
        "option_value": ((), value, {"units": "USD", "long_name": "value of the option to wait", "compared_with": best, "comment": note}),
        "option_value_std_error": ((), se, {"units": "USD", "long_name": "standard error of option_value"}),
    }
