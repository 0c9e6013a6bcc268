"""Histories the calibration tests fit, and how a fit is judged.

The engine's own paths of every factor, exact Merton draws, random walks ending on a given
date, and the real history beside the repository. A recovered parameter must lie within
:data:`Z_TOL` standard errors (those the fit reports) of the truth; every history has a fixed seed.
"""

from __future__ import annotations

import math
from pathlib import Path
import warnings

import numpy as np
import pandas as pd
import pytest

import pivotmc
from pivotmc import CalibrationWarning, Scenario, calibrate
from pivotmc.model.plan import lower


Z_TOL = 3.0


#: Real history beside the repository; tests that read it skip where it is absent.
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


SEASON = (1.1, 1.05, 0.95, 0.9, 0.95, 1.1, 1.3, 1.35, 1.1, 0.95, 0.9, 1.0)


CORRELATION = (
    (1.0, 0.3, 0.1, 0.0, 0.2, 0.0),
    (0.3, 1.0, 0.0, 0.0, 0.0, 0.0),
    (0.1, 0.0, 1.0, 0.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 1.0, -0.2, -0.1),
    (0.2, 0.0, 0.0, -0.2, 1.0, 0.6),
    (0.0, 0.0, 0.0, -0.1, 0.6, 1.0),
)


DAILY = {
    "simulation.steps_per_year": 365,
    "simulation.horizon_years": 10,
    "strategies.evaluate": ["mine"],
    "btc.mu": 0.2,
    "btc.sigma": 0.45,
    "btc.jump_intensity": 6.0,
    "btc.jump_mean": -0.04,
    "btc.jump_sd": 0.12,
    "fees.initial_btc": 0.05,
    "power.seasonality": SEASON,
    "hosting.lease_speed": 1.0,
    "hashrate.growth": 0.05,
    "gpu.price": 2.0,
    "gpu.speed": 3.0,
    "correlation.matrix": CORRELATION,
}


MONTHLY = {
    "simulation.steps_per_year": 12,
    "simulation.horizon_years": 20,
    "strategies.evaluate": ["mine"],
    "btc.jump_intensity": 0.0,
    "power.seasonality": SEASON,
    "hosting.lease_speed": 1.0,
    "gpu.trend": -0.15,
    "gpu.sigma": 0.3,
    # No halving in the sample: a monthly value is dated mid-month while the engine's step
    # starts on the 1st, and half a month of the wrong subsidy would blur the hashrate fit.
    "protocol.halving_interval": 2_100_000,
    "protocol.initial_subsidy_btc": 3.125,
}


MERTON = {"mu": 0.2, "sigma": 0.45, "jump_intensity": 6.0, "jump_mean": -0.04, "jump_sd": 0.12}


def engine_paths(scenario: Scenario, seed: int) -> pd.DataFrame:
    """One simulated path of every factor, as the table an analyst would pass."""
    ds = pivotmc.simulate(scenario, n_paths=1, seed=seed, backend="reference", keep_paths=1)
    ends = ds.time.values
    starts = np.concatenate([[np.datetime64(scenario.simulation.start, "ns")], ends[:-1]])
    # The engine gives each step the seasonal level of the month holding its middle, so the
    # value is dated by that day (monthly steps: mid-month; daily: the day the step covers).
    dates = (starts + (ends - starts) / 2).astype("datetime64[D]")
    frame = pd.DataFrame({"date": dates})
    for name in ("btc_price", "fees", "hashrate", "power_price", "lease_rate", "gpu_price"):
        frame[name] = ds[name].values[0]
    return frame


