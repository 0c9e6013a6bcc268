"""The switch strategy: learned policy, agreement between backends, and the economics it must respect.

Stochastic checks state their tolerance in standard errors and use fixed seeds.
"""

from __future__ import annotations

import dataclasses
import math
import tracemalloc

import numpy as np
import pytest

import pivotmc
from pivotmc import Scenario, rng
from pivotmc.backends import available_backends, get_backend
from pivotmc.errors import ValidationError
from pivotmc.policy.lsm import learn_policy, optimal_stopping
from pivotmc.model.plan import lower
from pivotmc.policy.switch import learn
from naming import assert_standard_errors_end_in_se

#: The default scenario: the three-way switch (mine, host or cloud).
SMALL = Scenario.default().with_overrides({"switch.learning_paths": 4000})
#: The two-way switch (mine or host), with the same strategies' positions as the default's.
TWO_WAY = SMALL.with_overrides({"strategies.evaluate": ["mine", "host", "hybrid", "switch"]})
#: Mining worth nothing, and a lease rate that cannot move: waiting to lease has no value at all.
HOPELESS = TWO_WAY.with_overrides({"btc.price": 1.0, "hosting.lease_sigma": 0.0})
#: Converting the building costs more than any lease or compute can repay.
PROHIBITIVE = SMALL.with_overrides({"hosting.capex_per_it_mw": 1e10})
OTHER_BRANCHES = SMALL.with_overrides({
    "simulation.steps_per_year": 52,
    "simulation.horizon_years": 8.0,
    "hosting.power_passthrough": False,
    "hosting.default_hazard": 0.1,
    "hosting.term_years": 3.0,
    "hosting.lease_long_run": 190.0,
    "hosting.lease_rate": 150.0,
    "terminal.switch": 6.0,
    "terminal.mine": 6.0,
    "terminal.host": 6.0,
    "power.spike_intensity": 2.0,
    "switch.decisions_per_year": 12,
})
MINE, HOST, HYBRID, SWITCH = range(4)


def _needs_cpu():
    if "cpu" not in available_backends():  # pragma: no cover - numba is a base dependency
        pytest.skip("the cpu backend is not available")


# --------------------------------------------------------------------------- #
# What the policy learns from: the same in both backends
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("scenario", [SMALL, OTHER_BRANCHES], ids=["default", "weekly-site-pays-exit"])
def test_learning_data_agree_between_backends(scenario) -> None:
    _needs_cpu()
    plan = lower(scenario)
    key = rng.seed_key(5)
    ref = get_backend("reference").load().switch_learning_data(plan, key, rng.LEARNING_PATH0, 300)
    cpu = get_backend("cpu").load().switch_learning_data(plan, key, rng.LEARNING_PATH0, 300)
    assert ref[0].shape == cpu[0].shape == (plan.decision_steps.size, 300, len(plan.switch_features))
    assert ref[1].shape == cpu[1].shape == (len(plan.switch_actions), plan.decision_steps.size, 300)
    np.testing.assert_array_equal(ref[0], cpu[0])
    scale = np.abs(ref[1]).max()
    assert np.max(np.abs(ref[1] - cpu[1])) <= 1e-12 * scale


def test_learning_gains_are_the_npv_of_converting_minus_mining() -> None:
    """Gain at the first date = host (cloud) NPV - mine NPV, path by path, on the learning paths' own numbers.

    The NPVs come from the other executor, so that the reference's learning data are not checked
    against the reference's own valuation.
    """
    _needs_cpu()
    scenario = SMALL.with_overrides({"terminal.switch": 4.0, "terminal.host": 4.0, "terminal.mine": 4.0,
                                     "terminal.cloud": 4.0})
    plan = lower(scenario)
    key = rng.seed_key(scenario.switch.learning_seed)
    _, gains = get_backend("reference").load().switch_learning_data(plan, key, rng.LEARNING_PATH0, 200)
    static = dataclasses.replace(plan, switch_index=-1)
    chunk = get_backend("cpu").run_chunk(static, key, rng.LEARNING_PATH0, 200)
    mine = chunk.npv[plan.strategies.index("mine")]
    assert plan.switch_actions == ("host", "cloud")
    for a, action in enumerate(plan.switch_actions):
        converted = chunk.npv[plan.strategies.index(action)]
        expected = converted - mine
        # Each NPV within 1e-10 of the reference's (the executors' contract); their difference within that of each.
        allowed = 1e-10 * (np.abs(converted) + np.abs(mine)) + 1e-6
        assert np.all(np.abs(gains[a, 0] - expected) <= allowed), (action, np.max(np.abs(gains[a, 0] - expected) - allowed))


