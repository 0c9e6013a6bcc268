"""The AI lease rate: a log-OU process around a level drifting at a constant trend."""

from __future__ import annotations

import math

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, delta_se
from pivotmc.calibration.history import MIN_OBSERVATIONS, Series
from pivotmc.calibration.log_ou import fit_log_ou, log_ou_model, ou_notes, speed_sigma_estimates

__all__ = ["fit_lease"]


def fit_lease(series: Series, frequency: str, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    """The lease model and its shocks; its level is the long-run level at the scenario's start (t = 0)."""
    series.require("log-OU model", MIN_OBSERVATIONS["log_ou"])
    x = np.log(series.values)
    # Time from the scenario's start, so the fitted level is the long-run level at t = 0.
    basis = np.column_stack([np.ones(x.size), series.t])
    fit = fit_log_ou(x, basis, series.dt)
    level = math.exp(fit.beta[0])
    jac = np.zeros((2, 4))
    jac[0, 0] = level
    jac[1, 1] = 1.0
    se = delta_se(jac, fit.cov)
    estimates = {
        "lease_long_run": Estimate(
            level, se[0], "USD/kW-month", "long-run level at the scenario's start (median)", "hosting.lease_long_run"
        ),
        "lease_trend": Estimate(float(fit.beta[1]), se[1], "1/year", "drift of the long-run log level", "hosting.lease_trend"),
        **speed_sigma_estimates(fit, 2, "lease_", "hosting", "lease rate"),
    }
    notes = ou_notes(fit, "lease", log)
    if series.t[-1] < 0:
        notes.append("lease_long_run is extrapolated at the fitted trend from the last observation to the scenario's start")
    description = "log-OU of the lease rate around a level drifting at a constant trend"
    return log_ou_model("lease", description, estimates, fit, series, frequency, notes), fit.shocks

