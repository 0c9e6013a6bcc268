"""Risk and comparison statistics for simulated strategy NPVs.

The simulator returns one NPV per strategy and path, with every strategy
driven by the same random draws on a given path (common random numbers).
:func:`summarize` reduces that ``npv(strategy, path)`` array to per-strategy
risk figures and to pairwise comparisons that exploit the shared draws;
:func:`format_summary` (:mod:`pivotmc.analysis.summary_text`) renders the
result for a terminal. Where the ``switch`` strategy is valued, the summary
adds its option value and, where the result records them, how many paths
convert and when.
"""

from __future__ import annotations

import math
import tomllib
from itertools import combinations
from numbers import Real

import numpy as np
import xarray as xr

from pivotmc.analysis.summary_text import format_summary
from pivotmc.errors import ValidationError, require_dataset
from pivotmc.model.outcomes import option_value_variables, paired_difference, recorded_shares
from pivotmc.model.strategies import learned_strategy

__all__ = ["QUANTILE_PROBS", "format_summary", "pairwise_probabilities", "summarize"]

#: Fixed reporting quantiles, named ``p5``, ``p50`` and ``p95`` in the summary.
QUANTILE_PROBS: dict[str, float] = {"p5": 0.05, "p50": 0.5, "p95": 0.95}

# A tail size n*(1 - level) that should be a whole number of paths (20 paths
# at 95 %) comes out a few ulps off in floating point; without snapping, a
# sliver of the next observation would leak into the tail average.
_TAIL_SNAP_RTOL = 1e-9


