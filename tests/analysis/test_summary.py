"""Properties of the NPV summary statistics and their text rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from naming import assert_standard_errors_end_in_se
from pivotmc.analysis.summary import format_summary, summarize
from pivotmc.text import pm, se_decimals


def make_ds(npv: np.ndarray, names: list[str] | None = None) -> xr.Dataset:
    npv = np.atleast_2d(np.asarray(npv, dtype=np.float64))
    if names is None:
        names = [f"s{i}" for i in range(npv.shape[0])]
    return xr.Dataset(
        {"npv": (("strategy", "path"), npv, {"units": "USD"})},
        coords={"strategy": names},
    )


@pytest.fixture(scope="module")
def three_strategies() -> tuple[np.ndarray, xr.Dataset]:
    rng = np.random.default_rng(20240601)
    n = 5_001
    common = rng.standard_normal(n)
    npv = np.stack(
        [
            3e6 + 15e6 * common + 2e6 * rng.standard_normal(n),
            6e6 + 3e6 * common + 1e6 * rng.standard_normal(n),
            5e6 + 8e6 * common + 2e6 * rng.standard_normal(n),
        ]
    )
    return npv, make_ds(npv, ["mine", "host", "hybrid"])


# --- moments and quantiles -------------------------------------------------


def test_moments_match_numpy(three_strategies):
    npv, ds = three_strategies
    s = summarize(ds)
    n = npv.shape[1]
    np.testing.assert_allclose(s["mean"].values, npv.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(s["sd"].values, npv.std(axis=1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(
        s["mean_se"].values, npv.std(axis=1, ddof=1) / math.sqrt(n), rtol=1e-12
    )
    assert s.attrs["n_paths"] == n
    assert s.attrs["level"] == 0.95


@pytest.mark.parametrize("n", [2, 3, 7, 20, 21, 1000, 1001])
def test_quantiles_match_numpy_linear(n):
    rng = np.random.default_rng(n)
    npv = rng.lognormal(size=(2, n)) - 1.0
    s = summarize(make_ds(npv), level=0.9)
    for name, p in (("p5", 0.05), ("p50", 0.5), ("p95", 0.95)):
        np.testing.assert_allclose(
            s[name].values, np.quantile(npv, p, axis=1, method="linear"), rtol=1e-12, atol=1e-12
        )
    np.testing.assert_allclose(
        s["var"].values, -np.quantile(npv, 0.1, axis=1, method="linear"), rtol=1e-12, atol=1e-12
    )


def test_path_order_and_dim_order_do_not_matter(three_strategies):
    npv, ds = three_strategies
    base = summarize(ds)
    perm = np.random.default_rng(0).permutation(npv.shape[1])
    shuffled = summarize(make_ds(npv[:, perm], ["mine", "host", "hybrid"]))
    transposed = summarize(ds.transpose("path", "strategy"))
    for other in (shuffled, transposed):
        for name in ("p5", "p50", "p95", "var", "cvar", "prob_loss", "prob_greater"):
            np.testing.assert_allclose(other[name].values, base[name].values, rtol=1e-12)


def test_other_variables_are_ignored(three_strategies):
    npv, ds = three_strategies
    extra = ds.assign(switch_time=(("strategy", "path"), np.full(npv.shape, np.nan)))
    xr.testing.assert_identical(summarize(extra), summarize(ds))


# --- VaR and CVaR ----------------------------------------------------------


def test_var_cvar_tail_is_one_whole_observation():
    # 20 paths at 95 %: the tail is exactly the single worst path.
    npv = np.concatenate([[-10.0], np.arange(1.0, 20.0)])
    s = summarize(make_ds(npv), level=0.95)
    assert s["cvar"].item() == pytest.approx(10.0, abs=1e-12)
    # linear quantile at 0.05: position 19 * 0.05 = 0.95 between -10 and 1
    assert s["var"].item() == pytest.approx(-(-10.0 + 0.95 * 11.0), abs=1e-12)


def test_cvar_with_fractional_boundary_weight():
    # 10 paths at 85 %: k = 1.5, the worst path plus half of the second worst.
    npv = np.array([-30.0, -6.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    s = summarize(make_ds(npv[::-1]), level=0.85)
    assert s["cvar"].item() == pytest.approx((30.0 + 0.5 * 6.0) / 1.5, rel=1e-12)
    # position 9 * 0.15 = 1.35 between -6 and 0
    assert s["var"].item() == pytest.approx(3.9, rel=1e-12)


def test_cvar_is_continuous_in_level():
    npv = np.array([-30.0, -6.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    ds = make_ds(npv)
    # level 0.9 puts exactly one path in the tail; approach it from both sides
    at = summarize(ds, level=0.9)["cvar"].item()
    below = summarize(ds, level=0.9 - 1e-7)["cvar"].item()
    above = summarize(ds, level=0.9 + 1e-7)["cvar"].item()
    assert at == pytest.approx(30.0, rel=1e-12)
    assert abs(below - at) < 1e-4
    assert abs(above - at) < 1e-4


def test_cvar_at_extreme_level_is_worst_loss():
    npv = np.array([5.0, -2.0, 3.0, -7.5, 1.0])
    assert summarize(make_ds(npv), level=0.99)["cvar"].item() == pytest.approx(7.5)


@settings(max_examples=150, deadline=None)
@given(
    values=arrays(
        np.float64,
        st.integers(2, 40),
        elements=st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    ),
    level=st.floats(0.01, 0.99),
)
def test_cvar_bounds(values, level):
    s = summarize(make_ds(values), level=level)
    var, cvar = s["var"].item(), s["cvar"].item()
    assert cvar >= var
    # the mean loss of the worst tail cannot be smaller than the overall mean
    # loss, nor larger than the single worst loss
    tol = 1e-9 * max(1.0, float(np.max(np.abs(values))))
    assert cvar >= -values.mean() - tol
    assert cvar <= -values.min() + tol


def test_cvar_of_normal_matches_closed_form():
    mu, sigma, level, n = 2.0, 3.0, 0.95, 200_000
    rng = np.random.default_rng(7)
    npv = mu + sigma * rng.standard_normal(n)
    cvar = summarize(make_ds(npv), level=level)["cvar"].item()
    alpha = 1.0 - level
    z = stats.norm.ppf(level)
    expected = sigma * stats.norm.pdf(z) / alpha - mu
    var_true = sigma * z - mu
    # asymptotic variance of the empirical expected shortfall:
    # (Var(L | tail) + level * (ES - VaR)^2) / (n * alpha), L = -NPV
    tail_var = sigma**2 * (1.0 + z * stats.norm.pdf(z) / alpha - (stats.norm.pdf(z) / alpha) ** 2)
    se = math.sqrt((tail_var + level * (expected - var_true) ** 2) / (n * alpha))
    assert abs(cvar - expected) < 4.0 * se


# --- probabilities ---------------------------------------------------------


def test_prob_loss_on_known_data():
    npv = np.array([[-1.0, 0.0, 1.0, 2.0], [-3.0, -2.0, -1.0, 5.0]])
    s = summarize(make_ds(npv))
    np.testing.assert_allclose(s["prob_loss"].values, [0.25, 0.75])
    np.testing.assert_allclose(
        s["prob_loss_se"].values, [math.sqrt(0.25 * 0.75 / 4)] * 2
    )


def test_prob_greater_for_shifted_copy():
    b = np.random.default_rng(3).normal(size=1000)
    s = summarize(make_ds(np.stack([b + 0.5, b]), ["a", "b"]))
    pg = s["prob_greater"]
    assert pg.sel(strategy="a", versus="b").item() == 1.0
    assert pg.sel(strategy="b", versus="a").item() == 0.0
    assert s["prob_greater_se"].sel(strategy="a", versus="b").item() == 0.0
    assert np.isnan(np.diag(pg.values)).all()
    assert np.isnan(np.diag(s["prob_greater_se"].values)).all()
    md = s["mean_difference"].sel(strategy="a", versus="b").item()
    assert md == pytest.approx(0.5, rel=1e-12)


def test_prob_greater_independent_normals_is_one_half():
    n = 100_000
    rng = np.random.default_rng(11)
    s = summarize(make_ds(rng.standard_normal((2, n))))
    p = s["prob_greater"].values[0, 1]
    se = s["prob_greater_se"].values[0, 1]
    assert se == pytest.approx(math.sqrt(p * (1 - p) / n))
    assert abs(p - 0.5) < 4.0 * math.sqrt(0.25 / n)
    # continuous data: no ties, so the two directions are complementary
    assert p + s["prob_greater"].values[1, 0] == pytest.approx(1.0)


def test_mean_difference_with_common_random_numbers(three_strategies):
    npv, ds = three_strategies
    s = summarize(ds)
    n = npv.shape[1]
    md = s["mean_difference"].values
    md_se = s["mean_difference_se"].values
    for i in range(3):
        for j in range(3):
            if i == j:
                assert np.isnan(md[i, j]) and np.isnan(md_se[i, j])
                continue
            diff = npv[i] - npv[j]
            assert md[i, j] == pytest.approx(diff.mean(), rel=1e-10)
            assert md_se[i, j] == pytest.approx(diff.std(ddof=1) / math.sqrt(n), rel=1e-10)
            assert md[i, j] == pytest.approx(-md[j, i], rel=1e-12)


def test_common_random_numbers_shrink_the_difference_error():
    n = 20_000
    rng = np.random.default_rng(5)
    shared = rng.standard_normal(n)
    noise = 0.1 * rng.standard_normal((2, n))
    crn = summarize(
        make_ds(np.stack([1e7 * (shared + noise[0]), 1e7 * (0.9 * shared + noise[1])]))
    )
    # same marginals, but each strategy gets its own draws
    own = rng.standard_normal((2, n))
    indep = summarize(
        make_ds(np.stack([1e7 * (own[0] + noise[0]), 1e7 * (0.9 * own[1] + noise[1])]))
    )
    crn_se = crn["mean_difference_se"].values[0, 1]
    indep_se = indep["mean_difference_se"].values[0, 1]
    # sd of the difference: sqrt(0.1^2 + 0.02) vs sqrt(1.01 + 0.82) in 1e7 USD
    assert crn_se < 0.2 * indep_se
    # without correlation the pathwise error is the familiar sqrt(se_a^2 + se_b^2): the two
    # squared errors differ by 2 cov(a, b) / n, and the sample covariance of independent
    # draws has a standard error of sd_a sd_b / sqrt(n) (4 of them allowed)
    se = indep["mean_se"].values
    assert abs(indep_se**2 - (se[0] ** 2 + se[1] ** 2)) <= 2 * 4.0 * se[0] * se[1] / math.sqrt(n)


# --- invariance ------------------------------------------------------------


def test_adding_a_constant_shifts_location_only(three_strategies):
    npv, ds = three_strategies
    c = 2.5e6
    base = summarize(ds)
    shifted = summarize(make_ds(npv + c, ["mine", "host", "hybrid"]))
    atol = 1e-6  # USD; far below any rounding that matters at these magnitudes
    for name in ("mean", "p5", "p50", "p95"):
        np.testing.assert_allclose(shifted[name].values, base[name].values + c, atol=atol)
    for name in ("var", "cvar"):
        np.testing.assert_allclose(shifted[name].values, base[name].values - c, atol=atol)
    for name in ("sd", "mean_se", "mean_difference", "mean_difference_se"):
        np.testing.assert_allclose(shifted[name].values, base[name].values, atol=atol)
    np.testing.assert_array_equal(shifted["prob_greater"].values, base["prob_greater"].values)


# --- metadata --------------------------------------------------------------


def test_every_variable_has_units_and_long_name(three_strategies):
    _, ds = three_strategies
    s = summarize(ds)
    for name, da in s.data_vars.items():
        assert da.attrs["units"] in {"USD", "1"}, name
        assert da.attrs["long_name"], name
    assert s["prob_greater"].dims == ("strategy", "versus")
    assert list(s["versus"].values) == ["mine", "host", "hybrid"]


# --- errors ----------------------------------------------------------------


def test_missing_npv_is_rejected():
    ds = xr.Dataset({"irr": (("strategy", "path"), np.zeros((1, 3)))})
    with pytest.raises(ValueError, match="npv"):
        summarize(ds)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_npv_is_rejected(bad):
    npv = np.array([[1.0, 2.0, bad]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        summarize(make_ds(npv))


def test_single_path_is_rejected():
    with pytest.raises(ValueError, match="at least 2 paths"):
        summarize(make_ds(np.array([[1.0], [2.0]])))


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.95", True])
def test_bad_level_is_rejected(level):
    with pytest.raises(ValueError, match="level"):
        summarize(make_ds(np.array([[1.0, 2.0, 3.0]])), level=level)


# --- formatting ------------------------------------------------------------


def test_format_summary_lists_every_strategy(three_strategies):
    npv, ds = three_strategies
    text = format_summary(summarize(ds))
    lines = text.splitlines()
    assert f"{npv.shape[1]:,} paths" in lines[0]
    for name in ("mine", "host", "hybrid"):
        assert name in text
    for column in ("mean ± SE", "P5", "P50", "P95", "VaR95", "CVaR95", "P(loss)"):
        assert column in text
    assert "P(row > column)" in text
    # the per-strategy table is aligned: header, rule and rows share a width
    table = lines[2:7]
    assert len({len(line) for line in table}) == 1


# --- the switch strategy ---------------------------------------------------


def switch_ds(host_shift: float = 0.0) -> xr.Dataset:
    """Four strategies whose switch row converts at some of five quarterly decision dates."""
    rng = np.random.default_rng(7)
    n = 2_001
    common = rng.standard_normal(n)
    mine = 5e6 + 10e6 * common
    host = 4e6 + host_shift + 3e6 * common + 1e6 * rng.standard_normal(n)
    decision = rng.choice([-1, 0, 1, 3], size=n, p=[0.55, 0.05, 0.3, 0.1]).astype(np.int16)
    switch = np.where(decision >= 0, host + 1e6, mine)
    times = np.arange(5) * 0.25
    ds = make_ds(np.stack([mine, host, (mine + host) / 2, switch]), ["mine", "host", "hybrid", "switch"])
    ds = ds.assign_coords(
        decision=np.arange(5), decision_time=("decision", times),
        decision_date=("decision", np.array(["2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01", "2027-01-01"],
                                            dtype="datetime64[ns]")),
    )
    counts = np.bincount(decision[decision >= 0], minlength=5)
    return ds.assign(
        switch_decision=("path", decision),
        switch_time=("path", np.where(decision >= 0, times[np.maximum(decision, 0)], np.nan)),
        switch_share=("decision", counts / n),
    )


@pytest.mark.parametrize("host_shift", [0.0, 3e6])
def test_option_value_is_the_pathwise_difference_with_the_better_static_strategy(host_shift):
    ds = switch_ds(host_shift)
    s = summarize(ds)
    npv = ds["npv"]
    best = "mine" if float(npv.sel(strategy="mine").mean()) >= float(npv.sel(strategy="host").mean()) else "host"
    assert best == ("mine" if host_shift == 0.0 else "host")
    diff = (npv.sel(strategy="switch") - npv.sel(strategy=best)).values
    assert s["option_value"].attrs["compared_with"] == best
    np.testing.assert_allclose(float(s["option_value"]), diff.mean(), rtol=1e-12)
    np.testing.assert_allclose(float(s["option_value_se"]), diff.std(ddof=1) / math.sqrt(diff.size), rtol=1e-12)
    assert float(s["option_value"]) == float(s["mean_difference"].sel(strategy="switch", versus=best))
    assert_standard_errors_end_in_se(s)


def test_switch_conversions_from_shares_or_decisions_agree():
    ds = switch_ds()
    from_shares = summarize(ds.drop_vars(["switch_decision", "switch_time"]))
    from_decisions = summarize(ds.drop_vars("switch_share"))
    xr.testing.assert_identical(from_shares, from_decisions)
    decision = ds["switch_decision"].values
    converted = decision[decision >= 0]
    assert float(from_shares["switch_converted"]) == converted.size / decision.size
    # The lower median of the converting paths' dates: half of them have converted by it.
    median = np.sort(converted)[(converted.size - 1) // 2]
    assert float(from_shares["switch_median_time"]) == ds["decision_time"].values[median]
    assert from_shares["switch_median_date"].values == ds["decision_date"].values[median]
    for name in ("option_value", "switch_converted", "switch_median_time"):
        assert from_shares[name].attrs["units"] in {"USD", "1", "years"} and from_shares[name].attrs["long_name"]


def test_summary_without_switch_has_no_switch_variables(three_strategies):
    _, ds = three_strategies
    assert not any(name.startswith(("option", "switch")) for name in summarize(ds).data_vars)
    # Only switch and hybrid: nothing to compare with, and without shares nothing about conversions.
    only = make_ds(np.stack([np.arange(5.0), np.arange(5.0) + 1]), ["hybrid", "switch"])
    assert not any(name.startswith(("option", "switch")) for name in summarize(only).data_vars)


def test_format_summary_shows_the_switch_compactly():
    ds = switch_ds()
    s = summarize(ds)
    text = format_summary(s)
    option = next(line for line in text.splitlines() if line.startswith("Option to wait"))
    value, se = float(s["option_value"]) / 1e6, float(s["option_value_se"]) / 1e6
    assert f"switch - {s['option_value'].attrs['compared_with']}" in option
    assert f"{pm(value, se, se_decimals(se))} USD m" in option  # amounts as in the table
    converts = next(line for line in text.splitlines() if line.startswith("Switch converts"))
    assert f"{100 * float(s['switch_converted']):.1f}%" in converts
    assert np.datetime_as_string(s["switch_median_date"].values, unit="D") in converts
    assert text.count("\n") == format_summary(summarize(ds[["npv"]])).count("\n") + 1  # one line more than without shares
    never = ds.assign(switch_share=ds["switch_share"] * 0.0)
    assert "Switch converts on no path" in format_summary(summarize(never.drop_vars(["switch_decision", "switch_time"])))


def test_format_summary_scales_amounts():
    npv = np.array([[-2e6, 1e6, 4e6, 5e6]])
    text = format_summary(summarize(make_ds(npv, ["mine"])), scale=1e3, unit_label="USD k")
    assert "USD k" in text
    assert "2,000.0" in text  # mean of 8e6 / 4 paths, in thousands
    assert "25.0%" in text  # one path in four is a loss


# --- ties, the option value explained, provenance, widths ---------------------


def test_ties_are_counted_and_shown():
    # switch equals mine on the two paths where it "never converts" (hand-computed shares).
    mine = np.array([1.0, 2.0, 3.0, 4.0])
    switch = np.array([1.0, 2.0, 5.0, 0.0])
    s = summarize(make_ds(np.stack([mine, switch]), ["mine", "switch"]))
    assert s["prob_greater"].sel(strategy="switch", versus="mine").item() == 0.25
    assert s["prob_greater"].sel(strategy="mine", versus="switch").item() == 0.25
    assert s["prob_equal"].sel(strategy="switch", versus="mine").item() == 0.5
    assert s["prob_equal"].sel(strategy="mine", versus="switch").item() == 0.5
    assert np.isnan(s["prob_equal"].sel(strategy="mine", versus="mine").item())
    text = " ".join(format_summary(s).split())  # the notes wrap at 100 columns
    assert "Ties, P(row = column): switch = mine on 50.0% of paths." in text
    assert "P(row > column) + P(column > row) + ties = 100%" in text
    assert "switch equals mine on the paths on which it never converts" in text
    # Without ties, the note says the pairs add up to 100% by themselves.
    no_ties = format_summary(summarize(make_ds(np.stack([mine, mine + 1.0]), ["mine", "host"])))
    assert "No ties" in no_ties and "Ties, P(row = column)" not in no_ties


@given(arrays(np.float64, (3, 12), elements=st.sampled_from([-1.0, 0.0, 2.0, 5.0])))
@settings(max_examples=50, deadline=None)
def test_greater_both_ways_and_equal_add_up_to_one(npv):
    s = summarize(make_ds(npv))
    total = s["prob_greater"].values + s["prob_greater"].values.T + s["prob_equal"].values
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(total[off], 1.0, rtol=0, atol=1e-15)


def test_option_value_line_says_what_it_is():
    text = format_summary(summarize(switch_ds(3e6)))  # host is the better static strategy
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Option to wait (switch - host"))
    explained = " ".join(line.strip() for line in lines[at + 1 : at + 4])
    assert "the mean over paths of NPV(switch) - NPV(host)" in explained
    assert "host being the better of mine and host by mean NPV" in explained
    assert "standard error of that mean, from the paired differences" in explained


def test_summary_restates_how_the_result_was_made(tmp_path):
    import pivotmc
    from pivotmc.run.io import load, save
    from pivotmc.model.scenario import Scenario

    scenario = Scenario.default().with_overrides({
        "simulation.horizon_years": 2.0, "simulation.discount_rate": 0.1, "site.grid_mw": 60.0,
        "strategies.evaluate": ["mine", "host"],
    })
    ds = pivotmc.simulate(scenario, n_paths=50, seed=7, backend="reference")
    s = summarize(load(save(ds, tmp_path / "r.nc")))  # a saved result, as pivotmc summarize reads it
    assert s.attrs["seed"] == 7 and s.attrs["backend"] == "reference"
    assert s.attrs["pivotmc_version"] == pivotmc.__version__
    assert (s.attrs["horizon_years"], s.attrs["discount_rate"], s.attrs["site_grid_mw"]) == (2.0, 0.1, 60.0)
    assert s.attrs["steps_per_year"] == 12 and s.attrs["start_date"] == "2026-01-01"
    text = format_summary(s)
    head = text.splitlines()[:3]
    assert "50 paths" in head[0]
    assert head[1] == "Scenario: from 2026-01-01 over 2 years in monthly steps; discount rate 10% a year; site grid 60 MW"
    assert head[2] == f"Run: seed 7, backend 'reference', pivotmc {pivotmc.__version__}"
    # A bare npv array has none of it, and the summary says nothing of it.
    assert "Run:" not in format_summary(summarize(ds[["npv"]].drop_attrs()))


def test_format_summary_fits_in_100_columns_and_columns_share_decimals():
    ds = switch_ds()
    text = format_summary(summarize(ds))
    assert max(len(line) for line in text.splitlines()) <= 100
    table = text.split("\n\n")[1].splitlines()[2:]  # the per-strategy rows
    decimals = {row.split()[1].split(".")[1] and len(row.split()[1].split(".")[1]) for row in table}
    assert len(decimals) == 1  # one format for the whole "mean ± SE" column
    # Amounts a thousand times larger: the difference matrix continues in a second block.
    huge = ds.assign(npv=ds["npv"] * 1e4)
    wide = format_summary(summarize(huge))
    assert max(len(line) for line in wide.splitlines()) <= 100
    assert wide.count("switch") > text.count("switch")
