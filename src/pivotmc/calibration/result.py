"""What :func:`pivotmc.calibrate` returns: every fit, the scenario overrides, the shock
correlations, and the calibrated scenario as text and as commented TOML."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pivotmc.calibration.fit import LikelihoodRatioTest, ModelFit
from pivotmc.calibration.render import correlation_lines, model_lines, start_lines
from pivotmc.calibration.toml import header_lines, parameter_notes
from pivotmc.model.scenario import Scenario
from pivotmc.text import rewrap

__all__ = ["CalibrationResult"]


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    models : dict of str to ModelFit
        Every fitted model, by name.
    overrides : dict
        Dotted scenario parameters to their fitted values, ready for
        :meth:`Scenario.with_overrides`, rounded to four significant digits.
        With two or more factors it holds the whole ``correlation.matrix``:
        the fitted correlations, and 0 for every pair with a factor that is
        not in the data. It holds ``set_from_data`` too.
    correlation : pandas.DataFrame
        Correlation of the fitted shocks, in the scenario's factor order,
        for the factors present.
    correlation_nobs : pandas.DataFrame
        Intervals each correlation was estimated from.
    jump_test : LikelihoodRatioTest or None
        The test of jumps in the BTC price, when one was fitted.
    frequency : str
        Frequency of the data.
    base : Scenario
        The scenario the fit was made against (its start date, protocol and
        network efficiency enter the hashrate equilibrium; its start date is
        t = 0 of the lease and GPU levels).
    warnings : list of str
        The warnings the calibration emitted.
    source : str or None
        Where the data came from.
    set_from_data : dict
        The overrides taken from the end of the data rather than fitted: the
        start date and height, and the factors' values at t = 0.
    not_set : dict of str to str
        Parameters the calibration could have set but left at the base's
        value (the drift, starting values, dated levels), with the reason.
    last_date : datetime.date or None
        The last date of the data.
    """

    models: dict[str, ModelFit]
    overrides: dict[str, Any]
    correlation: pd.DataFrame
    correlation_nobs: pd.DataFrame
    jump_test: LikelihoodRatioTest | None
    frequency: str
    base: Scenario
    warnings: list[str] = field(default_factory=list)
    source: str | None = None
    set_from_data: dict[str, Any] = field(default_factory=dict)
    not_set: dict[str, str] = field(default_factory=dict)
    last_date: _dt.date | None = None
    _fit_notes: dict[str, str] = field(default_factory=dict, repr=False)
    _set_reasons: dict[str, str] = field(default_factory=dict, repr=False)

    def scenario(self, base: Scenario | None = None) -> Scenario:
        """``base`` (the calibration's base scenario by default) with the fitted overrides, validated.

        The overrides include ``set_from_data``: a start height moved along
        the calibration base's block schedule, which another base replaces too.
        """
        return (base if base is not None else self.base).with_overrides(self.overrides)

    def table(self) -> pd.DataFrame:
        """Every estimate as one row: model, parameter, estimate, std_error, unit, scenario parameter."""
        rows = []
        for model in self.models.values():
            for name, est in model.estimates.items():
                rows.append(
                    {
                        "model": model.name,
                        "parameter": name,
                        "estimate": est.value,
                        "std_error": est.std_error,
                        "unit": est.unit,
                        "scenario": est.parameter or "",
                    }
                )
        return pd.DataFrame(rows, columns=["model", "parameter", "estimate", "std_error", "unit", "scenario"])

    def to_toml(self, base: Scenario | None = None) -> str:
        """The calibrated scenario as commented TOML.

        Each fitted parameter is preceded by a ``# fit:`` line giving the
        estimate, its standard error, the model and the sample span. The text
        reads back with :meth:`Scenario.from_toml_string` to exactly
        :meth:`scenario`.
        """
        scenario = self.scenario(base)
        header = header_lines(self.source, self.models.values(), self.jump_test, self._start_lines(scenario))
        notes = parameter_notes(self._fit_notes, self._set_reasons, self.not_set)
        return scenario.to_toml_document(header=header, notes=notes).as_string()

    def _start_lines(self, scenario: Scenario) -> list[str]:
        return start_lines(self.last_date, self.set_from_data, self._set_reasons, self.not_set, scenario)

    def __str__(self) -> str:
        lines = [f"pivotmc calibration ({self.frequency} data" + (f", {self.source}" if self.source else "") + ")"]
        for model in self.models.values():
            lines += ["", *model_lines(model, "btc.mu" in self.overrides, self.jump_test)]
        if len(self.correlation) > 1:
            lines += ["", *correlation_lines(self.correlation, self.correlation_nobs)]
        lines += ["", *self._start_lines(self.scenario()), ""]
        lines.append("Overrides: " + (", ".join(sorted(k for k in self.overrides)) or "none"))
        return "\n".join(rewrap(lines))
