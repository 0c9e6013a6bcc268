"""The checks every run makes of its arguments before anything runs."""

from __future__ import annotations

import numbers

import numpy as np

from pivotmc import random as rng
from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.scenario import Scenario

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


def check_run(scenario, n_paths, seed, keep_paths, block_paths) -> tuple:
    """The arguments every run shares, checked: ``(scenario, n_paths, keep_paths, block_paths, key)``.

    ``scenario`` None is the default scenario; ``key`` is the seed's Philox key.
    """
    if scenario is None:
        scenario = Scenario.default()
    if not isinstance(scenario, Scenario):
        raise ParameterTypeError(f"scenario must be a pivotmc.Scenario, got {type(scenario).__name__}.")
    n_paths = _check_count("n_paths", n_paths, 1, MAX_PATHS)
    keep_paths = _check_count("keep_paths", keep_paths, 0, n_paths)
    if block_paths is not None:
        block_paths = _check_count("block_paths", block_paths, 1)
    return scenario, n_paths, keep_paths, block_paths, rng.seed_key(seed)
