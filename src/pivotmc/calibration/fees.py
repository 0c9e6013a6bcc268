"""Transaction fees per block: a log-OU process around a constant level."""

from __future__ import annotations

import math

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, delta_se
from pivotmc.calibration.history import MIN_OBSERVATIONS, Series
from pivotmc.calibration.log_ou import fit_log_ou, log_ou_model, ou_notes, speed_sigma_estimates

__all__ = ["fit_fees"]


def fit_fees(series: Series, frequency: str, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    """The fees model and its shocks; fees in BTC per block."""
    series.require("log-OU model", MIN_OBSERVATIONS["log_ou"])
    x = np.log(series.values)
    basis = np.ones((x.size, 1))
    fit = fit_log_ou(x, basis, series.dt)
    level = math.exp(fit.beta[0])
    jac = np.zeros((1, 3))
    jac[0, 0] = level
    estimates = {
        "long_run_btc": Estimate(level, delta_se(jac, fit.cov)[0], "BTC/block", "long-run level (median)", "fees.long_run_btc"),
        **speed_sigma_estimates(fit, 1, "", "fees", "fees"),
    }
    description = "log-OU of fees per block around a constant level"
    return log_ou_model("fees", description, estimates, fit, series, frequency, ou_notes(fit, "fees", log)), fit.shocks
