"""Least-squares Monte Carlo (Longstaff-Schwartz) for Bermudan optimal stopping, and choice among actions.

:func:`optimal_stopping` learns an exercise policy by regressing realised
future values on functions of the state, backwards over the exercise dates,
and values that policy on paths it has not seen. Learning and valuing on the
same paths lets the regression peek at the future it is asked to predict,
which biases the value upwards; an independent valuation set gives a
low-biased estimate with an honest standard error. :func:`optimal_choice` does
the same where stopping means taking one of several actions, each with its
own exercise value.

The regression is kept well conditioned: each date's features are centred and
scaled on the paths it is fitted to, the basis is built on the scaled
features, and the least-squares problem is solved by SVD (``numpy.linalg.lstsq``),
never through normal equations on raw powers.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError

__all__ = ["optimal_stopping", "optimal_choice", "learn_policy", "dual_upper_bound", "StoppingResult", "ChoiceResult",
           "StoppingPolicy", "BASES"]

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
    """A learned exercise rule among one or more actions: per date, feature scaling and regression coefficients.

    With ``exercise_known`` (the usual case) one regression per date estimates
    the value of continuing, and a path stops where the best of its known
    exercise values (the first action paying the most) is at least that.
    Otherwise the exercise values themselves are only revealed later (they are
    realised future cash flows), and one regression per action and date
    estimates the *advantage* of taking that action now over following the
    policy later: a path takes the action whose estimated advantage is the
    largest (the first on a tie) where it is positive, which needs the features
    alone.
    """

    basis: str
    degree: int
    terms: tuple[tuple[int, ...], ...]
    centre: np.ndarray  # (dates, k)
    scale: np.ndarray  # (dates, k)
    # (actions, dates, n_terms); one row of continuation with exercise_known. NaN rows where no regression was
    # possible: never that action (never stop) at that date.
    coefficients: np.ndarray
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
        if not self.exercise_known:
            raise ValidationError("continuation() needs a policy learned with exercise_known=True; use advantages().")
        return self._estimates(date, features, np.inf)[:, 0]  # no rule learned: never stop here

    def advantage(self, date: int, features: np.ndarray, action: int = 0) -> np.ndarray:
        """Estimated gain of taking ``action`` at ``date`` over continuing, in money of that date (-inf: never)."""
        return self.advantages(date, features)[:, action]

    def advantages(self, date: int, features: np.ndarray) -> np.ndarray:
        """(paths, actions) estimated gain of each action at ``date`` over continuing, in money of that date.

        Only for policies learned with ``exercise_known=False``; ``-inf`` where
        no rule was learned for an action (never take it there).
        """
        if self.exercise_known:
            raise ValidationError("advantage() needs a policy learned with exercise_known=False; use continuation().")
        return self._estimates(date, features, -np.inf)

    def choose(self, date: int, features: np.ndarray) -> np.ndarray:
        """(paths,) the action each path takes at ``date``: the first largest advantage if positive, else -1."""
        adv = self.advantages(date, features)
        best = np.argmax(adv, axis=1)  # the first of equal maxima: only a strictly greater one replaces it
        return np.where(adv[np.arange(adv.shape[0]), best] > 0.0, best, -1)

    def _estimates(self, date: int, features: np.ndarray, unlearned: float) -> np.ndarray:
        """(paths, rows) the regressions at ``date`` on ``features``; ``unlearned`` where a row learned no rule."""
        coef = self.coefficients[:, date]
        out = np.full((features.shape[0], coef.shape[0]), unlearned)
        learned = ~np.isnan(coef).any(axis=1)
        if learned.any():
            design = self.design(date, features)
            for a in np.flatnonzero(learned):
                out[:, a] = design @ coef[a]
        return out

    def decisions(self, features: np.ndarray, exercise_values: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """First date each path stops under this policy and the action it takes there (-1, -1 where it never does).

        ``exercise_values`` (actions, dates, paths), or (dates, paths) for one
        action, is needed when the exercise values are known at the date, and
        ignored otherwise.
        """
        x = features if features.ndim == 3 else features[:, :, None]
        n_dates, n_paths = x.shape[:2]
        stop = np.full(n_paths, -1, dtype=np.int64)
        action = np.full(n_paths, -1, dtype=np.int64)
        alive = np.ones(n_paths, dtype=bool)
        if not self.exercise_known:
            for t in range(n_dates):
                idx = np.flatnonzero(alive)
                chosen = self.choose(t, x[t, idx])
                go = chosen >= 0
                stop[idx[go]] = t
                action[idx[go]] = chosen[go]
                alive[idx[go]] = False
            return stop, action
        pay = np.asarray(exercise_values)
        pay = pay if pay.ndim == 3 else pay[None]
        best_value, best_action = pay.max(axis=0), pay.argmax(axis=0)
        for t in range(n_dates):
            candidates = alive & (best_value[t] > 0.0)
            if t < n_dates - 1 and candidates.any():
                idx = np.flatnonzero(candidates)
                cont = self.continuation(t, x[t, idx])
                go = np.zeros(n_paths, dtype=bool)
                go[idx] = best_value[t, idx] >= cont
                candidates = go
            stop[candidates] = t
            action[candidates] = best_action[t, candidates]
            alive &= ~candidates
        return stop, action

    def stopping_dates(self, features: np.ndarray, exercise_values: np.ndarray | None = None) -> np.ndarray:
        """First date each path stops under this policy (-1 where it never does); see :meth:`decisions`."""
        return self.decisions(features, exercise_values)[0]


@dataclass(frozen=True)
class StoppingResult:
    """What :func:`optimal_stopping` returns."""

    value: float  # mean discounted payoff of the learned policy on the valuation paths
    value_se: float  # its standard error (independent valuation paths)
    stopping_date: np.ndarray  # per path (all paths, in input order), the date index it stops at, -1 if never
    valuation_paths: np.ndarray  # bool: which paths valued the policy (the others learned it)
    payoffs: np.ndarray  # discounted payoff of every path under the policy
    in_sample_value: float  # mean payoff on the learning paths (biased upwards; for diagnostics)
    policy: StoppingPolicy  # the learned rule, to apply elsewhere


@dataclass(frozen=True)
class ChoiceResult(StoppingResult):
    """What :func:`optimal_choice` returns: a :class:`StoppingResult` and, per path, the action taken (-1 never)."""

    action: np.ndarray


_COMMON_PARAMETERS = """
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
        Explicit choice of the valuation paths."""


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
        considered only where it pays more than zero.{common}

    Returns
    -------
    StoppingResult

    Notes
    -----
    At the last date a path stops whenever stopping pays. Earlier, it stops
    when the exercise value is at least the regression estimate of continuing.
    """
    x, pay, df = _inputs("optimal_stopping", features, exercise_values, discount_factors, actions=False)
    res = _learn_and_value(x, pay, df, basis, degree, train_fraction, itm_only, valuation, True)
    return StoppingResult(**{f.name: getattr(res, f.name) for f in dataclasses.fields(StoppingResult)})


