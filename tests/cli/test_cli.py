"""The ``pivotmc`` command line, run in-process (and once as a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_harness import invoke

import pivotmc
from pivotmc import STRATEGIES, Scenario
from pivotmc.run.io import load

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def small_toml(tmp_path, monkeypatch) -> Path:
    """An eight-year scenario (the three-way switch converts on some paths), written where the command runs."""
    monkeypatch.chdir(tmp_path)
    scenario = Scenario.default().with_overrides({
        "simulation.horizon_years": 8, "btc.sigma": 0.6, "switch.learning_paths": 2000,
    })
    path = tmp_path / "my.toml"
    path.write_text(scenario.to_toml(), encoding="utf-8")
    return path


def test_run_default_prints_every_strategy(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PIVOTMC_CACHE_DIR", str(tmp_path))  # an empty cache: the policy is learned here
    pivotmc.switch.clear_cache()
    code, out, err = invoke(["run", "--paths", "2000"], capsys)
    assert code == 0, err
    assert err == ""
    for strategy in STRATEGIES:
        assert strategy in out
    assert "2,000 paths" in out
    assert "seed 0" in out
    # The switch: its option value and conversions, and the learning reported apart from the run.
    assert "Option to wait (switch - " in out and "Switch converts on " in out
    assert "Switch policy learned on 50,000 other paths" in out


def test_scenario_prints_the_default_as_toml(capsys) -> None:
    code, out, err = invoke(["scenario"], capsys)
    assert code == 0 and err == ""
    assert Scenario.from_toml_string(out) == Scenario.default()
    assert out == Scenario.default().to_toml()


def test_scenario_with_override_round_trips(capsys) -> None:
    code, out, err = invoke(["scenario", "--set", "btc.sigma=0.7", "--set", "hashrate.markup=equilibrium"], capsys)
    assert code == 0, err
    parsed = Scenario.from_toml_string(out)
    assert parsed.btc.sigma == 0.7
    assert parsed == Scenario.default().with_overrides({"btc.sigma": 0.7})


def test_set_reads_toml_values(capsys) -> None:
    code, out, err = invoke(
        ["scenario", "--set", "strategies.evaluate=['host', 'mine']", "--set", "mining.curtailment=false",
         "--set", "correlation.btc_fees=0.5", "--set", "hashrate.markup=2"],
        capsys,
    )
    assert code == 0, err
    parsed = Scenario.from_toml_string(out)
    assert parsed.strategies.evaluate == ("host", "mine")
    assert parsed.mining.curtailment is False
    assert parsed.correlation.pair("fees", "btc") == 0.5
    assert parsed.hashrate.markup == 2.0


def test_run_file_writes_netcdf_and_summarize_reads_it(small_toml, capsys) -> None:
    code, out, err = invoke(
        ["run", "my.toml", "--paths", "500", "--seed", "3", "--out", "x.nc", "--keep-paths", "2"], capsys
    )
    assert code == 0, err
    assert "x.nc" in out
    assert Path("x.nc").is_file()

    saved = load("x.nc")
    expected = pivotmc.simulate(Scenario.from_toml(small_toml), n_paths=500, seed=3, keep_paths=2)
    np.testing.assert_array_equal(saved["npv"].values, expected["npv"].values)
    assert saved["npv"].values.tobytes() == expected["npv"].values.tobytes()
    assert saved.sizes["kept_path"] == 2
    np.testing.assert_array_equal(saved["btc_price"].values, expected["btc_price"].values)
    assert saved.attrs["seed"] == 3
    assert saved.attrs["n_paths"] == 500
    assert saved.attrs["backend"] == expected.attrs["backend"]
    assert saved.attrs["rng_layout_version"] == expected.attrs["rng_layout_version"]
    assert Scenario.from_toml_string(saved.attrs["scenario"]) == Scenario.from_toml(small_toml)

    code, summary, err = invoke(["summarize", "x.nc"], capsys)
    assert code == 0, err
    assert summary.strip() == pivotmc.format_summary(pivotmc.summarize(saved)).strip()
    assert "500 paths" in summary
    for strategy in STRATEGIES:
        assert strategy in summary
    # The summary printed by run is the same table.
    assert summary.strip() in out
    # With the switch's lines, from the saved result's own option value and shares.
    lines = summary.splitlines()
    option = next(line for line in lines if line.startswith("Option to wait"))
    assert f"switch - {saved['option_value'].attrs['compared_with']}" in option
    assert f"{float(saved['option_value']) / 1e6:,.1f}" in option
    share = float(saved["switch_share"].sum())
    assert 0 < share < 1
    assert f"Switch converts on {100 * share:.1f}% of paths" in summary


def test_bad_input_is_refused_before_the_switch_policy_is_learned(monkeypatch, capsys) -> None:
    import pivotmc.policy.switch

    def learn(*args, **kwargs):
        raise AssertionError("the policy was learned for a run that cannot start")

    monkeypatch.setattr(pivotmc.policy.switch, "learn", learn)
    for argv in (["run", "--paths", "0"], ["run", "--paths", "10", "--keep-paths", "11"],
                 ["run", "--paths", "10", "--seed", "-1"], ["run", "--paths", "10", "--backend", "warp9"]):
        code, out, err = invoke(argv, capsys)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err


def test_run_without_switch_prints_no_switch_lines(capsys) -> None:
    code, out, err = invoke(["run", "--paths", "200", "--set", "strategies.evaluate=['mine', 'host']",
                             "--set", "simulation.horizon_years=1"], capsys)
    assert code == 0, err
    assert "Option to wait" not in out and "Switch" not in out and "switch" not in out


def test_run_out_without_kept_paths(small_toml, capsys) -> None:
    code, _, err = invoke(["run", "my.toml", "--paths", "50", "--out", "bare.nc"], capsys)
    assert code == 0, err
    code, summary, err = invoke(["summarize", "bare.nc"], capsys)
    assert code == 0, err
    assert "50 paths" in summary


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["run", "--paths", "10", "--set", "btc.sigmaa=0.7"], ["btc.sigmaa"]),
        (["run", "--paths", "10", "--set", "btc.sigma=5"], ["btc.sigma"]),
        (["run", "--paths", "10", "--set", "btc.sigma"], ["--set"]),
        (["run", "--paths", "0"], ["n_paths"]),
        (["run", "--paths", "-3"], ["n_paths"]),
        (["run", "--paths", "x"], ["--paths"]),
        (["run", "--paths", "10", "--keep-paths", "11"], ["keep_paths"]),
        (["run", "--paths", "10", "--seed", "-1"], ["seed"]),
        (["run", "--paths", "10", "--seed", str(2**64)], ["seed"]),
        (["run", "missing.toml", "--paths", "10"], ["missing.toml"]),
        (["run", "broken.toml", "--paths", "10"], ["broken.toml", "TOML"]),
        (["run", "--paths", "10", "--backend", "warp9"], ["warp9"]),
        (["run", "--paths", "10", "--out", "result.csv"], ["result.csv"]),
        (["scenario", "--set", "nosuch.key=1"], ["nosuch"]),
        (["summarize", "absent.nc"], ["absent.nc"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv: list[str], names: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.toml").write_text("[btc]\nsigma = = 0.5\n", encoding="utf-8")
    code, out, err = invoke(argv, capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pivotmc")
    for name in names:
        assert name in lines[0]
    assert "Traceback" not in err
    # Input is checked before anything runs: no summary, no file.
    assert out == ""
    assert not Path("result.csv").exists()


def test_no_command_prints_help_and_returns_2(capsys) -> None:
    code, out, err = invoke([], capsys)
    assert code == 2
    assert "usage: pivotmc" in out
    for command in ("run", "scenario", "summarize"):
        assert command in out


def test_help_exits_0(capsys) -> None:
    code, out, _ = invoke(["run", "--help"], capsys)
    assert code == 0
    assert "--paths" in out and "--set" in out


def test_module_entry_point_runs(tmp_path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pivotmc.cli", "run", "--paths", "300"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "300 paths" in proc.stdout
    for strategy in STRATEGIES:
        assert strategy in proc.stdout
