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
from pivotmc.errors import ValidationError
from pivotmc.model.factors import KEPT_FACTORS
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario
from pivotmc.policy.lsm import StoppingPolicy, learn_policy
from pivotmc.policy.switch import learn
from pivotmc.testing import CASES, case, scenarios
from closed_forms import correlation_matrix

K = pytest.importorskip("pivotmc.backends._cpu_kernels")

from pivotmc.backends import cpu as cpu_backend  # noqa: E402  (after the skip: it needs numba)
from pivotmc.backends import reference  # noqa: E402
from pivotmc.backends.reference_cloud import Cloud, cloud_step  # noqa: E402
from pivotmc.backends.reference_steps import (  # noqa: E402
    Markets, advance_markets, correlate, draw_step, per_path_draws,
)  # fmt: skip

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


# --------------------------------------------------------------------------- #
# The GPU rental factor, the cloud strategy and the three-way switch
# --------------------------------------------------------------------------- #
SWITCH_LEARNING = {"switch.learning_paths": 2000}
#: Cloud contracts that default, renew and a fleet refreshed within a short horizon; with exit values and
#: cheaper GPUs, so that the switch converts to both host and cloud within it.
CLOUD_EVENTS = {"cloud.default_hazard": 2.0, "cloud.contract_years": 1.0, "cloud.gpu_life_years": 2.0,
                "simulation.horizon_years": 6.0, "cloud.capex_per_gpu": 20_000.0, "terminal.switch": 6.0,
                "terminal.cloud": 6.0, "terminal.host": 6.0, **SWITCH_LEARNING}  # fmt: skip
WITHOUT_CLOUD = ["mine", "host", "hybrid", "switch"]


class _PerAction:
    """Per action, the advantage of a stopping policy learned on that action's gains alone: (paths, actions)."""

    def __init__(self, per_action) -> None:
        self.per_action = tuple(per_action)

    def advantages(self, date: int, features: np.ndarray) -> np.ndarray:
        return np.column_stack([p.advantage(date, features) for p in self.per_action])


class _ActionsPolicy:
    """A switch policy among several actions, as the executors apply one: ``stopping.advantages`` (reference) and
    ``kernel_arrays`` with coefficients (actions, dates, terms) (compiled executors)."""

    def __init__(self, per_action) -> None:
        self.stopping = _PerAction(per_action)

    def kernel_arrays(self):
        first = self.stopping.per_action[0]
        coefficients = np.concatenate([np.asarray(p.coefficients).reshape((-1,) + p.coefficients.shape[-2:])
                                       for p in self.stopping.per_action])  # fmt: skip
        return first.centre, first.scale, coefficients, np.array(first.terms, dtype=np.int64)


def _policy_per_action(plan) -> _ActionsPolicy:
    """One regression per action on the reference's learning data (host and, for the three-way switch, cloud)."""
    key = rng.seed_key(plan.scenario.switch.learning_seed)
    features, gains = reference.switch_learning_data(plan, key, rng.LEARNING_PATH0, plan.scenario.switch.learning_paths)
    df = (1.0 + plan.scenario.simulation.discount_rate) ** (-plan.decision_times)
    degree = plan.scenario.switch.degree
    return _ActionsPolicy(
        learn_policy(features, g / df[:, None], df, basis="polynomial", degree=degree, exercise_known=False)[0]
        for g in gains
    )


def _close(a, b, what) -> None:
    diff = np.abs(a - b)
    allowed = np.maximum(1e-10 * np.abs(b), 1e-6)
    worst = np.unravel_index(np.argmax(diff - allowed), diff.shape) if diff.size else ()
    assert np.all(diff <= allowed), (what, worst, a[worst], b[worst])


