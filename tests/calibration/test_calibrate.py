"""Calibration: parameters recovered from pivotmc's own paths, bad data, the command line, real history.

Every recovery check allows 3 standard errors (the standard errors the fit
reports) and uses a fixed seed.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import pivotmc
from pivotmc import CalibrationWarning, Scenario, ValidationError, calibrate
from pivotmc.calibration.btc import WEAK_JUMPS_PER_INTERVAL, weak_jumps
from pivotmc.calibration.fit import Estimate, ModelFit
from pivotmc.cli import main
from pivotmc.model.plan import lower

Z_TOL = 3.0
#: Real history beside the repository; tests that read it skip where it is absent.
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

SEASON = (1.1, 1.05, 0.95, 0.9, 0.95, 1.1, 1.3, 1.35, 1.1, 0.95, 0.9, 1.0)
CORRELATION = (
    (1.0, 0.3, 0.1, 0.0, 0.2),
    (0.3, 1.0, 0.0, 0.0, 0.0),
    (0.1, 0.0, 1.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 1.0, -0.2),
    (0.2, 0.0, 0.0, -0.2, 1.0),
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
    "correlation.matrix": CORRELATION,
}
MONTHLY = {
    "simulation.steps_per_year": 12,
    "simulation.horizon_years": 20,
    "strategies.evaluate": ["mine"],
    "btc.jump_intensity": 0.0,
    "power.seasonality": SEASON,
    "hosting.lease_speed": 1.0,
    # No halving in the sample: a monthly value is dated mid-month while the engine's step
    # starts on the 1st, and half a month of the wrong subsidy would blur the hashrate fit.
    "protocol.halving_interval": 2_100_000,
    "protocol.initial_subsidy_btc": 3.125,
}


def _paths(scenario: Scenario, seed: int) -> pd.DataFrame:
    """One simulated path of every factor, as the table an analyst would pass."""
    ds = pivotmc.simulate(scenario, n_paths=1, seed=seed, backend="reference", keep_paths=1)
    ends = ds.time.values
    starts = np.concatenate([[np.datetime64(scenario.simulation.start, "ns")], ends[:-1]])
    # The engine gives each step the seasonal level of the month holding its middle, so the
    # value is dated by that day (monthly steps: mid-month; daily: the day the step covers).
    dates = (starts + (ends - starts) / 2).astype("datetime64[D]")
    frame = pd.DataFrame({"date": dates})
    for name in ("btc_price", "fees", "hashrate", "power_price", "lease_rate"):
        frame[name] = ds[name].values[0]
    return frame


def _fit(frame: pd.DataFrame, scenario: Scenario, **kwargs):
    """Fit a simulated history against the scenario that made it: its own start date and values at
    t = 0, so the parameters given at t = 0 (the lease level, the network efficiency) are the ones simulated."""
    kwargs.setdefault("set_start", False)
    kwargs.setdefault("set_initial", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = calibrate(frame, scenario, fees_unit="block", **kwargs)
    return result, [str(w.message) for w in caught]


def _truth(scenario: Scenario) -> dict[tuple[str, str], float]:
    btc, fees, hr, power, host = scenario.btc, scenario.fees, scenario.hashrate, scenario.power, scenario.hosting
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


def _assert_recovered(result, model: str, parameter: str, true: float) -> None:
    est = result.models[model][parameter]
    assert math.isfinite(est.std_error) and est.std_error > 0
    assert abs(est.value - true) <= Z_TOL * est.std_error, (model, parameter, est.value, true, est.std_error)


@pytest.fixture(scope="module")
def daily():
    """Ten years of daily paths of all five factors (Merton BTC with jumps), fitted once."""
    scenario = Scenario.default().with_overrides(DAILY)
    frame = _paths(scenario, seed=3)
    result, caught = _fit(frame, scenario)
    return scenario, frame, result, caught


@pytest.fixture(scope="module")
def monthly():
    """Twenty years of monthly paths (log-normal BTC), fitted once."""
    scenario = Scenario.default().with_overrides(MONTHLY)
    frame = _paths(scenario, seed=0)
    result, caught = _fit(frame, scenario)
    return scenario, frame, result, caught


# --------------------------------------------------------------------------- #
# Recovery of known parameters
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("key", sorted(_truth(Scenario.default().with_overrides(DAILY))))
def test_daily_parameters_are_recovered(daily, key):
    scenario, _, result, _ = daily
    _assert_recovered(result, *key, _truth(scenario)[key])


@pytest.mark.parametrize("key", sorted(_truth(Scenario.default().with_overrides(MONTHLY))))
def test_monthly_parameters_are_recovered(monthly, key):
    scenario, _, result, _ = monthly
    _assert_recovered(result, *key, _truth(scenario)[key])


def test_shock_correlations_are_recovered(daily):
    _, _, result, _ = daily
    assert list(result.correlation.index) == list(pivotmc.FACTORS)
    for i, a in enumerate(pivotmc.FACTORS):
        for j, b in enumerate(pivotmc.FACTORS[:i]):
            r, n = result.correlation.loc[a, b], result.correlation_nobs.loc[a, b]
            true = CORRELATION[i][j]
            assert n == 3649
            assert abs(r - true) <= Z_TOL * (1 - true**2) / math.sqrt(n - 3), (a, b, r, true)


def test_jumps_are_detected_and_used(daily):
    _, _, result, _ = daily
    test = result.jump_test
    assert test.df == 3 and test.warranted and test.p_value < 1e-10
    merton = result.models["btc_merton"]
    for key in ("sigma", "jump_intensity", "jump_mean", "jump_sd"):
        assert result.overrides[f"btc.{key}"] == pytest.approx(merton[key].value, rel=1e-3)
    # The drift is estimated but, history being no forecast, applied only when asked.
    assert "btc.mu" not in result.overrides and "not a forecast" in result.not_set["btc.mu"]
    # Without jumps the log-normal must take the extra variance into its sigma.
    assert result.models["btc_lognormal"]["sigma"].value > merton["sigma"].value


def test_no_jumps_in_lognormal_data(monthly):
    scenario = Scenario.default().with_overrides({**MONTHLY, "simulation.steps_per_year": 52, "simulation.horizon_years": 10})
    frame = _paths(scenario, seed=5)[["date", "btc_price"]]
    result, _ = _fit(frame, scenario)
    assert result.frequency == "weekly"
    assert not result.jump_test.warranted
    assert result.overrides["btc.jump_intensity"] == 0.0
    assert "btc.jump_sd" not in result.overrides
    _assert_recovered(result, "btc_lognormal", "sigma", scenario.btc.sigma)
    _assert_recovered(result, "btc_lognormal", "mu", scenario.btc.mu)


def test_only_gap_warnings_for_engine_dates(daily, monthly):
    # Daily engine steps are 365.25/365 days long, so a calendar day is skipped every four years.
    assert daily[3] and all("gap" in w and "2 days" in w for w in daily[3])
    assert any("too few to fit jumps" in w for w in monthly[3])


def test_overrides_make_a_valid_scenario(daily):
    scenario, _, result, _ = daily
    calibrated = result.scenario()
    assert calibrated == scenario.with_overrides(result.overrides)
    assert calibrated.btc.sigma == result.overrides["btc.sigma"]
    assert calibrated.hashrate.markup is None  # the network still starts in equilibrium
    assert len(calibrated.correlation.matrix) == 5
    assert "hashrate.markup" not in result.overrides
    # A different base keeps its own settings besides the fitted ones.
    other = Scenario.default().with_overrides({"site.grid_mw": 150})
    assert result.scenario(other).site.grid_mw == 150.0


def test_fit_markup_carries_the_intercept(daily):
    scenario, frame, _, _ = daily
    result, _ = _fit(frame[["date", "btc_price", "hashrate"]], scenario, fit_markup=True)
    markup = result.models["hashrate"]["markup"]
    assert result.overrides["hashrate.growth"] == 0.0
    assert result.overrides["hashrate.markup"] == pytest.approx(markup.value, rel=1e-3)
    assert result.scenario().hashrate.markup == result.overrides["hashrate.markup"]


def test_correlation_override_is_identity_for_missing_factors(daily):
    scenario, frame, _, _ = daily
    result, _ = _fit(frame[["date", "power_price", "lease_rate"]], scenario)
    matrix = np.array(result.overrides["correlation.matrix"])
    assert list(result.correlation.index) == ["power", "lease"]
    expected = np.eye(5)
    expected[3, 4] = expected[4, 3] = round(result.correlation.loc["power", "lease"], 4)
    np.testing.assert_array_equal(matrix, expected)


def test_table_and_text(daily):
    _, _, result, _ = daily
    table = result.table()
    assert set(table["model"]) == {"btc_merton", "btc_lognormal", "fees", "hashrate", "power", "lease"}
    row = table[(table.model == "fees") & (table.parameter == "speed")].iloc[0]
    assert row.scenario == "fees.speed" and row.std_error > 0
    text = str(result)
    for needle in ("btc_merton", "std. error", "LR =", "Correlation of fitted shocks", "hashrate.speed"):
        assert needle in text


# --------------------------------------------------------------------------- #
# Gaps and frequencies
# --------------------------------------------------------------------------- #
def test_gaps_use_the_exact_transition_over_each_interval(daily):
    scenario, frame, _, _ = daily
    rng = np.random.default_rng(0)
    keep = rng.random(len(frame)) > 0.2
    keep[400:460] = False  # and two months missing at once
    gappy = frame.loc[keep, ["date", "fees"]]
    with pytest.warns(CalibrationWarning, match="gaps"):
        result = calibrate(gappy, scenario, fees_unit="block")
    fit = result.models["fees"]
    # The reported likelihood is the sum of exact OU transition densities over each interval's own dt.
    x = np.log(gappy["fees"].to_numpy())
    dt = np.diff(gappy["date"].to_numpy()).astype("timedelta64[D]").astype(float) / 365.25
    level, speed, sigma = math.log(fit["long_run_btc"].value), fit["speed"].value, fit["sigma"].value
    decay = np.exp(-speed * dt)
    sd = sigma * np.sqrt((1 - decay**2) / (2 * speed))
    expected = norm.logpdf(x[1:], level + decay * (x[:-1] - level), sd).sum()
    assert fit.log_likelihood == pytest.approx(expected, rel=1e-9)
    assert fit.n_obs == keep.sum() - 1
    for key in ("long_run_btc", "speed", "sigma"):
        _assert_recovered(result, "fees", key, _truth(scenario)[("fees", key)])


def test_weekly_sample_of_a_daily_path(daily):
    scenario, frame, _, _ = daily
    weekly = frame.iloc[::7][["date", "power_price", "lease_rate"]]
    result, _ = _fit(weekly, scenario)
    assert result.frequency == "weekly"
    truth = _truth(scenario)
    for key in (("power", "speed"), ("power", "sigma"), ("lease", "lease_sigma"), ("lease", "lease_trend")):
        _assert_recovered(result, *key, truth[key])


@pytest.mark.filterwarnings("ignore::pivotmc.CalibrationWarning")
def test_fees_per_day_are_converted(daily):
    scenario, frame, _, _ = daily
    per_block = calibrate(frame[["date", "fees"]], scenario, fees_unit="block")
    per_day = frame[["date", "fees"]].assign(fees=frame["fees"] * scenario.protocol.blocks_per_day)
    result = calibrate(per_day, scenario, fees_unit="day")
    assert result.overrides == per_block.overrides


# --------------------------------------------------------------------------- #
# Bad data
# --------------------------------------------------------------------------- #
def _small(n: int = 80, column: str = "power_price", step: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(1)
    values = 40 * np.exp(0.03 * rng.standard_normal(n).cumsum())
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq=step), column: values})


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]], "not in increasing order"),
        (lambda f: pd.concat([f.iloc[:10], f.iloc[9:]]), "appears more than once"),
        (lambda f: f.assign(power_price=f.power_price.where(f.index != 5, 0.0)), "must be positive"),
        (lambda f: f.assign(power_price=f.power_price.where(f.index != 5, -3.0)), "must be positive"),
        (lambda f: f.assign(power_price=f.power_price.astype(object).where(f.index != 5, "n/a")), "not a number"),
        (lambda f: f.iloc[:12], "needs at least 20"),
        (lambda f: f.rename(columns={"power_price": "power_prise"}), "did you mean 'power_price'"),
        (lambda f: f.assign(volume=1.0), "unknown column 'volume'"),
        (lambda f: f.drop(columns="date"), "no 'date' column"),
        (lambda f: f.assign(date=f.date.astype(str).where(f.index != 3, "soon")), "YYYY-MM-DD"),
        (lambda f: f.iloc[::3], "neither daily, weekly nor monthly"),
        # daily, then weekly: one frequency turning into another, not gaps
        (lambda f: pd.concat([f.iloc[:50], f.iloc[50:200:7]]), "mixed frequencies"),
        (lambda f: f.assign(hashrate=100.0), "needs btc_price"),
        (lambda f: f.assign(fees=0.02).pipe(lambda g: g), "fees_unit"),
    ],
    ids=[
        "unsorted", "duplicate", "zero", "negative", "text", "too-few", "misspelt", "unknown", "no-date",
        "bad-date", "every-3-days", "daily-then-weekly", "hashrate-without-btc", "fees-without-unit",
    ],
)
def test_bad_data_is_refused(mutate, message):
    with pytest.raises(ValidationError, match=message):
        calibrate(mutate(_small(200).reset_index(drop=True)))


def test_a_column_at_another_frequency_is_refused():
    frame = _small(200)
    frame["lease_rate"] = np.where(frame.index % 7 == 0, 140.0 * np.exp(0.01 * frame.index), np.nan)
    with pytest.raises(ValidationError, match="mixed frequencies: lease_rate"):
        calibrate(frame)


def test_a_short_interval_in_monthly_data_is_refused():
    frame = _small(60, step="MS")
    frame.loc[30, "date"] = frame.loc[29, "date"] + pd.Timedelta(days=7)
    with pytest.raises(ValidationError, match="shorter than a monthly step"):
        calibrate(frame)


def test_expected_frequency_is_checked():
    with pytest.raises(ValidationError, match="daily .* not weekly"):
        calibrate(_small(), frequency="weekly")
    assert calibrate(_small(), frequency="daily", power_seasonality=False).frequency == "daily"


def test_gaps_are_reported():
    frame = _small(120).drop(index=[30, 31, 32, 70])
    with pytest.warns(CalibrationWarning, match=r"power_price has 2 gaps .* longest, 4 days"):
        result = calibrate(frame, power_seasonality=False)
    assert result.models["power"].n_obs == len(frame) - 1
    assert any("gaps" in w for w in result.warnings)


def test_too_few_for_jumps_falls_back_to_the_lognormal():
    frame = _small(100, column="btc_price")
    with pytest.warns(CalibrationWarning, match="too few to fit jumps"):
        result = calibrate(frame)
    assert "btc_merton" not in result.models and result.jump_test is None
    assert result.overrides["btc.jump_intensity"] == 0.0


def test_estimates_a_scenario_rejects_are_left_out():
    rng = np.random.default_rng(2)
    noise = 30 * np.exp(0.6 * rng.standard_normal(300))
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=300), "power_price": noise})
    with pytest.warns(CalibrationWarning) as caught:
        result = calibrate(frame, power_seasonality=False)
    messages = [str(w.message) for w in caught]
    assert any("upper bound" in m for m in messages)
    assert any("power estimates are left out" in m for m in messages)
    assert result.models["power"]["sigma"].value > 3.0  # daily white noise: a volatility no scenario accepts
    assert not any(key.startswith("power.") for key in result.overrides if key not in result.set_from_data)
    assert result.scenario() == Scenario.default().with_overrides(result.set_from_data)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        calibrate(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="fees_unit"):
        calibrate(_small(), fees_unit="month")
    with pytest.raises(ValidationError, match="DataFrame"):
        calibrate([1, 2, 3])


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def test_cli_writes_the_calibrated_scenario(daily, tmp_path, capsys):
    scenario, frame, _, _ = daily
    csv = tmp_path / "history.csv"
    frame.iloc[:400][["date", "btc_price", "power_price"]].to_csv(csv, index=False)
    out = tmp_path / "calibrated.toml"
    code = main(["calibrate", str(csv), "--out", str(out)])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert "btc_merton" in printed and f"written to {out}" in printed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = calibrate(csv)
    loaded = Scenario.from_toml(out)
    assert loaded == Scenario.default().with_overrides(result.overrides)
    text = out.read_text()
    lines = text.splitlines()
    sigma = lines.index(next(line for line in lines if line.startswith("sigma = ") and "diffusion" in line))
    assert lines[sigma - 1].startswith("# fit: ") and "s.e." in lines[sigma - 1]
    assert "2026-01-01 to 2027-02-04" in lines[sigma - 1]
    fitted = [k for k in result.overrides if k not in result.set_from_data]
    assert text.count("# fit: ") == len(fitted)
    assert text.count("# set from the last observation: ") == len(result.set_from_data) == 4


def test_cli_bad_data_is_one_line_and_exit_2(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    _small().rename(columns={"power_price": "price"}).to_csv(csv, index=False)
    code = main(["calibrate", str(csv), "--out", str(tmp_path / "x.toml")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("pivotmc: error: unknown column 'price'") and err.count("\n") == 1
    assert not (tmp_path / "x.toml").exists()


# --------------------------------------------------------------------------- #
# Real history (../shared/data beside the repository)
# --------------------------------------------------------------------------- #
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="no ../shared/data beside the repository")


def _series(name: str, column: str) -> pd.Series:
    return pd.read_csv(DATA / name, parse_dates=["date"]).set_index("date")[column]


@needs_data
def test_real_btc_2015_2025():
    close = _series("btc_usd_daily_yahoo.csv", "btc_usd_close")["2015-01-01":"2025-12-31"]
    frame = close.rename("btc_price").rename_axis("date").reset_index()
    # About 250 jumps a year of about 3 daily standard deviations: a fat-tailed diffusion, not rare jumps.
    with pytest.warns(CalibrationWarning, match="weakly identified: 0.69 jumps expected a day"):
        result = calibrate(frame)
    lognormal, merton = result.models["btc_lognormal"], result.models["btc_merton"]
    assert lognormal.n_obs == 4017 and result.frequency == "daily"
    assert 0.6 < lognormal["sigma"].value < 0.75  # the model notes: about 0.68 over 2015-25
    assert result.jump_test.warranted and result.jump_test.statistic > 100
    sigma, lam, jm, js = (merton[k].value for k in ("sigma", "jump_intensity", "jump_mean", "jump_sd"))
    total = math.sqrt(sigma**2 + lam * (jm**2 + js**2))  # annual variance of log returns
    assert 0.55 < total < 0.8
    assert -0.5 < merton["mu"].value < 1.5
    # The drift (about 0.7 a year) is reported, not applied; the start is the day after the data end.
    scenario = result.scenario()
    assert "btc.mu" not in result.overrides and scenario.btc.mu == Scenario.default().btc.mu
    assert scenario.btc.price == pytest.approx(close.iloc[-1], rel=1e-6)
    assert str(scenario.simulation.start) == "2026-01-01" and scenario.protocol.start_height == 930_000
    # Bounded to 10 jumps a year, the jumps are large and rare enough for the criterion.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bounded = calibrate(frame, max_jump_intensity=10.0)
    assert not caught
    assert bounded.overrides["btc.jump_intensity"] == 10.0 and bounded.jump_test.warranted


@needs_data
def test_real_hashrate_error_correction():
    span = slice("2016-01-01", "2025-02-28")
    monthly = pd.DataFrame(
        {
            "btc_price": _series("btc_usd_daily_yahoo.csv", "btc_usd_close")[span].resample("MS").mean(),
            "hashrate": _series("btc_hashrate_daily_bitcoinvisuals.csv", "hashrate_eh_s")[span].resample("MS").mean(),
            "fees": pd.concat(
                [
                    _series("btc_fees_hashrate_daily_glassnode_2016_2022.csv", "fees_btc_per_day"),
                    _series("btc_fees_daily_blockchaincom_2023_2025.csv", "fees_btc_per_day"),
                ]
            )[span].resample("MS").mean(),
        }
    ).rename_axis("date").reset_index()
    with pytest.warns(CalibrationWarning):  # the fees gap of 2022-09 to 2023-04, and too few months for jumps
        result = calibrate(monthly, fees_unit="day")
    ecm = result.models["hashrate"]
    assert ecm.n_obs > 90
    assert 0.1 < ecm["speed"].value < 5 and ecm["speed"].std_error < ecm["speed"].value
    assert 0.05 < ecm["sigma"].value < 1
    assert 0.2 < ecm["markup"].value < 20
    assert result.scenario().hashrate.speed == result.overrides["hashrate.speed"]


@needs_data
def test_real_ercot_power():
    daily = _series("power_ercot_hb_hubavg_daily_2022_2025.csv", "power_usd_per_mwh_mean")
    with pytest.raises(ValidationError, match="must be positive"):  # two days with a negative mean
        calibrate(daily.rename("power_price").rename_axis("date").reset_index())
    positive = daily[daily > 0].rename("power_price").rename_axis("date").reset_index()
    with pytest.warns(CalibrationWarning):
        result = calibrate(positive)
    power = result.models["power"]
    assert 20 < power["long_run_price"].value < 45  # a median level: the hub's daily median was about $29
    assert power["seasonality_aug"].value > 1.2  # Texas summer
    assert power["speed"].value > 50  # daily prices revert within days
    month = daily.resample("MS").mean().rename("power_price").rename_axis("date").reset_index()
    with pytest.warns(CalibrationWarning, match="seasonality"):
        result = calibrate(month)
    power = result.models["power"]
    assert 20 < power["long_run_price"].value < 60
    assert 0.5 < power["speed"].value < 50 and 0.2 < power["sigma"].value < 3
    assert result.scenario().power.sigma == result.overrides["power.sigma"]


# --------------------------------------------------------------------------- #
# Judgement: drift, constrained jumps, weak identification, the start
# --------------------------------------------------------------------------- #
MERTON = {"mu": 0.2, "sigma": 0.45, "jump_intensity": 6.0, "jump_mean": -0.04, "jump_sd": 0.12}


def _merton_prices(seed: int, days: int = 15 * 365, start: str = "2010-01-01", **params) -> pd.DataFrame:
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


@pytest.fixture(scope="module")
def merton_data():
    frame = _merton_prices(seed=11)
    free, _ = _fit(frame, Scenario.default())
    return frame, free


def test_merton_data_are_recovered_unconstrained(merton_data):
    _, free = merton_data
    assert free.jump_test.warranted and free.jump_test.df == 3
    for key, true in MERTON.items():
        _assert_recovered(free, "btc_merton", key, true)
    assert not any("weakly identified" in w for w in free.warnings)


def test_fixed_intensity_fits_the_others_given_it(merton_data):
    frame, free = merton_data
    result, caught = _fit(frame, Scenario.default(), jump_intensity=MERTON["jump_intensity"])
    merton = result.models["btc_merton"]
    assert merton["jump_intensity"].value == MERTON["jump_intensity"]
    assert math.isnan(merton["jump_intensity"].std_error)
    assert result.jump_test.df == 2  # the intensity is not estimated
    for key in ("mu", "sigma", "jump_mean", "jump_sd"):
        _assert_recovered(result, "btc_merton", key, MERTON[key])
    # The same likelihood, maximised over less: never above the free maximum, and close to it at the truth.
    assert merton.log_likelihood <= free.models["btc_merton"].log_likelihood + 1e-6
    assert result.overrides["btc.jump_intensity"] == MERTON["jump_intensity"]
    assert not caught


def test_bounded_intensity_respects_the_bound(merton_data):
    frame, free = merton_data
    bound = 2.0  # well below the truth: the bound binds
    result, caught = _fit(frame, Scenario.default(), max_jump_intensity=bound)
    merton = result.models["btc_merton"]
    assert merton["jump_intensity"].value <= bound * (1 + 1e-9)
    assert merton["jump_intensity"].value == pytest.approx(bound, rel=1e-6)
    assert math.isnan(merton["jump_intensity"].std_error)  # at its bound: no standard error
    assert any("at the bound max_jump_intensity = 2" in n for n in merton.notes)
    assert merton.log_likelihood < free.models["btc_merton"].log_likelihood
    # At an active bound the constrained maximum is the fit with the intensity fixed there.
    fixed, _ = _fit(frame, Scenario.default(), jump_intensity=bound)
    assert merton.log_likelihood == pytest.approx(fixed.models["btc_merton"].log_likelihood, abs=1e-6)
    for key in ("sigma", "jump_mean", "jump_sd"):
        assert merton[key].value == pytest.approx(fixed.models["btc_merton"][key].value, rel=1e-3)
        assert merton[key].std_error == pytest.approx(fixed.models["btc_merton"][key].std_error, rel=1e-2)
    assert result.overrides["btc.jump_intensity"] <= bound
    assert not any("weakly identified" in w for w in caught)


def test_bounded_intensity_above_the_fit_changes_nothing(merton_data):
    frame, free = merton_data
    result, _ = _fit(frame, Scenario.default(), max_jump_intensity=50.0)
    for key, true in MERTON.items():
        assert result.models["btc_merton"][key].value == pytest.approx(free.models["btc_merton"][key].value, rel=1e-4)
        _assert_recovered(result, "btc_merton", key, true)


def test_zero_intensity_fits_the_lognormal_only(merton_data):
    frame, _ = merton_data
    result, _ = _fit(frame.iloc[:400], Scenario.default(), jump_intensity=0.0)
    assert "btc_merton" not in result.models and result.jump_test is None
    assert result.overrides["btc.jump_intensity"] == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jump_intensity": 2.0, "max_jump_intensity": 3.0}, "not both"),
        ({"jump_intensity": -1.0}, "jump_intensity = -1.0 is not allowed"),
        ({"jump_intensity": 400.0}, "from 0 to 365"),
        ({"jump_intensity": "5"}, "jump_intensity = '5' is not allowed"),
        ({"max_jump_intensity": 0.0}, "above 0.001"),
        ({"max_jump_intensity": float("nan")}, "max_jump_intensity = nan"),
    ],
)
def test_bad_constraints_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        calibrate(_small(100, column="btc_price"), **kwargs)


def test_fat_tails_are_flagged_as_weakly_identified_jumps():
    # Student-t returns (3 degrees of freedom), no jumps at all: the Merton fit explains the tails
    # with many small jumps, which the warning must name.
    rng = np.random.default_rng(4)
    days = 8 * 365
    r = 0.6 / math.sqrt(365.25) / math.sqrt(3.0) * rng.standard_t(3, days)
    frame = pd.DataFrame(
        {"date": pd.date_range("2015-01-01", periods=days + 1), "btc_price": 1e4 * np.exp(np.r_[0.0, np.cumsum(r)])}
    )
    with pytest.warns(CalibrationWarning, match=r"weakly identified: .*jumps expected a day .*fat tails") as caught:
        result = calibrate(frame, set_start=False, set_initial=False)
    assert sum("weakly identified" in str(w.message) for w in caught) == 1
    merton = result.models["btc_merton"]
    assert result.jump_test.warranted
    assert merton["jump_intensity"].value / 365.25 > WEAK_JUMPS_PER_INTERVAL
    # Bounding the intensity gives a fit the criterion accepts: a few jumps a year, each well outside daily moves.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bounded = calibrate(frame, set_start=False, set_initial=False, max_jump_intensity=10.0)
    assert not [w for w in caught if "weakly identified" in str(w.message)]
    jumps = bounded.models["btc_merton"]
    size = math.hypot(jumps["jump_mean"].value, jumps["jump_sd"].value)
    assert jumps["jump_intensity"].value <= 10.0
    assert size >= 3.0 * jumps["sigma"].value / math.sqrt(365.25)


def _merton_fit(value: dict, se: dict | None = None, frequency: str = "daily") -> ModelFit:
    se = se or {}
    return ModelFit(
        name="btc_merton", factor="btc", description="", log_likelihood=0.0, n_obs=1000, frequency=frequency,
        start=pd.Timestamp("2020-01-01").date(), end=pd.Timestamp("2023-01-01").date(),
        estimates={k: Estimate(v, se.get(k, 0.01 * abs(v) + 1e-9), "", "") for k, v in value.items()},
    )


@pytest.mark.parametrize(
    "lam, jump_sd, se_lam, expected",
    [
        (30.0, 0.15, 3.0, []),  # 0.082 jumps a day, jumps 6 daily s.d.: identified
        (40.0, 0.15, 4.0, ["jumps expected a day"]),  # 0.11 a day: over 0.1
        (30.0, 0.07, 3.0, ["times the day's diffusion"]),  # 0.07 / (0.5 / sqrt(365.25)) = 2.8 s.d.
        (30.0, 0.15, 16.0, ["jump_intensity 30 with standard error 16"]),
        (250.0, 0.04, 20.0, ["jumps expected a day", "times the day's diffusion"]),  # BTC 2015-25
    ],
)
def test_weak_identification_criterion(lam, jump_sd, se_lam, expected):
    fit = _merton_fit(
        {"mu": 0.1, "sigma": 0.5, "jump_intensity": lam, "jump_mean": 0.0, "jump_sd": jump_sd}, {"jump_intensity": se_lam}
    )
    reasons = weak_jumps(fit, 1 / 365.25, ("jump_intensity", "jump_sd"))
    assert len(reasons) == len(expected) and all(e in r for e, r in zip(expected, reasons)), reasons
    # An intensity the user fixed is not judged.
    assert not any("expected a day" in r for r in weak_jumps(fit, 1 / 365.25, ("jump_sd",)))


def test_drift_is_reported_but_applied_only_when_asked(merton_data):
    frame, free = merton_data
    mu = free.models["btc_merton"]["mu"]
    assert "btc.mu" not in free.overrides
    assert free.scenario().btc.mu == Scenario.default().btc.mu
    text = str(free)
    assert "btc.mu (not applied)" in text and f"historical drift {mu.value:.4g} (s.e. {mu.std_error:.4g}" in text
    assert "# not set: the historical drift" in free.to_toml()
    applied, _ = _fit(frame, Scenario.default(), fit_drift=True)
    assert applied.overrides["btc.mu"] == pytest.approx(mu.value, rel=1e-3)
    assert "btc.mu" not in applied.not_set and "(not applied)" not in str(applied)


def _history(end: str, days: int = 400, seed: int = 6) -> pd.DataFrame:
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


def _quiet(frame, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return calibrate(frame, fees_unit="block", power_seasonality=False, **kwargs)


def test_start_moves_back_with_the_block_height_of_that_date():
    frame = _history("2024-06-30")
    result = _quiet(frame)
    scenario = result.scenario()
    # The day after the last date; the height interpolated between the 2024-04-20 halving (840,000)
    # and the base's 930,000 at 2026-01-01: 72 of 621 days, 840,000 + 90,000 * 72 / 621 = 850,434.8.
    assert scenario.simulation.start == pd.Timestamp("2024-07-01").date()
    assert scenario.protocol.start_height == 850_435
    last = frame.iloc[-1]
    assert scenario.btc.price == pytest.approx(last.btc_price, rel=1e-6)
    assert scenario.fees.initial_btc == pytest.approx(last.fees, rel=1e-6)
    assert scenario.power.price == pytest.approx(last.power_price, rel=1e-6)
    assert scenario.hosting.lease_rate == pytest.approx(last.lease_rate, rel=1e-6)
    assert set(result.set_from_data) == {
        "simulation.start", "protocol.start_height", "btc.price", "fees.initial_btc", "power.price", "hosting.lease_rate"
    }
    assert result.not_set["hashrate.initial_ehs"] == "no hashrate in the data"
    # Levels given at t = 0 and not fitted are named as not moved; the lease level is fitted at the new start.
    assert "not moved with the date" in result.not_set["hashrate.efficiency_j_per_th"]
    assert "not moved with the date" in result.not_set["mining.frontier_efficiency_j_per_th"]
    assert "hosting.lease_long_run" not in result.not_set
    text, toml = str(result), result.to_toml()
    assert "Set from the last observation (the data end 2024-06-30):" in text and "Not set (the base's value kept):" in text
    assert "  protocol.start_height = 850435: 930000 at 2026-01-01 moved -549 days" in text
    assert "# set from the last observation: the last btc_price, 2024-06-30\nprice = " in toml
    assert Scenario.from_toml_string(toml) == scenario


def test_start_moves_forward_at_blocks_per_day():
    result = _quiet(_history("2026-03-31"))
    assert result.scenario().simulation.start == pd.Timestamp("2026-04-01").date()
    assert result.scenario().protocol.start_height == 930_000 + 144 * 90


def test_lease_level_is_fitted_at_the_new_start():
    frame = _history("2024-06-30")[["date", "lease_rate"]]
    moved, kept = _quiet(frame), _quiet(frame, set_start=False)
    a, b = moved.models["lease"], kept.models["lease"]
    shift = (pd.Timestamp("2024-07-01") - pd.Timestamp("2026-01-01")).days / 365.25
    # The same fit, its level read at another date along the fitted trend.
    assert a["lease_trend"].value == pytest.approx(b["lease_trend"].value, rel=1e-6)
    expected = b["lease_long_run"].value * math.exp(b["lease_trend"].value * shift)
    assert a["lease_long_run"].value == pytest.approx(expected, rel=1e-6)


def test_a_stale_column_is_not_a_starting_value():
    frame = _history("2024-06-30")
    frame.loc[frame.index[-60:], "power_price"] = np.nan  # power ends 60 days before the rest
    result = _quiet(frame)
    assert "power.price" not in result.overrides
    assert result.not_set["power.price"] == "the last power_price (2024-05-01) is 60 days older than the end of the data"


def test_keeping_the_start_and_the_values():
    frame = _history("2024-06-30")
    with pytest.warns(CalibrationWarning, match="starts 549 days later than the day after them"):
        result = calibrate(frame, fees_unit="block", power_seasonality=False, set_start=False)
    assert "simulation.start" not in result.overrides and "protocol.start_height" not in result.overrides
    assert result.scenario().simulation.start == Scenario.default().simulation.start
    assert "set_start=False" in result.not_set["simulation.start"]
    assert result.overrides["btc.price"] == pytest.approx(frame.btc_price.iloc[-1], rel=1e-6)
    neither = _quiet(frame, set_start=False, set_initial=False)
    assert not neither.set_from_data
    assert neither.scenario().btc.price == Scenario.default().btc.price
    assert neither.not_set["btc.price"].startswith("set_initial=False (last btc_price ")


def test_cli_judgement_flags(tmp_path, capsys):
    csv = tmp_path / "history.csv"
    _history("2024-06-30").to_csv(csv, index=False)
    out = tmp_path / "s.toml"
    args = ["calibrate", str(csv), "--fees-unit", "block", "--keep-start", "--fit-drift", "--out", str(out)]
    assert main(args) == 0
    printed, _ = capsys.readouterr()
    loaded = Scenario.from_toml(out)
    assert loaded.simulation.start == Scenario.default().simulation.start
    assert "btc.mu" in printed.split("Overrides: ")[1] and "(not applied)" not in printed
    assert main(["calibrate", str(csv), "--fees-unit", "block", "--keep-initial", "--out", str(out)]) == 0
    assert Scenario.from_toml(out).btc.price == Scenario.default().btc.price
    capsys.readouterr()
    for bad, message in (
        (["--max-jump-intensity", "0"], "pivotmc: error: max_jump_intensity = 0.0 is not allowed"),
        (["--jump-intensity", "2", "--max-jump-intensity", "3"], "pivotmc: error: give jump_intensity"),
    ):
        assert main(["calibrate", str(csv), "--fees-unit", "block", *bad]) == 2
        _, err = capsys.readouterr()
        assert err.startswith(message) and err.count("\n") == 1


# --------------------------------------------------------------------------- #
# The standard errors themselves
# --------------------------------------------------------------------------- #
def test_standard_errors_cover_the_truth_as_often_as_they_claim():
    """Over many independent histories, truth within estimate ± 1.96 SE about 95% of the time.

    Recovery tests elsewhere judge estimates by the fit's own standard errors; this checks those errors.
    Exact log-OU fee paths (ten years, daily) with known parameters, 120 seeds: a coverage of 95%
    gives 114 hits on average with a binomial s.d. of 2.4; 107 (3 s.d. below) is the floor. Shorter
    histories fall short for the long-run level: the upward small-sample bias of the speed estimate
    narrows its standard error (about 88% coverage with three years).
    """
    from scipy.signal import lfilter

    level, speed, sigma, days, runs = math.log(0.03), 4.0, 0.8, 10 * 365, 120
    dt = 1.0 / 365.25
    decay = math.exp(-speed * dt)
    sd = sigma * math.sqrt((1.0 - decay**2) / (2.0 * speed))
    dates = pd.date_range("2022-01-01", periods=days, freq="D").strftime("%Y-%m-%d")
    truth = {"long_run_btc": math.exp(level), "speed": speed, "sigma": sigma}
    hits = dict.fromkeys(truth, 0)
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        shocks = sd * rng.standard_normal(days)
        shocks[0] = rng.standard_normal() * sigma / math.sqrt(2.0 * speed)  # from the stationary law
        x = level + lfilter([1.0], [1.0, -decay], shocks)  # x_i - level = decay (x_{i-1} - level) + shock_i
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)
            fit = calibrate(pd.DataFrame({"date": dates, "fees": np.exp(x)}), fees_unit="block").models["fees"]
        for key, value in truth.items():
            est = fit[key]
            hits[key] += abs(est.value - value) <= 1.96 * est.std_error
    assert all(107 <= h for h in hits.values()), hits
    assert all(h <= runs for h in hits.values())