# --------------------------------------------------------------------------- #
# Valuation: one policy, every backend
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("scenario", [SMALL, OTHER_BRANCHES], ids=["default", "weekly-site-pays-exit"])
def test_cpu_applies_the_policy_like_the_reference(scenario) -> None:
    _needs_cpu()
    plan = lower(scenario)
    policy = learn(plan)
    key = rng.seed_key(17)
    ref = get_backend("reference").run_chunk(plan, key, 100, 1500, keep_paths=110, policy=policy)
    cpu = get_backend("cpu").run_chunk(plan, key, 100, 1500, keep_paths=110, policy=policy)
    np.testing.assert_array_equal(ref.switch_decision, cpu.switch_decision)
    np.testing.assert_array_equal(ref.switch_action, cpu.switch_action)
    dates = np.unique(cpu.switch_decision)
    assert (dates >= 0).sum() >= 3 and (dates < 0).any(), dates  # several dates, and paths that never convert
    scale = np.maximum(np.abs(ref.npv), 1e6)
    assert np.max(np.abs(ref.npv - cpu.npv) / scale) < 1e-10
    np.testing.assert_allclose(cpu.kept.cash_flow, ref.kept.cash_flow, rtol=1e-10, atol=1e-4)


def test_switch_is_mine_before_and_host_economics_after_its_decision() -> None:
    """Path by path: never converting is mine; converting at t = 0 is host, bit for bit; kept flows add up to the NPV."""
    _needs_cpu()
    for backend in ("reference", "cpu"):
        for scenario, decision in ((HOPELESS, 0), (PROHIBITIVE, -1)):
            ds = pivotmc.simulate(scenario, n_paths=600, seed=3, backend=backend, keep_paths=20)
            assert np.all(ds.switch_decision.values == decision)
            same = HOST if decision == 0 else MINE
            np.testing.assert_array_equal(ds.npv.values[SWITCH], ds.npv.values[same])
            np.testing.assert_array_equal(ds.cash_flow.values[SWITCH], ds.cash_flow.values[same])
    ds = pivotmc.simulate(SMALL, n_paths=3000, seed=4, keep_paths=300)
    decision = ds.switch_decision.values
    never = decision < 0
    assert never.any() and (~never).any()
    np.testing.assert_array_equal(ds.npv.values[SWITCH, never], ds.npv.values[MINE, never])
    # Kept trajectories: the discounted cash flows are the NPV (no exit value by default).
    discounted = (ds.cash_flow.sel(strategy="switch") * ds.discount_factor).sum("time").values
    np.testing.assert_allclose(discounted, ds.npv.values[SWITCH, :300], rtol=1e-9)
    # Before its decision a converting path earns exactly what mining earns.
    kept = decision[:300]
    steps = lower(SMALL).decision_steps
    for p in np.flatnonzero(kept > 0)[:20]:
        k = steps[kept[p]]
        np.testing.assert_array_equal(ds.cash_flow.values[SWITCH, p, :k], ds.cash_flow.values[MINE, p, :k])


