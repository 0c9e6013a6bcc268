"""The GPU rental factor and the ``cloud`` strategy against closed forms and hand computations (reference executor).

Stochastic checks have a fixed seed and a tolerance in standard errors (``Z_TOL``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pivotmc
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario
from pivotmc.model.units import HOURS_PER_YEAR

from closed_forms import Z_TOL

STATIC = ["mine", "host", "hybrid", "cloud"]


def _run(overrides: dict, n: int, seed: int = 7, keep: int | None = None, backend: str = "reference"):
    scenario = Scenario.default().with_overrides({"strategies.evaluate": STATIC, **overrides})
    return pivotmc.simulate(scenario, n_paths=n, seed=seed, backend=backend, keep_paths=n if keep is None else keep)


def _within(sample: np.ndarray, expected: float, tol: float = Z_TOL) -> None:
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= tol * se, (sample.mean(), expected, se)


# --------------------------------------------------------------------------- #
# The factor: a log-OU around a trending level, exact for any step
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("steps_per_year", [12, 52])
def test_gpu_price_log_ou_around_a_trending_level(steps_per_year):
    n = 20_000
    ds = _run({"simulation.horizon_years": 2.0, "simulation.steps_per_year": steps_per_year, "gpu.price": 3.0}, n)
    t = ds.t_years.values
    speed, sigma = 2.0, 0.25
    mean = math.log(3.0 / 2.4) * np.exp(-speed * t)
    var = sigma**2 * (1 - np.exp(-2 * speed * t)) / (2 * speed)
    log_dev = np.log(ds.gpu_price.values) - (math.log(2.4) - 0.10 * t)
    for when in (0.25, 1.0, 2.0):
        idx = int(round(when * steps_per_year)) - 1
        _within(log_dev[:, idx], mean[idx])
        _within((log_dev[:, idx] - mean[idx]) ** 2, var[idx])


def test_gpu_price_shock_correlates_with_the_lease_rate_by_default():
    n = 40_000
    ds = _run({"simulation.horizon_years": 1.0 / 12}, n)
    rho = np.corrcoef(np.log(ds.gpu_price.values[:, 0]), np.log(ds.lease_rate.values[:, 0]))[0, 1]
    assert abs(rho - 0.6) <= Z_TOL * (1 - 0.6**2) / math.sqrt(n)


def test_an_old_five_factor_matrix_keeps_the_default_gpu_correlations():
    five = np.eye(5)
    five[0, 1] = five[1, 0] = 0.5
    s = Scenario.default().with_overrides({"correlation.matrix": five.tolist()})
    m = np.array(s.correlation.matrix)
    assert m.shape == (6, 6) and m[0, 1] == 0.5 and m[4, 5] == m[5, 4] == 0.6 and m[0, 5] == 0.0


# --------------------------------------------------------------------------- #
# The strategy, by hand: fixed prices, no default, one refresh
# --------------------------------------------------------------------------- #
DETERMINISTIC_CLOUD = {
    "simulation.horizon_years": 8.0,
    "gpu.sigma": 0.0,
    "power.sigma": 0.0,
    "power.price": 42.0,
    "hosting.capex_overrun_sigma": 0.0,
    "hosting.lead_time_min_months": 12.0,
    "hosting.lead_time_mode_months": 12.0,
    "hosting.lead_time_max_months": 12.0,
    "cloud.default_hazard": 0.0,
}


def _hand_cloud_cash_flows() -> np.ndarray:
    """Monthly cloud cash flows of DETERMINISTIC_CLOUD, from the model's statement (MODEL.md 9.2) alone."""
    grid, pue, dt = 100.0, 1.35, 1.0 / 12
    gpus = grid * 1000.0 / pue / 1.4
    aging = 0.15

    def g(t):  # the GPU-hour of a new fleet: on its level, which trends at -10 %/yr
        return 2.4 * math.exp(-0.10 * t)

    def fleet_hours(a, b, bought):  # integral of exp(-aging (t - bought)) over [a, b]
        return (math.exp(-aging * (a - bought)) - math.exp(-aging * (b - bought))) / aging

    facility = 9e6 * grid / pue
    salvage = 0.3 * (1e6 / (1.05 * 17.5)) * (15.0 / 45.0) * lower(Scenario.default()).initial_hashprice * grid
    cf = np.zeros(96)
    cf[:12] -= facility / 12  # built over the first year
    cf[0] += salvage
    cf[11] -= gpus * 40_000 * math.exp(-0.10 * 1.0)  # commissioned at t = 1
    cf[71] -= gpus * (40_000 * math.exp(-0.10 * 6.0) - 0.2 * 40_000 * math.exp(-0.10 * 1.0))  # refresh at t = 6
    # Contracts: at G(0) from the decision, then at the fleet's market price at t = 4 and t = 7.
    prices = [(1.0, 4.0, 2.4), (4.0, 7.0, g(4.0) * math.exp(-aging * 3.0)), (7.0, 10.0, g(7.0) * math.exp(-aging * 1.0))]
    for month in range(12, 96):
        t0, t1 = month * dt, (month + 1) * dt
        bought = 1.0 if t1 <= 6.0 + 1e-9 else 6.0
        price = next(p for a, b, p in prices if a - 1e-9 <= t0 < b - 1e-9)
        contracted = gpus * 0.8 * 0.97 * HOURS_PER_YEAR * price * dt
        on_demand = gpus * 0.2 * 0.70 * HOURS_PER_YEAR * g(t1) * fleet_hours(t0, t1, bought)
        power = grid * 0.8 * HOURS_PER_YEAR * dt * 42.0
        cf[month] += 0.85 * (contracted + on_demand) - power
    return cf


