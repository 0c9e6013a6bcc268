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
