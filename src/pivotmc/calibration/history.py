"""The history calibration reads: columns, dates, frequency and units, checked before any fit.

:func:`read_history` takes a table (or CSV file) with a ``date`` column and any
of :data:`COLUMNS`, and returns a :class:`History`: every column on the data's
dates, fees in BTC per block. Unsorted or repeated dates, non-positive or
non-numeric values, unknown columns and mixed frequencies raise
:class:`~pivotmc.errors.ValidationError`; gaps are reported and kept, since each
interval is fitted with its own time step.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pivotmc.calibration.fit import warn
from pivotmc.errors import ValidationError
from pivotmc.model.factors import MARKET_FACTORS, factor
from pivotmc.model.names import suggest
from pivotmc.model.units import DAYS_PER_YEAR

__all__ = ["COLUMNS", "FREQUENCIES", "MIN_OBSERVATIONS", "History", "Series", "read_history", "to_date"]

#: Columns :func:`calibrate` reads, with the scenario factor each one drives (from the factors' declaration).
COLUMNS = {f.column: f.name for f in MARKET_FACTORS}
#: Units of each column: the factor's, except fees, which may come per block or per day.
UNITS = {f.column: f.units for f in MARKET_FACTORS} | {
    factor("fees").column: "BTC per block or per day (say which with fees_unit)"
}

#: Fewest observations (hence intervals, one fewer) a model is fitted from.
MIN_OBSERVATIONS = {"lognormal": 20, "merton": 250, "log_ou": 20, "ecm": 20, "seasonal": 60}


@dataclass(frozen=True)
class Frequency:
    """A frequency of observation and the intervals it allows."""

    name: str
    shortest: int  # days; a shorter interval means the data mix frequencies
    longest: int  # days; a longer interval is a gap


FREQUENCIES = {
    "daily": Frequency("daily", 1, 1),
    "weekly": Frequency("weekly", 6, 8),
    "monthly": Frequency("monthly", 28, 31),
}


def frequency_of(median_days: float) -> str | None:
    """The frequency whose steps are ``median_days`` long, or None."""
    if median_days <= 1.5:
        return "daily"
    if 5 <= median_days <= 9:
        return "weekly"
    if 25 <= median_days <= 35:
        return "monthly"
    return None


@dataclass
class Series:
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
        return to_date(self.dates[0])

    @property
    def end(self) -> _dt.date:
        return to_date(self.dates[-1])

    def require(self, model: str, minimum: int) -> None:
        """Refuse a fit of ``model`` from fewer than ``minimum`` observations."""
        n = self.values.size
        if n < minimum:
            raise ValidationError(f"{self.column} has {n} observations; the {model} needs at least {minimum}.")


@dataclass(frozen=True)
class History:
    """The checked data: each column's values on every date of the data, NaN where missing."""

    source: str | None  # the file read, if any
    dates: np.ndarray  # datetime64[D], every row
    frequency: str
    values: dict[str, np.ndarray]  # by column, in the order of COLUMNS; fees in BTC per block

    def __contains__(self, column: str) -> bool:
        return column in self.values

    @property
    def last(self) -> np.datetime64:
        """The last date on which any column is observed."""
        return max(self.dates[np.isfinite(v)][-1] for v in self.values.values())

    def series(self, start: _dt.date) -> dict[str, Series]:
        """Every column's observations, with time in years from ``start``."""
        origin = np.datetime64(start, "D")
        out = {}
        for column, values in self.values.items():
            valid = np.isfinite(values)
            dates = self.dates[valid]
            out[column] = Series(column, dates, values[valid], (dates - origin).astype(np.int64) / DAYS_PER_YEAR)
        return out


def to_date(d: np.datetime64) -> _dt.date:
    return pd.Timestamp(d).date()


def read_history(
    data: Any, *, fees_unit: str | None, frequency: str | None, blocks_per_day: float, log: list[str]
) -> History:
    """Read and check ``data`` (a DataFrame or the path of a CSV file); see the module notes.

    ``fees_unit`` says whether fees are BTC per ``"block"`` or per ``"day"`` (then
    divided by ``blocks_per_day``); ``frequency``, if given, must be the one the
    dates show. Gaps are reported in ``log`` and as warnings.
    """
    frame, source = _read(data)
    present = _check_columns(frame)
    dates = _check_dates(frame)
    step = np.diff(dates).astype(np.int64)
    inferred = frequency_of(float(np.median(step)))
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

    values: dict[str, np.ndarray] = {}
    for column in present:
        column_values = _check_values(frame, column, dates)
        valid = np.isfinite(column_values)
        if valid.sum() < 2:
            raise ValidationError(
                f"{column} has {int(valid.sum())} observation(s); its model needs at least {MIN_OBSERVATIONS['log_ou']}."
            )
        if column == "fees" and fees_unit == "day":
            column_values = column_values / blocks_per_day
        _check_spacing(column, dates[valid], inferred, log)
        values[column] = column_values
    return History(source=source, dates=dates, frequency=inferred, values=values)


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
        hints = [f"{c!r}{suggest(c, list(COLUMNS))}" for c in unknown]
        accepted = ", ".join(f"{k} [{v}]" for k, v in UNITS.items())
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
    spec = FREQUENCIES[frequency]
    step = np.diff(dates).astype(np.int64)
    own = frequency_of(float(np.median(step)))
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
    warn(
        f"{column} has {int(long.sum())} gap{'s' if long.sum() > 1 else ''} in its {frequency} observations "
        f"(the longest, {step[i]} days, ends {dates[i + 1]}); each interval is fitted with its own time step.",
        log,
    )

