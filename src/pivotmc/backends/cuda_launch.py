"""How the ``cuda`` backend feeds its kernel: the plan's arrays, the kernel's records, launch sizing, devices.

Paths are simulated in launches sized to the card's free memory: device
memory holds the plan, the per-step sums and, per launch, one NPV per path
and strategy plus the kept trajectories, never paths x steps of anything.
The kernel takes the plan, the switch policy and its outputs as three records
(C structs of device pointers passed by value, numpy structured scalars on
this side: :data:`PLAN_RECORD`, :data:`POLICY_RECORD`, :data:`OUTPUTS_RECORD`),
then the number of steps as a plain argument (it spills fewer registers than
the same number in the plan record), the launch's numbers, and last the plan's
constants (scalars, correlation factor, strategies' shares) as a record of
values (:func:`constants_record`), which the kernel reads from its constant
bank instead of holding them in registers.
A :class:`Device` is what the run needs from a GPU: CuPy's
(:class:`CupyDevice`), or the tests' host shim.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from pivotmc.backends import KEPT_FACTORS, policy_kernel_arrays
from pivotmc.backends.cuda_build import MAX_REGISTERS, MODEL_SOURCE, raw_module
from pivotmc.backends.kernel_constants import GROWTH_TABLE_SIZE, MAX_STRATEGIES, WARP_SIZE
from pivotmc.errors import ValidationError
from pivotmc.model.factors import FACTORS
from pivotmc.model.plan import (
    CLOUD_FEATURES, SCALAR_FIELDS, STEP_FIELDS, SWITCH_FEATURES, Plan, ScalarIndex, StepIndex, pack,
)  # fmt: skip

__all__ = [
    "THREADS_PER_BLOCK", "MAX_BATCH_PATHS", "MAX_REPLICAS", "REPLICA_BYTES", "MEMORY_FRACTION",
    "switch_inputs", "kernel_features", "policy_sizes", "kernel_inputs", "constants_dtype", "constants_record",
    "LaunchLayout", "launch_layout", "PLAN_ARRAYS", "POLICY_ARRAYS", "POLICY_SIZES", "PLAN_RECORD", "POLICY_RECORD",
    "OUTPUTS_RECORD", "record", "Device", "CupyDevice", "device_name",
]  # fmt: skip

#: Threads per block; with the register cap a block may have up to 512.
THREADS_PER_BLOCK = 128
#: A launch's limb sums stay exact in int64 below 2**31 paths; this also keeps the
#: NPV buffer of a launch (8 bytes x strategies x paths) to a few hundred MB.
MAX_BATCH_PATHS = 1 << 24
#: Copies of the per-step accumulators, spread over blocks to thin out atomic
#: contention, within this many bytes.
MAX_REPLICAS = 64
REPLICA_BYTES = 32 << 20
#: Share of the free device memory a run may take.
MEMORY_FRACTION = 0.5


# --------------------------------------------------------------------------- #
# The plan as the kernel reads it (no CuPy needed)
# --------------------------------------------------------------------------- #
def switch_inputs(plan: Plan, policy=None) -> dict[str, np.ndarray]:
    """The switch strategy's policy as the kernel reads it (one-element placeholders when switch is not valued).

    ``decision_date[k]`` is the index of the decision date at the start of
    step k, -1 where there is none (the cpu kernel's walk through
    ``plan.decision_steps``); ``centre``, ``scale`` (dates, features), ``coef``
    (actions, dates, terms) and ``terms`` (terms, features) are
    :meth:`pivotmc.policy.switch.SwitchPolicy.kernel_arrays`, flattened, the
    exponents as int32, with ``features = len(plan.switch_features)``. Action
    ``a`` is ``plan.switch_actions[a]``; a policy of one action may give its
    coefficients as (dates, terms).

    Raises
    ------
    ValidationError
        The plan values switch but no policy is given, or one of other dates,
        features, actions or basis.
    """
    if plan.switch_index < 0:
        return {
            "decision_date": np.full(1, -1, dtype=np.int32),
            "centre": np.zeros(1),
            "scale": np.ones(1),
            "coef": np.zeros(1),
            "terms": np.zeros(1, dtype=np.int32),
        }
    centre, scale, coef, terms = policy_kernel_arrays(plan, policy)
    n_dates = plan.decision_steps.size
    if len(plan.switch_features) != kernel_features(plan):  # pragma: no cover - the model gives cloud plans the three-way switch
        raise ValidationError(f"the cuda backend's kernel takes {kernel_features(plan)} switch features for this plan.")
    decision_date = np.full(plan.n_steps, -1, dtype=np.int32)
    next_date = 0
    for k in range(plan.n_steps):
        if next_date < n_dates and int(plan.decision_steps[next_date]) == k:
            decision_date[k] = next_date
            next_date += 1
    return {
        "decision_date": decision_date,
        "centre": np.ascontiguousarray(centre.ravel(), dtype=np.float64),
        "scale": np.ascontiguousarray(scale.ravel(), dtype=np.float64),
        "coef": np.ascontiguousarray(coef.ravel(), dtype=np.float64),
        "terms": np.ascontiguousarray(terms.ravel(), dtype=np.int32),
    }


def kernel_features(plan: Plan) -> int:
    """The number of switch features the plan's kernel is compiled for: the three-way switch's where the
    plan values cloud (:attr:`~pivotmc.model.plan.Plan.values_cloud`), the two-way switch's otherwise."""
    return len(SWITCH_FEATURES) + (len(CLOUD_FEATURES) if plan.values_cloud else 0)


