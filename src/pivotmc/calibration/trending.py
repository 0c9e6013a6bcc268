"""Log-OU processes around a level drifting at a constant trend: the AI lease rate and the GPU rental
price, one model for both, as the engine simulates them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, delta_se
from pivotmc.calibration.history import MIN_OBSERVATIONS, Series
from pivotmc.calibration.log_ou import fit_log_ou, log_ou_model, ou_notes, speed_sigma_estimates
from pivotmc.model.factors import factor

__all__ = ["GPU", "LEASE", "Trending", "fit_trending"]


@dataclass(frozen=True)
class Trending:
    """A factor modelled as a log-OU around a trending level, and how its estimates are named.

    ``name`` is the factor (and model); its estimates are ``{prefix}long_run``,
    ``{prefix}trend``, ``{prefix}speed`` and ``{prefix}sigma``, and set the
    parameters of the same names in the factor's scenario section.
    """

    name: str
    prefix: str
    what: str  # the factor in words

    @property
    def column(self) -> str:
        """The history column of the factor."""
        return factor(self.name).column


LEASE = Trending("lease", "lease_", "lease rate")
GPU = Trending("gpu", "", "GPU rental price")


def fit_trending(spec: Trending, series: Series, frequency: str, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    """The model of ``spec`` and its shocks; its level is the long-run level at the scenario's start (t = 0)."""
    series.require("log-OU model", MIN_OBSERVATIONS["log_ou"])
    declared = factor(spec.name)
    section, prefix = declared.section, spec.prefix
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
        f"{prefix}long_run": Estimate(
            level, se[0], declared.units, "long-run level at the scenario's start (median)", f"{section}.{prefix}long_run"
        ),
        f"{prefix}trend": Estimate(
            float(fit.beta[1]), se[1], "1/year", "drift of the long-run log level", f"{section}.{prefix}trend"
        ),
        **speed_sigma_estimates(fit, 2, prefix, section, spec.what),
    }
    notes = ou_notes(fit, spec.name, log)
    if series.t[-1] < 0:
        notes.append(
            f"{prefix}long_run is extrapolated at the fitted trend from the last observation to the scenario's start"
        )
    description = f"log-OU of the {spec.what} around a level drifting at a constant trend"
    return log_ou_model(spec.name, description, estimates, fit, series, frequency, notes), fit.shocks

