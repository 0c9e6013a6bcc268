"""Calibration: fit pivotmc's market models to history, with standard errors.

:func:`calibrate` reads a table of dated observations and fits, for each factor
it finds, exactly the dynamics the engine simulates (see :mod:`pivotmc.model.plan`):

``btc_price``
    Merton jump-diffusion by maximum likelihood, with the log-normal
    (no jumps) as the nested case and a likelihood-ratio test between them.
``fees``, ``power_price``, ``lease_rate``
    Log-OU processes by exact Gaussian likelihood (the OU transition is
    known in closed form for any time step, so gaps cost nothing but
    information). Power reverts to a level with calendar-month
    multipliers; the lease rate to a level that drifts at a constant trend.
``hashrate``
    The error-correction model, by weighted least squares: the change of
    ``ln H`` regressed on the gap between the price-implied equilibrium
    ``ln H*`` and ``ln H``.

Shocks of every fitted model are standardised and correlated pairwise over
the intervals two series share; that matrix is the fitted
``correlation.matrix``.

Time is measured in Julian years of 365.25 days, as in the engine; each
interval between two observations has its own time step, so a gap is handled
by the model's own transition over the longer step, never by filling.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from pivotmc.errors import CalibrationWarning, ValidationError
from pivotmc.model.protocol import DAYS_PER_YEAR, block_subsidy_btc
from pivotmc.model.scenario import FACTORS, Scenario

__all__ = [
    "calibrate",
    "CalibrationResult",
    "ModelFit",
    "Estimate",
    "LikelihoodRatioTest",
    "CalibrationWarning",
    "COLUMNS",
]

#: Columns :func:`calibrate` reads, with the scenario factor each one drives.
COLUMNS = {"btc_price": "btc", "fees": "fees", "hashrate": "hashrate", "power_price": "power", "lease_rate": "lease"}
_UNITS = {
    "btc_price": "USD",
    "fees": "BTC per block or per day (say which with fees_unit)",
    "hashrate": "EH/s",
    "power_price": "USD/MWh",
    "lease_rate": "USD/kW-month",
}

#: Fewest observations (hence intervals, one fewer) a model is fitted from.
MIN_OBSERVATIONS = {"lognormal": 20, "merton": 250, "log_ou": 20, "ecm": 20, "seasonal": 60}
#: Fewest shared intervals for a correlation to be estimated rather than left at 0.
MIN_COMMON_INTERVALS = 10
#: The Poisson sum of the Merton density stops where the tail beyond it is below this.
POISSON_TAIL = 1e-12
#: Significant digits of the values put into ``overrides``: well below any standard error,
#: and a TOML file a person can read.
OVERRIDE_DIGITS = 4

#: (height, date) of Bitcoin's past halvings and genesis. Before the scenario's start date,
#: block heights are interpolated between these; from it on they follow the scenario's schedule.
HISTORICAL_HEIGHTS = (
    (0, _dt.date(2009, 1, 3)),
    (210_000, _dt.date(2012, 11, 28)),
    (420_000, _dt.date(2016, 7, 9)),
    (630_000, _dt.date(2020, 5, 11)),
    (840_000, _dt.date(2024, 4, 20)),
)
#: When the Merton fit is used, it is called weakly identified (a CalibrationWarning) if any of these holds:
#: more than WEAK_JUMPS_PER_INTERVAL jumps are expected per observation interval (jumps are then no rare
#: events: daily data, above 36.5 a year); a typical jump, sqrt(m_J^2 + s_J^2), is smaller than
#: WEAK_JUMP_SIZE diffusion standard deviations of one interval, sigma sqrt(dt), the usual bound of an outlier
#: (then two jumps in three leave the return within the diffusion's own +-3 s.d.); or the standard error of the intensity or of
#: the jump s.d. exceeds WEAK_RELATIVE_SE times the estimate. Parameters the user fixed are not judged.
WEAK_JUMPS_PER_INTERVAL = 0.1
WEAK_JUMP_SIZE = 3.0
WEAK_RELATIVE_SE = 0.5
#: Significant digits of the starting values taken from the last observation (data, not estimates).
START_VALUE_DIGITS = 6
#: Scenario parameter each column's last observation sets, when the start is taken from the data.
START_VALUES = {
    "btc_price": "btc.price",
    "fees": "fees.initial_btc",
    "hashrate": "hashrate.initial_ehs",
    "power_price": "power.price",
    "lease_rate": "hosting.lease_rate",
}
#: Parameters that hold "at t = 0" and that calibrate does not move with the start date.
DATED_LEVELS = ("hashrate.efficiency_j_per_th", "mining.frontier_efficiency_j_per_th", "hosting.lease_long_run")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


# --------------------------------------------------------------------------- #
# Result types
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Estimate:
    """One fitted parameter.

    Attributes
    ----------
    value : float
        The estimate.
    std_error : float
        Its standard error (NaN where the fit cannot give one, e.g. on a boundary).
    unit : str
        Unit of ``value``.
    doc : str
        What the parameter is.
    parameter : str or None
        The dotted scenario parameter it sets, if any.
    """

    value: float
    std_error: float
    unit: str
    doc: str
    parameter: str | None = None

    def __post_init__(self) -> None:
        # Plain floats, whatever numpy scalar the fit produced: they print and compare simply.
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "std_error", float(self.std_error))


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Likelihood-ratio test of the Merton jump-diffusion against the log-normal.

    ``statistic = 2 (logL_merton - logL_lognormal)``, referred to a chi-square
    law with ``df = 3`` (the jump intensity, mean and standard deviation). The
    p-value is approximate: under the null the intensity sits on the boundary
    of its range (lambda = 0) and the jump mean and standard deviation are not
    identified, so the chi-square asymptotics do not strictly hold. On daily
    BTC data the statistic is far beyond any critical value, and the decision
    does not hinge on the approximation.
    """

    statistic: float
    df: int
    p_value: float
    level: float

    @property
    def warranted(self) -> bool:
        """Whether jumps are warranted at ``level``."""
        return bool(self.p_value < self.level)

    def __str__(self) -> str:
        verdict = "jumps warranted" if self.warranted else "jumps not warranted"
        return f"LR = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.3g}: {verdict} at the {self.level:g} level"


