"""Building and running the CUDA kernels without a GPU, for the tests.

* ``nvcc -ptx`` compiles a kernel file for an architecture (code generation
  checked, no device needed);
* :func:`nvrtc_compile` hands a source text to NVRTC itself (the library
  CuPy uses) through ctypes, when ``libnvrtc`` can be found (a CUDA toolkit,
  or the ``nvidia-cuda-nvrtc-cu12`` wheel);
* :func:`build_shim` compiles a kernel as host C++ with ``cuda_shim.h`` into a
  shared library for ctypes; :class:`ShimDevice` runs the ``cuda`` backend's
  own driver (:func:`pivotmc.backends.cuda.simulate_chunk`) on it.

Contraction is off in every build (nvcc/NVRTC ``--fmad=false``, g++
``-ffp-contract=off``), as in the backend: a fused multiply-add rounds once
where Numba and numpy round twice.
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from pivotmc.backends import cuda

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
KERNELS = ROOT / "kernels"
KERNEL_SOURCES = sorted(KERNELS.glob("*.cu"))
KERNEL_FILES = KERNEL_SOURCES + sorted(KERNELS.glob("*.cuh"))

NVCC_FLAGS = ["-ptx", "--fmad=false", "-I", str(KERNELS)]
GXX_FLAGS = ["-O2", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-I", str(KERNELS)]


def nvcc_ptx(
    source: Path, out: Path, arch: str = "sm_90", n_strategies: int = 3, cloud: bool = False
) -> tuple[str, str]:
    """Compile ``source`` to PTX with nvcc; return (PTX text, stderr). Asserts success."""
    nvcc = shutil.which("nvcc")
    assert nvcc is not None
    proc = subprocess.run(
        [nvcc, *NVCC_FLAGS, f"-arch={arch}", *cuda.layout_defines(n_strategies, cloud), "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_text(), proc.stderr


def ptxas_usage(
    folder: Path, n_strategies: int, cloud: bool, max_registers: int | None = cuda.MAX_REGISTERS, arch: str = "sm_90"
) -> dict[str, int]:
    """Registers, stack frame and spill bytes a thread of the model kernel takes, as ptxas reports them.

    The kernel is compiled as the backend compiles it (the expanded source and its options, the
    register cap included) by nvcc to machine code for ``arch``; ``benchmarks/gpu.py`` prints the
    same figures from the driver on a GPU.
    """
    import re

    nvcc = shutil.which("nvcc")
    assert nvcc is not None
    source = Path(folder) / "pivotmc_model_expanded.cu"
    source.write_text(cuda.kernel_source())
    options = [o for o in cuda.compile_options(n_strategies, max_registers, cloud) if not o.startswith("-std=")]
    options = [o.replace("--maxrregcount=", "-maxrregcount=") for o in options]
    proc = subprocess.run(
        [nvcc, "-cubin", f"-arch={arch}", "-Xptxas", "-v", *options, "-o", str(source.with_suffix(".cubin")),
         str(source)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = proc.stderr[proc.stderr.index(f"Compiling entry function '{cuda.SIMULATE_KERNEL}'") :]
    frame, stores, loads = (int(x) for x in re.search(
        r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", text).groups())  # fmt: skip
    registers = int(re.search(r"Used (\d+) registers", text).group(1))
    return {"registers": registers, "stack_frame": frame, "spill_stores": stores, "spill_loads": loads}


def build_shim(cpp: Path, out: Path, defines: list[str] | None = None) -> Path:
    """Compile a host-shim translation unit into a shared library (default defines: the RNG layout). Asserts success."""
    gxx = shutil.which("g++")
    assert gxx is not None
    defines = cuda.rng_defines() if defines is None else defines
    proc = subprocess.run(
        [gxx, *GXX_FLAGS, *defines, "-o", str(out), str(cpp)], capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return out


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of doubles between `a` and `b` (0 where both are the same NaN or inf)."""
    ia = np.asarray(a, dtype=np.float64).view(np.int64)
    ib = np.asarray(b, dtype=np.float64).view(np.int64)
    # Map the sign-magnitude bit patterns onto a monotonic integer line.
    oa = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)
    ob = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    with np.errstate(over="ignore"):
        d = np.abs(oa - ob)
    both_nan = np.isnan(a) & np.isnan(b)
    return np.where(both_nan, 0, d)


# --------------------------------------------------------------------------
# NVRTC through ctypes
# --------------------------------------------------------------------------


