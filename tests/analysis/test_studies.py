"""Sensitivity and sweeps on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest
from same_dataset import assert_same_dataset

import pivotmc
from pivotmc.errors import ValidationError
from pivotmc.model.scenario import Scenario
from pivotmc.analysis.studies import continuous_parameters, sensitivity, sweep
from naming import assert_standard_errors_end_in_se

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
    assert_standard_errors_end_in_se(ds)


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


#: Fifteen years, where the switch converts on about two paths in three, so the policy it applies matters.
CONVERTING = Scenario.default().with_overrides({"switch.learning_paths": 4000})


def test_sensitivity_applies_the_base_policy_or_each_case_s_own_when_asked():
    from pivotmc.policy.switch import learn

    name = "hosting.lease_rate"
    up = CONVERTING.with_overrides({name: CONVERTING.hosting.lease_rate * 1.2})
    cell = dict(parameter=name, shock="up", strategy="switch")
    base_policy = pivotmc.simulate(up, n_paths=300, seed=1, switch_policy=learn(CONVERTING))
    own_policy = pivotmc.simulate(up, n_paths=300, seed=1)
    # The two policies convert differently on these paths, so the checks below can tell them apart.
    assert not np.array_equal(base_policy.switch_decision.values, own_policy.switch_decision.values)

    frozen = sensitivity(CONVERTING, [name], rel_shock=0.2, n_paths=300, seed=1)
    assert frozen.mean_npv.sel(cell).item() == base_policy.npv.sel(strategy="switch").mean().item()
    relearned = sensitivity(CONVERTING, [name], rel_shock=0.2, n_paths=300, seed=1, relearn=True)
    assert relearned.mean_npv.sel(cell).item() == own_policy.npv.sel(strategy="switch").mean().item()
    assert relearned.mean_npv.sel(cell).item() != frozen.mean_npv.sel(cell).item()


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
    assert_standard_errors_end_in_se(ds)


def test_sweep_validates_every_combination_first():
    with pytest.raises(ValidationError, match="btc.sigma"):
        sweep(SHORT, {"btc.sigma": [0.3, 9.0]}, n_paths=10)


def test_precision_control_stops_when_precise_and_equals_a_plain_run():
    from pivotmc.analysis.studies import simulate_to_precision

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
    for name in ("switch_decision", "switch_share", "option_value", "option_value_se", "switch_policy_coefficients"):
        assert ds[name].values.tobytes() == plain[name].values.tobytes(), name
    # one batch fewer would not have been precise enough
    fewer = pivotmc.simulate(SHORT, n_paths=n - 500, seed=5).npv.values
    half = 1.96 * fewer.std(axis=1, ddof=1) / np.sqrt(n - 500)
    assert np.any(half > np.maximum(0.01 * np.abs(fewer.mean(axis=1)), 1e5))


def test_precision_control_reports_a_spent_budget():
    from pivotmc.analysis.studies import simulate_to_precision

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


# --- what a shock means -------------------------------------------------------


def _shocks(name: str, rel: float, scenario: Scenario = SHORT):
    from pivotmc.analysis.studies import _parameter, _shocked

    return _shocked(_parameter(scenario, name), rel)


def test_down_lowers_and_up_raises_a_negative_parameter():
    # jump_mean = -0.05 and lease_trend = -0.03: v (1 -/+ r) would raise the value on "down".
    for name, base in (("btc.jump_mean", -0.05), ("hosting.lease_trend", -0.03)):
        (down, down_cut, _), (up, up_cut, _) = _shocks(name, 0.2)
        assert down == pytest.approx(base * 1.2) and up == pytest.approx(base * 0.8)
        assert down < base < up and not down_cut and not up_cut
    ten_years = SHORT.with_overrides({"simulation.horizon_years": 10.0, "strategies.evaluate": ["mine", "host"]})
    ds = sensitivity(ten_years, ["hosting.lease_trend"], rel_shock=0.2, n_paths=300, seed=1)
    np.testing.assert_allclose(ds.value.values, [[-0.036, -0.024]], rtol=1e-12)
    # A more negative lease trend lowers the lease rates, so host's mean NPV falls on "down" and rises on "up".
    change = ds.change.sel(parameter="hosting.lease_trend", strategy="host").values
    se = ds.change_se.sel(parameter="hosting.lease_trend", strategy="host").values
    assert change[0] < -5 * se[0] and change[1] > 5 * se[1]


def test_integer_parameters_move_by_whole_units_at_least_one():
    # switch.decisions_per_year = 4 (an int): 20% is 0.8 of a unit, rounded to one whole unit.
    assert [v for v, _, _ in _shocks("switch.decisions_per_year", 0.2)] == [3.0, 5.0]
    assert [v for v, _, _ in _shocks("switch.decisions_per_year", 0.6)] == [2.0, 6.0]  # 2.4 -> 2 units
    assert [v for v, _, _ in _shocks("switch.learning_paths", 0.2)] == [1600.0, 2400.0]
    # switch.degree = 2 in [1, 4]: 90% is 2 units; down stops at 1 (clipped), up reaches 4 exactly (not clipped).
    assert [(v, cut) for v, cut, _ in _shocks("switch.degree", 0.9)] == [(1.0, True), (4.0, False)]


def test_refresh_years_moves_by_whole_time_steps():
    # 4 years at 12 steps a year: 20% is 9.6 steps, so 10 steps; 1% would be 0.48, so one step.
    assert [v for v, _, _ in _shocks("mining.refresh_years", 0.2)] == [38 / 12, 58 / 12]
    assert [v for v, _, _ in _shocks("mining.refresh_years", 0.01)] == [47 / 12, 49 / 12]
    ds = sensitivity(SHORT.with_overrides({"simulation.horizon_years": 6.0}), ["mining.refresh_years"],
                     rel_shock=0.2, n_paths=200, seed=1)
    assert ds.skip_reason.values.tolist() == [["", ""]]
    assert np.isfinite(ds.change.values).all()
    # An earlier refresh of a fleet that is as efficient as the frontier costs mining money within 6 years.
    assert ds.change.sel(shock="down", strategy="mine").item() != 0.0


def test_a_shock_cut_at_a_bound_is_flagged_and_marked():
    from pivotmc.analysis.studies import format_sensitivity

    ds = sensitivity(SHORT, ["mining.uptime", "mining.pue"], rel_shock=0.2, n_paths=200, seed=3)
    # uptime 0.97 x 1.2 leaves [0, 1]: up stops at 1; pue 1.05 x 0.8 leaves [1, 3]: down stops at 1.
    np.testing.assert_allclose(ds.value.values, [[0.776, 1.0], [1.0, 1.26]], rtol=1e-12)
    assert ds.clipped.values.tolist() == [[False, True], [True, False]]
    text = format_sensitivity(ds)
    up = next(line for line in text.splitlines() if line.strip().startswith("up") and "1.000*" in line)
    assert up and "* cut short at the parameter's bound" in text


def test_zero_parameters_and_parameters_at_a_bound_are_skipped_with_the_reason():
    from pivotmc.analysis.studies import format_sensitivity

    at_bound = SHORT.with_overrides({"mining.uptime": 1.0})
    ds = sensitivity(at_bound, ["hashrate.growth", "mining.uptime"], rel_shock=0.2, n_paths=200, seed=1)
    reasons = ds.skip_reason.values
    assert "is 0" in reasons[0, 0] and "is 0" in reasons[0, 1]
    assert reasons[1, 0] == "" and "no room to shock mining.uptime = 1 up" in reasons[1, 1]
    assert np.isnan(ds.change.values[0]).all() and np.isnan(ds.change.values[1, 1]).all()
    assert not ds.clipped.values.any()  # a skipped shock is not a clipped one
    text = format_sensitivity(ds)
    assert "skipped: hashrate.growth is 0: a relative shock does not move it" in text
    assert "no room to shock mining.uptime = 1 up" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_sensitivity_names_an_unknown_parameter():
    with pytest.raises(ValidationError, match="btc.sigmaa"):
        sensitivity(SHORT, ["btc.sigmaa"], n_paths=10)
    with pytest.raises(ValidationError, match="not a number"):
        sensitivity(SHORT, ["hashrate.markup"], n_paths=10)  # "equilibrium": no value to shock


def test_sensitivity_result_survives_a_netcdf_round_trip(tmp_path):
    from pivotmc.analysis.studies import format_sensitivity
    from pivotmc.run.io import load, save

    ds = sensitivity(SHORT, ["hashrate.growth", "mining.uptime"], rel_shock=0.2, n_paths=100, seed=1)
    back = load(save(ds, tmp_path / "sens.nc"))
    assert back.clipped.dtype == bool and back.clipped.values.tolist() == ds.clipped.values.tolist()
    assert back.skip_reason.values.tolist() == ds.skip_reason.values.tolist()
    assert back.skip_reason.dtype == object and "" in back.skip_reason.values  # text, empty strings included
    assert_same_dataset(back, ds)
    assert format_sensitivity(back) == format_sensitivity(ds)


def test_sweep_result_survives_a_netcdf_round_trip(tmp_path):
    from pivotmc.analysis.studies import format_sweep
    from pivotmc.run.io import load, save

    ds = sweep(SHORT, {"btc.sigma": [0.3, 0.5], "hosting.power_passthrough": [True, False]}, n_paths=100, seed=1)
    back = load(save(ds, tmp_path / "sweep.nc"))
    assert back["hosting.power_passthrough"].dtype == bool
    assert_same_dataset(back, ds)
    assert format_sweep(back) == format_sweep(ds)


def test_progress_is_called_with_zero_and_after_every_case():
    from pivotmc.analysis.studies import simulate_to_precision

    calls = []
    sensitivity(SHORT, ["btc.price", "hashrate.growth"], n_paths=100, seed=1, progress=lambda *a: calls.append(a))
    assert calls == [(k, 5) for k in range(6)]  # base, then two shocks each (the skipped ones of growth too)
    calls.clear()
    sweep(SHORT, {"btc.sigma": [0.3, 0.5], "hosting.lease_rate": [100.0, 140.0, 180.0]}, n_paths=100, seed=1,
          progress=lambda *a: calls.append(a))
    assert calls == [(k, 7) for k in range(8)]  # the base case, then six combinations
    calls.clear()
    simulate_to_precision(SHORT, precision=0.0001, seed=5, batch_paths=500, max_paths=1500,
                          progress=lambda *a: calls.append(a))
    assert calls == [(0, 1500), (500, 1500), (1000, 1500), (1500, 1500)]
    calls.clear()
    ds = simulate_to_precision(SHORT, precision=0.05, seed=5, batch_paths=500, max_paths=200_000,
                               progress=lambda *a: calls.append(a))
    n = ds.attrs["n_paths"]
    assert calls[0] == (0, 200_000) and calls[-1] == (n, n) and len(calls) == n // 500 + 1


# --- sweeps against the base case ----------------------------------------------


def test_sweep_changes_and_standard_errors_are_paired_with_the_base_case():
    grid = {"btc.sigma": [0.3, 0.7], "hosting.lease_rate": [100.0, 180.0]}
    ds = sweep(SHORT, grid, n_paths=600, seed=6)
    base = pivotmc.simulate(SHORT, n_paths=600, seed=6).npv.values
    case = pivotmc.simulate(SHORT.with_overrides({"btc.sigma": 0.7, "hosting.lease_rate": 100.0}), n_paths=600, seed=6)
    x = case.npv.values
    diff = x - base
    cell = ds.sel({"btc.sigma": 0.7, "hosting.lease_rate": 100.0})
    np.testing.assert_allclose(cell.change.values, diff.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(cell.change_se.values, diff.std(axis=1, ddof=1) / np.sqrt(600), rtol=1e-12)
    np.testing.assert_allclose(ds.base_mean_npv.values, base.mean(axis=1), rtol=1e-12)
    assert ds["btc.sigma"].attrs["base_value"] == 0.5 and "btc.sigma = 0.5" in ds.attrs["base_case"]
    # mine does not depend on the lease rate: no path changes, and the paired error is exactly 0
    mine = ds.sel(strategy="mine", **{"btc.sigma": 0.3})
    assert mine.change.values.tolist() == [mine.change.values[0]] * 2 and mine.change.values[0] != 0.0
    assert ds.sel(strategy="mine", **{"btc.sigma": 0.7}).change_se.values.tolist() != [0.0, 0.0]
    # Every pair of strategies, ties apart, counted path by path.
    names = list(ds.strategy.values)
    for a in range(len(names)):
        for b in range(len(names)):
            if a != b:
                assert cell.prob_greater.values[a, b] == np.mean(x[a] > x[b])
                assert cell.prob_equal.values[a, b] == np.mean(x[a] == x[b])
    total = cell.prob_greater + cell.prob_greater.rename(strategy="versus", versus="strategy") + cell.prob_equal
    off = ~np.eye(len(names), dtype=bool)
    np.testing.assert_allclose(total.transpose("strategy", "versus").values[off], 1.0, rtol=1e-12)
    assert cell.p_host_beats_mine.item() == cell.prob_greater.sel(strategy="host", versus="mine").item()


def test_sweep_of_the_base_case_changes_nothing():
    ds = sweep(SHORT, {"btc.sigma": [0.5]}, n_paths=200, seed=2)
    assert (ds.change.values == 0.0).all() and (ds.change_se.values == 0.0).all()
    np.testing.assert_array_equal(ds.mean_npv.values[0], ds.base_mean_npv.values)


# --- tables ---------------------------------------------------------------------


def _check_table_text(text: str) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)


def test_tables_fit_in_100_columns_for_the_default_scenario():
    from pivotmc.analysis.studies import format_sensitivity, format_sweep

    default = Scenario.default().with_overrides({"switch.learning_paths": 2000})  # the policy learned on fewer paths
    sens = sensitivity(default, n_paths=100, seed=1)
    assert set(sens.parameter.values) == set(continuous_parameters(default))
    # mining.refresh_years too, by whole steps; only cloud.fill, at its upper bound 1, has no room to go up.
    stuck = sens.change.isnull().any("strategy").stack(case=("parameter", "shock"))
    assert [tuple(map(str, c)) for c, v in zip(stuck["case"].values, stuck.values) if v] == [("cloud.fill", "up")]
    text = format_sensitivity(sens)
    _check_table_text(text)
    assert text.count("(base ") == sens.sizes["parameter"]
    swp = sweep(default, {"btc.sigma": [0.3, 0.7], "hosting.lease_rate": [100, 180]}, n_paths=100, seed=1)
    text = format_sweep(swp)
    _check_table_text(text)
    assert "switch=mine" in text  # switch ties with mine where it never converts
    # Amounts a thousand times larger still fit: the tables continue in a second block of columns.
    for big, fmt in ((sens, format_sensitivity), (swp, format_sweep)):
        scaled = big.copy()
        for var in ("change", "change_se", "mean_npv", "mean_npv_se", "base_mean_npv", "base_mean_npv_se"):
            scaled[var] = scaled[var] * 1e4
        wide = fmt(scaled)
        _check_table_text(wide)
        assert wide.count("------") > fmt(big).count("------")


def test_format_sweep_shares_a_format_per_column():
    import re

    from pivotmc.analysis.studies import format_sweep

    ds = sweep(SHORT, {"hosting.lease_rate": [100, 140.5]}, n_paths=200, seed=1)
    text = format_sweep(ds)
    assert "100.0" in text and "140.5" in text  # one format for the column, the base's 140.0 included
    for title in ("Mean NPV ± standard error", "Change in mean NPV from the base case"):
        table = text.split(title)[1].split("\n\n")[0].splitlines()[3:]
        # each row: a "value ± se" cell per strategy that the lease rate moves (a lone 0 for the others)
        decimals = [[(len(v), len(e)) for v, e in re.findall(r"[-+]?[\d,]+\.(\d+) ± [\d,]+\.(\d+)", row)]
                    for row in table]
        assert decimals[0] and all(row == decimals[0] for row in decimals), (title, decimals)