@dataclass(frozen=True)
class ModelFit:
    """The fit of one model to one series (or, for the hashrate, a few).

    Attributes
    ----------
    name : str
        ``btc_merton``, ``btc_lognormal``, ``fees``, ``hashrate``, ``power`` or ``lease``.
    factor : str
        The scenario factor it calibrates.
    description : str
        The model in words.
    estimates : mapping of str to Estimate
        The parameters, by name.
    log_likelihood : float
        Log-likelihood at the estimates (conditional on the first observation).
    n_obs : int
        Intervals (returns, transitions) the fit used.
    start, end : datetime.date
        First and last date used.
    frequency : str
        ``daily``, ``weekly`` or ``monthly``.
    notes : tuple of str
        What the fit assumed or found worth saying.
    """

    name: str
    factor: str
    description: str
    estimates: Mapping[str, Estimate]
    log_likelihood: float
    n_obs: int
    start: _dt.date
    end: _dt.date
    frequency: str
    notes: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Estimate:
        return self.estimates[key]

    @property
    def span(self) -> str:
        """The sample span, ``YYYY-MM-DD to YYYY-MM-DD``."""
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    models : dict of str to ModelFit
        Every fitted model, by name.
    overrides : dict
        Dotted scenario parameters to their fitted values, ready for
        :meth:`Scenario.with_overrides`, rounded to four significant digits.
        With two or more factors it holds the whole ``correlation.matrix``:
        the fitted correlations, and 0 for every pair with a factor that is
        not in the data. It holds ``set_from_data`` too.
    correlation : pandas.DataFrame
        Correlation of the fitted shocks, in the scenario's factor order,
        for the factors present.
    correlation_nobs : pandas.DataFrame
        Intervals each correlation was estimated from.
    jump_test : LikelihoodRatioTest or None
        The test of jumps in the BTC price, when one was fitted.
    frequency : str
        Frequency of the data.
    base : Scenario
        The scenario the fit was made against (its start date, protocol and
        network efficiency enter the hashrate equilibrium and the lease level).
    warnings : list of str
        The warnings the calibration emitted.
    source : str or None
        Where the data came from.
    set_from_data : dict
        The overrides taken from the end of the data rather than fitted: the
        start date and height, and the factors' values at t = 0.
    not_set : dict of str to str
        Parameters the calibration could have set but left at the base's
        value (the drift, starting values, dated levels), with the reason.
    last_date : datetime.date or None
        The last date of the data.
    """

    models: dict[str, ModelFit]
    overrides: dict[str, Any]
    correlation: pd.DataFrame
    correlation_nobs: pd.DataFrame
    jump_test: LikelihoodRatioTest | None
    frequency: str
    base: Scenario
    warnings: list[str] = field(default_factory=list)
    source: str | None = None
    set_from_data: dict[str, Any] = field(default_factory=dict)
    not_set: dict[str, str] = field(default_factory=dict)
    last_date: _dt.date | None = None
    _fit_notes: dict[str, str] = field(default_factory=dict, repr=False)
    _set_reasons: dict[str, str] = field(default_factory=dict, repr=False)

    def scenario(self, base: Scenario | None = None) -> Scenario:
        """``base`` (the calibration's base scenario by default) with the fitted overrides, validated.

        The overrides include ``set_from_data``: a start height moved along
        the calibration base's block schedule, which another base replaces too.
        """
        return (base if base is not None else self.base).with_overrides(self.overrides)

    def table(self) -> pd.DataFrame:
        """Every estimate as one row: model, parameter, estimate, std_error, unit, scenario parameter."""
        rows = []
        for model in self.models.values():
            for name, est in model.estimates.items():
                rows.append(
                    {
                        "model": model.name,
                        "parameter": name,
                        "estimate": est.value,
                        "std_error": est.std_error,
                        "unit": est.unit,
                        "scenario": est.parameter or "",
                    }
                )
        return pd.DataFrame(rows, columns=["model", "parameter", "estimate", "std_error", "unit", "scenario"])

    def to_toml(self, base: Scenario | None = None) -> str:
        """The calibrated scenario as commented TOML.

        Each fitted parameter is preceded by a ``# fit:`` line giving the
        estimate, its standard error, the model and the sample span. The text
        reads back with :meth:`Scenario.from_toml_string` to exactly
        :meth:`scenario`.
        """
        scenario = self.scenario(base)
        header = ["# pivotmc scenario calibrated to data" + (f" from {self.source}" if self.source else "") + "."]
        for model in self.models.values():
            header.append(f"#   {model.name}: {model.description}; {model.frequency}, {model.span}, {model.n_obs} intervals.")
        if self.jump_test is not None:
            header.append(f"# Jumps in BTC: {self.jump_test}.")
        header.append("# Lines '# fit:' give estimate (standard error), model and sample span; the rest are defaults.")
        header.extend("# " + line for line in self._start_lines(scenario))
        comments: dict[str, list[str]] = {}
        for name, note in self._fit_notes.items():
            comments.setdefault(name, []).append(f"# fit: {note}")
        for name, reason in self._set_reasons.items():
            comments.setdefault(name, []).append(f"# set from the last observation: {reason}")
        for name, reason in self.not_set.items():
            comments.setdefault(name, []).append(f"# not set: {reason}")
        return "\n".join(header) + "\n\n" + _annotate_toml(scenario.to_toml(), comments)

    def _start_lines(self, scenario: Scenario) -> list[str]:
        """The "Set from the last observation / Not set" block, one parameter a line."""
        end = f" (the data end {self.last_date.isoformat()})" if self.last_date else ""
        lines = [f"Set from the last observation{end}:" if self.set_from_data else f"Set from the last observation{end}: nothing"]
        for name, value in self.set_from_data.items():
            lines.append(f"  {name} = {_show(value)}: {self._set_reasons.get(name, '')}")
        lines.append("Not set (the base's value kept):" if self.not_set else "Not set: nothing")
        for name, reason in self.not_set.items():
            lines.append(f"  {name} = {_show(scenario.value(name))}: {reason}")
        return lines

    def __str__(self) -> str:
        lines = [f"pivotmc calibration ({self.frequency} data" + (f", {self.source}" if self.source else "") + ")"]
        for model in self.models.values():
            lines.append("")
            lines.append(f"{model.name}: {model.description}")
            lines.append(
                f"  {model.n_obs} intervals, {model.span}, log-likelihood {model.log_likelihood:.6g}"
            )
            lines.append(f"  {'parameter':<18} {'estimate':>12} {'std. error':>12}  {'unit':<14} scenario")
            for name, est in model.estimates.items():
                target = est.parameter or ""
                if est.parameter == "btc.mu" and "btc.mu" not in self.overrides:
                    target += " (not applied)"
                lines.append(f"  {name:<18} {_fmt(est.value):>12} {_fmt(est.std_error):>12}  {est.unit:<14} {target}")
            for note in model.notes:
                lines.append(f"  note: {note}")
            if model.name == "btc_lognormal" and self.jump_test is not None:
                lines.append(f"  jumps: {self.jump_test}")
        if len(self.correlation) > 1:
            lines.append("")
            lines.append("Correlation of fitted shocks (intervals shared in brackets):")
            names = list(self.correlation.index)
            lines.append("  " + " " * 9 + "".join(f"{n:>16}" for n in names))
            for a in names:
                cells = "".join(
                    f"{self.correlation.loc[a, b]:>9.3f} ({int(self.correlation_nobs.loc[a, b]):>4})" for b in names
                )
                lines.append(f"  {a:<9}" + cells)
        lines.append("")
        lines.extend(self._start_lines(self.scenario()))
        lines.append("")
        lines.append("Overrides: " + (", ".join(sorted(k for k in self.overrides)) or "none"))
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "nan"
    return f"{x:.4g}"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.{START_VALUE_DIGITS}g}"
    return str(value)


def _round(x: float, digits: int = OVERRIDE_DIGITS) -> float:
    return float(f"{x:.{digits}g}")


# --------------------------------------------------------------------------- #
# Reading and checking the data
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Frequency:
    name: str
    shortest: int  # days; a shorter interval means the data mix frequencies
    longest: int  # days; a longer interval is a gap


_FREQUENCIES = {
    "daily": _Frequency("daily", 1, 1),
    "weekly": _Frequency("weekly", 6, 8),
    "monthly": _Frequency("monthly", 28, 31),
}


def _frequency_of(median_days: float) -> str | None:
    if median_days <= 1.5:
        return "daily"
    if 5 <= median_days <= 9:
        return "weekly"
    if 25 <= median_days <= 35:
        return "monthly"
    return None


@dataclass
class _Series:
    """The observed values of one column, without its missing entries."""

    column: str
    dates: np.ndarray  # datetime64[D]
    values: np.ndarray
    t: np.ndarray  # years from the base scenario's start date

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.t)

    @property
    def start(self) -> _dt.date:
        return _to_date(self.dates[0])

    @property
    def end(self) -> _dt.date:
        return _to_date(self.dates[-1])


def _to_date(d: np.datetime64) -> _dt.date:
    return pd.Timestamp(d).date()


def _warn(message: str, log: list[str]) -> None:
    log.append(message)
    # Point the warning at the caller of calibrate, not at this module's internals.
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, CalibrationWarning, stacklevel=level)


def _read(data: Any) -> tuple[pd.DataFrame, str | None]:
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        if "date" not in frame.columns and isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.reset_index(names="date")
        return frame, None
    if isinstance(data, (str, os.PathLike)):
        try:
            return pd.read_csv(data), os.fspath(data)
        except FileNotFoundError:
            raise ValidationError(f"cannot read data file {os.fspath(data)!r}: no such file.") from None
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read data file {os.fspath(data)!r} as CSV: {exc}.") from None
    raise ValidationError(f"data must be a pandas DataFrame or the path of a CSV file, got {type(data).__name__}.")


def _check_columns(frame: pd.DataFrame) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if "date" not in columns:
        raise ValidationError("the data have no 'date' column (dates written YYYY-MM-DD).")
    unknown = [c for c in columns if c != "date" and c not in COLUMNS]
    if unknown:
        hints = []
        for c in unknown:
            close = difflib.get_close_matches(c, list(COLUMNS), n=1)
            hints.append(f"{c!r} (did you mean {close[0]!r}?)" if close else repr(c))
        accepted = ", ".join(f"{k} [{v}]" for k, v in _UNITS.items())
        raise ValidationError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; calibrate reads date and "
            f"{accepted}. Rename or drop the others."
        )
    present = [c for c in COLUMNS if c in columns]
    if not present:
        raise ValidationError(f"the data have no column to fit; give at least one of {', '.join(COLUMNS)}.")
    if len(set(columns)) != len(columns):
        raise ValidationError("the data have a repeated column name.")
    return present


def _check_dates(frame: pd.DataFrame) -> np.ndarray:
    raw = frame["date"]
    try:
        stamps = pd.to_datetime(raw, format="ISO8601") if raw.dtype == object else pd.to_datetime(raw)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"the 'date' column must hold dates written YYYY-MM-DD: {exc}.") from None
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise ValidationError(f"the 'date' column is empty at row {row + 1}.")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    if not (stamps == stamps.dt.normalize()).all():
        raise ValidationError("the 'date' column must hold calendar days, without times of day.")
    dates = stamps.to_numpy().astype("datetime64[D]")
    if len(dates) < 3:
        raise ValidationError(f"the data have {len(dates)} rows; calibration needs many more.")
    step = np.diff(dates).astype(np.int64)
    if (step == 0).any():
        i = int(np.flatnonzero(step == 0)[0])
        raise ValidationError(f"date {dates[i]} appears more than once (rows {i + 1} and {i + 2}); keep one row per date.")
    if (step < 0).any():
        i = int(np.flatnonzero(step < 0)[0])
        raise ValidationError(
            f"dates are not in increasing order: {dates[i + 1]} (row {i + 2}) follows {dates[i]} (row {i + 1}); "
            "sort the data by date."
        )
    return dates


def _check_values(frame: pd.DataFrame, column: str, dates: np.ndarray) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & raw.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{column} on {dates[i]} is {raw.iloc[i]!r}, not a number.")
    if np.isinf(values).any():
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise ValidationError(f"{column} on {dates[i]} is infinite.")
    nonpositive = values <= 0.0
    if nonpositive.any():
        idx = np.flatnonzero(nonpositive)
        raise ValidationError(
            f"{column} must be positive (its models are in logs), but it is {values[idx[0]]:g} on {dates[idx[0]]}"
            + (f" and non-positive on {idx.size - 1} other date{'s' if idx.size > 2 else ''}" if idx.size > 1 else "")
            + "; remove or correct those rows."
        )
    return values


def _check_spacing(column: str, dates: np.ndarray, frequency: str, log: list[str]) -> None:
    """Mixed frequencies are errors; gaps are reported and kept (each interval has its own step)."""
    spec = _FREQUENCIES[frequency]
    step = np.diff(dates).astype(np.int64)
    own = _frequency_of(float(np.median(step)))
    if own != frequency:
        raise ValidationError(
            f"mixed frequencies: {column} is observed every {float(np.median(step)):g} days (median) "
            f"while the data are {frequency}; calibrate series of different frequencies separately."
        )
    short = step < spec.shortest
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise ValidationError(
            f"mixed frequencies: {column} has an interval of {step[i]} days ending {dates[i + 1]}, "
            f"shorter than a {frequency} step; resample the data to one frequency."
        )
    long = step > spec.longest
    if not long.any():
        return
    run = longest_run = 0
    for flag in long:
        run = run + 1 if flag else 0
        longest_run = max(longest_run, run)
    if longest_run >= 8 or long.mean() > 1 / 3:
        raise ValidationError(
            f"mixed frequencies: {column} has {int(long.sum())} of {step.size} intervals longer than a {frequency} step"
            f" (up to {longest_run} in a row); resample the data to one frequency."
        )
    i = int(np.argmax(step))
    _warn(
        f"{column} has {int(long.sum())} gap{'s' if long.sum() > 1 else ''} in its {frequency} observations "
        f"(the longest, {step[i]} days, ends {dates[i + 1]}); each interval is fitted with its own time step.",
        log,
    )


# --------------------------------------------------------------------------- #
# Numerical helpers
# --------------------------------------------------------------------------- #
def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    p = x.size
    out = np.empty((p, p))
    f0 = f(x)
    for i in range(p):
        ei = np.zeros(p)
        ei[i] = h[i]
        out[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(p)
            ej[j] = h[j]
            out[i, j] = out[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4.0 * h[i] * h[j])
    return out


def _covariance(neg_hessian: np.ndarray) -> np.ndarray | None:
    """Inverse of the observed information, or None when it is not positive definite."""
    sym = 0.5 * (neg_hessian + neg_hessian.T)
    try:
        np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(sym)


def _delta_se(jacobian: np.ndarray, cov: np.ndarray | None) -> np.ndarray:
    """Standard errors of transformed parameters (rows of ``jacobian``) by the delta method."""
    if cov is None:
        return np.full(jacobian.shape[0], np.nan)
    var = np.einsum("ij,jk,ik->i", jacobian, cov, jacobian)
    return np.sqrt(np.maximum(var, 0.0))


# --------------------------------------------------------------------------- #
# BTC: log-normal and Merton jump-diffusion
# --------------------------------------------------------------------------- #
def _fit_lognormal(series: _Series, frequency: str) -> tuple[ModelFit, np.ndarray]:
    r = np.diff(np.log(series.values))
    dt = series.dt
    n, years = r.size, dt.sum()
    drift = r.sum() / years  # mu - sigma^2 / 2, the MLE under variances proportional to dt
    resid = r - drift * dt
    var = float(np.mean(resid**2 / dt))
    sigma = math.sqrt(var)
    loglik = -0.5 * float(np.sum(np.log(2.0 * math.pi * var * dt)) + n)
    se_sigma = sigma / math.sqrt(2.0 * n)
    se_mu = math.sqrt(var / years + var * se_sigma**2)  # d mu / d sigma = sigma; drift and sigma are independent
    fit = ModelFit(
        name="btc_lognormal",
        factor="btc",
        description="log-normal (geometric Brownian motion), E[S_t] = S_0 exp(mu t)",
        estimates={
            "mu": Estimate(drift + 0.5 * var, se_mu, "1/year", "expected annual log-drift of E[S]", "btc.mu"),
            "sigma": Estimate(sigma, se_sigma, "1/sqrt(year)", "volatility", "btc.sigma"),
        },
        log_likelihood=loglik,
        n_obs=n,
        start=series.start,
        end=series.end,
        frequency=frequency,
    )
    return fit, resid / np.sqrt(var * dt)


def _poisson_terms(mean: float) -> int:
    """Jump counts 0..N kept in the Merton density: the Poisson tail beyond N is below POISSON_TAIL."""
    from scipy import stats

    if mean <= 0.0:
        return 1
    return max(int(stats.poisson.isf(POISSON_TAIL, mean)) + 1, 4)


def _merton_terms(theta: np.ndarray, r: np.ndarray, dt: np.ndarray):
    """Log of each Poisson component of the Merton transition density, and the pieces of its derivatives."""
    from scipy.special import gammaln

    mu, sigma, lam, jm, js = theta[0], math.exp(theta[1]), math.exp(theta[2]), theta[3], math.exp(theta[4])
    kbar = math.expm1(jm + 0.5 * js * js)
    counts = np.arange(_poisson_terms(lam * float(dt.max())) + 1, dtype=np.float64)
    dtc = dt[:, None]
    mean = (mu - 0.5 * sigma * sigma - lam * kbar) * dtc + counts * jm
    var = sigma * sigma * dtc + counts * js * js
    log_weight = -lam * dtc + counts * np.log(lam * dtc) - gammaln(counts + 1.0)
    resid = r[:, None] - mean
    log_comp = log_weight - 0.5 * np.log(2.0 * math.pi * var) - 0.5 * resid * resid / var
    top = log_comp.max(axis=1)
    weights = np.exp(log_comp - top[:, None])
    total = weights.sum(axis=1)
    loglik_i = top + np.log(total)
    posterior = weights / total[:, None]
    return loglik_i, posterior, counts, resid, var, (mu, sigma, lam, jm, js, kbar)


def _merton_loglik(theta: np.ndarray, r: np.ndarray, dt: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-likelihood of the Merton model and its gradient in (mu, ln sigma, ln lambda, m_J, ln s_J)."""
    loglik_i, post, counts, resid, var, (mu, sigma, lam, jm, js, kbar) = _merton_terms(theta, r, dt)
    dtc = dt[:, None]
    d_mean = resid / var  # d log component / d mean
    d_var = 0.5 * (resid * resid / var - 1.0) / var  # d log component / d variance
    grad = np.array(
        [
            np.sum(post * d_mean * dtc),
            np.sum(post * (d_mean * (-sigma * dtc) + d_var * (2.0 * sigma * dtc))) * sigma,
            np.sum(post * ((counts - lam * dtc) + d_mean * (-kbar * lam * dtc))),
            np.sum(post * d_mean * (counts - lam * dtc * (kbar + 1.0))),
            np.sum(post * (d_mean * (-lam * dtc * (kbar + 1.0) * js) + d_var * (2.0 * counts * js))) * js,
        ]
    )
    return float(loglik_i.sum()), grad


def _merton_starts(r: np.ndarray, dt: np.ndarray) -> list[np.ndarray]:
    """Starting points: robust diffusion scale, and jumps sized from the outliers it leaves."""
    z = r / np.sqrt(dt)
    center = np.median(z)
    scale = 1.4826 * np.median(np.abs(z - center))
    scale = max(scale, 1e-3)
    outlying = np.abs(z - center) > 4.0 * scale
    years = dt.sum()
    lam0 = max(outlying.sum() / years, 0.5)
    if outlying.sum() >= 2:
        jm0 = float(np.clip(np.mean(r[outlying]), -1.0, 1.0))
        js0 = float(np.clip(np.std(r[outlying]), 0.01, 1.5))
    else:
        jm0, js0 = 0.0, max(4.0 * scale * math.sqrt(float(np.median(dt))), 0.01)
    mu0 = float(np.clip(r.sum() / years + 0.5 * scale**2, -1.5, 1.5))
    starts = []
    for lam_factor, js_factor in ((1.0, 1.0), (4.0, 0.5), (0.25, 1.5), (15.0, 0.25)):
        lam = float(np.clip(lam0 * lam_factor, 0.01, 300.0))
        js = float(np.clip(js0 * js_factor, 0.005, 1.5))
        starts.append(np.array([mu0, math.log(scale), math.log(lam), jm0 if lam_factor <= 1 else 0.0, math.log(js)]))
    return starts


#: Search box in (mu, ln sigma, ln lambda, m_J, ln s_J): the scenario's own ranges, with small positive floors.
_MERTON_BOUNDS = [
    (-2.0, 2.0),
    (math.log(1e-3), math.log(3.0)),
    (math.log(1e-3), math.log(365.0)),
    (-2.0, 2.0),
    (math.log(1e-3), math.log(2.0)),
]


def _fit_merton(
    series: _Series,
    frequency: str,
    log: list[str],
    fixed_intensity: float | None = None,
    max_intensity: float | None = None,
) -> tuple[ModelFit | None, np.ndarray | None, list[str]]:
    """Maximum likelihood of the Merton model, with the jump intensity free, bounded above or fixed.

    A fixed intensity is left out of the search; a bound replaces the upper end
    of the search box for ln lambda. Either way the other four parameters are
    fitted by the same likelihood. At an active bound the intensity is treated
    as fixed there: it gets no standard error, and the others get theirs from
    the information with the intensity held at the bound.
    """
    from scipy import optimize

    r = np.diff(np.log(series.values))
    dt = series.dt
    bounds = list(_MERTON_BOUNDS)
    if max_intensity is not None:
        bounds[2] = (bounds[2][0], math.log(max_intensity))
    free = [0, 1, 3, 4] if fixed_intensity is not None else [0, 1, 2, 3, 4]
    free_bounds = [bounds[i] for i in free]

    def full(x: np.ndarray) -> np.ndarray:
        if fixed_intensity is None:
            return x
        return np.array([x[0], x[1], math.log(fixed_intensity), x[2], x[3]])

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _merton_loglik(full(x), r, dt)
        return -value, -grad[free]

    best = None
    with np.errstate(all="ignore"):
        for start in _merton_starts(r, dt):
            start = np.array([np.clip(start[i], lo, hi) for i, (lo, hi) in zip(free, free_bounds, strict=True)])
            res = optimize.minimize(
                objective, start, jac=True, method="L-BFGS-B", bounds=free_bounds, options={"maxiter": 500}
            )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
    if best is None:
        _warn("the Merton jump-diffusion could not be fitted to btc_price (no finite likelihood); the log-normal is used.", log)
        return None, None, []
    theta = full(best.x)
    loglik = -float(best.fun)
    mu, sigma, lam, jm, js = theta[0], math.exp(theta[1]), math.exp(theta[2]), theta[3], math.exp(theta[4])
    if fixed_intensity is not None:  # exactly the value given, and never a rounding above a bound
        lam = float(fixed_intensity)
    elif max_intensity is not None:
        lam = min(lam, float(max_intensity))
    names = ("mu", "sigma", "jump_intensity", "jump_mean", "jump_sd")
    notes = []
    held = fixed_intensity is not None
    if fixed_intensity is not None:
        notes.append(f"jump_intensity fixed at {fixed_intensity:g}/year (jump_intensity=); the other four fitted given it")
    elif max_intensity is not None and bounds[2][1] - theta[2] < 1e-6:
        held = True
        notes.append(
            f"jump_intensity at the bound max_jump_intensity = {max_intensity:g}/year: no standard error is given for it, "
            "and the others' are conditional on it"
        )
    # The search box's own limits; a user's bound on the intensity is not one of them.
    at_bound = [
        i
        for i, (v, (lo, hi)) in enumerate(zip(theta, _MERTON_BOUNDS, strict=True))
        if min(v - lo, hi - v) < 1e-6 and not (i == 2 and held)
    ]
    if at_bound:
        which = ", ".join(names[i] for i in at_bound)
        notes.append(f"on the boundary of its range: {which}; standard errors are not given")

    # Observed information from differences of the analytic gradient, over the parameters not held.
    varied = [0, 1, 3, 4] if held else [0, 1, 2, 3, 4]
    h = 1e-5 * np.maximum(1.0, np.abs(theta))
    hess = np.empty((len(varied), len(varied)))
    with np.errstate(all="ignore"):
        for row, i in enumerate(varied):
            e = np.zeros(5)
            e[i] = h[i]
            hess[row] = (_merton_loglik(theta + e, r, dt)[1][varied] - _merton_loglik(theta - e, r, dt)[1][varied]) / (
                2.0 * h[i]
            )
    cov_varied = _covariance(-hess) if not at_bound else None
    if cov_varied is None and not at_bound:
        notes.append("the observed information is not positive definite; standard errors are not given")
    cov = None
    if cov_varied is not None:
        cov = np.zeros((5, 5))
        cov[np.ix_(varied, varied)] = cov_varied
    se = _delta_se(np.diag([1.0, sigma, lam, 1.0, js]), cov)
    if held:
        se[2] = math.nan

    # Diffusion shocks: E[Z | return], which leaves out what the jumps explain.
    _, post, counts, resid, var, _ = _merton_terms(theta, r, dt)
    shocks = np.sum(post * resid / var, axis=1) * sigma * np.sqrt(dt)

    truncation = _poisson_terms(lam * float(dt.max()))
    notes.append(f"density summed over 0..{truncation} jumps per interval (Poisson tail beyond < {POISSON_TAIL:g})")
    fit = ModelFit(
        name="btc_merton",
        factor="btc",
        description="Merton jump-diffusion, E[S_t] = S_0 exp(mu t)",
        estimates={
            "mu": Estimate(mu, se[0], "1/year", "expected annual log-drift of E[S]", "btc.mu"),
            "sigma": Estimate(sigma, se[1], "1/sqrt(year)", "diffusion volatility", "btc.sigma"),
            "jump_intensity": Estimate(lam, se[2], "1/year", "expected jumps per year (lambda)", "btc.jump_intensity"),
            "jump_mean": Estimate(jm, se[3], "log", "mean log jump size (m_J)", "btc.jump_mean"),
            "jump_sd": Estimate(js, se[4], "log", "standard deviation of the log jump size (s_J)", "btc.jump_sd"),
        },
        log_likelihood=loglik,
        n_obs=r.size,
        start=series.start,
        end=series.end,
        frequency=frequency,
        notes=tuple(notes),
    )
    return fit, shocks, [names[i] for i in at_bound]


def _weak_jumps(fit: ModelFit, dt: float, judged: tuple[str, ...]) -> list[str]:
    """Why the Merton fit is weakly identified (empty when it is not); see WEAK_JUMPS_PER_INTERVAL."""
    lam, sigma = fit["jump_intensity"].value, fit["sigma"].value
    size = math.hypot(fit["jump_mean"].value, fit["jump_sd"].value)
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[fit.frequency]
    reasons = []
    if "jump_intensity" in judged and lam * dt > WEAK_JUMPS_PER_INTERVAL:
        reasons.append(f"{lam * dt:.2g} jumps expected a {unit} (over {WEAK_JUMPS_PER_INTERVAL:g}: no rare events)")
    scale = sigma * math.sqrt(dt)
    if size < WEAK_JUMP_SIZE * scale:
        reasons.append(
            f"a typical jump of {size:.3g} in log price, {size / scale:.2g} times the {unit}'s diffusion s.d. "
            f"(under {WEAK_JUMP_SIZE:g}: like ordinary moves)"
        )
    for name in judged:
        est = fit[name]
        if math.isfinite(est.std_error) and est.std_error > WEAK_RELATIVE_SE * est.value:
            reasons.append(f"{name} {_fmt(est.value)} with standard error {_fmt(est.std_error)}")
    return reasons


# --------------------------------------------------------------------------- #
# Log-OU processes around a level that is linear in parameters
# --------------------------------------------------------------------------- #
@dataclass
class _OuFit:
    beta: np.ndarray
    speed: float
    sigma: float
    cov: np.ndarray | None  # of (beta..., ln speed, ln sigma)
    loglik: float
    shocks: np.ndarray
    speed_at_bound: str | None


def _ou_pieces(x: np.ndarray, basis: np.ndarray, dt: np.ndarray, speed: float):
    decay = np.exp(-speed * dt)
    # Exact OU transition variance per unit sigma^2; the random-walk limit for tiny speed * dt.
    scaled_var = np.where(speed * dt > 1e-10, -np.expm1(-2.0 * speed * dt) / (2.0 * speed), dt)
    y = x[1:] - decay * x[:-1]
    design = basis[1:] - decay[:, None] * basis[:-1]
    return y, design, scaled_var


def _ou_profile(x, basis, dt, speed) -> tuple[float, np.ndarray, float]:
    """Log-likelihood maximised over the level parameters and sigma at a given speed."""
    y, design, scaled_var = _ou_pieces(x, basis, dt, speed)
    root = np.sqrt(scaled_var)
    a, b = design / root[:, None], y / root
    gram = a.T @ a
    # Normal equations are ten times faster than an SVD here; the SVD is kept for the
    # near-singular case (a speed near zero leaves a constant level unidentified).
    if np.linalg.cond(gram) < 1e10:
        beta = np.linalg.solve(gram, a.T @ b)
    else:
        beta = np.linalg.lstsq(a, b, rcond=None)[0]
    resid = y - design @ beta
    var = float(np.mean(resid**2 / scaled_var))
    n = y.size
    loglik = -0.5 * (n * math.log(2.0 * math.pi * var) + float(np.sum(np.log(scaled_var))) + n)
    return loglik, beta, var


def _ou_loglik(theta: np.ndarray, x, basis, dt) -> float:
    p = basis.shape[1]
    beta, speed, sigma = theta[:p], math.exp(theta[p]), math.exp(theta[p + 1])
    y, design, scaled_var = _ou_pieces(x, basis, dt, speed)
    resid = y - design @ beta
    var = sigma * sigma * scaled_var
    return -0.5 * float(np.sum(np.log(2.0 * math.pi * var) + resid * resid / var))


def _fit_log_ou(x: np.ndarray, basis: np.ndarray, dt: np.ndarray) -> _OuFit:
    """Exact-likelihood fit of ``x_t = basis_t @ beta + d_t`` with ``d`` an OU process.

    The likelihood is profiled over beta (weighted least squares) and sigma
    (closed form), leaving a one-dimensional search over the speed: a grid,
    then Brent's method between the grid neighbours of the best point.
    """
    from scipy import optimize

    lo = 1e-3
    hi = min(1e4, 40.0 / float(np.median(dt)))
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 90))
    values = np.array([_ou_profile(x, basis, dt, k)[0] for k in grid])
    i = int(np.nanargmax(values))
    at_bound = "lower" if i == 0 else "upper" if i == grid.size - 1 else None
    if at_bound is None:
        res = optimize.minimize_scalar(
            lambda lk: -_ou_profile(x, basis, dt, math.exp(lk))[0],
            bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-8},
        )
        speed = math.exp(res.x)
    else:
        speed = float(grid[i])
    loglik, beta, var = _ou_profile(x, basis, dt, speed)
    sigma = math.sqrt(var)
    theta = np.concatenate([beta, [math.log(speed), math.log(sigma)]])
    cov = None
    if at_bound is None:
        h = 1e-4 * np.maximum(1.0, np.abs(theta))
        hess = _hessian(lambda th: _ou_loglik(th, x, basis, dt), theta, h)
        cov = _covariance(-hess)
    y, design, scaled_var = _ou_pieces(x, basis, dt, speed)
    shocks = (y - design @ beta) / (sigma * np.sqrt(scaled_var))
    return _OuFit(beta=beta, speed=speed, sigma=sigma, cov=cov, loglik=loglik, shocks=shocks, speed_at_bound=at_bound)


