"""Figures of a result: NPV distributions, fan charts, cash-flow profiles, tornado charts,
and, for the switch strategy, its conversion dates and exercise boundary.

Every function returns a :class:`matplotlib.figure.Figure` and draws nothing on
screen, so it works the same in a notebook, a script or a report. matplotlib
is an optional dependency: ``pip install "pivotmc[plot]"``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import ValidationError

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


def _strategies(ds: xr.Dataset, strategies) -> list[str]:
    names = [str(s) for s in ds.strategy.values]
    if strategies is None:
        return names
    unknown = [s for s in strategies if s not in names]
    if unknown:
        raise ValidationError(f"unknown strategies {unknown}; the result has {names}.")
    return list(strategies)


def npv_distribution(ds: xr.Dataset, strategies=None, bins: int = 80, level: float = 0.95):
    """Histogram and CDF of NPV per strategy, with each VaR (the (1-level) quantile) marked."""
    if "npv" not in ds:
        raise ValidationError("the dataset has no npv variable.")
    fig = _figure(figsize=(11, 4.2), layout="constrained")
    hist_ax, cdf_ax = fig.subplots(1, 2)
    for name in _strategies(ds, strategies):
        npv = np.sort(ds.npv.sel(strategy=name).values) / _MILLION
        line = cdf_ax.plot(npv, np.arange(1, npv.size + 1) / npv.size, label=name)[0]
        hist_ax.hist(npv, bins=bins, histtype="step", density=True, color=line.get_color(), label=name)
        var_point = np.quantile(npv, 1.0 - level)
        for ax in (hist_ax, cdf_ax):
            ax.axvline(var_point, color=line.get_color(), linestyle=":", linewidth=1)
    hist_ax.set(xlabel="NPV (USD m)", ylabel="density", title="NPV distribution")
    cdf_ax.set(xlabel="NPV (USD m)", ylabel="P(NPV <= x)", title=f"CDF; dotted: VaR{int(round(level * 100))} points")
    for ax in (hist_ax, cdf_ax):
        ax.axvline(0.0, color="grey", linewidth=0.8)
        ax.legend(frameon=False)
    return fig


def fan_chart(ds: xr.Dataset, variable: str = "btc_price", ax=None, n_lines: int = 5):
    """Median, 50% and 90% bands of a kept trajectory over time, with a few sample paths."""
    if variable not in ds or "kept_path" not in ds[variable].dims:
        raise ValidationError(f"no kept trajectories of {variable!r}: simulate with keep_paths > 0.")
    values = ds[variable].values
    if values.shape[0] < 2:
        raise ValidationError(f"a fan chart of {variable!r} needs at least 2 kept paths (simulate with keep_paths >= 2), got {values.shape[0]}.")
    fig = None
    if ax is None:
        fig = _figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.subplots()
    time = ds.time.values
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(time, q[0], q[4], alpha=0.2, label="5-95%")
    ax.fill_between(time, q[1], q[3], alpha=0.35, label="25-75%")
    ax.plot(time, q[2], linewidth=1.6, label="median")
    for row in values[:n_lines]:
        ax.plot(time, row, linewidth=0.6, alpha=0.6, color="black")
    units = ds[variable].attrs.get("units", "")
    ax.set(title=ds[variable].attrs.get("long_name", variable), ylabel=units)
    _date_axis(ax)
    if variable == "btc_price":
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize="small")
    return fig if fig is not None else ax.figure


def fan_charts(ds: xr.Dataset, variables=("btc_price", "hashprice", "power_price", "lease_rate")):
    """Fan charts of several kept trajectories in one figure."""
    fig = _figure(figsize=(12, 7), layout="constrained")
    axes = fig.subplots(2, (len(variables) + 1) // 2).ravel()
    for ax, name in zip(axes, variables):
        fan_chart(ds, name, ax=ax)
    for ax in axes[len(variables) :]:
        ax.set_visible(False)
    return fig


def cash_flow_profile(ds: xr.Dataset, strategies=None):
    """Mean undiscounted cash flow per step of each strategy, over time."""
    fig = _figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    for name in _strategies(ds, strategies):
        ax.plot(ds.time.values, ds.cash_flow_mean.sel(strategy=name).values / _MILLION, label=name)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set(title="Mean cash flow per step", ylabel="USD m per step")
    _date_axis(ax)
    ax.legend(frameon=False)
    return fig


def tornado(sens: xr.Dataset, strategy: str = "host", top: int = 15):
    """Tornado chart of a :func:`pivotmc.studies.sensitivity` result for one strategy."""
    if "change" not in sens:
        raise ValidationError("tornado needs the result of pivotmc.studies.sensitivity.")
    change = sens.change.sel(strategy=strategy).values / _MILLION  # (parameter, [down, up])
    names = [str(p) for p in sens.parameter.values]
    spread = np.nan_to_num(np.abs(change[:, 1] - change[:, 0]))
    order = np.argsort(spread)[-top:]
    fig = _figure(figsize=(8, 0.35 * len(order) + 1.5), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(order))
    ax.barh(y, change[order, 0], color="tab:blue", label=f"-{sens.attrs.get('rel_shock', 0) * 100:.0f}%")
    ax.barh(y, change[order, 1], color="tab:orange", label=f"+{sens.attrs.get('rel_shock', 0) * 100:.0f}%")
    ax.set_yticks(y, [names[i] for i in order])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set(xlabel="change in mean NPV (USD m)", title=f"Sensitivity of {strategy}")
    ax.legend(frameon=False)
    return fig


def _conversion_shares(ds: xr.Dataset) -> np.ndarray:
    """Share of paths converting at each decision date, from ``switch_time`` (or ``switch_share``, its summary)."""
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    if "switch_time" in ds:
        converted = np.asarray(ds["switch_time"].values, dtype=np.float64)
        n_paths = converted.size
        converted = converted[np.isfinite(converted)]
        index = np.searchsorted(times, converted)
        if index.size and (index.max() >= times.size or np.any(times[index] != converted)):
            raise ValidationError("switch_time holds times that are not decision dates of the result.")
        return np.bincount(index, minlength=times.size) / max(n_paths, 1)
    return np.asarray(ds["switch_share"].values, dtype=np.float64)


def switch_dates(ds: xr.Dataset):
    """When the switch converts: the share of paths converting at each decision date, and the running total.

    Reads ``switch_time`` (years; NaN where a path never converts) or, without
    it, ``switch_share``, with the ``decision_time`` and ``decision_date``
    coordinates of a result that values the switch strategy.
    """
    if ("switch_time" not in ds and "switch_share" not in ds) or "decision_date" not in ds.coords:
        raise ValidationError("the result has no switch_time: value the switch strategy first (strategies.evaluate).")
    share = _conversion_shares(ds)
    if not share.any():
        raise ValidationError("the switch converts on no path of this result: there are no conversion dates to draw.")
    dates = ds["decision_date"].values
    fig = _figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    width = np.min(np.diff(dates)) * 0.8 if dates.size > 1 else np.timedelta64(30, "D")
    ax.bar(dates, 100.0 * share, width=width, align="edge", label="at the date")
    ax.step(dates, 100.0 * np.cumsum(share), where="post", color="black", linewidth=1.2, label="by the date")
    ax.set(
        title=f"When the switch converts ({100.0 * share.sum():.1f}% of paths convert)",
        ylabel="share of paths (%)",
    )
    _date_axis(ax)
    ax.legend(frameon=False)
    return fig


#: Up to this many decision dates, exercise_boundary draws every one by default.
_BOUNDARY_LINES = 12


def exercise_boundary(ds: xr.Dataset, per_year: int | None = None):
    """The switch's exercise boundary: the lowest lease rate at which converting is optimal, against hashprice.

    One line per decision date, coloured by date: ``per_year`` dates a year
    (the first of each year, for ``per_year=1``); by default every date where
    there are at most 12, else one a year. Above a line the learned policy
    converts; a date whose line is missing converts at no lease rate in the
    range its learning paths saw. The power price, the third state variable,
    is held at its median of each date (noted under the axes).
    """
    needed = ("switch_boundary_hashprice", "switch_boundary_lease_rate", "switch_boundary_power_price")
    if any(name not in ds for name in needed) or "decision_date" not in ds.coords:
        raise ValidationError("the result has no exercise boundary: value the switch strategy first (strategies.evaluate).")
    if per_year is not None and (isinstance(per_year, bool) or not isinstance(per_year, (int, np.integer)) or per_year < 1):
        raise ValidationError(f"per_year must be a whole number of dates a year, at least 1, got {per_year!r}.")
    hashprice = np.asarray(ds["switch_boundary_hashprice"].values, dtype=np.float64)
    lease = np.asarray(ds["switch_boundary_lease_rate"].values, dtype=np.float64)
    power = np.asarray(ds["switch_boundary_power_price"].values, dtype=np.float64)
    dates = ds["decision_date"].values
    times = np.asarray(ds["decision_time"].values, dtype=np.float64)
    if per_year is None and dates.size <= _BOUNDARY_LINES:
        shown = list(range(dates.size))
    else:
        # The dates that open each 1/per_year of a year: a readable subset of quarterly (or finer) dates.
        slot = np.floor(times * (per_year or 1) + 1e-9)
        shown = [d for d in range(dates.size) if d == 0 or slot[d] != slot[d - 1]]
    drawn = [d for d in shown if np.isfinite(lease[d]).any()]
    if not drawn:
        raise ValidationError(
            "converting is optimal at none of the shown decision dates, at any lease rate the learning paths saw: "
            "there is no boundary to draw."
        )
    import matplotlib as mpl
    import matplotlib.dates as mdates

    fig = _figure(figsize=(8, 4.6), layout="constrained")
    ax = fig.subplots()
    first, last = mdates.date2num(dates[shown[0]]), mdates.date2num(dates[shown[-1]])
    norm = mpl.colors.Normalize(first, last if last > first else first + 1.0)
    cmap = mpl.colormaps["viridis"]
    for d in drawn:
        colour = cmap(norm(mdates.date2num(dates[d])))
        ax.plot(hashprice[d], lease[d], marker="o", markersize=3, color=colour, label=str(np.datetime_as_string(dates[d], unit="D")))
    ax.set(
        xlabel=f"hashprice ({ds['switch_boundary_hashprice'].attrs.get('units', 'USD/PH/day')})",
        ylabel=f"lease rate ({ds['switch_boundary_lease_rate'].attrs.get('units', 'USD/kW-month')})",
        title="Exercise boundary: convert above the line",
    )
    if len(drawn) <= 8:
        ax.legend(frameon=False, fontsize="small", title="decision date")
    else:
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="decision date")
        bar.ax.yaxis.set_major_locator(mdates.AutoDateLocator())
        bar.ax.yaxis.set_major_formatter(mdates.ConciseDateFormatter(bar.ax.yaxis.get_major_locator()))
    missing = len(shown) - len(drawn)
    note = (
        f"Power price held at its median of each date: {power[shown].min():.1f} to {power[shown].max():.1f} "
        f"{ds['switch_boundary_power_price'].attrs.get('units', 'USD/MWh')}."
    )
    if missing:
        note += f" {missing} of the {len(shown)} dates shown convert at no lease rate."
    fig.supxlabel(note, fontsize="small")
    return fig
