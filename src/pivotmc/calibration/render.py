"""The calibration as text for a terminal: each model's estimates, the shock correlations, and
what was set from the last observations."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

import pandas as pd

from pivotmc.calibration.fit import LikelihoodRatioTest, ModelFit
from pivotmc.calibration.start import show
from pivotmc.model.scenario import Scenario
from pivotmc.text import fixed, paired_cells, significant, table, wrap

__all__ = ["correlation_lines", "model_lines", "start_lines"]


def model_lines(model: ModelFit, drift_applied: bool, jump_test: LikelihoodRatioTest | None) -> list[str]:
    """One model: its sample, a row per estimate with the scenario parameter it sets, its notes."""
    rows = []
    for name, est in model.estimates.items():
        target = est.parameter or ""
        if est.parameter == "btc.mu" and not drift_applied:
            target += " (not applied)"
        rows.append([name, significant(est.value), significant(est.std_error), est.unit, target])
    lines = wrap(f"{model.name}: {model.description}")
    lines += wrap(f"{model.n_obs} intervals, {model.span}, log-likelihood {model.log_likelihood:.6g}", indent="  ")
    lines += table(["parameter", "estimate", "std. error", "unit", "scenario"], rows, align="lrrll", indent="  ")
    for note in model.notes:
        lines += wrap(f"note: {note}", indent="  ")
    if model.name == "btc_lognormal" and jump_test is not None:
        lines += wrap(f"jumps: {jump_test}", indent="  ")
    return lines


def correlation_lines(correlation: pd.DataFrame, nobs: pd.DataFrame) -> list[str]:
    """The correlation matrix of the fitted shocks, with the intervals shared in brackets."""
    names = list(correlation.index)
    columns = [
        paired_cells([(fixed(float(correlation.loc[a, b]), 3), f"({int(nobs.loc[a, b])})") for a in names], sep=" ")
        for b in names
    ]
    rows = [[a, *(column[i] for column in columns)] for i, a in enumerate(names)]
    return ["Correlation of fitted shocks (intervals shared in brackets):", *table(["", *names], rows, indent="  ")]


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
