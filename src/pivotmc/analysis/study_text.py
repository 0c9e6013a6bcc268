"""Sensitivity and sweep results as plain-text tables for a terminal.

The table and number formats are :mod:`pivotmc.text`'s.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import xarray as xr

from pivotmc.analysis.shocks import SHOCKS
from pivotmc.errors import require_dataset
from pivotmc.model.strategies import tie_reason
from pivotmc.text import Span, error_decimals, exact_cells, percent, pm_cells, table, wrap

__all__ = ["format_sensitivity", "format_sweep", "plain"]

_MILLION = 1e6


def plain(value: Any) -> str:
    """A parameter value as a person writes it: 0.5, 140, 3.166667."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return exact_cells([float(value)])[0]
    return str(value)


def _base_line(ds: xr.Dataset, strategies: list[str], scale: float, unit_label: str) -> list[str]:
    mean = ds["base_mean_npv"].values / scale
    se = ds["base_mean_npv_se"].values / scale if "base_mean_npv_se" in ds else np.full(mean.shape, np.nan)
    decimals = error_decimals(se, 1, 4, by="smallest")  # each SE to two figures
    cells = [pm_cells([m], [e], decimals)[0] for m, e in zip(mean, se)]
    return wrap(f"Base case mean NPV ± SE ({unit_label}): " + ", ".join(f"{s} {c}" for s, c in zip(strategies, cells)))


def format_sensitivity(ds: xr.Dataset, scale: float = _MILLION, unit_label: str = "USD m") -> str:
    """Render a :func:`~pivotmc.analysis.studies.sensitivity` result as a plain-text table at most 100 columns wide.

    One block per parameter: its name and base value, then a ``down`` and an
    ``up`` row with the shocked value and, for every strategy, the mean
    path-wise change of NPV from the base case ± its paired standard error.
    A column's amounts share their decimals (enough for two significant
    figures of its typical standard error); a change that is exactly 0 on
    every path (a parameter that does not enter the strategy) prints as
    ``0``; a shock cut short at a bound is marked ``*``; a skipped shock
    prints its reason. Wider tables (many strategies, large amounts) continue
    in a second block of columns below.
    """
    require_dataset(ds, ("change", "change_se", "base_mean_npv", "value"), "pivotmc.analysis.studies.sensitivity")
    strategies = [str(s) for s in ds.strategy.values]
    rel = float(ds.attrs.get("rel_shock", math.nan))
    n_paths = int(ds.attrs.get("n_paths", 0))
    lines = wrap(f"Sensitivity: change in mean NPV from the base case ({unit_label}) ± paired standard error")
    lines += wrap(f"{n_paths:,} paths per case, seed {ds.attrs.get('seed', '?')}, backend "
                  f"{ds.attrs.get('backend', '?')!r}, common random numbers; switch policy: "
                  f"{ds.attrs.get('switch_policy', 'as simulate learns it')}.")
    lines += wrap(f"Shocks: down = v - {100 * rel:g}% of |v|, up = v + {100 * rel:g}% of |v| (down always lowers the value); "
                  "whole-unit parameters move by whole units (steps), at least one; a value of 0 is not shocked.")
    lines += _base_line(ds, strategies, scale, unit_label)
    lines.append("")

    change = ds["change"].transpose("parameter", "shock", "strategy").values / scale
    change_se = ds["change_se"].transpose("parameter", "shock", "strategy").values / scale
    columns = []
    for k in range(len(strategies)):
        decimals = error_decimals(change_se[:, :, k].ravel(), 2, 4)
        columns.append(np.array(pm_cells(change[:, :, k].ravel(), change_se[:, :, k].ravel(), decimals, signed=True),
                                dtype=object).reshape(change.shape[:2]))
    values = ds["value"].transpose("parameter", "shock").values
    base_values = ds["base_value"].values
    clipped = ds["clipped"].transpose("parameter", "shock").values if "clipped" in ds else np.zeros(values.shape, bool)
    reasons = ds["skip_reason"].transpose("parameter", "shock").values if "skip_reason" in ds else None
    rows: list[Any] = []
    any_zero = any_clipped = False
    for i, name in enumerate(str(p) for p in ds.parameter.values):
        texts = exact_cells([base_values[i], *values[i]])
        rows.append(f"{name} (base {texts[0]})")
        for j, shock in enumerate(SHOCKS):
            if not math.isfinite(values[i, j]):
                reason = str(reasons[i, j]) if reasons is not None and reasons[i, j] else "not run"
                rows.append([f"  {shock}", Span(f"skipped: {reason}")])
                continue
            mark = "*" if clipped[i, j] else " "
            any_clipped |= bool(clipped[i, j])
            cells = [str(col[i, j]) for col in columns]
            any_zero |= any(cell.strip() == "0" for cell in cells)
            rows.append([f"  {shock}", texts[1 + j] + mark, *cells])
    lines += table(["", "value", *strategies], rows, fixed_columns=2)
    notes = []
    if any_clipped:
        notes.append("* cut short at the parameter's bound: a smaller shock than the other side's.")
    if any_zero:
        notes.append("0: no path changes; the parameter does not enter that strategy.")
    if notes:
        lines += [""] + [line for note in notes for line in wrap(note)]
    return "\n".join(lines) + "\n"