def fit_history(frame: pd.DataFrame, scenario: Scenario, **kwargs):
    """Fit a simulated history against the scenario that made it: its own start date and values at
    t = 0, so the parameters given at t = 0 (the lease level, the network efficiency) are the ones simulated."""
    kwargs.setdefault("set_start", False)
    kwargs.setdefault("set_initial", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = calibrate(frame, scenario, fees_unit="block", **kwargs)
    return result, [str(w.message) for w in caught]


def true_values(scenario: Scenario) -> dict[tuple[str, str], float]:
    btc, fees, hr, power, host, gpu = (
        scenario.btc, scenario.fees, scenario.hashrate, scenario.power, scenario.hosting, scenario.gpu
    )
    geo = math.exp(np.mean(np.log(power.seasonality)))  # the fit normalises multipliers to a geometric mean of 1
    truth = {
        ("fees", "long_run_btc"): fees.long_run_btc,
        ("fees", "speed"): fees.speed,
        ("fees", "sigma"): fees.sigma,
        ("hashrate", "speed"): hr.speed,
        ("hashrate", "sigma"): hr.sigma,
        ("hashrate", "intercept"): hr.growth - hr.speed * math.log(lower(scenario).markup),
        ("power", "long_run_price"): power.long_run_price * geo,
        ("power", "speed"): power.speed,
        ("power", "sigma"): power.sigma,
        ("lease", "lease_long_run"): host.lease_long_run,
        ("lease", "lease_trend"): host.lease_trend,
        ("lease", "lease_speed"): host.lease_speed,
        ("lease", "lease_sigma"): host.lease_sigma,
        ("gpu", "long_run"): gpu.long_run,
        ("gpu", "trend"): gpu.trend,
        ("gpu", "speed"): gpu.speed,
        ("gpu", "sigma"): gpu.sigma,
    }
    for m, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")):
        truth[("power", f"seasonality_{name}")] = power.seasonality[m] / geo
    if btc.jump_intensity > 0:
        for key in ("mu", "sigma", "jump_intensity", "jump_mean", "jump_sd"):
            truth[("btc_merton", key)] = getattr(btc, key)
    else:
        truth[("btc_lognormal", "mu")] = btc.mu
        truth[("btc_lognormal", "sigma")] = btc.sigma
    return truth


def assert_recovered(result, model: str, parameter: str, true: float) -> None:
    est = result.models[model][parameter]
    assert math.isfinite(est.std_error) and est.std_error > 0
    assert abs(est.value - true) <= Z_TOL * est.std_error, (model, parameter, est.value, true, est.std_error)


def small_frame(n: int = 80, column: str = "power_price", step: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(1)
    values = 40 * np.exp(0.03 * rng.standard_normal(n).cumsum())
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq=step), column: values})


def merton_prices(seed: int, days: int = 15 * 365, start: str = "2010-01-01", **params) -> pd.DataFrame:
    """Daily closes from the exact Merton transition over steps of one day (1/365.25 year)."""
    p = {**MERTON, **params}
    rng = np.random.default_rng(seed)
    dt = 1.0 / 365.25
    kbar = math.exp(p["jump_mean"] + 0.5 * p["jump_sd"] ** 2) - 1.0
    counts = rng.poisson(p["jump_intensity"] * dt, days)
    jumps = counts * p["jump_mean"] + np.sqrt(counts) * p["jump_sd"] * rng.standard_normal(days)
    drift = (p["mu"] - 0.5 * p["sigma"] ** 2 - p["jump_intensity"] * kbar) * dt
    r = drift + p["sigma"] * math.sqrt(dt) * rng.standard_normal(days) + jumps
    price = 30_000.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    return pd.DataFrame({"date": pd.date_range(start, periods=days + 1, freq="D"), "btc_price": price})


def recent_history(end: str, days: int = 400, seed: int = 6) -> pd.DataFrame:
    """Daily BTC, fees, power and lease ending on ``end``: random walks around plausible levels."""
    rng = np.random.default_rng(seed)
    walk = lambda sd: np.exp(sd * rng.standard_normal(days).cumsum())  # noqa: E731
    return pd.DataFrame(
        {
            "date": pd.date_range(end=end, periods=days, freq="D"),
            "btc_price": 60_000.0 * walk(0.03),
            "fees": 0.03 * walk(0.02),
            "power_price": 40.0 * walk(0.01),
            "lease_rate": 130.0 * walk(0.002),
        }
    )


def quiet_calibrate(frame, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return calibrate(frame, fees_unit="block", power_seasonality=False, **kwargs)


needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="no ../shared/data beside the repository")


def real_series(name: str, column: str) -> pd.Series:
    return pd.read_csv(DATA / name, parse_dates=["date"]).set_index("date")[column]
