"""Where the calibrated scenario starts: the day after the data, the block height of that date,
the last observations, and what is left at the base's values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pivotmc import CalibrationWarning, Scenario, calibrate

from histories import quiet_calibrate, recent_history


def test_start_moves_back_with_the_block_height_of_that_date():
    frame = recent_history("2024-06-30")
    result = quiet_calibrate(frame)
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
    result = quiet_calibrate(recent_history("2026-03-31"))
    assert result.scenario().simulation.start == pd.Timestamp("2026-04-01").date()
    assert result.scenario().protocol.start_height == 930_000 + 144 * 90


def test_lease_level_is_fitted_at_the_new_start():
    frame = recent_history("2024-06-30")[["date", "lease_rate"]]
    moved, kept = quiet_calibrate(frame), quiet_calibrate(frame, set_start=False)
    a, b = moved.models["lease"], kept.models["lease"]
    shift = (pd.Timestamp("2024-07-01") - pd.Timestamp("2026-01-01")).days / 365.25
    # The same fit, its level read at another date along the fitted trend.
    assert a["lease_trend"].value == pytest.approx(b["lease_trend"].value, rel=1e-6)
    expected = b["lease_long_run"].value * math.exp(b["lease_trend"].value * shift)
    assert a["lease_long_run"].value == pytest.approx(expected, rel=1e-6)


def test_a_stale_column_is_not_a_starting_value():
    frame = recent_history("2024-06-30")
    frame.loc[frame.index[-60:], "power_price"] = np.nan  # power ends 60 days before the rest
    result = quiet_calibrate(frame)
    assert "power.price" not in result.overrides
    assert result.not_set["power.price"] == "the last power_price (2024-05-01) is 60 days older than the end of the data"


def test_keeping_the_start_and_the_values():
    frame = recent_history("2024-06-30")
    with pytest.warns(CalibrationWarning, match="starts 549 days later than the day after them"):
        result = calibrate(frame, fees_unit="block", power_seasonality=False, set_start=False)
    assert "simulation.start" not in result.overrides and "protocol.start_height" not in result.overrides
    assert result.scenario().simulation.start == Scenario.default().simulation.start
    assert "set_start=False" in result.not_set["simulation.start"]
    assert result.overrides["btc.price"] == pytest.approx(frame.btc_price.iloc[-1], rel=1e-6)
    neither = quiet_calibrate(frame, set_start=False, set_initial=False)
    assert not neither.set_from_data
    assert neither.scenario().btc.price == Scenario.default().btc.price
    assert neither.not_set["btc.price"].startswith("set_initial=False (last btc_price ")
