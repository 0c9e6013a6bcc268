"""The ``cuda`` backend, tested on every run without a GPU, and on a GPU where there is one.

Without a GPU (see cuda_harness.py):

* every kernel compiles to PTX with nvcc and, when libnvrtc is at hand, with
  NVRTC itself, from the very text and options the backend hands CuPy;
* the model kernel, compiled as host C++ through tests/cuda_shim.h, runs under
  the backend's own driver (:func:`pivotmc.backends.cuda.simulate_chunk`:
  batching, replicas, copies back, exact-sum bookkeeping) and is compared
  with the ``cpu`` backend path by path.

The shim build is bit-for-bit the cpu backend on the same machine: the kernel
reproduces its order of operations and its exp/log polynomials, and the few
C-library calls (log in the normal tails and in the switch policy's features,
exp, expm1, pow) are the host's in both. On a GPU those calls come from CUDA's
math library and may differ in the last bit, which the ``gpu`` tests allow for
(1e-9 relative per path; exact sums within a few quanta). The switch's
decisions are compared exactly everywhere: a last-bit difference in a feature
could only flip a path whose estimated advantage of converting is within
rounding of zero, which the tested scenarios do not have.

Plans that value switch carry a policy learned (on the cpu backend) from few
learning paths, :data:`LEARNING_PATHS`, to keep the tests fast: any policy
will do to compare backends that apply the same one.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
import zipfile
from pathlib import Path

import cuda_harness as H
import fake_cupy as F
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pivotmc
from pivotmc import random as rng
from pivotmc.backends import BACKENDS, KEPT_FACTORS, cuda, cuda_build, cuda_launch, get_backend
from pivotmc.errors import BackendUnavailableError, ValidationError
from pivotmc.model.factors import FACTORS, SHOCK_SLOTS
from pivotmc.model.plan import SCALAR_FIELDS, STEP_FIELDS, lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import policy_for
from pivotmc.testing import CASES, case, scenarios
from closed_forms import Z_TOL, correlation_matrix, spike_moments, spike_part_at_horizon

RTOL = 1e-9  # per-path NPV, cuda against cpu (ENGINEERING.md)
ATOL = 1e-6  # USD, for values near zero
LEARNING_PATHS = 500  # of the switch policy (see the module notes)
_ENTRY = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)')
_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]*)[>"]', re.MULTILINE)

#: A short horizon at which some paths' two-way switch converts (at several dates) and some never do.
SHORT_SWITCH = {
    "simulation.horizon_years": 3.0, "terminal.switch": 6.0, "strategies.evaluate": ["mine", "host", "hybrid", "switch"],
}  # fmt: skip
#: Six years in which the cloud's contracts default (hazard 2 a year), end and renew every year and its fleet is
#: refreshed twice; an exit multiple at which the three-way switch converts to host and to cloud, at several
#: dates, on some paths.
SHORT_CLOUD = {
    "simulation.horizon_years": 6.0, "cloud.default_hazard": 2.0, "cloud.contract_years": 1.0,
    "cloud.gpu_life_years": 2.0, "terminal.switch": 8.0,
}  # fmt: skip
#: Both, by the switch's kind.
SHORT = {"two-way": SHORT_SWITCH, "three-way": SHORT_CLOUD}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def plan_of(scenario: Scenario, learning_paths: int = LEARNING_PATHS):
    """The scenario's plan and its switch policy (learned on few paths; None where it does not value switch)."""
    plan = lower(scenario.with_overrides({"switch.learning_paths": learning_paths}))
    return plan, policy_for(plan)


def assert_same_decisions(got, want, what: str = "") -> None:
    """The switch's per-path decisions and actions, exactly (absent where switch is not valued)."""
    if want.switch_decision is None:
        assert got.switch_decision is None and got.switch_action is None, what
        return
    assert got.switch_decision is not None and got.switch_action is not None, what
    assert got.switch_decision.dtype == np.int16 and got.switch_action.dtype == np.int8, what
    np.testing.assert_array_equal(got.switch_decision, want.switch_decision, err_msg=f"{what}: switch decisions")
    np.testing.assert_array_equal(got.switch_action, want.switch_action, err_msg=f"{what}: switch actions")
    np.testing.assert_array_equal(got.switch_action < 0, got.switch_decision < 0, err_msg=what)


def assert_chunks_agree(got, want, rtol: float = RTOL, exact_sums: bool = True, what: str = "") -> float:
    """Per-path NPV and kept trajectories within ``rtol``; exact sums equal. Returns the worst relative NPV gap."""
    assert got.first_path == want.first_path
    assert got.npv.shape == want.npv.shape
    assert_same_decisions(got, want, what)
    diff = np.abs(got.npv - want.npv)
    allowed = np.maximum(rtol * np.abs(want.npv), ATOL)
    worst = np.unravel_index(np.argmax(diff - allowed), diff.shape)
    assert np.all(diff <= allowed), f"{what}: npv {got.npv[worst]!r} vs {want.npv[worst]!r} at {worst}"
    np.testing.assert_array_equal(got.kept.paths, want.kept.paths)
    for name in KEPT_FACTORS:
        a, b = got.kept.factors[name], want.kept.factors[name]
        assert a.shape == b.shape, name
        assert np.all(np.abs(a - b) <= np.maximum(rtol * np.abs(b), ATOL)), f"{what}: {name}"
    a, b = got.kept.cash_flow, want.kept.cash_flow
    assert a.shape == b.shape
    assert np.all(np.abs(a - b) <= np.maximum(rtol * np.abs(b), ATOL)), f"{what}: kept cash flows"
    if exact_sums:
        np.testing.assert_array_equal(got.cash_flow_sum.hi, want.cash_flow_sum.hi, err_msg=f"{what}: sums (hi)")
        np.testing.assert_array_equal(got.cash_flow_sum.lo, want.cash_flow_sum.lo, err_msg=f"{what}: sums (lo)")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(want.npv != 0, diff / np.abs(want.npv), 0.0)
    return float(rel.max(initial=0.0))


def assert_bitwise(a, b, what: str = "") -> None:
    assert a.npv.tobytes() == b.npv.tobytes(), what
    assert_same_decisions(a, b, what)
    np.testing.assert_array_equal(a.cash_flow_sum.totals(), b.cash_flow_sum.totals(), err_msg=what)
    for name in KEPT_FACTORS:
        assert a.kept.factors[name].tobytes() == b.kept.factors[name].tobytes(), (what, name)
    assert a.kept.cash_flow.tobytes() == b.kept.cash_flow.tobytes(), what


def cpu_chunk(plan, key, first, n, keep, policy=None):
    return get_backend("cpu").run_chunk(plan, key, first, n, keep, None, policy)


@pytest.fixture(scope="module")
def shim_libraries(tmp_path_factory, gxx):
    """Host builds of the model kernel, one per number of strategies and cloud variant, built on first use."""
    folder = tmp_path_factory.mktemp("cuda_model_shim")

    @functools.lru_cache(maxsize=None)
    def library(n_strategies: int, cloud: bool = False) -> ctypes.CDLL:
        out = folder / f"libpivotmc_model_{n_strategies}_{int(cloud)}.so"
        H.build_shim(H.TESTS / "cuda_shim_model.cpp", out, cuda.layout_defines(n_strategies, cloud))
        return ctypes.CDLL(str(out))

    return library


