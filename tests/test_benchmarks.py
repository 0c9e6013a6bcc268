"""The benchmark command runs and reports what it promises; its numpy yardstick is the same model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import pivotmc
from pivotmc.backends import available_backends
from pivotmc.model.plan import lower
from pivotmc.model.scenario import Scenario

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """Import a script of benchmarks/ (not a package) under a name that cannot clash."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name.removeprefix('bench_')}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_command_writes_every_row_and_column(tmp_path, capsys) -> None:
    bench = _load("bench_run")
    out_json = tmp_path / "bench.json"
    code = bench.main(["--paths", "2000", "--reference-paths", "500", "--daily-paths", "200", "--repeats", "1",
                       "--switch-paths", "1500", "--switch-reference-paths", "300", "--switch-learning-paths", "400",
                       "--json", str(out_json)])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out_json.read_text())

    compiled = [b for b in available_backends() if b != "reference"]
    expected = [(case, backend) for case in ("monthly", "daily") for backend in ["numpy-analyst", "reference", *compiled]]
    expected += [("switch", backend) for backend in ["reference", *compiled]]
    assert [(row["case"], row["backend"]) for row in report["rows"]] == expected
    for key in ("cpu", "numba", "threads", "compile_seconds", "cases"):
        assert key in report
    assert report["threads"] >= 1
    assert report["cpu"] in printed and f"{report['threads']} threads" in printed
    for column in ("x reference", "x analyst", "floor", "path-steps/s", "x plain"):
        assert column in printed

    steps = {"monthly": 180, "daily": 15 * 365, "switch": 180}
    paths = {("monthly", True): 500, ("monthly", False): 2000, ("daily", True): 200, ("daily", False): 200,
             ("switch", True): 300, ("switch", False): 1500}
    for row in report["rows"]:
        numpy_row = row["backend"] in ("numpy-analyst", "reference")
        if row["case"] == "switch":
            # Valuing switch costs its learning and a fourth strategy on top of the plain run.
            assert row["strategies"] == 4 and row["learning_paths"] == 400
            assert row["ratio_to_plain"] == pytest.approx(row["seconds_median"] / row["plain_seconds_median"])
            assert row["ratio_to_plain"] > 1.0
        else:
            assert row["strategies"] == 3 and row["ratio_to_plain"] is None
        assert row["steps"] == steps[row["case"]]
        assert row["paths"] == paths[row["case"], numpy_row]
        assert row["seconds_median"] > 0
        assert row["path_steps_per_s"] == pytest.approx(row["paths"] * row["steps"] / row["seconds_median"])
        for key in ("ratio_to_reference", "ratio_to_analyst", "floor_ratio", "seconds_all"):
            assert key in row
        if row["backend"] == "reference":
            assert row["ratio_to_reference"] == pytest.approx(1.0)
        if numpy_row:
            assert row["floor_ratio"] is None
    assert set(report["compile_seconds"]) == set(compiled)


def test_no_daily_leaves_out_the_daily_case(tmp_path, capsys) -> None:
    bench = _load("bench_run")
    out_json = tmp_path / "bench.json"
    assert bench.main(["--paths", "300", "--reference-paths", "100", "--no-daily", "--no-switch", "--backends", "",
                       "--repeats", "1", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [(row["case"], row["backend"]) for row in rows] == [("monthly", "numpy-analyst"), ("monthly", "reference")]
    table = capsys.readouterr().out.split("JSON written")[0]
    assert "daily" not in table


def test_floor_is_skipped_when_the_kernel_module_lacks_it(monkeypatch) -> None:
    bench = _load("bench_run")
    monkeypatch.setitem(bench.FLOOR_KERNELS, "cpu", ("pivotmc.backends._cpu_kernels", "no_such_kernel", "pivotmc.backends.cpu"))
    assert bench.floor_kernel("cpu") == (None, 0, None)
    assert bench.time_floor("cpu", paths=10, steps=3, repeats=1) is None
    assert bench.time_floor("no-such-backend", paths=10, steps=3, repeats=1) is None


SCENARIOS = {
    "default": {},
    # Every branch the default leaves idle: spikes, a PPA, a demand-response credit, the
    # site paying for the tenant's power, exit multiples, and short, default-prone leases.
    "every-branch": {
        "power.spike_intensity": 3.0,
        "power.ppa_fraction": 0.3,
        "mining.demand_response_credit": 20.0,
        "hosting.power_passthrough": False,
        "hosting.default_hazard": 0.1,
        "hosting.term_years": 3.0,
        "terminal.mine": 5.0,
        "terminal.host": 8.0,
        "terminal.hybrid": 6.0,
    },
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_numpy_baseline_agrees_with_reference_in_mean(name) -> None:
    """Mean NPV per strategy within 5 combined standard errors (20,000 independent paths each)."""
    baseline = _load("numpy_baseline")
    # The baseline writes the static strategies out by hand; the switch has its own tests.
    scenario = Scenario.default().with_overrides({**SCENARIOS[name], "strategies.evaluate": ["mine", "host", "hybrid"]})
    n = 20_000
    ours = baseline.run(lower(scenario), n, seed=11)
    theirs = pivotmc.simulate(scenario, n_paths=n, seed=5, backend="reference").npv.values
    assert ours.shape == theirs.shape == (len(scenario.strategies.evaluate), n)
    assert np.isfinite(ours).all()
    std_error = np.sqrt(ours.var(axis=1, ddof=1) / n + theirs.var(axis=1, ddof=1) / n)
    z = (ours.mean(axis=1) - theirs.mean(axis=1)) / std_error
    assert np.all(np.abs(z) < 5.0), dict(zip(scenario.strategies.evaluate, z))
