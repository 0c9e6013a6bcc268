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

import contextlib
import importlib
import os
import uuid
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from pivotmc import random as rng
from pivotmc.backends.accumulate import ExactSum
from pivotmc.backends import BACKENDS, KEPT_FACTORS, ChunkResult, KeptPaths, get_backend
from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.plan import Plan, lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import policy_for
from pivotmc.run.arguments import MAX_PATHS, _check_count
from pivotmc.model.outcomes import conversion_counts, current_names, option_value_variables, share_variables
from pivotmc.run.results import build_dataset, plain_values, switch_times

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

#: Paths per chunk when none is given: 24 MB of NPVs for three strategies, a few
#: seconds of work on one core, and a hundred tasks for 1e8 paths.
DEFAULT_CHUNK_PATHS = 1_000_000
#: Version of the layout below; part of a run's identity (2: the switch strategy's variables;
#: 3: ``option_value_se``, formerly ``option_value_std_error``).
STORE_FORMAT = 3
STATE_GROUP = "_chunks"
_ZARR_FORMAT = 2  # read by every Zarr implementation, and consolidated metadata are part of its spec
#: Bytes of limb sums read at a time when the means are finished.
_SUM_BATCH_BYTES = 64 * 2**20
_LIMBS = ("cash_flow_sum_hi", "cash_flow_sum_lo")
_ZARR_MARKERS = (".zgroup", ".zarray", ".zmetadata", "zarr.json")


class ExtraNotInstalledError(ValidationError, ImportError):
    """An option needs the ``dask`` extra (dask.distributed and zarr), which is not installed."""


def _require(option: str, modules: tuple[str, ...] = ("zarr", "dask.array")) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise ExtraNotInstalledError(
                f'{option} needs the dask extra (dask.distributed and zarr), which is not installed: '
                'pip install "pivotmc[dask]".'
            ) from None


def _store_path(store) -> str:
    if not isinstance(store, (str, os.PathLike)):
        raise ParameterTypeError(f"store must be a path, got {type(store).__name__} {store!r}.")
    # Workers may run in another directory (or on another machine sharing the filesystem).
    return os.path.abspath(os.fspath(store))


def _check_chunk_paths(chunk_paths, n_paths: int) -> int:

    if chunk_paths is None:
        chunk_paths = DEFAULT_CHUNK_PATHS
    return min(_check_count("chunk_paths", chunk_paths, 1, MAX_PATHS), n_paths)


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _connect(client) -> Iterator[object | None]:
    """The Dask client to run on (None: this process); one made from an address is closed afterwards."""
    if client is None:
        yield None
        return
    _require("client", ("distributed",))
    from distributed import Client

    if isinstance(client, Client):
        yield client
        return
    if not isinstance(client, str):
        raise ParameterTypeError(
            f"client must be a dask.distributed.Client or a scheduler address, got {type(client).__name__} {client!r}."
        )
    try:
        connected = Client(client)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValidationError(f"no Dask scheduler answers at {client!r}: {exc}") from None
    try:
        yield connected
    finally:
        connected.close()


@contextlib.contextmanager
def local_client(n_workers: int) -> Iterator[object]:
    """A client of a new ``LocalCluster`` of ``n_workers`` single-threaded worker processes.

    Each worker runs one chunk at a time; the ``cpu`` backend spreads a chunk over
    the worker's cores itself. Worker processes are spawned, so a script that
    uses this needs the usual ``if __name__ == "__main__":`` guard.

    Parameters
    ----------
    n_workers : int
        Number of worker processes, at least 1.

    Yields
    ------
    distributed.Client
        Connected to the cluster; both are closed on exit.
    """

    n_workers = _check_count("workers", n_workers, 1)
    _require("workers", ("distributed", "zarr"))
    from distributed import Client, LocalCluster

    # No dashboard; the scheduler's small HTTP server takes any free port rather than
    # warning that another cluster already holds 8787.
    quiet = {"dashboard_address": ":0"}
    with LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, scheduler_kwargs=quiet
    ) as cluster:
        with Client(cluster) as client:
            yield client


def _auto_backend() -> str:
    return get_backend("auto").name


def _resolve_backend(backend, client) -> str:
    """The backend's name; on a cluster, checked where it runs, not here."""
    if client is None:
        return get_backend(backend).name
    if not isinstance(backend, str) or (backend != "auto" and backend not in BACKENDS):
        get_backend(backend)  # raises the usual error for a bad name
    if backend != "auto":
        return backend  # the client may lack the workers' device; each worker checks when it runs a chunk
    names = set(client.run(_auto_backend).values())
    if not names:
        raise ValidationError("the Dask cluster has no workers to choose a backend: start workers, or name a backend.")
    if len(names) > 1:
        raise ValidationError(
            f"the Dask workers differ in their fastest backend ({', '.join(sorted(names))}): name one with backend=."
        )
    return names.pop()


