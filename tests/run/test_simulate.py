"""The engine's contracts: determinism, blocking, common random numbers, exact sums, bounded memory."""

from __future__ import annotations

import math
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

import pivotmc
from pivotmc.backends.accumulate import ExactSum, quantise
from pivotmc.backends import BACKENDS, available_backends, get_backend
from pivotmc.errors import ValidationError
from pivotmc.model.scenario import Scenario

SHORT = Scenario.default().with_overrides({"simulation.horizon_years": 3.0})


def _identical(a, b) -> None:
    """Two results agree bit for bit in every variable that does not record wall-clock time."""
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_results_do_not_depend_on_block_size(block):
    whole = pivotmc.simulate(SHORT, n_paths=130, seed=5, backend="reference", keep_paths=9, block_paths=4096)
    blocked = pivotmc.simulate(SHORT, n_paths=130, seed=5, backend="reference", keep_paths=9, block_paths=block)
    _identical(whole, blocked)


def test_a_path_is_the_same_whatever_the_number_of_paths():
    small = pivotmc.simulate(SHORT, n_paths=10, seed=9, keep_paths=10)
    large = pivotmc.simulate(SHORT, n_paths=500, seed=9, keep_paths=10, block_paths=128)
    np.testing.assert_array_equal(small.npv.values, large.npv.values[:, :10])
    np.testing.assert_array_equal(small.btc_price.values, large.btc_price.values)


def test_seed_changes_every_path_and_repeats_exactly():
    a = pivotmc.simulate(SHORT, n_paths=50, seed=1)
    b = pivotmc.simulate(SHORT, n_paths=50, seed=2)
    c = pivotmc.simulate(SHORT, n_paths=50, seed=1)
    assert np.all(a.npv.values != b.npv.values)
    _identical(a, c)


def test_per_step_mean_is_the_exact_mean_of_kept_cash_flows():
    n = 400
    ds = pivotmc.simulate(SHORT, n_paths=n, seed=3, keep_paths=n, block_paths=37)
    flows = ds.cash_flow.values  # (strategy, path, time)
    for s in range(flows.shape[0]):
        for k in (0, 17, flows.shape[2] - 1):
            exact = sum(Fraction(round(v * 2**16)) for v in flows[s, :, k]) / (n * 2**16)
            assert ds.cash_flow_mean.values[s, k] == float(exact)


def test_npv_is_the_discounted_sum_of_cash_flows():
    ds = pivotmc.simulate(SHORT, n_paths=20, seed=4, keep_paths=20)
    npv = (ds.cash_flow * ds.discount_factor).sum("time")
    np.testing.assert_allclose(ds.npv.values, npv.values, rtol=1e-12, atol=1e-4)


# --------------------------------------------------------------------------- #
# Common random numbers and economics invariants
# --------------------------------------------------------------------------- #
def test_hosting_parameters_leave_mine_npv_bitwise_unchanged():
    base = pivotmc.simulate(SHORT, n_paths=200, seed=8)
    changed = SHORT.with_overrides(
        {"hosting.capex_per_it_mw": 12e6, "hosting.lease_rate": 100.0, "hosting.default_hazard": 0.2,
         "hosting.lead_time_max_months": 24.0, "hosting.lease_sigma": 0.4, "strategies.hybrid_fraction": 0.3}
    )
    other = pivotmc.simulate(changed, n_paths=200, seed=8)
    np.testing.assert_array_equal(base.npv.sel(strategy="mine").values, other.npv.sel(strategy="mine").values)
    assert np.all(base.npv.sel(strategy="host").values != other.npv.sel(strategy="host").values)


def test_correlation_of_other_factors_leaves_btc_paths_unchanged():
    a = pivotmc.simulate(SHORT, n_paths=50, seed=8, keep_paths=50)
    b = pivotmc.simulate(SHORT.with_overrides({"correlation.fees_lease": 0.5}), n_paths=50, seed=8, keep_paths=50)
    np.testing.assert_array_equal(a.btc_price.values, b.btc_price.values)


def test_higher_capex_lowers_every_host_npv():
    base = pivotmc.simulate(SHORT, n_paths=300, seed=12)
    dearer = pivotmc.simulate(SHORT.with_overrides({"hosting.capex_per_it_mw": 10e6}), n_paths=300, seed=12)
    for strategy in ("host", "hybrid"):
        assert np.all(dearer.npv.sel(strategy=strategy).values < base.npv.sel(strategy=strategy).values)


def test_higher_lease_rate_raises_every_host_npv():
    base = pivotmc.simulate(SHORT, n_paths=300, seed=12)
    richer = pivotmc.simulate(SHORT.with_overrides({"hosting.lease_rate": 160.0}), n_paths=300, seed=12)
    assert np.all(richer.npv.sel(strategy="host").values > base.npv.sel(strategy="host").values)