def _validate(ds: xr.Dataset, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Check the input and return ``(npv[strategy, path], strategy labels)``."""
    require_dataset(ds, (), "pivotmc.simulate")
    if isinstance(level, bool) or not isinstance(level, Real):
        raise ValidationError(f"level must be a number in (0, 1), got {level!r}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValidationError(f"level must be strictly between 0 and 1, got {level!r}")
    if "npv" not in ds.data_vars:
        raise ValidationError("dataset has no 'npv' variable to summarize")
    npv = ds["npv"]
    if set(npv.dims) != {"strategy", "path"}:
        raise ValidationError(
            f"npv must have exactly the dims ('strategy', 'path'), got {npv.dims}"
        )
    npv = npv.transpose("strategy", "path")
    values = np.asarray(npv.values, dtype=np.float64)
    if values.shape[1] < 2:
        raise ValidationError(
            f"npv needs at least 2 paths for a standard error, got {values.shape[1]}"
        )
    if values.shape[0] < 1:
        raise ValidationError("npv has no strategies")
    if not all(np.isfinite(row).all() for row in values):  # a row at a time: no full-size mask
        raise ValidationError("npv contains NaN or infinite values")
    labels = np.asarray(npv["strategy"].values)
    return values, labels


def _lerp(lo: np.ndarray, hi: np.ndarray, t: float) -> np.ndarray:
    """Interpolate so that the result never leaves ``[lo, hi]`` through rounding."""
    diff = hi - lo
    if t < 0.5:
        return lo + diff * t
    return hi - diff * (1.0 - t)


def _order_stat_positions(n: int, prob: float) -> tuple[int, int, float]:
    """Bracketing order statistics and weight of numpy's 'linear' quantile."""
    virtual = (n - 1) * prob
    lo = min(int(math.floor(virtual)), n - 1)
    hi = min(lo + 1, n - 1)
    return lo, hi, virtual - lo


def _tail_geometry(n: int, level: float) -> tuple[float, int]:
    """Size of the loss tail in paths (possibly fractional) and its boundary index."""
    k = n * (1.0 - level)
    nearest = round(k)
    if nearest >= 1 and abs(k - nearest) <= _TAIL_SNAP_RTOL * max(1.0, k):
        k = float(nearest)
    # m whole observations lie fully in the tail; observation m carries the
    # remaining weight k - m, which is what makes CVaR continuous in level.
    m = min(int(math.floor(k)), n - 1)
    return k, m


def _binomial_se(p: np.ndarray | float, n: int) -> np.ndarray:
    return np.sqrt(np.asarray(p) * (1.0 - np.asarray(p)) / n)


def pairwise_probabilities(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(row a > row b) and P(row a == row b) over the columns (paths), every ordered pair; NaN on the diagonal."""
    k, n = values.shape
    greater = np.full((k, k), np.nan)
    equal = np.full((k, k), np.nan)
    for a, b in combinations(range(k), 2):
        greater[a, b] = np.count_nonzero(values[a] > values[b]) / n
        greater[b, a] = np.count_nonzero(values[b] > values[a]) / n
        equal[a, b] = equal[b, a] = np.count_nonzero(values[a] == values[b]) / n
    return greater, equal


def summarize(ds: xr.Dataset, level: float = 0.95) -> xr.Dataset:
    """Per-strategy risk statistics and pairwise comparisons of simulated NPVs.

    Parameters
    ----------
    ds : xarray.Dataset
        Simulation result holding ``npv`` with dims ``(strategy, path)`` in
        USD (any dim order). Other variables are ignored, but for the
        switch strategy's conversions (see below).
    level : float, default 0.95
        Confidence level of the Value at Risk and expected shortfall,
        strictly between 0 and 1. It does not move the fixed reporting
        quantiles ``p5``, ``p50`` and ``p95``.

    Returns
    -------
    xarray.Dataset
        Variables over ``strategy``:

        ``mean``, ``mean_se`` (``sd / sqrt(n)``), ``sd`` (sample, ddof=1)
            Moments of NPV, USD. Every standard error is named for its
            figure with ``_se`` appended.
        ``p5``, ``p50``, ``p95``
            NPV quantiles at 0.05, 0.5 and 0.95, USD, always at those
            probabilities whatever ``level`` is.
        ``var``
            Value at Risk at ``level`` of the loss ``L = -NPV`` measured from
            zero NPV: ``-quantile(NPV, 1 - level)``. Positive means a loss.
            Because ``Dataset.var`` is a method, read it as ``summary["var"]``.
        ``cvar``
            Expected shortfall at ``level``: the mean of ``L`` over the worst
            ``1 - level`` fraction of paths, computed exactly on the empirical
            distribution. The tail holds ``k = n (1 - level)`` paths; when
            ``k`` is not whole the boundary observation enters with weight
            ``k - floor(k)``, so ``cvar`` is continuous in ``level``. It is
            never below ``var``.
        ``prob_loss``, ``prob_loss_se``
            ``P(NPV < 0)`` (zero NPV is not a loss) and its binomial standard
            error ``sqrt(p (1 - p) / n)``, dimensionless.

        Variables over ``(strategy, versus)``, where ``versus`` carries the
        same labels as ``strategy``; entry ``[a, b]`` compares ``a`` with
        ``b`` path by path, which is valid because all strategies share the
        random draws of a path. The diagonal is NaN (a strategy is not
        compared with itself).

        ``prob_greater``, ``prob_greater_se``
            ``P(NPV_a > NPV_b)`` with binomial standard error. Ties count as
            not greater, so ``P(a > b) + P(b > a)`` can be below 1.
        ``prob_equal``
            ``P(NPV_a == NPV_b)``, the ties, so that
            ``P(a > b) + P(b > a) + P(a == b) = 1``. Switch ties with mine on
            every path on which it never converts.
        ``mean_difference``, ``mean_difference_se``
            Mean of ``NPV_a - NPV_b`` and the standard error
            ``sd(NPV_a - NPV_b) / sqrt(n)``. With common random numbers this
            is usually far smaller than the error implied by the two
            strategies' own standard errors.

        Where ``switch`` and at least one of ``mine`` and ``host`` are valued
        (scalars; :func:`pivotmc.model.outcomes.option_value`):

        ``option_value``, ``option_value_se``
            The value of the option to wait: the mean pathwise difference of
            switch and the best static strategy (mine, host, cloud) by mean NPV (named in the
            attribute ``compared_with``), and its standard error; the entry of
            ``mean_difference`` for that pair.

        Where the dataset also records the switch's conversions
        (``switch_share(decision)`` with the coordinate ``decision_time``, or
        ``switch_decision(path)``):

        ``switch_converted``
            Share of paths on which the switch converts.
        ``switch_action_converted(action)``
            Share of paths on which it converts to each action (host, cloud),
            where the result records ``switch_action_share``.
        ``switch_median_time``, ``switch_median_date``
            The decision date by which half of the converting paths have
            converted (years from the start, and the date where
            ``decision_date`` is recorded); NaN (NaT) where none converts.

        Every variable carries a ``long_name`` and, but for the date,
        ``units`` (``"USD"``, ``"1"`` or ``"years"``) attributes; the dataset
        attributes record ``n_paths``, ``level`` and ``quantile_method``,
        and, where ``ds`` is a simulation result that records them, how it
        was made: ``seed``, ``backend`` and ``pivotmc_version`` as they are,
        and from its ``scenario`` the main assumptions ``start_date``,
        ``horizon_years``, ``steps_per_year``, ``discount_rate`` and
        ``site_grid_mw``.

    Raises
    ------
    ValueError
        (as :class:`pivotmc.errors.ValidationError`) if ``npv`` is missing,
        has other dims, has fewer than two paths, holds NaN or infinity, or
        ``level`` is not in (0, 1).

    Notes
    -----
    Quantiles use numpy's ``'linear'`` method (type 7 of Hyndman and Fan):
    the ``p``-quantile of ``n`` sorted values ``x_0 <= ... <= x_{n-1}`` is
    the linear interpolation at position ``(n - 1) p``. Each strategy's
    values are ordered once with a single multi-pivot ``np.partition`` that
    places every order statistic the quantiles and the shortfall tail need,
    which is linear rather than ``n log n`` in the number of paths.
    """
    values, labels = _validate(ds, level)
    level = float(level)
    n_strat, n = values.shape
    sqrt_n = math.sqrt(n)

    # Strategy by strategy, so that temporaries are one row (0.8 GB at 1e8 paths),
    # never a copy of the whole array.
    mean = np.array([row.mean() for row in values])
    sd = np.array([row.std(ddof=1) for row in values])

    quantile_probs = dict(QUANTILE_PROBS)
    quantile_probs["_var"] = 1.0 - level
    brackets = {name: _order_stat_positions(n, p) for name, p in quantile_probs.items()}
    k_tail, m_tail = _tail_geometry(n, level)
    kth = sorted({i for lo, hi, _ in brackets.values() for i in (lo, hi)} | {m_tail})
    order_stats = np.empty((n_strat, len(kth)))
    boundary = np.empty(n_strat)
    excess = np.empty(n_strat)
    for s_index, row in enumerate(values):
        ordered = np.partition(row, kth)
        order_stats[s_index] = ordered[kth]
        # Summing deviations from the boundary observation (all <= 0 after the
        # partition) keeps the tail mean exact for flat tails and avoids
        # cancellation when NPVs are large compared with their spread.
        boundary[s_index] = ordered[m_tail]
        excess[s_index] = (ordered[:m_tail] - ordered[m_tail]).sum()
        del ordered
    position = {k: i for i, k in enumerate(kth)}

    quantiles = {
        name: _lerp(order_stats[:, position[lo]], order_stats[:, position[hi]], t)
        for name, (lo, hi, t) in brackets.items()
    }
    var = -quantiles.pop("_var")
    tail_mean = boundary + excess / k_tail
    # CVaR >= VaR holds exactly for this estimator and numpy's linear
    # quantile; the clamp only removes last-bit rounding differences.
    cvar = np.maximum(-tail_mean, var)

    prob_loss = np.array([np.count_nonzero(row < 0.0) for row in values]) / n

    prob_greater, prob_equal = pairwise_probabilities(values)
    mean_diff = np.full((n_strat, n_strat), np.nan)
    mean_diff_se = np.full((n_strat, n_strat), np.nan)
    for i, j in combinations(range(n_strat), 2):
        a, b = values[i], values[j]
        d_mean, d_sd = paired_difference(a, b)
        d_se = d_sd / sqrt_n
        mean_diff[i, j], mean_diff[j, i] = d_mean, 0.0 - d_mean  # not -d_mean: no "-0.0" for equal strategies
        mean_diff_se[i, j] = mean_diff_se[j, i] = d_se

    usd = "USD"
    one = "1"
    pct = f"{level:.10g}"

    def per(data: np.ndarray, units: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            data, dims=("strategy",), attrs={"units": units, "long_name": long_name}
        )

    def pair(data: np.ndarray, units: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            data, dims=("strategy", "versus"), attrs={"units": units, "long_name": long_name}
        )

    out = xr.Dataset(
        {
            "mean": per(mean, usd, "mean NPV"),
            "mean_se": per(sd / sqrt_n, usd, "standard error of the mean NPV"),
            "sd": per(sd, usd, "sample standard deviation of NPV (ddof=1)"),
            "p5": per(quantiles["p5"], usd, "5th percentile of NPV"),
            "p50": per(quantiles["p50"], usd, "median NPV"),
            "p95": per(quantiles["p95"], usd, "95th percentile of NPV"),
            "var": per(var, usd, f"value at risk at level {pct} (loss below zero NPV)"),
            "cvar": per(cvar, usd, f"expected shortfall at level {pct} (mean tail loss)"),
            "prob_loss": per(prob_loss, one, "probability that NPV < 0"),
            "prob_loss_se": per(
                _binomial_se(prob_loss, n), one, "binomial standard error of prob_loss"
            ),
            "prob_greater": pair(
                prob_greater, one, "probability that NPV(strategy) > NPV(versus), pathwise"
            ),
            "prob_greater_se": pair(
                _binomial_se(prob_greater, n), one, "binomial standard error of prob_greater"
            ),
            "prob_equal": pair(
                prob_equal, one, "probability that NPV(strategy) == NPV(versus), pathwise (ties)"
            ),
            "mean_difference": pair(
                mean_diff, usd, "mean pathwise NPV(strategy) - NPV(versus)"
            ),
            "mean_difference_se": pair(
                mean_diff_se, usd, "standard error of mean_difference (pathwise)"
            ),
        },
        coords={"strategy": labels, "versus": labels.copy()},
        attrs={
            "n_paths": int(n),
            "level": level,
            "quantile_method": "linear",
            "loss_convention": "loss = -NPV; var and cvar are positive for losses",
            **_run_attrs(ds.attrs),
        },
    )
    names = [str(s) for s in labels]
    if learned_strategy(names) is not None:
        out = out.assign(option_value_variables(lambda name: values[names.index(name)], names))
        out = out.assign(_conversions(ds, n))
    return out


#: Attributes of a simulation result that a summary restates as they are.
_RUN_ATTRS = ("seed", "backend", "pivotmc_version")
#: Main assumptions a summary restates, from the result's scenario: (section, key, summary attribute).
_ASSUMPTIONS = (
    ("simulation", "start", "start_date"),
    ("simulation", "horizon_years", "horizon_years"),
    ("simulation", "steps_per_year", "steps_per_year"),
    ("simulation", "discount_rate", "discount_rate"),
    ("site", "grid_mw", "site_grid_mw"),
)


def _run_attrs(attrs: dict) -> dict:
    """What a summary needs to say how the result was made: the run's settings and main assumptions."""
    out = {key: attrs[key] for key in _RUN_ATTRS if key in attrs}
    text = attrs.get("scenario")
    if isinstance(text, str):
        try:
            scenario = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            scenario = {}
        for section, key, name in _ASSUMPTIONS:
            value = scenario.get(section, {}).get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[name] = value
            elif value is not None:
                out[name] = str(value)  # the start date
    return out


def _conversions(ds: xr.Dataset, n: int) -> dict:
    """Share of paths on which the switch converts, and the median date among those."""
    shares = recorded_shares(ds)
    if shares is None:
        return {}
    counts = np.rint(shares * n).astype(np.int64)  # shares are count / n, correctly rounded: exact
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    total = int(counts.sum())
    dates = ds["decision_date"].values if "decision_date" in ds.coords else None
    if total:
        median = int(np.argmax(2 * np.cumsum(counts) >= total))
        time, date = float(times[median]), (dates[median] if dates is not None else None)
    else:
        time, date = math.nan, np.datetime64("NaT", "ns")
    out = {
        "switch_converted": xr.DataArray(
            total / n, attrs={"units": "1", "long_name": "share of paths on which the switch converts"}
        ),
        "switch_median_time": xr.DataArray(
            time,
            attrs={"units": "years", "long_name": "decision time by which half of the converting paths have converted"},
        ),
    }
    by_action = ds.get("switch_action_share")
    if by_action is not None and by_action.dims == ("action", "decision"):
        per_action = np.rint(np.asarray(by_action.values, dtype=np.float64) * n).astype(np.int64).sum(axis=1)
        out["switch_action_converted"] = xr.DataArray(
            per_action / n, dims=("action",), coords={"action": by_action["action"].values},
            attrs={"units": "1", "long_name": "share of paths on which the switch converts to the action"},
        )
    if dates is not None:
        out["switch_median_date"] = xr.DataArray(
            np.datetime64(date, "ns"), attrs={"long_name": "decision date by which half of the converting paths have converted"}
        )
    return out
