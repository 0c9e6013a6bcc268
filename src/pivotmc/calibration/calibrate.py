"""Calibration: fit pivotmc's market models to history, with standard errors.

:func:`calibrate` reads a table of dated observations (:mod:`.history`) and
fits, for each factor it finds, exactly the dynamics the engine simulates (see
:mod:`pivotmc.model.plan`), one module per model:

``btc_price``
    Merton jump-diffusion by maximum likelihood (:mod:`.merton`), with the
    log-normal as the nested case and a likelihood-ratio test between them
    (:mod:`.btc`).
``fees``, ``power_price``, ``lease_rate``, ``gpu_price``
    Log-OU processes by exact Gaussian likelihood (:mod:`.log_ou`): a constant
    level (:mod:`.fees`), calendar-month multipliers (:mod:`.power`), a level
    drifting at a constant trend (:mod:`.trending`: the lease rate and the GPU
    rental price, one model).
``hashrate``
    The error-correction model toward the engine's price-implied equilibrium,
    by weighted least squares (:mod:`.hashrate`).

Shocks of every fitted model are correlated pairwise over the intervals two
series share (:mod:`.correlation`). Estimates become scenario overrides
(:mod:`.overrides`); the scenario starts where the data end (:mod:`.start`).
The result (:mod:`.result`) prints as text (:mod:`.render`) and writes the
calibrated scenario as commented TOML (:mod:`.toml`).

Time is measured in Julian years of 365.25 days, as in the engine; each
interval between two observations has its own time step, so a gap is handled
by the model's own transition over the longer step, never by filling.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from pivotmc.calibration.btc import fit_btc
from pivotmc.calibration.correlation import correlate, correlation_overrides, shock_frame
from pivotmc.calibration.fees import fit_fees
from pivotmc.calibration.fit import Estimate, LikelihoodRatioTest, ModelFit
from pivotmc.calibration.hashrate import fit_hashrate
from pivotmc.calibration.history import COLUMNS, FREQUENCIES, Series, read_history, to_date
from pivotmc.calibration.overrides import fitted_overrides
from pivotmc.calibration.power import fit_power
from pivotmc.calibration.result import CalibrationResult
from pivotmc.calibration.start import start_from_data, take_starting_values
from pivotmc.calibration.trending import GPU, LEASE, fit_trending
from pivotmc.errors import CalibrationWarning, ValidationError
from pivotmc.model.scenario import Scenario

__all__ = [
    "calibrate",
    "CalibrationResult",
    "ModelFit",
    "Estimate",
    "LikelihoodRatioTest",
    "CalibrationWarning",
    "COLUMNS",
]


def calibrate(
    data: pd.DataFrame | str | os.PathLike,
    base: Scenario | None = None,
    *,
    fees_unit: str | None = None,
    frequency: str | None = None,
    power_seasonality: bool | None = None,
    jump_test_level: float = 0.05,
    fit_markup: bool = False,
    fit_drift: bool = False,
    jump_intensity: float | None = None,
    max_jump_intensity: float | None = None,
    set_start: bool = True,
    set_initial: bool = True,
) -> CalibrationResult:
    """Fit pivotmc's market models to historical data.

    Parameters
    ----------
    data : pandas.DataFrame or path
        A table (or CSV file) with a ``date`` column (``YYYY-MM-DD``, one row
        per date, increasing) and any of ``btc_price`` (USD), ``hashrate``
        (EH/s), ``fees`` (BTC per block or per day, see ``fees_unit``),
        ``power_price`` (USD/MWh), ``lease_rate`` (USD per kW-month) and
        ``gpu_price`` (USD per GPU-hour, H100-equivalent).
        Empty cells are missing observations. A DataFrame indexed by date
        works too.
    base : Scenario, optional
        The scenario the fit is made for (:meth:`Scenario.default` if
        omitted). Its start date is t = 0 for the lease and GPU levels and
        the network efficiency; its protocol, network efficiency and marginal
        power price define the hashrate equilibrium.
    fees_unit : {"block", "day"}, optional
        Whether ``fees`` are BTC per block or per day (divided by the base's
        ``blocks_per_day``). Required when ``fees`` is present.
    frequency : {"daily", "weekly", "monthly"}, optional
        The frequency you expect; it is inferred from the median spacing of
        the dates either way, and a mismatch is an error.
    power_seasonality : bool, optional
        Fit twelve monthly levels of the power price. By default they are
        fitted when every calendar month is observed in at least two years
        and there are at least 60 observations.
    jump_test_level : float
        Level of the likelihood-ratio test of jumps in the BTC price: the
        Merton estimates go into ``overrides`` when the test rejects the
        log-normal at this level, else the log-normal ones (and no jumps).
    fit_markup : bool
        Put the markup phi implied by the hashrate intercept (with growth
        g = 0) into ``overrides``. By default the scenario keeps its own
        markup (``"equilibrium"``: the network starts in equilibrium) and only
        the speed and volatility of the hashrate are taken from the fit.
    fit_drift : bool
        Put the estimated drift of the BTC price into ``btc.mu``. By default
        it is estimated and printed with its standard error, marked as not
        applied, and the scenario keeps its own ``mu``: a historical drift
        (about 0.7 a year over 2015-25, with a standard error of 0.2) is not a
        forecast.
    jump_intensity : float, optional
        Fix the jump intensity lambda (jumps per year, 0 to 365) and fit the
        other Merton parameters given it; 0 fits the log-normal only.
    max_jump_intensity : float, optional
        Bound the jump intensity above (jumps per year, above 0.001); the
        Merton model is fitted by the same likelihood within the bound.
    set_start : bool
        Start the scenario the day after the last date of the data:
        ``simulation.start`` moves there and ``protocol.start_height`` moves
        with it along the base's block schedule (historical halvings before
        the base's start, ``blocks_per_day`` after it). Otherwise the base's
        start date and height are kept.
    set_initial : bool
        Set each factor's value at t = 0 (``btc.price``, ``fees.initial_btc``,
        ``hashrate.initial_ehs``, ``power.price``, ``hosting.lease_rate``,
        ``gpu.price``) from the last observation of its column, when that
        observation lies within one step of the end of the data.

    Returns
    -------
    CalibrationResult
        Estimates with standard errors per model, ``overrides``, the
        correlation of the fitted shocks, and the jump test.

    Raises
    ------
    ValidationError
        Unsorted or repeated dates, non-positive or non-numeric values,
        unknown columns, mixed frequencies, too few observations for a
        model, fees without a stated unit, hashrate without BTC prices.

    Warns
    -----
    CalibrationWarning
        Gaps (each interval is fitted with its own time step), too few
        observations for the jump model or for seasonality, correlations
        left at 0 or adjusted, estimates a scenario cannot accept (that
        model's values are then left out of ``overrides``), a weakly
        identified jump model (see Notes), starting values observed far from
        the start date.

    Notes
    -----
    BTC price. The Merton transition density over a step ``dt`` is a Poisson
    mixture of normals, ``sum_n Pois(n; lambda dt) N(r; (mu - sigma^2/2 -
    lambda kbar) dt + n m_J, sigma^2 dt + n s_J^2)``; the sum stops at the
    jump count beyond which the Poisson tail is below 1e-12. The likelihood
    is maximised with L-BFGS-B (analytic gradient, bounded, four starting
    points) and standard errors come from the observed information. The
    log-normal is the case lambda = 0; the likelihood-ratio test uses a
    chi-square law with 3 degrees of freedom, an approximation because
    lambda = 0 lies on the boundary of the parameter space and the jump size
    parameters are then not identified (Davies' problem): treat p-values near
    the level with care. Shocks for the correlation are the diffusion shocks
    given the return, ``E[Z | r]``. With ``jump_intensity`` fixed the test has 2
    degrees of freedom; either constraint leaves the choice between the two
    models to the test.

    Weak identification. When the Merton fit is used, a CalibrationWarning
    says it is weakly identified if any of these holds: more than
    ``WEAK_JUMPS_PER_INTERVAL`` (0.1) jumps are expected per observation
    interval, so jumps are no rare events (daily data: above 36.5 a year); a
    typical jump, ``sqrt(m_J^2 + s_J^2)``, is under ``WEAK_JUMP_SIZE`` (3)
    diffusion standard deviations of one interval, ``sigma sqrt(dt)``, the
    usual bound of an outlier, so most jumps cannot be told from the
    diffusion's own moves; or the
    standard error of the intensity or of the jump standard deviation is
    over ``WEAK_RELATIVE_SE`` (0.5) times the estimate. Daily BTC 2015-25
    meets the first: about 250 jumps a year (0.7 a day) of about 3.1 daily
    standard deviations, a fat-tailed diffusion rather than rare jumps. A fixed
    intensity, or one at its bound, is not judged.

    Starting values. The last value of a column is taken as the state at the
    end of its date, so the start is the day after. Parameters that hold "at
    t = 0" and are not fitted (``DATED_LEVELS``: the network and frontier
    efficiencies, the lease and GPU levels when their columns are not in the
    data) are not moved with the start date; the result lists them.

    Fees, power, lease, GPU. Exact conditional Gaussian likelihood of the log-OU
    transition ``x_{i+1} - m_{i+1} = e^{-k dt}(x_i - m_i) + noise`` with
    variance ``sigma^2 (1 - e^{-2 k dt}) / (2 k)``, the level ``m`` being a
    constant (fees), twelve monthly log-levels (power; the multipliers are
    normalised to a geometric mean of 1) or a line in time (lease, GPU). The
    level and sigma are profiled out; the speed is found by a grid and Brent's
    method. Standard errors from the observed information. When the speed
    times the sample length is small (tens), the speed is biased upward by
    roughly 4 / T per year for T years of data, and the standard errors of
    the level and the trend, which scale with 1 / speed, understate their
    uncertainty (by about 1.7 times for the lease at k T = 10 to 20 in
    simulation). A value counts toward the calendar month of its date, so
    date monthly averages by any day of their own month.

    GPU. ``gpu_price`` is the price of one standard good (an H100-equivalent
    GPU-hour). An index of list prices (rate cards) moves in steps and sits
    above what GPU-hours sell for: it measures the trend, speed and
    volatility, but its levels (``gpu.long_run``, and ``gpu.price`` from the
    last observation) are list prices. Three years of monthly data (k T
    about 6) leave the speed biased upward by about 4 / T, some 1.3 a year.

    Hashrate. ``ln H_{i+1} - ln H_i = (a + kappa (ln H*_i - ln H_i)) dt_i +
    sigma sqrt(dt_i) Z`` by weighted least squares with OLS standard errors,
    where ``H*`` is the equilibrium with markup 1 (see ``hashrate`` in the
    README's model summary): the markup phi and the growth g are not
    separately identified and enter as the intercept ``a = g - kappa ln phi``.
    Block heights before the base's start date are interpolated between the
    historical halvings. Daily hashrate is itself an estimate from blocks
    found (about 9% noise a day); that noise biases kappa upward, so fit
    weekly or monthly means.
    """
    base = Scenario.default() if base is None else base
    _check_arguments(base, fees_unit, frequency, jump_test_level, jump_intensity, max_jump_intensity)
    log: list[str] = []
    history = read_history(
        data, fees_unit=fees_unit, frequency=frequency, blocks_per_day=base.protocol.blocks_per_day, log=log
    )

    # The start date comes first: the fits measure time from it (the lease and GPU levels, the network
    # efficiency) and the hashrate model reads block heights off the schedule that ends there.
    start = start_from_data(base, history.last, set_start)
    series = history.series(start.base.simulation.start)
    models: dict[str, ModelFit] = {}
    shocks: dict[str, pd.DataFrame] = {}

    def add_shocks(factor: str, s: Series, z: np.ndarray) -> None:
        shocks[factor] = shock_frame(s.dates[:-1], s.dates[1:], z)

    jump_test, why_no_jumps = None, ""
    if "btc_price" in series:
        btc = fit_btc(
            series["btc_price"], history.frequency, log,
            jump_intensity=jump_intensity, max_jump_intensity=max_jump_intensity, jump_test_level=jump_test_level,
        )
        models.update(btc.models)
        jump_test, why_no_jumps = btc.jump_test, btc.why_no_jumps
        add_shocks("btc", series["btc_price"], btc.shocks)
    if "fees" in series:
        models["fees"], z = fit_fees(series["fees"], history.frequency, log)
        add_shocks("fees", series["fees"], z)
    if "hashrate" in series:
        models["hashrate"], z = fit_hashrate(series["hashrate"], history, start.base, log)
        add_shocks("hashrate", series["hashrate"], z)
    if "power_price" in series:
        models["power"], z = fit_power(series["power_price"], history.frequency, power_seasonality, log)
        add_shocks("power", series["power_price"], z)
    for spec in (LEASE, GPU):
        if spec.column in series:
            models[spec.name], z = fit_trending(spec, series[spec.column], history.frequency, log)
            add_shocks(spec.name, series[spec.column], z)
    correlation, correlation_nobs = correlate(shocks, log)

    overrides, fit_notes, drift_not_set = fitted_overrides(
        models, jump_test, why_no_jumps, start.base, fit_markup=fit_markup, fit_drift=fit_drift, log=log
    )
    start.not_set.update(drift_not_set)
    if len(correlation) > 1:
        span = f"{to_date(history.dates[0]).isoformat()} to {to_date(history.dates[-1]).isoformat()}"
        matrix, note = correlation_overrides(correlation, correlation_nobs, span)
        overrides.update(matrix)
        fit_notes.update(note)
    take_starting_values(
        start, series, overrides, set_initial=set_initial, fees_unit=fees_unit, frequency=history.frequency, log=log
    )
    overrides = {**start.set_from_data, **overrides}
    base.with_overrides(overrides)  # the pieces were each valid; so must the whole be

    return CalibrationResult(
        models=models,
        overrides=overrides,
        correlation=correlation,
        correlation_nobs=correlation_nobs,
        jump_test=jump_test,
        frequency=history.frequency,
        base=base,
        warnings=log,
        source=history.source,
        set_from_data=start.set_from_data,
        not_set=start.not_set,
        last_date=to_date(history.last),
        _fit_notes=fit_notes,
        _set_reasons=start.reasons,
    )


def _check_arguments(
    base: Any,
    fees_unit: str | None,
    frequency: str | None,
    jump_test_level: float,
    jump_intensity: float | None,
    max_jump_intensity: float | None,
) -> None:
    """Refuse arguments :func:`calibrate` cannot use, before the data are read."""
    if not isinstance(base, Scenario):
        raise ValidationError(f"base must be a pivotmc.Scenario, got {type(base).__name__}.")
    if frequency is not None and frequency not in FREQUENCIES:
        raise ValidationError(f"frequency = {frequency!r} is not allowed: it must be one of daily, weekly, monthly.")
    if fees_unit is not None and fees_unit not in ("block", "day"):
        raise ValidationError(f"fees_unit = {fees_unit!r} is not allowed: it must be 'block' or 'day'.")
    if not (0.0 < jump_test_level < 1.0):
        raise ValidationError(f"jump_test_level = {jump_test_level!r} is not allowed: it must be in (0, 1).")
    if jump_intensity is not None and max_jump_intensity is not None:
        raise ValidationError("give jump_intensity (a fixed value) or max_jump_intensity (a bound), not both.")
    if jump_intensity is not None and not (_is_real(jump_intensity) and 0.0 <= jump_intensity <= 365.0):
        raise ValidationError(
            f"jump_intensity = {jump_intensity!r} is not allowed: it must be a number of jumps a year from 0 to 365."
        )
    if max_jump_intensity is not None and not (_is_real(max_jump_intensity) and 1e-3 < max_jump_intensity <= 365.0):
        raise ValidationError(
            f"max_jump_intensity = {max_jump_intensity!r} is not allowed: "
            "it must be a number of jumps a year above 0.001 and at most 365."
        )


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)