def optimal_choice(
    features: np.ndarray,
    exercise_values: np.ndarray,
    discount_factors: np.ndarray,
    *,
    basis: str = "laguerre",
    degree: int = 3,
    train_fraction: float = 0.5,
    itm_only: bool = True,
    valuation: np.ndarray | None = None,
    exercise_known: bool = True,
) -> ChoiceResult:
    """Value a Bermudan choice among actions (stop by taking one of them, or wait) by least-squares Monte Carlo.

    Parameters
    ----------
    features : ndarray, shape (dates, paths, k) or (dates, paths)
        State at each exercise date, the regressors.
    exercise_values : ndarray, shape (actions, dates, paths)
        What taking each action at each date pays, in money of that date.{common}
    exercise_known : bool
        With ``True`` the exercise values are known at the date: one
        continuation regression per date (on the paths where some action pays
        more than zero, with ``itm_only``), and a path stops where the best
        action pays at least that (every path where some action pays at the
        last date). With ``False`` they are realised future cash flows: one
        regression per action and date of its advantage over following the
        policy later, and a path takes the action with the largest estimated
        advantage where it is positive (``itm_only`` does not apply).

    Returns
    -------
    ChoiceResult
        Valued on the valuation paths with the actions' exercise values there.
    """
    x, pay, df = _inputs("optimal_choice", features, exercise_values, discount_factors, actions=True)
    return _learn_and_value(x, pay, df, basis, degree, train_fraction, itm_only, valuation, exercise_known)


