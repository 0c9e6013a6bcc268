"""The ``cuda`` backend: CUDA C kernels, compiled by NVRTC and launched through CuPy.

The kernel (``kernels/pivotmc_model.cu``) runs one thread per path: it draws
the path's random numbers in-kernel, advances every factor, values every
strategy, and writes only per-path NPVs, kept trajectories and its share of
the exact per-step sums, which warps reduce on the device (see the kernel's
header comment). The arithmetic is the ``cpu`` backend's, operation by
operation, compiled without fused multiply-add (``--fmad=false``): only the
CUDA math library's log, exp and expm1 (normal tails, capex overrun, partial-
step defaults) may round differently from the C library's, so the two agree
far inside the 1e-9 relative the tests demand, path by path. Built as host C++
for the tests, the same source reproduces the ``cpu`` backend bit for bit.

The ``switch`` strategy applies a policy learned beforehand (by the ``cpu``
backend, see :mod:`pivotmc.policy.switch`) and attached to the plan; the kernel
evaluates it at each decision date on the logs of the path's state and
returns each path's decision. Those logs are CUDA's on a GPU: a path whose
estimated advantage of converting lies within a few ulps of zero could
decide otherwise than on the ``cpu`` backend, a tie of probability zero.

Sources are read from the installed package (``pivotmc/kernels``, shipped in
the wheel) or, in a source checkout, from the top-level ``kernels/`` folder.
The project's headers are inlined into the source text before compilation,
so CuPy's compile cache (keyed by source and options) sees every change. The
random-number layout and the packed-plan layout reach the kernel as ``-D``
options generated from :mod:`pivotmc.random` and :mod:`pivotmc.model.plan`, the one
place that defines each.

Paths are simulated in launches sized to the card's free memory: device
memory holds the plan, the per-step sums and, per launch, one NPV per path
and strategy plus the kept trajectories, never paths x steps of anything.

CuPy is imported only when the backend is used: ``import pivotmc`` and every
other backend work without it.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pivotmc.backends.accumulate import QUANTISED_LIMIT, QUANTUM, ExactSum, overflow_error
from pivotmc.errors import ValidationError
from pivotmc.model.factors import FACTORS, SHOCK_SLOTS
from pivotmc.model.plan import SCALAR_FIELDS, STEP_FIELDS, SWITCH_FEATURES, Plan, ScalarIndex, StepIndex, pack
from pivotmc.backends import KEPT_FACTORS, ChunkResult, KeptPaths

__all__ = [
    "run_chunk",
    "simulate_chunk",
    "unavailable_reason",
    "kernel_dir",
    "kernel_source",
    "layout_defines",
    "rng_defines",
    "math_defines",
    "factor_defines",
    "compile_options",
    "kernel_inputs",
    "switch_inputs",
    "launch_layout",
    "LaunchLayout",
    "RunStats",
    "device_name",
    "time_draws_only",
    "CupyDevice",
]

MODEL_SOURCE = "pivotmc_model.cu"
SIMULATE_KERNEL = "pivotmc_simulate"
DRAWS_KERNEL = "pivotmc_draws_only"
#: Without contraction a*b + c rounds twice, as in Numba and numpy: the kernels
#: then reproduce the cpu backend's arithmetic instead of approximating it.
NVRTC_OPTIONS = ("--fmad=false", "-std=c++14")
#: A kernel that ``unavailable_reason`` compiles and runs to see that the GPU works.
PROBE_SOURCE = 'extern "C" __global__ void pivotmc_probe(int* x) { x[0] = 42; }'
WARP = 32
#: Threads per block; with the register cap below a block may have up to 512.
THREADS_PER_BLOCK = 128
#: Register cap of the model kernel. Uncapped it takes about 250 registers a
#: thread (eight warps an SM); at 128 it spills some 50 bytes to L1 and keeps
#: sixteen warps resident. ``benchmarks/gpu.py --tune`` measures the choice.
MAX_REGISTERS = 128
#: Strategies valued at once, as in the cpu backend (their accumulators live in registers).
MAX_STRATEGIES = 8
#: A launch's limb sums stay exact in int64 below 2**31 paths; this also keeps the
#: NPV buffer of a launch (8 bytes x strategies x paths) to a few hundred MB.
MAX_BATCH_PATHS = 1 << 24
#: Copies of the per-step accumulators, spread over blocks to thin out atomic
#: contention, within this many bytes.
MAX_REPLICAS = 64
REPLICA_BYTES = 32 << 20
#: Share of the free device memory a run may take.
MEMORY_FRACTION = 0.5
#: Lease escalator factors by whole contract year: longer than any horizon (50 years).
GROWTH_TABLE_SIZE = 128

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"(pivotmc_\w+\.cuh)"[^\n]*$', re.MULTILINE)


# --------------------------------------------------------------------------- #
# Sources and compile options (no CuPy needed)
# --------------------------------------------------------------------------- #
def kernel_dir() -> Any:
    """The folder of the CUDA sources: the installed package's, else the checkout's ``kernels/``.

    Returns a :class:`pathlib.Path` (or an importlib resources ``Traversable``
    for a package imported from an archive).

    Raises
    ------
    FileNotFoundError
        Neither place holds the sources.
    """
    packaged = resources.files("pivotmc") / "kernels"
    if packaged.is_dir() and (packaged / MODEL_SOURCE).is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "kernels"
    if (checkout / MODEL_SOURCE).is_file():
        return checkout
    raise FileNotFoundError(f"{MODEL_SOURCE} is neither in the installed package ({packaged}) nor in {checkout}")


def kernel_source(name: str = MODEL_SOURCE) -> str:
    """Text of a kernel source with the project's ``pivotmc_*.cuh`` headers inlined, each once.

    ``#line`` directives keep compiler messages pointing at the original files.
    """
    directory = kernel_dir()
    seen: set[str] = set()

    def expand(file: str) -> str:
        text = (directory / file).read_text(encoding="utf-8")

        def inline(match: re.Match) -> str:
            header = match.group(1)
            resume = f'#line {text.count(chr(10), 0, match.start()) + 2} "{file}"'
            if header in seen:
                return f"/* {header} is inlined above */\n{resume}"
            seen.add(header)
            return f'#line 1 "{header}"\n{expand(header)}\n{resume}'

        return _INCLUDE.sub(inline, text)

    return f'#line 1 "{name}"\n{expand(name)}'


def rng_defines() -> list[str]:
    """``-D`` options of the random numbers (slots, counter words, Philox and AS241 constants), from :mod:`pivotmc.random`.

    Every integer constant :mod:`pivotmc.random` exports becomes ``PIVOTMC_<NAME>``,
    with the C suffix its size needs, and each coefficient of the inverse
    normal's polynomials ``PIVOTMC_AS241_A0`` .. ``_F7``, so the kernels hold
    no copy of either.
    """
    from pivotmc import random as rng

    defines = []
    for name in rng.__all__:
        value = getattr(rng, name)
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        suffix = "" if value < 2**31 else "u" if value < 2**32 else "ull"
        defines.append(f"-DPIVOTMC_{name}={value}{suffix}")
    # The inverse normal's coefficients, one option each (nvcc splits option values at commas); repr gives
    # each double back exactly.
    for name in "ABCDEF":
        defines += [f"-DPIVOTMC_AS241_{name}{i}={float(c)!r}" for i, c in enumerate(getattr(rng.normal, "_" + name))]
    return defines


def math_defines() -> list[str]:
    """``-D`` options of the kernels' exp and log (:mod:`pivotmc.backends.fastmath`, which the Numba kernels use too)."""
    from pivotmc.backends import fastmath

    return [f"-DPIVOTMC_{name}={value!r}" for name, value in fastmath.constants().items()]


