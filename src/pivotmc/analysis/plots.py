"""Figures of a result: NPV distributions, fan charts, cash-flow profiles, tornado charts,
and, for the switch strategy, its conversion dates and exercise boundary.

Every function returns a :class:`matplotlib.figure.Figure` and draws nothing on
screen, so it works the same in a notebook, a script or a report. matplotlib
is an optional dependency: ``pip install "pivotmc[plot]"``. A dataset that
lacks what a figure draws (no kept paths, no switch, not a sensitivity result)
raises :class:`pivotmc.ValidationError` saying what to run instead.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import xarray as xr

from pivotmc.errors import ValidationError
from pivotmc.model.factors import FAN_CHART_VARIABLES, KEPT_VARIABLES
from pivotmc.model.outcomes import recorded_shares
from pivotmc.model.strategies import LEARNED_STRATEGY, spec

__all__ = [
    "npv_distribution",
    "fan_chart",
    "fan_charts",
    "cash_flow_profile",
    "tornado",
    "switch_dates",
    "exercise_boundary",
]

_MILLION = 1e6

#: Kept trajectories, as a reader names them, with their units in words (pivotmc.model.factors).
_FACTOR_WORDS = {v.variable: (v.title, v.axis_units) for v in KEPT_VARIABLES}
#: Kept trajectories drawn on a logarithmic axis.
_LOG_AXIS = frozenset(v.variable for v in KEPT_VARIABLES if v.log_axis)


def _figure(*args, **kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - exercised only without the plot extra
        raise ImportError('pivotmc plots need matplotlib: pip install "pivotmc[plot]"') from None
    return Figure(*args, **kwargs)


def _date_axis(ax) -> None:
    """Few, short date labels: fan charts sit side by side."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _month_year(date) -> str:
    """``Jan 2026``: the way a reader names a decision date."""
    import pandas as pd

    return pd.Timestamp(date).strftime("%b %Y")


def _strategies(ds: xr.Dataset, strategies) -> list[str]:
    if "strategy" not in ds.coords:
        raise ValidationError("the dataset has no strategy coordinate: pass a result of pivotmc.simulate.")
    names = [str(s) for s in ds.strategy.values]
    if strategies is None:
        return names
    if isinstance(strategies, str):
        strategies = [strategies]
    unknown = [s for s in strategies if s not in names]
    if unknown:
        raise ValidationError(f"unknown strategies {unknown}; the result has {names}.")
    return list(strategies)


def _labels(values: dict[str, np.ndarray]) -> dict[str, str]:
    """Legend labels that say when a strategy's line is drawn exactly under another's ('switch (= mine)')."""
    labels = {}
    seen: list[str] = []
    for name, v in values.items():
        twin = next((other for other in seen if np.array_equal(values[other], v)), None)
        labels[name] = f"{name} (= {twin})" if twin is not None else name
        seen.append(name)
    return labels


def strategy_words(name: str) -> str:
    """A strategy as a reader names it: ``host (convert the whole site to hosting now)``; unknown names as they are."""
    declared = spec(name)
    return f"{name} ({declared.long_name})" if declared is not None else str(name)


def _step_word(ds: xr.Dataset) -> str:
    """What one time step of the result is called: month, week, day (or 'step')."""
    if "t_years" not in ds.coords or ds.sizes.get("time", 0) < 1:
        return "step"
    t = np.asarray(ds["t_years"].values, dtype=np.float64)
    per_year = 1.0 / (t[1] - t[0] if t.size > 1 else t[0])
    for steps, word in ((12, "month"), (52, "week"), (365, "day")):
        if abs(per_year - steps) < 1e-6 * steps:
            return word
    return "step"