# ---------------------------------------------------------------------------
# Identity and layout
# ---------------------------------------------------------------------------


def _identity(
    plan: Plan, policy, *, n_paths: int, seed: int, backend: str, chunk_paths: int, keep_paths: int
) -> dict:
    """What must agree for a store's chunks to belong to this run (block size and workers need not).

    A run that values switch records the digest of the exercise policy its chunks apply, so that a
    store is never resumed under another policy (one learned by other arithmetic, say).
    """
    from pivotmc._version import __version__

    identity = {
        "store_format": STORE_FORMAT,
        "pivotmc_version": __version__,
        "rng_layout_version": rng.RNG_LAYOUT_VERSION,
        "scenario": plan.scenario.to_toml(comments=False),
        "seed": seed,
        "n_paths": n_paths,
        "chunk_paths": chunk_paths,
        "keep_paths": keep_paths,
        "backend": backend,
    }
    if policy is not None:
        identity["switch_policy"] = policy.digest()
    return identity


def _stored_identity(path: str) -> dict | None:
    """The identity of a complete pivotmc layout at ``path``, else None."""
    import zarr

    try:
        run = zarr.open_group(path, mode="r", use_consolidated=True)[STATE_GROUP].attrs["run"]
    except (KeyError, ValueError, OSError):  # nothing there, not Zarr, or a layout cut short
        return None
    return dict(run) if isinstance(run, dict) else None


def _same_run(stored: dict, wanted: dict) -> bool:
    """Whether a stored identity is that of the wanted run; the switch policy is compared apart
    (:func:`_check_policy`), so that a finished store is read without learning it."""
    return {k: v for k, v in stored.items() if k != "switch_policy"} == wanted


def _check_policy(path: str, policy) -> None:
    """Refuse to resume a store whose chunks followed another switch policy than the one learned here.

    The policy is a deterministic function of the scenario; this guards against a learner whose
    arithmetic differs (another machine, another backend).
    """
    if _stored_identity(path).get("switch_policy") != policy.digest():
        raise ValidationError(
            f"store {path!r} holds chunks valued with another switch policy than the one learned here: "
            "pass overwrite=True (--overwrite) to start it afresh."
        )


def _differences(stored: dict, wanted: dict) -> str:
    parts = []
    for name, value in wanted.items():
        if stored.get(name) == value:
            continue
        if name == "scenario":
            parts.append("another scenario")
        else:
            parts.append(f"{name} {stored.get(name)!r} there, {value!r} here")
    return ", ".join(parts)


def _is_interrupted_layout(path: str, wanted: dict) -> bool:
    """Whether ``path`` is this run's own layout, cut short before any chunk could run.

    Chunks run only once the layout is complete, so such a store holds no
    results and may be laid out again.
    """
    import zarr

    try:
        attrs = dict(zarr.open_group(path, mode="r", use_consolidated=False).attrs)
    except (KeyError, ValueError, OSError):
        return False
    return attrs.get("title") == "pivotmc simulation" and all(
        attrs.get(name) == wanted[name] for name in ("scenario", "seed", "n_paths", "backend")
    )


def _check_target(path: str, wanted: dict, overwrite: bool) -> bool:
    """Whether ``path`` needs a new layout; raises if it holds something this run must not replace."""
    if not os.path.lexists(path):
        return True
    if not os.path.isdir(path):
        raise ValidationError(f"store {path!r} exists and is not a directory: choose another path.")
    if not os.listdir(path):
        return True
    stored = _stored_identity(path)
    if overwrite:
        if stored is None and not any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
            raise ValidationError(f"store {path!r} exists and is not a Zarr store; pivotmc will not delete it.")
        return True
    if stored is not None and _same_run(stored, wanted):
        return False
    if stored is not None:
        raise ValidationError(
            f"store {path!r} holds another run ({_differences(stored, wanted)}): "
            "pass overwrite=True (--overwrite) to replace it, or choose another store."
        )
    if _is_interrupted_layout(path, wanted):
        return True
    raise ValidationError(
        f"store {path!r} exists and is not a pivotmc store: pass overwrite=True (--overwrite) to replace it, "
        "or choose another store."
    )


