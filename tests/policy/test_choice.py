"""Least-squares Monte Carlo choosing among actions: a published two-asset value, a case solved by hand, and the
single-action learner it must reproduce bit for bit."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import single_action
from pivotmc.errors import ValidationError
from pivotmc.policy.lsm import learn_policy, optimal_choice, optimal_stopping

# --------------------------------------------------------------------------- #
# One action: exactly the single-action learner
# --------------------------------------------------------------------------- #
def _put(n=20_000, dates=12, seed=3):
    gen = np.random.default_rng(seed)
    dt = 1.0 / dates
    z = gen.standard_normal((dates, n))
    s = 36.0 * np.exp(np.cumsum((0.06 - 0.02) * dt + 0.2 * math.sqrt(dt) * z, axis=0))
    df = np.exp(-0.06 * dt * np.arange(1, dates + 1))
    pay = np.maximum(40.0 - s, 0.0)
    t = np.broadcast_to(np.arange(dates)[:, None], s.shape).astype(float)
    return np.stack([s / 40.0, t], axis=-1), pay, pay + gen.normal(0.0, 2.0, pay.shape), df


@pytest.mark.parametrize(("basis", "itm_only"), [("laguerre", True), ("polynomial", False)])
@pytest.mark.parametrize("known", [True, False], ids=["known", "realised-later"])
def test_one_action_is_bit_for_bit_the_single_action_learner(known, basis, itm_only) -> None:
    x, pay, noisy, df = _put()
    values = pay if known else noisy
    centre, scale, coef, terms, in_sample = single_action.learn(x, values, df, basis, 3, itm_only, known)
    for given in (values, values[None]):  # (dates, paths) and (1, dates, paths)
        policy, own_in_sample = learn_policy(x, given, df, basis=basis, degree=3, itm_only=itm_only, exercise_known=known)
        assert policy.coefficients.shape == (1, *coef.shape) and policy.terms == terms
        for mine, theirs in ((policy.centre, centre), (policy.scale, scale), (policy.coefficients[0], coef)):
            assert mine.tobytes() == theirs.tobytes()
        assert own_in_sample == in_sample
    before = single_action.stopping_dates(basis, 3, terms, centre, scale, coef, known, x, pay)
    dates, actions = policy.decisions(x, pay)
    np.testing.assert_array_equal(dates, before)
    np.testing.assert_array_equal(actions, np.where(before >= 0, 0, -1))
    assert (before >= 0).any() and (before < 0).any() and np.unique(before).size > 3  # not a trivial rule
    if not known:
        np.testing.assert_array_equal(policy.advantages(3, x[3])[:, 0],
                                      single_action.estimate(basis, 3, terms, centre, scale, coef, 3, x[3], -np.inf))
    else:
        stop = optimal_stopping(x, pay, df, basis=basis, itm_only=itm_only)
        choice = optimal_choice(x, pay[None], df, basis=basis, itm_only=itm_only)
        assert (stop.value, stop.value_se, stop.in_sample_value) == (choice.value, choice.value_se, choice.in_sample_value)
        np.testing.assert_array_equal(stop.payoffs, choice.payoffs)


# --------------------------------------------------------------------------- #
# A case solved by hand
# --------------------------------------------------------------------------- #
#: Two dates, a state in {0, 1, 2} at each (independent, equally likely), two actions. What each pays:
PAY_0 = np.array([[1.0, 1.6, 1.0], [1.8, 1.2, 0.3]])  # at date 0, per action, by state
PAY_1 = np.array([[3.0, 0.0, -1.0], [0.0, 1.0, -0.5]])  # at date 1
DF = np.array([0.9, 0.8])


def _hand_made(copies: int):
    s0, s1 = np.tile(np.repeat(np.arange(3), 3), copies), np.tile(np.arange(3), 3 * copies)  # every pair, in turn
    features = np.stack([s0, s1]).astype(float)  # (dates, paths)
    pay = np.stack([PAY_0[:, s0], PAY_1[:, s1]], axis=1)  # (actions, dates, paths)
    return features, pay, s0, s1


@pytest.mark.parametrize("known", [True, False], ids=["known", "realised-later"])
def test_a_two_date_two_action_case_learns_its_exact_optimal_policy(known) -> None:
    """Waiting is worth E[best of date 1] = (3 + 1 + 0) / 3 in money of date 1, 0.8 / 0.9 * 4 / 3 = 1.185 at date 0.

    So at date 0 state 0 takes action 1 (1.8 > 1.185 > 1.0), state 1 action 0 (1.6 > 1.2 and > 1.185),
    state 2 waits (1.0 and 0.3 < 1.185); at date 1 state 0 takes action 0, state 1 action 1 and state 2 never
    acts (both would cost). A quadratic on a state with three values represents every function of it, and
    each half of the paths holds every pair of states equally often, so the regressions are exact.
    """
    features, pay, s0, s1 = _hand_made(copies=40)
    res = optimal_choice(features, pay, DF, basis="polynomial", degree=2, exercise_known=known)
    wait = 0.8 / 0.9 * 4.0 / 3.0
    expected_date = np.where(s0 < 2, 0, np.where(s1 < 2, 1, -1))
    expected_action = np.select([s0 == 0, s0 == 1, s1 == 0, s1 == 1], [1, 0, 0, 1], -1)
    np.testing.assert_array_equal(res.stopping_date, expected_date)
    np.testing.assert_array_equal(res.action, expected_action)
    assert res.value == pytest.approx((3 * 1.8 * 0.9 + 3 * 1.6 * 0.9 + 3.0 * 0.8 + 1.0 * 0.8) / 9, rel=1e-13)
    assert res.value_se > 0.0
    states = np.arange(3.0)[:, None]
    if known:
        np.testing.assert_allclose(res.policy.continuation(0, states), wait, rtol=1e-12)
        with pytest.raises(ValidationError, match="exercise_known=False"):
            res.policy.choose(0, states)
        return
    adv = res.policy.advantages(0, states)
    np.testing.assert_allclose(adv, PAY_0.T - wait, rtol=1e-12)
    np.testing.assert_array_equal(res.policy.choose(0, states), [1, 0, -1])
    np.testing.assert_allclose(res.policy.advantages(1, states), PAY_1.T, atol=1e-12)
    # A NaN row: that action is never taken at that date; the others still are.
    coef = res.policy.coefficients.copy()
    coef[1, 0] = np.nan
    partial = dataclasses.replace(res.policy, coefficients=coef)
    assert np.all(partial.advantages(0, states)[:, 1] == -np.inf)
    np.testing.assert_array_equal(partial.choose(0, states), [-1, 0, -1])
    with pytest.raises(ValidationError, match="exercise_known=True"):
        res.policy.continuation(0, states)


def test_inputs_of_the_wrong_shape_are_refused() -> None:
    features, pay, _, _ = _hand_made(copies=2)
    with pytest.raises(ValidationError, match="matching sizes"):
        optimal_stopping(features, pay, DF)  # several actions: that is optimal_choice
    with pytest.raises(ValidationError, match="matching sizes"):
        optimal_choice(features, pay[:, :1], DF)
    with pytest.raises(ValidationError, match="matching sizes"):
        optimal_choice(features, pay[None], DF)


# --------------------------------------------------------------------------- #
# A published value: the Bermudan max-call on two assets
# --------------------------------------------------------------------------- #
#: Andersen and Broadie (2004, Management Science 50(9), Table 2; also Glasserman, Monte Carlo Methods in
#: Financial Engineering, 2004, Section 8.6): two assets, S0 = 100, K = 100, r = 0.05, dividend yield 0.10,
#: sigma = 0.2, uncorrelated, T = 3, exercise at t = 1/3, ..., 3. Their lattice value 13.902; a two-dimensional
#: binomial lattice with 100 and 200 steps per exercise period gives 13.9005 and 13.9015 (extrapolated 13.902).
MAX_CALL = 13.902
#: What the learned policy may lose against the optimal one (a policy on paths it never saw is low-biased).
LOW_BIAS = 0.05


def _two_assets(n=200_000, seed=11, dates=9, years=3.0, r=0.05, q=0.10, sigma=0.2):
    gen = np.random.default_rng(seed)
    dt = years / dates
    z = gen.standard_normal((dates, 2, n // 2))
    z = np.concatenate([z, -z], axis=2)[:, :, gen.permutation(n)]  # antithetic, mixed over both halves
    s = 100.0 * np.exp(np.cumsum((r - q - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * z, axis=0))
    pay = np.maximum(s - 100.0, 0.0)  # (dates, assets, paths)
    features = np.concatenate([s, pay], axis=1).transpose(0, 2, 1)  # prices and payoffs (dates, paths, 4)
    return features, pay.transpose(1, 0, 2), np.exp(-r * dt * np.arange(1, dates + 1))


@pytest.mark.parametrize("known", [True, False], ids=["known", "realised-later"])
def test_bermudan_max_call_on_two_assets_matches_the_published_value(known) -> None:
    """Each asset's call is an action. Out of sample, published - low bias - 3 SE <= value <= published + 3 SE."""
    features, pay, df = _two_assets()
    res = optimal_choice(features, pay, df, basis="polynomial", degree=3, exercise_known=known)
    assert MAX_CALL - LOW_BIAS - 3 * res.value_se <= res.value <= MAX_CALL + 3 * res.value_se, (res.value, res.value_se)
    # The assets are alike: each call is exercised about as often. With known values a path acts only where its
    # action pays; learning them as realised values, the policy cannot see that an action pays nothing, and deep
    # out of the money, where waiting is worth little, its estimate may put acting a hair above waiting.
    acted = np.flatnonzero(res.action >= 0)
    paid = pay[res.action[acted], res.stopping_date[acted], acted] > 0.0
    assert paid.all() or not known
    counts = np.bincount(res.action[acted[paid]], minlength=2)
    assert abs(counts[0] - counts[1]) < 0.03 * counts.sum() and counts.sum() > 0.5 * res.action.size, counts


def test_max_call_exercise_values_revealed_later_with_noise_learn_the_same_value() -> None:
    """Learning from payoffs that arrive with mean-zero noise (as the switch's realised gains do) loses no value."""
    features, pay, df = _two_assets()
    half = pay.shape[2] // 2
    noisy = pay[:, :, :half] + np.random.default_rng(5).normal(0.0, 10.0, (2, pay.shape[1], half))
    policy, _ = learn_policy(features[:, :half], noisy, df, basis="polynomial", degree=3, exercise_known=False)
    dates, actions = policy.decisions(features[:, half:])
    acted = np.flatnonzero(dates >= 0)
    value = np.zeros(pay.shape[2] - half)
    value[acted] = pay[actions[acted], dates[acted], half + acted] * df[dates[acted]]
    se = value.std(ddof=1) / math.sqrt(value.size)
    assert MAX_CALL - LOW_BIAS - 3 * se <= value.mean() <= MAX_CALL + 3 * se, (value.mean(), se)
