"""Figures and the HTML report, checked the way a person sees them: rendered in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import pivotmc
from pivotmc.errors import ValidationError
from pivotmc.scenario import Scenario

matplotlib = pytest.importorskip("matplotlib")

from pivotmc import plots  # noqa: E402
from pivotmc.report import write_report  # noqa: E402
from pivotmc.studies import sensitivity  # noqa: E402

SHORT = Scenario.default().with_overrides({"simulation.horizon_years": 3.0})


@pytest.fixture(scope="module")
def result():
    return pivotmc.simulate(SHORT, n_paths=3000, seed=1, keep_paths=60)


def test_every_figure_draws(result):
    sens = sensitivity(SHORT, ["btc.price", "hosting.lease_rate"], n_paths=500, seed=1)
    for fig in (plots.npv_distribution(result), plots.fan_charts(result), plots.cash_flow_profile(result),
                plots.tornado(sens, "host"), plots.fan_chart(result, "hashprice")):
        assert fig.axes and all(ax.has_data() for ax in fig.axes if ax.get_visible())


def test_figures_explain_missing_inputs():
    bare = pivotmc.simulate(SHORT, n_paths=100, seed=1)
    with pytest.raises(ValidationError, match="keep_paths"):
        plots.fan_chart(bare, "btc_price")
    with pytest.raises(ValidationError, match="switch"):
        plots.switch_dates(bare)
    with pytest.raises(ValidationError, match="unknown strategies"):
        plots.npv_distribution(bare, strategies=["wait"])


def test_report_is_self_contained(result, tmp_path):
    path = write_report(result, tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") >= 3
    assert not re.search(r"(src|href)=['\"]https?:", text)
    assert "[simulation]" in text and "rng_layout_version" in text
    with pytest.raises(ValidationError, match="html"):
        write_report(result, tmp_path / "report.pdf")


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