def _lazy(shape: tuple[int, ...], chunks: tuple[int, ...], dtype=np.float64):
    """A placeholder that xarray lays out in Zarr without computing it (empty arrays have nothing to compute)."""
    if 0 in shape:
        return np.empty(shape, dtype=dtype)
    import dask.array as da

    return da.empty(shape, chunks=chunks, dtype=dtype)


def _switch_placeholders(plan: Plan) -> dict:
    """The switch variables that need every path, laid out empty: :func:`_finish` writes them."""

    n_dates = plan.decision_steps.size
    out = {}
    for name, (dims, _, attrs) in share_variables(np.zeros(n_dates, dtype=np.int64), 1).items():
        out[name] = (dims, _lazy((n_dates,), (n_dates,)), attrs)
    # Their attributes depend on the numbers (the strategy compared with); only units until then.
    probe = option_value_variables(lambda s: np.zeros(2), plan.strategies)
    for name, (dims, _, attrs) in probe.items():
        out[name] = (dims, _lazy((), ()), {"units": attrs["units"]})
    return out


def _lay_out(path: str, plan: Plan, policy, run: dict) -> None:
    """Write the store's metadata and the variables that do not grow with the run."""
    import zarr


    n_strat, n_steps = plan.n_strategies, plan.n_steps
    n_paths, chunk_paths, keep = run["n_paths"], run["chunk_paths"], run["keep_paths"]
    kept_chunk = max(1, min(chunk_paths, keep))
    kept = KeptPaths(
        paths=np.arange(keep, dtype=np.int64),
        factors={name: _lazy((keep, n_steps), (kept_chunk, n_steps)) for name in KEPT_FACTORS},
        cash_flow=_lazy((n_strat, keep, n_steps), (n_strat, kept_chunk, n_steps)),
    )
    switch = _lazy((n_paths,), (chunk_paths,), np.int16) if plan.switch_index >= 0 else None
    layout = build_dataset(
        plan,
        ChunkResult(
            first_path=0,
            npv=_lazy((n_strat, n_paths), (n_strat, chunk_paths)),
            cash_flow_sum=None,
            kept=kept,
            switch_decision=switch,
        ),
        n_paths=n_paths,
        seed=run["seed"],
        backend=run["backend"],
        cash_flow_mean=_lazy((n_strat, n_steps), (n_strat, n_steps)),
        path_coordinate=False,
        policy=policy,
    )
    if plan.switch_index >= 0:
        layout = layout.assign(_switch_placeholders(plan))
    # mode "w" empties the directory first: _check_target has decided that nothing there may be kept.
    layout.to_zarr(path, mode="w", compute=False, consolidated=False, zarr_format=_ZARR_FORMAT)

    n_chunks = -(-n_paths // chunk_paths)
    state = zarr.open_group(path, mode="r+").create_group(STATE_GROUP)
    for name in _LIMBS:
        state.create_array(
            name, shape=(n_chunks, n_strat, n_steps), chunks=(1, n_strat, n_steps), dtype="int64", fill_value=0
        )
    state.create_array("done", shape=(n_chunks,), chunks=(1,), dtype="uint8", fill_value=0)
    state.create_array("finished", shape=(), dtype="uint8", fill_value=0)
    state.attrs["run"] = run  # the identity goes last: a layout without it is one that was cut short
    zarr.consolidate_metadata(path)


# ---------------------------------------------------------------------------
# Chunks
# ---------------------------------------------------------------------------


def _chunk_ranges(n_paths: int, chunk_paths: int) -> list[tuple[int, int, int]]:
    return [(i, first, min(chunk_paths, n_paths - first)) for i, first in enumerate(range(0, n_paths, chunk_paths))]


def _compute_chunk(
    path: str,
    plan: Plan,
    key: tuple[int, int],
    backend: str,
    index: int,
    first: int,
    count: int,
    keep_paths: int,
    block_paths: int | None,
    policy=None,
) -> int:
    """Run one chunk and write its region of the store; the task a worker runs. Returns ``index``."""
    import zarr


    result = get_backend(backend).run_chunk(plan, key, first, count, keep_paths, block_paths, policy)
    if plan.switch_index >= 0 and result.switch_decision is None:
        raise ValidationError(f"backend {backend!r} does not report the switch strategy's decisions: choose another backend.")
    root = zarr.open_group(path, mode="r+")
    root["npv"][:, first : first + count] = result.npv
    if plan.switch_index >= 0:
        root["switch_decision"][first : first + count] = result.switch_decision
        root["switch_time"][first : first + count] = switch_times(result.switch_decision, plan.decision_times)
    kept = len(result.kept.paths)
    if kept:
        for name in KEPT_FACTORS:
            root[name][first : first + kept] = result.kept.factors[name]
        root["cash_flow"][:, first : first + kept] = result.kept.cash_flow
    state = root[STATE_GROUP]
    state["cash_flow_sum_hi"][index] = result.cash_flow_sum.hi
    state["cash_flow_sum_lo"][index] = result.cash_flow_sum.lo
    state["done"][index] = 1  # last: only now is everything above in the store
    return index


def _run_here(path, plan, policy, key, backend, chunks, keep_paths, block_paths, report: Callable[[int], None]) -> None:
    for index, first, count in chunks:
        _compute_chunk(path, plan, key, backend, index, first, count, keep_paths, block_paths, policy)
        report(count)


def _run_on_cluster(client, path, plan, policy, key, backend, chunks, keep_paths, block_paths, report) -> None:
    from distributed import as_completed

    plan_future, policy_future = client.scatter([plan, policy], broadcast=True, hash=False)
    token = uuid.uuid4().hex
    counts = {}
    futures = []
    for index, first, count in chunks:
        future = client.submit(
            _compute_chunk, path, plan_future, key, backend, index, first, count, keep_paths, block_paths,
            policy_future, key=f"pivotmc-chunk-{index}-{token}",
        )
        counts[future.key] = count
        futures.append(future)
    try:
        for future in as_completed(futures):
            future.result()  # raises the task's exception, if any
            report(counts[future.key])
    finally:
        # On error or interrupt, chunks still queued must not go on writing for nobody.
        client.cancel([*futures, plan_future, policy_future])


def _finish(path: str, plan: Plan, n_paths: int) -> None:
    """Per-step means from the exact limb sums of every chunk, the switch's summaries; then flag the run finished."""
    import zarr

    root = zarr.open_group(path, mode="r+")
    state = root[STATE_GROUP]
    hi, lo = (state[name] for name in _LIMBS)
    n_chunks = hi.shape[0]
    sums = ExactSum(hi.shape[1:])
    batch = max(1, _SUM_BATCH_BYTES // (hi.nbytes // n_chunks))
    for start in range(0, n_chunks, batch):
        # A batch's low limbs are each < 2**32, so their sum is exact in int64 for any batch size used here.
        sums.add_limbs(hi[start : start + batch].sum(axis=0), lo[start : start + batch].sum(axis=0))
    root["cash_flow_mean"][...] = sums.mean(n_paths)
    if plan.switch_index >= 0:
        _finish_switch(path, root, plan, n_paths)
    state["finished"][...] = 1


def _finish_switch(path: str, root, plan: Plan, n_paths: int) -> None:
    """Write ``switch_share`` and the option value, read from the chunks' decisions and NPVs.

    Memory: the NPVs of two strategies over every path (as
    :func:`pivotmc.model.outcomes.option_value` takes them), and a batch of chunks.
    """
    import zarr


    decision = root["switch_decision"]
    counts = np.zeros(plan.decision_steps.size, dtype=np.int64)
    batch = max(1, _SUM_BATCH_BYTES // np.dtype(np.int64).itemsize)  # the decisions are counted as int64
    for start in range(0, n_paths, batch):
        counts += conversion_counts(decision[start : start + batch], counts.size)
    strategies = list(plan.strategies)
    npv = root["npv"]
    # A whole number of Zarr chunks at a time: reading a row at once would decode every chunk,
    # all strategies of all paths, before keeping one row of them.
    step = npv.chunks[1] * max(1, _SUM_BATCH_BYTES // (npv.chunks[0] * npv.chunks[1] * npv.dtype.itemsize))

    def row(strategy: str) -> np.ndarray:
        index = strategies.index(strategy)
        out = np.empty(n_paths, dtype=npv.dtype)
        for start in range(0, n_paths, step):
            out[start : start + step] = npv[index, start : start + step]
        return out

    # One strategy's NPVs at a time, whole: the same numbers, summed in the same order, as in memory.
    variables = {**share_variables(counts, n_paths), **option_value_variables(row, strategies)}
    for name, (_, value, attrs) in variables.items():
        root[name][...] = value
        root[name].attrs.update(attrs)
    zarr.consolidate_metadata(path)


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
    from pivotmc.run.arguments import check_run

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
        As :func:`read_npv`, with ``switch_share(decision)`` and its
        coordinates where the run values the switch strategy (a few numbers
        per decision date, computed when the run finished).
    """
    import xarray as xr

    ds = read_npv(path)
    with xr.open_zarr(_store_path(path), chunks=None, consolidated=True) as full:
        if "switch_share" in full:
            ds = ds.assign(switch_share=plain_values(full[["switch_share"]]).load()["switch_share"])
    return ds