def find_nvrtc() -> str | None:
    """Path of a loadable libnvrtc, or None."""
    candidates = []
    for env in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(env):
            candidates += glob.glob(os.path.join(os.environ[env], "lib64", "libnvrtc.so*"))
    nvcc = shutil.which("nvcc")
    if nvcc:
        real = Path(nvcc).resolve().parent.parent
        candidates += glob.glob(str(real / "lib64" / "libnvrtc.so*"))
        candidates += glob.glob(str(real / "targets" / "*" / "lib" / "libnvrtc.so*"))
    for site in sys.path:
        candidates += glob.glob(os.path.join(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*"))
        candidates += glob.glob(os.path.join(site, "nvidia", "cu*", "lib", "libnvrtc.so*"))
    for path in candidates:
        if ".alt." in path or "builtins" in path:
            continue
        try:
            ctypes.CDLL(path)
        except OSError:
            continue
        return path
    return None


#: What CuPy adds to a RawModule's options (besides the architecture).
CUPY_NVRTC_OPTIONS = ("--device-as-default-execution-space",)


def nvrtc_compile(library: str, code: str, options: tuple[str, ...], arch: str = "compute_90") -> tuple[int, str, str]:
    """Compile ``code`` with NVRTC; return (result code, log, PTX or "" when ``arch`` is an ``sm_`` target).

    ``sm_XX`` makes NVRTC go on to machine code, as CuPy has it do, register
    allocation (and the register cap) included.
    """
    lib = ctypes.CDLL(library)
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), b"pivotmc.cu", 0, None, None)
    assert rc == 0, f"nvrtcCreateProgram failed: {rc}"
    try:
        opts = [o.encode() for o in (*options, f"--gpu-architecture={arch}")]
        array = (ctypes.c_char_p * len(opts))(*opts)
        rc = lib.nvrtcCompileProgram(prog, len(opts), array)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        ptx = ""
        if rc == 0 and arch.startswith("compute_"):
            lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
            buf = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetPTX(prog, buf)
            ptx = buf.value.decode()
        return rc, log.value.decode(errors="replace"), ptx
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


# --------------------------------------------------------------------------
# The cuda backend's driver on the host shim
# --------------------------------------------------------------------------


def _c_arg(value, keep: list):
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    if isinstance(value, np.void):  # a record passed by value: the shim's launcher takes its address
        copy = np.array(value)
        keep.append(copy)
        return ctypes.c_void_p(copy.ctypes.data)
    converters = {
        np.int32: ctypes.c_int32,
        np.uint32: ctypes.c_uint32,
        np.int64: ctypes.c_int64,
        np.uint64: ctypes.c_uint64,
    }
    return converters[type(value)](int(value))


class ShimDevice:
    """:class:`pivotmc.backends.cuda.Device` on host memory, running the shim build of the kernels.

    ``libraries(n_strategies, cloud)`` is the shared library compiled with
    that ``PIVOTMC_N_STRATEGIES`` and ``PIVOTMC_CLOUD`` (see :func:`build_shim`).
    """

    def __init__(self, libraries, free_bytes: int = 1 << 30) -> None:
        self._libraries = libraries
        self._free = free_bytes
        self.launches: list[tuple[str, int, int]] = []

    def free_bytes(self) -> int:
        return self._free

    def to_device(self, array):
        return np.ascontiguousarray(array).copy()

    def address(self, array):
        return array.ctypes.data

    def zeros(self, size, dtype):
        return np.zeros(size, dtype=dtype)

    def empty(self, size, dtype):
        # Garbage, as on a GPU: a kernel that forgets to write shows up.
        if np.dtype(dtype) == np.float64:
            return np.full(size, np.nan)
        return np.full(size, np.int64(0xDEAD).astype(dtype), dtype=dtype)  # wraps where the type is narrower

    def launch(self, kernel, n_strategies, grid, block, args, cloud=False):
        library = self._libraries(n_strategies, cloud)
        function = getattr(library, f"run_{kernel}")
        function.restype = None
        keep: list = []
        function(ctypes.c_uint32(grid), ctypes.c_uint32(block), *[_c_arg(a, keep) for a in args])
        self.launches.append((kernel, grid, block))

    def to_host(self, array, out=None):
        if out is None:
            return np.array(array)
        out[...] = array
        return out

    def sum_replicas(self, array, shape):
        return array.view(np.int64).reshape(shape).sum(axis=0)

    def fill_zero(self, array):
        array[...] = 0

    def kernel_seconds(self):
        return 0.0

    def name(self):
        return "host shim"


# --------------------------------------------------------------------------
# A switch policy with one regression per action
# --------------------------------------------------------------------------


class PerActionStopping:
    """Per decision date, one polynomial regression of each action's gain on the same scaled features.

    ``advantages`` is what the reference executor's ``decide`` asks of a policy (paths, actions);
    a NaN row of ``coefficients[a, date]`` means action ``a`` is never taken at that date.
    """

    basis = "polynomial"

    def __init__(self, policies) -> None:
        first = policies[0]
        for p in policies[1:]:
            assert p.terms == first.terms
            np.testing.assert_array_equal(p.centre, first.centre)
            np.testing.assert_array_equal(p.scale, first.scale)
        self.policies = list(policies)
        self.terms = first.terms
        self.centre = first.centre
        self.scale = first.scale
        # (actions, dates, n_terms): each policy's one row, (dates, n_terms) or (1, dates, n_terms).
        self.coefficients = np.stack([np.asarray(p.coefficients).reshape(p.coefficients.shape[-2:]) for p in policies])

    def advantages(self, date: int, features: np.ndarray) -> np.ndarray:
        return np.stack([p.advantage(date, features) for p in self.policies], axis=1)


