"""pivotmc: Monte Carlo valuation of a Bitcoin-mining site that can convert to AI/HPC hosting.

Simulate correlated paths of BTC price, fees, network hashrate, power prices
and AI lease rates, and get the NPV distribution of each strategy (mine, host,
hybrid, and switch: mine with the option to convert later, valued by
least-squares Monte Carlo) as an xarray Dataset.

>>> import pivotmc
>>> ds = pivotmc.simulate(pivotmc.Scenario.default(), n_paths=1000, seed=1)
>>> print(pivotmc.format_summary(pivotmc.summarize(ds)))  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pivotmc")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

from .analysis import format_summary, summarize
from .calibrate import calibrate
from .engine import simulate
from .errors import BackendUnavailableError, CalibrationWarning, ParameterTypeError, ValidationError
from .scenario import FACTORS, STRATEGIES, Scenario

#: Submodules reachable as attributes after ``import pivotmc``, imported on first use
#: (plots and report need matplotlib, store needs the dask extra: nothing is loaded until asked for).
_SUBMODULES = (
    "analysis", "backends", "engine", "io", "lsm", "plan", "plots", "progress", "protocol", "report",
    "rng", "scenario", "store", "studies", "switch", "testing",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))


__all__ = [
    "Scenario",
    "simulate",
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
