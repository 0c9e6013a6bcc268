"""Fits the calibration tests share, made once a session (each takes seconds)."""

from __future__ import annotations

import pytest

from pivotmc import Scenario

from histories import DAILY, MONTHLY, engine_paths, fit_history, merton_prices


@pytest.fixture(scope="session")
def daily():
    """Ten years of daily paths of all six factors (Merton BTC with jumps), fitted once."""
    scenario = Scenario.default().with_overrides(DAILY)
    frame = engine_paths(scenario, seed=3)
    result, caught = fit_history(frame, scenario)
    return scenario, frame, result, caught


@pytest.fixture(scope="session")
def monthly():
    """Twenty years of monthly paths (log-normal BTC), fitted once."""
    scenario = Scenario.default().with_overrides(MONTHLY)
    frame = engine_paths(scenario, seed=0)
    result, caught = fit_history(frame, scenario)
    return scenario, frame, result, caught


@pytest.fixture(scope="session")
def merton_data():
    frame = merton_prices(seed=11)
    free, _ = fit_history(frame, Scenario.default())
    return frame, free
