"""Where a store run's chunks run: this process, a local Dask cluster, or a running one."""

from __future__ import annotations

import contextlib
from typing import Iterator

from pivotmc.backends import BACKENDS, get_backend
from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.run.arguments import _check_count
from pivotmc.run.zarr_layout import _require

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