def npv_distribution(ds: xr.Dataset, strategies=None, bins: int = 80, level: float = 0.95):
    """Histogram and CDF of NPV per strategy, with each strategy's (1 - level) quantile of NPV marked.

    That quantile is minus the strategy's VaR at ``level``: the NPV that only
    a share ``1 - level`` of paths fall below.
    """
    if "npv" not in ds:
        raise ValidationError("the dataset has no npv variable: pass a result of pivotmc.simulate.")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValidationError(f"bins must be a whole number of histogram bins, at least 1, got {bins!r}.")
    if not (isinstance(level, (int, float, np.floating)) and 0.0 < level < 1.0):
        raise ValidationError(f"level must be a probability strictly between 0 and 1 (0.95 for VaR95), got {level!r}.")
    from matplotlib.lines import Line2D

    tail = round((1.0 - level) * 100, 6)
    tag = f"VaR{round(level * 100, 6):g}"
    fig = _figure(figsize=(12, 4.2), layout="constrained")
    hist_ax, cdf_ax = fig.subplots(1, 2)
    names = _strategies(ds, strategies)
    labels = _labels({name: ds.npv.sel(strategy=name).values for name in names})
    for name in names:
        npv = np.sort(ds.npv.sel(strategy=name).values) / _MILLION
        line = cdf_ax.plot(npv, 100.0 * np.arange(1, npv.size + 1) / npv.size, label=labels[name])[0]
        hist_ax.hist(npv, bins=bins, histtype="step", density=True, color=line.get_color(), label=labels[name])
        var_point = np.quantile(npv, 1.0 - level)
        for ax in (hist_ax, cdf_ax):
            ax.axvline(var_point, color=line.get_color(), linestyle=":", linewidth=1.2)
    hist_ax.set(xlabel="NPV (USD m)", ylabel="share of paths per USD m", title="How NPV is spread across paths")
    hist_ax.set_yticks([])  # a density's scale says nothing to a reader; the shapes do
    cdf_ax.set(xlabel="NPV (USD m)", ylabel="share of paths with NPV at or below x (%)", title="Cumulative distribution of NPV")
    cdf_ax.axhline(100.0 - 100.0 * level, color="grey", linestyle=":", linewidth=0.8)
    marker = Line2D([], [], color="grey", linestyle=":", linewidth=1.2)
    for ax in (hist_ax, cdf_ax):
        ax.axvline(0.0, color="grey", linewidth=0.8)
    handles, labels = cdf_ax.get_legend_handles_labels()
    fig.legend(handles + [marker], labels + [f"{tail:g}th percentile\nof NPV (= -{tag})"], frameon=False, loc="outside right upper")
    return fig


def _kept(ds: xr.Dataset, what: str) -> None:
    """Refuse, in one sentence, a result that kept no trajectories."""
    if "kept_path" not in ds.dims or ds.sizes["kept_path"] == 0:
        raise ValidationError(
            f"{what} kept paths and this result keeps none: simulate with keep_paths > 0 "
            "(pivotmc.simulate(scenario, keep_paths=50) or pivotmc run --keep-paths 50)."
        )


def fan_chart(ds: xr.Dataset, variable: str = "btc_price", ax=None, n_lines: int = 5):
    """Median, 50% and 90% bands of a kept trajectory over time, with a few sample paths."""
    _kept(ds, f"a fan chart of {variable!r} needs")
    if variable not in ds or "kept_path" not in ds[variable].dims:
        kept = [str(n) for n in ds.data_vars if ds[n].dims == ("kept_path", "time")]
        raise ValidationError(f"the result keeps no trajectories of {variable!r}; it keeps: {', '.join(kept) or 'none'}.")
    if isinstance(n_lines, bool) or not isinstance(n_lines, (int, np.integer)) or n_lines < 0:
        raise ValidationError(f"n_lines must be a whole number of sample paths to draw, 0 or more, got {n_lines!r}.")
    values = ds[variable].values
    if values.shape[0] < 2:
        raise ValidationError(f"a fan chart of {variable!r} needs at least 2 kept paths (simulate with keep_paths >= 2), got {values.shape[0]}.")
    fig = None
    if ax is None:
        fig = _figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.subplots()
    time = ds.time.values
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(time, q[0], q[4], alpha=0.2, color="tab:blue", linewidth=0, label="middle 90% of paths")
    ax.fill_between(time, q[1], q[3], alpha=0.35, color="tab:blue", linewidth=0, label="middle 50%")
    for i, row in enumerate(values[:n_lines]):
        ax.plot(time, row, linewidth=0.5, alpha=0.45, color="dimgrey", label="sample paths" if i == 0 else None)
    ax.plot(time, q[2], linewidth=1.8, color="navy", label="median")
    title, units = _FACTOR_WORDS.get(variable, (ds[variable].attrs.get("long_name", variable), ds[variable].attrs.get("units", "")))
    ax.set(title=title, ylabel=units)
    _date_axis(ax)
    if variable in _LOG_AXIS:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.set_ylabel(f"{units} (log scale)")
    if fig is not None:  # drawn into a caller's axes, the caller places the legend (fan_charts: one for all)
        ax.legend(frameon=False, fontsize="small", ncols=2)
    return fig if fig is not None else ax.figure


