"""Sensitivity and sweeps on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

import pivotmc
from pivotmc.errors import ValidationError
from pivotmc.scenario import Scenario
from pivotmc.studies import continuous_parameters, sensitivity, sweep

SHORT = Scenario.default().with_overrides({"simulation.horizon_years": 3.0, "switch.learning_paths": 2000})


def test_sensitivity_layout_and_signs():
    ds = sensitivity(SHORT, ["hosting.capex_per_it_mw", "btc.price"], rel_shock=0.2, n_paths=2000, seed=1)
    assert ds.mean_npv.dims == ("parameter", "shock", "strategy")
    host = ds.change.sel(strategy="host")
    assert host.sel(parameter="hosting.capex_per_it_mw", shock="up") < 0 < host.sel(parameter="hosting.capex_per_it_mw", shock="down")
    mine = ds.change.sel(strategy="mine")
    assert mine.sel(parameter="btc.price", shock="up") > 0 > mine.sel(parameter="btc.price", shock="down")
    # capex does not touch mining: the paired change is exactly zero
    assert ds.change.sel(strategy="mine", parameter="hosting.capex_per_it_mw").values.tolist() == [0.0, 0.0]
    assert ds.value.sel(parameter="btc.price").values.tolist() == pytest.approx([72_000.0, 108_000.0])


def test_paired_standard_error_of_a_small_shock_is_far_below_unpaired():
    ds = sensitivity(SHORT, ["btc.sigma"], rel_shock=0.05, n_paths=4000, seed=2)
    paired = ds.change_se.sel(strategy="mine").values
    unpaired = ds.change_se_unpaired.sel(strategy="mine").values
    assert np.all(paired < 0.2 * unpaired)


def test_shocks_stay_inside_allowed_ranges():
    ds = sensitivity(SHORT, ["mining.uptime"], rel_shock=0.2, n_paths=200, seed=3)
    assert ds.value.sel(parameter="mining.uptime", shock="up") == 1.0


def test_default_parameter_list_is_every_nonzero_continuous_parameter():
    names = continuous_parameters(Scenario.default())
    assert "btc.sigma" in names and "hosting.lease_rate" in names and "site.grid_mw" in names
    assert "hashrate.growth" not in names  # zero: a relative shock would not move it
    assert not any(n.startswith(("simulation.", "switch.")) for n in names)


def test_sensitivity_values_the_switch_on_each_scenario_s_own_policy():
    ds = sensitivity(SHORT, ["hosting.lease_rate"], rel_shock=0.2, n_paths=300, seed=1)
    assert "switch" in ds.strategy.values
    up = SHORT.with_overrides({"hosting.lease_rate": SHORT.hosting.lease_rate * 1.2})
    shocked = pivotmc.simulate(up, n_paths=300, seed=1).npv.sel(strategy="switch").mean().item()
    assert ds.mean_npv.sel(parameter="hosting.lease_rate", shock="up", strategy="switch").item() == shocked


def test_sensitivity_refuses_bad_input():
    with pytest.raises(ValidationError, match="rel_shock"):
        sensitivity(SHORT, ["btc.sigma"], rel_shock=1.5, n_paths=10)
    with pytest.raises(ValidationError, match="continuous"):
        sensitivity(SHORT, ["mining.curtailment"], n_paths=10)


def test_sweep_grid_uses_common_random_numbers():
    grid = {"btc.sigma": [0.3, 0.5], "hosting.lease_rate": [100.0, 140.0, 180.0]}
    ds = sweep(SHORT, grid, n_paths=1000, seed=4)
    assert ds.mean_npv.dims == ("btc.sigma", "hosting.lease_rate", "strategy")
    host = ds.mean_npv.sel(strategy="host")
    assert np.all(host.diff("hosting.lease_rate") > 0)
    # mine does not depend on the lease rate, bit for bit
    mine = ds.mean_npv.sel(strategy="mine").values
    assert np.all(mine == mine[:, :1])
    one = pivotmc.simulate(SHORT.with_overrides({"btc.sigma": 0.5, "hosting.lease_rate": 100.0}), n_paths=1000, seed=4)
    assert ds.mean_npv.sel({"btc.sigma": 0.5, "hosting.lease_rate": 100.0}).values.tolist() == one.npv.mean("path").values.tolist()


def test_sweep_validates_every_combination_first():
    with pytest.raises(ValidationError, match="btc.sigma"):
        sweep(SHORT, {"btc.sigma": [0.3, 9.0]}, n_paths=10)


def test_precision_control_stops_when_precise_and_equals_a_plain_run():
    from pivotmc.studies import simulate_to_precision

    ds = simulate_to_precision(SHORT, precision=0.01, seed=5, batch_paths=500, max_paths=200_000)
    assert ds.attrs["stopped_because"] == "precision reached"
    n = ds.attrs["n_paths"]
    assert n % 500 == 0 and 500 < n < 200_000
    mean = ds.npv.mean("path").values
    assert np.all(ds.half_width_95.values <= np.maximum(0.02 * np.abs(mean), 1e5))
    plain = pivotmc.simulate(SHORT, n_paths=n, seed=5)
    np.testing.assert_array_equal(ds.npv.values, plain.npv.values)
    np.testing.assert_array_equal(ds.cash_flow_mean.values, plain.cash_flow_mean.values)
    # Every strategy counts, switch included, with the policy a plain run learns and applies.
    assert list(ds.strategy.values) == list(plain.strategy.values) and "switch" in ds.strategy.values
    for name in ("switch_decision", "switch_share", "option_value", "option_value_std_error", "switch_policy_coefficients"):
        assert ds[name].values.tobytes() == plain[name].values.tobytes(), name
    # one batch fewer would not have been precise enough
    fewer = pivotmc.simulate(SHORT, n_paths=n - 500, seed=5).npv.values
    half = 1.96 * fewer.std(axis=1, ddof=1) / np.sqrt(n - 500)
    assert np.any(half > np.maximum(0.01 * np.abs(fewer.mean(axis=1)), 1e5))


def test_precision_control_reports_a_spent_budget():
    from pivotmc.studies import simulate_to_precision

    ds = simulate_to_precision(SHORT, precision=0.0001, seed=5, batch_paths=500, max_paths=1000)
    assert ds.attrs["stopped_because"] == "path budget spent"
    assert ds.attrs["n_paths"] == 1000


def test_command_line_sensitivity_sweep_and_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from pivotmc.cli import main

    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT.to_toml())
    assert main(["sensitivity", str(scenario), "--param", "btc.price", "--param", "hosting.lease_rate",
                 "--paths", "500", "--out", str(tmp_path / "sens.nc")]) == 0
    out = capsys.readouterr().out
    assert "btc.price" in out and "hosting.lease_rate" in out and "±" in out
    assert main(["sweep", str(scenario), "--grid", "btc.sigma=0.3,0.5", "--grid", "hosting.lease_rate=100,140",
                 "--paths", "300"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 6 and "0.3" in out and "140" in out
    assert main(["run", str(scenario), "--paths", "500", "--keep-paths", "20", "--out", str(tmp_path / "r.nc")]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "r.nc"), "-o", str(tmp_path / "r.html"),
                 "--sensitivity", str(tmp_path / "sens.nc")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 4  # distribution, profile, fan charts, tornado x strategies
    assert main(["sweep", "--grid", "btc.sigma"]) == 2
    assert "section.key=v1,v2" in capsys.readouterr().err