def test_cloud_cash_flows_of_a_deterministic_fleet_by_hand():
    ds = _run(DETERMINISTIC_CLOUD, 2)
    cf = ds.cash_flow.sel(strategy="cloud").values
    assert np.all(cf == cf[0])  # nothing random left in cloud
    expected = _hand_cloud_cash_flows()
    np.testing.assert_allclose(cf[0], expected, rtol=1e-9, atol=1e-6 * np.abs(expected).max())
    npv = float((expected * ds.discount_factor.values).sum())
    assert float(ds.npv.sel(strategy="cloud")[0]) == pytest.approx(npv, rel=1e-9)


# --------------------------------------------------------------------------- #
# Invariants, path by path
# --------------------------------------------------------------------------- #
def test_cloud_npv_rises_with_the_gpu_price_and_falls_with_gpu_capex_on_every_path():
    base = {"simulation.horizon_years": 7.0, "cloud.default_hazard": 0.5, "cloud.contract_years": 1.0,
            "cloud.gpu_life_years": 2.0}  # fmt: skip
    n = 400
    ref = _run(base, n, keep=0).npv.sel(strategy="cloud").values
    richer = _run({**base, "gpu.price": 2.4 * 1.1, "gpu.long_run": 2.4 * 1.1}, n, keep=0).npv.sel(strategy="cloud").values
    dearer = _run({**base, "cloud.capex_per_gpu": 45_000.0}, n, keep=0).npv.sel(strategy="cloud").values
    assert np.all(richer > ref)
    assert np.all(dearer < ref)


def test_cloud_without_gpus_is_an_idle_converted_site():
    # No GPUs: no revenue, no power, no fleet; the facility is built and the ASICs sold, as host with no revenue.
    n = 300
    cloud = _run({"cloud.fill": 0.0}, n, keep=0)
    idle_host = _run({"hosting.noi_margin": 0.0}, n, keep=0)
    np.testing.assert_array_equal(cloud.npv.sel(strategy="cloud").values, idle_host.npv.sel(strategy="host").values)


def test_cloud_shares_the_other_strategies_random_numbers():
    # Adding cloud to a run changes nothing else, bit for bit; its construction is host's, path by path.
    n = 500
    with_cloud = _run({}, n, keep=3)
    without = pivotmc.simulate(
        Scenario.default().with_overrides({"strategies.evaluate": ["mine", "host", "hybrid"]}),
        n_paths=n, seed=7, backend="reference", keep_paths=3,
    )
    for s in ("mine", "host", "hybrid"):
        np.testing.assert_array_equal(with_cloud.npv.sel(strategy=s).values, without.npv.sel(strategy=s).values)
    for name in ("btc_price", "lease_rate", "power_price"):
        np.testing.assert_array_equal(with_cloud[name].values, without[name].values)
    # Construction spending (the first months, before any commissioning) is the same as host's.
    early = slice(0, 7)  # lead times are at least 8 months
    np.testing.assert_array_equal(
        with_cloud.cash_flow.sel(strategy="cloud").values[:, early], with_cloud.cash_flow.sel(strategy="host").values[:, early]
    )
