"""The single-action learner as it was before the learner chose among actions, kept verbatim as a reference:
with one action the multi-action learner must give these numbers bit for bit."""

from __future__ import annotations

import math

import numpy as np

from pivotmc.policy.lsm import StoppingPolicy, _basis_terms


def learn(x, pay, df, basis, degree, itm_only, exercise_known):
    """(centre, scale, coefficients (dates, n_terms), terms, in-sample value) of ``pay`` (dates, paths)."""
    n_dates, n_paths, k = x.shape
    terms = tuple(_basis_terms(k, degree))
    centre = np.zeros((n_dates, k))
    scale = np.ones((n_dates, k))
    coefficients = np.full((n_dates, len(terms)), np.nan)
    if exercise_known:
        realised = np.where(pay[-1] > 0.0, pay[-1] * df[-1], 0.0)
        last = n_dates - 2
    else:
        realised = np.zeros(n_paths)
        last = n_dates - 1
    for t in range(last, -1, -1):
        fit = (pay[t] > 0.0) if (itm_only and exercise_known) else np.ones(n_paths, dtype=bool)
        if fit.sum() <= len(terms):
            continue
        state = x[t, fit]
        centre[t] = state.mean(axis=0)
        spread = state.std(axis=0)
        scale[t] = np.where(spread > 0.0, spread, 1.0)
        design = _design(basis, degree, terms, centre, scale, t, state)
        if exercise_known:
            target = realised[fit] / df[t]
        else:
            target = pay[t, fit] - realised[fit] / df[t]
        coefficients[t], *_ = np.linalg.lstsq(design, target, rcond=None)
        fitted = design @ coefficients[t]
        stop = np.zeros(n_paths, dtype=bool)
        stop[np.flatnonzero(fit)] = (pay[t, fit] >= fitted) if exercise_known else (fitted > 0.0)
        if exercise_known:
            stop &= pay[t] > 0.0
        realised = np.where(stop, pay[t] * df[t], realised)
    return centre, scale, coefficients, terms, float(realised.mean())


def _design(basis, degree, terms, centre, scale, t, state):
    return StoppingPolicy(basis, degree, terms, centre, scale, np.zeros((1, 1, 1))).design(t, state)


def estimate(basis, degree, terms, centre, scale, coefficients, date, features, unlearned):
    coef = coefficients[date]
    if np.isnan(coef).any():
        return np.full(features.shape[0], unlearned)
    return _design(basis, degree, terms, centre, scale, date, features) @ coef


def stopping_dates(basis, degree, terms, centre, scale, coefficients, exercise_known, x, pay=None):
    """First date each path stops (-1 never)."""
    args = (basis, degree, terms, centre, scale, coefficients)
    if not exercise_known:
        stop = np.full(x.shape[1], -1, dtype=np.int64)
        alive = np.ones(x.shape[1], dtype=bool)
        for t in range(x.shape[0]):
            idx = np.flatnonzero(alive)
            go = idx[estimate(*args, t, x[t, idx], -np.inf) > 0.0]
            stop[go] = t
            alive[go] = False
        return stop
    n_dates, n_paths = pay.shape
    stop = np.full(n_paths, -1, dtype=np.int64)
    alive = np.ones(n_paths, dtype=bool)
    for t in range(n_dates):
        candidates = alive & (pay[t] > 0.0)
        if t < n_dates - 1 and candidates.any():
            idx = np.flatnonzero(candidates)
            cont = estimate(*args, t, x[t, idx], np.inf)
            go = np.zeros(n_paths, dtype=bool)
            go[idx] = pay[t, idx] >= cont
            candidates = go
        stop[candidates] = t
        alive &= ~candidates
    return stop


def exercise_boundary(advantage, features, quantiles, grid_points=2001):
    """The two-way switch's boundary: ``advantage(date, state)`` of converting, states (m, 3)."""
    n_dates = features.shape[0]
    x = np.asarray(features, dtype=np.float64)
    hashprice = np.empty((n_dates, quantiles.size))
    lease = np.full((n_dates, quantiles.size), np.nan)
    power = np.empty(n_dates)
    for d in range(n_dates):
        log_hp = np.quantile(x[d, :, 0], quantiles)
        lo, hi = np.quantile(x[d, :, 1], [0.001, 0.999])
        grid = np.linspace(lo - math.log(4.0), hi + math.log(4.0), grid_points)
        log_power = float(np.median(x[d, :, 2]))
        hashprice[d] = np.exp(log_hp)
        power[d] = math.exp(log_power)
        for i, h in enumerate(log_hp):
            state = np.column_stack([np.full(grid.size, h), grid, np.full(grid.size, log_power)])
            adv = advantage(d, state)
            good = adv > 0.0
            if not good.any():
                continue
            first = int(np.argmax(good))
            if first == 0:
                lease[d, i] = math.exp(grid[0])
                continue
            a0, a1 = adv[first - 1], adv[first]
            w = a0 / (a0 - a1) if a1 != a0 else 1.0
            lease[d, i] = math.exp(grid[first - 1] + w * (grid[first] - grid[first - 1]))
    return hashprice, lease, power