def policy_sizes(plan: Plan, inputs: dict[str, np.ndarray]) -> dict[str, int]:
    """The integers of the kernel's policy record for the arrays of :func:`switch_inputs` (``inputs``).

    ``n_terms`` and ``n_actions`` (0 without switch), ``action_stride`` (dates x terms: one action's
    coefficients) and ``cloud_action``, the position of cloud among the plan's actions (-1 where the
    switch cannot convert to it, or its policy knows fewer actions).
    """
    if plan.switch_index < 0:
        return {"switch_index": plan.switch_index, "n_terms": 0, "n_actions": 0, "action_stride": 0, "cloud_action": -1}
    n_terms = inputs["terms"].size // len(plan.switch_features)
    stride = plan.decision_steps.size * n_terms
    n_actions = inputs["coef"].size // stride
    cloud = plan.switch_actions.index("cloud") if plan.switch_cloud else -1
    return {
        "switch_index": plan.switch_index, "n_terms": n_terms, "n_actions": n_actions, "action_stride": stride,
        "cloud_action": cloud if cloud < n_actions else -1,
    }  # fmt: skip


def kernel_inputs(plan: Plan, policy=None) -> dict[str, np.ndarray]:
    """The plan's arrays as the kernel reads them, three host-computed tables and the switch policy.

    ``growth_pow[i] = (1 + escalator) ** i``, ``p_default_full[k]`` and
    ``p_cloud_default_full[k]``, the default probabilities of a lease and of a
    compute contract over a whole step, and ``cloud_aging_full[k]``, the
    fleet's aging integral over a whole step without its first factor
    (``-expm1(-aging dt) / aging``), are computed here with the C library, as
    the cpu backend computes them, so that the common case of the lease and of
    the fleet does not depend on the device's ``pow`` and ``expm1``. The
    switch policy's arrays are those of :func:`switch_inputs`. The plan's scalars, the Cholesky factor
    and the strategies' shares are in :func:`constants_record`.

    Raises
    ------
    ValidationError
        The plan values switch but no policy is given (see :func:`switch_inputs`).
    """
    switch = switch_inputs(plan, policy)
    packed = pack(plan)
    growth = 1.0 + float(packed.scalars[ScalarIndex.lease_escalator])
    hazard = float(packed.scalars[ScalarIndex.default_hazard])
    cloud_hazard = float(packed.scalars[ScalarIndex.cloud_hazard])
    aging = float(packed.scalars[ScalarIndex.gpu_aging])
    t_start = packed.steps[StepIndex.t_start]
    t_end = packed.steps[StepIndex.t_end]
    return {
        "steps": packed.steps,
        "jump_cdf": packed.btc_jump_cdf,
        "spike_cdf": packed.power_spike_cdf,
        "exit_multiple": packed.exit_multiple,
        "growth_pow": np.array([growth ** float(i) for i in range(GROWTH_TABLE_SIZE)]),
        "p_default_full": np.array([-math.expm1(-hazard * float(step)) for step in t_end - t_start]),
        "p_cloud_default_full": np.array([-math.expm1(-cloud_hazard * float(step)) for step in t_end - t_start]),
        "cloud_aging_full": np.array(
            [-math.expm1(-aging * float(step)) / aging if aging != 0.0 else float(step) for step in t_end - t_start]
        ),
        **switch,
    }


def constants_dtype(n_strategies: int) -> np.dtype:
    """The numpy layout of ``pivotmc_constants`` for a plan of ``n_strategies`` strategies."""
    n_factors = len(FACTORS)
    return np.dtype(
        [("scalars", np.float64, (len(SCALAR_FIELDS),)), ("chol", np.float64, (n_factors * n_factors,)),
         ("share", np.float64, (n_strategies,)), ("cloud_share", np.float64, (n_strategies,))],
        align=True,
    )  # fmt: skip