def shim_chunk(libraries, plan, key, first, n, keep, free_bytes=1 << 30, policy=None, **kw):
    device = H.ShimDevice(libraries, free_bytes=free_bytes)
    result, stats = cuda.simulate_chunk(plan, key, first, n, keep, device=device, policy=policy, **kw)
    assert stats.launches == len(device.launches)
    return result, stats


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def test_kernel_sources_are_found_and_match_the_checkout():
    found = Path(str(cuda.kernel_dir()))
    names = sorted(p.name for p in H.KERNEL_FILES)
    assert {"pivotmc_model.cu", "pivotmc_rng.cuh", "pivotmc_math.cuh"} <= set(names)
    for name in names:
        assert (found / name).read_text() == (H.KERNELS / name).read_text(), name


def test_sources_fall_back_to_the_checkout(monkeypatch, tmp_path):
    # A package folder without kernels/ (a source checkout on PYTHONPATH) uses the top-level kernels/.
    monkeypatch.setattr(cuda_build, "__file__", str(H.ROOT / "src" / "pivotmc" / "backends" / "cuda_build.py"))
    monkeypatch.setattr(cuda_build.resources, "files", lambda package: tmp_path)
    assert Path(cuda.kernel_dir()) == H.KERNELS
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / cuda.MODEL_SOURCE).write_text("/* installed */")
    assert Path(cuda.kernel_dir()) == tmp_path / "kernels"


def test_expanded_source_inlines_each_header_once():
    text = cuda.kernel_source()
    assert not _INCLUDE.search(text)
    assert text.count("#define PIVOTMC_RNG_CUH") == 1 and text.count("#define PIVOTMC_MATH_CUH") == 1
    assert '#line 1 "pivotmc_rng.cuh"' in text and '#line 1 "pivotmc_model.cu"' in text


def test_kernels_need_no_standard_headers():
    # NVRTC (used by CuPy) ships no C/C++ standard headers: a kernel may only
    # include the project's own headers.
    for path in H.KERNEL_FILES:
        for bracket, name in _INCLUDE.findall(path.read_text()):
            assert bracket == '"' and re.fullmatch(r"pivotmc_\w+\.cuh", name), (
                f'{path.name} includes {bracket}{name}: only "pivotmc_*.cuh" headers are allowed'
            )
            assert (H.KERNELS / name).is_file(), f"{path.name} includes missing {name}"


def test_layout_reaches_the_kernel_only_through_generated_defines():
    defines = dict(d[2:].split("=") for d in cuda.layout_defines(5))
    assert defines["PIVOTMC_N_STRATEGIES"] == "5"
    assert [defines[f"PIVOTMC_P_{n}"] for n in SCALAR_FIELDS] == [str(i) for i in range(len(SCALAR_FIELDS))]
    assert [defines[f"PIVOTMC_T_{n}"] for n in STEP_FIELDS] == [str(i) for i in range(len(STEP_FIELDS))]
    assert [defines[f"PIVOTMC_KEPT_{n}"] for n in KEPT_FACTORS] == [str(i) for i in range(len(KEPT_FACTORS))]
    assert [defines[f"PIVOTMC_FACTOR_{n}"] for n in FACTORS] == [str(i) for i in range(len(FACTORS))]
    assert defines["PIVOTMC_N_FACTORS"] == str(len(FACTORS))
    packed = int(defines["PIVOTMC_SHOCK_SLOTS"].rstrip("ul"), 0)  # byte f: the slot of factor f's shock
    assert tuple((packed >> (8 * f)) & 0xFF for f in range(len(FACTORS))) == SHOCK_SLOTS
    assert packed >> (8 * len(FACTORS)) == 0
    source = cuda.kernel_source()
    used = set(re.findall(r"\bPIVOTMC_(?:P|T|KEPT|FACTOR)_\w+", source))
    assert used and used <= set(defines), used - set(defines)
    assert not re.search(r"#\s*define\s+PIVOTMC_(?:P|T|KEPT|FACTOR)_|#\s*define\s+PIVOTMC_N_FACTORS", source), (
        "layout positions are generated, not written"
    )
    # The factors' normals are drawn from their declared slots, not from slots named in the kernel.
    assert not re.search(r"PIVOTMC_SLOT_Z_", source)


# --------------------------------------------------------------------------
# Compilation: nvcc to PTX, NVRTC
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", [False, True], ids=["without-cloud", "cloud"])
@pytest.mark.parametrize("source", H.KERNEL_SOURCES, ids=lambda p: p.name)
def test_kernels_compile_to_ptx(nvcc, source, tmp_path, cloud):
    ptx, stderr = H.nvcc_ptx(source, tmp_path / (source.stem + ".ptx"), "sm_90", cloud=cloud)
    assert stderr.strip() == "", f"nvcc warnings:\n{stderr}"
    for entry in _ENTRY.findall(source.read_text()):
        assert f".entry {entry}(" in ptx


def test_the_kernel_without_cloud_leaves_the_cloud_out(nvcc, tmp_path):
    # Plans without cloud run a kernel compiled without its code (PIVOTMC_CLOUD=0): fewer
    # instructions, and none that reads the cloud's scalars or its default table.
    model = H.KERNELS / cuda.MODEL_SOURCE
    without, _ = H.nvcc_ptx(model, tmp_path / "without.ptx", cloud=False)
    cloud, _ = H.nvcc_ptx(model, tmp_path / "cloud.ptx", cloud=True)
    count = lambda ptx: len(re.findall(r"^\s+[a-z]", ptx, re.MULTILINE))  # noqa: E731 - instructions, roughly
    assert count(without) < 0.8 * count(cloud)
    # The constants record is the kernel's last parameter, its scalars first: the cloud's are read at
    # their offsets in it with the cloud's code, and never without.
    cloud_scalars = {8 * SCALAR_FIELDS.index(name) for name in ("cloud_capex_per_gpu", "cloud_residual", "gpu_aging")}
    last = len(F.kernel_signatures(cuda.kernel_source())[cuda.SIMULATE_KERNEL]) - 1
    assert cloud_scalars <= _constant_offsets(cloud, last) and not cloud_scalars & _constant_offsets(without, last)


def _constant_offsets(ptx: str, parameter: int) -> set[int]:
    """Offsets at which the simulate kernel's PTX reads its by-value parameter ``parameter``."""
    name = f"{cuda.SIMULATE_KERNEL}_param_{parameter}"
    bases = set(re.findall(rf"mov\.b64\s+(%rd\d+), {name};", ptx))
    assert bases, name
    found = {int(x) for base in bases for x in re.findall(rf"ld\.param\.\w+\s+%\w+, \[{re.escape(base)}\+(\d+)\]", ptx)}
    return found | {int(x) for x in re.findall(rf"ld\.param\.\w+\s+%\w+, \[{name}\+(\d+)\]", ptx)}


def test_register_use_is_reported(nvcc, tmp_path):
    # ptxas's figures for the kernel as the backend builds it (default register cap), printed for the
    # record (see the kernel's notes on records); the cloud's code costs spills, the plan without
    # cloud does not pay for them.
    rows = {(n, cloud): H.ptxas_usage(tmp_path, n, cloud) for n in (1, 3, 5) for cloud in (False, True)}
    for (n, cloud), usage in rows.items():
        print(f"{n} strategies, cloud {cloud}: {usage}")
        assert usage["registers"] <= cuda.MAX_REGISTERS
    for n in (1, 3, 5):
        assert rows[n, False]["spill_stores"] < rows[n, True]["spill_stores"]