for _f in (optimal_stopping, optimal_choice):
    _f.__doc__ = _f.__doc__ and _f.__doc__.format(common=_COMMON_PARAMETERS)  # None under python -OO


def _learn_and_value(x, pay, df, basis, degree, train_fraction, itm_only, valuation, exercise_known) -> ChoiceResult:
    """Learn on the learning paths, then value on the valuation paths (``pay`` is (actions, dates, paths))."""
    _check_basis(basis, degree)
    n_paths = x.shape[1]
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
        raise ValidationError("there must be at least 2 learning and 2 valuation paths.")

    policy, in_sample = _backward_induction(x[:, train], pay[:, :, train], df, basis, degree, itm_only, exercise_known)
    stop_date, action = policy.decisions(x, pay)
    stopped = np.flatnonzero(stop_date >= 0)
    payoffs = np.zeros(n_paths)
    payoffs[stopped] = pay[action[stopped], stop_date[stopped], stopped] * df[stop_date[stopped]]
    out = payoffs[valuation]
    return ChoiceResult(
        value=float(out.mean()),
        value_se=float(out.std(ddof=1) / math.sqrt(out.size)),
        stopping_date=stop_date,
        valuation_paths=valuation,
        payoffs=payoffs,
        in_sample_value=in_sample,
        policy=policy,
        action=action,
    )


