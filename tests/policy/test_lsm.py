"""Least-squares Monte Carlo against published Bermudan put values and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from pivotmc.errors import ValidationError
from pivotmc.policy.lsm import optimal_stopping

# Longstaff and Schwartz (2001), Table 1: American puts, strike 40, r = 0.06,
# finite-difference values; exercise 50 times a year in the simulation.
LS_TABLE_1 = {
    (36, 0.2, 1): 4.478, (36, 0.2, 2): 4.840, (36, 0.4, 1): 7.101, (36, 0.4, 2): 8.508,
    (38, 0.2, 1): 3.250, (38, 0.2, 2): 3.745, (38, 0.4, 1): 6.148, (38, 0.4, 2): 7.670,
    (40, 0.2, 1): 2.314, (40, 0.2, 2): 2.885, (40, 0.4, 1): 5.312, (40, 0.4, 2): 6.920,
    (42, 0.2, 1): 1.617, (42, 0.2, 2): 2.212, (42, 0.4, 1): 4.582, (42, 0.4, 2): 6.248,
    (44, 0.2, 1): 1.110, (44, 0.2, 2): 1.690, (44, 0.4, 1): 3.948, (44, 0.4, 2): 5.647,
}


def gbm_paths(s0, sigma, years, rate=0.06, per_year=50, n=100_000, seed=1):
    """GBM at the exercise dates (antithetic, shuffled so both halves mix them)."""
    gen = np.random.default_rng(seed)
    m = int(per_year * years)
    dt = 1.0 / per_year
    z = gen.standard_normal((m, n // 2))
    z = np.concatenate([z, -z], axis=1)[:, gen.permutation(n)]
    log_s = math.log(s0) + np.cumsum((rate - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * z, axis=0)
    return np.exp(log_s), np.exp(-rate * dt * np.arange(1, m + 1))


@pytest.mark.parametrize("case", sorted(LS_TABLE_1), ids=lambda c: f"S{c[0]}-vol{c[1]}-T{c[2]}")
def test_bermudan_put_matches_longstaff_schwartz_table_1(case):
    s0, sigma, years = case
    spot, df = gbm_paths(s0, sigma, years)
    res = optimal_stopping(spot, np.maximum(40.0 - spot, 0.0), df)
    assert abs(res.value - LS_TABLE_1[case]) <= 2 * res.value_se + 0.02, (res.value, res.value_se)


@pytest.mark.parametrize("basis", ["laguerre", "polynomial"])
def test_bases_agree_on_an_at_the_money_put(basis):
    spot, df = gbm_paths(40, 0.2, 1, n=60_000, seed=3)
    res = optimal_stopping(spot, np.maximum(40.0 - spot, 0.0), df, basis=basis, degree=3)
    assert abs(res.value - 2.314) <= 2 * res.value_se + 0.02


def test_one_exercise_date_is_the_european_price():
    spot, df = gbm_paths(40, 0.2, 1, per_year=1, n=200_000, seed=4)
    res = optimal_stopping(spot, np.maximum(40.0 - spot, 0.0), df)
    d1 = (math.log(40 / 40) + (0.06 + 0.02)) / 0.2
    bs_put = 40 * math.exp(-0.06) * norm.cdf(-(d1 - 0.2)) - 40 * norm.cdf(-d1)
    assert abs(res.value - bs_put) <= 4 * res.value_se


def test_stopping_dates_are_where_exercise_pays():
    spot, df = gbm_paths(40, 0.3, 1, n=20_000, seed=5)
    pay = np.maximum(40.0 - spot, 0.0)
    res = optimal_stopping(spot, pay, df)
    stopped = res.stopping_date >= 0
    assert np.all(pay[res.stopping_date[stopped], np.flatnonzero(stopped)] > 0)
    assert np.all(res.payoffs[~stopped] == 0.0)
    np.testing.assert_allclose(
        res.payoffs[stopped], pay[res.stopping_date[stopped], np.flatnonzero(stopped)] * df[res.stopping_date[stopped]]
    )


def test_learning_seed_moves_the_value_by_less_than_its_error():
    spot, df = gbm_paths(38, 0.2, 1, n=80_000, seed=6)
    valuation = np.arange(80_000) >= 40_000
    values = []
    for seed in (11, 12):
        learn_spot, _ = gbm_paths(38, 0.2, 1, n=40_000, seed=seed)
        x = np.concatenate([learn_spot, spot[:, valuation]], axis=1)
        p = np.maximum(40.0 - x, 0.0)
        res = optimal_stopping(x, p, df, valuation=np.arange(80_000) >= 40_000)
        values.append(res)
    assert abs(values[0].value - values[1].value) <= values[0].value_se + values[1].value_se


def test_multi_feature_regression_runs_and_is_not_worse():
    spot, df = gbm_paths(36, 0.2, 1, n=40_000, seed=7)
    pay = np.maximum(40.0 - spot, 0.0)
    t = np.broadcast_to(np.arange(spot.shape[0])[:, None], spot.shape).astype(float)
    two = optimal_stopping(np.stack([spot, t], axis=-1), pay, df, degree=2)
    one = optimal_stopping(spot, pay, df, degree=2)
    assert two.value >= one.value - 3 * one.value_se


def test_bad_inputs_are_refused():
    spot, df = gbm_paths(40, 0.2, 1, n=100, seed=1)
    pay = np.maximum(40.0 - spot, 0.0)
    with pytest.raises(ValidationError, match="matching sizes"):
        optimal_stopping(spot, pay[:-1], df)
    with pytest.raises(ValidationError, match="finite"):
        bad = pay.copy()
        bad[0, 0] = np.nan
        optimal_stopping(spot, bad, df)
    with pytest.raises(ValidationError, match="basis"):
        optimal_stopping(spot, pay, df, basis="hermite")
    with pytest.raises(ValidationError, match="train_fraction"):
        optimal_stopping(spot, pay, df, train_fraction=1.0)
    with pytest.raises(ValidationError, match="positive"):
        optimal_stopping(spot, pay, -df)


def test_dual_upper_bound_brackets_the_published_value():
    """Lower bound (the policy's value) <= published value <= dual upper bound, with a gap of a few cents."""
    from pivotmc.policy.lsm import dual_upper_bound

    s0, sigma, published = 36.0, 0.2, LS_TABLE_1[(36, 0.2, 1)]
    spot, df = gbm_paths(s0, sigma, 1)
    # A value function fitted on every path (not only in the money) extrapolates sanely everywhere.
    lower = optimal_stopping(spot, np.maximum(40.0 - spot, 0.0), df, itm_only=False, degree=5)
    outer, _ = gbm_paths(s0, sigma, 1, n=1000, seed=77)
    step = math.exp((0.06 - 0.5 * sigma**2) / 50)

    def sample_next(t, x, n, gen):
        return x[None] * step * np.exp(sigma * math.sqrt(1 / 50) * gen.standard_normal((n, *x.shape)))

    upper, se = dual_upper_bound(lower.policy, outer, df, lambda t, x: np.maximum(40.0 - x[:, 0], 0.0),
                                 sample_next, np.array([s0]), n_inner=500, seed=3)
    assert lower.value - 2 * lower.value_se <= published <= upper + 3 * se, (lower.value, upper, se)
    assert upper - lower.value < 0.12, (lower.value, upper)
    with pytest.raises(ValidationError, match="n_inner"):
        dual_upper_bound(lower.policy, outer, df, lambda t, x: x[:, 0], sample_next, np.array([s0]), n_inner=1)
