"""Exact transitions and inversion tables the plan is lowered with: the correlation factor, OU steps, Poisson counts."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["lower_cholesky_psd", "poisson_cdf_table", "ou_coefficients"]


def lower_cholesky_psd(matrix: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Lower-triangular ``L`` with ``L @ L.T == matrix`` for a positive semi-definite matrix.

    A plain Cholesky factorisation that sets a column to zero when its pivot
    vanishes, so singular (perfectly correlated) matrices are accepted. Being
    triangular, the first factor's shock depends on the first draw alone: BTC
    paths do not change when only the other correlations do.
    """
    a = np.asarray(matrix, dtype=np.float64)
    n = a.shape[0]
    low = np.zeros_like(a)
    for j in range(n):
        pivot = a[j, j] - low[j, :j] @ low[j, :j]
        if pivot <= tol:
            continue
        low[j, j] = math.sqrt(pivot)
        for i in range(j + 1, n):
            low[i, j] = (a[i, j] - low[i, :j] @ low[j, :j]) / low[j, j]
    return low


def poisson_cdf_table(mean: float) -> np.ndarray:
    """CDF of a Poisson law at 0, 1, 2, ... until it stops growing.

    A count is drawn by inversion as the number of entries below the uniform,
    so every backend gets the same count from the same uniform.
    """
    if mean <= 0.0:
        return np.ones(1)
    probability = math.exp(-mean)
    cdf = [probability]
    j = 0
    while True:
        j += 1
        probability *= mean / j
        nxt = cdf[-1] + probability
        if nxt <= cdf[-1] or probability == 0.0:
            break
        cdf.append(nxt)
    return np.array(cdf)


def ou_coefficients(speed: float, sigma: float, dt: float) -> tuple[float, float]:
    """Exact OU transition over ``dt``: decay factor and noise standard deviation."""
    decay = math.exp(-speed * dt)
    if speed * dt < 1e-12:
        return decay, sigma * math.sqrt(dt)
    return decay, sigma * math.sqrt(-math.expm1(-2.0 * speed * dt) / (2.0 * speed))
