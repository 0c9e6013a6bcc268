"""Least-squares Monte Carlo (Longstaff-Schwartz) for Bermudan optimal stopping.

:func:`optimal_stopping` learns an exercise policy by regressing realised
future values on functions of the state, backwards over the exercise dates,
and values that policy on paths it has not seen. Learning and valuing on the
same paths lets the regression peek at the future it is asked to predict,
which biases the value upwards; an independent valuation set gives a
low-biased estimate with an honest standard error.

The regression is kept well conditioned: each date's features are centred and
scaled on the paths it is fitted to, the basis is built on the scaled
features, and the least-squares problem is solved by SVD (``numpy.linalg.lstsq``),
never through normal equations on raw powers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError

__all__ = ["optimal_stopping", "learn_policy", "dual_upper_bound", "StoppingResult", "StoppingPolicy", "BASES"]

BASES = ("laguerre", "polynomial")


def _basis_terms(k: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of every product of per-feature terms with total degree <= degree."""
    return [e for e in itertools.product(range(degree + 1), repeat=k) if sum(e) <= degree]


def _univariate(x: np.ndarray, degree: int, basis: str) -> list[np.ndarray]:
    """Per-feature terms of order 0..degree."""
    if basis == "polynomial":
        out = [np.ones_like(x)]
        for _ in range(degree):
            out.append(out[-1] * x)
        return out
    # Laguerre polynomials by their three-term recurrence, on the scaled feature.
    out = [np.ones_like(x), 1.0 - x]
    for n in range(1, degree):
        out.append(((2 * n + 1 - x) * out[n] - n * out[n - 1]) / (n + 1))
    return out[: degree + 1]


@dataclass(frozen=True)
class StoppingPolicy:
    """A learned exercise rule: per date, feature scaling and regression coefficients.

    With ``exercise_known`` (the usual case) the regression estimates the value
    of continuing, and a path stops where its known exercise value is at least
    that. Otherwise the exercise value itself is only revealed later (it is a
    realised future cash flow), and the regression estimates the *advantage*
    of stopping now over following the policy later: a path stops where it is
    positive, which needs the features alone.
    """

    basis: str
    degree: int
    terms: tuple[tuple[int, ...], ...]
    centre: np.ndarray  # (dates, k)
    scale: np.ndarray  # (dates, k)
    coefficients: np.ndarray  # (dates, n_terms); NaN rows where no regression was possible
    exercise_known: bool = True

    def design(self, date: int, features: np.ndarray) -> np.ndarray:
        """The regression matrix of ``features`` (paths, k) at ``date``."""
        x = (features - self.centre[date]) / self.scale[date]
        if self.basis == "laguerre":
            x = x + 1.0  # Laguerre polynomials are natural on a non-negative range; shift the centred feature
        per_feature = [_univariate(x[:, i], self.degree, self.basis) for i in range(x.shape[1])]
        cols = []
        for term in self.terms:
            col = np.ones(x.shape[0])
            for i, power in enumerate(term):
                if power:
                    col = col * per_feature[i][power]
            cols.append(col)
        return np.column_stack(cols)

    def continuation(self, date: int, features: np.ndarray) -> np.ndarray:
        """Estimated value of continuing at ``date``, in money of that date."""
        return self._estimate(date, features, np.inf)  # no rule learned: never stop here

    def advantage(self, date: int, features: np.ndarray) -> np.ndarray:
        """Estimated gain of stopping at ``date`` over continuing, in money of that date.

        Only for policies learned with ``exercise_known=False``; ``-inf`` where
        no rule was learned (never stop there).
        """
        if self.exercise_known:
            raise ValidationError("advantage() needs a policy learned with exercise_known=False; use continuation().")
        return self._estimate(date, features, -np.inf)

    def advantages(self, date: int, features: np.ndarray) -> np.ndarray:
        """(paths, actions) estimated gain of each action at ``date`` over continuing (one action here)."""
        return self.advantage(date, features)[:, None]

    def _estimate(self, date: int, features: np.ndarray, unlearned: float) -> np.ndarray:
        """The regression at ``date`` on ``features``; ``unlearned`` for every path where no rule was learned."""
        coef = self.coefficients[date]
        if np.isnan(coef).any():
            return np.full(features.shape[0], unlearned)
        return self.design(date, features) @ coef

    def stopping_dates(self, features: np.ndarray, exercise_values: np.ndarray | None = None) -> np.ndarray:
        """First date each path stops under this policy (-1 where it never does).

        ``exercise_values`` (dates, paths) is needed when the exercise value is
        known at the date, and ignored otherwise.
        """
        if not self.exercise_known:
            x = features if features.ndim == 3 else features[:, :, None]
            stop = np.full(x.shape[1], -1, dtype=np.int64)
            alive = np.ones(x.shape[1], dtype=bool)
            for t in range(x.shape[0]):
                idx = np.flatnonzero(alive)
                go = idx[self.advantage(t, x[t, idx]) > 0.0]
                stop[go] = t
                alive[go] = False
            return stop
        n_dates, n_paths = exercise_values.shape
        stop = np.full(n_paths, -1, dtype=np.int64)
        alive = np.ones(n_paths, dtype=bool)
        for t in range(n_dates):
            candidates = alive & (exercise_values[t] > 0.0)
            if t < n_dates - 1 and candidates.any():
                idx = np.flatnonzero(candidates)
                cont = self.continuation(t, features[t, idx])
                go = np.zeros(n_paths, dtype=bool)
                go[idx] = exercise_values[t, idx] >= cont
                candidates = go
            stop[candidates] = t
            alive &= ~candidates
        return stop


