"""What sensitivity shocks: which parameters, and the values a relative shock moves each to.

A parameter of value ``v`` moves down to ``v - rel |v|`` and up to ``v + rel |v|``; whole-unit
parameters (integers, and floats the scenario holds to whole time steps) by whole units, at least
one; a value that would leave the parameter's range is cut back to its closed end, or skipped
with the reason where no room is left.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, fields

from pivotmc.errors import ValidationError
from pivotmc.model.parameters import Bound
from pivotmc.model.scenario import Scenario

__all__ = ["SHOCKS", "ShockedParameter", "continuous_parameters", "shocked_parameter", "shock_values"]

#: The two shocks of a parameter, in the order of a sensitivity result's ``shock`` dimension.
SHOCKS = ("down", "up")
#: Parameters a relative shock makes no sense for: the time grid, the protocol's constants, and
#: the settings of the switch's policy learning (numerical, not economic).
_NOT_SHOCKED_SECTIONS = ("simulation", "protocol", "correlation", "strategies", "terminal", "switch")
#: Parameters held as floats that the scenario requires to be a whole number of time steps.
_WHOLE_STEPS = ("simulation.horizon_years", "mining.refresh_years")


def continuous_parameters(scenario: Scenario) -> list[str]:
    """Dotted names of the parameters a default sensitivity shocks: every non-zero scalar number of the economic sections.

    That is every float parameter, those held to whole time steps (``mining.refresh_years``)
    included, outside the time grid, the protocol, the correlations, the strategies' settings,
    the exit multiples and the switch's learning settings. Zero parameters are left out: a
    relative shock does not move them.
    """
    names = []
    for section_field in fields(scenario):
        if section_field.name in _NOT_SHOCKED_SECTIONS:
            continue
        section = getattr(scenario, section_field.name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and value != 0.0:
                names.append(f"{section_field.name}.{f.name}")
    return names


@dataclass(frozen=True)
class ShockedParameter:
    """A parameter as sensitivity shocks it."""

    name: str
    value: float
    bound: Bound | None
    #: Allowed values are k / per_unit for whole k (1 for integers, steps per year for _WHOLE_STEPS); 0 if continuous.
    per_unit: int
    is_int: bool


def shocked_parameter(scenario: Scenario, name: str) -> ShockedParameter:
    value = scenario.value(name)  # an unknown name gets the scenario's message, with the nearest known one
    section_name, key = name.split(".")
    if section_name == "correlation" and key != "matrix":
        return ShockedParameter(name, value, Bound(-1.0, 1.0), 0, False)
    section = getattr(scenario, section_name)
    known = {f.name: f for f in fields(section)}
    hint = typing.get_type_hints(type(section))[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or hint not in (int, float, float | None):
        raise ValidationError(
            f"{name} = {value!r} is not a number; sensitivity shocks numbers only (continuous or whole-unit parameters)."
        )
    is_int = hint is int
    per_unit = 1 if is_int else scenario.simulation.steps_per_year if name in _WHOLE_STEPS else 0
    return ShockedParameter(name, float(value), known[key].metadata.get("bound"), per_unit, is_int)


def _into_bound(p: ShockedParameter, target: float, sign: int) -> tuple[float | None, bool]:
    """``target`` moved back inside the parameter's range (on its grid of whole units): (value, clipped).

    None where the nearest allowed value in the shock's direction is no move at all, or where
    the range's end is open and a continuous parameter has no nearest value.
    """
    bound = p.bound
    if bound is None or bound.contains(target):
        return target, False
    end, is_open = (bound.lo, bound.lo_open) if sign < 0 else (bound.hi, bound.hi_open)
    if p.per_unit:
        k = end * p.per_unit
        k = math.ceil(k) if sign < 0 else math.floor(k)
        if is_open and k / p.per_unit == end:
            k -= sign
        value = k / p.per_unit
    else:
        if is_open:
            return None, True
        value = end
    if (value - p.value) * sign <= 0.0:
        return None, True
    return value, True


def shock_values(p: ShockedParameter, rel_shock: float) -> list[tuple[float | None, bool, str]]:
    """The down and up values of a parameter: (value or None, clipped, reason when None)."""
    out = []
    for sign, label in zip((-1, 1), SHOCKS):
        if p.per_unit:
            # Whole units (whole time steps for _WHOLE_STEPS), at least one, so that every shock moves.
            units = max(1, round(rel_shock * abs(p.value) * p.per_unit))
            target = (round(p.value * p.per_unit) + sign * units) / p.per_unit
        elif p.value == 0.0:
            out.append((None, False, f"{p.name} is 0: a relative shock does not move it"))
            continue
        else:
            target = p.value + sign * rel_shock * abs(p.value)
        value, clipped = _into_bound(p, target, sign)
        if value is None:
            rule = p.bound.describe() if p.bound is not None else "a number"  # a bound is what stopped it
            if p.per_unit:
                rule += ", in whole units" if p.is_int else f", a whole number of steps ({p.per_unit} a year)"
            out.append((None, clipped, f"no room to shock {p.name} = {p.value:g} {label}: it must be {rule}"))
        else:
            out.append((value, clipped, ""))
    return out
