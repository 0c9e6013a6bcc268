"""The calibrated scenario as commented TOML: what the calibration says, put on the scenario's own
document (:meth:`pivotmc.Scenario.to_toml_document`).

The document opens with the data, the models and the start; each parameter the
calibration touched carries its reason just above it: ``# fit:`` (estimate,
standard error, model and sample), ``# set from the last observation:`` or
``# not set:``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from pivotmc.calibration.fit import LikelihoodRatioTest, ModelFit

__all__ = ["header_lines", "parameter_notes"]


def header_lines(
    source: str | None, models: Iterable[ModelFit], jump_test: LikelihoodRatioTest | None, start_lines: Iterable[str]
) -> list[str]:
    """The lines that open the calibrated scenario: the data, each model and its sample, the jump test, the start."""
    lines = ["pivotmc scenario calibrated to data" + (f" from {source}" if source else "") + "."]
    for model in models:
        lines.append(f"  {model.name}: {model.description}; {model.frequency}, {model.span}, {model.n_obs} intervals.")
    if jump_test is not None:
        lines.append(f"Jumps in BTC: {jump_test}.")
    lines.append("Lines '# fit:' give estimate (standard error), model and sample span; the rest are defaults.")
    lines.extend(start_lines)
    return lines


def parameter_notes(
    fit_notes: Mapping[str, str], set_reasons: Mapping[str, str], not_set: Mapping[str, str]
) -> dict[str, list[str]]:
    """The comment lines above each parameter, by dotted name."""
    notes: dict[str, list[str]] = {}
    for name, note in fit_notes.items():
        notes.setdefault(name, []).append(f"fit: {note}")
    for name, reason in set_reasons.items():
        notes.setdefault(name, []).append(f"set from the last observation: {reason}")
    for name, reason in not_set.items():
        notes.setdefault(name, []).append(f"not set: {reason}")
    return notes
