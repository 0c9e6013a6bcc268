"""Reading the history: bad data and arguments refused with a clear error, frequencies and gaps,
fees per day converted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pivotmc import CalibrationWarning, ValidationError, calibrate

from histories import small_frame


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
        calibrate(mutate(small_frame(200).reset_index(drop=True)))


def test_a_column_at_another_frequency_is_refused():
    frame = small_frame(200)
    frame["lease_rate"] = np.where(frame.index % 7 == 0, 140.0 * np.exp(0.01 * frame.index), np.nan)
    with pytest.raises(ValidationError, match="mixed frequencies: lease_rate"):
        calibrate(frame)


def test_a_short_interval_in_monthly_data_is_refused():
    frame = small_frame(60, step="MS")
    frame.loc[30, "date"] = frame.loc[29, "date"] + pd.Timedelta(days=7)
    with pytest.raises(ValidationError, match="shorter than a monthly step"):
        calibrate(frame)


def test_expected_frequency_is_checked():
    with pytest.raises(ValidationError, match="daily .* not weekly"):
        calibrate(small_frame(), frequency="weekly")
    assert calibrate(small_frame(), frequency="daily", power_seasonality=False).frequency == "daily"


def test_gaps_are_reported():
    frame = small_frame(120).drop(index=[30, 31, 32, 70])
    with pytest.warns(CalibrationWarning, match=r"power_price has 2 gaps .* longest, 4 days"):
        result = calibrate(frame, power_seasonality=False)
    assert result.models["power"].n_obs == len(frame) - 1
    assert any("gaps" in w for w in result.warnings)


@pytest.mark.filterwarnings("ignore::pivotmc.CalibrationWarning")
def test_fees_per_day_are_converted(daily):
    scenario, frame, _, _ = daily
    per_block = calibrate(frame[["date", "fees"]], scenario, fees_unit="block")
    per_day = frame[["date", "fees"]].assign(fees=frame["fees"] * scenario.protocol.blocks_per_day)
    result = calibrate(per_day, scenario, fees_unit="day")
    assert result.overrides == per_block.overrides


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        calibrate(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="fees_unit"):
        calibrate(small_frame(), fees_unit="month")
    with pytest.raises(ValidationError, match="DataFrame"):
        calibrate([1, 2, 3])
