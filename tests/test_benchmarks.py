"""The benchmark command runs and reports what it promises; its numpy yardstick is the same model."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pivotmc
from pivotmc.backends import available_backends
from pivotmc.model.plan import lower
from pivotmc.testing import CASES, case

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


def _run_suite(tmp_path, *options: str) -> tuple[str, dict]:
    """``python benchmarks/run.py`` at tiny sizes: its printed output and its JSON file."""
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), *options, "--repeats", "1", "--json", str(out_json)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out_json.read_text())


def test_benchmark_command_prints_and_writes_every_row_and_column(tmp_path) -> None:
    printed, written = _run_suite(tmp_path, "--paths", "2000", "--reference-paths", "500", "--daily-paths", "200",
                                  "--daily-reference-paths", "50", "--switch-paths", "1500",
                                  "--switch-reference-paths", "300", "--switch-learning-paths", "400")  # fmt: skip
    report = written["pivotmc"]
    compiled = [b for b in available_backends() if b != "reference"]
    expected = [(case, backend) for case in ("monthly", "daily") for backend in ["numpy-analyst", "reference", *compiled]]
    expected += [("switch", backend) for backend in ["reference", *compiled]]
    assert [(row["case"], row["backend"]) for row in report["rows"]] == expected
    for key in ("cpu", "numba", "threads", "compile_seconds", "cases", "floor_kernels"):
        assert key in report
    assert report["threads"] >= 1
    assert report["cpu"] in printed and f"{report['threads']} threads" in printed
    for column in ("x reference", "x analyst", "floor", "path-steps/s", "x plain", "x no cloud"):
        assert column in printed
    # Each row of the table is printed, and pytest-benchmark's own records carry what it was.
    table = printed.split("pivotmc: path-steps per second")[1]
    for row in report["rows"]:
        assert any(line.split()[:3] == [row["case"], row["backend"], f"{row['paths']:,}"] for line in table.splitlines())
    roles = {(b["extra_info"]["case"], b["extra_info"]["backend"], b["extra_info"]["role"]) for b in written["benchmarks"]}
    assert {(case, backend, "run") for case, backend in expected} <= roles
    assert {("switch", backend, "plain") for backend in ["reference", *compiled]} <= roles
    assert {("switch", backend, "nocloud") for backend in ["reference", *compiled]} <= roles

    steps = {"monthly": 180, "daily": 15 * 365, "switch": 180}
    paths = {("monthly", True): 500, ("monthly", False): 2000, ("daily", True): 50, ("daily", False): 200,
             ("switch", True): 300, ("switch", False): 1500}
    for row in report["rows"]:
        numpy_row = row["backend"] in ("numpy-analyst", "reference")
        if row["case"] == "switch":
            # Valuing switch learns its policy and adds switch and cloud; x plain compares with a static run,
            # x no cloud with the four strategies and the two-way switch.
            assert row["strategies"] == 5 and row["learning_paths"] == 400
            assert row["ratio_to_plain"] == pytest.approx(row["seconds_median"] / row["plain_seconds_median"])
            assert row["ratio_to_no_cloud"] == pytest.approx(row["seconds_median"] / row["no_cloud_seconds_median"])
            assert row["ratio_to_analyst"] is None
        else:
            assert row["strategies"] == 3 and row["ratio_to_plain"] is None and row["ratio_to_no_cloud"] is None
        assert row["steps"] == steps[row["case"]]
        assert row["paths"] == paths[row["case"], numpy_row]
        assert row["seconds_median"] > 0 and len(row["seconds_all"]) == 1
        assert row["path_steps_per_s"] == pytest.approx(row["paths"] * row["steps"] / row["seconds_median"])
        if row["backend"] == "reference":
            assert row["ratio_to_reference"] == pytest.approx(1.0)
        if numpy_row:
            assert row["floor_ratio"] is None
        elif row["case"] != "switch" and row["backend"] in report["floor_kernels"]:
            assert row["floor_ratio"] == pytest.approx(row["seconds_median"] / row["floor_seconds_median"])
    assert set(report["compile_seconds"]) == set(compiled)


def test_no_daily_leaves_out_the_daily_case(tmp_path) -> None:
    printed, written = _run_suite(tmp_path, "--paths", "300", "--reference-paths", "100", "--no-daily", "--no-switch",
                                  "--backends", "")  # fmt: skip
    rows = written["pivotmc"]["rows"]
    assert [(row["case"], row["backend"]) for row in rows] == [("monthly", "numpy-analyst"), ("monthly", "reference")]
    assert "daily" not in printed.split("pivotmc: path-steps per second")[1]


@pytest.mark.parametrize(
    "options,message",
    [(["--paths", "0"], "--paths must be at least 1"), (["--backends", "gpu"], "unknown backend(s) gpu"),
     (["--repeats", "x"], "invalid int value")],
)  # fmt: skip
def test_mistaken_options_give_exit_2_and_one_line(capsys, options, message) -> None:
    bench = _load("bench_run")
    with pytest.raises(SystemExit) as stop:
        bench.main(options)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_table_columns_are_the_ratios_of_the_medians() -> None:
    suite = _load("bench_suite")
    M = suite.Measurement
    measurements = [
        M("monthly", "cpu", "run", 4000, 180, 3, (0.5, 0.2, 0.3)),
        M("monthly", "numpy-analyst", "run", 100, 180, 3, (0.4,)),
        M("monthly", "reference", "run", 100, 180, 3, (0.9, 1.1)),
        M("monthly", "cpu", "draws", 4000, 180, 0, (0.1,)),
        M("switch", "cpu", "plain", 1000, 180, 3, (0.2,)),
        M("switch", "cpu", "nocloud", 1000, 180, 4, (0.4,), learning_paths=400),
        M("switch", "cpu", "run", 1000, 180, 5, (0.5,), learning_paths=400),
        M("switch", "reference", "run", 50, 180, 5, (2.0,), learning_paths=400),
    ]
    rows = suite.derive_rows(measurements)
    assert [(r["case"], r["backend"]) for r in rows] == [
        ("monthly", "numpy-analyst"), ("monthly", "reference"), ("monthly", "cpu"), ("switch", "reference"),
        ("switch", "cpu"),
    ]  # fmt: skip
    rate = {(r["case"], r["backend"]): r["path_steps_per_s"] for r in rows}
    cpu = rows[2]
    assert cpu["seconds_median"] == 0.3 and rate["monthly", "cpu"] == pytest.approx(4000 * 180 / 0.3)
    assert rate["monthly", "reference"] == pytest.approx(100 * 180 / 1.0)  # the median of an even count
    assert cpu["ratio_to_reference"] == pytest.approx(rate["monthly", "cpu"] / rate["monthly", "reference"])
    assert cpu["ratio_to_analyst"] == pytest.approx(rate["monthly", "cpu"] / rate["monthly", "numpy-analyst"])
    assert cpu["floor_ratio"] == pytest.approx(0.3 / 0.1) and rows[1]["floor_ratio"] is None
    switch_cpu = rows[4]
    assert switch_cpu["ratio_to_plain"] == pytest.approx(0.5 / 0.2) and switch_cpu["ratio_to_analyst"] is None
    assert switch_cpu["ratio_to_no_cloud"] == pytest.approx(0.5 / 0.4) and rows[3]["ratio_to_no_cloud"] is None
    assert switch_cpu["ratio_to_reference"] == pytest.approx((1000 / 0.5) / (50 / 2.0))
    lines = suite.format_table(rows).splitlines()
    assert lines[0].split()[:2] == ["case", "backend"] and len(lines) == 2 + len(rows)
    assert lines[4].split()[-5:] == [f"{cpu['ratio_to_reference']:,.2f}", f"{cpu['ratio_to_analyst']:,.2f}", "3.00", "-", "-"]


def test_floor_is_left_out_when_the_kernel_module_lacks_it(monkeypatch) -> None:
    suite = _load("bench_suite")
    assert suite.draws_only("cpu", paths=10, steps=3) is not None
    monkeypatch.setitem(suite.FLOOR_KERNELS, "cpu", "pivotmc.backends._cpu_kernels.no_such_kernel")
    assert suite.draws_only("cpu", paths=10, steps=3) is None
    monkeypatch.setitem(suite.FLOOR_KERNELS, "cpu", "pivotmc.backends.no_such_module.kernel")
    assert suite.draws_only("cpu", paths=10, steps=3) is None
    assert suite.draws_only("no-such-backend", paths=10, steps=3) is None


def test_cases_are_picked_from_the_table_by_name() -> None:
    suite = _load("bench_suite")
    for name, spec in suite.BENCH_CASES.items():
        assert spec.table_name in CASES, name
    settings = suite.Settings({"switch_learning_paths": None}, ())
    assert settings.scenario("daily") == case("daily", {"strategies.evaluate": list(suite.STATIC)})
    assert settings.scenario("switch") == case("default")


@pytest.mark.parametrize("name", ["default", "every-branch"])
def test_numpy_baseline_agrees_with_reference_in_mean(name) -> None:
    """Mean NPV per strategy within 5 combined standard errors (20,000 independent paths each)."""
    baseline = _load("numpy_baseline")
    # The baseline writes the static strategies out by hand; the switch has its own tests.
    scenario = case(name, {"strategies.evaluate": ["mine", "host", "hybrid"]})
    n = 20_000
    ours = baseline.run(lower(scenario), n, seed=11)
    theirs = pivotmc.simulate(scenario, n_paths=n, seed=5, backend="reference").npv.values
    assert ours.shape == theirs.shape == (len(scenario.strategies.evaluate), n)
    assert np.isfinite(ours).all()
    std_error = np.sqrt(ours.var(axis=1, ddof=1) / n + theirs.var(axis=1, ddof=1) / n)
    z = (ours.mean(axis=1) - theirs.mean(axis=1)) / std_error
    assert np.all(np.abs(z) < 5.0), dict(zip(scenario.strategies.evaluate, z))
