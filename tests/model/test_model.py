"""The model against closed forms: every stochastic check has a fixed seed and a tolerance in standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

import pivotmc
import pivotmc.backends
import pivotmc.random
from pivotmc.model.plan import hashprice, lower
from pivotmc.model.protocol import block_subsidy_btc, step_subsidy_btc
from pivotmc.model.scenario import ProtocolSettings, Scenario

from closed_forms import SPIKES_ONLY, Z_TOL, spike_moments, spike_part_at_horizon


def _run(overrides: dict, n: int, seed: int = 7, keep: int | None = None):
    scenario = Scenario.default().with_overrides(overrides)
    return pivotmc.simulate(scenario, n_paths=n, seed=seed, backend="reference", keep_paths=n if keep is None else keep)


def _within(sample: np.ndarray, expected: float, tol: float = Z_TOL) -> None:
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= tol * se, (sample.mean(), expected, se)


# --------------------------------------------------------------------------- #
# Protocol
# --------------------------------------------------------------------------- #
def test_block_subsidy_matches_bitcoin_core():
    assert block_subsidy_btc(0) == 50.0
    assert block_subsidy_btc(839_999) == 6.25
    assert block_subsidy_btc(840_000) == 3.125
    assert block_subsidy_btc(1_050_000) == 1.5625
    # integer right shift of satoshis: 5e9 >> 10 truncates 4,882,812.5 sat
    assert block_subsidy_btc(10 * 210_000) == 4_882_812 / 1e8
    assert block_subsidy_btc(64 * 210_000) == 0.0


def test_subsidy_schedule_across_2028_halving_is_prorated():
    proto = ProtocolSettings()
    blocks, subsidy = step_subsidy_btc(proto, 12, 48)
    per_step = 144 * 365.25 / 12
    assert np.all(blocks == per_step)
    heights = 930_000 + per_step * np.arange(49)
    k = int(np.searchsorted(heights, 1_050_000)) - 1  # the step holding the halving
    assert heights[k] < 1_050_000 < heights[k + 1]
    assert k == 27  # April 2028: 120,000 blocks after 2026-01-01 at 144 a day
    before = 1_050_000 - heights[k]
    assert subsidy[k] == pytest.approx(before * 3.125 + (per_step - before) * 1.5625, rel=1e-14)
    assert np.all(subsidy[:k] == per_step * 3.125)
    assert np.all(subsidy[k + 1 :] == per_step * 1.5625)
    # total issuance is conserved: the integral of the per-block subsidy over heights
    total = (1_050_000 - 930_000) * 3.125 + (heights[-1] - 1_050_000) * 1.5625
    assert subsidy.sum() == pytest.approx(total, rel=1e-13)


def test_weekly_and_daily_schedules_issue_the_same_btc_per_year():
    proto = ProtocolSettings()
    yearly = [step_subsidy_btc(proto, spy, 5 * spy)[1].sum() for spy in (12, 52, 365)]
    assert yearly[0] == pytest.approx(yearly[1], rel=1e-12)
    assert yearly[0] == pytest.approx(yearly[2], rel=1e-12)


# --------------------------------------------------------------------------- #
# Hashprice and the hashrate equilibrium
# --------------------------------------------------------------------------- #
def test_initial_hashprice_formula():
    plan = lower(Scenario.default())
    expected = 144 * (3.125 + 0.025) * 90_000 / (1000 * 1_100)
    assert plan.initial_hashprice == pytest.approx(expected, rel=1e-14)
    assert 36.5 < plan.initial_hashprice < 37.5  # the model's check: about $37/PH/day


def test_kept_hashprice_is_the_formula_of_kept_factors():
    ds = _run({}, 50)
    plan = lower(Scenario.default())
    hp = hashprice(plan.blocks_per_day, plan.subsidy_per_block, ds.fees.values, ds.btc_price.values, ds.hashrate.values)
    np.testing.assert_allclose(ds.hashprice.values, hp, rtol=1e-13)


def test_equilibrium_markup_makes_initial_hashrate_the_equilibrium():
    scenario = Scenario.default()
    plan = lower(scenario)
    log_hstar0 = plan.log_hstar_coef[0] + math.log(plan.subsidy_per_block[0] + scenario.fees.initial_btc) + math.log(scenario.btc.price)
    assert log_hstar0 == pytest.approx(math.log(scenario.hashrate.initial_ehs), abs=1e-13)
    assert plan.markup == pytest.approx(144 * 3.15 * 90_000 / (24 * 20 * 45 * 1_100), rel=1e-14)


def test_hashrate_stays_in_equilibrium_without_shocks_or_efficiency_gains():
    quiet = {
        "btc.sigma": 0.0,
        "btc.mu": 0.0,
        "btc.jump_intensity": 0.0,
        "fees.sigma": 0.0,
        "hashrate.sigma": 0.0,
        "hashrate.efficiency_improvement": 0.0,
        "simulation.horizon_years": 2.0,  # before the 2028 halving
    }
    ds = _run(quiet, 3)
    np.testing.assert_allclose(ds.hashrate.values, 1_100.0, rtol=1e-12)
    np.testing.assert_allclose(ds.btc_price.values, 90_000.0, rtol=1e-12)


def test_halving_halves_equilibrium_and_hashrate_follows():
    quiet = {"btc.sigma": 0.0, "btc.mu": 0.0, "btc.jump_intensity": 0.0, "fees.sigma": 0.0, "hashrate.sigma": 0.0,
             "hashrate.efficiency_improvement": 0.0, "simulation.horizon_years": 5.0}
    ds = _run(quiet, 2)
    h = ds.hashrate.values[0]
    # far after the halving the network settles where revenue per hash halved (fees are small)
    expected = 1_100.0 * (1.5625 + 0.025) / (3.125 + 0.025)
    assert h[-1] == pytest.approx(expected, rel=1e-3)
    assert h[20] == pytest.approx(1_100.0, rel=1e-12)


# --------------------------------------------------------------------------- #
# BTC price: moments and option prices
# --------------------------------------------------------------------------- #
def test_expected_btc_price_grows_at_mu():
    n = 40_000
    ds = _run({"simulation.horizon_years": 3.0}, n, keep=n)
    for months in (1, 12, 36):
        t = months / 12
        _within(ds.btc_price.values[:, months - 1], 90_000 * math.exp(0.10 * t))


def test_log_btc_price_moments_include_jumps():
    n = 40_000
    ds = _run({"simulation.horizon_years": 2.0}, n)
    t, mu, sigma, lam, m, s = 2.0, 0.10, 0.5, 1.0, -0.05, 0.15
    kbar = math.exp(m + s * s / 2) - 1
    log_s = np.log(ds.btc_price.values[:, -1])
    mean = math.log(90_000) + (mu - sigma**2 / 2 - lam * kbar) * t + lam * m * t
    var = sigma**2 * t + lam * t * (m * m + s * s)
    _within(log_s, mean)
    # variance of a sample variance ~ (kurtosis-aware) estimated from the sample itself
    dev2 = (log_s - log_s.mean()) ** 2
    _within(dev2, var)


def _bs_call(s0, strike, t, rate, vol):
    if vol == 0:
        return max(s0 - strike * math.exp(-rate * t), 0.0)
    d1 = (math.log(s0 / strike) + (rate + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    return s0 * norm.cdf(d1) - strike * math.exp(-rate * t) * norm.cdf(d2)


def _merton_call(s0, strike, t, rate, vol, lam, m, s):
    kbar = math.exp(m + s * s / 2) - 1
    lam_p = lam * (1 + kbar)
    price = 0.0
    for j in range(80):
        vol_j = math.sqrt(vol * vol + j * s * s / t)
        rate_j = rate - lam * kbar + j * math.log(1 + kbar) / t
        weight = math.exp(-lam_p * t + j * math.log(lam_p * t) - math.lgamma(j + 1))
        price += weight * _bs_call(s0, strike, t, rate_j, vol_j)
    return price


@pytest.mark.parametrize("jumps", [False, True], ids=["black-scholes", "merton"])
@pytest.mark.parametrize("moneyness", [0.8, 1.0, 1.25])
def test_european_call_on_simulated_btc_matches_closed_form(jumps, moneyness):
    rate = 0.12
    cont_rate = math.log1p(rate)  # pivotmc discounts at (1 + r)^-t
    overrides = {"simulation.horizon_years": 1.0, "simulation.discount_rate": rate, "btc.mu": cont_rate}
    if jumps:
        overrides.update({"btc.jump_intensity": 2.0, "btc.jump_mean": -0.1, "btc.jump_sd": 0.2})
    else:
        overrides["btc.jump_intensity"] = 0.0
    n = 40_000
    ds = _run(overrides, n, seed=11)
    strike = 90_000 * moneyness
    payoff = np.maximum(ds.btc_price.values[:, -1] - strike, 0.0) * float(ds.discount_factor[-1])
    if jumps:
        expected = _merton_call(90_000, strike, 1.0, cont_rate, 0.5, 2.0, -0.1, 0.2)
    else:
        expected = _bs_call(90_000, strike, 1.0, cont_rate, 0.5)
    _within(payoff, expected)


def test_discount_factor_is_annual_compounding_at_step_ends():
    ds = _run({}, 1, keep=0)
    np.testing.assert_allclose(ds.discount_factor.values, 1.12 ** -(np.arange(1, 181) / 12), rtol=1e-14)
    assert ds.t_years.values[-1] == 15.0


# --------------------------------------------------------------------------- #
# Mean-reverting factors: exact OU moments
# --------------------------------------------------------------------------- #
def _ou_moments(x0_dev: float, speed: float, sigma: float, t: np.ndarray):
    mean = x0_dev * np.exp(-speed * t)
    var = sigma**2 * (1 - np.exp(-2 * speed * t)) / (2 * speed)
    return mean, var


@pytest.mark.parametrize("steps_per_year", [12, 52])
def test_power_price_log_ou_mean_and_variance(steps_per_year):
    n = 30_000
    ds = _run({"simulation.horizon_years": 2.0, "simulation.steps_per_year": steps_per_year}, n)
    t = ds.t_years.values
    mean, var = _ou_moments(math.log(40 / 42), 2.0, 0.35, t)
    log_dev = np.log(ds.power_price.values) - math.log(42.0)
    for idx in (0, len(t) // 4, len(t) - 1):
        _within(log_dev[:, idx], mean[idx])
        centred = (log_dev[:, idx] - mean[idx]) ** 2
        _within(centred, var[idx])


def test_power_seasonality_shifts_the_log_level_by_month():
    season = [1.0] * 12
    season[6] = 2.0  # July
    n = 20_000
    ds = _run({"simulation.horizon_years": 1.0, "power.seasonality": season, "power.price": 42.0}, n)
    t = ds.t_years.values
    mean, _ = _ou_moments(0.0, 2.0, 0.35, t)
    july = 6  # step 6 covers July 2026
    log_dev = np.log(ds.power_price.values[:, july]) - math.log(84.0)
    _within(log_dev, mean[july])
    june = 5  # back at the unscaled level: the deviation from it is the same OU process
    _within(np.log(ds.power_price.values[:, june]) - math.log(42.0), mean[june])


# Power spikes alone: no diffusion and E_0 at its (flat) seasonal level, so the
# log-deviation of the power price from ln 42 is the spike part
#   X_t = sum over arrivals tau_i <= t of Y_i exp(-speed (t - tau_i)),
def test_power_spikes_raise_the_price_by_their_shot_noise_mean():
    n = 30_000
    ds = _run({**SPIKES_ONLY, "power.spike_mean_log": 0.4}, n)
    t = ds.t_years.values
    mean, _ = spike_moments(t, mean_log=0.4)
    log_dev = np.log(ds.power_price.values) - math.log(42.0)
    for idx in (0, 5, 11):
        _within(log_dev[:, idx], mean[idx])


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("steps_per_year", [12, 52, 365])
def test_power_spike_moments_do_not_depend_on_the_step(backend, steps_per_year):
    # 20,000 paths: a standard error of 0.006 on the mean (1.297) and 0.009 on the variance
    # (0.736). Spikes added undecayed at the step's end (layout 1) overstate them by
    # 8.6% and 18% with monthly steps (z ~ 18 and 11 on this seed), 1.9% and 4% with
    # weekly ones (z ~ 5 on the mean).
    x = spike_part_at_horizon(pivotmc.backends.get_backend(backend).run_chunk, steps_per_year, 20_000)
    mean, var = spike_moments(1.0)
    _within(x, float(mean))
    _within((x - mean) ** 2, float(var))


def test_lease_rate_log_ou_around_trending_level():
    n = 30_000
    ds = _run({"simulation.horizon_years": 4.0, "hosting.lease_rate": 120.0}, n)
    t = ds.t_years.values
    mean, var = _ou_moments(math.log(120 / 140), 0.5, 0.20, t)
    log_dev = np.log(ds.lease_rate.values) - (math.log(140.0) - 0.03 * t)
    for idx in (0, 23, 47):
        _within(log_dev[:, idx], mean[idx])
        _within((log_dev[:, idx] - mean[idx]) ** 2, var[idx])


def test_fees_log_ou_moments():
    n = 30_000
    ds = _run({"simulation.horizon_years": 1.0, "fees.initial_btc": 0.1}, n)
    t = ds.t_years.values
    mean, var = _ou_moments(math.log(0.1 / 0.025), 4.0, 0.8, t)
    log_dev = np.log(ds.fees.values) - math.log(0.025)
    for idx in (0, 5, 11):
        _within(log_dev[:, idx], mean[idx])
        _within((log_dev[:, idx] - mean[idx]) ** 2, var[idx])


def test_correlation_of_shocks_is_the_matrix():
    n = 40_000
    ds = _run({"simulation.horizon_years": 1.0 / 12, "btc.jump_intensity": 0.0, "correlation.btc_lease": 0.6}, n)
    dx = np.log(ds.btc_price.values[:, 0])
    dr = np.log(ds.lease_rate.values[:, 0])
    rho = np.corrcoef(dx, dr)[0, 1]
    assert abs(rho - 0.6) <= Z_TOL * (1 - 0.6**2) / math.sqrt(n)


# --------------------------------------------------------------------------- #
# Hosting: a deterministic lease checked by hand
# --------------------------------------------------------------------------- #
DETERMINISTIC_HOSTING = {
    "simulation.horizon_years": 15.0,
    "hosting.lease_sigma": 0.0,
    "hosting.lease_trend": 0.0,
    "hosting.capex_overrun_sigma": 0.0,
    "hosting.lead_time_min_months": 12.0,
    "hosting.lead_time_mode_months": 12.0,
    "hosting.lead_time_max_months": 12.0,
    "hosting.default_hazard": 0.0,
    "hosting.renewal_probability": 0.0,
    "hosting.release_months": 6.0,
}


def test_host_cash_flows_of_a_deterministic_lease():
    ds = _run(DETERMINISTIC_HOSTING, 3)
    cf = ds.cash_flow.sel(strategy="host").values
    assert np.all(cf == cf[0])  # nothing random left
    cf = cf[0]
    it_kw = 100.0 / 1.35 * 1000
    capex = 9e6 * 100.0 / 1.35
    salvage = 0.3 * (1e6 / (1.05 * 17.5)) * (15.0 / 45.0) * lower(Scenario.default()).initial_hashprice * 100.0
    expected = np.zeros(180)
    expected[:12] -= capex / 12
    expected[0] += salvage
    for month in range(12, 180):
        years_into_lease = (month - 12) // 12
        if month < 12 + 144:  # 12-year term from t = 1
            expected[month] += 140.0 * it_kw * 1.025**years_into_lease * 0.85
        elif month >= 12 + 144 + 6:  # not renewed: 6 months empty, then re-let at market (140)
            expected[month] += 140.0 * it_kw * 1.025 ** ((month - 162) // 12) * 0.85
    np.testing.assert_allclose(cf, expected, rtol=1e-11, atol=1e-3)


def test_lead_time_fraction_splits_capex_and_first_revenue_within_a_step():
    ds = _run({**DETERMINISTIC_HOSTING, "hosting.lead_time_min_months": 7.5, "hosting.lead_time_mode_months": 7.5,
               "hosting.lead_time_max_months": 7.5}, 1)
    cf = ds.cash_flow.sel(strategy="host").values[0]
    it_kw = 100.0 / 1.35 * 1000
    capex = 9e6 * 100.0 / 1.35
    monthly_capex = capex / 7.5
    assert cf[1] == pytest.approx(-monthly_capex, rel=1e-12)
    assert cf[7] == pytest.approx(-0.5 * monthly_capex + 0.5 * 140 * it_kw * 0.85, rel=1e-12)
    assert cf[8] == pytest.approx(140 * it_kw * 0.85, rel=1e-12)


# Renewals and re-lets are signed at the first market rate observed at or after they
# start. With no lease-rate noise and R_0 on its level, the rate observed at t is
# 140 exp(-0.03 t), so the month a lease is signed at shows in its revenue.
BOUNDARY_LEASES = {
    **DETERMINISTIC_HOSTING,
    "simulation.horizon_years": 5.0,
    "strategies.evaluate": ["host"],
    "hosting.lease_trend": -0.03,
    "hosting.term_years": 2.0,
}
IT_KW = 100.0 / 1.35 * 1000


def _market(t: float) -> float:
    return 140.0 * math.exp(-0.03 * t)


def _rent(rate: float, months: range, first: int) -> dict[int, float]:
    """Monthly revenue of a lease signed at ``rate`` that starts with month ``first``."""
    return {k: rate * 1.025 ** ((k - first) // 12) * IT_KW * 0.85 for k in months}


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_relet_on_a_step_boundary_is_signed_at_the_boundary_rate(backend):
    # Built in 12 months, leased over months 12..35 at R_0 (signed at the decision), not
    # renewed: re-let after 6 months, from t = 3.5 = t_42, at the rate observed at t_42.
    ds = pivotmc.simulate(Scenario.default().with_overrides({**BOUNDARY_LEASES, "hosting.renewal_probability": 0.0}),
                          n_paths=1, seed=3, backend=backend, keep_paths=1)
    cf = ds.cash_flow.sel(strategy="host").values[0]
    expected = {**_rent(140.0, range(12, 36), 12), **dict.fromkeys(range(36, 42), 0.0),
                **_rent(_market(3.5), range(42, 60), 42)}
    np.testing.assert_allclose(cf[12:], [expected[k] for k in range(12, 60)], rtol=1e-11, atol=1e-3)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_renewal_on_a_step_boundary_is_signed_at_the_boundary_rate_whatever_the_rounding(backend):
    # Built in 7 months: the lease ends at 7/12 + 2, one ulp past t_31 = 31 * (1/12) in
    # floating point. Renewed there at the rate observed at t_31, and again at t_55.
    over = {**BOUNDARY_LEASES, "hosting.renewal_probability": 1.0, "hosting.lead_time_min_months": 7.0,
            "hosting.lead_time_mode_months": 7.0, "hosting.lead_time_max_months": 7.0}
    plan = lower(Scenario.default().with_overrides(over))
    assert plan.lead_time_min + plan.lease_term > plan.t_end[30]  # the rounding the tolerance absorbs
    ds = pivotmc.simulate(plan.scenario, n_paths=1, seed=3, backend=backend, keep_paths=1)
    cf = ds.cash_flow.sel(strategy="host").values[0]
    expected = {**_rent(140.0, range(7, 31), 7), **_rent(_market(31 / 12), range(31, 55), 31),
                **_rent(_market(55 / 12), range(55, 60), 55)}
    np.testing.assert_allclose(cf[7:], [expected[k] for k in range(7, 60)], rtol=1e-11, atol=1e-3)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_renewal_inside_a_step_is_signed_at_the_rate_of_the_step_end(backend):
    # Built in 7.5 months: the lease runs from 0.625 to 2.625, half-way through month 31
    # (t_31, t_32], and renews there at the rate observed at t_32.
    over = {**BOUNDARY_LEASES, "hosting.renewal_probability": 1.0, "hosting.lead_time_min_months": 7.5,
            "hosting.lead_time_mode_months": 7.5, "hosting.lead_time_max_months": 7.5}
    ds = pivotmc.simulate(Scenario.default().with_overrides(over), n_paths=1, seed=3, backend=backend, keep_paths=1)
    cf = ds.cash_flow.sel(strategy="host").values[0]
    renewed = _market(32 / 12)
    assert cf[31] == pytest.approx(0.5 * (140.0 * 1.025 + renewed) * IT_KW * 0.85, rel=1e-11)
    np.testing.assert_allclose(cf[32:43], renewed * IT_KW * 0.85, rtol=1e-11)


def test_tenant_default_rate_matches_the_hazard():
    # With certain renewal and one month of downtime, the only revenue gaps come from
    # defaults: a default at the end of a leased month empties the next month.
    hazard = 0.5
    n = 20_000
    over = {**DETERMINISTIC_HOSTING, "hosting.default_hazard": hazard, "hosting.release_months": 1.0,
            "hosting.escalator": 0.0, "hosting.renewal_probability": 1.0, "simulation.horizon_years": 3.0}
    ds = _run(over, n)
    cf = ds.cash_flow.sel(strategy="host").values[:, 12:]
    rent = 140 * 100.0 / 1.35 * 1000 * 0.85
    assert set(np.unique(np.round(cf / rent, 9))) <= {0.0, 1.0}
    empty_months = (cf < 0.5 * rent).sum(axis=1)
    # Exact expectation from the two-state chain (leased, empty) over the 24 months.
    p_default = -math.expm1(-hazard / 12)
    p_leased, expected = 1.0, 0.0
    for _ in range(24):
        expected += 1.0 - p_leased
        p_leased = p_leased * (1 - p_default) + (1.0 - p_leased)
    _within(empty_months.astype(float), expected)


# --------------------------------------------------------------------------- #
# Mining economics
# --------------------------------------------------------------------------- #
def test_first_mining_cash_flow_without_shocks():
    quiet = {"btc.sigma": 0.0, "btc.mu": 0.0, "btc.jump_intensity": 0.0, "fees.sigma": 0.0, "hashrate.sigma": 0.0,
             "power.sigma": 0.0, "power.price": 42.0, "simulation.horizon_years": 1.0}
    ds = _run(quiet, 1)
    hp = lower(Scenario.default()).initial_hashprice
    ph = 100 / 1.05 / 17.5 * 1000
    days = 365.25 / 12
    revenue = hp * ph * days * 0.97 * 0.98
    power = 100 * 0.97 * days * 24 * 42.0
    opex = 40_000 * 100 / 12
    assert float(ds.cash_flow.sel(strategy="mine")[0, 0]) == pytest.approx(revenue - power - opex, rel=1e-12)


def test_curtailment_never_lowers_mining_value_path_by_path():
    over = {"simulation.horizon_years": 5.0, "power.sigma": 1.2, "power.long_run_price": 80.0}
    on = _run(over, 2000, keep=0)
    off = _run({**over, "mining.curtailment": False}, 2000, keep=0)
    mine_on, mine_off = on.npv.sel(strategy="mine").values, off.npv.sel(strategy="mine").values
    assert np.all(mine_on >= mine_off)
    assert np.mean(mine_on > mine_off) > 0.5


def test_curtailment_bounds_the_loss_of_a_step_to_fixed_opex():
    over = {"simulation.horizon_years": 3.0, "power.sigma": 1.5, "power.long_run_price": 120.0, "mining.refresh_years": 4.0}
    ds = _run(over, 500)
    floor = -40_000 * 100 / 12
    assert ds.cash_flow.sel(strategy="mine").min() >= floor * (1 + 1e-12)


def test_asic_refresh_costs_the_new_fleet_at_hashprice_scaled_price():
    quiet = {"btc.sigma": 0.0, "btc.mu": 0.0, "btc.jump_intensity": 0.0, "fees.sigma": 0.0, "hashrate.sigma": 0.0,
             "power.sigma": 0.0, "simulation.horizon_years": 5.0, "mining.refresh_years": 1.0}
    ds = _run(quiet, 1)
    base = _run({**quiet, "mining.asic_price_per_th": 0.0}, 1)
    diff = (base.cash_flow - ds.cash_flow).sel(strategy="mine").values[0]
    # refresh purchases at the end of steps 11, 23, 35, 47 (not at the horizon)
    assert np.all(diff[[11, 23, 35, 47]] > 0)
    assert np.count_nonzero(diff) == 4
    eps_new = 17.5 * 0.9**1.0
    th = 100 / 1.05 / eps_new * 1e6
    hp = float(ds.hashprice[0, 11])
    assert diff[11] == pytest.approx(th * 15.0 * hp / 45.0, rel=1e-12)


def test_terminal_value_is_discounted_multiple_of_final_year_ebitda():
    over = {"simulation.horizon_years": 3.0, "mining.refresh_years": 4.0}
    ds = _run(over, 20)
    tv = _run({**over, "terminal.mine": 5.0}, 20)
    cf = ds.cash_flow.sel(strategy="mine").values
    expected = 5.0 * cf[:, -12:].sum(axis=1) * float(ds.discount_factor[-1])
    np.testing.assert_allclose((tv.npv - ds.npv).sel(strategy="mine").values, expected, rtol=1e-9)
    np.testing.assert_array_equal(tv.npv.sel(strategy="host").values, ds.npv.sel(strategy="host").values)
