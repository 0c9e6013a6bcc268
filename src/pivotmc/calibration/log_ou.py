"""Log-OU processes around a level linear in parameters, by exact likelihood: the engine of the
fees, power, lease and GPU fits.

``x_t = basis_t @ beta + d_t`` with ``d`` an Ornstein-Uhlenbeck process: the
transition over each interval's own step is known in closed form, so gaps cost
nothing but information. A model is its basis (a constant, twelve calendar
months, a line in time) fed to :func:`fit_log_ou`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, covariance, delta_se, hessian, warn
from pivotmc.calibration.history import Series

__all__ = ["OuFit", "fit_log_ou", "log_ou_model", "ou_notes", "speed_sigma_estimates"]


@dataclass
class OuFit:
    """The maximum of the likelihood: level parameters, speed, volatility, and the shocks."""

    beta: np.ndarray
    speed: float
    sigma: float
    cov: np.ndarray | None  # of (beta..., ln speed, ln sigma)
    loglik: float
    shocks: np.ndarray
    speed_at_bound: str | None


def _ou_pieces(x: np.ndarray, basis: np.ndarray, dt: np.ndarray, speed: float):
    decay = np.exp(-speed * dt)
    # Exact OU transition variance per unit sigma^2; the random-walk limit for tiny speed * dt.
    scaled_var = np.where(speed * dt > 1e-10, -np.expm1(-2.0 * speed * dt) / (2.0 * speed), dt)
    y = x[1:] - decay * x[:-1]
    design = basis[1:] - decay[:, None] * basis[:-1]
    return y, design, scaled_var


def _ou_profile(x, basis, dt, speed) -> tuple[float, np.ndarray, float, np.ndarray, np.ndarray]:
    """Log-likelihood maximised over the level parameters and sigma at a given speed.

    Returns the log-likelihood, beta, sigma squared, and the residuals and transition
    variances per unit sigma squared they come from.
    """
    y, design, scaled_var = _ou_pieces(x, basis, dt, speed)
    root = np.sqrt(scaled_var)
    a, b = design / root[:, None], y / root
    gram = a.T @ a
    # Normal equations are ten times faster than an SVD here; the SVD is kept for the
    # near-singular case (a speed near zero leaves a constant level unidentified).
    if np.linalg.cond(gram) < 1e10:
        beta = np.linalg.solve(gram, a.T @ b)
    else:
        beta = np.linalg.lstsq(a, b, rcond=None)[0]
    resid = y - design @ beta
    var = float(np.mean(resid**2 / scaled_var))
    n = y.size
    loglik = -0.5 * (n * math.log(2.0 * math.pi * var) + float(np.sum(np.log(scaled_var))) + n)
    return loglik, beta, var, resid, scaled_var


def _ou_loglik(theta: np.ndarray, x, basis, dt) -> float:
    p = basis.shape[1]
    beta, speed, sigma = theta[:p], math.exp(theta[p]), math.exp(theta[p + 1])
    y, design, scaled_var = _ou_pieces(x, basis, dt, speed)
    resid = y - design @ beta
    var = sigma * sigma * scaled_var
    return -0.5 * float(np.sum(np.log(2.0 * math.pi * var) + resid * resid / var))


def fit_log_ou(x: np.ndarray, basis: np.ndarray, dt: np.ndarray) -> OuFit:
    """Exact-likelihood fit of ``x_t = basis_t @ beta + d_t`` with ``d`` an OU process.

    The likelihood is profiled over beta (weighted least squares) and sigma
    (closed form), leaving a one-dimensional search over the speed: a grid,
    then Brent's method between the grid neighbours of the best point.
    """
    from scipy import optimize

    lo = 1e-3
    hi = min(1e4, 40.0 / float(np.median(dt)))
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 90))
    values = np.array([_ou_profile(x, basis, dt, k)[0] for k in grid])
    i = int(np.nanargmax(values))
    at_bound = "lower" if i == 0 else "upper" if i == grid.size - 1 else None
    if at_bound is None:
        res = optimize.minimize_scalar(
            lambda lk: -_ou_profile(x, basis, dt, math.exp(lk))[0],
            bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-8},
        )
        speed = math.exp(res.x)
    else:
        speed = float(grid[i])
    loglik, beta, var, resid, scaled_var = _ou_profile(x, basis, dt, speed)
    sigma = math.sqrt(var)
    theta = np.concatenate([beta, [math.log(speed), math.log(sigma)]])
    cov = None
    if at_bound is None:
        h = 1e-4 * np.maximum(1.0, np.abs(theta))
        hess = hessian(lambda th: _ou_loglik(th, x, basis, dt), theta, h)
        cov = covariance(-hess)
    shocks = resid / (sigma * np.sqrt(scaled_var))
    return OuFit(beta=beta, speed=speed, sigma=sigma, cov=cov, loglik=loglik, shocks=shocks, speed_at_bound=at_bound)


def ou_notes(fit: OuFit, name: str, log: list[str]) -> list[str]:
    """What a fit's notes say of its speed and standard errors; a speed on a bound is warned of too."""
    notes = []
    if fit.speed_at_bound is not None:
        warn(
            f"{name}: the mean-reversion speed is on the {fit.speed_at_bound} bound of the range searched; "
            "standard errors are not given.",
            log,
        )
    if fit.speed_at_bound == "lower":
        notes.append("no mean reversion within the sample (speed at its lower bound); standard errors are not given")
    elif fit.speed_at_bound == "upper":
        notes.append("close to white noise at this frequency (speed at its upper bound); standard errors are not given")
    elif fit.cov is None:
        notes.append("the observed information is not positive definite; standard errors are not given")
    return notes


def speed_sigma_estimates(fit: OuFit, p: int, prefix: str, section: str, what: str) -> dict[str, Estimate]:
    """The speed and volatility estimates of a fit with ``p`` level parameters, named ``{prefix}speed``
    and ``{prefix}sigma`` after the scenario's ``section``."""
    jac = np.zeros((2, p + 2))
    jac[0, p] = fit.speed
    jac[1, p + 1] = fit.sigma
    se = delta_se(jac, fit.cov)
    return {
        f"{prefix}speed": Estimate(fit.speed, se[0], "1/year", "mean-reversion speed", f"{section}.{prefix}speed"),
        f"{prefix}sigma": Estimate(fit.sigma, se[1], "1/sqrt(year)", f"volatility of log {what}", f"{section}.{prefix}sigma"),
    }


def log_ou_model(
    name: str, description: str, estimates: dict, fit: OuFit, series: Series, frequency: str, notes: list[str]
) -> ModelFit:
    """The :class:`ModelFit` of a log-OU factor (fees, power, lease, GPU): one observation is lost to the lag."""
    return ModelFit(
        name=name,
        factor=name,
        description=description,
        estimates=estimates,
        log_likelihood=fit.loglik,
        n_obs=series.values.size - 1,
        start=series.start,
        end=series.end,
        frequency=frequency,
        notes=tuple(notes),
    )