def fan_charts(ds: xr.Dataset, variables=FAN_CHART_VARIABLES):
    """Fan charts of several kept trajectories in one figure; by default the panels the factor declaration names."""
    _kept(ds, "fan charts need")
    if isinstance(variables, str):
        variables = [variables]
    variables = list(variables)
    if not variables:
        raise ValidationError("fan_charts needs at least one variable, e.g. variables=('btc_price',).")
    columns = min(2, len(variables))
    rows = (len(variables) + columns - 1) // columns
    fig = _figure(figsize=(12 if columns == 2 else 6.5, 3.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, name in zip(axes, variables):
        fan_chart(ds, name, ax=ax)
    for ax in axes[len(variables) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, loc="outside upper center", ncols=len(labels),
               title=f"over the {ds.sizes['kept_path']:,} kept paths")
    return fig


def cash_flow_profile(ds: xr.Dataset, strategies=None):
    """Mean undiscounted cash flow per step of each strategy, over time."""
    if "cash_flow_mean" not in ds or "time" not in ds.coords:
        raise ValidationError("the dataset has no cash_flow_mean over time: pass a result of pivotmc.simulate.")
    step = _step_word(ds)
    fig = _figure(figsize=(10, 3.8), layout="constrained")
    ax = fig.subplots()
    names = _strategies(ds, strategies)
    labels = _labels({name: ds.cash_flow_mean.sel(strategy=name).values for name in names})
    for name in names:
        ax.plot(ds.time.values, ds.cash_flow_mean.sel(strategy=name).values / _MILLION, label=labels[name], linewidth=1.3)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set(title=f"Mean cash flow per {step}, before discounting", ylabel=f"USD m per {step}")
    _date_axis(ax)
    fig.legend(frameon=False, loc="outside right upper")
    return fig


def parameter_unit(dotted: str) -> str:
    """The unit the scenario declares for ``section.key`` ('' where it has none or is unknown)."""
    from pivotmc.model.scenario import Scenario

    section, _, key = dotted.partition(".")
    settings = getattr(Scenario.default(), section, None)
    for f in fields(settings) if settings is not None else ():
        if f.name == key:
            unit = f.metadata.get("unit", "")
            return "" if unit in ("1", "") else unit
    return ""


def _number(value: float) -> str:
    """A parameter value as a reader writes it: thousands separators, at most 4 significant digits."""
    if not np.isfinite(value):
        return "-"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{float(f'{value:.4g}'):g}"


def tornado(sens: xr.Dataset, strategy: str = "host", top: int = 15):
    """Tornado chart of a :func:`pivotmc.analysis.studies.sensitivity` result for one strategy.

    The vertical line is the base case's mean NPV, labelled with its value. For
    each parameter (largest effect on top) two bars run from it to the mean NPV
    after the down and the up shock, each with a whisker of 1.96 standard
    errors of the paired change (a 95% confidence interval). Under the name,
    the shocked values and the base value, in the parameter's unit. Where the
    result has ``clipped(parameter, shock)``, a shock that was moved back
    inside its parameter's allowed range is hatched and says so.
    """
    needed = ("change", "change_se", "base_mean_npv", "value")
    if any(name not in sens for name in needed):
        raise ValidationError("tornado needs the result of pivotmc.analysis.studies.sensitivity (change, change_se, base_mean_npv, value).")
    strategies = [str(s) for s in sens.strategy.values]
    if strategy not in strategies:
        raise ValidationError(f"unknown strategy {strategy!r}; the sensitivity result has {strategies}.")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValidationError(f"top must be a whole number of parameters to show, at least 1, got {top!r}.")
    from matplotlib.patches import Patch

    shocks = [str(s) for s in sens.shock.values]
    order_shocks = [shocks.index("down"), shocks.index("up")] if {"down", "up"} <= set(shocks) else [0, 1]
    change = sens.change.sel(strategy=strategy).values[:, order_shocks] / _MILLION  # (parameter, [down, up])
    half = 1.96 * sens.change_se.sel(strategy=strategy).values[:, order_shocks] / _MILLION
    value = sens["value"].values[:, order_shocks]
    clipped = np.asarray(sens["clipped"].values[:, order_shocks], dtype=bool) if "clipped" in sens else np.zeros_like(change, dtype=bool)
    base = float(sens.base_mean_npv.sel(strategy=strategy).values) / _MILLION
    names = [str(p) for p in sens.parameter.values]
    base_values = sens["base_value"].values if "base_value" in sens else np.full(len(names), np.nan)
    # Down to up, or the one shock that ran where the other was skipped.
    spread = np.where(np.isfinite(change).all(axis=1), np.abs(change[:, 1] - change[:, 0]), np.nansum(np.abs(change), axis=1))
    order = np.argsort(spread, kind="stable")[-top:]  # ascending: the largest effect ends on top
    rel = float(sens.attrs.get("rel_shock", np.nan))
    shock_text = [f"-{rel * 100:g}%", f"+{rel * 100:g}%"] if np.isfinite(rel) else ["down", "up"]

    fig = _figure(figsize=(6.4, 0.8 * len(order) + 2.0), layout="constrained")
    ax = fig.subplots()
    colours = ("tab:blue", "tab:orange")
    offsets = (0.2, -0.2)  # down above up within a parameter's row
    y = np.arange(len(order), dtype=np.float64)
    ends = [base]
    for j in range(2):
        width = change[order, j]
        drawn = np.isfinite(width)
        rows = y[drawn] + offsets[j]
        ax.barh(rows, width[drawn], left=base, height=0.38, color=colours[j], label=f"{shock_text[j]} shock")
        ax.errorbar(base + width[drawn], rows, xerr=half[order, j][drawn], fmt="none", ecolor="black",
                    elinewidth=1.0, capsize=3)
        for k, i in enumerate(order):
            if clipped[i, j] and drawn[k]:
                ax.barh(y[k] + offsets[j], width[k], left=base, height=0.38, fill=False, hatch="///",
                        edgecolor="black", linewidth=0)
        ends += list(base + width[drawn] - half[order, j][drawn]) + list(base + width[drawn] + half[order, j][drawn])
    lo, hi = min(ends), max(ends)
    pad = 0.22 * max(hi - lo, abs(base) * 0.02, 1e-3)
    ax.set_xlim(lo - pad, hi + pad)
    for j in range(2):
        for k, i in enumerate(order):
            d, e = change[i, j], half[i, j]
            row = y[k] + offsets[j]
            if not np.isfinite(d):
                ax.text(base, row, " skipped", va="center", ha="left", color="dimgrey")
                continue
            if d == 0.0 and e == 0.0:
                ax.text(base, row, " no effect", va="center", ha="left", color="dimgrey")
                continue
            right = d >= 0
            tip = base + d + (e if right else -e)
            ax.text(tip, row, f" {d:+,.1f} ", va="center", ha="left" if right else "right")
    labels = []
    for i in order:
        unit = parameter_unit(names[i])
        marks = ["*" if clipped[i, j] else "" for j in range(2)]
        shocked = f"{_number(value[i, 0])}{marks[0]} / {_number(value[i, 1])}{marks[1]}"
        base_text = f", base {_number(base_values[i])}" if np.isfinite(base_values[i]) else ""
        labels.append(f"{names[i]}\n{shocked}{' ' + unit if unit else ''}{base_text}")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.axvline(base, color="black", linewidth=1.0)
    ax.annotate(f"base mean NPV: {base:,.1f} USD m", xy=(base, 1.0), xycoords=("data", "axes fraction"),
                xytext=(0, 3), textcoords="offset points", ha="center", va="bottom")
    ax.set(xlabel=f"mean NPV of {strategy} (USD m)")
    ax.set_title(f"Sensitivity of {strategy_words(strategy)}", pad=20, fontweight="bold")
    handles, texts = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="black", marker="|", linestyle="-", linewidth=1.0, markersize=8))
    texts.append("95% confidence interval")
    if clipped[order].any():
        handles.append(Patch(fill=False, hatch="///", edgecolor="black"))
        texts.append("* clipped to the allowed range")
    fig.legend(handles, texts, frameon=False, loc="outside lower center", ncols=min(len(texts), 3))
    return fig