def _ou_notes(fit: _OuFit, name: str, log: list[str]) -> list[str]:
    notes = []
    if fit.speed_at_bound is not None:
        _warn(
            f"{name}: the mean-reversion speed is on the {fit.speed_at_bound} bound of the range searched; "
            "standard errors are not given.",
            log,
        )
    if fit.speed_at_bound == "lower":
        notes.append("no mean reversion within the sample (speed at its lower bound); standard errors are not given")
    elif fit.speed_at_bound == "upper":
        notes.append("close to white noise at this frequency (speed at its upper bound); standard errors are not given")
    elif fit.cov is None:
        notes.append("the observed information is not positive definite; standard errors are not given")
    return notes


def _speed_sigma_estimates(fit: _OuFit, p: int, prefix: str, section: str, what: str) -> dict[str, Estimate]:
    jac = np.zeros((2, p + 2))
    jac[0, p] = fit.speed
    jac[1, p + 1] = fit.sigma
    se = _delta_se(jac, fit.cov)
    return {
        f"{prefix}speed": Estimate(fit.speed, se[0], "1/year", "mean-reversion speed", f"{section}.{prefix}speed"),
        f"{prefix}sigma": Estimate(fit.sigma, se[1], "1/sqrt(year)", f"volatility of log {what}", f"{section}.{prefix}sigma"),
    }


