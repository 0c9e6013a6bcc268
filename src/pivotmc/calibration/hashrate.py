"""The network hashrate: error correction toward the price-implied equilibrium.

``ln H_{i+1} - ln H_i = (a + kappa (ln H*_i - ln H_i)) dt_i + sigma sqrt(dt_i) Z``
by weighted least squares, ``H*`` being the engine's equilibrium with markup 1
(:func:`pivotmc.model.plan.log_hstar_coefficient`) and the subsidy the engine's
halving walk (:func:`pivotmc.model.protocol.subsidy_between_btc`). Block heights
before the scenario's start are interpolated between Bitcoin's past halvings.
"""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np

from pivotmc.calibration.fit import Estimate, ModelFit, warn
from pivotmc.calibration.history import MIN_OBSERVATIONS, History, Series, to_date
from pivotmc.errors import ValidationError
from pivotmc.model.plan import log_hstar_coefficient
from pivotmc.model.protocol import block_subsidy_btc, subsidy_between_btc
from pivotmc.model.scenario import Scenario
from pivotmc.model.units import DAYS_PER_YEAR

__all__ = ["HISTORICAL_HEIGHTS", "block_heights", "fit_hashrate"]

#: (height, date) of Bitcoin's past halvings and genesis. Before the scenario's start date,
#: block heights are interpolated between these; from it on they follow the scenario's schedule.
HISTORICAL_HEIGHTS = (
    (0, _dt.date(2009, 1, 3)),
    (210_000, _dt.date(2012, 11, 28)),
    (420_000, _dt.date(2016, 7, 9)),
    (630_000, _dt.date(2020, 5, 11)),
    (840_000, _dt.date(2024, 4, 20)),
)


def block_heights(days: np.ndarray, base: Scenario) -> np.ndarray:
    """Block height at each date (days from the scenario's start).

    From the start date on, heights grow at the scenario's ``blocks_per_day``
    from ``start_height``, as in the engine; before it they are interpolated
    between the historical halvings (and genesis) that precede the start.
    """
    proto, start = base.protocol, base.simulation.start
    before = [(h, d) for h, d in HISTORICAL_HEIGHTS if d < start and h < proto.start_height]
    anchor_days = [float((d - start).days) for _, d in before] + [0.0]
    anchor_heights = [float(h) for h, _ in before] + [float(proto.start_height)]
    ahead = proto.start_height + proto.blocks_per_day * days
    if len(anchor_days) == 1:
        return np.maximum(ahead, 0.0)
    behind = np.interp(days, anchor_days, anchor_heights)
    return np.where(days >= 0.0, ahead, behind)


def mean_subsidy(lo: float, hi: float, base: Scenario) -> float:
    """Average subsidy per block over heights [lo, hi), pro-rated across a halving as in the engine."""
    if hi <= lo:
        return block_subsidy_btc(lo, base.protocol)
    return subsidy_between_btc(lo, hi, base.protocol) / (hi - lo)


