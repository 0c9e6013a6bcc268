"""Risk and comparison statistics for simulated strategy NPVs.

The simulator returns one NPV per strategy and path, with every strategy
driven by the same random draws on a given path (common random numbers).
:func:`summarize` reduces that ``npv(strategy, path)`` array to per-strategy
risk figures and to pairwise comparisons that exploit the shared draws;
:func:`format_summary` renders the result for a terminal. Where the ``switch``
strategy is valued, the summary adds its option value and, where the result
records them, how many paths convert and when.
"""

from __future__ import annotations

import math
from itertools import combinations
from numbers import Real

import numpy as np
import xarray as xr

from pivotmc.errors import ValidationError
from pivotmc.switch import STATIC_STRATEGIES

__all__ = ["QUANTILE_PROBS", "format_summary", "summarize"]

#: Fixed reporting quantiles, named ``p5``, ``p50`` and ``p95`` in the summary.
QUANTILE_PROBS: dict[str, float] = {"p5": 0.05, "p50": 0.5, "p95": 0.95}

# A tail size n*(1 - level) that should be a whole number of paths (20 paths
# at 95 %) comes out a few ulps off in floating point; without snapping, a
# sliver of the next observation would leak into the tail average.
_TAIL_SNAP_RTOL = 1e-9


def _validate(ds: xr.Dataset, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Check the input and return ``(npv[strategy, path], strategy labels)``."""
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


_BLOCK = 1 << 22


def _difference_moments(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and sample sd of ``a - b``, two passes over blocks (no full-size temporary)."""
    n = a.size
    if n <= _BLOCK:
        diff = a - b
        return float(diff.mean()), float(diff.std(ddof=1))
    total = sum(float((a[i : i + _BLOCK] - b[i : i + _BLOCK]).sum()) for i in range(0, n, _BLOCK))
    mean = total / n
    squares = sum(float(np.square(a[i : i + _BLOCK] - b[i : i + _BLOCK] - mean).sum()) for i in range(0, n, _BLOCK))
    return mean, math.sqrt(squares / (n - 1))


def _binomial_se(p: np.ndarray | float, n: int) -> np.ndarray:
    return np.sqrt(np.asarray(p) * (1.0 - np.asarray(p)) / n)


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

        ``mean``, ``sd`` (sample, ddof=1), ``std_error`` (``sd / sqrt(n)``)
            Moments of NPV, USD.
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
        ``mean_difference``, ``mean_difference_se``
            Mean of ``NPV_a - NPV_b`` and the standard error
            ``sd(NPV_a - NPV_b) / sqrt(n)``. With common random numbers this
            is usually far smaller than the error implied by the two
            strategies' own standard errors.

        Where ``switch`` and at least one of ``mine`` and ``host`` are valued
        (scalars):

        ``option_value``, ``option_value_se``
            The value of the option to wait: the mean pathwise difference of
            switch and the better of mine and host by mean NPV (named in the
            attribute ``compared_with``), and its standard error; the entry of
            ``mean_difference`` for that pair.

        Where the dataset also records the switch's conversions
        (``switch_share(decision)`` with the coordinate ``decision_time``, or
        ``switch_decision(path)``):

        ``switch_converted``
            Share of paths on which the switch converts.
        ``switch_median_time``, ``switch_median_date``
            The decision date by which half of the converting paths have
            converted (years from the start, and the date where
            ``decision_date`` is recorded); NaN (NaT) where none converts.

        Every variable carries a ``long_name`` and, but for the date,
        ``units`` (``"USD"``, ``"1"`` or ``"years"``) attributes; the dataset
        attributes record ``n_paths``, ``level`` and ``quantile_method``.

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

    prob_greater = np.full((n_strat, n_strat), np.nan)
    mean_diff = np.full((n_strat, n_strat), np.nan)
    mean_diff_se = np.full((n_strat, n_strat), np.nan)
    for i, j in combinations(range(n_strat), 2):
        a, b = values[i], values[j]
        prob_greater[i, j] = np.count_nonzero(a > b) / n
        prob_greater[j, i] = np.count_nonzero(b > a) / n
        d_mean, d_sd = _difference_moments(a, b)
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
            "std_error": per(sd / sqrt_n, usd, "standard error of the mean NPV"),
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
        },
    )
    names = [str(s) for s in labels]
    if "switch" in names:
        out = out.assign(_option_value(names, mean, mean_diff, mean_diff_se))
        out = out.assign(_conversions(ds, n))
    return out