def format_sweep(ds: xr.Dataset, scale: float = _MILLION, unit_label: str = "USD m") -> str:
    """Render a :func:`~pivotmc.analysis.studies.sweep` result as plain-text tables at most 100 columns wide.

    Three tables, one row per case: the mean NPV of every strategy ± its
    standard error (the base case first); the mean path-wise change from the
    base case ± its paired standard error; and, for every pair of strategies,
    the share of paths on which one beats the other, with the share of ties
    in a column of its own wherever a pair ties on some path. Amounts in a
    column share their decimals; tables wider than 100 columns continue in a
    second block of columns below.
    """
    require_dataset(ds, ("mean_npv",), "pivotmc.analysis.studies.sweep")
    strategies = [str(s) for s in ds.strategy.values]
    names = [d for d in ds["mean_npv"].dims if d != "strategy"]
    shape = tuple(ds.sizes[n] for n in names)
    n_cases = int(np.prod(shape))
    lines = wrap(f"Sweep over {n_cases} case{'s' if n_cases != 1 else ''}, {int(ds.attrs.get('n_paths', 0)):,} paths "
                 f"each, seed {ds.attrs.get('seed', '?')}, backend {ds.attrs.get('backend', '?')!r}, "
                 "on common random numbers.")
    if "base_case" in ds.attrs:
        lines += wrap(f"Base case: {ds.attrs['base_case']}.")
    # Each swept parameter's values, the base's included, in one format.
    axis_cells = []
    for n in names:
        coord = list(ds[n].values)
        base = ds[n].attrs.get("base_value", "")
        if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in [*coord, base]):
            cells = exact_cells([float(v) for v in [*coord, base]])
        else:
            cells = [str(v) for v in [*coord, base]]
        axis_cells.append(cells)
    combos = list(itertools.product(*(range(s) for s in shape)))

    def case_cells(combo: tuple[int, ...]) -> list[str]:
        return [axis_cells[a][i] for a, i in enumerate(combo)]

    def amounts(var: str, se_var: str, signed: bool, base: bool) -> list[list[str]]:
        x = ds[var].transpose(*names, "strategy").values.reshape(n_cases, -1) / scale
        se = ds[se_var].transpose(*names, "strategy").values.reshape(n_cases, -1) / scale
        if base:
            x = np.vstack([ds["base_mean_npv"].values / scale, x])
            se = np.vstack([ds["base_mean_npv_se"].values / scale, se])
        cols = [pm_cells(x[:, k], se[:, k], error_decimals(se[:, k], 1, 4), signed=signed)
                for k in range(len(strategies))]
        return [[col[r] for col in cols] for r in range(x.shape[0])]

    header = ["", *names]
    mean_rows = amounts("mean_npv", "mean_npv_se", False, "base_mean_npv_se" in ds)
    rows: list[Any] = []
    if len(mean_rows) > n_cases:
        rows.append(["base", *(cells[-1] for cells in axis_cells), *mean_rows[0]])
        mean_rows = mean_rows[1:]
    rows += [["", *case_cells(c), *r] for c, r in zip(combos, mean_rows)]
    lines += ["", f"Mean NPV ± standard error ({unit_label})"]
    lines += table([*header, *strategies], rows, fixed_columns=1 + len(names))
    any_zero = False
    if "change" in ds:
        change_rows = amounts("change", "change_se", True, False)
        any_zero = any(cell.strip() == "0" for r in change_rows for cell in r)
        lines += ["", f"Change in mean NPV from the base case ± paired standard error ({unit_label})"]
        lines += table([*header, *strategies], [["", *case_cells(c), *r] for c, r in zip(combos, change_rows)],
                       fixed_columns=1 + len(names))
    if "prob_greater" in ds and len(strategies) > 1:
        greater = ds["prob_greater"].transpose(*names, "strategy", "versus").values.reshape(n_cases, len(strategies), -1)
        equal = ds["prob_equal"].transpose(*names, "strategy", "versus").values.reshape(n_cases, len(strategies), -1)
        pair_header: list[str] = []
        pair_cols: list[list[str]] = []
        tied = []
        for a, b in itertools.combinations(range(len(strategies)), 2):
            later, earlier = strategies[b], strategies[a]  # later > earlier: "switch>mine", "host>mine"
            pair_header.append(f"{later}>{earlier}")
            pair_cols.append([percent(v) for v in greater[:, b, a]])
            if np.nanmax(equal[:, b, a]) > 0.0:
                pair_header.append(f"{later}={earlier}")
                pair_cols.append([percent(v) for v in equal[:, b, a]])
                tied.append((later, earlier))
        lines += ["", "P(A > B), share of paths on which A's NPV exceeds B's; P(A = B), the share of ties"]
        lines += table([*header, *pair_header],
                       [["", *case_cells(c), *(col[r] for col in pair_cols)] for r, c in enumerate(combos)],
                       fixed_columns=1 + len(names))
        note = "P(B > A) = 100% - P(A > B) - P(A = B)"
        note += "; ties are shown where a pair ties on some path." if tied else "; no pair ties on any path."
        for reason in (tie_reason(a, b) for a, b in tied):
            note += f" {reason[0].upper()}{reason[1:]}." if reason else ""
        lines += wrap(note)
    if any_zero:
        lines += wrap("0: no path changes from the base case.")
    return "\n".join(lines) + "\n"
