"""What a run's outcomes say about the option to wait: its value, the learned strategy's mean NPV
over the better static strategy path by path with its paired standard error, and how many paths
convert at each decision date.

One implementation for every reader: the in-memory run and the Zarr store write these numbers
into the result (``option_value``, ``option_value_se``, ``switch_share``), and summaries and
figures compute or read them back the same way. Standard errors everywhere end in ``_se``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from pivotmc.errors import ValidationError
from pivotmc.model.strategies import learned_strategy, static_strategies

__all__ = [
    "OptionValue",
    "paired_difference",
    "option_value",
    "option_value_variables",
    "conversion_counts",
    "share_variables",
    "action_counts",
    "recorded_shares",
    "RENAMED_VARIABLES",
    "current_names",
]

#: Paths per block of a paired difference: no temporary grows with the run.
_BLOCK = 1 << 22


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and sample sd (ddof=1; NaN for one path) of ``a - b``, path by path.

    Up to 2**22 paths in one pass over the difference; beyond, in two passes over
    blocks of that size, so that no full-size temporary is made.
    """
    n = a.size
    if n <= _BLOCK:
        diff = a - b
        return float(diff.mean()), float(diff.std(ddof=1)) if n > 1 else math.nan
    total = sum(float((a[i : i + _BLOCK] - b[i : i + _BLOCK]).sum()) for i in range(0, n, _BLOCK))
    mean = total / n
    squares = sum(float(np.square(a[i : i + _BLOCK] - b[i : i + _BLOCK] - mean).sum()) for i in range(0, n, _BLOCK))
    return mean, math.sqrt(squares / (n - 1))


@dataclass(frozen=True)
class OptionValue:
    """The value of the option to wait.

    Attributes
    ----------
    value : float
        Mean over paths of NPV(``strategy``) - NPV(``compared_with``), USD.
    value_se : float
        Its standard error, from the paired differences (NaN for one path).
    compared_with : str
        The better static strategy by mean NPV: the choice made at t = 0.
    strategy : str
        The learned strategy (the switch).
    """

    value: float
    value_se: float
    compared_with: str
    strategy: str


def option_value(npv_of: Callable[[str], np.ndarray], strategies: Sequence[str]) -> OptionValue | None:
    """The option value of a run that values ``strategies``; None without a learned strategy and a static one.

    ``npv_of(name)`` gives a strategy's NPVs over every path, as float64. It is called
    one strategy at a time (a store reads each from disk), and at most two of them are
    held at once. Of equal means, the first static strategy in table order is chosen.
    """
    learned, static = learned_strategy(strategies), static_strategies(strategies)
    if learned is None or not static:
        return None
    means = {name: float(np.mean(npv_of(name))) for name in static}
    best = max(means, key=means.get)
    a = np.asarray(npv_of(learned), dtype=np.float64)
    mean, sd = paired_difference(a, np.asarray(npv_of(best), dtype=np.float64))
    return OptionValue(mean, sd / math.sqrt(a.size), best, learned)


def option_value_variables(npv_of: Callable[[str], np.ndarray], strategies: Sequence[str]) -> dict:
    """``option_value`` and ``option_value_se`` as 0-d variables ``{name: (dims, value, attrs)}``; empty without one.

    See :func:`option_value`.
    """
    found = option_value(npv_of, strategies)
    if found is None:
        return {}
    s, best = found.strategy, found.compared_with
    attrs = {"units": "USD", "compared_with": best}
    note = f"mean of {s} minus {best} (the better static strategy by mean NPV), path by path"
    return {
        "option_value": ((), found.value, {**attrs, "long_name": f"value of the option to wait: mean pathwise NPV of {s} - {best}",
                                           "comment": note}),
        "option_value_se": ((), found.value_se, {**attrs, "long_name": "standard error of option_value, from the paired differences"}),
    }


def conversion_counts(decision: np.ndarray, n_dates: int) -> np.ndarray:
    """(n_dates,) int64 number of paths converting at each decision date, from each path's date index (-1: never)."""
    decision = np.asarray(decision)
    return np.bincount(decision[decision >= 0].astype(np.int64), minlength=n_dates)


def action_counts(decision: np.ndarray, action: np.ndarray, n_dates: int, n_actions: int) -> np.ndarray:
    """(n_actions, n_dates) int64 number of paths converting to each action at each decision date (-1: never)."""
    decision = np.asarray(decision)
    action = np.asarray(action)
    which = decision >= 0
    flat = action[which].astype(np.int64) * n_dates + decision[which].astype(np.int64)
    return np.bincount(flat, minlength=n_actions * n_dates).reshape(n_actions, n_dates)


def share_variables(counts: np.ndarray, n_paths: int) -> dict:
    """``switch_share(decision)``, the share of all paths converting at each date, and with ``counts`` per action
    (actions, dates) ``switch_action_share(action, decision)``, as ``{name: (dims, value, attrs)}``."""
    counts = np.asarray(counts)
    total = counts.sum(axis=0) if counts.ndim == 2 else counts
    out = {"switch_share": ("decision", total / n_paths, {"units": "1", "long_name": "share of paths converting at the date"})}
    if counts.ndim == 2:
        out["switch_action_share"] = (
            ("action", "decision"),
            counts / n_paths,
            {"units": "1", "long_name": "share of paths converting to the action at the date"},
        )
    return out


def recorded_shares(ds: Any) -> np.ndarray | None:
    """Share of all paths converting at each decision date, as a result records it; None if it does not.

    From ``switch_share(decision)``, else counted from ``switch_decision(path)``, else from
    ``switch_time(path)`` (years, NaN for never) on the ``decision_time`` coordinate. The
    shares are ``count / n_paths``, correctly rounded, so ``rint(share * n_paths)`` gives the
    counts back exactly.

    Raises
    ------
    ValueError
        (as :class:`pivotmc.errors.ValidationError`) if ``switch_time`` holds a time that
        is not a decision date of the result.
    """
    if "decision_time" not in ds.coords:
        return None
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    if "switch_share" in ds and ds["switch_share"].dims == ("decision",):
        return np.asarray(ds["switch_share"].values, dtype=np.float64)
    if "switch_decision" in ds and ds["switch_decision"].dims == ("path",):
        decision = np.asarray(ds["switch_decision"].values)
    elif "switch_time" in ds and ds["switch_time"].dims == ("path",):
        converted = np.asarray(ds["switch_time"].values, dtype=np.float64)
        finite = np.isfinite(converted)
        index = np.searchsorted(times, converted[finite])
        if index.size and (index.max() >= times.size or np.any(times[index] != converted[finite])):
            raise ValidationError("switch_time holds times that are not decision dates of the result.")
        decision = np.full(converted.size, -1, dtype=np.int64)
        decision[finite] = index
    else:
        return None
    return conversion_counts(decision, times.size) / max(decision.size, 1)


#: Variables that results written by earlier versions of pivotmc name otherwise: {old name: name now}.
RENAMED_VARIABLES = {"option_value_std_error": "option_value_se"}


def current_names(ds: Any) -> Any:
    """The result ``ds`` (an xarray Dataset) with an earlier version's variables under their names now."""
    old = {k: v for k, v in RENAMED_VARIABLES.items() if k in ds.variables and v not in ds.variables}
    return ds.rename_vars(old) if old else ds