def _option_value(names: list[str], mean: np.ndarray, mean_diff: np.ndarray, mean_diff_se: np.ndarray) -> dict:
    """The switch's option value: its pathwise mean difference with the better static strategy."""
    static = [s for s in STATIC_STRATEGIES if s in names]
    if not static:
        return {}
    best = max(static, key=lambda s: mean[names.index(s)])
    i, j = names.index("switch"), names.index(best)
    attrs = {"units": "USD", "compared_with": best}
    return {
        "option_value": xr.DataArray(
            mean_diff[i, j], attrs={**attrs, "long_name": f"value of the option to wait: mean pathwise NPV of switch - {best}"}
        ),
        "option_value_se": xr.DataArray(
            mean_diff_se[i, j], attrs={**attrs, "long_name": "standard error of option_value (pathwise)"}
        ),
    }


def _conversion_counts(ds: xr.Dataset, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Paths converting at each decision date and the dates' times, if the dataset records them."""
    if "decision_time" not in ds.coords:
        return None
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    if "switch_share" in ds and ds["switch_share"].dims == ("decision",):
        # share = count / n, correctly rounded: the counts come back exactly.
        return np.rint(np.asarray(ds["switch_share"].values, dtype=np.float64) * n).astype(np.int64), times
    if "switch_decision" in ds and ds["switch_decision"].dims == ("path",):
        decision = np.asarray(ds["switch_decision"].values)
        return np.bincount(decision[decision >= 0].astype(np.int64), minlength=times.size), times
    return None


def _conversions(ds: xr.Dataset, n: int) -> dict:
    """Share of paths on which the switch converts, and the median date among those."""
    found = _conversion_counts(ds, n)
    if found is None:
        return {}
    counts, times = found
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
    if dates is not None:
        out["switch_median_date"] = xr.DataArray(
            np.datetime64(date, "ns"), attrs={"long_name": "decision date by which half of the converting paths have converted"}
        )
    return out


# ---------------------------------------------------------------------------
# Text rendering
# ---------------------------------------------------------------------------

_DASH = "-"


def _se_decimals(se: float, floor: int) -> int:
    """Decimals that show a standard error to two significant figures."""
    if not math.isfinite(se) or se <= 0.0:
        return floor
    return int(min(8, max(floor, math.ceil(-math.log10(se)) + 1)))


def _fmt_pm(value: float, se: float, floor: int) -> str:
    if not math.isfinite(value):
        return _DASH
    d = _se_decimals(se, floor)
    return f"{value:,.{d}f} ± {se:,.{d}f}"


def _fmt_num(value: float, decimals: int) -> str:
    return _DASH if not math.isfinite(value) else f"{value:,.{decimals}f}"


def _fmt_pct(value: float) -> str:
    return _DASH if not math.isfinite(value) else f"{100.0 * value:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Align a first text column left and the remaining columns right."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = []
    for r_idx, row in enumerate([header, *rows]):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if r_idx == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _switch_lines(summary: xr.Dataset, scale: float, unit_label: str) -> list[str]:
    """The option value and the conversions of the switch, a line each, where the summary has them."""
    lines = []
    if "option_value" in summary:
        best = summary["option_value"].attrs.get("compared_with", "the better static strategy")
        value = float(summary["option_value"]) / scale
        se = float(summary["option_value_se"]) / scale
        static = [s for s in STATIC_STRATEGIES if s in summary["strategy"].values]
        versus = f"switch - {best}, the better of {' and '.join(static)} by mean" if len(static) > 1 else f"switch - {best}"
        lines.append(f"Option to wait ({versus}): {_fmt_pm(value, se, 1)} {unit_label}, pathwise")
    if "switch_converted" in summary:
        share = float(summary["switch_converted"])
        if share > 0.0:
            when = f"year {float(summary['switch_median_time']):.2f}"
            if "switch_median_date" in summary:
                when = f"{np.datetime_as_string(summary['switch_median_date'].values, unit='D')} ({when})"
            lines.append(f"Switch converts on {_fmt_pct(share)} of paths; half of those by {when}")
        else:
            lines.append("Switch converts on no path: it mines throughout")
    return [""] + lines if lines else []


def format_summary(summary: xr.Dataset, scale: float = 1e6, unit_label: str = "USD m") -> str:
    """Render a :func:`summarize` result as an aligned plain-text report.

    Parameters
    ----------
    summary : xarray.Dataset
        Output of :func:`summarize`.
    scale : float, default 1e6
        Money amounts are divided by this before printing.
    unit_label : str, default "USD m"
        Unit name printed for the scaled amounts.

    Returns
    -------
    str
        A header line with the number of paths, a per-strategy table (mean
        with its standard error, sd, P5, P50, P95, VaR, CVaR, P(loss)), the
        matrix of pathwise ``P(row > column)`` and the matrix of pathwise mean
        differences ``row - column`` with standard errors. Where the summary
        has them, a line with the switch's option value (and the strategy it
        is compared with) and one with the share of paths that convert and
        the median conversion date follow the table. Amounts carry one
        decimal, widened where needed to show a standard error to two
        significant figures; probabilities are percentages with one decimal.
    """
    if not scale > 0 or not math.isfinite(scale):
        raise ValidationError(f"scale must be a positive finite number, got {scale!r}")
    names = [str(s) for s in summary["strategy"].values]
    n_paths = int(summary.attrs.get("n_paths", 0))
    level = float(summary.attrs.get("level", 0.95))
    tag = f"{100.0 * level:.10g}"

    def money(var: str) -> np.ndarray:
        return np.asarray(summary[var].values, dtype=np.float64) / scale

    mean, se, sd = money("mean"), money("std_error"), money("sd")
    p5, p50, p95 = money("p5"), money("p50"), money("p95")
    var, cvar = money("var"), money("cvar")
    prob_loss = np.asarray(summary["prob_loss"].values, dtype=np.float64)

    lines = [
        f"NPV summary over {n_paths:,} paths "
        f"(amounts in {unit_label}; VaR/CVaR at level {level:.10g}, loss = -NPV)",
        "",
    ]
    header = ["strategy", "mean ± SE", "sd", "P5", "P50", "P95",
              f"VaR{tag}", f"CVaR{tag}", "P(loss)"]
    rows = [
        [
            name,
            _fmt_pm(mean[i], se[i], 1),
            _fmt_num(sd[i], 1),
            _fmt_num(p5[i], 1),
            _fmt_num(p50[i], 1),
            _fmt_num(p95[i], 1),
            _fmt_num(var[i], 1),
            _fmt_num(cvar[i], 1),
            _fmt_pct(prob_loss[i]),
        ]
        for i, name in enumerate(names)
    ]
    lines += _table(header, rows)
    lines += _switch_lines(summary, scale, unit_label)

    if len(names) > 1:
        pg = np.asarray(summary["prob_greater"].values, dtype=np.float64)
        lines += ["", "P(row > column), pathwise"]
        lines += _table(
            ["", *names],
            [[name, *(_fmt_pct(pg[i, j]) for j in range(len(names)))]
             for i, name in enumerate(names)],
        )
        md, md_se = money("mean_difference"), money("mean_difference_se")
        lines += ["", f"Mean difference row - column ± SE, pathwise ({unit_label})"]
        lines += _table(
            ["", *names],
            [[name, *(_fmt_pm(md[i, j], md_se[i, j], 1) for j in range(len(names)))]
             for i, name in enumerate(names)],
        )
    return "\n".join(lines) + "\n"
