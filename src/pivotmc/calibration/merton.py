"""The Merton jump-diffusion of the BTC price: its exact likelihood and its maximum.

Over a step ``dt`` the log return is a Poisson mixture of normals,
``sum_n Pois(n; lambda dt) N((mu - sigma^2/2 - lambda kbar) dt + n m_J, sigma^2 dt + n s_J^2)``;
the sum stops at the jump count beyond which the Poisson tail is below
:data:`POISSON_TAIL`. :func:`fit_merton` maximises it with L-BFGS-B (analytic
gradient, bounded, four starting points), the intensity free, bounded above or
fixed, with standard errors from the observed information.
"""

from __future__ import annotations

import math

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, covariance, delta_se, warn
from pivotmc.calibration.history import Series

__all__ = ["POISSON_TAIL", "fit_merton", "merton_loglik"]

#: The Poisson sum of the Merton density stops where the tail beyond it is below this.
POISSON_TAIL = 1e-12


def poisson_terms(mean: float) -> int:
    """Jump counts 0..N kept in the Merton density: the Poisson tail beyond N is below POISSON_TAIL."""
    from scipy import stats

    if mean <= 0.0:
        return 1
    return max(int(stats.poisson.isf(POISSON_TAIL, mean)) + 1, 4)


def merton_terms(theta: np.ndarray, r: np.ndarray, dt: np.ndarray):
    """Log of each Poisson component of the Merton transition density, and the pieces of its derivatives."""
    from scipy.special import gammaln

    mu, sigma, lam, jm, js = theta[0], math.exp(theta[1]), math.exp(theta[2]), theta[3], math.exp(theta[4])
    kbar = math.expm1(jm + 0.5 * js * js)
    counts = np.arange(poisson_terms(lam * float(dt.max())) + 1, dtype=np.float64)
    dtc = dt[:, None]
    mean = (mu - 0.5 * sigma * sigma - lam * kbar) * dtc + counts * jm
    var = sigma * sigma * dtc + counts * js * js
    log_weight = -lam * dtc + counts * np.log(lam * dtc) - gammaln(counts + 1.0)
    resid = r[:, None] - mean
    log_comp = log_weight - 0.5 * np.log(2.0 * math.pi * var) - 0.5 * resid * resid / var
    top = log_comp.max(axis=1)
    weights = np.exp(log_comp - top[:, None])
    total = weights.sum(axis=1)
    loglik_i = top + np.log(total)
    posterior = weights / total[:, None]
    return loglik_i, posterior, counts, resid, var, (mu, sigma, lam, jm, js, kbar)