def switch_dates(ds: xr.Dataset):
    """When the switch converts, and to what: the share of paths converting at each decision date, and the running total.

    Reads ``switch_share`` or, without it, ``switch_decision`` or ``switch_time``
    (:func:`pivotmc.model.outcomes.recorded_shares`), with the ``decision_time``
    and ``decision_date`` coordinates of a result that values the switch strategy.
    Where the switch chooses among several conversions (``switch_action_share``),
    the bars are stacked by what it converts to.
    """
    share = recorded_shares(ds) if "decision_date" in ds.coords else None
    if share is None:
        raise ValidationError(
            f"the result records no conversion dates: value the {LEARNED_STRATEGY} strategy first (strategies.evaluate)."
        )
    if not share.any():
        raise ValidationError("the switch converts on no path of this result: there are no conversion dates to draw.")
    dates = ds["decision_date"].values
    by_action = ds.get("switch_action_share")
    if by_action is not None and by_action.dims == ("action", "decision"):
        parts = {str(a): np.asarray(by_action.sel(action=a).values, dtype=np.float64) for a in by_action["action"].values}
    else:
        parts = {"host": share}
    fig = _figure(figsize=(10, 3.8), layout="constrained")
    ax = fig.subplots()
    width = np.min(np.diff(dates)) * 0.8 if dates.size > 1 else np.timedelta64(30, "D")
    bottom = np.zeros(dates.size)
    for action, part in parts.items():
        words = f"converting to {action} at the date ({100.0 * part.sum():.1f}% of paths)" if len(parts) > 1 else "converting at the date"
        ax.bar(dates, 100.0 * part, width=width, align="edge", bottom=100.0 * bottom, label=words)
        bottom = bottom + part
    ax.step(dates, 100.0 * np.cumsum(share), where="post", color="black", linewidth=1.2, label="converted by the date (running total)")
    what = "hosting" if len(parts) == 1 else " or ".join(parts)
    ax.set(
        title=f"When the switch converts to {what} ({100.0 * share.sum():.1f}% of paths convert)",
        ylabel="share of all paths (%)",
    )
    _date_axis(ax)
    ax.legend(frameon=False, loc="center right")
    return fig


