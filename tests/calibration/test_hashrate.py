"""The hashrate's error correction: the markup carried by the intercept, the engine's subsidy, real history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pivotmc import CalibrationWarning, Scenario, calibrate
from pivotmc.calibration.hashrate import block_heights, mean_subsidy
from pivotmc.model.protocol import step_subsidy_btc
from pivotmc.model.units import DAYS_PER_YEAR

from histories import fit_history, needs_data, real_series


def test_fit_markup_carries_the_intercept(daily):
    scenario, frame, _, _ = daily
    result, _ = fit_history(frame[["date", "btc_price", "hashrate"]], scenario, fit_markup=True)
    markup = result.models["hashrate"]["markup"]
    assert result.overrides["hashrate.growth"] == 0.0
    assert result.overrides["hashrate.markup"] == pytest.approx(markup.value, rel=1e-3)
    assert result.scenario().hashrate.markup == result.overrides["hashrate.markup"]


@pytest.mark.parametrize("steps_per_year", [12, 52])
def test_the_fit_reads_the_engines_halving_schedule(steps_per_year):
    # From the start on, the heights and each step's subsidy per block are the engine's, across the 2028 halving too.
    base = Scenario.default()
    n_steps = 6 * steps_per_year
    days = DAYS_PER_YEAR * np.arange(n_steps + 1) / steps_per_year
    heights = block_heights(days, base)
    blocks, subsidy = step_subsidy_btc(base.protocol, steps_per_year, n_steps)
    np.testing.assert_allclose(heights, base.protocol.start_height + np.concatenate([[0.0], np.cumsum(blocks)]), rtol=1e-13)
    mean = np.array([mean_subsidy(heights[k], heights[k + 1], base) for k in range(n_steps)])
    np.testing.assert_allclose(mean, subsidy / blocks, rtol=1e-12)
    assert mean.max() == 3.125 and mean.min() == 1.5625  # the halving at 1,050,000 lies inside the span


def test_heights_before_the_start_follow_the_historical_halvings():
    base = Scenario.default()
    halving_2024 = (pd.Timestamp("2024-04-20").date() - base.simulation.start).days
    assert block_heights(np.array([float(halving_2024)]), base)[0] == 840_000
    assert block_heights(np.array([0.0]), base)[0] == base.protocol.start_height


@needs_data
def test_real_hashrate_error_correction():
    span = slice("2016-01-01", "2025-02-28")
    monthly = pd.DataFrame(
        {
            "btc_price": real_series("btc_usd_daily_yahoo.csv", "btc_usd_close")[span].resample("MS").mean(),
            "hashrate": real_series("btc_hashrate_daily_bitcoinvisuals.csv", "hashrate_eh_s")[span].resample("MS").mean(),
            "fees": pd.concat(
                [
                    real_series("btc_fees_hashrate_daily_glassnode_2016_2022.csv", "fees_btc_per_day"),
                    real_series("btc_fees_daily_blockchaincom_2023_2025.csv", "fees_btc_per_day"),
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
