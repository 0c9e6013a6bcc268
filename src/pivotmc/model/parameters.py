"""Scenario parameters: each declared once with its unit, description and allowed range.

:func:`param` puts that table in a dataclass field's metadata; :class:`ParameterSection`, the base
of every scenario section, coerces and checks each value against it, so the error messages, the
commented TOML and the checks all read the one declaration.
"""

from __future__ import annotations

import datetime as _dt
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Mapping

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError

__all__ = ["Bound", "POSITIVE", "NONNEG", "FRACTION", "ANY", "VOLATILITY", "SPEED", "param", "ParameterSection"]


@dataclass(frozen=True)
class Bound:
    """An interval a number must lie in; ``None`` ends are unbounded."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, x: float) -> bool:
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        if self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi):
            return False
        return True

    def describe(self) -> str:
        if self.lo == 0 and self.lo_open and self.hi is None:
            return "a positive number"
        if self.lo == 0 and not self.lo_open and self.hi is None:
            return "a number >= 0"
        left = "-inf" if self.lo is None else f"{self.lo:g}"
        right = "inf" if self.hi is None else f"{self.hi:g}"
        lb = "(" if (self.lo_open or self.lo is None) else "["
        rb = ")" if (self.hi_open or self.hi is None) else "]"
        return f"a number in {lb}{left}, {right}{rb}"


POSITIVE = Bound(0.0, None, lo_open=True)
NONNEG = Bound(0.0, None)
FRACTION = Bound(0.0, 1.0)
ANY = Bound()
VOLATILITY = Bound(0.0, 3.0)  # annual volatilities above 300% are almost surely a units mistake
SPEED = Bound(0.0, 100.0)  # mean-reversion speeds per year


def param(default: Any, unit: str, doc: str, bound: Bound | None = ANY, **extra: Any) -> Any:
    """Declare a scenario parameter with its unit, description and allowed range."""
    meta = {"unit": unit, "doc": doc, "bound": bound, **extra}
    return field(default=default, metadata=meta)


class ParameterSection:
    """Base of every scenario section: coercion and range checks from field metadata."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = _coerce(f"{self.section}.{f.name}", getattr(self, f.name), hints[f.name], f.metadata)
            object.__setattr__(self, f.name, value)
        self._check()

    def _check(self) -> None:
        """Cross-field checks of the section (overridden where needed)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


def _fail(name: str, value: Any, allowed: str) -> ValidationError:
    return ValidationError(f"{name} = {value!r} is not allowed: it must be {allowed}.")


def _type_fail(name: str, value: Any, expected: str) -> ParameterTypeError:
    return ParameterTypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}.")


def _as_float(name: str, value: Any, bound: Bound | None) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _type_fail(name, value, "a number")
    x = float(value)
    if math.isnan(x) or math.isinf(x):
        raise _fail(name, value, "a finite number" if bound is None else bound.describe())
    if bound is not None and not bound.contains(x):
        raise _fail(name, value, bound.describe())
    return x


def _coerce(name: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> Any:
    bound = meta.get("bound")
    choices = meta.get("choices")
    if tp is float:
        return _as_float(name, value, bound)
    if tp == (float | None):
        token = meta.get("none_token")
        if value is None or value == token:
            return None
        if isinstance(value, str):
            raise _type_fail(name, value, f'a number or "{token}"')
        return _as_float(name, value, bound)
    if tp is int:
        if isinstance(value, (bool, np.bool_)):
            raise _type_fail(name, value, "an integer")
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if not isinstance(value, (int, np.integer)):
            raise _type_fail(name, value, "an integer")
        value = int(value)
        if choices is not None and value not in choices:
            raise _fail(name, value, "one of " + ", ".join(map(str, choices)))
        if bound is not None and not bound.contains(value):
            raise _fail(name, value, bound.describe().replace("a number", "an integer"))
        return value
    if tp is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise _type_fail(name, value, "true or false")
        return bool(value)
    if tp is _dt.date:
        if isinstance(value, _dt.datetime):
            raise _type_fail(name, value, "a date (YYYY-MM-DD) without a time")
        if isinstance(value, str):
            try:
                value = _dt.date.fromisoformat(value)
            except ValueError:
                raise _fail(name, value, "a date written YYYY-MM-DD") from None
        if not isinstance(value, _dt.date):
            raise _type_fail(name, value, "a date (YYYY-MM-DD)")
        return value
    if tp == tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise _type_fail(name, value, "a list of names")
        out = []
        for item in value:
            if not isinstance(item, str):
                raise _type_fail(name, item, "a list of names")
            if choices is not None and item not in choices:
                raise _fail(name, item, "one of " + ", ".join(choices))
            if item in out:
                raise _fail(name, list(value), "a list without repeated names")
            out.append(item)
        if not out:
            raise _fail(name, list(value), "a non-empty list of " + ", ".join(choices or ()))
        return tuple(out)
    if tp == tuple[float, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise _type_fail(name, value, "a list of numbers")
        length = meta.get("length")
        if length is not None and len(value) != length:
            raise _fail(name, list(value), f"a list of {length} numbers")
        return tuple(_as_float(f"{name}[{i}]", v, bound) for i, v in enumerate(value))
    if tp == tuple[tuple[float, ...], ...]:
        n = meta["length"]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise _type_fail(name, value, f"a {n}x{n} matrix (list of lists of numbers)")
        rows = list(value)
        if meta.get("complete") is not None:
            rows = meta["complete"](rows)
        if len(rows) != n or any(
            isinstance(r, (str, bytes)) or not isinstance(r, (list, tuple, np.ndarray)) or len(r) != n for r in rows
        ):
            raise _fail(name, "...", f"a {n}x{n} matrix")
        return tuple(tuple(_as_float(f"{name}[{i}][{j}]", v, bound) for j, v in enumerate(r)) for i, r in enumerate(rows))
    raise TypeError(f"unsupported parameter type {tp!r} for {name}")  # pragma: no cover
