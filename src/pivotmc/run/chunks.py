"""The tasks of a store run: one chunk of paths computed and written to its own region of the
store, here or on a cluster, and the finishing pass over all chunks (exact means, conversion
shares, option value)."""

from __future__ import annotations

import uuid
from typing import Callable

import numpy as np

from pivotmc.backends import KEPT_FACTORS, get_backend
from pivotmc.backends.accumulate import ExactSum
from pivotmc.errors import ValidationError
from pivotmc.model.outcomes import action_counts, option_value_variables, share_variables
from pivotmc.model.plan import Plan
from pivotmc.run.results import switch_times
from pivotmc.run.zarr_layout import STATE_GROUP, _LIMBS, _SUM_BATCH_BYTES

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
        root["switch_action"][first : first + count] = result.switch_action
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
    action = root["switch_action"]
    n_dates, n_actions = plan.decision_steps.size, len(plan.switch_actions)
    counts = np.zeros((n_actions, n_dates), dtype=np.int64)
    batch = max(1, _SUM_BATCH_BYTES // (2 * np.dtype(np.int64).itemsize))  # decisions and actions, counted as int64
    for start in range(0, n_paths, batch):
        counts += action_counts(decision[start : start + batch], action[start : start + batch], n_dates, n_actions)
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
