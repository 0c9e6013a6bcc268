"""Figures and the HTML report, checked the way a person sees them: rendered in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import xarray as xr

import pivotmc
from pivotmc.errors import ValidationError
from pivotmc.model.scenario import Scenario
from pivotmc.model.strategies import spec

matplotlib = pytest.importorskip("matplotlib")

from pivotmc.analysis import plots  # noqa: E402
from pivotmc.analysis.report import write_report  # noqa: E402
from pivotmc.analysis.studies import sensitivity  # noqa: E402

SHORT = Scenario.default().with_overrides({"simulation.horizon_years": 3.0, "switch.learning_paths": 2000})
# With exit values, the two-way switch converts on some paths within the three years (without, on none); the
# three-way switch (tests/analysis/test_actions.py) would take cloud on every path at once with these exit values.
SWITCHING = SHORT.with_overrides({"strategies.evaluate": ["mine", "host", "hybrid", "switch"],
                                  **{f"terminal.{s}": 6.0 for s in ("mine", "host", "hybrid", "switch")}})
STATIC = SHORT.with_overrides({"strategies.evaluate": ["mine", "host", "hybrid"]})


@pytest.fixture(scope="module")
def result():
    return pivotmc.simulate(SHORT, n_paths=3000, seed=1, keep_paths=60)


@pytest.fixture(scope="module")
def switching():
    ds = pivotmc.simulate(SWITCHING, n_paths=1000, seed=1)
    assert np.count_nonzero(ds["switch_share"].values) > 1
    return ds


def test_every_figure_draws(result):
    sens = sensitivity(SHORT, ["btc.price", "hosting.lease_rate"], n_paths=500, seed=1)
    for fig in (plots.npv_distribution(result), plots.fan_charts(result), plots.cash_flow_profile(result),
                plots.tornado(sens, "host"), plots.fan_chart(result, "hashprice")):
        assert fig.axes and all(ax.has_data() for ax in fig.axes if ax.get_visible())


def test_switch_figures_draw(switching):
    dates = plots.switch_dates(switching)
    (ax,) = dates.axes
    # One bar per decision date, as high as the share of paths converting then.
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, 100.0 * switching["switch_share"].values, rtol=1e-12)
    # Drawn from switch_time alone (switch_share is its summary), the bars are the same.
    alone = plots.switch_dates(switching.drop_vars("switch_share"))
    assert [bar.get_height() for bar in alone.axes[0].patches] == heights
    boundary = plots.exercise_boundary(switching)
    ax = boundary.axes[0]
    assert ax.has_data() and "power price" in boundary.get_supxlabel().lower()
    lease = switching["switch_boundary_lease_rate"].values
    drawn = [d for d in range(lease.shape[0]) if np.isfinite(lease[d]).any()]
    assert len(drawn) > 6
    # A handful of dates, the first and the last with a boundary among them, each its own colour and marker.
    lines = ax.get_lines()
    assert len(lines) == 6
    np.testing.assert_array_equal(lines[0].get_ydata(), lease[drawn[0]])
    np.testing.assert_array_equal(lines[-1].get_ydata(), lease[drawn[-1]])
    assert len({line.get_color() for line in lines}) == 6 and len({line.get_marker() for line in lines}) == 6
    dates = switching["decision_date"].values
    first = dates[drawn[0]].astype("datetime64[M]").item()
    assert ax.get_legend().get_texts()[0].get_text() == first.strftime("%b %Y")
    assert "hashprice" in ax.get_xlabel() and "USD per PH/s per day" in ax.get_xlabel()
    assert "lease rate" in ax.get_ylabel() and "per month" in ax.get_ylabel()
    every = plots.exercise_boundary(switching, lines=len(drawn))
    assert len(every.axes[0].get_lines()) == len(drawn)
    # Dates without a boundary are named under the axes.
    never = [d for d in range(lease.shape[0]) if d not in drawn]
    if never:
        assert f"No line at {len(never)} of the {lease.shape[0]} decision dates" in boundary.get_supxlabel()
    yearly = plots.exercise_boundary(switching, per_year=1)
    years = {np.datetime64(str(d)[:4]) for d in switching["decision_date"].values[drawn]}
    assert 1 <= len(yearly.axes[0].get_lines()) <= len(years)
    with pytest.raises(ValidationError, match="lines"):
        plots.exercise_boundary(switching, lines=0)


def test_figures_explain_missing_inputs():
    bare = pivotmc.simulate(SHORT, n_paths=100, seed=1)
    with pytest.raises(ValidationError, match="keep_paths"):
        plots.fan_chart(bare, "btc_price")
    with pytest.raises(ValidationError, match="unknown strategies"):
        plots.npv_distribution(bare, strategies=["wait"])
    # The default scenario values switch; without it there is nothing to draw of the switch.
    static = pivotmc.simulate(STATIC, n_paths=100, seed=1)
    for figure in (plots.switch_dates, plots.exercise_boundary):
        with pytest.raises(ValidationError, match="value the switch strategy"):
            figure(static)
    # Valued, but no path converts in three years without exit values: no dates to draw.
    assert np.all(bare["switch_decision"].values == -1)
    # Never converting, the switch is mine path by path: the legends say so, its line hiding mine's.
    np.testing.assert_array_equal(bare.npv.sel(strategy="switch"), bare.npv.sel(strategy="mine"))
    for figure in (plots.npv_distribution(bare), plots.cash_flow_profile(bare)):
        texts = [t.get_text() for t in figure.legends[0].get_texts()]
        assert "switch (= mine)" in texts and "mine" in texts and "host" in texts
    with pytest.raises(ValidationError, match="no path"):
        plots.switch_dates(bare)
    with pytest.raises(ValidationError, match="per_year"):
        plots.exercise_boundary(bare, per_year=0)


def test_figures_refuse_what_they_cannot_draw_in_one_sentence(result):
    bare = pivotmc.simulate(SHORT, n_paths=100, seed=1)
    with pytest.raises(ValidationError, match="keep_paths") as caught:
        plots.fan_charts(bare)
    message = str(caught.value)
    assert message.endswith(".") and message.count(". ") == 0 and message.count(": ") == 1
    with pytest.raises(ValidationError, match="keeps no trajectories of 'wind'; it keeps: .*btc_price"):
        plots.fan_chart(result, "wind")
    with pytest.raises(ValidationError, match="at least one variable"):
        plots.fan_charts(result, variables=())
    with pytest.raises(ValidationError, match="n_lines"):
        plots.fan_chart(result, n_lines=-1)
    with pytest.raises(ValidationError, match="bins"):
        plots.npv_distribution(result, bins=0)
    with pytest.raises(ValidationError, match="level"):
        plots.npv_distribution(result, level=95)
    # One strategy may be named as a string.
    # Its CDF, its 5th percentile, zero and the 5% level.
    assert len(plots.npv_distribution(result, strategies="host").axes[1].get_lines()) == 4
    sens = sensitivity(SHORT, ["btc.price"], n_paths=100, seed=1)
    for draw in (plots.cash_flow_profile, plots.npv_distribution, plots.fan_charts):
        with pytest.raises(ValidationError):
            draw(sens)
    with pytest.raises(ValidationError, match="sensitivity"):
        plots.tornado(result, "host")
    with pytest.raises(ValidationError, match="unknown strategy 'wait'"):
        plots.tornado(sens, "wait")
    with pytest.raises(ValidationError, match="top"):
        plots.tornado(sens, "host", top=0)


def test_tornado_shows_base_bars_and_confidence_intervals():
    sens = sensitivity(SHORT, ["btc.price", "hosting.lease_rate", "btc.sigma"], n_paths=400, seed=2)
    fig = plots.tornado(sens, "switch")
    (ax,) = fig.axes
    base = float(sens.base_mean_npv.sel(strategy="switch")) / 1e6
    assert ax.get_title() == f"Sensitivity of switch ({spec('switch').long_name})"  # in the strategy table's words
    # The reference line is the base mean NPV, labelled with its value.
    assert any(np.allclose(line.get_xdata(), base) for line in ax.get_lines())
    assert f"base mean NPV: {base:,.1f} USD m" in [t.get_text() for t in ax.texts]
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    change = sens.change.sel(strategy="switch") / 1e6
    half = 1.96 * sens.change_se.sel(strategy="switch") / 1e6
    spread = np.abs(change.sel(shock="up") - change.sel(shock="down"))
    assert labels[-1] == str(sens.parameter.values[int(np.argmax(spread.values))])  # the largest effect on top
    bars = [c for c in ax.containers if c.__class__.__name__ == "BarContainer"]
    whiskers = [c for c in ax.containers if c.__class__.__name__ == "ErrorbarContainer"]
    assert len(bars) == 2 and len(whiskers) == 2
    for shock, bar_set, whisker in zip(("down", "up"), bars, whiskers):
        segments = whisker.lines[2][0].get_segments()
        for k, name in enumerate(labels):
            patch = bar_set.patches[k]
            # Each bar runs from the base mean to the mean after the shock ...
            assert patch.get_x() == pytest.approx(base, rel=1e-12)
            assert patch.get_width() == pytest.approx(float(change.sel(parameter=name, shock=shock)), rel=1e-9, abs=1e-12)
            # ... and its whisker spans +-1.96 standard errors of the paired change around its end.
            (x0, _), (x1, _) = segments[k]
            assert (x1 - x0) / 2 == pytest.approx(float(half.sel(parameter=name, shock=shock)), rel=1e-9, abs=1e-12)
            assert (x0 + x1) / 2 == pytest.approx(base + float(change.sel(parameter=name, shock=shock)), rel=1e-9)
    # Shocked and base values with the parameter's unit under each name.
    ticks = {t.get_text().split("\n")[0]: t.get_text() for t in ax.get_yticklabels()}
    assert ticks["btc.price"].endswith("72,000 / 108,000 USD, base 90,000")
    assert "95% confidence interval" in [t.get_text() for t in fig.legends[0].get_texts()]
    # Where the result says a shock was clipped to its allowed range, the bar is hatched and the value starred.
    clipped = xr.DataArray(np.zeros((3, 2), dtype=bool), dims=("parameter", "shock"), coords={"parameter": sens.parameter, "shock": sens.shock})
    clipped.loc[{"parameter": "btc.sigma", "shock": "up"}] = True
    marked = plots.tornado(sens.assign(clipped=clipped), "switch")
    ticks = {t.get_text().split("\n")[0]: t.get_text() for t in marked.axes[0].get_yticklabels()}
    assert "0.6* 1/sqrt(year)" in ticks["btc.sigma"] and "*" not in ticks["btc.price"]
    assert sum(1 for p in marked.axes[0].patches if p.get_hatch() == "///") == 1
    assert any("clipped" in t.get_text() for t in marked.legends[0].get_texts())


def test_report_is_self_contained(result, tmp_path):
    path = write_report(result, tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") >= 3
    assert not re.search(r"(src|href)=['\"]https?:", text)
    # The scenario as `pivotmc scenario` prints it: units and meanings, and what differs from the defaults.
    assert "[simulation]" in text and "# [USD] BTC price at t = 0" in text
    assert "<th>simulation.horizon_years</th><td class='num'>3</td><td class='num'>15</td><td>years</td>" in text
    assert "<th>switch.learning_paths</th><td class='num'>2,000</td><td class='num'>50,000</td><td>paths</td>" in text
    # Provenance in words and units: thousands separators, a rate in %, a date, no raw float.
    assert "<th>Simulated paths</th><td>3,000 (60 kept for the fan charts)</td>" in text
    assert "<th>Discount rate</th><td>12% a year</td>" in text
    assert "<th>Horizon</th><td>3 years, to 1 January 2029: 36 monthly steps</td>" in text
    assert f"Philox4x32-10, stream layout version {pivotmc.random.RNG_LAYOUT_VERSION}" in text
    assert re.search(r"<th>Created</th><td>\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC</td>", text)
    assert repr(float(result.attrs["hashrate_markup"])) not in text and f"{result.attrs['hashrate_markup']:.3f}" in text
    # The rows of the summary in words, from the strategy table.
    for name in result.strategy.values:
        assert f"<b>{name}</b>: {spec(name).long_name}" in text
    # VaR and CVaR said in words, as losses, with this result's numbers.
    assert "<b>VaR95</b> (value at risk) is a loss" in text and "<b>CVaR95</b> (expected shortfall)" in text
    summary = pivotmc.summarize(result)
    for name in ("mine", "host"):
        var = float(summary["var"].sel(strategy=name)) / 1e6
        assert f"(VaR95 = {var:,.1f})" in text
    # No path converts: the page says so where the switch's dates would be.
    assert "Switch dates</h2><p>The switch converts on no path" in text
    assert "Switch converts on no path" in text  # the summary's line
    with pytest.raises(ValidationError, match="html"):
        write_report(result, tmp_path / "report.pdf")


def test_report_shows_the_switch(switching, tmp_path):
    text = write_report(switching, tmp_path / "report.html").read_text()
    for caption in ("Switch dates", "Switch exercise boundary"):
        assert f"<h2>{caption}</h2><img" in text
    assert "Option to wait (switch - " in text
    assert text.count("data:image/png;base64,") == 4  # distribution, cash flows and the two switch figures
    static = pivotmc.simulate(STATIC, n_paths=200, seed=1)
    assert "Switch" not in write_report(static, tmp_path / "static.html").read_text()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(result, tmp_path):
    sens = sensitivity(SHORT, ["btc.price", "hosting.capex_per_it_mw", "power.price"], n_paths=500, seed=1)
    page = write_report(result, tmp_path / "report.html", sensitivity=sens)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert 'data-images-ok="yes"' in dom.stdout, dom.stderr[-2000:]
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("Error" in line or "Uncaught" in line)]
    assert not console_errors, console_errors
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", *flags, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
    shutil.copy(shot, page.parent.parent / "pivotmc-report-screenshot.png")