def test_warp_sums_compile_for_every_generation(nvcc, tmp_path):
    # sm_80 and later reduce a warp in one instruction; older cards shuffle.
    model = H.KERNELS / cuda.MODEL_SOURCE
    new, _ = H.nvcc_ptx(model, tmp_path / "new.ptx", "sm_90")
    old, stderr = H.nvcc_ptx(model, tmp_path / "old.ptx", "sm_75")
    assert stderr.strip() == ""
    assert "redux.sync" in new and "shfl.sync" not in new
    assert "shfl.sync" in old and "redux.sync" not in old


def test_contraction_is_off(nvcc, tmp_path):
    # math_check.cu calls no CUDA math function, so any fused multiply-add in
    # its PTX would come from contracting the project's own a*b + c.
    source = H.KERNELS / "math_check.cu"
    ptx, _ = H.nvcc_ptx(source, tmp_path / "off.ptx")
    assert "fma.rn" not in ptx
    contracted = subprocess.run(
        [nvcc, "-ptx", "-arch=sm_90", "-I", str(H.KERNELS), *cuda.rng_defines(), *cuda.math_defines(), "-o",
         str(tmp_path / "on.ptx"), str(source)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert contracted.returncode == 0, contracted.stderr
    assert "fma.rn" in (tmp_path / "on.ptx").read_text(), "the check above would not notice contraction"
    assert "--fmad=false" in cuda.compile_options(3)


def test_model_kernel_refuses_to_compile_without_the_layout(nvcc, tmp_path):
    proc = subprocess.run(
        [nvcc, "-ptx", "-arch=sm_90", "-I", str(H.KERNELS), "-o", str(tmp_path / "x.ptx"),
         str(H.KERNELS / cuda.MODEL_SOURCE)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0 and "compile_options" in proc.stderr


@pytest.fixture(scope="module")
def nvrtc():
    library = H.find_nvrtc()
    if library is None:
        pytest.skip("libnvrtc not found (a CUDA toolkit or pip install nvidia-cuda-nvrtc-cu12 provides it)")
    return library


@pytest.mark.parametrize("cloud", [False, True], ids=["without-cloud", "cloud"])
@pytest.mark.parametrize("n_strategies", [1, 3, cuda.MAX_STRATEGIES])
@pytest.mark.parametrize("source", [p.name for p in H.KERNEL_SOURCES])
def test_kernels_compile_with_nvrtc(nvrtc, source, n_strategies, cloud):
    options = (*cuda.compile_options(n_strategies, cloud=cloud), *H.CUPY_NVRTC_OPTIONS)
    rc, log, ptx = H.nvrtc_compile(nvrtc, cuda.kernel_source(source), options)
    assert rc == 0, log
    assert "warning" not in log.lower(), log
    for entry in _ENTRY.findall((H.KERNELS / source).read_text()):
        assert f".entry {entry}(" in ptx
    rc, log, _ = H.nvrtc_compile(nvrtc, cuda.kernel_source(source), options, arch="sm_90")
    assert rc == 0, log


@pytest.mark.parametrize("source", [p.name for p in H.KERNEL_SOURCES])
def test_kernels_compile_with_cupys_nvrtc(source):
    # CuPy's own NVRTC binding needs no GPU; where CuPy is installed, it is the compiler of record.
    pytest.importorskip("cupy", reason="CuPy is not installed")
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    try:
        nvrtc.getVersion()
    except Exception as exc:  # noqa: BLE001 - no libnvrtc behind CuPy
        pytest.skip(f"CuPy finds no NVRTC: {exc}")
    program = nvrtc.createProgram(cuda.kernel_source(source), source, (), ())
    try:
        nvrtc.compileProgram(program, (*cuda.compile_options(3, cloud=True), *H.CUPY_NVRTC_OPTIONS, "-arch=sm_90"))
    except Exception as exc:  # noqa: BLE001 - NVRTCError carries the log separately
        pytest.fail(f"{exc}\n{nvrtc.getProgramLog(program)}")
    finally:
        nvrtc.destroyProgram(program)


def test_availability_probe_compiles_with_nvrtc(nvrtc):
    # The one-line kernel unavailable_reason() compiles on a GPU machine.
    rc, log, _ = H.nvrtc_compile(nvrtc, cuda.PROBE_SOURCE, cuda.NVRTC_OPTIONS)
    assert rc == 0, log


# --------------------------------------------------------------------------
# The host shim against the cpu backend
# --------------------------------------------------------------------------


def test_default_scenario_matches_cpu_bit_for_bit(shim_libraries):
    plan, policy = plan_of(Scenario.default())
    assert plan.strategies == ("mine", "host", "hybrid", "switch", "cloud")
    key = rng.seed_key(17)
    want = cpu_chunk(plan, key, 0, 3000, 25, policy=policy)
    got, stats = shim_chunk(shim_libraries, plan, key, 0, 3000, 25, batch_paths=1100, threads_per_block=64, policy=policy)
    assert stats.launches == 3 and stats.replicas > 1
    worst = assert_chunks_agree(got, want, what="default")
    assert worst == 0.0
    assert_bitwise(got, want, "default")
    # Some paths convert (at several dates), some mine to the horizon.
    decision = got.switch_decision
    assert 0 < np.count_nonzero(decision >= 0) < decision.size
    assert np.unique(decision[decision >= 0]).size > 5


@pytest.mark.parametrize("name", list(CASES))
def test_cases_match_cpu(shim_libraries, name):
    plan, policy = plan_of(case(name))
    key = rng.seed_key(5)
    want = cpu_chunk(plan, key, 0, 700, 6, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 700, 6, batch_paths=300, policy=policy)
    assert_chunks_agree(got, want, what=name)
    assert_bitwise(got, want, name)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    scenario=scenarios(max_horizon_years=3, steps_per_year=(12, 52, 365)),
    first=st.integers(0, 2**32 - 100),
    batch=st.integers(1, 80),
    threads=st.sampled_from([32, 64, 128]),
)
def test_generated_scenarios_match_cpu(shim_libraries, scenario, first, batch, threads):
    plan = lower(scenario)  # few learning paths already (pivotmc.testing)
    policy = policy_for(plan)
    key = rng.seed_key(3)
    want = cpu_chunk(plan, key, first, 48, first + 5, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, first, 48, first + 5, batch_paths=batch, threads_per_block=threads, policy=policy)
    assert_chunks_agree(got, want, what=scenario.to_toml())


def test_paths_across_the_32_bit_boundary_match_cpu(shim_libraries):
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT_SWITCH))
    key = rng.seed_key(2**64 - 1)
    first = 2**32 - 40
    want = cpu_chunk(plan, key, first, 100, first + 60, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, first, 100, first + 60, policy=policy)
    assert_bitwise(got, want, "32-bit boundary")


@pytest.mark.parametrize("switch", list(SHORT))
def test_results_do_not_depend_on_the_launch_configuration(shim_libraries, monkeypatch, switch):
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT[switch]))
    key = rng.seed_key(8)
    base, stats = shim_chunk(shim_libraries, plan, key, 10, 900, 60, policy=policy)
    assert stats.launches == 1
    assert 0 < np.count_nonzero(base.switch_decision >= 0) < 900
    assert set(np.unique(base.switch_action)) == {-1, *range(len(plan.switch_actions))}
    for batch, threads in [(1, 32), (7, 32), (64, 256), (333, 128)]:
        other, _ = shim_chunk(shim_libraries, plan, key, 10, 900, 60, batch_paths=batch, threads_per_block=threads, policy=policy)
        assert_bitwise(base, other, f"batch {batch}, threads {threads}")
    monkeypatch.setattr(cuda_launch, "MAX_REPLICAS", 1)
    single, stats = shim_chunk(shim_libraries, plan, key, 10, 900, 60, policy=policy)
    assert stats.replicas == 1
    assert_bitwise(base, single, "one replica")