def fit_hashrate(hashrate: Series, history: History, base: Scenario, log: list[str]) -> tuple[ModelFit, np.ndarray]:
    """Weighted least squares for d ln H = (a + kappa X) dt + sigma sqrt(dt) Z.

    ``X = ln H*_1 - ln H`` where ``H*_1`` is the equilibrium with markup 1:
    ``blocks_per_day (subsidy + F) S / (24 eps p_marg)`` with ``eps`` the
    scenario's network efficiency at the date and ``p_marg`` its marginal
    power price. The markup phi and the growth g enter only through the
    intercept ``a = g - kappa ln phi``.
    """
    hashrate.require("error-correction model", MIN_OBSERVATIONS["ecm"])
    position = np.searchsorted(history.dates, hashrate.dates)
    price = history.values["btc_price"][position]
    fees_per_block = history.values.get("fees")
    if fees_per_block is None:
        fees = np.full(position.size, base.fees.long_run_btc)
    else:
        fees = fees_per_block[position]
    ln_h = np.log(hashrate.values)
    dt = hashrate.dt
    price_known, fees_known = np.isfinite(price[:-1]), np.isfinite(fees[:-1])
    usable = price_known & fees_known
    dropped = int((~usable).sum())
    if dropped:
        missing = " or ".join(name for name, known in (("btc_price", price_known), ("fees", fees_known)) if not known.all())
        warn(
            f"{dropped} hashrate interval{'s' if dropped > 1 else ''} left out of the error-correction fit: "
            f"{missing} missing at the start.",
            log,
        )
    n = int(usable.sum())
    if n < MIN_OBSERVATIONS["ecm"]:
        raise ValidationError(
            f"the hashrate model needs at least {MIN_OBSERVATIONS['ecm']} intervals with btc_price"
            f"{' and fees' if fees_per_block is not None else ''} at their start; the data have {n}."
        )
    hr = base.hashrate
    days = hashrate.t * DAYS_PER_YEAR
    heights = block_heights(days, base)
    subsidy = np.array([mean_subsidy(heights[i], heights[i + 1], base) for i in range(dt.size)])
    log_hstar = log_hstar_coefficient(base.protocol.blocks_per_day, hr, hashrate.t[:-1])
    log_hstar = log_hstar + np.log(subsidy + fees[:-1]) + np.log(price[:-1])
    gap = log_hstar - ln_h[:-1]
    y = np.diff(ln_h)
    root = np.sqrt(dt)
    design = np.column_stack([root, gap * root])[usable]
    target = (y / root)[usable]
    xtx_inv = np.linalg.inv(design.T @ design)
    coef = xtx_inv @ design.T @ target
    resid = target - design @ coef
    rss = float(resid @ resid)
    var = rss / (n - 2)
    cov = var * xtx_inv
    intercept, speed = float(coef[0]), float(coef[1])
    sigma = math.sqrt(var)
    loglik = -0.5 * n * (math.log(2.0 * math.pi * rss / n) + 1.0) - float(np.sum(np.log(root[usable])))
    notes = [
        "H* = blocks_per_day (subsidy + F) S / (24 eps p_marg): subsidy from the halving schedule, "
        f"eps = {hr.efficiency_j_per_th:g} J/TH at {base.simulation.start} improving {hr.efficiency_improvement:g}/year, "
        f"p_marg = {hr.marginal_power_price:g} USD/MWh; the markup phi and growth g are absorbed in the intercept "
        "g - kappa ln phi",
    ]
    if fees_per_block is None:
        notes.append(f"no fees in the data: F = {base.fees.long_run_btc:g} BTC/block (the scenario's long-run level)")
    markup = se_markup = math.nan
    if speed > 0:
        markup = math.exp(-intercept / speed)
        grad = np.array([-1.0 / speed, intercept / speed**2]) * markup
        se_markup = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    estimates = {
        "intercept": Estimate(intercept, math.sqrt(cov[0, 0]), "1/year", "g - kappa ln phi"),
        "speed": Estimate(
            speed, math.sqrt(cov[1, 1]), "1/year", "speed of adjustment toward equilibrium (kappa_H)", "hashrate.speed"
        ),
        "sigma": Estimate(
            sigma, sigma / math.sqrt(2.0 * (n - 2)), "1/sqrt(year)", "volatility of log hashrate", "hashrate.sigma"
        ),
        "markup": Estimate(markup, se_markup, "1", "markup phi implied by the intercept with g = 0", "hashrate.markup"),
    }
    start = to_date(hashrate.dates[:-1][usable][0])
    end = to_date(hashrate.dates[1:][usable][-1])
    model = ModelFit(
        name="hashrate",
        factor="hashrate",
        description="error correction of ln H toward ln H* (weighted least squares)",
        estimates=estimates,
        log_likelihood=loglik,
        n_obs=n,
        start=start,
        end=end,
        frequency=history.frequency,
        notes=tuple(notes),
    )
    shocks = np.full(dt.size, np.nan)
    shocks[usable] = resid / sigma
    return model, shocks
