"""Closed forms shared by the model's tests and the CUDA executor's (which runs the same checks through the host shim),
and the correlation matrices both use to compare executors."""

from __future__ import annotations

import math

import numpy as np

import pivotmc.random
from pivotmc.model.factors import N_FACTORS
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario

Z_TOL = 4.0  # standard errors allowed in every stochastic comparison


# a shot noise with Poisson(intensity) arrivals and exponential log-sizes Y of mean m:
#   E[X_t] = intensity m (1 - exp(-speed t)) / speed,
#   Var[X_t] = intensity E[Y^2] (1 - exp(-2 speed t)) / (2 speed), E[Y^2] = 2 m^2.
SPIKES_ONLY = {"power.sigma": 0.0, "power.price": 42.0, "power.spike_intensity": 6.0, "power.spike_mean_log": 0.5,
               "power.speed": 2.0, "strategies.evaluate": ["mine"], "simulation.horizon_years": 1.0}


def spike_moments(t, intensity: float = 6.0, mean_log: float = 0.5, speed: float = 2.0):
    """Exact mean and variance of the continuous-time spike part X_t."""
    mean = intensity * mean_log * -np.expm1(-speed * np.asarray(t)) / speed
    var = intensity * 2.0 * mean_log**2 * -np.expm1(-2.0 * speed * np.asarray(t)) / (2.0 * speed)
    return mean, var


def spike_part_at_horizon(run_chunk, steps_per_year: int, n: int, seed: int = 29, chunk: int = 2500) -> np.ndarray:
    """X at the end of the one-year horizon on ``n`` paths of a backend's ``run_chunk``.

    Paths are run in chunks that each keep all their trajectories, so memory
    stays at one chunk's whatever the step.
    """
    plan = lower(Scenario.default().with_overrides({**SPIKES_ONLY, "simulation.steps_per_year": steps_per_year}))
    assert plan.power_log_level.tolist() == [math.log(42.0)] * plan.n_steps and plan.power_dev0 == 0.0
    key = pivotmc.random.seed_key(seed)
    out = np.empty(n)
    for first in range(0, n, chunk):
        m = min(chunk, n - first)
        result = run_chunk(plan, key, first, m, first + m)
        out[first : first + m] = np.log(result.kept.factors["power_price"][:, -1]) - math.log(42.0)
    return out


def correlation_matrix(kind: str) -> list[list[float]]:
    """A correlation matrix of the declared factors in which every Cholesky entry counts.

    ``"dense"``: entries s_i s_j 0.3 x 0.8^|i - j| off the diagonal, signs s alternating in threes (the Schur
    product of two correlation matrices, so positive definite); ``"singular"``: the first two factors move as one
    and the next two are correlated at 0.5, the rest independent.
    """
    n = N_FACTORS
    i = np.arange(n)
    sign = np.where(i % 3 == 1, -1.0, 1.0)
    if kind == "dense":
        m = 0.3 * np.outer(sign, sign) * 0.8 ** np.abs(i[:, None] - i[None, :])
    else:
        m = np.zeros((n, n))
        m[0, 1] = m[1, 0] = 1.0
        m[2, 3] = m[3, 2] = 0.5
    np.fill_diagonal(m, 1.0)
    return m.tolist()
