"""The calibration as text for a terminal: each model's estimates, the shock correlations, and
what was set from the last observations."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

import pandas as pd

from pivotmc.calibration.fit import LikelihoodRatioTest, ModelFit, fmt
from pivotmc.calibration.start import show
from pivotmc.model.scenario import Scenario

__all__ = ["correlation_lines", "model_lines", "start_lines"]


def model_lines(model: ModelFit, drift_applied: bool, jump_test: LikelihoodRatioTest | None) -> list[str]:
    """One model: its sample, a row per estimate with the scenario parameter it sets, its notes."""
    lines = [
        f"{model.name}: {model.description}",
        f"  {model.n_obs} intervals, {model.span}, log-likelihood {model.log_likelihood:.6g}",
        f"  {'parameter':<18} {'estimate':>12} {'std. error':>12}  {'unit':<14} scenario",
    ]
    for name, est in model.estimates.items():
        target = est.parameter or ""
        if est.parameter == "btc.mu" and not drift_applied:
            target += " (not applied)"
        lines.append(f"  {name:<18} {fmt(est.value):>12} {fmt(est.std_error):>12}  {est.unit:<14} {target}")
    for note in model.notes:
        lines.append(f"  note: {note}")
    if model.name == "btc_lognormal" and jump_test is not None:
        lines.append(f"  jumps: {jump_test}")
    return lines


def correlation_lines(correlation: pd.DataFrame, nobs: pd.DataFrame) -> list[str]:
    """The correlation matrix of the fitted shocks, with the intervals shared in brackets."""
    names = list(correlation.index)
    lines = ["Correlation of fitted shocks (intervals shared in brackets):"]
    lines.append("  " + " " * 9 + "".join(f"{n:>16}" for n in names))
    for a in names:
        cells = "".join(f"{correlation.loc[a, b]:>9.3f} ({int(nobs.loc[a, b]):>4})" for b in names)
        lines.append(f"  {a:<9}" + cells)
    return lines


def start_lines(
    last_date: _dt.date | None,
    set_from_data: Mapping[str, Any],
    reasons: Mapping[str, str],
    not_set: Mapping[str, str],
    scenario: Scenario,
) -> list[str]:
    """The "Set from the last observation / Not set" block, one parameter a line, each with its reason."""
    end = f" (the data end {last_date.isoformat()})" if last_date else ""
    lines = [f"Set from the last observation{end}:" if set_from_data else f"Set from the last observation{end}: nothing"]
    for name, value in set_from_data.items():
        lines.append(f"  {name} = {show(value)}: {reasons.get(name, '')}")
    lines.append("Not set (the base's value kept):" if not_set else "Not set: nothing")
    for name, reason in not_set.items():
        lines.append(f"  {name} = {show(scenario.value(name))}: {reason}")
    return lines
