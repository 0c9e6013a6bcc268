"""A run's results as an xarray Dataset: chunk results merged, variables and attributes named,
the switch strategy's dates, conversion shares and option value. The in-memory run and the
store build the same Dataset from here."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import xarray as xr

from pivotmc import random as rng
from pivotmc._version import __version__
from pivotmc.backends import KEPT_FACTORS, ChunkResult, KeptPaths
from pivotmc.backends.accumulate import ExactSum
from pivotmc.model.factors import KEPT_VARIABLES
from pivotmc.model.outcomes import action_counts, option_value_variables, share_variables
from pivotmc.model.plan import Plan, step_dates

#: Units and long name of each kept trajectory (pivotmc.model.factors).
FACTOR_ATTRS = {v.variable: (v.units, v.long_name) for v in KEPT_VARIABLES}


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
    action = None if parts[0].switch_action is None else np.concatenate([p.switch_action for p in parts])
    return ChunkResult(
        first_path=parts[0].first_path,
        npv=np.concatenate([p.npv for p in parts], axis=1),
        cash_flow_sum=sums,
        kept=kept,
        switch_decision=switch,
        switch_action=action,
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
    policy=None,
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
        "hashrate_markup": float(plan.markup),
    }
    ds = xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
    if plan.switch_index >= 0:
        ds = _with_switch(ds, plan, chunk, time, policy)
    return ds


def _with_switch(ds: xr.Dataset, plan: Plan, chunk: ChunkResult, time: np.ndarray, policy) -> xr.Dataset:
    """Add the switch strategy's per-path dates, option value, policy and exercise boundary.

    With lazy (store layout) arrays, ``switch_share`` and the option value are
    left out: they need every path, and the store writes them (with the same
    functions of :mod:`pivotmc.model.outcomes`) once its chunks are done.
    """
    from pivotmc.policy.switch import BOUNDARY_QUANTILES

    steps = plan.decision_steps
    features = plan.switch_features
    starts = np.concatenate([[np.datetime64(plan.scenario.simulation.start, "ns")], time[:-1]])
    ds = ds.assign_coords(
        decision=("decision", np.arange(steps.size)),
        decision_time=("decision", plan.decision_times, {"units": "years", "long_name": "model time of the decision date"}),
        decision_date=("decision", starts[steps], {"long_name": "decision date"}),
        boundary_point=("boundary_point", BOUNDARY_QUANTILES, {"long_name": "quantile of hashprice at the date"}),
        switch_feature=("switch_feature", np.array(features, dtype=object)),
        basis_term=("basis_term", np.array(["*".join(f"{features[i]}^{e}" for i, e in enumerate(t) if e) or "1"
                                            for t in policy.stopping.terms], dtype=object)),
        action=("action", np.array(plan.switch_actions, dtype=object), {"long_name": "what the switch converts to"}),
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
        ds["switch_action"] = ("path", chunk.switch_action, switch_action_attrs(plan))
        if not lazy:
            counts = action_counts(decision, chunk.switch_action, steps.size, len(plan.switch_actions))
            ds = ds.assign(share_variables(counts, decision.size))
            ds = ds.assign(option_value_variables(lambda s: chunk.npv[plan.strategies.index(s)], plan.strategies))
    p = policy.stopping
    ds["switch_boundary_hashprice"] = (("decision", "boundary_point"), policy.boundary_hashprice, {"units": "USD/PH/day", "long_name": "hashprice on the exercise boundary"})
    ds["switch_boundary_lease_rate"] = (
        ("decision", "boundary_point"),
        policy.boundary_lease_rate,
        {"units": "USD/kW-month", "long_name": "lowest lease rate at which converting is optimal (NaN: none)"},
    )
    ds["switch_boundary_power_price"] = ("decision", policy.boundary_power_price, {"units": "USD/MWh", "long_name": "power price held at its median on the boundary"})
    ds["switch_boundary_gpu_price"] = (
        ("decision", "boundary_point"),
        policy.boundary_gpu_price,
        {"units": "USD/GPU-hour", "long_name": "lowest GPU rental price at which converting to cloud is optimal (NaN: none)"},
    )
    ds["switch_policy_centre"] = (("decision", "switch_feature"), p.centre, {"long_name": "centre of the log features"})
    ds["switch_policy_scale"] = (("decision", "switch_feature"), p.scale, {"long_name": "scale of the log features"})
    ds["switch_policy_coefficients"] = (
        ("action", "decision", "basis_term"),
        p.coefficients,
        {"units": "USD", "long_name": "advantage of converting to the action, in money of the date, on the scaled log features"},
    )
    ds.attrs.update({
        "switch_learning_paths": policy.learning_paths,
        "switch_learning_seed": policy.learning_seed,
        "switch_learning_backend": policy.learner,
        "switch_in_sample_gain": policy.in_sample_gain,
    })
    return ds


SWITCH_DECISION_ATTRS = {"long_name": "decision date at which the switch converts, -1 never"}


def switch_action_attrs(plan: Plan) -> dict:
    """Attributes of ``switch_action(path)``: its values in words."""
    words = "; ".join(f"{i}: {a}" for i, a in enumerate(plan.switch_actions))
    return {
        "long_name": "what the switch converts to (the action coordinate's position), -1 never",
        "comment": f"-1: never; {words}",
    }
SWITCH_TIME_ATTRS = {"units": "years", "long_name": "time at which the switch converts (NaN: never)"}


def switch_times(decision: np.ndarray, decision_times: np.ndarray) -> np.ndarray:
    """Model time (years) at which each path converts, from its decision-date index (-1, never: NaN)."""
    return np.where(decision >= 0, decision_times[np.maximum(decision, 0)], np.nan)


def _plain(attrs: dict) -> dict:
    return {key: value.item() if isinstance(value, np.generic) else value for key, value in attrs.items()}


def plain_values(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its text as Python strings and its attributes as Python numbers, as results are built here.

    Files and stores give them back as numpy strings (fixed-width or
    StringDType) and numpy scalars, depending on the reader's version;
    a copy is returned, ``ds`` is left as it is.
    """
    # Variables, not DataArrays: these would bring back the coordinates they were read with.
    text = {name: var.astype(object) for name, var in ds.variables.items() if var.dtype.kind in "TU"}
    out = ds.assign_coords({name: v for name, v in text.items() if name in ds.coords})
    out = out.assign({name: v for name, v in text.items() if name not in ds.coords})
    out.attrs = _plain(ds.attrs)
    for var in out.variables.values():
        var.attrs = _plain(var.attrs)
    return out
