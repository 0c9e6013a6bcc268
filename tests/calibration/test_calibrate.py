"""calibrate end to end: every model's parameters recovered from the engine's own paths (within
3 standard errors, fixed seeds), the overrides it gives, and the result as a table and as text."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pivotmc import CalibrationWarning, Scenario, calibrate

from histories import DAILY, MONTHLY, assert_recovered, true_values


@pytest.mark.parametrize("key", sorted(true_values(Scenario.default().with_overrides(DAILY))))
def test_daily_parameters_are_recovered(daily, key):
    scenario, _, result, _ = daily
    assert_recovered(result, *key, true_values(scenario)[key])


@pytest.mark.parametrize("key", sorted(true_values(Scenario.default().with_overrides(MONTHLY))))
def test_monthly_parameters_are_recovered(monthly, key):
    scenario, _, result, _ = monthly
    assert_recovered(result, *key, true_values(scenario)[key])


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
    assert len(calibrated.correlation.matrix) == 6
    assert "hashrate.markup" not in result.overrides
    # A different base keeps its own settings besides the fitted ones.
    other = Scenario.default().with_overrides({"site.grid_mw": 150})
    assert result.scenario(other).site.grid_mw == 150.0


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


def test_table_and_text(daily):
    _, _, result, _ = daily
    table = result.table()
    assert set(table["model"]) == {"btc_merton", "btc_lognormal", "fees", "hashrate", "power", "lease", "gpu"}
    row = table[(table.model == "fees") & (table.parameter == "speed")].iloc[0]
    assert row.scenario == "fees.speed" and row.std_error > 0
    text = str(result)
    for needle in ("btc_merton", "std. error", "LR =", "Correlation of fitted shocks", "hashrate.speed"):
        assert needle in text
    assert max(len(line) for line in text.splitlines()) <= 100  # notes and reasons wrap, as every table's do
    # Every estimate and standard error is printed, to four significant figures ("-" where there is none).
    words = text.split()
    for model in result.models.values():
        for est in model.estimates.values():
            shown = [f"{x:.4g}" if math.isfinite(x) else "-" for x in (est.value, est.std_error)]
            assert any(words[i : i + 2] == shown for i in range(len(words) - 1)), (model.name, shown)


def _comments_above(text: str) -> dict[str, list[str]]:
    """The comment lines just above each parameter of a TOML text, by dotted name."""
    above, pending, section = {}, [], ""
    for line in text.splitlines():
        if line.startswith("["):
            section, pending = line[1:-1], []
        elif line.startswith("#"):
            pending.append(line)
        else:
            if " = " in line and not line.startswith(" "):
                above[f"{section}.{line.split(' = ')[0]}"] = pending
            pending = []
    return above


def test_toml_puts_each_reason_above_its_parameter(daily):
    _, _, result, _ = daily
    text = result.to_toml()
    assert Scenario.from_toml_string(text) == result.scenario()
    other = Scenario.default().with_overrides({"site.grid_mw": 150})
    assert Scenario.from_toml_string(result.to_toml(other)) == result.scenario(other)
    assert text.startswith("# pivotmc scenario calibrated to data.\n#   btc_merton: Merton jump-diffusion")
    above = _comments_above(text)
    fitted = [k for k in result.overrides if k not in result.set_from_data]
    reasons = {
        "# fit: ": fitted,
        "# set from the last observation: ": list(result.set_from_data),
        "# not set: ": list(result.not_set),
    }
    assert "correlation.matrix" in fitted and "btc.mu" in result.not_set
    for prefix, names in reasons.items():
        assert {name for name, lines in above.items() if any(line.startswith(prefix) for line in lines)} == set(names)
