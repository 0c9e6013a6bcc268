"""The BTC price: jumps tested for and used, the intensity fixed or bounded, weak identification
flagged, the drift reported but applied only when asked; recoveries within 3 standard errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from pivotmc import CalibrationWarning, Scenario, ValidationError, calibrate
from pivotmc.calibration.btc import WEAK_JUMPS_PER_INTERVAL, weak_jumps
from pivotmc.calibration.fit import Estimate, ModelFit

from histories import MERTON, MONTHLY, assert_recovered, engine_paths, fit_history, needs_data, real_series, small_frame


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
    frame = engine_paths(scenario, seed=5)[["date", "btc_price"]]
    result, _ = fit_history(frame, scenario)
    assert result.frequency == "weekly"
    assert not result.jump_test.warranted
    assert result.overrides["btc.jump_intensity"] == 0.0
    assert "btc.jump_sd" not in result.overrides
    assert_recovered(result, "btc_lognormal", "sigma", scenario.btc.sigma)
    assert_recovered(result, "btc_lognormal", "mu", scenario.btc.mu)


def test_too_few_for_jumps_falls_back_to_the_lognormal():
    frame = small_frame(100, column="btc_price")
    with pytest.warns(CalibrationWarning, match="too few to fit jumps"):
        result = calibrate(frame)
    assert "btc_merton" not in result.models and result.jump_test is None
    assert result.overrides["btc.jump_intensity"] == 0.0


def test_merton_data_are_recovered_unconstrained(merton_data):
    _, free = merton_data
    assert free.jump_test.warranted and free.jump_test.df == 3
    for key, true in MERTON.items():
        assert_recovered(free, "btc_merton", key, true)
    assert not any("weakly identified" in w for w in free.warnings)


def test_fixed_intensity_fits_the_others_given_it(merton_data):
    frame, free = merton_data
    result, caught = fit_history(frame, Scenario.default(), jump_intensity=MERTON["jump_intensity"])
    merton = result.models["btc_merton"]
    assert merton["jump_intensity"].value == MERTON["jump_intensity"]
    assert math.isnan(merton["jump_intensity"].std_error)
    assert result.jump_test.df == 2  # the intensity is not estimated
    for key in ("mu", "sigma", "jump_mean", "jump_sd"):
        assert_recovered(result, "btc_merton", key, MERTON[key])
    # The same likelihood, maximised over less: never above the free maximum, and close to it at the truth.
    assert merton.log_likelihood <= free.models["btc_merton"].log_likelihood + 1e-6
    assert result.overrides["btc.jump_intensity"] == MERTON["jump_intensity"]
    assert not caught


def test_bounded_intensity_respects_the_bound(merton_data):
    frame, free = merton_data
    bound = 2.0  # well below the truth: the bound binds
    result, caught = fit_history(frame, Scenario.default(), max_jump_intensity=bound)
    merton = result.models["btc_merton"]
    assert merton["jump_intensity"].value <= bound * (1 + 1e-9)
    assert merton["jump_intensity"].value == pytest.approx(bound, rel=1e-6)
    assert math.isnan(merton["jump_intensity"].std_error)  # at its bound: no standard error
    assert any("at the bound max_jump_intensity = 2" in n for n in merton.notes)
    assert merton.log_likelihood < free.models["btc_merton"].log_likelihood
    # At an active bound the constrained maximum is the fit with the intensity fixed there.
    fixed, _ = fit_history(frame, Scenario.default(), jump_intensity=bound)
    assert merton.log_likelihood == pytest.approx(fixed.models["btc_merton"].log_likelihood, abs=1e-6)
    for key in ("sigma", "jump_mean", "jump_sd"):
        assert merton[key].value == pytest.approx(fixed.models["btc_merton"][key].value, rel=1e-3)
        assert merton[key].std_error == pytest.approx(fixed.models["btc_merton"][key].std_error, rel=1e-2)
    assert result.overrides["btc.jump_intensity"] <= bound
    assert not any("weakly identified" in w for w in caught)


def test_bounded_intensity_above_the_fit_changes_nothing(merton_data):
    frame, free = merton_data
    result, _ = fit_history(frame, Scenario.default(), max_jump_intensity=50.0)
    for key, true in MERTON.items():
        assert result.models["btc_merton"][key].value == pytest.approx(free.models["btc_merton"][key].value, rel=1e-4)
        assert_recovered(result, "btc_merton", key, true)


def test_zero_intensity_fits_the_lognormal_only(merton_data):
    frame, _ = merton_data
    result, _ = fit_history(frame.iloc[:400], Scenario.default(), jump_intensity=0.0)
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
        calibrate(small_frame(100, column="btc_price"), **kwargs)


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
    applied, _ = fit_history(frame, Scenario.default(), fit_drift=True)
    assert applied.overrides["btc.mu"] == pytest.approx(mu.value, rel=1e-3)
    assert "btc.mu" not in applied.not_set and "(not applied)" not in str(applied)


@needs_data
def test_real_btc_2015_2025():
    close = real_series("btc_usd_daily_yahoo.csv", "btc_usd_close")["2015-01-01":"2025-12-31"]
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
