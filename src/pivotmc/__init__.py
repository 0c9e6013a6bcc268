"""pivotmc: Monte Carlo valuation of a Bitcoin-mining site that can convert to AI/HPC hosting.

Simulate correlated paths of BTC price, fees, network hashrate, power prices
and AI lease rates, and get the NPV distribution of each strategy (mine, host,
hybrid, and switch: mine with the option to convert later, valued by
least-squares Monte Carlo) as an xarray Dataset.

>>> import pivotmc
>>> ds = pivotmc.simulate(pivotmc.Scenario.default(), n_paths=1000, seed=1)
>>> print(pivotmc.format_summary(pivotmc.summarize(ds)))  # doctest: +SKIP
"""

from pivotmc._version import __version__
from pivotmc.analysis.summary import format_summary, summarize
from pivotmc.calibration.calibrate import calibrate
from pivotmc.run.simulate import simulate
from pivotmc.run.store import simulate_to_store
from pivotmc.errors import BackendUnavailableError, CalibrationWarning, ParameterTypeError, ValidationError
from pivotmc.model.scenario import FACTORS, STRATEGIES, Scenario

#: The package is laid out by stage, each importing only the stages below it:
#: ``model`` (scenario, protocol, strategies, plan) and ``random`` at the bottom, then ``backends`` (the
#: reference, cpu and cuda executors), ``policy`` (least squares, the switch policy), ``run``
#: (simulate, stores, files), ``analysis`` and ``calibration``, and the command line on top.
#: The short names below reach those modules as attributes of ``pivotmc``, imported on first
#: use (plots and report need matplotlib, store needs the dask extra: nothing is loaded
#: until asked for).
_SUBMODULES = {
    "analysis": "analysis",
    "backends": "backends",
    "calibration": "calibration",
    "engine": "run.simulate",
    "io": "run.io",
    "lsm": "policy.lsm",
    "model": "model",
    "plan": "model.plan",
    "plots": "analysis.plots",
    "policy": "policy",
    "progress": "progress",
    "protocol": "model.protocol",
    "random": "random",
    "report": "analysis.report",
    "rng": "random",
    "run": "run",
    "scenario": "model.scenario",
    "store": "run.store",
    "strategies": "model.strategies",
    "studies": "analysis.studies",
    "summary": "analysis.summary",
    "switch": "policy.switch",
    "testing": "testing",
    "text": "text",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{_SUBMODULES[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))


__all__ = [
    "Scenario",
    "simulate",
    "simulate_to_store",
    "summarize",
    "format_summary",
    "calibrate",
    "ValidationError",
    "ParameterTypeError",
    "BackendUnavailableError",
    "CalibrationWarning",
    "FACTORS",
    "STRATEGIES",
    "__version__",
]