def factor_defines() -> list[str]:
    """``-D`` options of the market factors (:mod:`pivotmc.model.factors`): their number, each one's position, and
    the random slot of each one's shock, byte f of ``PIVOTMC_SHOCK_SLOTS`` holding factor f's (one option without
    commas, which nvcc would split at).
    """
    if len(SHOCK_SLOTS) > 8 or max(SHOCK_SLOTS) > 0xFF:
        raise ValueError("the cuda kernels take at most 8 factors, with shocks in slots below 256.")
    packed = sum(slot << (8 * f) for f, slot in enumerate(SHOCK_SLOTS))
    defines = [f"-DPIVOTMC_N_FACTORS={len(FACTORS)}", f"-DPIVOTMC_SHOCK_SLOTS={packed:#x}ull"]
    return defines + [f"-DPIVOTMC_FACTOR_{name}={i}" for i, name in enumerate(FACTORS)]


def layout_defines(n_strategies: int) -> list[str]:
    """``-D`` options giving the kernels the random-number layout, the packed-plan layout, the factors and the number of strategies."""
    defines = rng_defines() + math_defines()
    defines += [f"-DPIVOTMC_QUANTUM={QUANTUM!r}", f"-DPIVOTMC_Q_LIMIT={QUANTISED_LIMIT!r}",
                f"-DPIVOTMC_SWITCH_FEATURES={len(SWITCH_FEATURES)}"]
    defines += [f"-DPIVOTMC_P_{name}={i}" for i, name in enumerate(SCALAR_FIELDS)]
    defines += [f"-DPIVOTMC_T_{name}={i}" for i, name in enumerate(STEP_FIELDS)]
    defines += [f"-DPIVOTMC_KEPT_{name}={i}" for i, name in enumerate(KEPT_FACTORS)]
    defines += factor_defines()
    defines.append(f"-DPIVOTMC_N_STRATEGIES={int(n_strategies)}")
    return defines