def assert_chunks_agree(cpu, ref) -> None:
    """Per-path NPV, every kept trajectory (gpu_price and every strategy's cash flows included) within 1e-10
    relative, exact cash-flow sums likewise, and the switch's decisions and actions identical."""
    _close(cpu.npv, ref.npv, "npv")
    assert set(cpu.kept.factors) == set(KEPT_FACTORS) == set(ref.kept.factors)
    for name in KEPT_FACTORS:
        _close(cpu.kept.factors[name], ref.kept.factors[name], name)
    _close(cpu.kept.cash_flow, ref.kept.cash_flow, "cash_flow")
    count = cpu.npv.shape[1]
    _close(cpu.cash_flow_sum.mean(count), ref.cash_flow_sum.mean(count), "cash_flow_sum")
    for name in ("switch_decision", "switch_action"):
        a, b = getattr(cpu, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)


def _chunks(plan, n, seed, policy=None, keep=12, block_paths=None):
    key = rng.seed_key(seed)
    cpu = cpu_backend.run_chunk(plan, key, 0, n, keep, block_paths, policy)
    ref = reference.run_chunk(plan, key, 0, n, keep, None, policy)
    return cpu, ref


def _takes_every_action(result, plan) -> None:
    """The comparison means something: the switch converts to each of its actions on some paths, and waits on some."""
    taken = set(np.unique(result.switch_action).tolist())
    assert taken == {-1, *range(len(plan.switch_actions))}, taken


def test_default_scenario_with_every_strategy_and_the_three_way_switch_matches_reference():
    plan = lower(Scenario.default().with_overrides(SWITCH_LEARNING))
    assert set(plan.strategies) == {"mine", "host", "hybrid", "switch", "cloud"} and plan.switch_cloud
    cpu, ref = _chunks(plan, 500, 17, _policy_per_action(plan))
    assert_chunks_agree(cpu, ref)
    _takes_every_action(ref, plan)


def test_two_way_switch_learned_by_the_reference_matches_reference():
    plan = lower(Scenario.default().with_overrides({"strategies.evaluate": WITHOUT_CLOUD, **SWITCH_LEARNING}))
    assert plan.switch_actions == ("host",) and not plan.values_cloud
    cpu, ref = _chunks(plan, 500, 18, learn(plan, backend="reference"))
    assert_chunks_agree(cpu, ref)
    _takes_every_action(ref, plan)


def _cloud_events(plan, key, n: int) -> dict[str, int]:
    """How many refreshes, contract renewals and defaults the static cloud strategy sees on paths 0 .. n - 1."""
    paths = np.arange(n, dtype=np.uint64)
    lead_time, capex_per_mw = per_path_draws(plan, key, paths)
    markets, cloud = Markets(plan, n), Cloud(plan, lead_time)
    events = {"refresh": 0, "renewal": 0, "default": 0}
    for k in range(plan.n_steps):
        u, z = draw_step(key, paths, k)
        m = advance_markets(plan, markets, k, u, correlate(plan.chol, z), key, paths)
        bought, c_end = cloud.bought.copy(), cloud.c_end.copy()
        cloud_step(plan, cloud, k, m, u, capex_per_mw)
        events["refresh"] += int(np.sum(cloud.bought > bought))
        events["renewal"] += int(np.sum(cloud.c_start == c_end))
        events["default"] += int(np.sum(cloud.c_start == plan.t_end[k] + plan.cloud_release))
    return events


@pytest.mark.parametrize("steps_per_year", [52, 12])
def test_cloud_defaults_renewals_and_refreshes_match_reference(steps_per_year):
    plan = lower(Scenario.default().with_overrides({**CLOUD_EVENTS, "simulation.steps_per_year": steps_per_year}))
    events = _cloud_events(plan, rng.seed_key(23), 200)
    assert min(events.values()) > 0, events
    cpu, ref = _chunks(plan, 400, 23, _policy_per_action(plan), keep=20, block_paths=64)
    assert_chunks_agree(cpu, ref)
    _takes_every_action(ref, plan)


@pytest.mark.parametrize("overrides", [{}, {"strategies.evaluate": WITHOUT_CLOUD}, CLOUD_EVENTS],
                         ids=["three-way", "two-way", "cloud-events"])  # fmt: skip