def test_result_reports_dates_shares_and_option_value() -> None:
    ds = pivotmc.simulate(SMALL, n_paths=4000, seed=8)
    plan = lower(SMALL)
    decision = ds.switch_decision.values
    times = ds.switch_time.values
    assert np.all(np.isnan(times[decision < 0]))
    np.testing.assert_array_equal(times[decision >= 0], plan.decision_times[decision[decision >= 0]])
    np.testing.assert_allclose(ds.switch_share.values, np.bincount(decision[decision >= 0], minlength=steps_count(plan)) / 4000)
    np.testing.assert_array_equal(ds.decision_time.values, plan.decision_times)
    assert ds.decision_time.size == 60 and ds.decision_time.values[1] == pytest.approx(0.25)
    # The option value: switch minus the better of mine and host by mean NPV, path by path.
    means = ds.npv.mean("path")
    best = "host" if means.sel(strategy="host") > means.sel(strategy="mine") else "mine"
    assert ds.option_value.attrs["compared_with"] == ds.option_value_se.attrs["compared_with"] == best
    diff = ds.npv.values[SWITCH] - ds.npv.values[[MINE, HOST][best == "host"]]
    assert float(ds.option_value) == diff.mean()
    assert float(ds.option_value_se) == diff.std(ddof=1) / math.sqrt(diff.size)
    assert_standard_errors_end_in_se(ds)


def steps_count(plan) -> int:
    return plan.decision_steps.size


# --------------------------------------------------------------------------- #
# The checks the economics must pass
# --------------------------------------------------------------------------- #
def test_switch_is_worth_at_least_the_better_static_strategy() -> None:
    """Out of sample, with a policy learned on other paths: option value > -2 SE (it can only add value)."""
    scenario = Scenario.default()  # 50,000 learning paths
    ds = pivotmc.simulate(scenario, n_paths=20_000, seed=21)
    value, se = float(ds.option_value), float(ds.option_value_se)
    assert value > -2.0 * se, (value, se)
    # On the default scenario the option to wait is worth a lot: far more than its error.
    assert value > 10.0 * se


def test_prohibitive_capex_equals_mine_and_never_converts() -> None:
    ds = pivotmc.simulate(PROHIBITIVE, n_paths=2000, seed=2)
    assert np.all(np.isnan(ds.switch_time.values))
    np.testing.assert_array_equal(ds.npv.values[SWITCH], ds.npv.values[MINE])
    assert float(ds.switch_share.sum()) == 0.0
    assert ds.option_value.attrs["compared_with"] == "mine" and float(ds.option_value) == 0.0


def test_hopeless_mining_converts_at_the_first_date() -> None:
    ds = pivotmc.simulate(HOPELESS, n_paths=2000, seed=2)
    assert np.all(ds.switch_time.values == 0.0)
    np.testing.assert_array_equal(ds.npv.values[SWITCH], ds.npv.values[HOST])
    assert float(ds.switch_share[0]) == 1.0


def test_hopeless_mining_with_an_uncertain_lease_rate_waits_for_a_good_one() -> None:
    """The lease is signed at the market rate of the conversion date: timing the signing is an option of its own.

    With mining worth nothing the switch still waits (a real option on the
    lease rate: sign when it is high, never when it stays low); out of sample
    that beats converting at once by many standard errors.
    """
    scenario = TWO_WAY.with_overrides({"btc.price": 1.0, "switch.learning_paths": 20_000})
    ds = pivotmc.simulate(scenario, n_paths=10_000, seed=6)
    assert ds.option_value.attrs["compared_with"] == "host"
    assert float(ds.option_value) > 3.0 * float(ds.option_value_se)
    assert float(ds.switch_share[0]) == 0.0 and float(ds.switch_share.sum()) > 0.5


def test_changing_only_the_learning_seed_moves_the_value_within_its_standard_error() -> None:
    n = 20_000
    runs = [pivotmc.simulate(Scenario.default().with_overrides({"switch.learning_seed": s}), n_paths=n, seed=31)
            for s in (0, 1)]
    values = [float(r.npv.sel(strategy="switch").mean()) for r in runs]
    se = float(runs[0].npv.sel(strategy="switch").std(ddof=1)) / math.sqrt(n)
    assert abs(values[0] - values[1]) <= se, (values, se)
    # Different learning paths give a different policy: the check is not vacuous.
    assert not np.array_equal(runs[0].switch_decision.values, runs[1].switch_decision.values)


