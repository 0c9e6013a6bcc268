"""The GPU rental price (log-OU around a trending level, the lease rate's model): a history without it is
calibrated as before, with it its estimates and correlations join the others, and the real rental indices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pivotmc import FACTORS, CalibrationWarning, Scenario, calibrate

from histories import fit_history, needs_data, quiet_calibrate, real_series


def test_a_history_without_gpu_prices_is_calibrated_as_before(daily):
    scenario, frame, result, _ = daily
    without, _ = fit_history(frame.drop(columns="gpu_price"), scenario)
    assert set(result.models) - set(without.models) == {"gpu"}
    for name, model in without.models.items():
        assert model == result.models[name], name  # every estimate, standard error, likelihood and note
    others = [f for f in FACTORS if f != "gpu"]
    pd.testing.assert_frame_equal(without.correlation, result.correlation.loc[others, others])
    # The whole 6 x 6 matrix: the fitted block as with the GPU, its pairs with gpu left at 0.
    full, matrix = np.array(result.overrides["correlation.matrix"]), np.array(without.overrides["correlation.matrix"])
    gpu = FACTORS.index("gpu")
    expected = full.copy()
    expected[gpu, :] = expected[:, gpu] = 0.0
    expected[gpu, gpu] = 1.0
    np.testing.assert_array_equal(matrix, expected)
    assert abs(full[gpu, FACTORS.index("lease")]) > 0.5  # the pair that is lost
    rest = {k: v for k, v in result.overrides.items() if not k.startswith("gpu.") and k != "correlation.matrix"}
    assert {k: v for k, v in without.overrides.items() if k != "correlation.matrix"} == rest
    assert without.scenario().gpu == scenario.gpu


def test_gpu_estimates_set_the_gpu_section(daily):
    scenario, _, result, _ = daily
    gpu = result.models["gpu"]
    assert gpu.factor == "gpu" and gpu.n_obs == 3649
    assert [e.parameter for e in gpu.estimates.values()] == ["gpu.long_run", "gpu.trend", "gpu.speed", "gpu.sigma"]
    assert gpu["long_run"].unit == "USD/GPU-hour"
    calibrated = result.scenario()
    for key in ("long_run", "trend", "speed", "sigma"):
        assert getattr(calibrated.gpu, key) == float(f"{gpu[key].value:.4g}")
    assert calibrated.gpu.aging == scenario.gpu.aging  # not a market parameter


def test_gpu_and_lease_are_one_model(monthly):
    """The same values read as a lease rate or as a GPU price give the same fit, parameter for parameter."""
    scenario, frame, _, _ = monthly
    lease, _ = fit_history(frame[["date", "lease_rate"]], scenario)
    gpu, _ = fit_history(frame[["date", "lease_rate"]].rename(columns={"lease_rate": "gpu_price"}), scenario)
    a, b = lease.models["lease"], gpu.models["gpu"]
    assert a.log_likelihood == b.log_likelihood and a.n_obs == b.n_obs
    for key in ("long_run", "trend", "speed", "sigma"):
        assert a[f"lease_{key}"].value == b[key].value and a[f"lease_{key}"].std_error == b[key].std_error


def test_gpu_level_and_price_at_a_moved_start(monthly):
    _, frame, _, _ = monthly
    short = frame[["date", "gpu_price"]].iloc[:120]
    moved, kept = quiet_calibrate(short), quiet_calibrate(short, set_start=False)
    a, b = moved.models["gpu"], kept.models["gpu"]
    shift = (moved.scenario().simulation.start - Scenario.default().simulation.start).days / 365.25
    assert a["trend"].value == pytest.approx(b["trend"].value, rel=1e-6)
    assert a["long_run"].value == pytest.approx(b["long_run"].value * math.exp(b["trend"].value * shift), rel=1e-6)
    assert moved.set_from_data["gpu.price"] == pytest.approx(short.gpu_price.iloc[-1], rel=1e-6)
    assert "gpu.long_run" not in moved.not_set
    assert "not moved with the date" in quiet_calibrate(frame[["date", "lease_rate"]]).not_set["gpu.long_run"]


@needs_data
def test_real_monthly_gpu_rental_index():
    """H100 list prices, 2023-09 to 2026-09 (SOURCES.md section 6): MODEL.md's dynamics within two standard errors."""
    h100 = real_series("gpu_rental_index_monthly_2023_2026.csv", "h100_restated")
    with pytest.warns(CalibrationWarning, match="1 gap"):  # 2023-09 to 2024-01 withheld: too few providers
        result = calibrate(h100.rename("gpu_price").rename_axis("date").reset_index())
    gpu = result.models["gpu"]
    assert gpu.n_obs == 33 and result.frequency == "monthly"
    for key, default in (("trend", -0.10), ("speed", 2.0), ("sigma", 0.25)):
        assert abs(gpu[key].value - default) <= 2.0 * gpu[key].std_error, (key, gpu[key])
    assert gpu["sigma"].std_error < 0.2 * gpu["sigma"].value  # the volatility is well measured, the trend is not
    assert gpu["trend"].std_error > 0.05
    assert result.overrides["gpu.price"] == pytest.approx(h100.dropna().iloc[-1], rel=1e-6)  # a list price


@needs_data
def test_real_daily_transaction_index_reverts_within_days():
    ornn = real_series("gpu_rental_ornn_daily_2026.csv", "ornn_h100_sxm_usd_gpuh")
    result = quiet_calibrate(ornn.rename("gpu_price").rename_axis("date").reset_index())
    gpu = result.models["gpu"]
    assert gpu.n_obs == 91 and result.frequency == "daily"
    assert gpu["speed"].value > 12  # a half-life of days (SOURCES.md: about 8)
    assert gpu["trend"].std_error > 0.3  # 92 days say nothing of a trend
    assert 2.3 < gpu["long_run"].value < 3.2  # the series' range