class PerActionPolicy:
    """A switch policy as the executors apply it (``stopping``, ``kernel_arrays``), one regression per action."""

    def __init__(self, stopping: PerActionStopping) -> None:
        self.stopping = stopping

    def kernel_arrays(self):
        s = self.stopping
        k = s.centre.shape[1]
        return (
            np.ascontiguousarray(s.centre, dtype=np.float64),
            np.ascontiguousarray(s.scale, dtype=np.float64),
            np.ascontiguousarray(s.coefficients, dtype=np.float64),
            np.ascontiguousarray(np.array(s.terms, dtype=np.int64).reshape(len(s.terms), k)),
        )

    def with_coefficients(self, coefficients: np.ndarray) -> "PerActionPolicy":
        """The same policy with other coefficients (actions, dates, n_terms)."""
        from pivotmc.policy.lsm import StoppingPolicy

        policies = [
            StoppingPolicy(
                p.basis, p.degree, p.terms, p.centre, p.scale, coefficients[a].reshape(p.coefficients.shape),
                p.exercise_known,
            )
            for a, p in enumerate(self.stopping.policies)
        ]
        return PerActionPolicy(PerActionStopping(policies))


def per_action_policy(plan, learning_paths: int = 1000, seed: int = 11) -> PerActionPolicy:
    """A policy for ``plan``'s switch fitted, action by action, to the reference executor's learning data.

    Each action's estimated advantage regresses its own realised gain over mining on the features
    (as :func:`pivotmc.policy.switch.learn` does for one action): a policy that converts to each
    action on some paths, whichever learner the project ships, to compare executors that apply it.
    """
    from pivotmc import random as rng
    from pivotmc.backends import reference
    from pivotmc.policy.lsm import learn_policy

    key = rng.seed_key(seed)
    features, gains = reference.switch_learning_data(plan, key, rng.LEARNING_PATH0, learning_paths)
    df = (1.0 + plan.scenario.simulation.discount_rate) ** (-plan.decision_times)
    degree = plan.scenario.switch.degree
    policies = [
        learn_policy(features, gain / df[:, None], df, basis="polynomial", degree=degree, exercise_known=False)[0]
        for gain in gains
    ]
    return PerActionPolicy(PerActionStopping(policies))


def cloud_events(plan, key, n_paths: int) -> dict[str, int]:
    """How often the static cloud conversion's fleet is refreshed and its contracts renewed or defaulted on
    paths ``0 .. n_paths - 1``, by the reference executor's step functions (to show a scenario has them)."""
    from pivotmc.backends import reference_cloud as RC
    from pivotmc.backends import reference_steps as R

    paths = np.arange(n_paths, dtype=np.uint64)
    lead_time, capex_per_mw = R.per_path_draws(plan, key, paths)
    markets = R.Markets(plan, n_paths)
    cloud = RC.Cloud(plan, lead_time)
    counts = {"commissioned": 0, "refreshed": 0, "renewed": 0, "defaulted": 0}
    for k in range(plan.n_steps):
        u, z = R.draw_step(key, paths, k)
        m = R.advance_markets(plan, markets, k, u, R.correlate(plan.chol, z), key, paths)
        bought, start, end = cloud.bought.copy(), cloud.c_start.copy(), cloud.c_end.copy()
        RC.cloud_step(plan, cloud, k, m, u, capex_per_mw)
        t1 = plan.t_end[k] + plan.boundary_tolerance
        counts["commissioned"] += int(np.count_nonzero(np.isnan(bought) & ~np.isnan(cloud.bought)))
        counts["refreshed"] += int(np.count_nonzero(~np.isnan(bought) & (cloud.bought != bought)))
        counts["renewed"] += int(np.count_nonzero((end <= t1) & (cloud.c_start == end)))
        counts["defaulted"] += int(np.count_nonzero((cloud.c_start != start) & (cloud.c_start > t1)))
    return counts


def layout_shape(plan, policy) -> dict[str, int]:
    """The switch policy's shape as :func:`pivotmc.backends.cuda.simulate_chunk` hands it to ``launch_layout``."""
    sizes = cuda.policy_sizes(plan, cuda.kernel_inputs(plan, policy))
    return {
        "switch_dates": plan.decision_steps.size if plan.switch_index >= 0 else 0, "switch_terms": sizes["n_terms"],
        "switch_actions": max(1, sizes["n_actions"]), "switch_features": len(plan.switch_features),
    }  # fmt: skip