def test_kept_paths_spread_over_launches_when_memory_is_short(shim_libraries):
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT_SWITCH))
    key = rng.seed_key(4)
    shape = H.layout_shape(plan, policy)
    kept_row = 8 * (len(KEPT_FACTORS) + plan.n_strategies) * plan.n_steps
    per_path = 8 * plan.n_strategies + 3  # NPVs, the switch's decision and action
    fixed = cuda.launch_layout(1, 0, plan.n_strategies, plan.n_steps, 1 << 30, **shape).device_bytes - per_path
    free = int((fixed + 4 * 10 * kept_row) / cuda.MEMORY_FRACTION) + 64  # kept trajectories get a quarter
    assert cuda.launch_layout(200, 45, plan.n_strategies, plan.n_steps, free, **shape).kept_rows == 10
    got, stats = shim_chunk(shim_libraries, plan, key, 0, 200, 45, free_bytes=free, policy=policy)
    assert stats.launches >= 5
    assert_bitwise(got, cpu_chunk(plan, key, 0, 200, 45, policy=policy), "kept across launches")


@pytest.mark.parametrize("steps_per_year", [12, 52, 365])
def test_power_spike_moments_do_not_depend_on_the_step(shim_libraries, steps_per_year):
    # The closed-form check of test_model, on the shim build of the kernel.
    def run_chunk(plan, key, first, n, keep):
        return shim_chunk(shim_libraries, plan, key, first, n, keep)[0]  # mine alone: no policy

    x = spike_part_at_horizon(run_chunk, steps_per_year, 20_000)
    mean, var = spike_moments(1.0)
    for sample, expected in ((x, mean), ((x - mean) ** 2, var)):
        se = sample.std(ddof=1) / np.sqrt(sample.size)
        assert abs(sample.mean() - expected) <= Z_TOL * se, (steps_per_year, sample.mean(), expected, se)


def test_oversized_cash_flows_are_refused_like_cpu(shim_libraries):
    plan, policy = plan_of(Scenario.default().with_overrides({"simulation.horizon_years": 1.0}))
    plan = dataclasses.replace(plan, grid_mw=1e12)
    key = rng.seed_key(1)
    with pytest.raises(ValidationError, match="exceed 7e13 USD") as cpu_error:
        cpu_chunk(plan, key, 0, 50, 0, policy=policy)
    with pytest.raises(ValidationError, match="exceed 7e13 USD") as cuda_error:
        shim_chunk(shim_libraries, plan, key, 0, 50, 0, batch_paths=20, policy=policy)
    # cuda stops after the first launch that has any, so it may count fewer.
    assert 0 < int(cuda_error.value.args[0].split()[0]) <= int(cpu_error.value.args[0].split()[0])


def test_cases_cover_the_switch():
    # Between them, the cases value switch at every position, alone, with monthly and
    # weekly decision dates and every basis degree the kernel's powers may need.
    plans = {name: lower(case(name)) for name in CASES}
    valued = {name: plan for name, plan in plans.items() if plan.switch_index >= 0}
    assert {plan.switch_index for plan in valued.values()} >= {0, 3}
    assert any(plan.n_strategies == 1 for plan in valued.values())
    assert any(plan.scenario.switch.degree == 4 for plan in valued.values())
    assert any(plan.switch_index < 0 for plan in plans.values())


@pytest.mark.parametrize("name", ["switch-first-monthly", "switch-alone-weekly-quartic"])
def test_switch_converts_some_paths_at_many_dates_like_cpu(shim_libraries, name):
    plan, policy = plan_of(case(name))
    key = rng.seed_key(5)
    want = cpu_chunk(plan, key, 0, 700, 6, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 700, 6, batch_paths=300, policy=policy)
    assert_bitwise(got, want, name)
    decision = got.switch_decision
    assert 50 < np.count_nonzero(decision >= 0) < decision.size - 50
    assert np.unique(decision[decision >= 0]).size > 20


def test_switch_never_converts_at_dates_without_a_rule(shim_libraries):
    # A NaN row of coefficients (no regression was possible) means "keep mining at that date".
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT_SWITCH))
    key = rng.seed_key(8)
    learned = cpu_chunk(plan, key, 0, 900, 0, policy=policy).switch_decision
    busiest = np.bincount(learned[learned >= 0]).argmax()
    stopping = policy.stopping
    coefficients = stopping.coefficients.copy()
    coefficients[..., busiest, :] = np.nan  # every action's row at that date
    policy = dataclasses.replace(policy, stopping=dataclasses.replace(stopping, coefficients=coefficients))
    want = cpu_chunk(plan, key, 0, 900, 5, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 900, 5, batch_paths=400, policy=policy)
    assert_bitwise(got, want, "a date without a rule")
    assert not np.any(got.switch_decision == busiest)
    assert np.count_nonzero(got.switch_decision >= 0) > 0


def test_switch_without_a_policy_is_refused_before_any_launch(shim_libraries):
    bare = lower(Scenario.default().with_overrides({"simulation.horizon_years": 1.0}))
    assert bare.switch_index >= 0
    with pytest.raises(ValidationError, match="no exercise policy") as cpu_error:
        cpu_chunk(bare, rng.seed_key(1), 0, 10, 0)
    device = H.ShimDevice(shim_libraries)
    with pytest.raises(ValidationError, match="no exercise policy") as cuda_error:
        cuda.simulate_chunk(bare, rng.seed_key(1), 0, 10, 0, device=device)
    assert str(cuda_error.value) == str(cpu_error.value)
    assert device.launches == []
    # A policy learned for other decision dates does not fit either.
    _, other = plan_of(Scenario.default().with_overrides({"simulation.horizon_years": 2.0}))
    with pytest.raises(ValidationError, match="does not fit"):
        cuda.kernel_inputs(bare, other)


@pytest.mark.parametrize("switch", list(SHORT))
def test_switch_inputs_follow_the_decision_steps(switch):
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT[switch]))
    inputs = cuda.kernel_inputs(plan, policy)
    dates = inputs["decision_date"]
    assert dates.dtype == np.int32 and dates.size == plan.n_steps
    np.testing.assert_array_equal(np.flatnonzero(dates >= 0), plan.decision_steps)
    np.testing.assert_array_equal(dates[plan.decision_steps], np.arange(plan.decision_steps.size))
    centre, scale, coef, terms = policy.kernel_arrays()
    assert inputs["terms"].dtype == np.int32
    np.testing.assert_array_equal(inputs["terms"].reshape(terms.shape), terms)
    assert inputs["coef"].reshape(coef.shape).tobytes() == coef.tobytes()
    assert inputs["centre"].reshape(centre.shape).tobytes() == centre.tobytes()
    assert inputs["scale"].reshape(scale.shape).tobytes() == scale.tobytes()
    sizes = cuda.policy_sizes(plan, inputs)
    assert sizes["n_actions"] == len(plan.switch_actions) == (coef.shape[0] if coef.ndim == 3 else 1)
    assert sizes["n_terms"] == terms.shape[0] and sizes["action_stride"] == plan.decision_steps.size * terms.shape[0]
    assert sizes["cloud_action"] == (1 if switch == "three-way" else -1)
    # The kernel reads each feature at its generated position, as many as the plan's switch has.
    options = cuda.compile_options(3, cloud=plan.values_cloud)
    count = "CLOUD_SWITCH_FEATURES" if plan.values_cloud else "SWITCH_FEATURES"
    assert f"-DPIVOTMC_{count}={len(plan.switch_features)}" in options
    assert all(f"-DPIVOTMC_F_{name}={i}" in options for i, name in enumerate(plan.switch_features))
    # Without switch, the kernel gets one-element placeholders.
    mine = lower(Scenario.default().with_overrides({"strategies.evaluate": ["mine"]}))
    assert cuda.kernel_inputs(mine)["decision_date"].tolist() == [-1]


