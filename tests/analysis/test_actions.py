"""The three-way switch (mine, host or cloud) everywhere results go: the Dataset, the summary, figures and report."""

from __future__ import annotations

import numpy as np
import pytest

import pivotmc
from pivotmc.analysis.summary import format_summary
from pivotmc.model.outcomes import action_counts
from pivotmc.model.scenario import Scenario
from pivotmc.policy.switch import learn

matplotlib = pytest.importorskip("matplotlib")

from pivotmc.analysis import plots  # noqa: E402
from pivotmc.analysis.report import render_report  # noqa: E402

THREE_WAY = Scenario.default().with_overrides({"switch.learning_paths": 3000, "simulation.horizon_years": 8.0})


@pytest.fixture(scope="module")
def three_way():
    policy = learn(THREE_WAY, backend="reference", cache=False)
    return pivotmc.simulate(THREE_WAY, n_paths=2000, seed=5, backend="reference", switch_policy=policy)


def test_the_result_records_the_action_of_every_converting_path(three_way):
    ds = three_way
    assert list(ds["action"].values) == ["host", "cloud"]
    decision, action = ds["switch_decision"].values, ds["switch_action"].values
    assert action.dtype == np.int8 and np.array_equal(decision < 0, action < 0)
    counts = action_counts(decision, action, ds.sizes["decision"], 2)
    np.testing.assert_array_equal(np.rint(ds["switch_action_share"].values * ds.sizes["path"]), counts)
    np.testing.assert_allclose(ds["switch_action_share"].sum("action").values, ds["switch_share"].values, rtol=0, atol=1e-15)
    # Both conversions are chosen on some paths, and mining kept on others.
    assert (counts.sum(axis=1) > 0).all() and (decision < 0).any()
    # The option is measured against the best of the three static strategies.
    means = ds.npv.mean("path")
    best = max(("mine", "host", "cloud"), key=lambda s: float(means.sel(strategy=s)))
    assert ds["option_value"].attrs["compared_with"] == best
    assert ds["switch_policy_coefficients"].dims == ("action", "decision", "basis_term")
    assert "gpu_price" in ds["switch_feature"].values


def test_the_summary_splits_conversions_by_action(three_way):
    summary = pivotmc.summarize(three_way)
    each = summary["switch_action_converted"]
    assert float(each.sum()) == pytest.approx(float(summary["switch_converted"]), abs=1e-15)
    text = format_summary(summary)
    assert "to host" in text and "to cloud" in text and "best of mine, host and cloud" in text


def test_figures_and_report_show_each_action(three_way):
    fig = plots.switch_dates(three_way)
    heights = np.array([bar.get_height() for bar in fig.axes[0].patches]).reshape(2, -1)
    np.testing.assert_allclose(heights, 100.0 * three_way["switch_action_share"].values, rtol=1e-12)
    for action in ("host", "cloud"):
        try:
            boundary = plots.exercise_boundary(three_way, action=action)
        except pivotmc.ValidationError as exc:  # a boundary outside the prices seen is said, not drawn
            assert action in str(exc)
        else:
            assert boundary.axes[0].has_data()
    with pytest.raises(pivotmc.ValidationError, match="action"):
        plots.exercise_boundary(three_way, action="wait")
    page = render_report(three_way)
    assert "Switch exercise boundary: cloud" in page and "Switch exercise boundary: hosting" in page
