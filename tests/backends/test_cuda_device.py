"""The ``cuda`` backend's CuPy path, run end to end without a GPU.

test_cuda.py drives :func:`pivotmc.backends.cuda.simulate_chunk` through a device
written for the tests. Here CuPy itself is replaced by a numpy stand-in
(tests/fake_cupy.py), so that the backend's own CuPy code runs: :class:`CupyDevice`
allocating device arrays and copying them back, :func:`raw_module` compiling the
expanded source with :func:`compile_options`, the kernels launched with their grids
and argument lists (checked against the kernels' C signatures, which CuPy does not
do), the availability probe, the device's name, the kernel timings, and the engine
picking the backend. The stand-in builds the kernels as host C++, which reproduces
the ``cpu`` backend bit for bit (see test_cuda.py), so every result is compared
exactly.
"""

from __future__ import annotations

import sys

import cuda_harness as H
import fake_cupy as F
import numpy as np
import pytest

import pivotmc
from pivotmc import random as rng
from pivotmc.backends import KEPT_FACTORS, cuda, cuda_launch, get_backend
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import policy_for

#: A short horizon at which some paths' three-way switch converts, to host and to cloud, at several dates; the
#: cloud's contracts default and renew and its fleets are refreshed.
SHORT = {
    "simulation.horizon_years": 6.0, "cloud.default_hazard": 2.0, "cloud.contract_years": 1.0,
    "cloud.gpu_life_years": 2.0, "terminal.switch": 8.0, "switch.learning_paths": 500,
}  # fmt: skip


@pytest.fixture(scope="module")
def compiler(tmp_path_factory, gxx):
    return F.ShimCompiler(tmp_path_factory.mktemp("fake_cupy"))


@pytest.fixture
def install(monkeypatch, compiler):
    """Install a stand-in CuPy (``install(free_bytes=...)``), with the backend's caches cleared around it."""

    def make(**kwargs):
        fake = F.fake_cupy(compiler, **kwargs)
        monkeypatch.setitem(sys.modules, "cupy", fake)
        cuda.raw_module.cache_clear()
        cuda.unavailable_reason.cache_clear()
        return fake

    yield make
    cuda.raw_module.cache_clear()
    cuda.unavailable_reason.cache_clear()


def cpu_chunk(plan, key, first, n, keep, policy):
    return get_backend("cpu").run_chunk(plan, key, first, n, keep, None, policy)


def short_plan():
    """A short scenario's plan and its switch policy."""
    plan = lower(Scenario.default().with_overrides(SHORT))
    return plan, policy_for(plan)


def assert_bitwise(got, want, what: str) -> None:
    assert got.first_path == want.first_path, what
    assert got.npv.tobytes() == want.npv.tobytes(), what
    np.testing.assert_array_equal(got.cash_flow_sum.hi, want.cash_flow_sum.hi, err_msg=what)
    np.testing.assert_array_equal(got.cash_flow_sum.lo, want.cash_flow_sum.lo, err_msg=what)
    np.testing.assert_array_equal(got.kept.paths, want.kept.paths, err_msg=what)
    for name in KEPT_FACTORS:
        assert got.kept.factors[name].tobytes() == want.kept.factors[name].tobytes(), (what, name)
    assert got.kept.cash_flow.tobytes() == want.kept.cash_flow.tobytes(), what
    assert (got.switch_decision is None) == (want.switch_decision is None), what
    if want.switch_decision is not None:
        assert got.switch_decision.dtype == np.int16 and got.switch_action.dtype == np.int8
        np.testing.assert_array_equal(got.switch_decision, want.switch_decision, err_msg=what)
        np.testing.assert_array_equal(got.switch_action, want.switch_action, err_msg=what)


def test_the_cupy_path_reproduces_the_cpu_backend(install):
    fake = install()
    plan, policy = short_plan()
    key = rng.seed_key(8)
    got, stats = cuda.simulate_chunk(plan, key, 10, 900, 60, batch_paths=400, threads_per_block=64, policy=policy)
    assert_bitwise(got, cpu_chunk(plan, key, 10, 900, 60, policy), "CuPy path")
    assert 0 < np.count_nonzero(got.switch_decision >= 0) < 900
    assert set(np.unique(got.switch_action)) == {-1, 0, 1}
    # Three launches of the model kernel, each with enough threads for its paths.
    launches = fake.device.launches
    assert stats.launches == len(launches) == 3 and {name for name, _, _ in launches} == {cuda.SIMULATE_KERNEL}
    assert [grid * block >= size for (_, grid, block), size in zip(launches, (400, 400, 100))] == [True] * 3
    assert all(block == 64 for _, _, block in launches)
    # The kernel time is the events' sum over the launches (the stand-in's clock: a nanosecond a thread).
    assert stats.kernel_seconds == pytest.approx(sum(g * b for _, g, b in launches) * 1e-9, rel=1e-12)
    assert stats.device == "host shim"