def compile_options(n_strategies: int, max_registers: int | None = MAX_REGISTERS) -> tuple[str, ...]:
    """NVRTC options of the model kernels for a plan with ``n_strategies`` strategies."""
    cap = () if max_registers is None else (f"--maxrregcount={int(max_registers)}",)
    return (*NVRTC_OPTIONS, *cap, *layout_defines(n_strategies))


def switch_inputs(plan: Plan) -> dict[str, np.ndarray]:
    """The switch strategy's policy as the kernel reads it (one-element placeholders when switch is not valued).

    ``decision_date[k]`` is the index of the decision date at the start of
    step k, -1 where there is none (the cpu kernel's walk through
    ``plan.decision_steps``); ``centre``, ``scale`` (dates, 3), ``coef``
    (dates, terms) and ``terms`` (terms, 3) are
    :meth:`pivotmc.policy.switch.SwitchPolicy.kernel_arrays`, flattened, the
    exponents as int32.

    Raises
    ------
    ValidationError
        The plan values switch but carries no policy, or one of other dates,
        features or basis.
    """
    if plan.switch_index < 0:
        return {
            "decision_date": np.full(1, -1, dtype=np.int32),
            "centre": np.zeros(1),
            "scale": np.ones(1),
            "coef": np.zeros(1),
            "terms": np.zeros(1, dtype=np.int32),
        }
    if plan.switch_policy is None:
        raise ValidationError(
            "the plan values switch but carries no policy: attach one with pivotmc.policy.switch.attach_policy."
        )
    if getattr(plan.switch_policy.stopping, "basis", "polynomial") != "polynomial":
        raise ValidationError("the cuda backend evaluates switch policies on a polynomial basis only.")
    centre, scale, coef, terms = plan.switch_policy.kernel_arrays()
    n_dates, n_features = plan.decision_steps.size, len(SWITCH_FEATURES)
    if (
        centre.shape != (n_dates, n_features)
        or scale.shape != (n_dates, n_features)
        or coef.ndim != 2
        or coef.shape[0] != n_dates
        or coef.shape[1] < 1
        or terms.shape != (coef.shape[1], n_features)
    ):
        raise ValidationError(
            f"the plan's switch policy does not fit its {n_dates} decision dates and {n_features} features: "
            "learn it again with pivotmc.policy.switch.attach_policy."
        )
    decision_date = np.full(plan.n_steps, -1, dtype=np.int32)
    next_date = 0
    for k in range(plan.n_steps):
        if next_date < n_dates and int(plan.decision_steps[next_date]) == k:
            decision_date[k] = next_date
            next_date += 1
    return {
        "decision_date": decision_date,
        "centre": np.ascontiguousarray(centre.ravel()),
        "scale": np.ascontiguousarray(scale.ravel()),
        "coef": np.ascontiguousarray(coef.ravel()),
        "terms": np.ascontiguousarray(terms.ravel(), dtype=np.int32),
    }


