"""Runs streamed to a Zarr store chunk by chunk, in this process or on a Dask cluster.

A run of ``n_paths`` paths is cut into chunks of ``chunk_paths`` consecutive
paths. A chunk needs nothing but the plan, the seed and its path range, so it is
one independent task: it runs a backend's ``run_chunk`` and writes its own
region of the store (its NPVs, its kept trajectories and the exact per-step limb
sums of its cash flows, and the decision dates of the switch strategy), then
sets its flag in ``_chunks/done``. The flag is
written last, so a set flag means the chunk's data are in the store whatever
stopped the run, and a run started again with the same arguments computes only
the chunks whose flag is not set. Each region is a whole number of Zarr chunks
(the last one of an axis may be short), so concurrent writers never share a file.

When every flag is set, the per-step means are finished from the integer limb
sums of all chunks (:class:`~pivotmc.backends.accumulate.ExactSum`), so they equal the
single-process result bit for bit whatever ``chunk_paths`` or the number of
workers. Where the switch strategy is valued, its share of paths converting
at each decision date and its option value (switch minus the better of mine
and host, path by path) are computed from the chunks then too, strategy by
strategy, exactly as :func:`pivotmc.simulate` computes them in memory.
``_chunks/finished`` is set last of all.

The switch's exercise policy is learned once, in the calling process before
any chunk runs, and shipped with the plan to every task; it depends on the
scenario alone. The store keeps it (``switch_policy_*``), and a resumed run
checks that the policy it learns is the one its earlier chunks followed (a
finished run, which computes nothing, learns nothing).

Layout (Zarr format 2, consolidated metadata, readable by ``xarray.open_zarr``):
the variables and attributes of :func:`pivotmc.run.results.build_dataset`, less the
``path`` coordinate (it is ``0 .. n_paths - 1``, and :func:`open_store` puts it
back); and the group ``_chunks`` with ``cash_flow_sum_hi`` and
``cash_flow_sum_lo`` (chunk, strategy, time), ``done`` (chunk), ``finished`` and,
in its attribute ``run``, the arguments that identify the run. Nothing but
data is written after the layout, except the option value's attributes (which
strategy it is compared with is known only at the end); the metadata are
consolidated again when they are written.

Writes are durable against the death of a process (SIGKILL included): Zarr's
local store writes each chunk to a temporary file and renames it into place,
so a file is either whole or absent. They are not flushed to disk, so a power
cut may lose chunks that were already flagged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.outcomes import current_names
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import policy_for
from pivotmc.run.arguments import check_run
from pivotmc.run.chunks import _chunk_ranges, _finish, _run_here, _run_on_cluster
from pivotmc.run.cluster import _connect, _resolve_backend, local_client
from pivotmc.run.results import plain_values
from pivotmc.run.zarr_layout import (
    DEFAULT_CHUNK_PATHS,
    STATE_GROUP,
    ExtraNotInstalledError,
    _check_chunk_paths,
    _check_policy,
    _check_target,
    _identity,
    _lay_out,
    _require,
    _store_path,
    _stored_identity,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "DEFAULT_CHUNK_PATHS",
    "ExtraNotInstalledError",
    "simulate_to_store",
    "open_store",
    "read_npv",
    "read_for_summary",
    "local_client",
]


def simulate_to_store(
    scenario: Scenario | None,
    store: str | os.PathLike,
    n_paths: int = 10_000,
    seed: int = 0,
    backend: str = "auto",
    keep_paths: int = 0,
    block_paths: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_paths: int | None = None,
    client=None,
    overwrite: bool = False,
) -> xr.Dataset:
    """Simulate as :func:`pivotmc.simulate` does, writing the results to a Zarr store chunk by chunk.

    Every chunk of ``chunk_paths`` paths (default :data:`DEFAULT_CHUNK_PATHS`, at most ``n_paths``) is
    one task, run here or on the Dask cluster of ``client`` (a client or a scheduler address); results
    do not depend on the chunking. The switch strategy's policy is learned once, before any chunk, and
    recorded in the store's identity. A store left by an interrupted run with the same arguments is
    resumed (only its missing chunks are computed); one that holds another run is refused unless
    ``overwrite``. Returns :func:`open_store`'s Dataset, which reads lazily from the store; its values
    equal those of the in-memory run of the same arguments, bit for bit. Needs the ``dask`` extra.
    """
    scenario, n_paths, keep_paths, block_paths, key = check_run(scenario, n_paths, seed, keep_paths, block_paths)
    _require("store")
    path = _store_path(store)
    if not isinstance(overwrite, (bool, np.bool_)):
        raise ParameterTypeError(f"overwrite must be True or False, got {overwrite!r}.")
    chunk_paths = _check_chunk_paths(chunk_paths, n_paths)
    plan = lower(scenario)
    policy = None
    with _connect(client) as dask_client:
        name = _resolve_backend(backend, dask_client)
        shape = dict(n_paths=n_paths, seed=int(seed), backend=name, chunk_paths=chunk_paths, keep_paths=keep_paths)
        if _check_target(path, _identity(plan, None, **shape), bool(overwrite)):
            policy = policy_for(plan)  # learned here, once: every task applies it and the identity records it
            _lay_out(path, plan, policy, _identity(plan, policy, **shape))

        import zarr

        state = zarr.open_group(path, mode="r")[STATE_GROUP]
        done = state["done"][:].astype(bool)
        ranges = _chunk_ranges(n_paths, chunk_paths)
        missing = [r for r in ranges if not done[r[0]]]
        finished = bool(state["finished"][()])
        completed = n_paths - sum(count for _, _, count in missing)
        if progress is not None:
            progress(completed, n_paths)

        def report(count: int) -> None:
            nonlocal completed
            completed += count
            if progress is not None:
                progress(completed, n_paths)

        if missing and policy is None and plan.switch_index >= 0:
            # Resuming: the chunks to come must follow the policy the store's chunks followed.
            policy = policy_for(plan)
            _check_policy(path, policy)
        if missing:
            if dask_client is None:
                _run_here(path, plan, policy, key, name, missing, keep_paths, block_paths, report)
            else:
                _run_on_cluster(dask_client, path, plan, policy, key, name, missing, keep_paths, block_paths, report)
        if missing or not finished:
            _finish(path, plan, n_paths)
    return open_store(path)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def _finished_store(path) -> str:
    """``path`` made absolute, if it holds a finished pivotmc run; else a ValidationError saying why."""
    _require("reading a Zarr store")
    import zarr

    path = _store_path(path)
    if not os.path.isdir(path):
        raise ValidationError(f"no Zarr store at {path!r}.")
    if _stored_identity(path) is None:
        raise ValidationError(
            f"{path!r} is not a pivotmc store (one written by simulate(store=...) or pivotmc run --out)."
        )
    state = zarr.open_group(path, mode="r")[STATE_GROUP]
    if not state["finished"][()]:
        done = state["done"][:]
        raise ValidationError(
            f"the run in {path!r} is incomplete ({int(done.sum())} of {done.size} chunks written): "
            "run it again with the same arguments to finish it."
        )
    return path


def open_store(path, *, chunks="auto") -> xr.Dataset:
    """Open the result of a finished store run, lazily.

    Parameters
    ----------
    path : str or path-like
        The store (a directory).
    chunks : optional
        As for :func:`xarray.open_zarr`: ``"auto"`` gives dask arrays, ``None``
        arrays that are read whole on first use.

    Returns
    -------
    xarray.Dataset
        The same variables, coordinates and attributes as :func:`pivotmc.simulate`
        returns without a store; ``path`` is rebuilt as ``0 .. n_paths - 1``.

    Raises
    ------
    ValidationError
        No store there, not a pivotmc store, or a run that has not finished.
    """
    import pandas as pd
    import xarray as xr
    from xarray.indexes import PandasIndex

    path = _finished_store(path)
    ds = current_names(plain_values(xr.open_zarr(path, chunks=chunks, consolidated=True)))
    # A range index costs nothing; an array of 1e8 path numbers would cost 0.8 GB, twice over while indexed.
    paths = PandasIndex(pd.RangeIndex(ds.sizes["path"], name="path"), dim="path")
    return ds.assign_coords(xr.Coordinates.from_xindex(paths))


def read_npv(path) -> xr.Dataset:
    """Load only ``npv`` (and the attributes) of a finished store run, reading it once.

    Returns
    -------
    xarray.Dataset
        ``npv(strategy, path)`` in memory, without the ``path`` coordinate,
        which :func:`pivotmc.summarize` does not need.
    """
    import xarray as xr

    path = _finished_store(path)
    # Without dask, xarray reads the whole array in one Zarr call into one buffer,
    # instead of assembling it from chunks held at the same time.
    ds = xr.open_zarr(path, chunks=None, consolidated=True)
    return plain_values(ds[["npv"]]).load()


def read_for_summary(path) -> xr.Dataset:
    """Load what :func:`pivotmc.summarize` reads from a finished store run: ``npv`` and the switch's shares.

    Returns
    -------
    xarray.Dataset
        As :func:`read_npv`, with ``switch_share(decision)``, ``switch_action_share(action, decision)``
        and their coordinates where the run values the switch strategy (a few numbers per decision date,
        computed when the run finished).
    """
    import xarray as xr

    ds = read_npv(path)
    with xr.open_zarr(_store_path(path), chunks=None, consolidated=True) as full:
        shares = [name for name in ("switch_share", "switch_action_share") if name in full]
        if shares:
            ds = ds.assign(plain_values(full[shares]).load()[shares])
    return ds