def test_fast_exp_and_log_match_the_cpu_kernels(gxx, shim_libraries):
    K = pytest.importorskip("pivotmc.backends._cpu_kernels")
    g = np.random.default_rng(5)
    x = np.concatenate([g.uniform(-750, 750, 4000), g.uniform(-2, 2, 4000), np.exp(g.uniform(-700, 700, 4000)),
                        [0.0, -0.0, 1.0, 2.0, 0.5, np.sqrt(2.0), -708.0, 709.0, 1e-300]])  # fmt: skip
    library = shim_libraries(1)
    exp_out, log_out = np.empty_like(x), np.empty_like(x)
    library.run_pivotmc_math_check(
        x.ctypes.data_as(ctypes.c_void_p), ctypes.c_longlong(x.size),
        exp_out.ctypes.data_as(ctypes.c_void_p), log_out.ctypes.data_as(ctypes.c_void_p),
    )  # fmt: skip
    want_exp = np.array([K.fast_exp(v) for v in x])
    positive = x > 0
    want_log = np.array([K.fast_log(v) for v in x[positive]])
    assert exp_out.tobytes() == want_exp.tobytes()
    assert log_out[positive].tobytes() == want_log.tobytes()


def test_floor_kernel_draws_the_model_numbers(shim_libraries):
    key = rng.seed_key(6)
    n, steps, first = 70, 5, 123
    out = np.empty(n)
    shim_libraries(1).run_pivotmc_draws_only(
        ctypes.c_uint32(3), ctypes.c_uint32(32), ctypes.c_uint32(key[0]), ctypes.c_uint32(key[1]),
        ctypes.c_uint64(first), ctypes.c_int64(n), ctypes.c_int32(steps), out.ctypes.data_as(ctypes.c_void_p),
    )  # fmt: skip
    paths = np.arange(first, first + n, dtype=np.uint64)
    want = np.zeros(n)
    shock = np.isin(np.arange(rng.N_STEP_SLOTS), SHOCK_SLOTS)  # the factors' slots give normals, the others uniforms
    for k in range(steps):
        u = rng.step_uniforms(key, paths, k)
        want = want + rng.ndtri(u[shock]).sum(axis=0) + u[~shock].sum(axis=0)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("matrix", ["dense", "singular"])
def test_correlation_step_matches_cpu_bit_for_bit(shim_libraries, matrix):
    # Every product of the Cholesky rows enters, so a change in the order of the sums would show.
    scenario = Scenario.default().with_overrides(
        {"correlation.matrix": correlation_matrix(matrix), "simulation.horizon_years": 3.0, "btc.jump_intensity": 8.0,
         "power.spike_intensity": 4.0, "strategies.evaluate": ["mine", "host", "switch"]}
    )  # fmt: skip
    plan, policy = plan_of(scenario)
    key = rng.seed_key(23)
    want = cpu_chunk(plan, key, 0, 600, 9, policy=policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 600, 9, batch_paths=250, policy=policy)
    assert_bitwise(got, want, "correlation")


# --------------------------------------------------------------------------
# The host shim against the reference executor: the GPU factor, cloud, the three-way switch
# --------------------------------------------------------------------------

#: Per-path NPV, kept trajectories and cash flows, shim against reference (numpy's exp and log
#: round otherwise than the kernels' in the last bits).
REFERENCE_RTOL = 1e-10
#: Learning paths of the policies the reference comparisons apply.
REFERENCE_LEARNING_PATHS = 2000


def reference_chunk(plan, key, first, n, keep, policy=None):
    return get_backend("reference").run_chunk(plan, key, first, n, keep, None, policy)


def assert_matches_reference(got, want, what: str) -> float:
    """Within REFERENCE_RTOL path by path, the same decisions and actions; exact sums within a quantum a path."""
    worst = assert_chunks_agree(got, want, rtol=REFERENCE_RTOL, exact_sums=False, what=what)
    gap = np.abs((got.cash_flow_sum.totals() - want.cash_flow_sum.totals()).astype(float))
    assert gap.max(initial=0) <= want.npv.shape[1], (what, gap.max())
    return worst


def three_way_plan(overrides: dict | None = None):
    overrides = {"switch.learning_paths": REFERENCE_LEARNING_PATHS, **(overrides or {})}
    plan = lower(Scenario.default().with_overrides(overrides))
    assert plan.switch_actions == ("host", "cloud") and plan.values_cloud
    return plan


def learned_policy(plan):
    """The scenario's switch policy, learned as a run learns it, on the reference executor."""
    from pivotmc.policy import switch

    return switch.learn(plan, backend="reference")


@pytest.fixture(scope="module")
def default_three_way():
    """The default scenario (every strategy, the three-way switch) and a policy of one regression per action."""
    plan = three_way_plan()
    return plan, H.per_action_policy(plan, REFERENCE_LEARNING_PATHS)


def test_default_scenario_matches_the_reference(shim_libraries):
    plan = three_way_plan()
    policy = learned_policy(plan)
    key = rng.seed_key(17)
    want = reference_chunk(plan, key, 0, 1500, 20, policy)
    got, stats = shim_chunk(
        shim_libraries, plan, key, 0, 1500, 20, batch_paths=700, threads_per_block=64, policy=policy
    )
    assert stats.launches == 3
    worst = assert_matches_reference(got, want, "default, learned policy")
    print(f"shim vs reference, default scenario: worst relative NPV gap {worst:.3g}")
    assert 0 < np.count_nonzero(got.switch_decision >= 0) < got.switch_decision.size


def test_default_scenario_with_a_regression_per_action_matches_the_reference(shim_libraries, default_three_way):
    plan, policy = default_three_way
    key = rng.seed_key(17)
    want = reference_chunk(plan, key, 0, 1500, 20, policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 1500, 20, batch_paths=700, threads_per_block=64, policy=policy)
    assert_matches_reference(got, want, "default, a regression per action")
    # Paths convert to host and to cloud, at many dates; the kept paths include both.
    action, decision = got.switch_action, got.switch_decision
    for a in range(len(plan.switch_actions)):
        assert np.unique(decision[action == a]).size > 5, plan.switch_actions[a]
    assert set(action[:20].tolist()) >= {0, 1}


