"""The Python API answers a misuse with ValidationError or ParameterTypeError in one sentence, never an error from inside."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pivotmc
from pivotmc import ParameterTypeError, ValidationError, io, plots, report, studies, switch

SCENARIO = pivotmc.Scenario.default()


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    small = SCENARIO.with_overrides({"simulation.horizon_years": 2, "strategies.evaluate": ["mine", "host"]})
    return pivotmc.simulate(small, n_paths=50, backend="reference")


MISUSES = {
    "summarize a string": lambda ds: pivotmc.summarize("results.nc"),
    "summarize without npv": lambda ds: pivotmc.summarize(xr.Dataset()),
    "summarize at level 2": lambda ds: pivotmc.summarize(ds, level=2),
    "format a result, not a summary": lambda ds: pivotmc.format_summary(ds),
    "format a string": lambda ds: pivotmc.format_summary("summary"),
    "simulate a string": lambda ds: pivotmc.simulate("my.toml"),
    "paths as text": lambda ds: pivotmc.simulate(SCENARIO, n_paths="10"),
    "unknown backend": lambda ds: pivotmc.simulate(SCENARIO, n_paths=10, backend="gpu"),
    "negative seed": lambda ds: pivotmc.simulate(SCENARIO, n_paths=10, seed=-1),
    "policy of another type": lambda ds: pivotmc.simulate(SCENARIO, n_paths=10, switch_policy=1),
    "misspelt override": lambda ds: SCENARIO.with_overrides({"btc.sigmaa": 1}),
    "overrides as a list": lambda ds: SCENARIO.with_overrides([]),
    "value of a section": lambda ds: SCENARIO.value("btc"),
    "misspelt sensitivity parameter": lambda ds: studies.sensitivity(SCENARIO, ["btc.sigmaa"], n_paths=10),
    "shock of 2": lambda ds: studies.sensitivity(SCENARIO, ["btc.sigma"], rel_shock=2, n_paths=10),
    "empty sweep": lambda ds: studies.sweep(SCENARIO, {}, n_paths=10),
    "misspelt sweep parameter": lambda ds: studies.sweep(SCENARIO, {"btc.sigmaa": [1]}, n_paths=10),
    "sweep value not a list": lambda ds: studies.sweep(SCENARIO, {"btc.sigma": 0.3}, n_paths=10),
    "negative precision": lambda ds: studies.simulate_to_precision(SCENARIO, precision=-1),
    "format a result as a sensitivity": lambda ds: studies.format_sensitivity(ds),
    "format a result as a sweep": lambda ds: studies.format_sweep(ds),
    "tornado of a result": lambda ds: plots.tornado(ds),
    "fan charts without kept paths": lambda ds: plots.fan_charts(ds),
    "boundary without switch": lambda ds: plots.exercise_boundary(ds),
    "switch dates without switch": lambda ds: plots.switch_dates(ds),
    "distribution of a string": lambda ds: plots.npv_distribution("x"),
    "report to a .txt": lambda ds: report.write_report(ds, "report.txt"),
    "report of an empty dataset": lambda ds: report.write_report(xr.Dataset(), "report.html"),
    "save to .csv": lambda ds: io.save(ds, "result.csv"),
    "save a string": lambda ds: io.save("x", "result.nc"),
    "load a number": lambda ds: io.load(123),
    "load a missing file": lambda ds: io.load("missing.nc"),
    "learn a string": lambda ds: switch.learn("my.toml"),
    "calibrate a missing file": lambda ds: pivotmc.calibrate("missing.csv"),
    "calibrate a number": lambda ds: pivotmc.calibrate(123),
    "scenario from a missing file": lambda ds: pivotmc.Scenario.from_toml("missing.toml"),
    "scenario from a string": lambda ds: pivotmc.Scenario.from_dict("x"),
    "scenario section not a table": lambda ds: pivotmc.Scenario.from_dict({"btc": 1}),
}


@pytest.mark.parametrize("misuse", list(MISUSES), ids=list(MISUSES))
def test_misuse_is_refused_in_one_sentence(misuse: str, result, tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValidationError, ParameterTypeError)) as caught:
        MISUSES[misuse](result)
    message = str(caught.value)
    assert message and "\n" not in message
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_sensitivity_takes_one_parameter_named_alone() -> None:
    small = SCENARIO.with_overrides({"simulation.horizon_years": 2, "strategies.evaluate": ["mine"]})
    one = studies.sensitivity(small, "btc.sigma", n_paths=200, backend="reference")
    assert list(one.parameter.values) == ["btc.sigma"]
    assert np.isfinite(one.change.values).all()