def test_exercise_boundary_is_where_the_estimated_advantage_changes_sign() -> None:
    plan = lower(TWO_WAY)
    policy = learn(plan)
    checked = 0
    for d in range(1, plan.decision_steps.size):
        for hp, lease in zip(policy.boundary_hashprice[d], policy.boundary_lease_rate[d]):
            if not np.isfinite(lease):
                continue
            x = np.log([[hp, lease * 1.001, policy.boundary_power_price[d]], [hp, lease / 1.001, policy.boundary_power_price[d]]])
            above, below = policy.stopping.advantage(d, x)
            assert above > 0.0 >= below or np.isclose(lease, policy.boundary_lease_rate[d].min()), (d, hp, lease)
            checked += 1
    assert checked > 100
    # Late conversions have fewer years to repay the capex: they need a dearer lease, and at the
    # last date (three months before the horizon) no lease rate in range makes converting pay.
    middle = policy.boundary_lease_rate[:, policy.boundary_lease_rate.shape[1] // 2]
    years = plan.decision_times
    assert middle[np.searchsorted(years, 10.0)] > 1.5 * middle[np.searchsorted(years, 2.0)]
    assert np.all(np.isnan(policy.boundary_lease_rate[-1]))


def test_policy_depends_on_the_scenario_not_on_the_run() -> None:
    plan = lower(SMALL)
    first = learn(plan)
    assert learn(plan) is first  # cached
    a = pivotmc.simulate(SMALL, n_paths=500, seed=1)
    b = pivotmc.simulate(SMALL, n_paths=2000, seed=1)
    np.testing.assert_array_equal(a.switch_decision.values, b.switch_decision.values[:500])
    np.testing.assert_array_equal(a.switch_policy_coefficients.values, b.switch_policy_coefficients.values)


def test_reference_learner_gives_the_cpu_learners_decisions() -> None:
    _needs_cpu()
    plan = lower(SMALL.with_overrides({"switch.learning_paths": 1000}))
    by_cpu, by_ref = learn(plan, "cpu"), learn(plan, "reference")
    np.testing.assert_allclose(by_ref.stopping.coefficients, by_cpu.stopping.coefficients, rtol=1e-6, atol=1e-3)
    key = rng.seed_key(0)
    runs = [get_backend("cpu").run_chunk(plan, key, 0, 2000, policy=p) for p in (by_cpu, by_ref)]
    np.testing.assert_array_equal(runs[0].switch_decision, runs[1].switch_decision)
    np.testing.assert_array_equal(runs[0].switch_action, runs[1].switch_action)


# --------------------------------------------------------------------------- #
# Bounded memory and clear errors
# --------------------------------------------------------------------------- #
def test_learning_stores_state_only_at_decision_dates() -> None:
    scenario = SMALL.with_overrides({"simulation.steps_per_year": 365, "simulation.horizon_years": 3.0,
                                     "switch.learning_paths": 4000})
    plan = lower(scenario)
    learn(plan)  # compile and warm up outside the measurement
    pivotmc.policy.switch._CACHE.clear()
    tracemalloc.start()
    try:
        learn(plan)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    paths_times_steps = 4000 * plan.n_steps * 8
    assert peak < paths_times_steps / 4, (peak, paths_times_steps)


def test_decisions_must_fall_on_step_boundaries() -> None:
    with pytest.raises(ValidationError, match="decisions_per_year"):
        Scenario.default().with_overrides({"simulation.steps_per_year": 12, "switch.decisions_per_year": 52})
    with pytest.raises(ValidationError, match="learning_paths"):
        Scenario.default().with_overrides({"switch.learning_paths": 10})


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_a_plan_without_its_policy_is_refused(backend) -> None:
    if backend == "cpu":
        _needs_cpu()
    plan = lower(SMALL)
    with pytest.raises(ValidationError, match="no exercise policy"):
        get_backend(backend).run_chunk(plan, rng.seed_key(0), 0, 10)


# --------------------------------------------------------------------------- #
# The regression when the exercise value is only revealed later
# --------------------------------------------------------------------------- #
def test_unknown_exercise_values_learn_the_policy_of_their_expectation() -> None:
    """A Bermudan put whose payoff arrives with independent noise is worth what the noiseless put is worth."""
    gen = np.random.default_rng(7)
    n, dates, r, sigma, s0, strike = 100_000, 25, 0.06, 0.2, 36.0, 40.0
    dt = 1.0 / dates
    z = gen.standard_normal((dates, n))
    s = s0 * np.exp(np.cumsum((r - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * z, axis=0))
    df = np.exp(-r * dt * np.arange(1, dates + 1))
    payoff = np.maximum(strike - s, 0.0)
    noisy = payoff + gen.normal(0.0, 2.0, size=payoff.shape)  # mean-zero, not known at the date
    known = optimal_stopping(s / strike, payoff, df, basis="laguerre", degree=3)
    policy, _ = learn_policy((s / strike)[:, : n // 2], noisy[:, : n // 2], df, basis="laguerre", degree=3,
                             exercise_known=False)
    stop = policy.stopping_dates((s / strike)[:, n // 2 :])
    rows = np.flatnonzero(stop >= 0)
    value = np.zeros(n - n // 2)
    value[rows] = payoff[stop[rows], n // 2 + rows] * df[stop[rows]]
    se = math.hypot(value.std(ddof=1) / math.sqrt(value.size), known.value_se)
    assert abs(value.mean() - known.value) < 3.0 * se + 0.02, (value.mean(), known.value, se)
    with pytest.raises(ValidationError, match="exercise_known=False"):
        known.policy.advantage(0, (s / strike)[0, :10, None])


# --------------------------------------------------------------------------- #
# A given policy, and sensitivities that keep the base case's
# --------------------------------------------------------------------------- #
def test_a_given_policy_is_applied_as_it_is() -> None:
    policy = learn(SMALL)
    own = pivotmc.simulate(SMALL, n_paths=800, seed=12)
    given = pivotmc.simulate(SMALL, n_paths=800, seed=12, switch_policy=policy)
    np.testing.assert_array_equal(own.npv.values, given.npv.values)
    # The same policy in dearer markets for hosting: fewer paths convert.
    stressed = SMALL.with_overrides({"hosting.capex_per_it_mw": 12e6})
    frozen = pivotmc.simulate(stressed, n_paths=800, seed=12, switch_policy=policy)
    assert 0 < (frozen.switch_decision.values >= 0).sum() < (own.switch_decision.values >= 0).sum() + 1


def test_a_policy_for_other_dates_or_a_store_run_is_refused(tmp_path) -> None:
    policy = learn(SMALL)
    shorter = SMALL.with_overrides({"simulation.horizon_years": 10.0})
    with pytest.raises(ValidationError, match="40 decision dates"):
        pivotmc.simulate(shorter, n_paths=10, switch_policy=policy)
    with pytest.raises(ValidationError, match="in-memory"):
        pivotmc.simulate(SMALL, n_paths=10, switch_policy=policy, store=tmp_path / "x.zarr")
    with pytest.raises(pivotmc.ParameterTypeError, match="SwitchPolicy"):
        pivotmc.simulate(SMALL, n_paths=10, switch_policy=policy.stopping)


def test_sensitivity_applies_the_base_policy_unless_told_to_relearn() -> None:
    from pivotmc.analysis import studies

    name = "hosting.lease_rate"
    frozen = studies.sensitivity(SMALL, [name], n_paths=3000, seed=4)
    relearned = studies.sensitivity(SMALL, [name], n_paths=3000, seed=4, relearn=True)
    up = SMALL.with_overrides({name: SMALL.hosting.lease_rate * 1.2})
    expected = pivotmc.simulate(up, n_paths=3000, seed=4, switch_policy=learn(SMALL)).npv.sel(strategy="switch").mean()
    assert float(frozen.mean_npv.sel(parameter=name, shock="up", strategy="switch")) == pytest.approx(float(expected), rel=1e-12)
    # A policy learned for the shocked case is worth at least the base case's there (within errors).
    gap = relearned.mean_npv.sel(parameter=name, strategy="switch") - frozen.mean_npv.sel(parameter=name, strategy="switch")
    assert np.all(gap.values > -3.0 * frozen.change_se.sel(parameter=name, strategy="switch").values - 1e5)
    for strategy in ("mine", "host", "hybrid", "cloud"):  # the static strategies do not care
        np.testing.assert_array_equal(frozen.mean_npv.sel(strategy=strategy), relearned.mean_npv.sel(strategy=strategy))
