"""The ``cuda`` backend: CUDA C kernels, compiled by NVRTC and launched through CuPy.

The kernel (``kernels/pivotmc_model.cu``) runs one thread per path: it draws
the path's random numbers in-kernel, advances every factor, values every
strategy, and writes only per-path NPVs, kept trajectories and its share of
the exact per-step sums, which warps reduce on the device (see the kernel's
header comment). The arithmetic is the reference executor's and the ``cpu``
backend's, operation by operation, compiled without fused multiply-add
(``--fmad=false``): only the CUDA math library's log, exp and expm1 (normal
tails, capex overrun, partial-step defaults, the cloud's capex trend and fleet
aging) may round differently from the C library's, so the two agree far inside
the 1e-9 relative the tests demand, path by path. Built as host C++ for the
tests, the same source reproduces the ``cpu`` backend bit for bit (and the
reference executor, whose numpy exp and log round otherwise, to 1e-10).

The ``switch`` strategy applies a policy learned beforehand (by the ``cpu``
backend, see :mod:`pivotmc.policy.switch`) and attached to the plan; the kernel
evaluates it at each decision date on the logs of the path's state, one
estimated advantage per action (host, and cloud for the three-way switch),
and returns each path's decision date and action. Those logs are CUDA's on a
GPU: a path whose estimated advantage lies within a few ulps of zero (or of
another action's) could decide otherwise than on the ``cpu`` backend, a tie
of probability zero.

The kernel is compiled per number of strategies and with the ``cloud``
economics only where the plan values them (``Plan.values_cloud``), so that a
plan without cloud runs a kernel without its code and state.

Sources, compile options and compiled modules are in
:mod:`pivotmc.backends.cuda_build`; the kernel's inputs and records, launch
sizing (to the card's free memory) and devices in
:mod:`pivotmc.backends.cuda_launch`.

CuPy is imported only when the backend is used: ``import pivotmc`` and every
other backend work without it.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from pivotmc.backends import Capabilities, ChunkResult, KeptPaths
from pivotmc.backends.accumulate import ExactSum, overflow_error
from pivotmc.backends.cuda_build import (
    DRAWS_KERNEL,
    MAX_REGISTERS,
    MODEL_SOURCE,
    NVRTC_OPTIONS,
    PROBE_SOURCE,
    SIMULATE_KERNEL,
    compile_options,
    kernel_dir,
    kernel_source,
    raw_module,
)
from pivotmc.backends.cuda_launch import (
    MAX_BATCH_PATHS,
    MEMORY_FRACTION,
    OUTPUTS_RECORD,
    PLAN_ARRAYS,
    POLICY_ARRAYS,
    PLAN_RECORD,
    POLICY_RECORD,
    policy_sizes,
    constants_record,
    THREADS_PER_BLOCK,
    CupyDevice,
    Device,
    device_name,
    kernel_inputs,
    launch_layout,
    record,
)
from pivotmc.backends.kernel_constants import (
    GROWTH_TABLE_SIZE,
    MAX_STRATEGIES,
    layout_defines,
    math_defines,
    rng_defines,
)
from pivotmc.errors import ValidationError
from pivotmc.model.plan import Plan
from pivotmc.backends import KEPT_FACTORS

__all__ = [
    "CAPABILITIES",
    "run_chunk",
    "simulate_chunk",
    "unavailable_reason",
    "kernel_dir",
    "kernel_source",
    "layout_defines",
    "rng_defines",
    "math_defines",
    "compile_options",
    "kernel_inputs",
    "policy_sizes",
    "constants_record",
    "launch_layout",
    "RunStats",
    "device_name",
    "time_draws_only",
    "CupyDevice",
    "Device",
    "record",
    "raw_module",
    "PLAN_RECORD",
    "POLICY_RECORD",
    "OUTPUTS_RECORD",
    "MODEL_SOURCE",
    "SIMULATE_KERNEL",
    "DRAWS_KERNEL",
    "NVRTC_OPTIONS",
    "PROBE_SOURCE",
    "MAX_REGISTERS",
    "MAX_BATCH_PATHS",
    "MEMORY_FRACTION",
    "THREADS_PER_BLOCK",
]

#: The switch's learning paths are simulated by cpu or reference, the kernels apply its policy; CuPy
#: compiles the kernels at their first launch and caches them.
CAPABILITIES = Capabilities(learning=False, compiles=False)


@dataclass(frozen=True)
class RunStats:
    """Timings and launch configuration of one :func:`simulate_chunk` call."""

    device: str
    paths: int
    steps: int
    launches: int
    batch_paths: int
    threads_per_block: int
    replicas: int
    device_bytes: int
    kernel_seconds: float  # device time of the kernels alone (CUDA events)
    wall_seconds: float  # everything: uploads, launches, copies back, exact-sum bookkeeping


def simulate_chunk(
    plan: Plan,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    keep_paths: int = 0,
    batch_paths: int | None = None,
    threads_per_block: int = THREADS_PER_BLOCK,
    device: Device | None = None,
    policy=None,
) -> tuple[ChunkResult, RunStats]:
    """Simulate paths ``first_path .. first_path + n_paths - 1`` on a device; also return timings.

    Parameters
    ----------
    plan, key, first_path, n_paths, keep_paths
        As for every backend's ``run_chunk``.
    batch_paths : int, optional
        Most paths per launch (the memory knob; results do not depend on it).
    threads_per_block : int
        A multiple of 32, at most 512 with the default register cap (results do not depend on it).
    device : Device, optional
        The current GPU through CuPy (:class:`CupyDevice`) when omitted.

    The result's ``switch_decision`` holds each path's decision date (int16,
    -1 never) and ``switch_action`` what it converted to (int8, its position
    in ``plan.switch_actions``, -1 never) where the plan values switch, whose
    exercise policy ``policy`` must then be (:func:`pivotmc.policy.switch.learn`).

    Raises
    ------
    ValidationError
        The plan values switch without a policy that fits it, or a cash flow
        is too large to sum exactly.
    """
    started = time.perf_counter()
    n_strat, n_steps = plan.n_strategies, plan.n_steps
    if n_strat > MAX_STRATEGIES:  # pragma: no cover - the scenario allows fewer
        raise ValidationError(f"the cuda backend values at most {MAX_STRATEGIES} strategies at once.")
    host_inputs = kernel_inputs(plan, policy)  # first: a switch without a policy is refused before the device is touched
    device = device if device is not None else CupyDevice()
    switch = plan.switch_index >= 0
    cloud = bool(plan.values_cloud)
    sizes = policy_sizes(plan, host_inputs)
    n_dates = int(plan.decision_steps.size) if switch else 0
    kept_result, kept_factors = KeptPaths.allocate(first_path, n_paths, keep_paths, n_strat, n_steps)
    kept_cf = kept_result.cash_flow
    n_kept = kept_result.paths.size
    shape = {
        "switch_dates": n_dates, "switch_terms": sizes["n_terms"], "switch_actions": max(1, sizes["n_actions"]),
        "switch_features": len(plan.switch_features),
    }  # fmt: skip
    layout = launch_layout(
        n_paths, n_kept, n_strat, n_steps, device.free_bytes(), batch_paths, threads_per_block, **shape
    )
    inputs = {name: device.to_device(array) for name, array in host_inputs.items()}
    n_factors = len(KEPT_FACTORS)
    sums_shape = (layout.replicas, n_strat, n_steps)
    d_npv = device.empty(n_strat * layout.batch_paths, np.float64)
    d_hi = device.zeros(math.prod(sums_shape), np.uint64)
    d_lo = device.zeros(math.prod(sums_shape), np.uint64)
    d_kept_factors = device.empty(max(1, n_factors * layout.kept_rows * n_steps), np.float64)
    d_kept_cf = device.empty(max(1, n_strat * layout.kept_rows * n_steps), np.float64)
    d_switch = device.empty(layout.batch_paths if switch else 1, np.int16)
    d_action = device.empty(layout.batch_paths if switch else 1, np.int8)
    d_overflow = device.zeros(1, np.uint64)

    plan_record = record(
        PLAN_RECORD,
        {
            **{name: inputs[name] for name in PLAN_ARRAYS},
            "n_jump_cdf": host_inputs["jump_cdf"].size, "n_spike_cdf": host_inputs["spike_cdf"].size,
            "n_growth": GROWTH_TABLE_SIZE,
        },
        device,
    )  # fmt: skip
    policy_record = record(POLICY_RECORD, {**{name: inputs[name] for name in POLICY_ARRAYS}, **sizes}, device)
    npv = np.empty((n_strat, n_paths))
    decisions = np.empty(n_paths, dtype=np.int16) if switch else None
    actions = np.empty(n_paths, dtype=np.int8) if switch else None
    sums = ExactSum((n_strat, n_steps))
    key0, key1 = (int(k) for k in key)
    outputs_record = record(
        OUTPUTS_RECORD,
        {
            "npv": d_npv, "sums_hi": d_hi, "sums_lo": d_lo, "kept_factors": d_kept_factors,
            "kept_cf": d_kept_cf, "switch_out": d_switch, "action_out": d_action, "overflow": d_overflow,
        },
        device,
    )  # fmt: skip
    constants = constants_record(plan)
    launches = 0
    for lo, size, kept in layout.batches(n_paths, n_kept):
        grid = -(-size // layout.threads_per_block)
        args = (
            plan_record, policy_record, outputs_record, np.int32(n_steps),
            np.uint32(key0), np.uint32(key1), np.uint64(first_path + lo), np.int64(size), np.int64(kept),
            np.int32(layout.replicas), constants,
        )  # fmt: skip
        device.launch(SIMULATE_KERNEL, n_strat, grid, layout.threads_per_block, args, cloud=cloud)
        launches += 1
        for s in range(n_strat):
            device.to_host(d_npv[s * size : (s + 1) * size], out=npv[s, lo : lo + size])
        if decisions is not None:
            device.to_host(d_switch[:size], out=decisions[lo : lo + size])
            device.to_host(d_action[:size], out=actions[lo : lo + size])
        if kept:
            kept_factors[:, lo : lo + kept] = device.to_host(d_kept_factors[: n_factors * kept * n_steps]).reshape(
                n_factors, kept, n_steps
            )
            kept_cf[:, lo : lo + kept] = device.to_host(d_kept_cf[: n_strat * kept * n_steps]).reshape(
                n_strat, kept, n_steps
            )
        # Limb sums are exact in int64 for one launch; they are renormalised on the host after each.
        sums.add_limbs(device.sum_replicas(d_hi, sums_shape), device.sum_replicas(d_lo, sums_shape))
        device.fill_zero(d_hi)
        device.fill_zero(d_lo)
        overflow = int(device.to_host(d_overflow)[0])
        if overflow:
            raise overflow_error(overflow)
    result = ChunkResult(
        first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept_result, switch_decision=decisions,
        switch_action=actions,
    )
    stats = RunStats(
        device=device.name(),
        paths=n_paths,
        steps=n_steps,
        launches=launches,
        batch_paths=layout.batch_paths,
        threads_per_block=layout.threads_per_block,
        replicas=layout.replicas,
        device_bytes=layout.device_bytes,
        kernel_seconds=device.kernel_seconds(),
        wall_seconds=time.perf_counter() - started,
    )
    return result, stats


def run_chunk(
    plan: Plan,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    keep_paths: int = 0,
    block_paths: int | None = None,
    policy=None,
) -> ChunkResult:
    """Simulate paths ``first_path .. first_path + n_paths - 1`` on the GPU.

    ``block_paths`` caps the paths per launch (by default launches are sized
    to the card's free memory); results do not depend on it.
    """
    return simulate_chunk(plan, key, first_path, n_paths, keep_paths, batch_paths=block_paths, policy=policy)[0]


def time_draws_only(
    key: tuple[int, int], n_paths: int, n_steps: int, threads_per_block: int = THREADS_PER_BLOCK
) -> float:
    """Kernel seconds of drawing the model's per-step random numbers alone (the fused kernel's floor)."""
    device = CupyDevice()
    batch = min(n_paths, MAX_BATCH_PATHS)
    out = device.empty(batch, np.float64)
    for lo in range(0, n_paths, batch):
        size = min(batch, n_paths - lo)
        args = (np.uint32(key[0]), np.uint32(key[1]), np.uint64(lo), np.int64(size), np.int32(n_steps), out)
        device.launch(DRAWS_KERNEL, 1, -(-size // threads_per_block), threads_per_block, args)
    return device.kernel_seconds()


# --------------------------------------------------------------------------- #
# CuPy
# --------------------------------------------------------------------------- #
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """``None`` when CuPy, a GPU and NVRTC all work; else one sentence saying what is missing.

    The check compiles and runs a one-line kernel once per process.
    """
    try:
        import cupy
    except ImportError:
        return "backend 'cuda' needs CuPy and an NVIDIA GPU: pip install \"pivotmc[gpu]\"."
    except Exception as exc:  # noqa: BLE001 - a broken CuPy install fails in many ways
        return f"backend 'cuda' cannot import CuPy: {_one_line(exc)}."
    try:
        kernel_dir()
    except FileNotFoundError as exc:
        return f"backend 'cuda' cannot find its kernel sources: {_one_line(exc)}."
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver, no device, driver too old ...
        return f"backend 'cuda' found no working NVIDIA GPU: {_one_line(exc)}."
    if count < 1:
        return "backend 'cuda' found no NVIDIA GPU."
    try:
        probe = cupy.RawKernel(PROBE_SOURCE, "pivotmc_probe", options=NVRTC_OPTIONS)
        x = cupy.zeros(1, dtype=cupy.int32)
        probe((1,), (1,), (x,))
        if int(x.get()[0]) != 42:
            return "backend 'cuda' ran a test kernel on the GPU and got a wrong answer."
    except Exception as exc:  # noqa: BLE001 - NVRTC missing, no kernel image for this GPU ...
        return f"backend 'cuda' cannot compile or run a kernel on the GPU: {_one_line(exc)}."
    return None
