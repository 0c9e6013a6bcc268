"""The site's power price: a log-OU process around a level with calendar-month multipliers.

Seasonality is fitted when every calendar month is observed in at least two
years (and there are enough observations); otherwise the level is flat.
Spikes are not fitted: upward jumps of the log price are part of the OU noise.
"""

from __future__ import annotations

import math

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, delta_se, warn
from pivotmc.calibration.history import MIN_OBSERVATIONS, Series
from pivotmc.calibration.log_ou import fit_log_ou, log_ou_model, ou_notes, speed_sigma_estimates
from pivotmc.errors import ValidationError

__all__ = ["MONTHS", "fit_power"]

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def fit_power(
    series: Series, frequency: str, seasonality: bool | None, log: list[str]
) -> tuple[ModelFit, np.ndarray]:
    """The power model and its shocks: with monthly multipliers if ``seasonality`` (None: where the data allow)."""
    series.require("log-OU model", MIN_OBSERVATIONS["log_ou"])
    months = series.dates.astype("datetime64[M]").astype(np.int64)
    years_per_month = [len(np.unique(months[months % 12 == m] // 12)) for m in range(12)]
    possible = min(years_per_month) >= 2 and series.values.size >= MIN_OBSERVATIONS["seasonal"]
    seasonal = possible if seasonality is None else seasonality
    if seasonal and not possible:
        raise ValidationError(
            "power_price cannot be fitted with seasonality: every calendar month must be observed in at least "
            f"two years and there must be at least {MIN_OBSERVATIONS['seasonal']} observations."
        )
    if seasonality is None and not possible:
        warn(
            "power_price covers too little time for monthly seasonality (every month in two years); a flat level is fitted.",
            log,
        )
    return _fit(series, frequency, seasonal, log)


def _fit(series: Series, frequency: str, seasonal: bool, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    x = np.log(series.values)
    if seasonal:
        months = series.dates.astype("datetime64[M]").astype(np.int64) % 12
        basis = np.zeros((x.size, 12))
        basis[np.arange(x.size), months] = 1.0
    else:
        basis = np.ones((x.size, 1))
    p = basis.shape[1]
    fit = fit_log_ou(x, basis, series.dt)
    # Multipliers are normalised to a geometric mean of 1, so the long-run price is the
    # geometric mean of the twelve monthly levels.
    center = fit.beta.mean()
    level = math.exp(center)
    jac = np.zeros((1, p + 2))
    jac[0, :p] = level / p
    estimates = {
        "long_run_price": Estimate(
            level, delta_se(jac, fit.cov)[0], "USD/MWh", "long-run level before seasonality (median)", "power.long_run_price"
        ),
        **speed_sigma_estimates(fit, p, "", "power", "power price"),
    }
    if seasonal:
        mult = np.exp(fit.beta - center)
        jac = np.zeros((12, p + 2))
        jac[:, :12] = -mult[:, None] / 12.0
        jac[np.arange(12), np.arange(12)] += mult
        se = delta_se(jac, fit.cov)
        for m in range(12):
            estimates[f"seasonality_{MONTHS[m]}"] = Estimate(
                float(mult[m]), se[m], "1", f"multiplier of the level in {MONTHS[m].capitalize()}", "power.seasonality"
            )
    notes = ou_notes(fit, "power", log)
    if not seasonal:
        notes.append("flat seasonality (the level is the same in every month)")
    notes.append("no spikes: upward jumps in the log price are part of the OU noise")
    description = "log-OU of the power price around " + ("a monthly seasonal level" if seasonal else "a constant level")
    return log_ou_model("power", description, estimates, fit, series, frequency, notes), fit.shocks
