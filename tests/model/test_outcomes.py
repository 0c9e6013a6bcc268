"""The option value and the conversion counts: one implementation, against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pivotmc.errors import ValidationError
from pivotmc.model.outcomes import (
    RENAMED_VARIABLES,
    conversion_counts,
    current_names,
    option_value,
    option_value_variables,
    paired_difference,
    recorded_shares,
    share_variables,
)

NAMES = ["mine", "host", "hybrid", "switch"]


def _npv(n: int, host_shift: float, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(n)
    mine = 5e6 + 10e6 * common
    host = 4e6 + host_shift + 3e6 * common + 1e6 * rng.standard_normal(n)
    switch = np.maximum(mine, host + 5e5 * rng.standard_normal(n))
    return {"mine": mine, "host": host, "hybrid": 0.5 * (mine + host), "switch": switch}


@pytest.mark.parametrize("host_shift", [0.0, 3e6])
def test_option_value_is_the_mean_paired_difference_with_the_better_static_strategy(host_shift) -> None:
    npv = _npv(3001, host_shift)
    found = option_value(npv.__getitem__, NAMES)
    best = "mine" if npv["mine"].mean() >= npv["host"].mean() else "host"
    assert best == ("mine" if host_shift == 0.0 else "host")
    diff = npv["switch"] - npv[best]
    assert (found.strategy, found.compared_with) == ("switch", best)
    assert found.value == diff.mean() and found.value_se == diff.std(ddof=1) / math.sqrt(diff.size)
    # As the result's variables, with the strategy it is measured against on both.
    variables = option_value_variables(npv.__getitem__, NAMES)
    assert set(variables) == {"option_value", "option_value_se"}
    assert variables["option_value"][:2] == ((), found.value) and variables["option_value_se"][:2] == ((), found.value_se)
    assert all(v[2]["compared_with"] == best and v[2]["units"] == "USD" for v in variables.values())


def test_option_value_of_equal_static_means_is_measured_against_the_first_in_table_order() -> None:
    npv = _npv(500, 0.0)
    npv["host"] = npv["mine"][::-1].copy()  # the same mean, to the last bit
    assert np.mean(npv["host"]) == np.mean(npv["mine"])
    assert option_value(npv.__getitem__, ["host", "switch", "mine"]).compared_with == "mine"


def test_option_value_needs_the_learned_strategy_and_a_static_one() -> None:
    npv = _npv(100, 0.0)
    assert option_value(npv.__getitem__, ["mine", "host", "hybrid"]) is None
    assert option_value(npv.__getitem__, ["hybrid", "switch"]) is None
    assert option_value_variables(npv.__getitem__, ["a", "b"]) == {}
    only_host = option_value(npv.__getitem__, ["host", "switch"])
    assert only_host.compared_with == "host"
    assert math.isnan(option_value(lambda s: npv[s][:1], ["mine", "switch"]).value_se)  # one path: no error


def test_option_value_reads_one_strategy_at_a_time() -> None:
    npv = _npv(100, 0.0)
    calls = []
    option_value(lambda s: calls.append(s) or npv[s], NAMES)
    assert set(calls) == {"mine", "host", "switch"}  # never hybrid, which it does not compare


def test_paired_difference_in_blocks_agrees_with_one_pass() -> None:
    """Beyond 2**22 paths the moments are taken in blocks, without a temporary of the run's size."""
    rng = np.random.default_rng(11)
    n = (1 << 22) + 12_345
    a = 1e6 + 1e5 * rng.standard_normal(n)
    b = a + 2e3 + 1e3 * rng.standard_normal(n)
    mean, sd = paired_difference(a, b)
    diff = a - b
    assert mean == pytest.approx(diff.mean(), rel=1e-12) and sd == pytest.approx(diff.std(ddof=1), rel=1e-12)
    small_mean, small_sd = paired_difference(a[:1000], b[:1000])
    assert small_mean == diff[:1000].mean() and small_sd == diff[:1000].std(ddof=1)  # one pass, as numpy


def _result(decision: np.ndarray, times: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"switch_decision": ("path", decision),
         "switch_time": ("path", np.where(decision >= 0, times[np.maximum(decision, 0)], np.nan))},
        coords={"decision": np.arange(times.size), "decision_time": ("decision", times)},
    )


def test_conversions_read_back_the_same_from_shares_decisions_or_times() -> None:
    rng = np.random.default_rng(5)
    n, times = 1001, np.arange(6) * 0.25
    decision = rng.choice([-1, 0, 2, 5], size=n, p=[0.4, 0.1, 0.3, 0.2]).astype(np.int16)
    counts = conversion_counts(decision, times.size)
    assert counts.dtype == np.int64 and counts.tolist() == [np.sum(decision == d) for d in range(times.size)]
    ds = _result(decision, times)
    dims, share, attrs = share_variables(counts, n)["switch_share"]
    assert dims == "decision" and attrs["units"] == "1"
    from_decisions = recorded_shares(ds)
    from_times = recorded_shares(ds.drop_vars("switch_decision"))
    from_shares = recorded_shares(ds.drop_vars(["switch_decision", "switch_time"]).assign(switch_share=(dims, share)))
    for shares in (from_decisions, from_times, from_shares):
        np.testing.assert_array_equal(shares, counts / n)
        np.testing.assert_array_equal(np.rint(shares * n).astype(np.int64), counts)  # the counts come back exactly
    assert recorded_shares(ds.drop_vars(["switch_decision", "switch_time"])) is None
    assert recorded_shares(ds.drop_vars("decision_time")) is None


def test_a_conversion_time_off_the_decision_dates_is_refused() -> None:
    ds = _result(np.array([0, 1, -1], dtype=np.int16), np.array([0.0, 0.25])).drop_vars("switch_decision")
    bad = ds.assign(switch_time=("path", np.array([0.0, 0.3, np.nan])))
    with pytest.raises(ValidationError, match="not decision dates"):
        recorded_shares(bad)


def test_results_of_earlier_versions_read_under_the_names_now() -> None:
    old = xr.Dataset({name: ((), 1.5) for name in RENAMED_VARIABLES})
    new = current_names(old)
    assert set(new.data_vars) == set(RENAMED_VARIABLES.values()) and float(new["option_value_se"]) == 1.5
    assert current_names(new) is new