@dataclass(frozen=True)
class StoppingResult:
    """What :func:`optimal_stopping` returns.

    Attributes
    ----------
    value : float
        Mean discounted payoff of the learned policy on the valuation paths.
    value_se : float
        Its standard error (independent valuation paths).
    stopping_date : ndarray of int
        Per path (all paths, in input order), the index of the date it stops at, -1 if never.
    valuation_paths : ndarray of bool
        Which paths valued the policy (the others learned it).
    payoffs : ndarray
        Discounted payoff of every path under the policy.
    in_sample_value : float
        Mean payoff on the learning paths (biased upwards; for diagnostics).
    policy : StoppingPolicy
        The learned rule, to apply elsewhere.
    """

    value: float
    value_se: float
    stopping_date: np.ndarray
    valuation_paths: np.ndarray
    payoffs: np.ndarray
    in_sample_value: float
    policy: StoppingPolicy


def optimal_stopping(
    features: np.ndarray,
    exercise_values: np.ndarray,
    discount_factors: np.ndarray,
    *,
    basis: str = "laguerre",
    degree: int = 3,
    train_fraction: float = 0.5,
    itm_only: bool = True,
    valuation: np.ndarray | None = None,
) -> StoppingResult:
    """Value a Bermudan stopping problem by least-squares Monte Carlo.

    Parameters
    ----------
    features : ndarray, shape (dates, paths, k) or (dates, paths)
        State at each exercise date, the regressors of the continuation value.
    exercise_values : ndarray, shape (dates, paths)
        What stopping at each date pays, in money of that date. Stopping is
        considered only where it pays more than zero.
    discount_factors : ndarray, shape (dates,)
        Discount factor of each date to time 0 (positive).
    basis : {"laguerre", "polynomial"}
        Family of the regression functions; all products of per-feature terms
        up to total degree ``degree`` are used.
    degree : int
        Highest total degree of the basis.
    train_fraction : float
        Share of paths that learn the policy (the first ones); the rest value
        it. Ignored when ``valuation`` is given.
    itm_only : bool
        Regress only on paths where stopping pays (as Longstaff and Schwartz).
    valuation : ndarray of bool, shape (paths,), optional
        Explicit choice of the valuation paths.

    Returns
    -------
    StoppingResult

    Notes
    -----
    At the last date a path stops whenever stopping pays. Earlier, it stops
    when the exercise value is at least the regression estimate of continuing.
    """
    x, pay, df = _inputs("optimal_stopping", features, exercise_values, discount_factors)
    _check_basis(basis, degree)
    n_dates, n_paths, k = x.shape
    if valuation is None:
        if not 0.0 < train_fraction < 1.0:
            raise ValidationError(f"train_fraction = {train_fraction!r} is not allowed: it must be in (0, 1).")
        n_train = int(round(train_fraction * n_paths))
        valuation = np.arange(n_paths) >= n_train
    valuation = np.asarray(valuation, dtype=bool)
    if valuation.shape != (n_paths,) or valuation.all() or not valuation.any():
        raise ValidationError("there must be both learning and valuation paths.")
    train = ~valuation
    if train.sum() < 2 or valuation.sum() < 2:
        raise ValidationError("optimal_stopping needs at least 2 learning and 2 valuation paths.")

    policy, in_sample = _backward_induction(x[:, train], pay[:, train], df, basis, degree, itm_only, True)
    stop_date = policy.stopping_dates(x, pay)
    stopped = stop_date >= 0
    payoffs = np.zeros(n_paths)
    payoffs[stopped] = pay[stop_date[stopped], np.flatnonzero(stopped)] * df[stop_date[stopped]]
    out = payoffs[valuation]
    return StoppingResult(
        value=float(out.mean()),
        value_se=float(out.std(ddof=1) / math.sqrt(out.size)),
        stopping_date=stop_date,
        valuation_paths=valuation,
        payoffs=payoffs,
        in_sample_value=in_sample,
        policy=policy,
    )


