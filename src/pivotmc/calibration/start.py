"""Where the calibrated scenario starts: the day after the data, and each factor's last value.

By default ``simulation.start`` becomes the day after the last date and
``protocol.start_height`` moves with it along the base's block schedule (the
historical halvings going back, ``blocks_per_day`` going forward); each factor's
value at t = 0 is its column's last observation, when that observation is
within one step of the end. What is not set is named, with the reason.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from pivotmc.calibration.fit import fmt, warn
from pivotmc.calibration.hashrate import block_heights
from pivotmc.calibration.history import FREQUENCIES, Series, to_date
from pivotmc.errors import ValidationError
from pivotmc.model.factors import MARKET_FACTORS
from pivotmc.model.scenario import Scenario

__all__ = ["DATED_LEVELS", "START_VALUES", "START_VALUE_DIGITS", "Start", "show", "start_from_data", "take_starting_values"]

#: Significant digits of the starting values taken from the last observation (data, not estimates).
START_VALUE_DIGITS = 6
#: Scenario parameter each column's last observation sets, when the start is taken from the data.
START_VALUES = {f.column: f.initial for f in MARKET_FACTORS}
#: Parameters that hold "at t = 0" and that calibrate does not move with the start date.
DATED_LEVELS = (
    "hashrate.efficiency_j_per_th", "mining.frontier_efficiency_j_per_th", "hosting.lease_long_run", "gpu.long_run"
)


@dataclass
class Start:
    """The start of the calibrated scenario, and what was and was not taken from the data."""

    given: Scenario  # the base scenario as given
    base: Scenario  # the base the fits are made against: with set_start, started the day after the data
    last: np.datetime64  # the last date of the data
    set_start: bool
    set_from_data: dict[str, Any] = field(default_factory=dict)  # parameter -> value taken from the data
    reasons: dict[str, str] = field(default_factory=dict)  # parameter -> why it was set so
    not_set: dict[str, str] = field(default_factory=dict)  # parameter -> why the base's value is kept


def start_from_data(base: Scenario, last: np.datetime64, set_start: bool) -> Start:
    """The base the fits are made against: with ``set_start``, started the day after ``last``.

    The start height moves with the date along the schedule the hashrate fit
    itself uses (:func:`~pivotmc.calibration.hashrate.block_heights`): the
    historical halvings before the base's start, ``blocks_per_day`` after it.
    """
    end = to_date(last)
    start = end + _dt.timedelta(days=1)
    old_start, old_height = base.simulation.start, base.protocol.start_height
    if not set_start:
        note = f"set_start=False (the data end {end.isoformat()})"
        not_set = {"simulation.start": note, "protocol.start_height": "kept with simulation.start"}
        return Start(base, base, last, set_start, not_set=not_set)
    days = (start - old_start).days
    height = int(round(float(block_heights(np.array([float(days)]), base)[0])))
    moved = base.with_overrides({"simulation.start": start, "protocol.start_height": height})
    rule = "interpolated from the historical halvings" if days < 0 else f"{base.protocol.blocks_per_day:g} blocks a day"
    reasons = {
        "simulation.start": f"the day after the last date of the data, {end.isoformat()}",
        "protocol.start_height": (
            f"{old_height} at {old_start} moved {days:+d} days along the base's schedule ({rule})" if days else
            "the base's height at that date"
        ),
    }
    return Start(base, moved, last, set_start, {"simulation.start": start, "protocol.start_height": height}, reasons)


def take_starting_values(
    start: Start,
    series: Mapping[str, Series],
    overrides: Mapping[str, Any],
    *,
    set_initial: bool,
    fees_unit: str | None,
    frequency: str,
    log: list[str],
) -> None:
    """Set each factor's value at t = 0 from the last observation of its column, where it is recent enough.

    A value is tried with the fitted ``overrides`` on the start's base. Levels
    given at t = 0 and not fitted (:data:`DATED_LEVELS`) are named as not moved
    when the start moves.
    """
    given, base, last = start.given, start.base, start.last
    longest = FREQUENCIES[frequency].longest
    for column, parameter in START_VALUES.items():
        if column not in series:
            start.not_set[parameter] = f"no {column} in the data"
            continue
        s = series[column]
        when = s.end.isoformat()
        stale = int((last - s.dates[-1]).astype(np.int64))
        if not set_initial:
            start.not_set[parameter] = f"set_initial=False (last {column} {fmt(s.values[-1])} on {when})"
        elif stale > longest:
            start.not_set[parameter] = f"the last {column} ({when}) is {stale} days older than the end of the data"
        else:
            value = float(f"{s.values[-1]:.{START_VALUE_DIGITS}g}")
            try:
                base.with_overrides({**overrides, parameter: value})
            except ValidationError as exc:
                warn(f"{parameter} is not set from the last {column}, as the scenario rejects it: {exc}", log)
                start.not_set[parameter] = f"the scenario rejects the last {column} {fmt(value)} ({when})"
                continue
            start.set_from_data[parameter] = value
            converted = " (converted to BTC per block)" if column == "fees" and fees_unit == "day" else ""
            start.reasons[parameter] = f"the last {column}, {when}{converted}"
    if set_initial and not start.set_start and any(p in start.set_from_data for p in START_VALUES.values()):
        gap = (given.simulation.start - (to_date(last) + _dt.timedelta(days=1))).days
        if abs(gap) > longest:
            warn(
                f"the starting values are the last observations ({to_date(last)}) while the scenario starts "
                f"{abs(gap)} days {'later' if gap > 0 else 'earlier'} than the day after them ({given.simulation.start}), "
                "as set_start=False keeps the base's start.",
                log,
            )
    if base.simulation.start != given.simulation.start:
        for parameter in DATED_LEVELS:
            if parameter not in overrides:
                start.not_set[parameter] = (
                    f"its base value, given at {given.simulation.start}, is taken to hold at the new start "
                    f"{base.simulation.start} (not moved with the date)"
                )


def show(value: Any) -> str:
    """A value set from the data as printed: floats to START_VALUE_DIGITS significant digits."""
    if isinstance(value, float):
        return f"{value:.{START_VALUE_DIGITS}g}"
    return str(value)
