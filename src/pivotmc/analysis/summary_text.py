"""A :func:`~pivotmc.analysis.summary.summarize` result as text for a terminal.

The table and number formats are :mod:`pivotmc.text`'s.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import xarray as xr

from pivotmc.errors import ValidationError, require_dataset
from pivotmc.model.scenario import STEP_NAMES
from pivotmc.model.strategies import LEARNED_STRATEGY, STATIC_STRATEGIES, learned_strategy, static_strategies, tie_reason
from pivotmc.text import error_decimals, fixed, percent, pm, pm_cells, se_decimals, table, wrap

__all__ = ["format_summary"]


def _switch_lines(summary: xr.Dataset, scale: float, unit_label: str) -> list[str]:
    """The option value, what it is, and the conversions of the switch, where the summary has them."""
    lines = []
    if "option_value" in summary:
        best = summary["option_value"].attrs.get("compared_with", "the better static strategy")
        value = float(summary["option_value"]) / scale
        se = float(summary["option_value_se"]) / scale
        names = [str(s) for s in summary["strategy"].values]
        learned = learned_strategy(names) or LEARNED_STRATEGY
        static = static_strategies(names)
        listed = ", ".join(static[:-1]) + " and " + static[-1] if static else ""
        which = (f"{best} being the {'better' if len(static) == 2 else 'best'} of {listed} by mean NPV" if len(static) > 1
                 else f"{best} being the only one of {' and '.join(STATIC_STRATEGIES)} valued")
        lines.append(f"Option to wait ({learned} - {best}, path by path): {pm(value, se, se_decimals(se))} {unit_label}")
        lines += wrap(f"= the mean over paths of NPV({learned}) - NPV({best}), {which}; ± is the standard "
                      "error of that mean, from the paired differences.", indent="  ")
    if "switch_converted" in summary:
        share = float(summary["switch_converted"])
        if share > 0.0:
            when = f"year {float(summary['switch_median_time']):.2f}"
            if "switch_median_date" in summary:
                when = f"{np.datetime_as_string(summary['switch_median_date'].values, unit='D')} ({when})"
            to = ""
            if "switch_action_converted" in summary and summary.sizes.get("action", 0) > 1:
                each = summary["switch_action_converted"]
                to = " (" + ", ".join(f"to {a} {percent(float(each.sel(action=a)))}" for a in each["action"].values) + ")"
            lines.append(f"Switch converts on {percent(share)} of paths{to}; half of those by {when}")
        else:
            lines.append("Switch converts on no path: it mines throughout")
    return [""] + lines if lines else []


def _provenance_lines(attrs: dict) -> list[str]:
    """The run's main assumptions and settings, where the summary records them (see :func:`~pivotmc.analysis.summary.summarize`)."""
    lines = []
    scenario = []
    if "start_date" in attrs:
        scenario.append(f"from {attrs['start_date']}")
    if "horizon_years" in attrs:
        steps = attrs.get("steps_per_year")
        every = f" in {STEP_NAMES.get(int(steps), f'{steps} a year')} steps" if steps is not None else ""
        scenario.append(f"over {float(attrs['horizon_years']):g} years{every}")
    parts = [" ".join(scenario)] if scenario else []
    if "discount_rate" in attrs:
        parts.append(f"discount rate {100.0 * float(attrs['discount_rate']):g}% a year")
    if "site_grid_mw" in attrs:
        parts.append(f"site grid {float(attrs['site_grid_mw']):,.6g} MW")
    if parts:
        lines += wrap("Scenario: " + "; ".join(parts))
    run = []
    if "seed" in attrs:
        run.append(f"seed {attrs['seed']}")
    if "backend" in attrs:
        run.append(f"backend {attrs['backend']!r}")
    if "pivotmc_version" in attrs:
        run.append(f"pivotmc {attrs['pivotmc_version']}")
    if run:
        lines += wrap("Run: " + ", ".join(run))
    return lines


def _tie_lines(names: list[str], equal: np.ndarray) -> list[str]:
    """The ties of the P(row > column) matrix, and the note that makes its pairs add up."""
    ties = [(names[j], names[i], equal[i, j]) for i, j in combinations(range(len(names)), 2)
            if math.isfinite(equal[i, j]) and equal[i, j] > 0.0]
    if not ties:
        return wrap("No ties: for every pair, P(row > column) + P(column > row) = 100%.")
    lines = wrap("Ties, P(row = column): " + ", ".join(f"{a} = {b} on {percent(p)} of paths" for a, b, p in ties) + ".")
    note = "For every pair, P(row > column) + P(column > row) + ties = 100%"
    note += "".join(f"; {reason}" for a, b, _ in ties if (reason := tie_reason(a, b)) is not None)
    return lines + wrap(note + ".")


