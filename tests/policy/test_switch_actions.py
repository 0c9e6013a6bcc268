"""The switch as a choice among actions (keep mining, convert to host, convert to cloud), learned by one regression
per action on the learning paths of the reference executor (the specification), then applied out of sample."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import single_action
from pivotmc import Scenario, rng
from pivotmc.backends import get_backend
from pivotmc.errors import ValidationError
from pivotmc.model.plan import lower
from pivotmc.policy import switch
from pivotmc.policy.switch import BOUNDARY_POINTS, BOUNDARY_QUANTILES, check_policy, learn

THREE_WAY = Scenario.default().with_overrides({"switch.learning_paths": 3000})
TWO_WAY = THREE_WAY.with_overrides({"strategies.evaluate": ["mine", "host", "switch"]})
#: GPUs rent for far more than today: selling compute beats both mining and leasing the building from the start.
DEAR_GPUS = THREE_WAY.with_overrides({"gpu.price": 4.0, "gpu.long_run": 4.0})


def _learned(scenario: Scenario) -> switch.SwitchPolicy:
    return learn(scenario, "reference", cache=False)


def _run(scenario: Scenario, policy: switch.SwitchPolicy, n: int = 2000):
    return get_backend("reference").run_chunk(lower(scenario), rng.seed_key(3), 0, n, policy=policy)


def test_the_two_way_switch_learns_the_single_action_learners_numbers() -> None:
    """With host its only action, the policy (what the kernels apply, and the boundary) is bit for bit the one the
    single-action learner gives on the same learning data."""
    plan = lower(TWO_WAY)
    policy = _learned(TWO_WAY)
    assert policy.actions == ("host",) and policy.features == ("hashprice", "lease_rate", "power_price")
    settings = TWO_WAY.switch
    features, gains = get_backend("reference").load().switch_learning_data(
        plan, rng.seed_key(settings.learning_seed), rng.LEARNING_PATH0, settings.learning_paths)
    assert gains.shape == (1, plan.decision_steps.size, settings.learning_paths)
    df = (1.0 + TWO_WAY.simulation.discount_rate) ** (-plan.decision_times)
    x = features.astype(np.float64)
    centre, scale, coef, terms, in_sample = single_action.learn(
        x, gains[0] / df[:, None], df, "polynomial", settings.degree, True, False)
    kernel = policy.kernel_arrays()
    expected = (centre, scale, coef[None], np.array(terms, dtype=np.int64))
    for mine, theirs in zip(kernel, expected):
        assert mine.shape == theirs.shape and mine.tobytes() == theirs.tobytes()
    assert policy.in_sample_gain == in_sample
    hashprice, lease, power = single_action.exercise_boundary(
        lambda d, s: single_action.estimate("polynomial", settings.degree, terms, centre, scale, coef, d, s, -np.inf),
        x, BOUNDARY_QUANTILES)
    for mine, theirs in ((policy.boundary_hashprice, hashprice), (policy.boundary_lease_rate, lease),
                         (policy.boundary_power_price, power)):
        assert mine.tobytes() == theirs.tobytes()
    assert np.isfinite(lease).sum() > 100
    assert policy.boundary_gpu_price.shape == (plan.decision_steps.size, BOUNDARY_POINTS)
    assert np.all(np.isnan(policy.boundary_gpu_price))


def test_the_three_way_switch_learns_one_regression_per_action_and_takes_each() -> None:
    plan = lower(THREE_WAY)
    policy = _learned(THREE_WAY)
    assert policy.actions == plan.switch_actions == ("host", "cloud")
    assert policy.features == plan.switch_features == ("hashprice", "lease_rate", "power_price", "gpu_price")
    centre, scale, coef, terms = policy.kernel_arrays()
    dates, k = plan.decision_steps.size, 4
    assert centre.shape == scale.shape == (dates, k) and terms.shape[1] == k and terms.dtype == np.int64
    assert coef.shape == (2, dates, terms.shape[0])
    assert not np.array_equal(coef[0], coef[1])
    # Out of sample, on paths the policy never saw: some stay, some lease the building, some sell compute.
    chunk = _run(THREE_WAY, policy)
    action, decision = chunk.switch_action, chunk.switch_decision
    np.testing.assert_array_equal(action >= 0, decision >= 0)
    counts = np.bincount(action + 1, minlength=3)
    assert np.all(counts > 0.05 * action.size), counts


def test_dear_gpus_convert_most_paths_to_cloud_at_once() -> None:
    plan = lower(DEAR_GPUS)
    policy = _learned(DEAR_GPUS)
    chunk = _run(DEAR_GPUS, policy)
    cloud = plan.switch_actions.index("cloud")
    at_once = (chunk.switch_decision == 0) & (chunk.switch_action == cloud)
    assert at_once.mean() > 0.9, np.bincount(chunk.switch_action + 1, minlength=3)


@pytest.mark.parametrize("action", ["host", "cloud"])
def test_each_boundary_is_where_its_action_becomes_the_policys_choice(action) -> None:
    """Just above the boundary's lease rate (host) or GPU price (cloud) the policy takes that action, just below it
    does not; hashprice on its grid, the other features at their medians on the learning paths."""
    plan = lower(THREE_WAY)
    policy = _learned(THREE_WAY)
    settings = THREE_WAY.switch
    x = get_backend("reference").load().switch_learning_data(
        plan, rng.seed_key(settings.learning_seed), rng.LEARNING_PATH0, settings.learning_paths)[0].astype(np.float64)
    a = plan.switch_actions.index(action)
    col = plan.switch_features.index({"host": "lease_rate", "cloud": "gpu_price"}[action])
    boundary = policy.boundary_lease_rate if action == "host" else policy.boundary_gpu_price
    checked = 0
    for d in range(plan.decision_steps.size):
        medians = np.median(x[d], axis=0)
        lowest = np.exp(np.quantile(x[d, :, col], 0.001)) / 4.0  # the bottom of the range searched
        for hp, level in zip(policy.boundary_hashprice[d], boundary[d]):
            if not np.isfinite(level) or np.isclose(level, lowest, rtol=1e-9):
                continue
            state = np.repeat(medians[None], 2, axis=0)
            state[:, 0] = np.log(hp)
            state[:, col] = np.log([level * 1.001, level / 1.001])
            above, below = policy.stopping.choose(d, state)
            assert above == a and below != a, (d, hp, level, above, below)
            checked += 1
    assert checked > 100, checked


def test_a_policy_for_other_actions_or_features_is_refused() -> None:
    two, three = _learned(TWO_WAY.with_overrides({"switch.learning_paths": 1000})), lower(THREE_WAY)
    with pytest.raises(ValidationError, match="chooses among mine and host; the scenario's switch chooses among "
                                              "mine, host and cloud"):
        check_policy(three, two)
    with pytest.raises(ValidationError, match="chooses among mine, host and cloud"):
        check_policy(lower(TWO_WAY), dataclasses.replace(two, actions=("host", "cloud")))
    renamed = dataclasses.replace(two, features=("hashprice", "lease_rate", "gpu_price"))
    with pytest.raises(ValidationError, match="decides on hashprice, lease_rate and gpu_price"):
        check_policy(lower(TWO_WAY), renamed)
    check_policy(lower(TWO_WAY), two)  # its own plan: accepted


def test_learning_data_for_other_actions_are_refused_clearly(monkeypatch) -> None:
    """A backend that reports one action's gains for a three-way switch is not silently learned from."""
    reference = get_backend("reference").load()
    real = reference.switch_learning_data

    def host_only(plan, *args, **kwargs):
        features, gains = real(plan, *args, **kwargs)
        return features[..., :3], gains[0]

    monkeypatch.setattr(reference, "switch_learning_data", host_only)
    expected = "1 action.* on 3 features.*converts to host and cloud and decides on hashprice, lease_rate"
    with pytest.raises(ValidationError, match=expected):
        learn(THREE_WAY.with_overrides({"switch.learning_paths": 200, "simulation.horizon_years": 2}),
              "reference", cache=False)