def kernel_inputs(plan: Plan) -> dict[str, np.ndarray]:
    """The plan as the kernel reads it: the packed arrays, two host-computed tables and the switch policy.

    ``growth_pow[i] = (1 + escalator) ** i`` and ``p_default_full[k]``, the
    default probability over a whole step, are computed here with the C
    library, as the cpu backend computes them, so that the common case of the
    lease does not depend on the device's ``pow`` and ``expm1``. The switch
    policy's arrays are those of :func:`switch_inputs`.

    Raises
    ------
    ValidationError
        The plan values switch but carries no policy (see :func:`switch_inputs`).
    """
    switch = switch_inputs(plan)
    packed = pack(plan)
    growth = 1.0 + float(packed.scalars[ScalarIndex.lease_escalator])
    hazard = float(packed.scalars[ScalarIndex.default_hazard])
    t_start = packed.steps[StepIndex.t_start]
    t_end = packed.steps[StepIndex.t_end]
    return {
        "scalars": packed.scalars,
        "steps": packed.steps,
        "chol": np.ascontiguousarray(packed.chol.ravel()),
        "jump_cdf": packed.btc_jump_cdf,
        "spike_cdf": packed.power_spike_cdf,
        "share": packed.conversion_share,
        "exit_multiple": packed.exit_multiple,
        "growth_pow": np.array([growth ** float(i) for i in range(GROWTH_TABLE_SIZE)]),
        "p_default_full": np.array([-math.expm1(-hazard * float(step)) for step in t_end - t_start]),
        **switch,
    }


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
) -> LaunchLayout:
    """Size the launches of a chunk to a share of ``free_bytes`` of device memory.

    ``switch_dates`` and ``switch_terms`` are the shape of the switch policy
    (0 when the plan does not value switch, which then costs no memory per path).

    Raises
    ------
    ValidationError
        Not even one path fits, or ``threads_per_block`` is not a whole number of warps.
    """
    if threads_per_block % WARP or not WARP <= threads_per_block <= 1024:
        raise ValidationError(f"threads_per_block = {threads_per_block} must be a multiple of {WARP} up to 1024.")
    budget = int(free_bytes * MEMORY_FRACTION)
    sums_row = 2 * 8 * n_strategies * n_steps  # hi and lo limbs of one replica
    replicas = int(np.clip(REPLICA_BYTES // max(sums_row, 1), 1, MAX_REPLICAS))
    plan_bytes = 8 * (
        len(SCALAR_FIELDS) + (len(STEP_FIELDS) + 1) * n_steps + 64 + GROWTH_TABLE_SIZE + 2 * MAX_STRATEGIES
    )
    switch = switch_dates > 0
    n_features = len(SWITCH_FEATURES)
    if switch:  # the decision date of each step, the policy; one int16 decision per path
        policy_bytes = 4 * n_steps + 8 * switch_dates * (2 * n_features + switch_terms) + 4 * n_features * switch_terms
    else:  # one-element placeholders, and one for the decisions
        policy_bytes = 4 + 3 * 8 + 4 + 2
    fixed = replicas * sums_row + plan_bytes + policy_bytes + 8 + 2 * 8  # the overflow counter, floor output
    kept_row = 8 * (len(KEPT_FACTORS) + n_strategies) * n_steps
    npv_path = 8 * n_strategies + (2 if switch else 0)
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
# The run, written against a small device interface
# --------------------------------------------------------------------------- #
class Device(Protocol):
    """What :func:`simulate_chunk` needs from a device (CuPy here; a host shim in the tests)."""

    def free_bytes(self) -> int: ...
    def to_device(self, array: np.ndarray) -> Any: ...
    def zeros(self, size: int, dtype: Any) -> Any: ...
    def empty(self, size: int, dtype: Any) -> Any: ...
    def launch(self, kernel: str, n_strategies: int, grid: int, block: int, args: tuple) -> None: ...
    def to_host(self, array: Any, out: np.ndarray | None = None) -> np.ndarray: ...
    def sum_replicas(self, array: Any, shape: tuple[int, int, int]) -> np.ndarray: ...
    def fill_zero(self, array: Any) -> None: ...
    def kernel_seconds(self) -> float: ...
    def name(self) -> str: ...


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
    -1 never) where the plan values switch, whose policy it must then carry
    (:func:`pivotmc.policy.switch.attach_policy`).

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
    host_inputs = kernel_inputs(plan)  # first: a switch without a policy is refused before the device is touched
    device = device if device is not None else CupyDevice()
    switch = plan.switch_index >= 0
    n_terms = int(host_inputs["terms"].size // len(SWITCH_FEATURES)) if switch else 0
    n_dates = int(plan.decision_steps.size) if switch else 0
    kept_result, kept_factors = KeptPaths.allocate(first_path, n_paths, keep_paths, n_strat, n_steps)
    kept_cf = kept_result.cash_flow
    n_kept = kept_result.paths.size
    layout = launch_layout(
        n_paths, n_kept, n_strat, n_steps, device.free_bytes(), batch_paths, threads_per_block, n_dates, n_terms
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
    d_overflow = device.zeros(1, np.uint64)

    npv = np.empty((n_strat, n_paths))
    decisions = np.empty(n_paths, dtype=np.int16) if switch else None
    sums = ExactSum((n_strat, n_steps))
    key0, key1 = (int(k) for k in key)
    launches = 0
    for lo, size, kept in layout.batches(n_paths, n_kept):
        grid = -(-size // layout.threads_per_block)
        args = (
            inputs["scalars"], inputs["steps"], inputs["chol"],
            inputs["jump_cdf"], np.int32(inputs["jump_cdf"].size),
            inputs["spike_cdf"], np.int32(inputs["spike_cdf"].size),
            inputs["share"], inputs["exit_multiple"],
            inputs["growth_pow"], np.int32(GROWTH_TABLE_SIZE), inputs["p_default_full"],
            np.int32(plan.switch_index), inputs["decision_date"], inputs["centre"], inputs["scale"],
            inputs["coef"], inputs["terms"], np.int32(n_terms),
            np.uint32(key0), np.uint32(key1), np.uint64(first_path + lo), np.int64(size), np.int32(n_steps),
            np.int64(kept), np.int32(layout.replicas),
            d_npv, d_hi, d_lo, d_kept_factors, d_kept_cf, d_switch, d_overflow,
        )  # fmt: skip
        device.launch(SIMULATE_KERNEL, n_strat, grid, layout.threads_per_block, args)
        launches += 1
        for s in range(n_strat):
            device.to_host(d_npv[s * size : (s + 1) * size], out=npv[s, lo : lo + size])
        if decisions is not None:
            device.to_host(d_switch[:size], out=decisions[lo : lo + size])
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
        first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept_result, switch_decision=decisions
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
) -> ChunkResult:
    """Simulate paths ``first_path .. first_path + n_paths - 1`` on the GPU.

    ``block_paths`` caps the paths per launch (by default launches are sized
    to the card's free memory); results do not depend on it.
    """
    return simulate_chunk(plan, key, first_path, n_paths, keep_paths, batch_paths=block_paths)[0]


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


@functools.lru_cache(maxsize=None)
def raw_module(source: str = MODEL_SOURCE, n_strategies: int = 1, max_registers: int | None = MAX_REGISTERS) -> Any:
    """The CuPy ``RawModule`` of a kernel source; compiled on first use, and cached on disk by CuPy."""
    import cupy

    options = compile_options(n_strategies, max_registers)
    return cupy.RawModule(code=kernel_source(source), options=options, backend="nvrtc")


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

    def zeros(self, size: int, dtype: Any) -> Any:
        return self._cp.zeros(size, dtype=dtype)

    def empty(self, size: int, dtype: Any) -> Any:
        return self._cp.empty(size, dtype=dtype)

    def launch(self, kernel: str, n_strategies: int, grid: int, block: int, args: tuple) -> None:
        function = raw_module(MODEL_SOURCE, n_strategies, self._max_registers).get_function(kernel)
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
