"""Figures of a result: NPV distributions, fan charts, cash-flow profiles, tornado charts.

Every function returns a :class:`matplotlib.figure.Figure` and draws nothing on
screen, so it works the same in a notebook, a script or a report. matplotlib
is an optional dependency: ``pip install "pivotmc[plot]"``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import ValidationError

__all__ = ["npv_distribution", "fan_chart", "fan_charts", "cash_flow_profile", "tornado", "switch_dates"]

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


def switch_dates(ds: xr.Dataset):
    """Histogram of conversion dates, where the result has a ``switch_time``."""
    if "switch_time" not in ds:
        raise ValidationError("the result has no switch_time: value the switch strategy first.")
    fig = _figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.subplots()
    times = ds.switch_time.values
    times = times[~np.isnat(times)] if np.issubdtype(times.dtype, np.datetime64) else times[np.isfinite(times)]
    ax.hist(times, bins=40)
    ax.set(title="When the switch converts", ylabel="paths")
    return fig
