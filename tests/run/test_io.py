"""Saving results to netCDF and reading them back."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import xarray as xr

import pivotmc
from pivotmc import STRATEGIES, Scenario, ValidationError
from pivotmc.run.io import load, save

SCENARIO = Scenario.default().with_overrides({"simulation.horizon_years": 2, "switch.learning_paths": 1000})
BIG_SEED = 2**63 + 12345
# Three years with exit values, so that the switch converts on some paths; a learning seed beyond int32.
SWITCHING = Scenario.default().with_overrides({
    "simulation.horizon_years": 3, "switch.learning_paths": 1000, "switch.learning_seed": 2**62 + 7,
    **{f"terminal.{s}": 6.0 for s in ("mine", "host", "hybrid", "switch")},
})
HAS_NETCDF4_LIBRARY = any(importlib.util.find_spec(m) is not None for m in ("netCDF4", "h5netcdf"))


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    return pivotmc.simulate(SCENARIO, n_paths=200, seed=BIG_SEED, keep_paths=3)


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "run.nc"
    assert save(result, path) == path
    return path


def test_round_trip_data(result, saved) -> None:
    back = load(saved)
    for name in ("npv", "cash_flow_mean", "discount_factor", "cash_flow", *(
        "btc_price", "hashrate", "fees", "power_price", "lease_rate", "hashprice"
    )):
        assert back[name].dims == result[name].dims, name
        # Bitwise: netCDF stores float64 as is.
        assert back[name].values.tobytes() == result[name].values.tobytes(), name
        assert back[name].attrs == result[name].attrs, name
    xr.testing.assert_identical(back, result)


def test_round_trip_coordinates(result, saved) -> None:
    back = load(saved)
    assert list(back["strategy"].values) == list(result["strategy"].values) == list(STRATEGIES)
    np.testing.assert_array_equal(back["time"].values, result["time"].values)
    assert back["time"].dtype == result["time"].dtype
    np.testing.assert_array_equal(back["t_years"].values, result["t_years"].values)
    np.testing.assert_array_equal(back["path"].values, np.arange(200))
    np.testing.assert_array_equal(back["kept_path"].values, [0, 1, 2])
    assert back.sizes == result.sizes
    # netCDF-3 has no 64-bit integers: the types come back as they were all the same.
    for name in result.coords:
        assert back[name].dtype == result[name].dtype, name


def test_round_trip_attributes(result, saved) -> None:
    back = load(saved)
    assert set(result.attrs) <= set(back.attrs)
    assert back.attrs["seed"] == BIG_SEED
    assert type(back.attrs["seed"]) is int
    assert back.attrs["n_paths"] == 200
    for key, value in result.attrs.items():
        assert back.attrs[key] == value, key
    assert Scenario.from_toml_string(back.attrs["scenario"]) == SCENARIO


def test_round_trip_without_kept_paths(tmp_path) -> None:
    result = pivotmc.simulate(SCENARIO, n_paths=30, seed=5)
    assert result.sizes["kept_path"] == 0
    path = save(result, tmp_path / "bare.nc")
    back = load(path)
    xr.testing.assert_identical(back, result)
    assert back.sizes["kept_path"] == 0
    assert back["cash_flow"].dims == ("strategy", "kept_path", "time")
    assert set(back.attrs) == set(result.attrs)
    assert pivotmc.format_summary(pivotmc.summarize(back)) == pivotmc.format_summary(pivotmc.summarize(result))


def test_seed_at_the_top_of_the_range(tmp_path) -> None:
    result = pivotmc.simulate(SCENARIO.with_overrides({"simulation.horizon_years": 0.5}), n_paths=4, seed=2**64 - 1)
    back = load(save(result, tmp_path / "top.nc"))
    assert back.attrs["seed"] == 2**64 - 1
    np.testing.assert_array_equal(back["npv"].values, result["npv"].values)


@pytest.mark.parametrize("name", ["run.csv", "run", "run.nc4", "run.nc.txt"])
def test_save_needs_a_nc_suffix(result, tmp_path, name: str) -> None:
    with pytest.raises(ValidationError, match=r"\.nc"):
        save(result, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_load_missing_file(tmp_path) -> None:
    with pytest.raises(ValidationError, match="nowhere.nc"):
        load(tmp_path / "nowhere.nc")


def test_save_leaves_the_dataset_unchanged(result, tmp_path) -> None:
    before = dict(result.attrs)
    save(result, tmp_path / "again.nc")
    assert result.attrs == before
    assert type(result.attrs["seed"]) is int


@pytest.mark.skipif(HAS_NETCDF4_LIBRARY, reason="netCDF4 or h5netcdf present: files are netCDF-4, not scipy-readable")
@pytest.mark.parametrize("keep", [0, 2])
def test_file_is_plain_netcdf3_readable_by_xarray(tmp_path, keep: int) -> None:
    result = pivotmc.simulate(SCENARIO, n_paths=20, seed=1, keep_paths=keep)
    path = save(result, tmp_path / f"keep{keep}.nc")
    with xr.open_dataset(path, engine="scipy") as ds:
        np.testing.assert_array_equal(ds["npv"].values, result["npv"].values)
        assert list(ds["strategy"].values) == list(STRATEGIES)
    with xr.open_dataset(path) as ds:
        np.testing.assert_array_equal(ds["cash_flow_mean"].values, result["cash_flow_mean"].values)


def test_round_trip_of_the_switch_variables(tmp_path) -> None:
    result = pivotmc.simulate(SWITCHING, n_paths=300, seed=3, keep_paths=2)
    assert 0 < np.mean(result["switch_decision"].values >= 0) < 1  # dates and NaNs both present
    back = load(save(result, tmp_path / "switch.nc"))
    xr.testing.assert_identical(back, result)
    for name in ("switch_decision", "switch_time", "switch_share", "option_value", "option_value_se",
                 "switch_boundary_lease_rate", "switch_policy_coefficients", "decision_date", "decision_time",
                 "switch_feature", "basis_term"):
        assert back[name].dtype == result[name].dtype, name
        assert back[name].values.tobytes() == result[name].values.tobytes() or result[name].dtype == object, name
        assert back[name].attrs == result[name].attrs, name
    assert back["switch_decision"].dtype == np.int16
    assert back["option_value"].dims == () and back["option_value"].attrs["compared_with"] in ("mine", "host")
    assert list(back["basis_term"].values) == list(result["basis_term"].values)
    assert back.attrs["switch_learning_seed"] == 2**62 + 7 and type(back.attrs["switch_learning_seed"]) is int
    assert pivotmc.format_summary(pivotmc.summarize(back)) == pivotmc.format_summary(pivotmc.summarize(result))
    # Written before its standard error was named option_value_se, a result reads the same.
    old = load(save(result.rename_vars(option_value_se="option_value_std_error"), tmp_path / "old-names.nc"))
    xr.testing.assert_identical(old, result)


def test_files_of_earlier_versions_still_load(result, tmp_path) -> None:
    """Before the integer attributes were listed, seed and n_paths alone could come back as text."""
    path = save(result, tmp_path / "old.nc")
    with xr.open_dataset(path) as ds:
        old = ds.load()
    del old.attrs["pivotmc_integer_attributes"]
    old.to_netcdf(tmp_path / "older.nc")
    back = load(tmp_path / "older.nc")
    assert back.attrs["seed"] == BIG_SEED and type(back.attrs["seed"]) is int
