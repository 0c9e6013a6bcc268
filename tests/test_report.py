"""Figures and the HTML report, checked the way a person sees them: rendered in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import pivotmc
from pivotmc.errors import ValidationError
from pivotmc.scenario import Scenario

matplotlib = pytest.importorskip("matplotlib")

from pivotmc import plots  # noqa: E402
from pivotmc.report import write_report  # noqa: E402
from pivotmc.studies import sensitivity  # noqa: E402

SHORT = Scenario.default().with_overrides({"simulation.horizon_years": 3.0, "switch.learning_paths": 2000})
# With exit values, the switch converts on some paths within the three years (without, on none).
SWITCHING = SHORT.with_overrides({f"terminal.{s}": 6.0 for s in ("mine", "host", "hybrid", "switch")})
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
    assert len(ax.get_lines()) == len(drawn)  # every date (12 quarters: not too many to show)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), lease[drawn[0]])
    yearly = plots.exercise_boundary(switching, per_year=1)
    years = {np.datetime64(str(d)[:4]) for d in switching["decision_date"].values[drawn]}
    assert 1 <= len(yearly.axes[0].get_lines()) <= len(years)


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
    with pytest.raises(ValidationError, match="no path"):
        plots.switch_dates(bare)
    with pytest.raises(ValidationError, match="per_year"):
        plots.exercise_boundary(bare, per_year=0)


def test_report_is_self_contained(result, tmp_path):
    path = write_report(result, tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") >= 3
    assert not re.search(r"(src|href)=['\"]https?:", text)
    assert "[simulation]" in text and "rng_layout_version" in text
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