def _inputs(caller: str, features, exercise_values, discount_factors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arrays as float64, features as (dates, paths, k), checked for shape, finiteness and sign."""
    x = np.asarray(features, dtype=np.float64)
    pay = np.asarray(exercise_values, dtype=np.float64)
    df = np.asarray(discount_factors, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if pay.ndim != 2 or x.ndim != 3 or x.shape[:2] != pay.shape or df.shape != (pay.shape[0],):
        raise ValidationError(
            f"{caller} needs features (dates, paths[, k]), exercise_values (dates, paths) and "
            f"discount_factors (dates,) of matching sizes, got {x.shape}, {pay.shape}, {df.shape}."
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(pay)) and np.all(np.isfinite(df))):
        raise ValidationError(f"{caller} inputs must be finite (no NaN or inf).")
    if np.any(df <= 0):
        raise ValidationError("discount_factors must be positive.")
    return x, pay, df


def _check_basis(basis: str, degree) -> None:
    if basis not in BASES:
        raise ValidationError(f"basis = {basis!r} is not allowed: it must be one of {', '.join(BASES)}.")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise ParameterTypeError(f"degree must be an integer, got {degree!r}.")
    if not 0 <= degree <= 8:
        raise ValidationError(f"degree = {degree} is not allowed: it must be an integer in [0, 8].")


def learn_policy(
    features: np.ndarray,
    exercise_values: np.ndarray,
    discount_factors: np.ndarray,
    *,
    basis: str = "laguerre",
    degree: int = 3,
    itm_only: bool = True,
    exercise_known: bool = True,
) -> tuple[StoppingPolicy, float]:
    """Learn an exercise policy on every given path, by backward induction.

    Parameters are those of :func:`optimal_stopping`, plus ``exercise_known``:
    pass ``False`` when ``exercise_values`` are realised future cash flows
    rather than amounts known at the date (the switch strategy's case). The
    exercise value is then regressed too and the policy stops where the
    estimated advantage of stopping is positive; ``itm_only`` does not apply.

    Returns
    -------
    (StoppingPolicy, float)
        The policy and its mean payoff on these same paths (biased upwards).
    """
    x, pay, df = _inputs("learn_policy", features, exercise_values, discount_factors)
    _check_basis(basis, degree)
    return _backward_induction(x, pay, df, basis, degree, itm_only, exercise_known)


def _backward_induction(x, pay, df, basis, degree, itm_only, exercise_known) -> tuple[StoppingPolicy, float]:
    n_dates, n_paths, k = x.shape
    terms = tuple(_basis_terms(k, degree))
    centre = np.zeros((n_dates, k))
    scale = np.ones((n_dates, k))
    coefficients = np.full((n_dates, len(terms)), np.nan)
    # Realised value of following the policy from each date on, in money of time 0.
    if exercise_known:
        realised = np.where(pay[-1] > 0.0, pay[-1] * df[-1], 0.0)
        last = n_dates - 2  # at the last date a known positive exercise value is always taken
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
        policy = StoppingPolicy(basis, degree, terms, centre, scale, coefficients, exercise_known)
        design = policy.design(t, state)
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
    policy = StoppingPolicy(basis, degree, terms, centre, scale, coefficients, exercise_known)
    return policy, float(realised.mean())


def dual_upper_bound(
    policy: StoppingPolicy,
    features: np.ndarray,
    discount_factors: np.ndarray,
    payoff,
    sample_next,
    initial_state: np.ndarray,
    *,
    n_inner: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """An upper bound on the value of a Bermudan stopping problem, by duality.

    For any martingale ``M`` with ``M_0 = 0``, ``E[max_t (D_t h_t - M_t)]`` is at
    least the value of every stopping rule, the optimal one included (Rogers
    2002; Haugh and Kogan 2004). The martingale is built from the value the
    learned policy implies, ``V_t = max(h_t, C_t)`` (``max(h_T, 0)`` at the last
    date): its increment at date t is ``D_t V_t(X_t)`` minus the mean of
    ``D_t V_t`` over ``n_inner`` states drawn from ``X_{t-1}`` independently of
    ``X_t``. Its conditional mean is zero, so the bound holds whatever the
    quality of ``V`` or the number of inner draws, which only decide how tight
    it is. With the policy's value (a lower bound) the gap brackets the true
    value.

    Parameters
    ----------
    policy : StoppingPolicy
        A policy learned with a known exercise value (``optimal_stopping(...).policy``).
    features : ndarray, shape (dates, paths, k) or (dates, paths)
        States of outer paths independent of the learning paths.
    discount_factors : ndarray, shape (dates,)
        As for :func:`optimal_stopping`.
    payoff : callable
        ``payoff(date, states)`` with states (m, k): what stopping pays, in money of the date.
    sample_next : callable
        ``sample_next(date, states, n, generator)`` with states (m, k) at ``date - 1``
        (at ``date = 0``, the initial state repeated): (n, m, k) states at ``date``.
    initial_state : ndarray, shape (k,)
        The state at time 0.
    n_inner : int
        Inner draws per outer state and date.
    seed : int
        Seed of the inner draws.

    Returns
    -------
    (float, float)
        The upper bound and its standard error.
    """
    if not policy.exercise_known:
        raise ValidationError("dual_upper_bound needs a policy learned with a known exercise value.")
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    df = np.asarray(discount_factors, dtype=np.float64)
    n_dates, n_paths, k = x.shape
    if df.shape != (n_dates,) or policy.coefficients.shape[0] != n_dates:
        raise ValidationError("dual_upper_bound: features, discount_factors and the policy must have the same dates.")
    if isinstance(n_inner, bool) or not isinstance(n_inner, (int, np.integer)) or n_inner < 2:
        raise ValidationError(f"n_inner = {n_inner!r} is not allowed: it must be an integer >= 2.")
    gen = np.random.default_rng(seed)

    def value(t: int, states: np.ndarray) -> np.ndarray:
        h = np.asarray(payoff(t, states), dtype=np.float64)
        if t == n_dates - 1 or np.isnan(policy.coefficients[t]).any():
            return np.maximum(h, 0.0)
        return np.maximum(h, policy.design(t, states) @ policy.coefficients[t])

    previous = np.broadcast_to(np.asarray(initial_state, dtype=np.float64).reshape(1, k), (n_paths, k))
    martingale = np.zeros(n_paths)
    best = np.full(n_paths, -np.inf)
    for t in range(n_dates):
        inner = np.asarray(sample_next(t, previous, n_inner, gen), dtype=np.float64).reshape(n_inner, n_paths, k)
        expected = value(t, inner.reshape(-1, k)).reshape(n_inner, n_paths).mean(axis=0)
        martingale += df[t] * (value(t, x[t]) - expected)
        best = np.maximum(best, df[t] * np.asarray(payoff(t, x[t]), dtype=np.float64) - martingale)
        previous = x[t]
    best = np.maximum(best, -martingale)  # never stopping pays nothing
    return float(best.mean()), float(best.std(ddof=1) / math.sqrt(n_paths))