def test_the_disk_cache_keeps_the_actions_and_features(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(switch.CACHE_DIR_ENV, str(tmp_path))
    scenario = THREE_WAY.with_overrides({"switch.learning_paths": 600, "simulation.horizon_years": 3})
    first = learn(scenario, "reference")
    (entry,) = tmp_path.glob("switch-policy-*.npz")
    again = switch._read_policy(entry)
    assert again.actions == first.actions == ("host", "cloud")
    assert again.features == first.features and again.digest() == first.digest()
    for name in ("boundary_hashprice", "boundary_lease_rate", "boundary_power_price", "boundary_gpu_price"):
        assert getattr(again, name).tobytes() == getattr(first, name).tobytes()
    assert np.isfinite(first.boundary_gpu_price).any()


def test_worthless_mining_and_dear_steady_gpus_convert_to_cloud_at_once_as_the_static_cloud() -> None:
    """Nothing to wait for (mining worth nothing, GPU price and lease rate that cannot move, compute worth far more
    than a lease): every path converts to cloud at t = 0, and its NPV is the static cloud strategy's, bit for bit."""
    scenario = DEAR_GPUS.with_overrides({"btc.price": 1.0, "gpu.sigma": 0.0, "hosting.lease_sigma": 0.0})
    plan = lower(scenario)
    chunk = get_backend("reference").run_chunk(plan, rng.seed_key(2), 0, 600, policy=_learned(scenario))
    assert np.all(chunk.switch_decision == 0) and np.all(chunk.switch_action == plan.switch_actions.index("cloud"))
    np.testing.assert_array_equal(chunk.npv[plan.strategies.index("switch")], chunk.npv[plan.strategies.index("cloud")])