def test_more_grid_capacity_scales_every_strategy():
    base = pivotmc.simulate(SHORT, n_paths=100, seed=2)
    double = pivotmc.simulate(SHORT.with_overrides({"site.grid_mw": 200.0}), n_paths=100, seed=2)
    np.testing.assert_allclose(double.npv.values, 2 * base.npv.values, rtol=1e-12)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_hybrid_is_the_split_of_mine_and_host(fraction):
    scenario = SHORT.with_overrides({"strategies.hybrid_fraction": fraction})
    ds = pivotmc.simulate(scenario, n_paths=200, seed=6)
    mine, host, hybrid = (ds.npv.sel(strategy=s).values for s in ("mine", "host", "hybrid"))
    scale = np.abs(mine) + np.abs(host)
    np.testing.assert_array_less(np.abs(hybrid - (fraction * host + (1 - fraction) * mine)), 1e-12 * scale + 1e-6)


def test_strategy_subset_and_order_follow_the_scenario():
    scenario = SHORT.with_overrides({"strategies.evaluate": ["host", "mine"]})
    ds = pivotmc.simulate(scenario, n_paths=30, seed=1)
    full = pivotmc.simulate(SHORT, n_paths=30, seed=1)
    assert list(ds.strategy.values) == ["host", "mine"]
    np.testing.assert_array_equal(ds.npv.sel(strategy="host").values, full.npv.sel(strategy="host").values)


# --------------------------------------------------------------------------- #
# Backends
# --------------------------------------------------------------------------- #
def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValidationError, match="unknown backend 'numpy'.*reference"):
        get_backend("numpy")
    with pytest.raises(ValueError, match="unknown backend"):
        pivotmc.simulate(SHORT, n_paths=1, backend="fast")


def test_auto_resolves_to_an_available_backend():
    assert get_backend("auto").name in available_backends()
    assert "reference" in available_backends()


@pytest.mark.parametrize("name", sorted(set(BACKENDS) - {"reference"}))
def test_every_backend_agrees_with_reference(name):
    # The reference itself is checked against closed forms (tests/model) and, in distribution, against
    # the numpy model of benchmarks/numpy_baseline.py (tests/test_benchmarks.py).
    if BACKENDS[name].unavailable_reason() is not None:
        pytest.skip(BACKENDS[name].unavailable_reason())
    ref = pivotmc.simulate(SHORT, n_paths=257, seed=21, backend="reference", keep_paths=5)
    other = pivotmc.simulate(SHORT, n_paths=257, seed=21, backend=name, keep_paths=5)
    scale = np.maximum(np.abs(ref.npv.values), 1e4)
    np.testing.assert_array_less(np.abs(other.npv.values - ref.npv.values), 1e-10 * scale)
    for var in ("btc_price", "hashrate", "fees", "power_price", "lease_rate", "hashprice", "cash_flow"):
        np.testing.assert_allclose(other[var].values, ref[var].values, rtol=1e-10, atol=1e-6, err_msg=var)


# --------------------------------------------------------------------------- #
# Exact sums and memory
# --------------------------------------------------------------------------- #
def test_exact_sum_is_independent_of_order_and_split():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1e8, size=(2, 5000)) * rng.lognormal(0, 3, size=(2, 5000))
    whole = ExactSum((2,))
    whole.add(values)
    shuffled = ExactSum((2,))
    perm = rng.permutation(5000)
    for piece in np.array_split(values[:, perm], 13, axis=1):
        part = ExactSum((2,))
        part.add(piece)
        shuffled.merge(part)
    np.testing.assert_array_equal(whole.mean(5000), shuffled.mean(5000))
    exact = [float(sum(Fraction(int(q)) for q in row) / (5000 * 2**16)) for row in quantise(values)]
    assert list(whole.mean(5000)) == exact
    assert np.allclose(whole.mean(5000), values.mean(axis=1), rtol=1e-12)


def test_exact_sum_refuses_non_finite_values():
    acc = ExactSum((1,))
    with pytest.raises(ValidationError, match="not finite or exceeds"):
        acc.add(np.array([[1.0, math.inf]]))


def test_memory_is_linear_in_paths_not_paths_times_steps():
    scenario = Scenario.default().with_overrides({"simulation.horizon_years": 5.0})
    n = 50_000
    pivotmc.simulate(scenario, n_paths=10, seed=1)  # the switch policy: learned once per scenario, whatever n_paths
    tracemalloc.start()
    try:
        pivotmc.simulate(scenario, n_paths=n, seed=1, block_paths=2048)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    paths_times_steps = n * scenario.n_steps * 8
    assert peak < paths_times_steps / 4, (peak, paths_times_steps)
    assert peak < 40 * n * 8  # a few dozen doubles per path


def test_progress_callback_reports_and_leaves_results_unchanged():
    calls = []
    plain = pivotmc.simulate(SHORT, n_paths=333, seed=2, keep_paths=7)
    tracked = pivotmc.simulate(SHORT, n_paths=333, seed=2, keep_paths=7, progress=lambda d, n: calls.append((d, n)))
    _identical(plain, tracked)
    assert calls[0] == (0, 333) and calls[-1] == (333, 333)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