def _inputs(caller: str, features, exercise_values, discount_factors, actions: bool):
    """The three arrays as float64, features as (dates, paths, k) and exercise values as (actions, dates, paths),
    checked for shape, finiteness and sign; with ``actions`` exercise values may have either shape."""
    x = np.asarray(features, dtype=np.float64)
    pay = np.asarray(exercise_values, dtype=np.float64)
    df = np.asarray(discount_factors, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    shaped = pay.ndim == 2 or (actions and pay.ndim == 3 and pay.shape[0] >= 1)
    pay = pay[None] if pay.ndim == 2 else pay
    if not shaped or x.ndim != 3 or x.shape[:2] != pay.shape[1:] or df.shape != (pay.shape[1],):
        shape = "[actions, ]dates, paths" if actions else "dates, paths"
        raise ValidationError(
            f"{caller} needs features (dates, paths[, k]), exercise_values ({shape}) and "
            f"discount_factors (dates,) of matching sizes, got {x.shape}, {np.shape(exercise_values)}, {df.shape}."
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

    Parameters are those of :func:`optimal_choice`; ``exercise_values`` may be
    (actions, dates, paths) or, for one action, (dates, paths). Pass
    ``exercise_known=False`` when they are realised future cash flows rather
    than amounts known at the date (the switch strategy's case): each action's
    exercise value is then regressed too and the policy takes the action with
    the largest positive estimated advantage; ``itm_only`` does not apply.

    Returns
    -------
    (StoppingPolicy, float)
        The policy and its mean payoff on these same paths (biased upwards).
    """
    x, pay, df = _inputs("learn_policy", features, exercise_values, discount_factors, actions=True)
    _check_basis(basis, degree)
    return _backward_induction(x, pay, df, basis, degree, itm_only, exercise_known)


def _backward_induction(x, pay, df, basis, degree, itm_only, exercise_known) -> tuple[StoppingPolicy, float]:
    """The policy learned on ``x`` (dates, paths, k) and ``pay`` (actions, dates, paths), and its in-sample value."""
    n_actions, n_dates, n_paths = pay.shape
    k = x.shape[2]
    terms = tuple(_basis_terms(k, degree))
    centre = np.zeros((n_dates, k))
    scale = np.ones((n_dates, k))
    every = np.arange(n_paths)
    # Realised value of following the policy from each date on, in money of time 0.
    if exercise_known:
        best = pay.max(axis=0)  # the action that pays most is the one to take when stopping
        coefficients = np.full((1, n_dates, len(terms)), np.nan)
        realised = np.where(best[-1] > 0.0, best[-1] * df[-1], 0.0)
        last = n_dates - 2  # at the last date a known positive exercise value is always taken
    else:
        coefficients = np.full((n_actions, n_dates, len(terms)), np.nan)
        realised = np.zeros(n_paths)
        last = n_dates - 1
    for t in range(last, -1, -1):
        fit = (best[t] > 0.0) if (itm_only and exercise_known) else np.ones(n_paths, dtype=bool)
        if fit.sum() <= len(terms):
            continue
        state = x[t, fit]
        centre[t] = state.mean(axis=0)
        spread = state.std(axis=0)
        scale[t] = np.where(spread > 0.0, spread, 1.0)
        policy = StoppingPolicy(basis, degree, terms, centre, scale, coefficients, exercise_known)
        design = policy.design(t, state)
        if exercise_known:
            coefficients[0, t], *_ = np.linalg.lstsq(design, realised[fit] / df[t], rcond=None)
            stop = np.zeros(n_paths, dtype=bool)
            stop[np.flatnonzero(fit)] = best[t, fit] >= design @ coefficients[0, t]
            stop &= best[t] > 0.0
            realised = np.where(stop, best[t] * df[t], realised)
            continue
        # One regression per action of its advantage over following the policy later, on every path (one
        # factorisation of the design serves them all).
        target = pay[:, t] - realised / df[t]
        solution, *_ = np.linalg.lstsq(design, target.T if n_actions > 1 else target[0], rcond=None)
        coefficients[:, t] = solution.T if n_actions > 1 else solution
        fitted = np.stack([design @ coefficients[a, t] for a in range(n_actions)])
        chosen = np.argmax(fitted, axis=0)  # the first of equal maxima
        stop = fitted[chosen, every] > 0.0
        realised = np.where(stop, pay[chosen, t, every] * df[t], realised)
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

    ``policy`` was learned with known exercise values (``optimal_stopping(...).policy``);
    ``features`` (dates, paths[, k]) are states of outer paths independent of the learning
    paths; ``discount_factors`` as for :func:`optimal_stopping`; ``payoff(date, states)``
    with states (m, k) is what stopping pays (for several actions, the best of them), in
    money of the date; ``sample_next(date, states, n, generator)`` with states (m, k) at
    ``date - 1`` (at ``date = 0``, ``initial_state`` (k,) repeated) draws (n, m, k) states
    at ``date``; ``n_inner`` inner draws per outer state and date, seeded by ``seed``.
    Returns the upper bound and its standard error.
    """
    if not policy.exercise_known:
        raise ValidationError("dual_upper_bound needs a policy learned with a known exercise value.")
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    df = np.asarray(discount_factors, dtype=np.float64)
    n_dates, n_paths, k = x.shape
    if df.shape != (n_dates,) or policy.coefficients.shape[1] != n_dates:
        raise ValidationError("dual_upper_bound: features, discount_factors and the policy must have the same dates.")
    if isinstance(n_inner, bool) or not isinstance(n_inner, (int, np.integer)) or n_inner < 2:
        raise ValidationError(f"n_inner = {n_inner!r} is not allowed: it must be an integer >= 2.")
    gen = np.random.default_rng(seed)

    def value(t: int, states: np.ndarray) -> np.ndarray:
        h = np.asarray(payoff(t, states), dtype=np.float64)
        if t == n_dates - 1 or np.isnan(policy.coefficients[0, t]).any():
            return np.maximum(h, 0.0)
        return np.maximum(h, policy.design(t, states) @ policy.coefficients[0, t])

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