def merton_loglik(theta: np.ndarray, r: np.ndarray, dt: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-likelihood of the Merton model and its gradient in (mu, ln sigma, ln lambda, m_J, ln s_J)."""
    loglik_i, post, counts, resid, var, (mu, sigma, lam, jm, js, kbar) = merton_terms(theta, r, dt)
    dtc = dt[:, None]
    d_mean = resid / var  # d log component / d mean
    d_var = 0.5 * (resid * resid / var - 1.0) / var  # d log component / d variance
    grad = np.array(
        [
            np.sum(post * d_mean * dtc),
            np.sum(post * (d_mean * (-sigma * dtc) + d_var * (2.0 * sigma * dtc))) * sigma,
            np.sum(post * ((counts - lam * dtc) + d_mean * (-kbar * lam * dtc))),
            np.sum(post * d_mean * (counts - lam * dtc * (kbar + 1.0))),
            np.sum(post * (d_mean * (-lam * dtc * (kbar + 1.0) * js) + d_var * (2.0 * counts * js))) * js,
        ]
    )
    return float(loglik_i.sum()), grad


def merton_starts(r: np.ndarray, dt: np.ndarray) -> list[np.ndarray]:
    """Starting points: robust diffusion scale, and jumps sized from the outliers it leaves."""
    z = r / np.sqrt(dt)
    center = np.median(z)
    scale = 1.4826 * np.median(np.abs(z - center))
    scale = max(scale, 1e-3)
    outlying = np.abs(z - center) > 4.0 * scale
    years = dt.sum()
    lam0 = max(outlying.sum() / years, 0.5)
    if outlying.sum() >= 2:
        jm0 = float(np.clip(np.mean(r[outlying]), -1.0, 1.0))
        js0 = float(np.clip(np.std(r[outlying]), 0.01, 1.5))
    else:
        jm0, js0 = 0.0, max(4.0 * scale * math.sqrt(float(np.median(dt))), 0.01)
    mu0 = float(np.clip(r.sum() / years + 0.5 * scale**2, -1.5, 1.5))
    starts = []
    for lam_factor, js_factor in ((1.0, 1.0), (4.0, 0.5), (0.25, 1.5), (15.0, 0.25)):
        lam = float(np.clip(lam0 * lam_factor, 0.01, 300.0))
        js = float(np.clip(js0 * js_factor, 0.005, 1.5))
        starts.append(np.array([mu0, math.log(scale), math.log(lam), jm0 if lam_factor <= 1 else 0.0, math.log(js)]))
    return starts


#: Search box in (mu, ln sigma, ln lambda, m_J, ln s_J): the scenario's own ranges, with small positive floors.
MERTON_BOUNDS = [
    (-2.0, 2.0),
    (math.log(1e-3), math.log(3.0)),
    (math.log(1e-3), math.log(365.0)),
    (-2.0, 2.0),
    (math.log(1e-3), math.log(2.0)),
]


def fit_merton(
    series: Series,
    frequency: str,
    log: list[str],
    fixed_intensity: float | None = None,
    max_intensity: float | None = None,
) -> tuple[ModelFit | None, np.ndarray | None, list[str]]:
    """Maximum likelihood of the Merton model, with the jump intensity free, bounded above or fixed.

    A fixed intensity is left out of the search; a bound replaces the upper end
    of the search box for ln lambda. Either way the other four parameters are
    fitted by the same likelihood. At an active bound the intensity is treated
    as fixed there: it gets no standard error, and the others get theirs from
    the information with the intensity held at the bound.
    """
    from scipy import optimize

    r = np.diff(np.log(series.values))
    dt = series.dt
    bounds = list(MERTON_BOUNDS)
    if max_intensity is not None:
        bounds[2] = (bounds[2][0], math.log(max_intensity))
    free = [0, 1, 3, 4] if fixed_intensity is not None else [0, 1, 2, 3, 4]
    free_bounds = [bounds[i] for i in free]

    def full(x: np.ndarray) -> np.ndarray:
        if fixed_intensity is None:
            return x
        return np.array([x[0], x[1], math.log(fixed_intensity), x[2], x[3]])

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = merton_loglik(full(x), r, dt)
        return -value, -grad[free]

    best = None
    with np.errstate(all="ignore"):
        for start in merton_starts(r, dt):
            start = np.array([np.clip(start[i], lo, hi) for i, (lo, hi) in zip(free, free_bounds, strict=True)])
            res = optimize.minimize(
                objective, start, jac=True, method="L-BFGS-B", bounds=free_bounds, options={"maxiter": 500}
            )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
    if best is None:
        warn("the Merton jump-diffusion could not be fitted to btc_price (no finite likelihood); the log-normal is used.", log)
        return None, None, []
    theta = full(best.x)
    loglik = -float(best.fun)
    mu, sigma, lam, jm, js = theta[0], math.exp(theta[1]), math.exp(theta[2]), theta[3], math.exp(theta[4])
    if fixed_intensity is not None:  # exactly the value given, and never a rounding above a bound
        lam = float(fixed_intensity)
    elif max_intensity is not None:
        lam = min(lam, float(max_intensity))
    names = ("mu", "sigma", "jump_intensity", "jump_mean", "jump_sd")
    notes = []
    held = fixed_intensity is not None
    if fixed_intensity is not None:
        notes.append(f"jump_intensity fixed at {fixed_intensity:g}/year (jump_intensity=); the other four fitted given it")
    elif max_intensity is not None and bounds[2][1] - theta[2] < 1e-6:
        held = True
        notes.append(
            f"jump_intensity at the bound max_jump_intensity = {max_intensity:g}/year: no standard error is given for it, "
            "and the others' are conditional on it"
        )
    # The search box's own limits; a user's bound on the intensity is not one of them.
    at_bound = [
        i
        for i, (v, (lo, hi)) in enumerate(zip(theta, MERTON_BOUNDS, strict=True))
        if min(v - lo, hi - v) < 1e-6 and not (i == 2 and held)
    ]
    if at_bound:
        which = ", ".join(names[i] for i in at_bound)
        notes.append(f"on the boundary of its range: {which}; standard errors are not given")

    # Observed information from differences of the analytic gradient, over the parameters not held.
    varied = [0, 1, 3, 4] if held else [0, 1, 2, 3, 4]
    h = 1e-5 * np.maximum(1.0, np.abs(theta))
    hess = np.empty((len(varied), len(varied)))
    with np.errstate(all="ignore"):
        for row, i in enumerate(varied):
            e = np.zeros(5)
            e[i] = h[i]
            hess[row] = (merton_loglik(theta + e, r, dt)[1][varied] - merton_loglik(theta - e, r, dt)[1][varied]) / (
                2.0 * h[i]
            )
    cov_varied = covariance(-hess) if not at_bound else None
    if cov_varied is None and not at_bound:
        notes.append("the observed information is not positive definite; standard errors are not given")
    cov = None
    if cov_varied is not None:
        cov = np.zeros((5, 5))
        cov[np.ix_(varied, varied)] = cov_varied
    se = delta_se(np.diag([1.0, sigma, lam, 1.0, js]), cov)
    if held:
        se[2] = math.nan

    # Diffusion shocks: E[Z | return], which leaves out what the jumps explain.
    _, post, counts, resid, var, _ = merton_terms(theta, r, dt)
    shocks = np.sum(post * resid / var, axis=1) * sigma * np.sqrt(dt)

    truncation = poisson_terms(lam * float(dt.max()))
    notes.append(f"density summed over 0..{truncation} jumps per interval (Poisson tail beyond < {POISSON_TAIL:g})")
    fit = ModelFit(
        name="btc_merton",
        factor="btc",
        description="Merton jump-diffusion, E[S_t] = S_0 exp(mu t)",
        estimates={
            "mu": Estimate(mu, se[0], "1/year", "expected annual log-drift of E[S]", "btc.mu"),
            "sigma": Estimate(sigma, se[1], "1/sqrt(year)", "diffusion volatility", "btc.sigma"),
            "jump_intensity": Estimate(lam, se[2], "1/year", "expected jumps per year (lambda)", "btc.jump_intensity"),
            "jump_mean": Estimate(jm, se[3], "log", "mean log jump size (m_J)", "btc.jump_mean"),
            "jump_sd": Estimate(js, se[4], "log", "standard deviation of the log jump size (s_J)", "btc.jump_sd"),
        },
        log_likelihood=loglik,
        n_obs=r.size,
        start=series.start,
        end=series.end,
        frequency=frequency,
        notes=tuple(notes),
    )
    return fit, shocks, [names[i] for i in at_bound]

