"""From estimates to scenario overrides: rounded values, and a note per parameter for the TOML.

A model whose estimates the scenario rejects is left out whole, so that a
scenario never mixes fitted and default parameters of one factor. The BTC drift
is estimated but applied only when asked: a historical drift is no forecast.
"""

from __future__ import annotations

from typing import Any, Mapping

from pivotmc.calibration.fit import Estimate, LikelihoodRatioTest, ModelFit, fmt, warn
from pivotmc.errors import ValidationError
from pivotmc.model.scenario import Scenario

__all__ = ["OVERRIDE_DIGITS", "fitted_overrides", "model_overrides"]

#: Significant digits of the values put into ``overrides``: well below any standard error,
#: and a TOML file a person can read.
OVERRIDE_DIGITS = 4
#: The two models of the BTC price, of which one is used.
BTC_MODELS = ("btc_merton", "btc_lognormal")


def fitted_overrides(
    models: Mapping[str, ModelFit],
    jump_test: LikelihoodRatioTest | None,
    why_no_jumps: str,
    base: Scenario,
    *,
    fit_markup: bool,
    fit_drift: bool,
    log: list[str],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The overrides of every model used, their notes, and why the drift is not set (when it is not).

    Of the BTC models, the Merton one is used when the jump test warrants it,
    else the log-normal. Each model's overrides are tried on ``base``.
    """
    overrides: dict[str, Any] = {}
    fit_notes: dict[str, str] = {}
    not_set: dict[str, str] = {}
    used = [name for name in models if name not in BTC_MODELS]
    if "btc_lognormal" in models:
        used.insert(0, "btc_merton" if jump_test is not None and jump_test.warranted else "btc_lognormal")
    for name in used:
        overrides_of_model, notes = model_overrides(models[name], fit_markup, why_no_jumps)
        if name in BTC_MODELS and not fit_drift:
            # A historical drift is not a forecast: estimated and reported, applied only when asked.
            del overrides_of_model["btc.mu"], notes["btc.mu"]
            mu = models[name]["mu"]
            not_set["btc.mu"] = (
                f"the historical drift {fmt(mu.value)} (s.e. {fmt(mu.std_error)}; {name}, {models[name].span}) "
                "is not a forecast; fit_drift=True (--fit-drift) applies it"
            )
        try:
            base.with_overrides(overrides_of_model)
        except ValidationError as exc:
            warn(f"the {name} estimates are left out of the overrides, as the scenario rejects them: {exc}", log)
            continue
        overrides.update(overrides_of_model)
        fit_notes.update(notes)
    return overrides, fit_notes, not_set


def model_overrides(model: ModelFit, fit_markup: bool, why_no_jumps: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """One model's overrides and notes; the markup only with ``fit_markup``, then with growth 0."""
    overrides: dict[str, Any] = {}
    notes: dict[str, str] = {}
    season = []
    for est in model.estimates.values():
        if est.parameter is None:
            continue
        if est.parameter == "power.seasonality":
            season.append(est)
            continue
        if est.parameter == "hashrate.markup" and not fit_markup:
            continue
        overrides[est.parameter] = _round(est.value)
        notes[est.parameter] = _estimate_note(est, model)
    if model.name == "hashrate" and fit_markup:
        overrides["hashrate.growth"] = 0.0
        notes["hashrate.growth"] = "0 (fixed: the intercept g - kappa ln phi is carried by the markup)"
    if season:
        overrides["power.seasonality"] = tuple(_round(e.value) for e in season)
        notes["power.seasonality"] = (
            ", ".join(f"{fmt(e.value)} ({fmt(e.std_error)})" for e in season)
            + f" (s.e. in brackets); {model.name}, {model.frequency} {model.span}, {model.n_obs} intervals"
        )
    if model.name == "btc_lognormal":
        overrides["btc.jump_intensity"] = 0.0
        notes["btc.jump_intensity"] = f"0 ({why_no_jumps}); btc_lognormal used"
    return overrides, notes


def _round(x: float, digits: int = OVERRIDE_DIGITS) -> float:
    return float(f"{x:.{digits}g}")


def _estimate_note(est: Estimate, model: ModelFit) -> str:
    """``# fit:`` note of one estimate: value, standard error, model and sample."""
    return (
        f"{fmt(est.value)} (s.e. {fmt(est.std_error)}); "
        f"{model.name}, {model.frequency} {model.span}, {model.n_obs} intervals"
    )