def _log_ou_model(
    name: str, description: str, estimates: dict, fit, series: _Series, frequency: str, notes: list[str]
) -> ModelFit:
    """The :class:`ModelFit` of a log-OU factor (fees, power, lease): one observation is lost to the lag."""
    return ModelFit(
        name=name,
        factor=name,
        description=description,
        estimates=estimates,
        log_likelihood=fit.loglik,
        n_obs=series.values.size - 1,
        start=series.start,
        end=series.end,
        frequency=frequency,
        notes=tuple(notes),
    )


def _fit_fees(series: _Series, frequency: str, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    x = np.log(series.values)
    basis = np.ones((x.size, 1))
    fit = _fit_log_ou(x, basis, series.dt)
    level = math.exp(fit.beta[0])
    jac = np.zeros((1, 3))
    jac[0, 0] = level
    estimates = {
        "long_run_btc": Estimate(level, _delta_se(jac, fit.cov)[0], "BTC/block", "long-run level (median)", "fees.long_run_btc"),
        **_speed_sigma_estimates(fit, 1, "", "fees", "fees"),
    }
    description = "log-OU of fees per block around a constant level"
    return _log_ou_model("fees", description, estimates, fit, series, frequency, _ou_notes(fit, "fees", log)), fit.shocks


def _fit_power(series: _Series, frequency: str, seasonal: bool, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    x = np.log(series.values)
    if seasonal:
        months = series.dates.astype("datetime64[M]").astype(np.int64) % 12
        basis = np.zeros((x.size, 12))
        basis[np.arange(x.size), months] = 1.0
    else:
        basis = np.ones((x.size, 1))
    p = basis.shape[1]
    fit = _fit_log_ou(x, basis, series.dt)
    # Multipliers are normalised to a geometric mean of 1, so the long-run price is the
    # geometric mean of the twelve monthly levels.
    center = fit.beta.mean()
    level = math.exp(center)
    jac = np.zeros((1, p + 2))
    jac[0, :p] = level / p
    estimates = {
        "long_run_price": Estimate(
            level, _delta_se(jac, fit.cov)[0], "USD/MWh", "long-run level before seasonality (median)", "power.long_run_price"
        ),
        **_speed_sigma_estimates(fit, p, "", "power", "power price"),
    }
    if seasonal:
        mult = np.exp(fit.beta - center)
        jac = np.zeros((12, p + 2))
        jac[:, :12] = -mult[:, None] / 12.0
        jac[np.arange(12), np.arange(12)] += mult
        se = _delta_se(jac, fit.cov)
        for m in range(12):
            estimates[f"seasonality_{_MONTHS[m]}"] = Estimate(
                float(mult[m]), se[m], "1", f"multiplier of the level in {_MONTHS[m].capitalize()}", "power.seasonality"
            )
    notes = _ou_notes(fit, "power", log)
    if not seasonal:
        notes.append("flat seasonality (the level is the same in every month)")
    notes.append("no spikes: upward jumps in the log price are part of the OU noise")
    description = "log-OU of the power price around " + ("a monthly seasonal level" if seasonal else "a constant level")
    return _log_ou_model("power", description, estimates, fit, series, frequency, notes), fit.shocks


def _fit_lease(series: _Series, frequency: str, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    x = np.log(series.values)
    # Time from the scenario's start, so the fitted level is the long-run level at t = 0.
    basis = np.column_stack([np.ones(x.size), series.t])
    fit = _fit_log_ou(x, basis, series.dt)
    level = math.exp(fit.beta[0])
    jac = np.zeros((2, 4))
    jac[0, 0] = level
    jac[1, 1] = 1.0
    se = _delta_se(jac, fit.cov)
    estimates = {
        "lease_long_run": Estimate(
            level, se[0], "USD/kW-month", "long-run level at the scenario's start (median)", "hosting.lease_long_run"
        ),
        "lease_trend": Estimate(float(fit.beta[1]), se[1], "1/year", "drift of the long-run log level", "hosting.lease_trend"),
        **_speed_sigma_estimates(fit, 2, "lease_", "hosting", "lease rate"),
    }
    notes = _ou_notes(fit, "lease", log)
    if series.t[-1] < 0:
        notes.append("lease_long_run is extrapolated at the fitted trend from the last observation to the scenario's start")
    description = "log-OU of the lease rate around a level drifting at a constant trend"
    return _log_ou_model("lease", description, estimates, fit, series, frequency, notes), fit.shocks


# --------------------------------------------------------------------------- #
# Hashrate: error correction toward the price-implied equilibrium
# --------------------------------------------------------------------------- #
def _block_heights(days: np.ndarray, base: Scenario) -> np.ndarray:
    """Block height at each date (days from the scenario's start).

    From the start date on, heights grow at the scenario's ``blocks_per_day``
    from ``start_height``, as in the engine; before it they are interpolated
    between the historical halvings (and genesis) that precede the start.
    """
    proto, start = base.protocol, base.simulation.start
    anchor_days = [float((d - start).days) for h, d in HISTORICAL_HEIGHTS if d < start and h < proto.start_height]
    anchor_heights = [float(h) for h, d in HISTORICAL_HEIGHTS if d < start and h < proto.start_height]
    anchor_days.append(0.0)
    anchor_heights.append(float(proto.start_height))
    ahead = proto.start_height + proto.blocks_per_day * days
    if len(anchor_days) == 1:
        return np.maximum(ahead, 0.0)
    behind = np.interp(days, anchor_days, anchor_heights)
    return np.where(days >= 0.0, ahead, behind)


def _mean_subsidy(lo: float, hi: float, base: Scenario) -> float:
    """Average subsidy per block over heights [lo, hi), pro-rated across a halving as in the engine."""
    proto = base.protocol
    if hi <= lo:
        return block_subsidy_btc(lo, proto)
    total, edge = 0.0, lo
    while edge < hi:
        era_end = (math.floor(edge / proto.halving_interval) + 1) * proto.halving_interval
        piece_end = min(hi, era_end)
        total += (piece_end - edge) * block_subsidy_btc(edge, proto)
        edge = piece_end
    return total / (hi - lo)


def _fit_hashrate(
    hashrate: _Series, frame: pd.DataFrame, dates: np.ndarray, fees_per_block: np.ndarray | None,
    base: Scenario, frequency: str, log: list[str],
) -> tuple[ModelFit, np.ndarray, np.ndarray]:
    """Weighted least squares for d ln H = (a + kappa X) dt + sigma sqrt(dt) Z.

    ``X = ln H*_1 - ln H`` where ``H*_1`` is the equilibrium with markup 1:
    ``blocks_per_day (subsidy + F) S / (24 eps p_marg)`` with ``eps`` the
    scenario's network efficiency at the date and ``p_marg`` its marginal
    power price. The markup phi and the growth g enter only through the
    intercept ``a = g - kappa ln phi``.
    """
    position = np.searchsorted(dates, hashrate.dates)
    price = pd.to_numeric(frame["btc_price"], errors="coerce").to_numpy(dtype=np.float64)[position]
    if fees_per_block is None:
        fees = np.full(position.size, base.fees.long_run_btc)
    else:
        fees = fees_per_block[position]
    ln_h = np.log(hashrate.values)
    dt = hashrate.dt
    usable = np.isfinite(price[:-1]) & np.isfinite(fees[:-1])
    dropped = int((~usable).sum())
    if dropped:
        missing = "btc_price" if not np.isfinite(price[:-1]).all() else "fees"
        if not np.isfinite(price[:-1]).all() and not np.isfinite(fees[:-1]).all():
            missing = "btc_price or fees"
        _warn(
            f"{dropped} hashrate interval{'s' if dropped > 1 else ''} left out of the error-correction fit: "
            f"{missing} missing at the start.",
            log,
        )
    n = int(usable.sum())
    if n < MIN_OBSERVATIONS["ecm"]:
        raise ValidationError(
            f"the hashrate model needs at least {MIN_OBSERVATIONS['ecm']} intervals with btc_price"
            f"{' and fees' if fees_per_block is not None else ''} at their start; the data have {n}."
        )
    hr, proto = base.hashrate, base.protocol
    days = hashrate.t * DAYS_PER_YEAR
    heights = _block_heights(days, base)
    subsidy = np.array([_mean_subsidy(heights[i], heights[i + 1], base) for i in range(dt.size)])
    eps = hr.efficiency_j_per_th * (1.0 - hr.efficiency_improvement) ** hashrate.t[:-1]
    log_hstar = (
        np.log(proto.blocks_per_day / (24.0 * eps * hr.marginal_power_price)) + np.log(subsidy + fees[:-1]) + np.log(price[:-1])
    )
    gap = log_hstar - ln_h[:-1]
    y = np.diff(ln_h)
    root = np.sqrt(dt)
    design = np.column_stack([root, gap * root])[usable]
    target = (y / root)[usable]
    xtx_inv = np.linalg.inv(design.T @ design)
    coef = xtx_inv @ design.T @ target
    resid = target - design @ coef
    rss = float(resid @ resid)
    var = rss / (n - 2)
    cov = var * xtx_inv
    intercept, speed = float(coef[0]), float(coef[1])
    sigma = math.sqrt(var)
    loglik = -0.5 * n * (math.log(2.0 * math.pi * rss / n) + 1.0) - float(np.sum(np.log(root[usable])))
    notes = [
        "H* = blocks_per_day (subsidy + F) S / (24 eps p_marg): subsidy from the halving schedule, "
        f"eps = {hr.efficiency_j_per_th:g} J/TH at {base.simulation.start} improving {hr.efficiency_improvement:g}/year, "
        f"p_marg = {hr.marginal_power_price:g} USD/MWh; the markup phi and growth g are absorbed in the intercept "
        "g - kappa ln phi",
    ]
    if fees_per_block is None:
        notes.append(f"no fees in the data: F = {base.fees.long_run_btc:g} BTC/block (the scenario's long-run level)")
    markup = se_markup = math.nan
    if speed > 0:
        markup = math.exp(-intercept / speed)
        grad = np.array([-1.0 / speed, intercept / speed**2]) * markup
        se_markup = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    estimates = {
        "intercept": Estimate(intercept, math.sqrt(cov[0, 0]), "1/year", "g - kappa ln phi"),
        "speed": Estimate(
            speed, math.sqrt(cov[1, 1]), "1/year", "speed of adjustment toward equilibrium (kappa_H)", "hashrate.speed"
        ),
        "sigma": Estimate(
            sigma, sigma / math.sqrt(2.0 * (n - 2)), "1/sqrt(year)", "volatility of log hashrate", "hashrate.sigma"
        ),
        "markup": Estimate(markup, se_markup, "1", "markup phi implied by the intercept with g = 0", "hashrate.markup"),
    }
    start = _to_date(hashrate.dates[:-1][usable][0])
    end = _to_date(hashrate.dates[1:][usable][-1])
    model = ModelFit(
        name="hashrate",
        factor="hashrate",
        description="error correction of ln H toward ln H* (weighted least squares)",
        estimates=estimates,
        log_likelihood=loglik,
        n_obs=n,
        start=start,
        end=end,
        frequency=frequency,
        notes=tuple(notes),
    )
    shocks = np.full(dt.size, np.nan)
    shocks[usable] = resid / sigma
    return model, shocks, usable


# --------------------------------------------------------------------------- #
# Correlation of the fitted shocks
# --------------------------------------------------------------------------- #
def _correlate(shocks: dict[str, pd.DataFrame], log: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise correlation over the intervals (same start and end dates) two factors share."""
    names = [f for f in FACTORS if f in shocks]
    corr = np.eye(len(names))
    nobs = np.zeros((len(names), len(names)), dtype=np.int64)
    for i, a in enumerate(names):
        nobs[i, i] = len(shocks[a])
        for j in range(i):
            b = names[j]
            joined = shocks[a].merge(shocks[b], on=["start", "end"], suffixes=("_a", "_b"))
            n = len(joined)
            nobs[i, j] = nobs[j, i] = n
            if n < MIN_COMMON_INTERVALS:
                _warn(f"{a} and {b} share {n} intervals; their correlation is left at 0.", log)
                continue
            corr[i, j] = corr[j, i] = float(np.corrcoef(joined["z_a"], joined["z_b"])[0, 1])
    # Pairwise estimates need not form a valid matrix: take the nearest one with a unit diagonal.
    values, vectors = np.linalg.eigh(corr)
    if values[0] < 0.0:
        fixed = vectors @ np.diag(np.maximum(values, 0.0)) @ vectors.T
        d = np.sqrt(np.diag(fixed))
        fixed = fixed / np.outer(d, d)
        _warn(
            f"the pairwise correlations do not form a positive semi-definite matrix (smallest eigenvalue {values[0]:.3g}); "
            f"they were moved to the nearest one (largest change {np.abs(fixed - corr).max():.3g}).",
            log,
        )
        corr = fixed
    corr = 0.5 * (corr + corr.T)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names), pd.DataFrame(nobs, index=names, columns=names)


def _shock_frame(starts: np.ndarray, ends: np.ndarray, z: np.ndarray) -> pd.DataFrame:
    keep = np.isfinite(z)
    return pd.DataFrame({"start": starts[keep], "end": ends[keep], "z": z[keep]})


# --------------------------------------------------------------------------- #
# Overrides and the annotated TOML
# --------------------------------------------------------------------------- #
def _estimate_note(est: Estimate, model: ModelFit) -> str:
    return (
        f"{_fmt(est.value)} (s.e. {_fmt(est.std_error)}); "
        f"{model.name}, {model.frequency} {model.span}, {model.n_obs} intervals"
    )


def _model_overrides(model: ModelFit, fit_markup: bool, why_no_jumps: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    overrides: dict[str, Any] = {}
    notes: dict[str, str] = {}
    season = []
    for est in model.estimates.values():
        if est.parameter is None:
            continue
        if est.parameter == "power.seasonality":
            season.append(est)
            continue
        if est.parameter == "hashrate.markup" and not fit_markup:
            continue
        overrides[est.parameter] = _round(est.value)
        notes[est.parameter] = _estimate_note(est, model)
    if model.name == "hashrate" and fit_markup:
        overrides["hashrate.growth"] = 0.0
        notes["hashrate.growth"] = "0 (fixed: the intercept g - kappa ln phi is carried by the markup)"
    if season:
        overrides["power.seasonality"] = tuple(_round(e.value) for e in season)
        notes["power.seasonality"] = (
            ", ".join(f"{_fmt(e.value)} ({_fmt(e.std_error)})" for e in season)
            + f" (s.e. in brackets); {model.name}, {model.frequency} {model.span}, {model.n_obs} intervals"
        )
    if model.name == "btc_lognormal":
        overrides["btc.jump_intensity"] = 0.0
        notes["btc.jump_intensity"] = f"0 ({why_no_jumps}); btc_lognormal used"
    return overrides, notes


def _correlation_overrides(corr: pd.DataFrame, nobs: pd.DataFrame, span: str) -> tuple[dict[str, Any], dict[str, str]]:
    full = np.eye(len(FACTORS))
    index = [FACTORS.index(f) for f in corr.index]
    full[np.ix_(index, index)] = corr.to_numpy()
    rounded = np.round(full, OVERRIDE_DIGITS)
    if np.linalg.eigvalsh(rounded)[0] < -1e-10:  # rounding must not make the matrix invalid
        rounded = full
    matrix = tuple(tuple(float(v) for v in row) for row in rounded)
    pairs = []
    names = list(corr.index)
    for i, a in enumerate(names):
        for b in names[:i]:
            r, n = float(corr.loc[a, b]), int(nobs.loc[a, b])
            se = (1.0 - r * r) / math.sqrt(n - 3) if n > 3 else math.nan
            pairs.append(f"{b}-{a} {r:.3f} (s.e. {_fmt(se)}, {n} intervals)")
    note = "; ".join(pairs) + f"; factors not in the data left uncorrelated; {span}"
    return {"correlation.matrix": matrix}, {"correlation.matrix": note}


def _annotate_toml(text: str, comments: Mapping[str, list[str]]) -> str:
    """``text`` with each parameter's comment lines (whole lines, ``#`` included) above it."""
    out = []
    section = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]") and not line.startswith(" "):
            section = stripped[1:-1]
        elif line and not line.startswith((" ", "#", "]")) and " = " in line:
            key = line.split(" = ", 1)[0].strip()
            out.extend(comments.get(f"{section}.{key}", ()))
        out.append(line)
    return "\n".join(out)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _start_from_data(
    base: Scenario, last: _dt.date, set_start: bool
) -> tuple[Scenario, dict[str, Any], dict[str, str], dict[str, str]]:
    """The base the fits are made against: with ``set_start``, started the day after the last date.

    The start height moves with the date along the schedule the hashrate fit
    itself uses (:func:`_block_heights`): the historical halvings before the
    base's start, ``blocks_per_day`` after it. Returns that base, the
    parameters set, why each was set, and those deliberately left alone.
    """
    start = last + _dt.timedelta(days=1)
    old_start, old_height = base.simulation.start, base.protocol.start_height
    if not set_start:
        note = f"set_start=False (the data end {last.isoformat()})"
        return base, {}, {}, {"simulation.start": note, "protocol.start_height": "kept with simulation.start"}
    days = (start - old_start).days
    height = int(round(float(_block_heights(np.array([float(days)]), base)[0])))
    moved = base.with_overrides({"simulation.start": start, "protocol.start_height": height})
    rule = "interpolated from the historical halvings" if days < 0 else f"{base.protocol.blocks_per_day:g} blocks a day"
    reasons = {
        "simulation.start": f"the day after the last date of the data, {last.isoformat()}",
        "protocol.start_height": (
            f"{old_height} at {old_start} moved {days:+d} days along the base's schedule ({rule})" if days else
            f"the base's height at that date"
        ),
    }
    return moved, {"simulation.start": start, "protocol.start_height": height}, reasons, {}


# --------------------------------------------------------------------------- #
# The entry point
# --------------------------------------------------------------------------- #
def calibrate(
    data: pd.DataFrame | str | os.PathLike,
    base: Scenario | None = None,
    *,
    fees_unit: str | None = None,
    frequency: str | None = None,
    power_seasonality: bool | None = None,
    jump_test_level: float = 0.05,
    fit_markup: bool = False,
    fit_drift: bool = False,
    jump_intensity: float | None = None,
    max_jump_intensity: float | None = None,
    set_start: bool = True,
    set_initial: bool = True,
) -> CalibrationResult:
    """Fit pivotmc's market models to historical data.

    Parameters
    ----------
    data : pandas.DataFrame or path
        A table (or CSV file) with a ``date`` column (``YYYY-MM-DD``, one row
        per date, increasing) and any of ``btc_price`` (USD), ``hashrate``
        (EH/s), ``fees`` (BTC per block or per day, see ``fees_unit``),
        ``power_price`` (USD/MWh) and ``lease_rate`` (USD per kW-month).
        Empty cells are missing observations. A DataFrame indexed by date
        works too.
    base : Scenario, optional
        The scenario the fit is made for (:meth:`Scenario.default` if
        omitted). Its start date is t = 0 for the lease level and the network
        efficiency; its protocol, network efficiency and marginal power price
        define the hashrate equilibrium.
    fees_unit : {"block", "day"}, optional
        Whether ``fees`` are BTC per block or per day (divided by the base's
        ``blocks_per_day``). Required when ``fees`` is present.
    frequency : {"daily", "weekly", "monthly"}, optional
        The frequency you expect; it is inferred from the median spacing of
        the dates either way, and a mismatch is an error.
    power_seasonality : bool, optional
        Fit twelve monthly levels of the power price. By default they are
        fitted when every calendar month is observed in at least two years
        and there are at least 60 observations.
    jump_test_level : float
        Level of the likelihood-ratio test of jumps in the BTC price: the
        Merton estimates go into ``overrides`` when the test rejects the
        log-normal at this level, else the log-normal ones (and no jumps).
    fit_markup : bool
        Put the markup phi implied by the hashrate intercept (with growth
        g = 0) into ``overrides``. By default the scenario keeps its own
        markup (``"equilibrium"``: the network starts in equilibrium) and only
        the speed and volatility of the hashrate are taken from the fit.
    fit_drift : bool
        Put the estimated drift of the BTC price into ``btc.mu``. By default
        it is estimated and printed with its standard error, marked as not
        applied, and the scenario keeps its own ``mu``: a historical drift
        (about 0.7 a year over 2015-25, with a standard error of 0.2) is not a
        forecast.
    jump_intensity : float, optional
        Fix the jump intensity lambda (jumps per year, 0 to 365) and fit the
        other Merton parameters given it; 0 fits the log-normal only.
    max_jump_intensity : float, optional
        Bound the jump intensity above (jumps per year, above 0.001); the
        Merton model is fitted by the same likelihood within the bound.
    set_start : bool
        Start the scenario the day after the last date of the data:
        ``simulation.start`` moves there and ``protocol.start_height`` moves
        with it along the base's block schedule (historical halvings before
        the base's start, ``blocks_per_day`` after it). Otherwise the base's
        start date and height are kept.
    set_initial : bool
        Set each factor's value at t = 0 (``btc.price``, ``fees.initial_btc``,
        ``hashrate.initial_ehs``, ``power.price``, ``hosting.lease_rate``)
        from the last observation of its column, when that observation lies
        within one step of the end of the data.

    Returns
    -------
    CalibrationResult
        Estimates with standard errors per model, ``overrides``, the
        correlation of the fitted shocks, and the jump test.

    Raises
    ------
    ValidationError
        Unsorted or repeated dates, non-positive or non-numeric values,
        unknown columns, mixed frequencies, too few observations for a
        model, fees without a stated unit, hashrate without BTC prices.

    Warns
    -----
    CalibrationWarning
        Gaps (each interval is fitted with its own time step), too few
        observations for the jump model or for seasonality, correlations
        left at 0 or adjusted, estimates a scenario cannot accept (that
        model's values are then left out of ``overrides``), a weakly
        identified jump model (see Notes), starting values observed far from
        the start date.

    Notes
    -----
    BTC price. The Merton transition density over a step ``dt`` is a Poisson
    mixture of normals, ``sum_n Pois(n; lambda dt) N(r; (mu - sigma^2/2 -
    lambda kbar) dt + n m_J, sigma^2 dt + n s_J^2)``; the sum stops at the
    jump count beyond which the Poisson tail is below 1e-12. The likelihood
    is maximised with L-BFGS-B (analytic gradient, bounded, four starting
    points) and standard errors come from the observed information. The
    log-normal is the case lambda = 0; the likelihood-ratio test uses a
    chi-square law with 3 degrees of freedom, an approximation because
    lambda = 0 lies on the boundary of the parameter space and the jump size
    parameters are then not identified (Davies' problem): treat p-values near
    the level with care. Shocks for the correlation are the diffusion shocks
    given the return, ``E[Z | r]``. With ``jump_intensity`` fixed the test has 2
    degrees of freedom; either constraint leaves the choice between the two
    models to the test.

    Weak identification. When the Merton fit is used, a CalibrationWarning
    says it is weakly identified if any of these holds: more than
    ``WEAK_JUMPS_PER_INTERVAL`` (0.1) jumps are expected per observation
    interval, so jumps are no rare events (daily data: above 36.5 a year); a
    typical jump, ``sqrt(m_J^2 + s_J^2)``, is under ``WEAK_JUMP_SIZE`` (3)
    diffusion standard deviations of one interval, ``sigma sqrt(dt)``, the
    usual bound of an outlier, so most jumps cannot be told from the
    diffusion's own moves; or the
    standard error of the intensity or of the jump standard deviation is
    over ``WEAK_RELATIVE_SE`` (0.5) times the estimate. Daily BTC 2015-25
    meets the first: about 250 jumps a year (0.7 a day) of about 3.1 daily
    standard deviations, a fat-tailed diffusion rather than rare jumps. A fixed
    intensity, or one at its bound, is not judged.

    Starting values. The last value of a column is taken as the state at the
    end of its date, so the start is the day after. Parameters that hold "at
    t = 0" and are not fitted (``DATED_LEVELS``: the network and frontier
    efficiencies, the lease level when the lease is not in the data) are not
    moved with the start date; the result lists them.

    Fees, power, lease. Exact conditional Gaussian likelihood of the log-OU
    transition ``x_{i+1} - m_{i+1} = e^{-k dt}(x_i - m_i) + noise`` with
    variance ``sigma^2 (1 - e^{-2 k dt}) / (2 k)``, the level ``m`` being a
    constant (fees), twelve monthly log-levels (power; the multipliers are
    normalised to a geometric mean of 1) or a line in time (lease). The level
    and sigma are profiled out; the speed is found by a grid and Brent's
    method. Standard errors from the observed information. When the speed
    times the sample length is small (tens), the speed is biased upward by
    roughly 4 / T per year for T years of data, and the standard errors of
    the level and the trend, which scale with 1 / speed, understate their
    uncertainty (by about 1.7 times for the lease at k T = 10 to 20 in
    simulation). A value counts toward the calendar month of its date, so
    date monthly averages by any day of their own month.

    Hashrate. ``ln H_{i+1} - ln H_i = (a + kappa (ln H*_i - ln H_i)) dt_i +
    sigma sqrt(dt_i) Z`` by weighted least squares with OLS standard errors,
    where ``H*`` is the equilibrium with markup 1 (see ``hashrate`` in the
    README's model summary): the markup phi and the growth g are not
    separately identified and enter as the intercept ``a = g - kappa ln phi``.
    Block heights before the base's start date are interpolated between the
    historical halvings. Daily hashrate is itself an estimate from blocks
    found (about 9% noise a day); that noise biases kappa upward, so fit
    weekly or monthly means.
    """
    from scipy import stats  # imported here: `import pivotmc` stays quick

    base = Scenario.default() if base is None else base
    if not isinstance(base, Scenario):
        raise ValidationError(f"base must be a pivotmc.Scenario, got {type(base).__name__}.")
    if frequency is not None and frequency not in _FREQUENCIES:
        raise ValidationError(f"frequency = {frequency!r} is not allowed: it must be one of daily, weekly, monthly.")
    if fees_unit is not None and fees_unit not in ("block", "day"):
        raise ValidationError(f"fees_unit = {fees_unit!r} is not allowed: it must be 'block' or 'day'.")
    if not (0.0 < jump_test_level < 1.0):
        raise ValidationError(f"jump_test_level = {jump_test_level!r} is not allowed: it must be in (0, 1).")
    if jump_intensity is not None and max_jump_intensity is not None:
        raise ValidationError("give jump_intensity (a fixed value) or max_jump_intensity (a bound), not both.")
    if jump_intensity is not None and not (_is_real(jump_intensity) and 0.0 <= jump_intensity <= 365.0):
        raise ValidationError(
            f"jump_intensity = {jump_intensity!r} is not allowed: it must be a number of jumps a year from 0 to 365."
        )
    if max_jump_intensity is not None and not (_is_real(max_jump_intensity) and 1e-3 < max_jump_intensity <= 365.0):
        raise ValidationError(
            f"max_jump_intensity = {max_jump_intensity!r} is not allowed: "
            "it must be a number of jumps a year above 0.001 and at most 365."
        )
    log: list[str] = []

    frame, source = _read(data)
    present = _check_columns(frame)
    dates = _check_dates(frame)
    step = np.diff(dates).astype(np.int64)
    inferred = _frequency_of(float(np.median(step)))
    if inferred is None:
        raise ValidationError(
            f"the dates are {float(np.median(step)):g} days apart (median): neither daily, weekly nor monthly."
        )
    if frequency is not None and frequency != inferred:
        raise ValidationError(f"the data are {inferred} (median spacing {float(np.median(step)):g} days), not {frequency}.")
    if "fees" in present and fees_unit is None:
        raise ValidationError("say whether fees are BTC per block or per day: fees_unit='block' or 'day'.")
    if "hashrate" in present and "btc_price" not in present:
        raise ValidationError("the hashrate model needs btc_price in the same data (its equilibrium moves with the price).")

    observed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column in present:
        values = _check_values(frame, column, dates)
        valid = np.isfinite(values)
        if valid.sum() < 2:
            raise ValidationError(
                f"{column} has {int(valid.sum())} observation(s); its model needs at least {MIN_OBSERVATIONS['log_ou']}."
            )
        if column == "fees" and fees_unit == "day":
            values = values / base.protocol.blocks_per_day
        obs_dates = dates[valid]
        _check_spacing(column, obs_dates, inferred, log)
        observed[column] = (obs_dates, values[valid])

    # The start date comes first: the fits measure time from it (the lease level, the network
    # efficiency) and the hashrate model reads block heights off the schedule that ends there.
    last = max(d[-1] for d, _ in observed.values())
    base_for_fit, set_from_data, set_reasons, not_set = _start_from_data(base, _to_date(last), set_start)
    start = np.datetime64(base_for_fit.simulation.start, "D")
    series: dict[str, _Series] = {}
    for column, (obs_dates, values) in observed.items():
        t = (obs_dates - start).astype(np.int64) / DAYS_PER_YEAR
        series[column] = _Series(column, obs_dates, values, t)

    def need(column: str, model: str, minimum: int) -> None:
        n = series[column].values.size
        if n < minimum:
            raise ValidationError(f"{column} has {n} observations; the {model} needs at least {minimum}.")

    models: dict[str, ModelFit] = {}
    shocks: dict[str, pd.DataFrame] = {}
    jump_test = None
    why_no_jumps = ""

    def add_shocks(factor: str, s: _Series, z: np.ndarray) -> None:
        shocks[factor] = _shock_frame(s.dates[:-1], s.dates[1:], z)

    if "btc_price" in series:
        s = series["btc_price"]
        need("btc_price", "log-normal model", MIN_OBSERVATIONS["lognormal"])
        lognormal, z_ln = _fit_lognormal(s, inferred)
        merton = z_m = None
        boundary: list[str] = []
        why_no_jumps = "the likelihood-ratio test does not warrant jumps"
        if jump_intensity == 0.0:
            why_no_jumps = "fixed at 0 by jump_intensity"
        elif s.values.size >= MIN_OBSERVATIONS["merton"]:
            merton, z_m, boundary = _fit_merton(s, inferred, log, jump_intensity, max_jump_intensity)
            if merton is None:
                why_no_jumps = "the Merton fit failed"
        else:
            why_no_jumps = "too few returns to fit jumps"
            _warn(
                f"btc_price has {s.values.size} observations, too few to fit jumps (at least {MIN_OBSERVATIONS['merton']}); "
                "only the log-normal is fitted.",
                log,
            )
        if merton is not None:
            models["btc_merton"] = merton
            statistic = max(2.0 * (merton.log_likelihood - lognormal.log_likelihood), 0.0)
            df = 2 if jump_intensity is not None else 3  # a fixed intensity is not estimated
            jump_test = LikelihoodRatioTest(statistic, df, float(stats.chi2.sf(statistic, df)), jump_test_level)
            # On log-normal data the jump parameters drift to a bound (no jumps, or jumps of size 0)
            # and the test keeps the log-normal; a bound matters only when the Merton fit is used.
            if boundary and jump_test.warranted:
                hint = ""
                if "jump_intensity" in boundary and merton["jump_intensity"].value > 1.0:
                    hint = " (many small jumps: the returns look like a fat-tailed diffusion rather than one with rare jumps)"
                _warn(
                    f"btc_merton: {', '.join(boundary)} on the boundary of the range searched{hint}; "
                    "standard errors are not given.",
                    log,
                )
            if jump_test.warranted:
                lam = merton["jump_intensity"].value
                held = jump_intensity is not None or (
                    max_jump_intensity is not None and not math.isfinite(merton["jump_intensity"].std_error)
                    and lam >= 0.999 * max_jump_intensity
                )
                judged = ("jump_sd",) if held else ("jump_intensity", "jump_sd")
                reasons = _weak_jumps(merton, float(np.median(s.dt)), judged)
                if reasons:
                    small = any("rare" in r or "ordinary" in r for r in reasons)
                    _warn(
                        f"btc_merton is weakly identified: {' and '.join(reasons)}, so "
                        + ("many small jumps stand in for fat tails" if small else "the data say little about the jumps")
                        + "; fix or bound the intensity (jump_intensity=, max_jump_intensity=; "
                        "--jump-intensity, --max-jump-intensity).",
                        log,
                    )
        models["btc_lognormal"] = lognormal
        add_shocks("btc", s, z_m if merton is not None and jump_test.warranted else z_ln)

    if "fees" in series:
        need("fees", "log-OU model", MIN_OBSERVATIONS["log_ou"])
        models["fees"], z = _fit_fees(series["fees"], inferred, log)
        add_shocks("fees", series["fees"], z)

    if "hashrate" in series:
        need("hashrate", "error-correction model", MIN_OBSERVATIONS["ecm"])
        fees_per_block = None
        if "fees" in present:
            fees_per_block = pd.to_numeric(frame["fees"], errors="coerce").to_numpy(dtype=np.float64)
            if fees_unit == "day":
                fees_per_block = fees_per_block / base.protocol.blocks_per_day
        models["hashrate"], z, _ = _fit_hashrate(
            series["hashrate"], frame, dates, fees_per_block, base_for_fit, inferred, log
        )
        add_shocks("hashrate", series["hashrate"], z)

    if "power_price" in series:
        s = series["power_price"]
        need("power_price", "log-OU model", MIN_OBSERVATIONS["log_ou"])
        months = s.dates.astype("datetime64[M]").astype(np.int64)
        years_per_month = [len(np.unique(months[months % 12 == m] // 12)) for m in range(12)]
        possible = min(years_per_month) >= 2 and s.values.size >= MIN_OBSERVATIONS["seasonal"]
        seasonal = possible if power_seasonality is None else power_seasonality
        if seasonal and not possible:
            raise ValidationError(
                "power_price cannot be fitted with seasonality: every calendar month must be observed in at least "
                f"two years and there must be at least {MIN_OBSERVATIONS['seasonal']} observations."
            )
        if power_seasonality is None and not possible:
            _warn(
                "power_price covers too little time for monthly seasonality (every month in two years); a flat level is fitted.",
                log,
            )
        models["power"], z = _fit_power(s, inferred, seasonal, log)
        add_shocks("power", s, z)

    if "lease_rate" in series:
        need("lease_rate", "log-OU model", MIN_OBSERVATIONS["log_ou"])
        models["lease"], z = _fit_lease(series["lease_rate"], inferred, log)
        add_shocks("lease", series["lease_rate"], z)

    correlation, correlation_nobs = _correlate(shocks, log)

    # Overrides, model by model: a model whose estimates a scenario would reject is left out whole,
    # so the scenario never mixes fitted and default parameters of one factor.
    overrides: dict[str, Any] = {}
    fit_notes: dict[str, str] = {}
    used = [name for name in models if name not in ("btc_merton", "btc_lognormal")]
    if "btc_lognormal" in models:
        used.insert(0, "btc_merton" if jump_test is not None and jump_test.warranted else "btc_lognormal")
    for name in used:
        model_overrides, notes = _model_overrides(models[name], fit_markup, why_no_jumps)
        if name in ("btc_merton", "btc_lognormal") and not fit_drift:
            # A historical drift is not a forecast: estimated and reported, applied only when asked.
            del model_overrides["btc.mu"], notes["btc.mu"]
            mu = models[name]["mu"]
            not_set["btc.mu"] = (
                f"the historical drift {_fmt(mu.value)} (s.e. {_fmt(mu.std_error)}; {name}, {models[name].span}) "
                "is not a forecast; fit_drift=True (--fit-drift) applies it"
            )
        try:
            base_for_fit.with_overrides(model_overrides)
        except ValidationError as exc:
            _warn(f"the {name} estimates are left out of the overrides, as the scenario rejects them: {exc}", log)
            continue
        overrides.update(model_overrides)
        fit_notes.update(notes)
    if len(correlation) > 1:
        span = f"{_to_date(dates[0]).isoformat()} to {_to_date(dates[-1]).isoformat()}"
        model_overrides, notes = _correlation_overrides(correlation, correlation_nobs, span)
        overrides.update(model_overrides)
        fit_notes.update(notes)

    # Starting values: the last observation of each column, where it is recent enough.
    longest = _FREQUENCIES[inferred].longest
    for column, parameter in START_VALUES.items():
        if column not in series:
            not_set[parameter] = f"no {column} in the data"
            continue
        s = series[column]
        when = s.end.isoformat()
        stale = int((last - s.dates[-1]).astype(np.int64))
        if not set_initial:
            not_set[parameter] = f"set_initial=False (last {column} {_fmt(s.values[-1])} on {when})"
        elif stale > longest:
            not_set[parameter] = f"the last {column} ({when}) is {stale} days older than the end of the data"
        else:
            value = float(f"{s.values[-1]:.{START_VALUE_DIGITS}g}")
            try:
                base_for_fit.with_overrides({**overrides, parameter: value})
            except ValidationError as exc:
                _warn(f"{parameter} is not set from the last {column}, as the scenario rejects it: {exc}", log)
                not_set[parameter] = f"the scenario rejects the last {column} {_fmt(value)} ({when})"
                continue
            set_from_data[parameter] = value
            converted = " (converted to BTC per block)" if column == "fees" and fees_unit == "day" else ""
            set_reasons[parameter] = f"the last {column}, {when}{converted}"
    if set_initial and not set_start and any(p in set_from_data for p in START_VALUES.values()):
        gap = (base.simulation.start - (_to_date(last) + _dt.timedelta(days=1))).days
        if abs(gap) > longest:
            _warn(
                f"the starting values are the last observations ({_to_date(last)}) while the scenario starts "
                f"{abs(gap)} days {'later' if gap > 0 else 'earlier'} than the day after them ({base.simulation.start}), "
                "as set_start=False keeps the base's start.",
                log,
            )
    if base_for_fit.simulation.start != base.simulation.start:
        for parameter in DATED_LEVELS:
            if parameter not in overrides:
                not_set[parameter] = (
                    f"its base value, given at {base.simulation.start}, is taken to hold at the new start "
                    f"{base_for_fit.simulation.start} (not moved with the date)"
                )
    overrides = {**set_from_data, **overrides}
    base.with_overrides(overrides)  # the pieces were each valid; so must the whole be

    return CalibrationResult(
        models=models,
        overrides=overrides,
        correlation=correlation,
        correlation_nobs=correlation_nobs,
        jump_test=jump_test,
        frequency=inferred,
        base=base,
        warnings=log,
        source=source,
        set_from_data=set_from_data,
        not_set=not_set,
        last_date=_to_date(last),
        _fit_notes=fit_notes,
        _set_reasons=set_reasons,
    )