def constants_record(plan: Plan) -> np.void:
    """The kernel's ``pivotmc_constants``, passed by value: the packed plan's scalars, the Cholesky factor
    (row-major) and each strategy's shares of the grid converted to hosting and to cloud."""
    packed = pack(plan)
    out = np.zeros((), dtype=constants_dtype(plan.n_strategies))
    out["scalars"] = packed.scalars
    out["chol"] = packed.chol.ravel()
    out["share"] = packed.conversion_share
    out["cloud_share"] = packed.cloud_share
    return out[()]


# --------------------------------------------------------------------------- #
# Launch sizing (no CuPy needed)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class LaunchLayout:
    """How a chunk is cut into launches, and the device memory that takes."""

    batch_paths: int  # paths per launch at most
    kept_rows: int  # rows of the kept-trajectory buffers
    replicas: int  # copies of the (strategies, steps) limb accumulators
    threads_per_block: int
    device_bytes: int  # everything the run allocates on the device

    def batches(self, n_paths: int, n_kept: int) -> Iterator[tuple[int, int, int]]:
        """``(offset, paths, kept paths)`` of each launch; kept paths come first in a chunk."""
        lo = 0
        while lo < n_paths:
            size = min(self.batch_paths, n_paths - lo)
            if n_kept - lo > self.kept_rows:
                size = min(size, self.kept_rows)
            kept = int(np.clip(n_kept - lo, 0, size))
            yield lo, size, kept
            lo += size


