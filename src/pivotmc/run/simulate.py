"""``simulate``: validate, lower, run a backend, and return an xarray Dataset."""

from __future__ import annotations

import os
from typing import Callable

import xarray as xr

from pivotmc.backends import get_backend
from pivotmc.errors import ValidationError
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import policy_for
from pivotmc.run.arguments import check_run
from pivotmc.run.loop import Precision, run_paths
from pivotmc.run.results import build_dataset

__all__ = ["simulate", "run_in_memory"]

#: A run with a progress callback is split into this many chunks, of at least PROGRESS_MIN_CHUNK paths
#: (a chunk has a fixed cost, and a run of a few hundred paths needs no progress).
PROGRESS_CHUNKS = 50
PROGRESS_MIN_CHUNK = 1024


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
        :data:`pivotmc.run.store.DEFAULT_CHUNK_PATHS`, at most ``n_paths``); each
        chunk is one task. Results do not depend on it.
    client : dask.distributed.Client or str, optional
        Run the chunks of a store run on this Dask cluster (a client, or a
        scheduler address such as ``"tcp://host:8786"``) instead of in this
        process. Every worker must see ``store`` at the same path.
    overwrite : bool
        Start the store afresh, even if it holds another run. Without it, a
        store that holds a run with another scenario, seed, ``n_paths``,
        ``chunk_paths``, ``keep_paths`` or backend is refused.
    switch_policy : pivotmc.policy.switch.SwitchPolicy, optional
        Apply this exercise policy to the switch strategy instead of learning
        the scenario's own (:func:`pivotmc.policy.switch.learn`), e.g. the base
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
        of paths converting at each date; ``option_value`` and its standard
        error ``option_value_se`` (switch minus the better of mine and host,
        path by path, USD; :mod:`pivotmc.model.outcomes`); the exercise
        boundary ``switch_boundary_lease_rate(decision, boundary_point)`` at
        the hashprices ``switch_boundary_hashprice``; and
        the learned policy's coefficients (see :mod:`pivotmc.policy.switch`).

    Raises
    ------
    ValidationError
        Bad input (a subclass of ValueError), before anything runs; also a
        store that holds another run, or ``store``/``client`` without the
        ``dask`` extra installed (:class:`pivotmc.run.store.ExtraNotInstalledError`).
    """
    scenario, n_paths, keep_paths, block_paths, key = check_run(scenario, n_paths, seed, keep_paths, block_paths)
    if store is not None:
        if switch_policy is not None:
            raise ValidationError("switch_policy applies to in-memory runs; a store run learns its scenario's own policy.")
        from pivotmc.run.store import simulate_to_store  # the dask extra is optional: import it only when asked for

        return simulate_to_store(
            scenario, store, n_paths=n_paths, seed=seed, backend=backend, keep_paths=keep_paths,
            block_paths=block_paths, chunk_paths=chunk_paths, client=client, overwrite=overwrite, progress=progress,
        )
    store_only = {"chunk_paths": chunk_paths is not None, "client": client is not None, "overwrite": bool(overwrite)}
    for name, given in store_only.items():
        if given:
            raise ValidationError(f"{name} applies only to a run written to a store: pass store='results.zarr' too.")
    return run_in_memory(
        scenario, n_paths, key, int(seed), backend, keep_paths=keep_paths, block_paths=block_paths,
        progress=progress, switch_policy=switch_policy,
    )


def run_in_memory(
    scenario: Scenario,
    n_paths: int,
    key: tuple[int, int],
    seed: int,
    backend: str,
    *,
    keep_paths: int = 0,
    block_paths: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    switch_policy=None,
    stop: Precision | None = None,
    chunk_paths: int | None = None,
) -> xr.Dataset:
    """Lower, learn (or check) the switch policy once, run the paths through the run loop and build the Dataset.

    The arguments are checked already. ``stop`` may end the run early (then ``chunk_paths`` is the
    batch between checks); with ``progress`` and no ``chunk_paths`` the run is cut into about
    PROGRESS_CHUNKS chunks so that progress can be reported. Results do not depend on the chunking.
    """
    runner = get_backend(backend)
    plan = lower(scenario)
    policy = policy_for(plan, switch_policy)
    if chunk_paths is None and progress is not None:
        chunk_paths = max(PROGRESS_MIN_CHUNK, -(-n_paths // PROGRESS_CHUNKS))
    chunk, stopped = run_paths(
        runner, plan, key, n_paths, policy=policy, keep_paths=keep_paths, block_paths=block_paths,
        chunk_paths=chunk_paths, progress=progress, stop=stop,
    )
    done = chunk.npv.shape[1]
    ds = build_dataset(plan, chunk, n_paths=done, seed=seed, backend=runner.name, policy=policy)
    if stop is not None:
        ds.attrs.update({
            "stopped_because": "precision reached" if stopped else "path budget spent",
            "target_precision": stop.relative,
            "absolute_floor": stop.absolute_floor,
        })
    return ds