@pytest.mark.parametrize("steps_per_year", [12, 52])
@pytest.mark.parametrize("learner", ["learned", "per-action"])
def test_short_cloud_scenario_matches_the_reference(shim_libraries, steps_per_year, learner):
    plan = three_way_plan({**SHORT_CLOUD, "simulation.steps_per_year": steps_per_year})
    key = rng.seed_key(5)
    events = H.cloud_events(plan, key, 300)
    assert min(events.values()) > 0, events  # the fleets are commissioned and refreshed, contracts renew and default
    policy = learned_policy(plan) if learner == "learned" else H.per_action_policy(plan, REFERENCE_LEARNING_PATHS)
    want = reference_chunk(plan, key, 0, 300, 12, policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 300, 12, batch_paths=130, policy=policy)
    assert_matches_reference(got, want, f"short cloud scenario, {steps_per_year} steps a year, {learner}")
    assert np.count_nonzero(got.switch_decision >= 0) > 0
    if learner == "per-action":
        assert np.count_nonzero(got.switch_action == plan.switch_actions.index("cloud")) > 10


@pytest.mark.parametrize("name", [name for name in CASES if name != "daily"])  # daily: minutes of reference learning
def test_cases_match_the_reference(shim_libraries, name):
    plan = lower(case(name))
    policy = H.per_action_policy(plan, 300) if plan.switch_index >= 0 else None
    key = rng.seed_key(5)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 300, 6, batch_paths=130, policy=policy)
    assert_matches_reference(got, reference_chunk(plan, key, 0, 300, 6, policy), name)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios(max_horizon_years=3, steps_per_year=(12, 52)), first=st.integers(0, 2**32 - 100))
def test_generated_scenarios_match_the_reference(shim_libraries, scenario, first):
    plan = lower(scenario)
    policy = H.per_action_policy(plan, 200) if plan.switch_index >= 0 else None
    key = rng.seed_key(3)
    got, _ = shim_chunk(shim_libraries, plan, key, first, 40, first + 5, batch_paths=17, policy=policy)
    assert_matches_reference(got, reference_chunk(plan, key, first, 40, first + 5, policy), scenario.to_toml())


def test_an_action_without_a_rule_at_a_date_is_not_taken(shim_libraries, default_three_way):
    # A NaN row of an action's coefficients: that action is never taken at that date (the others may be).
    plan, policy = default_three_way
    key = rng.seed_key(8)
    cloud = plan.switch_actions.index("cloud")
    learned = shim_chunk(shim_libraries, plan, key, 0, 900, 0, policy=policy)[0]
    busiest = np.bincount(learned.switch_decision[learned.switch_action == cloud]).argmax()
    coefficients = policy.stopping.coefficients.copy()
    coefficients[cloud, busiest] = np.nan
    policy = policy.with_coefficients(coefficients)
    want = reference_chunk(plan, key, 0, 900, 5, policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 900, 5, batch_paths=400, policy=policy)
    assert_matches_reference(got, want, "an action without a rule")
    at_busiest = got.switch_decision == busiest
    assert not np.any(got.switch_action[at_busiest] == cloud) and np.any(at_busiest)


def test_equal_advantages_take_the_first_action(shim_libraries, default_three_way):
    # The same regression for cloud as for host: every conversion goes to the first action, host.
    plan, policy = default_three_way
    coefficients = policy.stopping.coefficients.copy()
    coefficients[1] = coefficients[0]
    policy = policy.with_coefficients(coefficients)
    key = rng.seed_key(9)
    want = reference_chunk(plan, key, 0, 600, 5, policy)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 600, 5, policy=policy)
    assert_matches_reference(got, want, "equal advantages")
    assert set(np.unique(got.switch_action)) == {-1, 0}


class _OneAction:
    """A policy of the host conversion alone, its coefficients as (dates, n_terms)."""

    def __init__(self, stopping) -> None:
        self.stopping = stopping

    def kernel_arrays(self):
        centre, scale, coefficients, terms = H.PerActionPolicy(H.PerActionStopping([self.stopping])).kernel_arrays()
        return centre, scale, coefficients[0], terms


def test_a_policy_of_one_action_converts_to_host(shim_libraries, default_three_way):
    # Until the learner chooses among actions, a policy may give one regression, (dates, n_terms): host.
    plan, policy = default_three_way
    one = _OneAction(policy.stopping.policies[0])
    assert one.kernel_arrays()[2].ndim == 2
    key = rng.seed_key(10)
    want = reference_chunk(plan, key, 0, 600, 5, one)
    got, _ = shim_chunk(shim_libraries, plan, key, 0, 600, 5, policy=one)
    assert_matches_reference(got, want, "one action")
    assert set(np.unique(got.switch_action)) == {-1, 0}
    assert cuda.policy_sizes(plan, cuda.kernel_inputs(plan, one))["cloud_action"] == -1


@pytest.mark.parametrize("name", ["two-way", "static-cloud", "cloud-alone"])
def test_plans_with_and_without_cloud_match_the_reference(shim_libraries, name):
    # Without cloud the kernel is compiled without its code and computes G for kept paths alone; the
    # static cloud alone, or with the two-way switch's strategies absent.
    evaluate = {"two-way": ["mine", "host", "hybrid", "switch"], "static-cloud": ["mine", "hybrid", "cloud"],
                "cloud-alone": ["cloud"]}[name]  # fmt: skip
    plan = lower(Scenario.default().with_overrides({**SHORT_CLOUD, "strategies.evaluate": evaluate}))
    assert plan.values_cloud == (name != "two-way")
    policy = H.per_action_policy(plan, 500) if plan.switch_index >= 0 else None
    key = rng.seed_key(12)
    want = reference_chunk(plan, key, 0, 400, 30, policy)
    device = H.ShimDevice(shim_libraries)
    got, _ = cuda.simulate_chunk(plan, key, 0, 400, 30, device=device, policy=policy)
    assert_matches_reference(got, want, name)
    assert got.kept.factors["gpu_price"].shape == (30, plan.n_steps)
    assert np.ptp(got.kept.factors["gpu_price"][:, -1]) > 0  # G moves, path by path


# --------------------------------------------------------------------------
# Launch sizing: device memory is bounded
# --------------------------------------------------------------------------


@pytest.mark.parametrize("switch", [False, True], ids=["static", "switch"])
@pytest.mark.parametrize("steps_per_year,horizon,kept", [(12, 15, 0), (365, 15, 100), (365, 50, 10_000)])
def test_device_memory_does_not_grow_with_paths_times_steps(steps_per_year, horizon, kept, switch):
    n_paths, n_strat = 100_000_000, 4 if switch else 3
    n_steps = steps_per_year * horizon
    free = 70 << 30  # an H100's worth
    # At most one decision date a step, and a quartic basis in three features (35 terms).
    shape = {"switch_dates": n_steps, "switch_terms": 35} if switch else {}
    layout = cuda.launch_layout(n_paths, kept, n_strat, n_steps, free, **shape)
    assert layout.device_bytes <= cuda.MEMORY_FRACTION * free
    assert layout.batch_paths <= cuda.MAX_BATCH_PATHS
    assert layout.device_bytes < n_paths * n_steps  # not even one byte per path-step
    batches = list(layout.batches(n_paths, kept))
    assert sum(size for _, size, _ in batches) == n_paths
    assert [lo for lo, _, _ in batches] == list(np.cumsum([0] + [s for _, s, _ in batches[:-1]]))
    assert sum(k for _, _, k in batches) == kept
    assert all(k <= layout.kept_rows for _, _, k in batches)
    small = cuda.launch_layout(n_paths, kept, n_strat, n_steps, 2 << 30, **shape)
    assert small.device_bytes <= cuda.MEMORY_FRACTION * (2 << 30)
    assert small.batch_paths < layout.batch_paths or layout.batch_paths == cuda.MAX_BATCH_PATHS