def format_summary(summary: xr.Dataset, scale: float = 1e6, unit_label: str = "USD m") -> str:
    """Render a :func:`~pivotmc.analysis.summary.summarize` result as an aligned plain-text report, at most 100 columns wide.

    Parameters
    ----------
    summary : xarray.Dataset
        Output of :func:`~pivotmc.analysis.summary.summarize`.
    scale : float, default 1e6
        Money amounts are divided by this before printing.
    unit_label : str, default "USD m"
        Unit name printed for the scaled amounts.

    Returns
    -------
    str
        A header line with the number of paths and, where the summary records
        them (a summary of a simulation result), a line with the scenario's
        main assumptions (start, horizon and steps, discount rate, site grid
        MW) and one with the run's seed, backend and pivotmc version. Then a
        per-strategy table (mean with its standard error, sd, P5, P50, P95,
        VaR, CVaR, P(loss)), the matrix of pathwise ``P(row > column)`` with
        the pairs that tie and a note on how a pair's entries add up, and the
        matrix of pathwise mean differences ``row - column`` with standard
        errors. Where the summary has them, the switch's option value (with a
        line saying what it is and what its standard error is) and the share
        of paths that convert with the median conversion date follow the
        first table. Amounts carry one decimal, more where a column needs them
        to show its standard errors to two significant figures (a column's
        amounts share their decimals); probabilities are percentages with one
        decimal.
    """
    require_dataset(summary, ("mean", "mean_se"), "pivotmc.summarize", "summary")
    if not scale > 0 or not math.isfinite(scale):
        raise ValidationError(f"scale must be a positive finite number, got {scale!r}")
    names = [str(s) for s in summary["strategy"].values]
    n_paths = int(summary.attrs.get("n_paths", 0))
    level = float(summary.attrs.get("level", 0.95))
    tag = f"{100.0 * level:.10g}"

    def money(var: str) -> np.ndarray:
        return np.asarray(summary[var].values, dtype=np.float64) / scale

    mean, se, sd = money("mean"), money("mean_se"), money("sd")
    p5, p50, p95 = money("p5"), money("p50"), money("p95")
    var, cvar = money("var"), money("cvar")
    prob_loss = np.asarray(summary["prob_loss"].values, dtype=np.float64)

    lines = wrap(
        f"NPV summary over {n_paths:,} paths "
        f"(amounts in {unit_label}; VaR/CVaR at level {level:.10g}, loss = -NPV)"
    )
    lines += _provenance_lines(summary.attrs)
    lines.append("")
    header = ["strategy", "mean ± SE", "sd", "P5", "P50", "P95",
              f"VaR{tag}", f"CVaR{tag}", "P(loss)"]
    mean_cells = pm_cells(mean, se, error_decimals(se, 1, 4, by="smallest"))
    rows = [
        [name, mean_cells[i], *(fixed(x[i], 1) for x in (sd, p5, p50, p95, var, cvar)), percent(prob_loss[i])]
        for i, name in enumerate(names)
    ]
    lines += table(header, rows)
    lines += _switch_lines(summary, scale, unit_label)

    if len(names) > 1:
        pg = np.asarray(summary["prob_greater"].values, dtype=np.float64)
        lines += ["", "P(row > column), pathwise"]
        lines += table(["", *names], [[name, *(percent(pg[i, j]) for j in range(len(names)))]
                                       for i, name in enumerate(names)])
        if "prob_equal" in summary:
            lines += _tie_lines(names, np.asarray(summary["prob_equal"].values, dtype=np.float64))
        md, md_se = money("mean_difference"), money("mean_difference_se")
        off = ~np.eye(len(names), dtype=bool)
        decimals = error_decimals(md_se[off], 1, 4, by="smallest")
        columns = [pm_cells(md[:, j], md_se[:, j], decimals) for j in range(len(names))]
        lines += ["", f"Mean difference row - column ± SE, pathwise ({unit_label})"]
        lines += table(["", *names], [[name, *(col[i] for col in columns)] for i, name in enumerate(names)])
    return "\n".join(lines) + "\n"