def test_learning_data_match_reference(overrides):
    plan = lower(Scenario.default().with_overrides({"simulation.horizon_years": 6.0, **overrides}))
    key = rng.seed_key(31)
    cpu = cpu_backend.switch_learning_data(plan, key, rng.LEARNING_PATH0 + 5, 300, 64)
    ref = reference.switch_learning_data(plan, key, rng.LEARNING_PATH0 + 5, 300)
    dates, k, actions = plan.decision_steps.size, len(plan.switch_features), len(plan.switch_actions)
    assert cpu[0].shape == ref[0].shape == (dates, 300, k) and cpu[0].dtype == np.float32
    assert cpu[1].shape == ref[1].shape == (actions, dates, 300)
    # Features: logs in float64 rounded to float32, so equal or one float32 rounding apart.
    np.testing.assert_allclose(cpu[0], ref[0], rtol=2.0**-23, atol=0.0)
    _close(cpu[1], ref[1], "gains")


def _with_cloud_action(plan_with_cloud, policy) -> _ActionsPolicy:
    """The two-way ``policy`` (three features) for the three-way switch: the GPU price enters no term, the host
    regression is the same terms in the same order, and cloud is never chosen (NaN coefficients)."""
    p = policy.stopping
    dates = p.centre.shape[0]
    pad = np.column_stack
    terms = tuple((*t, 0) for t in p.terms)
    centre, scale = pad([p.centre, np.zeros(dates)]), pad([p.scale, np.ones(dates)])
    host = StoppingPolicy(p.basis, p.degree, terms, centre, scale, p.coefficients, p.exercise_known)
    never = np.full_like(p.coefficients, np.nan)
    cloud = StoppingPolicy(p.basis, p.degree, terms, centre, scale, never, p.exercise_known)
    assert plan_with_cloud.switch_actions == ("host", "cloud")
    return _ActionsPolicy([host, cloud])


def test_a_run_without_cloud_gives_the_other_strategies_the_same_numbers_bit_for_bit():
    base = Scenario.default().with_overrides(SWITCH_LEARNING)
    without = lower(base.with_overrides({"strategies.evaluate": WITHOUT_CLOUD}))
    with_cloud = lower(base)
    two_way = learn(without, backend="reference")
    key = rng.seed_key(41)
    a = cpu_backend.run_chunk(without, key, 0, 600, 10, None, two_way)
    b = cpu_backend.run_chunk(with_cloud, key, 0, 600, 10, None, _with_cloud_action(with_cloud, two_way))
    rows = [with_cloud.strategies.index(name) for name in WITHOUT_CLOUD]
    np.testing.assert_array_equal(a.npv, b.npv[rows])
    np.testing.assert_array_equal(a.kept.cash_flow, b.kept.cash_flow[rows])
    np.testing.assert_array_equal(a.switch_decision, b.switch_decision)
    np.testing.assert_array_equal(a.switch_action, b.switch_action)
    assert 0 < np.sum(a.switch_decision >= 0) < a.switch_decision.size
    # The cloud strategy itself is valued in the second run (and differs from the others).
    assert np.all(np.isfinite(b.npv[with_cloud.strategies.index("cloud")]))


def test_a_policy_that_does_not_fit_the_plan_is_refused():
    plan = lower(Scenario.default().with_overrides({"strategies.evaluate": WITHOUT_CLOUD, **SWITCH_LEARNING}))
    two_way = learn(plan, backend="reference")
    three_way = lower(Scenario.default().with_overrides(SWITCH_LEARNING))
    with pytest.raises(ValidationError, match="does not fit"):
        cpu_backend.run_chunk(three_way, (0, 0), 0, 10, 0, None, two_way)  # three features for four
    twice = _ActionsPolicy([two_way.stopping, two_way.stopping])
    with pytest.raises(ValidationError, match="does not fit"):
        cpu_backend.run_chunk(plan, (0, 0), 0, 10, 0, None, twice)  # two actions for one
    # The same policy as one action fits, whether its coefficients come as (dates, terms) or (1, dates, terms).
    one = cpu_backend.run_chunk(plan, (0, 0), 0, 10, 0, None, _ActionsPolicy([two_way.stopping]))
    np.testing.assert_array_equal(one.npv, cpu_backend.run_chunk(plan, (0, 0), 0, 10, 0, None, two_way).npv)