def test_launches_fit_the_free_memory_and_results_do_not_change(install):
    plan, policy = short_plan()
    key = rng.seed_key(4)
    want = cpu_chunk(plan, key, 0, 600, 45, policy)
    roomy = install(free_bytes=1 << 30)
    base, base_stats = cuda.simulate_chunk(plan, key, 0, 600, 45, policy=policy)
    assert base_stats.launches == 1
    assert roomy.device.memory.peak <= base_stats.device_bytes
    # A device with little memory: the kept trajectories and the paths spread over several launches.
    shape = H.layout_shape(plan, policy)
    one_path = cuda.launch_layout(1, 1, plan.n_strategies, plan.n_steps, 1 << 30, **shape).device_bytes
    tight = install(free_bytes=int(3 * one_path / cuda.MEMORY_FRACTION))
    got, stats = cuda.simulate_chunk(plan, key, 0, 600, 45, policy=policy)
    assert stats.launches > 1 and stats.launches == len(tight.device.launches)
    assert tight.device.memory.peak <= stats.device_bytes <= cuda.MEMORY_FRACTION * tight.device.memory.free_bytes
    assert_bitwise(got, want, "memory-bound launches")
    assert_bitwise(base, want, "one launch")


def test_the_cupy_path_runs_the_cloud_and_the_three_way_switch(install, compiler):
    # The kernel compiled with the cloud's code, its constants record (scalars, correlation factor,
    # the strategies' shares: arrays in a record passed by value) and the actions it writes, against
    # the reference executor.
    fake = install()
    plan = lower(Scenario.default().with_overrides(SHORT))
    assert plan.values_cloud and plan.switch_cloud
    policy = H.per_action_policy(plan, 1000)
    key = rng.seed_key(8)
    got, stats = cuda.simulate_chunk(plan, key, 10, 500, 30, batch_paths=200, threads_per_block=64, policy=policy)
    assert stats.launches == len(fake.device.launches) == 3
    assert "-DPIVOTMC_CLOUD=1" in compiler.options_requested[-1]  # the kernel variant with the cloud's code
    want = get_backend("reference").run_chunk(plan, key, 10, 500, 30, None, policy)
    np.testing.assert_array_equal(got.switch_decision, want.switch_decision)
    np.testing.assert_array_equal(got.switch_action, want.switch_action)
    assert set(np.unique(got.switch_action)) == {-1, 0, 1}
    np.testing.assert_allclose(got.npv, want.npv, rtol=1e-10, atol=1e-6)
    for name in KEPT_FACTORS:
        np.testing.assert_allclose(got.kept.factors[name], want.kept.factors[name], rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(got.kept.cash_flow, want.kept.cash_flow, rtol=1e-10, atol=1e-6)
    # The same plan's constants record, with a field of the wrong length, is refused.
    kernel = cuda.raw_module(cuda.MODEL_SOURCE, plan.n_strategies, cuda.MAX_REGISTERS, True).get_function(
        cuda.SIMULATE_KERNEL
    )
    short = np.zeros((), dtype=cuda_launch.constants_dtype(plan.n_strategies - 1))[()]
    device = cuda.CupyDevice()
    one = device.zeros(1, np.uint64)
    records = tuple(
        cuda.record(dtype, {n: (one if dtype.fields[n][0] == np.uint64 else 0) for n in dtype.names}, device)
        for dtype in (cuda.PLAN_RECORD, cuda.POLICY_RECORD, cuda.OUTPUTS_RECORD)
    )
    numbers = (np.int32(1), np.uint32(0), np.uint32(0), np.uint64(0), np.int64(0), np.int64(0), np.int32(1))
    with pytest.raises(TypeError, match="argument 10 \\(constants, pivotmc_constants\\): size"):
        kernel((1,), (32,), (*records, *numbers, short))


def test_the_engine_finds_the_device_and_runs_on_it(install):
    fake = install()
    assert cuda.unavailable_reason() is None  # the probe kernel compiled and ran
    assert ("pivotmc_probe", 1, 1) in fake.device.launches
    assert get_backend("auto").name == "cuda"
    scenario = Scenario.default().with_overrides({"simulation.horizon_years": 2.0, "switch.learning_paths": 500})
    ds = pivotmc.simulate(scenario, n_paths=700, seed=3, keep_paths=5, block_paths=300)
    assert ds.attrs["backend"] == "cuda"
    ref = pivotmc.simulate(scenario, n_paths=700, seed=3, keep_paths=5, backend="cpu")
    assert set(ds.data_vars) == set(ref.data_vars)
    for name in ref.data_vars:
        assert ds[name].values.tobytes() == ref[name].values.tobytes(), name


def test_the_floor_kernel_runs_through_cupy(install):
    fake = install()
    seconds = cuda.time_draws_only(rng.seed_key(6), 300, 4, threads_per_block=64)
    assert fake.device.launches == [(cuda.DRAWS_KERNEL, 5, 64)]
    assert seconds == pytest.approx(5 * 64 * 1e-9, rel=1e-12)


def test_a_second_run_reuses_the_compiled_module(install, compiler):
    install()
    plan, policy = short_plan()
    cuda.simulate_chunk(plan, rng.seed_key(1), 0, 50, 0, policy=policy)
    builds = compiler.builds
    cuda.simulate_chunk(plan, rng.seed_key(2), 0, 50, 0, policy=policy)
    assert compiler.builds == builds


# --------------------------------------------------------------------------
# The stand-in is strict where CuPy is not
# --------------------------------------------------------------------------


def test_the_stand_in_refuses_arguments_a_gpu_would_misread(install):
    fake = install()
    probe = fake.RawKernel(cuda.PROBE_SOURCE, "pivotmc_probe", options=cuda.NVRTC_OPTIONS)
    good = fake.zeros(1, dtype=fake.int32)
    probe((1,), (1,), (good,))
    assert good.get().tolist() == [42]
    for wrong in (fake.zeros(1, dtype=fake.int64), np.zeros(1, dtype=np.int32), np.int32(0), 7):
        with pytest.raises(TypeError):
            probe((1,), (1,), (wrong,))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(good)
    with pytest.raises(ValueError, match="Shape mismatch"):
        good.get(out=np.empty(2, dtype=np.int32))
    with pytest.raises(ValueError, match="--fmad=false"):
        fake.RawKernel(cuda.PROBE_SOURCE, "pivotmc_probe")


def test_the_stand_in_refuses_records_a_gpu_would_misread(install):
    fake = install()
    kernel = cuda.raw_module(cuda.MODEL_SOURCE, 1).get_function(cuda.SIMULATE_KERNEL)
    device = cuda.CupyDevice()
    arrays = {name: fake.zeros(1, dtype=fake.uint64) for name in cuda.OUTPUTS_RECORD.names}
    good = cuda.record(cuda.OUTPUTS_RECORD, arrays, device)
    constants = np.zeros((), dtype=cuda_launch.constants_dtype(1))[()]
    rest = (np.int32(1), np.uint32(0), np.uint32(0), np.uint64(0), np.int64(0), np.int64(0), np.int32(1), constants)
    host = np.zeros(1)
    wrong_place = good.copy()
    wrong_place["npv"] = host.ctypes.data  # a host address
    reordered = np.zeros((), dtype=[(n, np.uint64) for n in reversed(cuda.OUTPUTS_RECORD.names)])[()]
    for plan, policy, out in ((good, good, good), (None, None, wrong_place), (None, None, reordered)):
        plan = np.zeros((), dtype=cuda.PLAN_RECORD)[()] if plan is None else plan
        policy = np.zeros((), dtype=cuda.POLICY_RECORD)[()] if policy is None else policy
        with pytest.raises(TypeError):
            kernel((1,), (32,), (plan, policy, out, *rest))


def test_the_stand_in_reads_the_model_kernels_signatures():
    signatures = F.kernel_signatures(cuda.kernel_source())
    simulate = signatures[cuda.SIMULATE_KERNEL]
    # Three records of pointers, the number of steps (a plain argument: as a field of the
    # plan record it made ptxas spill more registers), the launch's six numbers and the
    # record of the plan's constants, passed by value (read from the constant bank).
    assert len(simulate) <= 11
    assert [p.name for p in simulate][:4] == ["plan", "policy", "out", "n_steps"]
    plan = simulate[0].fields
    assert [f.name for f in plan][:1] == ["steps"]
    assert plan[0].pointer and plan[0].dtype == np.float64
    constants = {f.name: f for f in simulate[-1].fields}
    assert simulate[-1].name == "constants" and list(constants) == list(cuda_launch.constants_dtype(1).names)
    assert all(f.array and not f.pointer and f.dtype == np.float64 for f in constants.values())
    by_name = {p.name: p for p in simulate}
    assert by_name["first_path"].dtype == np.uint64 and not by_name["first_path"].pointer
    assert by_name["n_steps"].dtype == np.int32 and not by_name["n_steps"].pointer
    outputs = {f.name: f for f in by_name["out"].fields}
    assert outputs["switch_out"].dtype == np.int16 and outputs["switch_out"].pointer
    assert outputs["action_out"].dtype == np.int8 and outputs["action_out"].pointer
    # The records' numpy layouts name the C structs' fields, in order.
    for record, parameter in ((cuda.PLAN_RECORD, "plan"), (cuda.POLICY_RECORD, "policy"), (cuda.OUTPUTS_RECORD, "out")):
        assert record.names == tuple(f.name for f in by_name[parameter].fields)
    assert [p.name for p in signatures[cuda.DRAWS_KERNEL]] == ["k0", "k1", "first_path", "n_paths", "n_steps", "out"]