@pytest.mark.parametrize("actions,features", [(1, 3), (2, 4)], ids=["two-way", "three-way"])
def test_switch_decisions_and_actions_take_three_bytes_a_path(actions, features):
    n_steps, batch = 180, 1_000_000
    static = cuda.launch_layout(10**8, 0, 4, n_steps, 70 << 30, batch_paths=batch)
    shape = {"switch_dates": 60, "switch_terms": 10, "switch_actions": actions, "switch_features": features}
    switch = cuda.launch_layout(10**8, 0, 4, n_steps, 70 << 30, batch_paths=batch, **shape)
    assert switch.batch_paths == static.batch_paths == batch
    policy = 4 * n_steps + 8 * 60 * (2 * features + actions * 10) + 4 * features * 10
    assert switch.device_bytes - static.device_bytes == 3 * batch + policy - (4 + 3 * 8 + 4 + 2 + 1)
    # Where memory binds, the decisions count against the paths of a launch.
    free = 64 << 20
    tight_static = cuda.launch_layout(10**8, 0, 4, n_steps, free)
    tight_switch = cuda.launch_layout(10**8, 0, 4, n_steps, free, switch_dates=60, switch_terms=10)
    assert tight_switch.batch_paths < tight_static.batch_paths
    assert tight_switch.device_bytes <= cuda.MEMORY_FRACTION * free


def test_launch_sizing_rejects_what_cannot_fit():
    with pytest.raises(ValidationError, match="too little"):
        cuda.launch_layout(10, 0, 3, 180, free_bytes=1000)
    with pytest.raises(ValidationError, match="multiple of 32"):
        cuda.launch_layout(10, 0, 3, 180, free_bytes=1 << 30, threads_per_block=100)


# --------------------------------------------------------------------------
# Availability: no CuPy, no GPU
# --------------------------------------------------------------------------


@pytest.fixture
def fresh_probe():
    cuda.unavailable_reason.cache_clear()
    yield
    cuda.unavailable_reason.cache_clear()


def _assert_one_sentence(reason: str | None) -> None:
    assert reason and reason.startswith("backend 'cuda' ") and reason.endswith(".")
    assert "\n" not in reason and reason.count(". ") == 0, reason


def test_without_cupy_cuda_fails_with_one_sentence_and_auto_does_not_pick_it(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    reason = BACKENDS["cuda"].unavailable_reason()
    _assert_one_sentence(reason)
    assert 'pip install "pivotmc[gpu]"' in reason
    with pytest.raises(BackendUnavailableError) as error:
        get_backend("cuda")
    assert str(error.value) == reason
    assert get_backend("auto").name != "cuda"
    with pytest.raises(BackendUnavailableError):
        pivotmc.simulate(Scenario.default(), n_paths=10, backend="cuda")


def _fake_cupy(device_count=None, count_error=None, kernel_error=None):
    def get_device_count():
        if count_error is not None:
            raise count_error
        return device_count

    class RawKernel:
        def __init__(self, *args, **kwargs):
            if kernel_error is not None:
                raise kernel_error

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime), RawKernel=RawKernel)


@pytest.mark.parametrize(
    "fake,expected",
    [
        (_fake_cupy(count_error=RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")),
         "found no working NVIDIA GPU: cudaErrorNoDevice"),
        (_fake_cupy(count_error=RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient\n..")),
         "found no working NVIDIA GPU: cudaErrorInsufficientDriver"),
        (_fake_cupy(device_count=0), "found no NVIDIA GPU"),
        (_fake_cupy(device_count=1, kernel_error=RuntimeError("CompileException: nvrtc: failed to open libnvrtc")),
         "cannot compile or run a kernel on the GPU: CompileException"),
    ],
    ids=["no-device", "old-driver", "zero-devices", "no-nvrtc"],
)  # fmt: skip
def test_a_cupy_without_a_working_gpu_gives_one_sentence(monkeypatch, fresh_probe, fake, expected):
    monkeypatch.setitem(sys.modules, "cupy", fake)
    reason = cuda.unavailable_reason()
    _assert_one_sentence(reason)
    assert expected in reason
    assert get_backend("auto").name != "cuda"


def test_importing_pivotmc_or_the_backend_does_not_import_cupy():
    script = "import sys, pivotmc, pivotmc.backends.cuda; print('cupy' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


# --------------------------------------------------------------------------
# The wheel
# --------------------------------------------------------------------------


def _setuptools_is_recent() -> bool:
    try:
        import setuptools
        import wheel  # noqa: F401
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 69


def test_wheel_ships_the_kernel_sources_and_its_loader_finds_them(tmp_path):
    # Built from a copy: an in-tree build would leave build/ behind, whose stale files later wheels pick up.
    tree = tmp_path / "tree"
    junk = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis"
    )
    shutil.copytree(H.ROOT, tree, ignore=junk)
    dist = tmp_path / "dist"
    # Offline and faster when this environment can build it; else pip fetches the build requirements.
    isolation = ["--no-build-isolation"] if _setuptools_is_recent() else []
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "-w", str(dist), str(tree)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel_path,) = dist.glob("pivotmc-*.whl")
    with zipfile.ZipFile(wheel_path) as archive:
        names = set(archive.namelist())
        for source in H.KERNEL_FILES:
            assert archive.read(f"pivotmc/kernels/{source.name}").decode() == source.read_text(), source.name
    package = H.ROOT / "src" / "pivotmc"
    modules = {f"pivotmc/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert modules <= names, f"the wheel misses {sorted(modules - names)}: list new packages in pyproject.toml"

    # A fresh environment that sees this interpreter's packages (numpy, ...) behind its own; a
    # pivotmc installed there too must not stand in for the wheel's.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    parents = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    (Path(site) / "parent_environment.pth").write_text("\n".join(parents) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--quiet",
         str(wheel_path)],
        capture_output=True, text=True, check=False, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    script = textwrap.dedent(
        """
        import json, sys, pivotmc
        from pivotmc.backends import cuda
        print(json.dumps({"package": pivotmc.__file__, "kernels": str(cuda.kernel_dir()),
                          "chars": len(cuda.kernel_source()), "cupy": "cupy" in sys.modules}))
        """
    )
    run = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=False, env=env, cwd=tmp_path, timeout=300
    )
    assert run.returncode == 0, run.stderr
    import json

    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(venv), found
    assert Path(found["kernels"]) == Path(found["package"]).parent / "kernels", found
    assert found["chars"] > 10_000 and not found["cupy"]


# --------------------------------------------------------------------------
# On a GPU
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu():
    reason = cuda.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    import cupy

    return cupy


def assert_gpu_agrees(got, want, what: str) -> float:
    """Per path within 1e-9; exact sums nearly equal.

    Where CUDA's log or exp rounds a last bit differently (normal tails, the
    capex overrun), a cash flow moves by ~1e-16 of itself, and its rounding to
    the 2**-16 USD quantum flips now and then: a step's sum may then be off by
    a quantum for a small share of paths, never more.
    """
    worst = assert_chunks_agree(got, want, exact_sums=False, what=what)
    gap = np.abs((got.cash_flow_sum.totals() - want.cash_flow_sum.totals()).astype(float))
    assert gap.max(initial=0) <= 8 + 0.01 * want.npv.shape[1], (what, gap.max())
    return worst


