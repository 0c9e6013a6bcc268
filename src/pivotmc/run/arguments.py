"""The checks every run makes of its arguments before anything runs."""

from __future__ import annotations

import numbers

import numpy as np

from pivotmc.errors import ParameterTypeError, ValidationError

#: Path indices fill the two low counter words; 2**32 paths is far beyond any run's needs
#: and keeps the index exact in every backend's integer types.
MAX_PATHS = 2**32


def _check_count(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValidationError(f"{name} = {value} is not allowed: it must be an integer {allowed}.")
    return value
