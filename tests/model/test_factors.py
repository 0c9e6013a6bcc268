"""The factor declaration (pivotmc.model.factors): every list of factors derives from it, and it holds together."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

import pivotmc
from pivotmc import random as rng
from pivotmc.backends import KEPT_FACTORS as BACKEND_KEPT_FACTORS
from pivotmc.backends.reference import correlate
from pivotmc.model import factors as F
from pivotmc.model.plan import lower_cholesky_psd
from pivotmc.model.scenario import Scenario
from pivotmc.run.results import FACTOR_ATTRS
from pivotmc.testing import correlation_matrices


def test_each_shock_draws_the_slot_named_after_its_factor():
    # The random layout names a slot per factor (SLOT_Z_BTC ...); the declaration must use exactly those.
    named = {name.removeprefix("SLOT_Z_").lower(): getattr(rng, name) for name in rng.__all__ if name.startswith("SLOT_Z_")}
    assert named == {f.name: f.slot for f in F.MARKET_FACTORS}
    assert F.SHOCK_SLOTS == tuple(named[name] for name in F.FACTORS)
    assert all(slot < rng.N_STEP_SLOTS for slot in F.SHOCK_SLOTS)  # drawn with every step's uniforms


def test_lists_of_factors_derive_from_the_declaration():
    assert pivotmc.FACTORS == F.FACTORS == tuple(f.name for f in F.MARKET_FACTORS)
    assert [int(F.FactorIndex[name]) for name in F.FACTORS] == list(range(F.N_FACTORS))
    assert BACKEND_KEPT_FACTORS == F.KEPT_FACTORS
    kept = {*(f.variable for f in F.MARKET_FACTORS), *(d.variable for d in F.DERIVED_VARIABLES)}
    assert set(F.KEPT_FACTORS) == kept and len(F.KEPT_FACTORS) == len(kept)
    assert list(FACTOR_ATTRS) == list(F.KEPT_FACTORS)
    for v in F.KEPT_VARIABLES:
        assert FACTOR_ATTRS[v.variable] == (v.units, v.long_name)
    assert len(Scenario.default().correlation.matrix) == F.N_FACTORS
    assert all(len(row) == F.N_FACTORS for row in Scenario.default().correlation.matrix)


def test_figures_draw_the_declared_panels_with_their_words(kept_run):
    pytest.importorskip("matplotlib")
    from pivotmc.analysis import plots

    by_name = {v.variable: v for v in F.KEPT_VARIABLES}
    axes = [ax for ax in plots.fan_charts(kept_run).axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [by_name[name].title for name in F.FAN_CHART_VARIABLES]
    for v in F.KEPT_VARIABLES:
        ax = plots.fan_chart(kept_run, v.variable).axes[0]
        assert ax.get_title() == v.title and ax.get_ylabel().startswith(v.axis_units), v.variable
        assert (ax.get_yscale() == "log") == v.log_axis, v.variable


def test_each_factor_names_its_section_and_starting_value():
    scenario = Scenario.default()
    for f in F.MARKET_FACTORS:
        section, _, key = f.initial.partition(".")
        assert section == f.section and hasattr(getattr(scenario, section), key), f.initial
        assert scenario.value(f.initial) > 0  # a price, a rate or a level


def test_calibration_reads_the_declared_columns():
    from pivotmc.calibration.calibrate import COLUMNS

    assert COLUMNS == {f.column: f.name for f in F.MARKET_FACTORS}


@pytest.fixture(scope="module")
def kept_run():
    scenario = Scenario.default().with_overrides({"simulation.horizon_years": 1.0, "strategies.evaluate": ["mine"]})
    return pivotmc.simulate(scenario, n_paths=8, seed=1, backend="reference", keep_paths=3)


def test_a_result_keeps_the_declared_trajectories_with_their_units(kept_run):
    kept = [name for name in kept_run.data_vars if kept_run[name].dims == ("kept_path", "time")]
    assert kept == list(F.KEPT_FACTORS)
    for v in F.KEPT_VARIABLES:
        assert (kept_run[v.variable].attrs["units"], kept_run[v.variable].attrs["long_name"]) == (v.units, v.long_name)


def test_an_inconsistent_declaration_is_refused_on_import():
    btc = F.factor("btc")
    clash = dataclasses.replace(F.factor("fees"), kept_row=btc.kept_row)
    with pytest.raises(RuntimeError, match="kept rows"):
        F._check((btc, clash), ())
    shared = dataclasses.replace(F.factor("fees"), slot=btc.slot)
    with pytest.raises(RuntimeError, match="slot"):
        F._check((btc, shared), ())
    F._check(F.MARKET_FACTORS, F.DERIVED_VARIABLES)  # the declaration itself passes


@settings(max_examples=30, deadline=None)
@given(correlation_matrices())
def test_correlated_shocks_are_the_cholesky_rows_summed_left_to_right(matrix):
    chol = lower_cholesky_psd(np.array(matrix))
    z = np.random.default_rng(0).standard_normal((F.N_FACTORS, 64))
    shocks = correlate(chol, z)
    assert list(shocks) == list(F.FACTORS)
    product = chol @ z
    for i, name in enumerate(F.FACTORS):
        want = chol[i, 0] * z[0]  # the order every executor keeps, the diagonal term last
        for j in range(1, i + 1):
            want = want + chol[i, j] * z[j]
        assert shocks[name].tobytes() == want.tobytes(), name
        np.testing.assert_allclose(shocks[name], product[i], rtol=0, atol=1e-12)
    # Lower-triangular: a factor's shock does not move with the normals of the factors after it.
    later = z.copy()
    later[1:] += 1.0
    assert correlate(chol, later)[F.FACTORS[0]].tobytes() == shocks[F.FACTORS[0]].tobytes()