@pytest.mark.gpu
def test_gpu_default_scenario_matches_cpu(gpu):
    plan, policy = plan_of(Scenario.default())
    key = rng.seed_key(17)
    got = cuda.run_chunk(plan, key, 0, 20_000, 25, policy=policy)
    worst = assert_gpu_agrees(got, cpu_chunk(plan, key, 0, 20_000, 25, policy=policy), "default")
    converted = np.count_nonzero(got.switch_decision >= 0)
    assert 0 < converted < got.switch_decision.size
    print(f"gpu vs cpu, default scenario: worst relative NPV gap {worst:.3g}; "
          f"the same switch decisions on every path ({converted:,} of {got.switch_decision.size:,} convert)")


@pytest.mark.gpu
@pytest.mark.parametrize("steps_per_year", [12, 52])
def test_gpu_cloud_scenario_matches_cpu(gpu, steps_per_year):
    # Cloud contracts that default and renew, fleets refreshed, the three-way switch.
    scenario = Scenario.default().with_overrides({**SHORT_CLOUD, "simulation.steps_per_year": steps_per_year})
    plan, policy = plan_of(scenario)
    key = rng.seed_key(5)
    got = cuda.run_chunk(plan, key, 0, 20_000, 12, policy=policy)
    assert_gpu_agrees(got, cpu_chunk(plan, key, 0, 20_000, 12, policy=policy), f"cloud, {steps_per_year} steps a year")
    assert np.count_nonzero(got.switch_decision >= 0) > 0


@pytest.mark.gpu
def test_gpu_three_way_switch_matches_the_reference(gpu, default_three_way):
    # A regression per action, so that paths convert to host and to cloud; CUDA's exp and log against numpy's.
    plan, policy = default_three_way
    key = rng.seed_key(17)
    got = cuda.run_chunk(plan, key, 0, 3000, 20, policy=policy)
    want = reference_chunk(plan, key, 0, 3000, 20, policy)
    worst = assert_chunks_agree(got, want, rtol=RTOL, exact_sums=False, what="three-way switch on a GPU")
    assert set(np.unique(got.switch_action)) == {-1, 0, 1}
    print(f"gpu vs reference, three-way switch: worst relative NPV gap {worst:.3g}")


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
def test_gpu_cases_match_cpu(gpu, name):
    plan, policy = plan_of(case(name))
    key = rng.seed_key(5)
    assert_gpu_agrees(cuda.run_chunk(plan, key, 0, 3000, 6, policy=policy), cpu_chunk(plan, key, 0, 3000, 6, policy=policy), name)


@pytest.mark.gpu
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios(max_horizon_years=3, steps_per_year=(12, 52, 365)), first=st.integers(0, 2**32 - 600))
def test_gpu_generated_scenarios_match_cpu(gpu, scenario, first):
    plan = lower(scenario)
    policy = policy_for(plan)
    key = rng.seed_key(3)
    got = cuda.run_chunk(plan, key, first, 500, first + 5, policy=policy)
    assert_gpu_agrees(got, cpu_chunk(plan, key, first, 500, first + 5, policy=policy), scenario.to_toml())


@pytest.mark.gpu
@pytest.mark.parametrize("switch", list(SHORT))
def test_gpu_results_do_not_depend_on_the_launch_configuration(gpu, switch):
    plan, policy = plan_of(Scenario.default().with_overrides(SHORT[switch]))
    key = rng.seed_key(8)
    base, stats = cuda.simulate_chunk(plan, key, 0, 50_000, 40, policy=policy)
    assert stats.launches == 1 and stats.kernel_seconds > 0
    for batch, threads in [(7_777, 32), (20_000, 256), (49_999, 512)]:
        other, stats = cuda.simulate_chunk(
            plan, key, 0, 50_000, 40, batch_paths=batch, threads_per_block=threads, policy=policy
        )
        assert stats.launches == -(-50_000 // batch)
        assert_bitwise(base, other, f"batch {batch}, threads {threads}")


@pytest.mark.gpu
def test_gpu_backend_runs_through_the_engine_and_auto_picks_it(gpu):
    assert get_backend("auto").name == "cuda"
    scenario = Scenario.default().with_overrides({"switch.learning_paths": 5000})
    ds = pivotmc.simulate(scenario, n_paths=5000, seed=3, keep_paths=4)
    assert ds.attrs["backend"] == "cuda"
    ref = pivotmc.simulate(scenario, n_paths=5000, seed=3, keep_paths=4, backend="cpu")
    np.testing.assert_allclose(ds.npv.values, ref.npv.values, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(ds.switch_decision.values, ref.switch_decision.values)


@pytest.mark.gpu
def test_gpu_random_numbers_match_the_numpy_generator(gpu):
    module = cuda.raw_module("rng_check.cu", 1)
    g = np.random.default_rng(1)
    n = 100_000
    path = g.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    step = g.integers(0, 5000, size=n, dtype=np.uint32)
    pair = g.integers(0, 12, size=n, dtype=np.uint32)
    key = rng.seed_key(0xA4093822299F31D0)
    words, uniforms, normals = (
        gpu.empty(4 * n, gpu.uint32),
        gpu.empty(2 * n, gpu.float64),
        gpu.empty(2 * n, gpu.float64),
    )
    module.get_function("pivotmc_rng_check")(
        (256,), (128,),
        (gpu.asarray(path), gpu.asarray(step), gpu.asarray(pair), np.uint32(key[0]), np.uint32(key[1]), np.int64(n),
         words, uniforms, normals),
    )  # fmt: skip
    lo = (path & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (path >> np.uint64(32)).astype(np.uint32)
    want = np.stack(rng.philox4x32(lo, hi, step, pair, key[0], key[1]), axis=1)
    np.testing.assert_array_equal(words.get().reshape(n, 4), want)
    u = np.stack(
        [rng.uniform_from_words(want[:, 0], want[:, 1]), rng.uniform_from_words(want[:, 2], want[:, 3])], axis=1
    )
    assert uniforms.get().reshape(n, 2).tobytes() == u.tobytes()
    z, ref = normals.get().reshape(n, 2), rng.ndtri(u)
    central = np.abs(u - 0.5) <= 0.425
    assert z[central].tobytes() == ref[central].tobytes()
    assert H.ulp_distance(z[~central], ref[~central]).max() <= 8


@pytest.mark.gpu
def test_gpu_fast_exp_and_log_match_the_cpu_kernels(gpu):
    K = pytest.importorskip("pivotmc.backends._cpu_kernels")
    g = np.random.default_rng(5)
    x = np.concatenate([g.uniform(-750, 750, 3000), g.uniform(-2, 2, 3000), np.exp(g.uniform(-700, 700, 3000))])
    d_x, d_exp, d_log = gpu.asarray(x), gpu.empty(x.size), gpu.empty(x.size)
    cuda.raw_module("math_check.cu", 1).get_function("pivotmc_math_check")(
        (32,), (128,), (d_x, np.int64(x.size), d_exp, d_log)
    )
    assert d_exp.get().tobytes() == np.array([K.fast_exp(v) for v in x]).tobytes()
    positive = x > 0
    assert d_log.get()[positive].tobytes() == np.array([K.fast_log(v) for v in x[positive]]).tobytes()
