"""The ``cpu`` backend: the reference's numbers, bit-for-bit reproducible, compiled lazily and cached."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import pivotmc
from pivotmc import random as rng
from pivotmc.model.factors import KEPT_FACTORS
from pivotmc.model.scenario import Scenario
from pivotmc.testing import CASES, case, scenarios
from closed_forms import correlation_matrix

K = pytest.importorskip("pivotmc.backends._cpu_kernels")

LEARNING_PATHS = 500  # of the switch policy in the table's cases
#: Kept trajectories compared path by path: every declared kept variable, and the strategies' cash flows.
KEPT = (*KEPT_FACTORS, "cash_flow")


def assert_same_numbers(cpu, ref) -> None:
    """Per-path NPV within 1e-10 relative (1e-6 USD near zero); kept trajectories likewise."""
    diff = np.abs(cpu.npv.values - ref.npv.values)
    allowed = np.maximum(1e-10 * np.abs(ref.npv.values), 1e-6)
    worst = np.argmax(diff - allowed)
    assert np.all(diff <= allowed), (cpu.npv.values.flat[worst], ref.npv.values.flat[worst])
    for name in KEPT:
        a, b = cpu[name].values, ref[name].values
        assert np.all(np.abs(a - b) <= np.maximum(1e-10 * np.abs(b), 1e-6)), name
    np.testing.assert_allclose(cpu.cash_flow_mean.values, ref.cash_flow_mean.values, rtol=1e-10, atol=1e-4)


def _pair(scenario, n, seed, keep=4, **kw):
    cpu = pivotmc.simulate(scenario, n_paths=n, seed=seed, backend="cpu", keep_paths=keep, **kw)
    ref = pivotmc.simulate(scenario, n_paths=n, seed=seed, backend="reference", keep_paths=keep)
    return cpu, ref


def test_default_scenario_matches_reference():
    assert_same_numbers(*_pair(Scenario.default(), 2000, 17, keep=20))


@pytest.mark.parametrize("name", list(CASES))
def test_cases_match_reference(name):
    # Few learning paths: any switch policy will do to compare executors that apply the same one.
    scenario = case(name, {"switch.learning_paths": LEARNING_PATHS})
    assert_same_numbers(*_pair(scenario, 700, 5))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_horizon_years=3, steps_per_year=(12, 52)))
def test_generated_scenarios_match_reference(scenario):
    assert_same_numbers(*_pair(scenario, 40, 3))


def test_results_are_bitwise_identical_across_lane_counts():
    scenario = Scenario.default().with_overrides({"simulation.horizon_years": 3.0})
    runs = [pivotmc.simulate(scenario, n_paths=600, seed=8, backend="cpu", keep_paths=5, block_paths=b) for b in (7, 64, 256)]
    for other in runs[1:]:
        for name in runs[0].data_vars:
            np.testing.assert_array_equal(runs[0][name].values, other[name].values, err_msg=name)


def test_results_are_bitwise_identical_across_thread_counts():
    script = textwrap.dedent(
        """
        import json, sys, hashlib
        import pivotmc
        s = pivotmc.Scenario.default().with_overrides({"simulation.horizon_years": 2.0})
        ds = pivotmc.simulate(s, n_paths=3000, seed=4, backend="cpu", keep_paths=3, block_paths=64)
        h = hashlib.sha256()
        for name in sorted(ds.data_vars):
            h.update(ds[name].values.tobytes())
        import numba
        print(json.dumps({"threads": numba.get_num_threads(), "digest": h.hexdigest()}))
        """
    )
    out = []
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert [o["threads"] for o in out] == [1, 2]
    assert out[0]["digest"] == out[1]["digest"]


def test_philox_words_match_the_numpy_generator():
    gen = np.random.default_rng(0)
    n = 5000
    c = [gen.integers(0, 2**32, n, dtype=np.uint64) for _ in range(4)]
    words = K.philox_words(*c, 0xA4093822, 0x299F31D0)
    expected = rng.philox4x32(*[x.astype(np.uint32) for x in c], 0xA4093822, 0x299F31D0)
    for got, want in zip(words, expected):
        np.testing.assert_array_equal(got.astype(np.uint32), want)


def test_fast_exp_and_log_are_accurate():
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-1, 1, 20001)])
    exp = np.array([K.fast_exp(v) for v in x[::7]])
    want = np.exp(x[::7])
    assert np.max(np.abs(exp - want) / want) < 4e-16
    y = np.exp(np.linspace(-300, 300, 20001))
    log = np.array([K.fast_log(v) for v in y[::7]])
    want = np.log(y[::7])
    assert np.max(np.abs(log - want) / np.maximum(np.abs(want), 1e-300)) < 4e-16 or np.max(np.abs(log - want)) < 4e-16


def test_import_compiles_nothing():
    script = "import sys, pivotmc; print(any(m.endswith('_cpu_kernels') for m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_compiled_kernels_are_cached_reused_and_dropped_when_stale(tmp_path):
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import pivotmc
        from pivotmc.backends import _cpu_kernels as K
        if sys.argv[1] == "stale":  # as if plan.py's layout had changed since the cache was written
            K.LAYOUT_FINGERPRINT = np.int64(K.LAYOUT_FINGERPRINT + 1)
        stale = K.ensure_fresh_cache()
        ds = pivotmc.simulate(pivotmc.Scenario.default(), n_paths=64, seed=1, backend="cpu")
        stats = K.simulate_paths.stats  # Numba's own count of signatures read from, or missed in, the disk cache
        print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                          "npv0": float(ds.npv.values[0, 0]), "stale": stale}))
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("PIVOTMC_NO_CACHE", None)
    runs = []
    for mode in ("fresh", "fresh", "stale"):
        res = subprocess.run([sys.executable, "-c", script, mode], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert any(p.suffix == ".nbi" for p in tmp_path.rglob("*")), "no cache index written"
    assert [r["stale"] for r in runs] == [False, False, True]
    assert runs[0]["npv0"] == runs[1]["npv0"] == runs[2]["npv0"]
    # Compiled the first time, read from the cache the second, compiled again once the cache is stale.
    assert [(r["hits"], r["misses"] > 0) for r in runs] == [(0, True), (1, False), (0, True)], runs


def test_auto_prefers_cpu():
    if pivotmc.backends.BACKENDS["cuda"].unavailable_reason() is None:
        pytest.skip("a working GPU is here: auto picks cuda (tests/backends/test_cuda.py)")
    assert pivotmc.backends.get_backend("auto").name == "cpu"
    ds = pivotmc.simulate(Scenario.default(), n_paths=10, seed=1)
    assert ds.attrs["backend"] == "cpu"


def test_path_indices_beyond_32_bits_are_not_needed_but_high_paths_agree():
    # A chunk far into the path space gives the same numbers in both backends.
    from pivotmc.backends import get_backend
    from pivotmc.model.plan import lower

    from pivotmc.policy.switch import learn

    plan = lower(Scenario.default().with_overrides({"simulation.horizon_years": 1.0, "switch.learning_paths": 500}))
    policy = learn(plan)
    key = rng.seed_key(9)
    first = 2**32 - 50
    cpu = get_backend("cpu").run_chunk(plan, key, first, 50, 0, None, policy)
    ref = get_backend("reference").run_chunk(plan, key, first, 50, 0, None, policy)
    assert np.all(np.abs(cpu.npv - ref.npv) <= np.maximum(1e-10 * np.abs(ref.npv), 1e-6))
    assert math.isfinite(float(cpu.npv.sum()))



@pytest.mark.parametrize("matrix", ["dense", "singular"])
def test_correlated_factors_match_reference(matrix):
    # Every entry of the Cholesky factor enters the shocks (the default matrix has many zeros).
    scenario = Scenario.default().with_overrides(
        {"correlation.matrix": correlation_matrix(matrix), "simulation.horizon_years": 4.0}
    )
    assert_same_numbers(*_pair(scenario, 500, 13))
