"""Running a scenario until every strategy's mean NPV is precise enough."""

from __future__ import annotations

import math
from typing import Callable

import xarray as xr

from pivotmc.model.scenario import Scenario

__all__ = ["simulate_to_precision"]


def simulate_to_precision(
    scenario: Scenario,
    precision: float = 0.01,
    seed: int = 0,
    backend: str = "auto",
    absolute_floor: float = 1e5,
    batch_paths: int = 50_000,
    max_paths: int = 10_000_000,
    keep_paths: int = 0,
    progress: Callable[[int, int], None] | None = None,
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
    from pivotmc.run.arguments import _check_count, check_run
    from pivotmc.run.loop import Precision
    from pivotmc.run.simulate import run_in_memory

    stop = Precision(precision, absolute_floor)
    batch_paths = _check_count("batch_paths", batch_paths, 2)
    max_paths = _check_count("max_paths", max_paths, 2)
    scenario, max_paths, keep_paths, _, key = check_run(scenario, max_paths, seed, keep_paths, None)
    ds = run_in_memory(
        scenario, max_paths, key, int(seed), backend, keep_paths=keep_paths,
        progress=progress, stop=stop, chunk_paths=batch_paths,
    )
    done = ds.sizes["path"]
    npv = ds.npv.values
    ds["half_width_95"] = (("strategy",), 1.96 * npv.std(axis=1, ddof=1) / math.sqrt(done), {"units": "USD"})
    return ds