#: At most this many decision dates are drawn by exercise_boundary unless per_year is given.
_BOUNDARY_LINES = 6
_BOUNDARY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")


#: Per action of the switch: the boundary variable, its axis label and the figure's title.
_BOUNDARY_OF = {
    "host": ("switch_boundary_lease_rate", "market lease rate for AI hosting\n(USD per kW of IT load per month)",
             "Convert to hosting when the lease rate is above the line of the date", "lease rate"),
    "cloud": ("switch_boundary_gpu_price", "market GPU rental price\n(USD per GPU-hour)",
              "Convert to cloud when the GPU rental price is above the line of the date", "GPU rental price"),
}  # fmt: skip


def exercise_boundary(ds: xr.Dataset, per_year: int | None = None, lines: int = _BOUNDARY_LINES, action: str = "host"):
    """The switch's exercise boundary for one action: the lowest lease rate (``action="host"``) or GPU rental price
    (``action="cloud"``) at which converting to it is optimal, against hashprice.

    One line per decision date, coloured from dark (early) to light (late):
    by default at most ``lines`` dates, spread evenly over the dates that have
    a boundary (the first and the last of them included); with ``per_year``,
    the first date of each 1/per_year of a year instead. Above a line the
    learned policy converts. A date with no line converts at no price in
    the range its learning paths saw; the figure's note says which. The power
    price (and the other state variables) is held at its median of each date
    (also in the note).
    """
    if action not in _BOUNDARY_OF:
        raise ValidationError(f"action = {action!r} is not allowed: it must be one of {', '.join(_BOUNDARY_OF)}.")
    variable, ylabel, title, price_words = _BOUNDARY_OF[action]
    needed = ("switch_boundary_hashprice", variable, "switch_boundary_power_price")
    if any(name not in ds for name in needed) or "decision_date" not in ds.coords:
        raise ValidationError(
            f"the result has no exercise boundary: value the {LEARNED_STRATEGY} strategy first (strategies.evaluate)."
        )
    if per_year is not None and (isinstance(per_year, bool) or not isinstance(per_year, (int, np.integer)) or per_year < 1):
        raise ValidationError(f"per_year must be a whole number of dates a year, at least 1, got {per_year!r}.")
    if isinstance(lines, bool) or not isinstance(lines, (int, np.integer)) or lines < 1:
        raise ValidationError(f"lines must be a whole number of decision dates to draw, at least 1, got {lines!r}.")
    hashprice = np.asarray(ds["switch_boundary_hashprice"].values, dtype=np.float64)
    lease = np.asarray(ds[variable].values, dtype=np.float64)
    power = np.asarray(ds["switch_boundary_power_price"].values, dtype=np.float64)
    dates = ds["decision_date"].values
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    has_line = [d for d in range(dates.size) if np.isfinite(lease[d]).any()]
    if per_year is None:
        picks = np.unique(np.round(np.linspace(0, len(has_line) - 1, min(lines, len(has_line)))).astype(int)) if has_line else []
        drawn = [has_line[i] for i in picks]
    else:
        # The dates that open each 1/per_year of a year: a readable subset of quarterly (or finer) dates.
        slot = np.floor(times * per_year + 1e-9)
        shown = [d for d in range(dates.size) if d == 0 or slot[d] != slot[d - 1]]
        drawn = [d for d in shown if d in has_line]
    if not drawn:
        raise ValidationError(
            f"converting to {action} is optimal at none of the shown decision dates, at any {price_words} the learning "
            "paths saw: there is no boundary to draw."
        )
    import matplotlib as mpl

    fig = _figure(figsize=(10, 5.2), layout="constrained")
    ax = fig.subplots()
    cmap = mpl.colormaps["viridis"]
    shades = np.linspace(0.0, 0.85, len(drawn)) if len(drawn) > 1 else np.array([0.0])  # the palest viridis is unreadable on white
    for k, d in enumerate(drawn):
        ax.plot(hashprice[d], lease[d], marker=_BOUNDARY_MARKERS[k % len(_BOUNDARY_MARKERS)], markersize=4,
                linewidth=1.8, color=cmap(shades[k]), label=_month_year(dates[d]))
    ax.set(
        xlabel="hashprice: mining revenue per unit of hashing power (USD per PH/s per day)",
        ylabel=ylabel,
        title=title,
    )
    ax.legend(frameon=False, title="decision date\n(dark: early)", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              ncols=1 if len(drawn) <= 16 else 2, fontsize="small")
    never = [d for d in range(dates.size) if d not in has_line]
    note = (
        f"Each line joins the hashprices seen on the learning paths at that date (5th to 95th percentile). "
        f"Power price held at its median of each date: {power[drawn].min():,.1f} to {power[drawn].max():,.1f} USD/MWh."
    )
    if never:
        runs: list[list[int]] = []
        for d in never:
            if runs and d == runs[-1][-1] + 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        spans = [_month_year(dates[r[0]]) + (f" to {_month_year(dates[r[-1]])}" if len(r) > 1 else "") for r in runs[:3]]
        where = ", ".join(spans[:-1]) + (" and " if len(spans) > 1 else "") + spans[-1] + (", ..." if len(runs) > 3 else "")
        note += f"\nNo line at {len(never)} of the {dates.size} decision dates ({where}): converting to {action} is optimal there at no {price_words} the learning paths saw."
    fig.supxlabel(note, fontsize="small")
    return fig
