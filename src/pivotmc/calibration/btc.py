"""The BTC price: log-normal or Merton jump-diffusion, chosen by a likelihood-ratio test.

:func:`fit_btc` fits the log-normal (geometric Brownian motion) and, given
enough returns, the Merton jump-diffusion (:mod:`pivotmc.calibration.merton`);
the test of one against the other decides which the scenario takes. A Merton
fit that is used is judged for weak identification (:func:`weak_jumps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pivotmc.calibration.fit import Estimate, LikelihoodRatioTest, ModelFit, fmt, warn
from pivotmc.calibration.history import MIN_OBSERVATIONS, Series
from pivotmc.calibration.merton import fit_merton

__all__ = ["BtcFit", "WEAK_JUMPS_PER_INTERVAL", "WEAK_JUMP_SIZE", "WEAK_RELATIVE_SE", "fit_btc", "weak_jumps"]

#: When the Merton fit is used, it is called weakly identified (a CalibrationWarning) if any of these holds:
#: more than WEAK_JUMPS_PER_INTERVAL jumps are expected per observation interval (jumps are then no rare
#: events: daily data, above 36.5 a year); a typical jump, sqrt(m_J^2 + s_J^2), is smaller than
#: WEAK_JUMP_SIZE diffusion standard deviations of one interval, sigma sqrt(dt), the usual bound of an outlier
#: (then two jumps in three leave the return within the diffusion's own +-3 s.d.); or the standard error of the intensity or of
#: the jump s.d. exceeds WEAK_RELATIVE_SE times the estimate. Parameters the user fixed are not judged.
WEAK_JUMPS_PER_INTERVAL = 0.1
WEAK_JUMP_SIZE = 3.0
WEAK_RELATIVE_SE = 0.5


@dataclass(frozen=True)
class BtcFit:
    """The BTC models fitted, the shocks of the one used, and the test that chose it."""

    models: dict[str, ModelFit]  # btc_merton (when fitted), then btc_lognormal
    shocks: np.ndarray  # of the model used, one per interval
    jump_test: LikelihoodRatioTest | None  # None when no Merton model was fitted
    why_no_jumps: str  # why the log-normal is used, when it is


def fit_btc(
    series: Series,
    frequency: str,
    log: list[str],
    *,
    jump_intensity: float | None,
    max_jump_intensity: float | None,
    jump_test_level: float,
) -> BtcFit:
    """Fit both models to ``series`` and test one against the other at ``jump_test_level``.

    ``jump_intensity`` fixes the intensity (0: the log-normal alone) and
    ``max_jump_intensity`` bounds it; see :func:`pivotmc.calibrate`.
    """
    from scipy import stats  # imported here: `import pivotmc` stays quick

    series.require("log-normal model", MIN_OBSERVATIONS["lognormal"])
    lognormal, z_ln = fit_lognormal(series, frequency)
    merton = z_m = None
    boundary: list[str] = []
    why_no_jumps = "the likelihood-ratio test does not warrant jumps"
    if jump_intensity == 0.0:
        why_no_jumps = "fixed at 0 by jump_intensity"
    elif series.values.size >= MIN_OBSERVATIONS["merton"]:
        merton, z_m, boundary = fit_merton(series, frequency, log, jump_intensity, max_jump_intensity)
        if merton is None:
            why_no_jumps = "the Merton fit failed"
    else:
        why_no_jumps = "too few returns to fit jumps"
        warn(
            f"btc_price has {series.values.size} observations, too few to fit jumps (at least {MIN_OBSERVATIONS['merton']}); "
            "only the log-normal is fitted.",
            log,
        )
    if merton is None:
        return BtcFit({"btc_lognormal": lognormal}, z_ln, None, why_no_jumps)
    statistic = max(2.0 * (merton.log_likelihood - lognormal.log_likelihood), 0.0)
    df = 2 if jump_intensity is not None else 3  # a fixed intensity is not estimated
    jump_test = LikelihoodRatioTest(statistic, df, float(stats.chi2.sf(statistic, df)), jump_test_level)
    if jump_test.warranted:
        # On log-normal data the jump parameters drift to a bound (no jumps, or jumps of size 0)
        # and the test keeps the log-normal; a bound matters only when the Merton fit is used.
        if boundary:
            hint = ""
            if "jump_intensity" in boundary and merton["jump_intensity"].value > 1.0:
                hint = " (many small jumps: the returns look like a fat-tailed diffusion rather than one with rare jumps)"
            warn(
                f"btc_merton: {', '.join(boundary)} on the boundary of the range searched{hint}; "
                "standard errors are not given.",
                log,
            )
        _judge_jumps(merton, float(np.median(series.dt)), jump_intensity, max_jump_intensity, log)
    models = {"btc_merton": merton, "btc_lognormal": lognormal}
    return BtcFit(models, z_m if jump_test.warranted else z_ln, jump_test, why_no_jumps)


def _judge_jumps(
    merton: ModelFit, dt: float, jump_intensity: float | None, max_jump_intensity: float | None, log: list[str]
) -> None:
    """Warn when the Merton fit that is used is weakly identified; an intensity fixed or at its bound is not judged."""
    lam = merton["jump_intensity"].value
    held = jump_intensity is not None or (
        max_jump_intensity is not None and not math.isfinite(merton["jump_intensity"].std_error)
        and lam >= 0.999 * max_jump_intensity
    )
    judged = ("jump_sd",) if held else ("jump_intensity", "jump_sd")
    reasons = weak_jumps(merton, dt, judged)
    if reasons:
        small = any("rare" in r or "ordinary" in r for r in reasons)
        warn(
            f"btc_merton is weakly identified: {' and '.join(reasons)}, so "
            + ("many small jumps stand in for fat tails" if small else "the data say little about the jumps")
            + "; fix or bound the intensity (jump_intensity=, max_jump_intensity=; "
            "--jump-intensity, --max-jump-intensity).",
            log,
        )


def fit_lognormal(series: Series, frequency: str) -> tuple[ModelFit, np.ndarray]:
    """Maximum likelihood of geometric Brownian motion, each return over its own step; and its shocks."""
    r = np.diff(np.log(series.values))
    dt = series.dt
    n, years = r.size, dt.sum()
    drift = r.sum() / years  # mu - sigma^2 / 2, the MLE under variances proportional to dt
    resid = r - drift * dt
    var = float(np.mean(resid**2 / dt))
    sigma = math.sqrt(var)
    loglik = -0.5 * float(np.sum(np.log(2.0 * math.pi * var * dt)) + n)
    se_sigma = sigma / math.sqrt(2.0 * n)
    se_mu = math.sqrt(var / years + var * se_sigma**2)  # d mu / d sigma = sigma; drift and sigma are independent
    fit = ModelFit(
        name="btc_lognormal",
        factor="btc",
        description="log-normal (geometric Brownian motion), E[S_t] = S_0 exp(mu t)",
        estimates={
            "mu": Estimate(drift + 0.5 * var, se_mu, "1/year", "expected annual log-drift of E[S]", "btc.mu"),
            "sigma": Estimate(sigma, se_sigma, "1/sqrt(year)", "volatility", "btc.sigma"),
        },
        log_likelihood=loglik,
        n_obs=n,
        start=series.start,
        end=series.end,
        frequency=frequency,
    )
    return fit, resid / np.sqrt(var * dt)


def weak_jumps(fit: ModelFit, dt: float, judged: tuple[str, ...]) -> list[str]:
    """Why the Merton fit is weakly identified (empty when it is not); see WEAK_JUMPS_PER_INTERVAL."""
    lam, sigma = fit["jump_intensity"].value, fit["sigma"].value
    size = math.hypot(fit["jump_mean"].value, fit["jump_sd"].value)
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[fit.frequency]
    reasons = []
    if "jump_intensity" in judged and lam * dt > WEAK_JUMPS_PER_INTERVAL:
        reasons.append(f"{lam * dt:.2g} jumps expected a {unit} (over {WEAK_JUMPS_PER_INTERVAL:g}: no rare events)")
    scale = sigma * math.sqrt(dt)
    if size < WEAK_JUMP_SIZE * scale:
        reasons.append(
            f"a typical jump of {size:.3g} in log price, {size / scale:.2g} times the {unit}'s diffusion s.d. "
            f"(under {WEAK_JUMP_SIZE:g}: like ordinary moves)"
        )
    for name in judged:
        est = fit[name]
        if math.isfinite(est.std_error) and est.std_error > WEAK_RELATIVE_SE * est.value:
            reasons.append(f"{name} {fmt(est.value)} with standard error {fmt(est.std_error)}")
    return reasons