def launch_layout(
    n_paths: int,
    n_kept: int,
    n_strategies: int,
    n_steps: int,
    free_bytes: int,
    batch_paths: int | None = None,
    threads_per_block: int = THREADS_PER_BLOCK,
    switch_dates: int = 0,
    switch_terms: int = 0,
    switch_actions: int = 1,
    switch_features: int = len(SWITCH_FEATURES),
) -> LaunchLayout:
    """Size the launches of a chunk to a share of ``free_bytes`` of device memory.

    ``switch_dates``, ``switch_terms``, ``switch_actions`` and ``switch_features`` are the shape of
    the switch policy (no dates when the plan does not value switch, which then costs no memory per path).

    Raises
    ------
    ValidationError
        Not even one path fits, or ``threads_per_block`` is not a whole number of warps.
    """
    if threads_per_block % WARP_SIZE or not WARP_SIZE <= threads_per_block <= 1024:
        raise ValidationError(f"threads_per_block = {threads_per_block} must be a multiple of {WARP_SIZE} up to 1024.")
    budget = int(free_bytes * MEMORY_FRACTION)
    sums_row = 2 * 8 * n_strategies * n_steps  # hi and lo limbs of one replica
    replicas = int(np.clip(REPLICA_BYTES // max(sums_row, 1), 1, MAX_REPLICAS))
    plan_bytes = 8 * ((len(STEP_FIELDS) + 3) * n_steps + 64 + GROWTH_TABLE_SIZE + MAX_STRATEGIES)
    switch = switch_dates > 0
    n_features = switch_features
    if switch:  # the decision date of each step, the policy; an int16 decision and an int8 action per path
        policy_bytes = (
            4 * n_steps + 8 * switch_dates * (2 * n_features + switch_actions * switch_terms)
            + 4 * n_features * switch_terms
        )
    else:  # one-element placeholders, and one for the decisions and one for the actions
        policy_bytes = 4 + 3 * 8 + 4 + 2 + 1
    fixed = replicas * sums_row + plan_bytes + policy_bytes + 8 + 2 * 8  # the overflow counter, floor output
    kept_row = 8 * (len(KEPT_FACTORS) + n_strategies) * n_steps
    npv_path = 8 * n_strategies + (3 if switch else 0)
    kept_rows = 0
    if n_kept > 0:  # kept trajectories may take a quarter of what is left
        kept_rows = int(min(n_kept, max(1, (budget - fixed) // 4 // kept_row)))
    batch = min(max(n_paths, 1), MAX_BATCH_PATHS, (budget - fixed - kept_rows * kept_row) // npv_path)
    if batch_paths is not None:
        batch = min(batch, int(batch_paths))
    if batch < 1:
        raise ValidationError(
            f"the GPU has {free_bytes / 2**20:.0f} MiB free, too little for even one path of this scenario "
            f"({n_steps} steps, {n_kept} kept paths)."
        )
    kept_rows = min(kept_rows, batch) if n_kept > 0 else 0
    device_bytes = fixed + kept_rows * kept_row + batch * npv_path
    return LaunchLayout(int(batch), int(kept_rows), replicas, threads_per_block, int(device_bytes))


# --------------------------------------------------------------------------- #
# The kernel's records: structs of device pointers passed by value
# --------------------------------------------------------------------------- #
def _record(pointers: tuple[str, ...], ints: tuple[str, ...]) -> np.dtype:
    """The numpy layout of a C struct of ``pointers`` (64-bit addresses) then ``ints`` (int32), in that order."""
    return np.dtype([(name, np.uint64) for name in pointers] + [(name, np.int32) for name in ints], align=True)


PLAN_ARRAYS = (
    "steps", "jump_cdf", "spike_cdf", "exit_multiple", "growth_pow", "p_default_full", "p_cloud_default_full",
    "cloud_aging_full",
)  # fmt: skip
POLICY_ARRAYS = ("decision_date", "centre", "scale", "coef", "terms")
POLICY_SIZES = ("switch_index", "n_terms", "n_actions", "action_stride", "cloud_action")
#: ``pivotmc_plan``: the packed plan and the host-computed tables (the number of steps is the kernel's argument).
PLAN_RECORD = _record(PLAN_ARRAYS, ("n_jump_cdf", "n_spike_cdf", "n_growth"))
#: ``pivotmc_policy``: the switch strategy's position and policy (:func:`policy_sizes`).
POLICY_RECORD = _record(POLICY_ARRAYS, POLICY_SIZES)
#: ``pivotmc_outputs``: what a launch writes.
OUTPUTS_RECORD = _record(
    ("npv", "sums_hi", "sums_lo", "kept_factors", "kept_cf", "switch_out", "action_out", "overflow"), ()
)


def record(dtype: np.dtype, values: dict[str, Any], device: Device) -> np.void:
    """A kernel record: device arrays become their addresses, numbers are stored as the field's type."""
    if set(values) != set(dtype.names):
        raise ValueError(f"a {dtype.names} record, given {sorted(values)}")
    out = np.zeros((), dtype=dtype)
    for name in dtype.names:
        value = values[name]
        out[name] = value if isinstance(value, (int, np.integer)) else device.address(value)
    return out[()]


# --------------------------------------------------------------------------- #
# Devices
# --------------------------------------------------------------------------- #
class Device(Protocol):
    """What :func:`simulate_chunk` needs from a device (CuPy here; a host shim in the tests)."""

    def free_bytes(self) -> int: ...
    def address(self, array: Any) -> int: ...
    def to_device(self, array: np.ndarray) -> Any: ...
    def zeros(self, size: int, dtype: Any) -> Any: ...
    def empty(self, size: int, dtype: Any) -> Any: ...
    def launch(
        self, kernel: str, n_strategies: int, grid: int, block: int, args: tuple, cloud: bool = False
    ) -> None: ...
    def to_host(self, array: Any, out: np.ndarray | None = None) -> np.ndarray: ...
    def sum_replicas(self, array: Any, shape: tuple[int, int, int]) -> np.ndarray: ...
    def fill_zero(self, array: Any) -> None: ...
    def kernel_seconds(self) -> float: ...
    def name(self) -> str: ...


def device_name() -> str:
    """Name of the current CUDA device."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


class CupyDevice:
    """:class:`Device` on the current GPU; kernel times come from CUDA events around each launch."""

    def __init__(self, max_registers: int | None = MAX_REGISTERS) -> None:
        import cupy

        self._cp = cupy
        self._max_registers = max_registers
        self._events: list[tuple[Any, Any]] = []

    def free_bytes(self) -> int:
        free, _total = self._cp.cuda.runtime.memGetInfo()
        return int(free) + int(self._cp.get_default_memory_pool().free_bytes())

    def to_device(self, array: np.ndarray) -> Any:
        return self._cp.asarray(array)

    def address(self, array: Any) -> int:
        return int(array.data.ptr)

    def zeros(self, size: int, dtype: Any) -> Any:
        return self._cp.zeros(size, dtype=dtype)

    def empty(self, size: int, dtype: Any) -> Any:
        return self._cp.empty(size, dtype=dtype)

    def launch(self, kernel: str, n_strategies: int, grid: int, block: int, args: tuple, cloud: bool = False) -> None:
        function = raw_module(MODEL_SOURCE, n_strategies, self._max_registers, cloud).get_function(kernel)
        start, stop = self._cp.cuda.Event(), self._cp.cuda.Event()
        start.record()
        function((grid,), (block,), args)
        stop.record()
        self._events.append((start, stop))

    def to_host(self, array: Any, out: np.ndarray | None = None) -> np.ndarray:
        return array.get(out=out) if out is not None else array.get()

    def sum_replicas(self, array: Any, shape: tuple[int, int, int]) -> np.ndarray:
        return array.view(self._cp.int64).reshape(shape).sum(axis=0).get()

    def fill_zero(self, array: Any) -> None:
        array.fill(0)

    def kernel_seconds(self) -> float:
        if not self._events:
            return 0.0
        self._events[-1][1].synchronize()
        return sum(self._cp.cuda.get_elapsed_time(a, b) for a, b in self._events) / 1000.0

    def name(self) -> str:
        return device_name()
