"""What one fit gives: estimates with standard errors, the model fitted, and how it reports.

The numerical pieces every likelihood fit shares (a central-difference Hessian,
the inverse of the observed information, the delta method) live here too, as
does the one way calibration warns.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from pivotmc.errors import CalibrationWarning

__all__ = ["Estimate", "LikelihoodRatioTest", "ModelFit", "covariance", "delta_se", "fmt", "hessian", "warn"]


@dataclass(frozen=True)
class Estimate:
    """One fitted parameter.

    Attributes
    ----------
    value : float
        The estimate.
    std_error : float
        Its standard error (NaN where the fit cannot give one, e.g. on a boundary).
    unit : str
        Unit of ``value``.
    doc : str
        What the parameter is.
    parameter : str or None
        The dotted scenario parameter it sets, if any.
    """

    value: float
    std_error: float
    unit: str
    doc: str
    parameter: str | None = None

    def __post_init__(self) -> None:
        # Plain floats, whatever numpy scalar the fit produced: they print and compare simply.
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "std_error", float(self.std_error))


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Likelihood-ratio test of the Merton jump-diffusion against the log-normal.

    ``statistic = 2 (logL_merton - logL_lognormal)``, referred to a chi-square
    law with ``df = 3`` (the jump intensity, mean and standard deviation). The
    p-value is approximate: under the null the intensity sits on the boundary
    of its range (lambda = 0) and the jump mean and standard deviation are not
    identified, so the chi-square asymptotics do not strictly hold. On daily
    BTC data the statistic is far beyond any critical value, and the decision
    does not hinge on the approximation.
    """

    statistic: float
    df: int
    p_value: float
    level: float

    @property
    def warranted(self) -> bool:
        """Whether jumps are warranted at ``level``."""
        return bool(self.p_value < self.level)

    def __str__(self) -> str:
        verdict = "jumps warranted" if self.warranted else "jumps not warranted"
        return f"LR = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.3g}: {verdict} at the {self.level:g} level"


@dataclass(frozen=True)
class ModelFit:
    """The fit of one model to one series (or, for the hashrate, a few).

    Attributes
    ----------
    name : str
        ``btc_merton``, ``btc_lognormal``, ``fees``, ``hashrate``, ``power``, ``lease`` or ``gpu``.
    factor : str
        The scenario factor it calibrates.
    description : str
        The model in words.
    estimates : mapping of str to Estimate
        The parameters, by name.
    log_likelihood : float
        Log-likelihood at the estimates (conditional on the first observation).
    n_obs : int
        Intervals (returns, transitions) the fit used.
    start, end : datetime.date
        First and last date used.
    frequency : str
        ``daily``, ``weekly`` or ``monthly``.
    notes : tuple of str
        What the fit assumed or found worth saying.
    """

    name: str
    factor: str
    description: str
    estimates: Mapping[str, Estimate]
    log_likelihood: float
    n_obs: int
    start: _dt.date
    end: _dt.date
    frequency: str
    notes: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Estimate:
        return self.estimates[key]

    @property
    def span(self) -> str:
        """The sample span, ``YYYY-MM-DD to YYYY-MM-DD``."""
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def fmt(x: float | None) -> str:
    """An estimate as written in reports and notes: four significant digits, ``nan`` for none."""
    if x is None or not math.isfinite(x):
        return "nan"
    return f"{x:.4g}"


def warn(message: str, log: list[str]) -> None:
    """Record ``message`` in ``log`` and warn with it, pointing at the code that called calibration."""
    log.append(message)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("pivotmc.calibration."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, CalibrationWarning, stacklevel=level)


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    p = x.size
    out = np.empty((p, p))
    f0 = f(x)
    for i in range(p):
        ei = np.zeros(p)
        ei[i] = h[i]
        out[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(p)
            ej[j] = h[j]
            out[i, j] = out[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4.0 * h[i] * h[j])
    return out


def covariance(neg_hessian: np.ndarray) -> np.ndarray | None:
    """Inverse of the observed information, or None when it is not positive definite."""
    sym = 0.5 * (neg_hessian + neg_hessian.T)
    try:
        np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(sym)


def delta_se(jacobian: np.ndarray, cov: np.ndarray | None) -> np.ndarray:
    """Standard errors of transformed parameters (rows of ``jacobian``) by the delta method."""
    if cov is None:
        return np.full(jacobian.shape[0], np.nan)
    var = np.einsum("ij,jk,ik->i", jacobian, cov, jacobian)
    return np.sqrt(np.maximum(var, 0.0))
