"""Saving results to netCDF-4 files and reading them back."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import xarray as xr
from same_dataset import assert_same_dataset

import pivotmc
from pivotmc import STRATEGIES, Scenario, ValidationError
from pivotmc.run.io import ENGINE, load, save

SCENARIO = Scenario.default().with_overrides({"simulation.horizon_years": 2, "switch.learning_paths": 1000})
BIG_SEED = 2**63 + 12345
# Eight years: the three-way switch converts to host on some paths, to cloud on others and never on the rest;
# a learning seed beyond int32.
SWITCHING = Scenario.default().with_overrides({
    "simulation.horizon_years": 8, "switch.learning_paths": 1000, "switch.learning_seed": 2**62 + 7,
})
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    return pivotmc.simulate(SCENARIO, n_paths=200, seed=BIG_SEED, keep_paths=3)


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "run.nc"
    assert save(result, path) == path
    return path


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith(".") and ". " not in message.rstrip("."), message


def test_round_trip_is_exact(result, saved) -> None:
    back = load(saved)
    assert_same_dataset(back, result)
    # Bitwise: netCDF-4 stores float64 as is; and a result saved again comes back the same.
    assert back["npv"].values.tobytes() == result["npv"].values.tobytes()
    assert_same_dataset(load(save(back, saved.with_name("again.nc"))), result)


def test_round_trip_coordinates(result, saved) -> None:
    back = load(saved)
    assert list(back["strategy"].values) == list(result["strategy"].values) == list(STRATEGIES)
    # Text comes back as Python strings, as simulate makes it, whatever the reader's string type.
    assert back["strategy"].dtype == result["strategy"].dtype == object
    assert all(type(s) is str for s in back["strategy"].values)
    np.testing.assert_array_equal(back["time"].values, result["time"].values)
    np.testing.assert_array_equal(back["t_years"].values, result["t_years"].values)
    np.testing.assert_array_equal(back["path"].values, np.arange(200))
    np.testing.assert_array_equal(back["kept_path"].values, [0, 1, 2])
    assert back.sizes == result.sizes
    for name in result.coords:
        assert back[name].dtype == result[name].dtype, name
    assert back["path"].dtype == np.int64 and back["time"].dtype == result["time"].dtype


def test_round_trip_attributes(result, saved) -> None:
    back = load(saved)
    assert set(back.attrs) == set(result.attrs)
    assert back.attrs["seed"] == BIG_SEED  # beyond int64: a uint64 attribute
    assert type(back.attrs["seed"]) is int
    assert back.attrs["n_paths"] == 200 and type(back.attrs["n_paths"]) is int
    for key, value in result.attrs.items():
        assert back.attrs[key] == value and type(back.attrs[key]) is type(value), key
    assert Scenario.from_toml_string(back.attrs["scenario"]) == SCENARIO


def test_the_file_holds_native_netcdf4_types(saved) -> None:
    """64-bit integers and text are stored as such, not as text with notes on how to read them back."""
    import h5netcdf
    import h5py

    assert saved.read_bytes()[:8] == HDF5_MAGIC
    with h5netcdf.File(saved, "r") as f:
        assert not any(key.startswith("pivotmc_") and key != "pivotmc_version" for key in f.attrs)
        assert np.asarray(f.attrs["seed"]).dtype == np.uint64 and int(np.asarray(f.attrs["seed"]).item()) == BIG_SEED
        assert np.asarray(f.attrs["n_paths"]).dtype == np.int64
        assert f.variables["path"].dtype == np.int64 and f.variables["kept_path"].dtype == np.int64
        assert f.variables["switch_decision"].dtype == np.int16
        assert f.dimensions["kept_path"].size == 3
    with h5py.File(saved, "r") as f:  # netCDF-4 variable-length UTF-8 strings
        text = h5py.check_string_dtype(f["strategy"].dtype)
        assert text is not None and text.encoding == "utf-8" and text.length is None


def test_round_trip_without_kept_paths(tmp_path) -> None:
    result = pivotmc.simulate(SCENARIO, n_paths=30, seed=5)
    assert result.sizes["kept_path"] == 0
    path = save(result, tmp_path / "bare.nc")
    back = load(path)
    assert_same_dataset(back, result)
    assert back.sizes["kept_path"] == 0
    assert back["cash_flow"].dims == ("strategy", "kept_path", "time") and back["cash_flow"].shape == (5, 0, 24)
    assert back["kept_path"].dtype == np.int64 and back["btc_price"].dtype == np.float64
    assert pivotmc.format_summary(pivotmc.summarize(back)) == pivotmc.format_summary(pivotmc.summarize(result))


def test_seed_at_the_top_of_the_range(tmp_path) -> None:
    result = pivotmc.simulate(SCENARIO.with_overrides({"simulation.horizon_years": 0.5}), n_paths=4, seed=2**64 - 1)
    back = load(save(result, tmp_path / "top.nc"))
    assert back.attrs["seed"] == 2**64 - 1 and type(back.attrs["seed"]) is int
    assert_same_dataset(back, result)


@pytest.mark.parametrize("name", ["run.csv", "run", "run.nc4", "run.nc.txt"])
def test_save_needs_a_nc_suffix(result, tmp_path, name: str) -> None:
    with pytest.raises(ValidationError, match=r"\.nc"):
        save(result, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_load_missing_file(tmp_path) -> None:
    with pytest.raises(ValidationError, match="nowhere.nc"):
        load(tmp_path / "nowhere.nc")


def test_save_and_load_leave_their_datasets_unchanged(result, saved, tmp_path) -> None:
    before = result.copy(deep=True)
    save(result, tmp_path / "again.nc")
    assert_same_dataset(result, before)
    back = load(saved)
    back.attrs["seed"] = 0
    back["strategy"].attrs["x"] = 1
    assert_same_dataset(load(saved), result)


def test_round_trip_of_the_switch_variables(tmp_path) -> None:
    result = pivotmc.simulate(SWITCHING, n_paths=300, seed=3, keep_paths=2)
    assert 0 < np.mean(result["switch_decision"].values >= 0) < 1  # dates and NaNs both present
    assert set(np.unique(result["switch_action"].values)) == {-1, 0, 1}  # never, host and cloud
    back = load(save(result, tmp_path / "switch.nc"))
    assert_same_dataset(back, result)
    assert back["switch_decision"].dtype == np.int16
    assert back["option_value"].dims == () and back["option_value"].attrs["compared_with"] in ("mine", "host")
    assert list(back["basis_term"].values) == list(result["basis_term"].values)
    assert back.attrs["switch_learning_seed"] == 2**62 + 7 and type(back.attrs["switch_learning_seed"]) is int
    assert pivotmc.format_summary(pivotmc.summarize(back)) == pivotmc.format_summary(pivotmc.summarize(result))
    # Written before its standard error was named option_value_se, a result reads the same.
    old = load(save(result.rename_vars(option_value_se="option_value_std_error"), tmp_path / "old-names.nc"))
    xr.testing.assert_identical(old, result)


@pytest.mark.parametrize("fmt, magic", [("NETCDF3_CLASSIC", b"CDF\x01"), ("NETCDF3_64BIT", b"CDF\x02")])
def test_a_netcdf3_file_is_refused_with_how_to_make_a_new_one(tmp_path, fmt: str, magic: bytes) -> None:
    """Earlier versions wrote netCDF-3; such a file is refused in one sentence that says what to do."""
    old = xr.Dataset(
        {"npv": (("strategy", "path"), np.zeros((2, 3)))},
        coords={"strategy": ["mine", "host"]},
        attrs={"pivotmc_version": "0.0.9", "seed": "12", "n_paths": 3},
    )
    path = tmp_path / "old.nc"
    old.to_netcdf(path, engine="scipy", format=fmt)
    assert path.read_bytes()[:4] == magic
    with pytest.raises(ValidationError) as info:
        load(path)
    message = str(info.value)
    assert "old.nc" in message and "netCDF-3" in message and "--out" in message
    assert_one_sentence(message)


def _not_results(folder) -> dict:
    plain = folder / "plain.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}, attrs={"title": "x"}).to_netcdf(plain, engine=ENGINE)
    garbage = folder / "garbage.nc"
    garbage.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
    empty = folder / "empty.nc"
    empty.write_bytes(b"")
    cut = folder / "cut.nc"
    cut.write_bytes(HDF5_MAGIC + b"\x00" * 100)  # an HDF5 signature, then nothing readable
    text = folder / "text.nc"
    text.write_text("npv,strategy\n1,mine\n")
    return {"plain": (plain, "not a pivotmc result"), "garbage": (garbage, "not a netCDF file"),
            "empty": (empty, "not a netCDF file"), "cut": (cut, "cannot be read as netCDF"),
            "text": (text, "not a netCDF file")}


def test_files_that_are_not_results_are_refused_in_one_sentence(tmp_path) -> None:
    for name, (path, reason) in _not_results(tmp_path).items():
        with pytest.raises(ValidationError) as info:
            load(path)
        message = str(info.value)
        assert reason in message and path.name in message, (name, message)
        assert "\n" not in message and message.endswith("."), (name, message)


def test_a_missing_h5netcdf_is_named(result, saved, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "h5netcdf", None)  # import h5netcdf now raises ImportError
    for call in (lambda: save(result, tmp_path / "x.nc"), lambda: load(saved)):
        with pytest.raises(ImportError, match="h5netcdf") as info:
            call()
        assert "pip install h5netcdf h5py" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "x.nc").exists()


def test_plain_values_gives_python_types_and_leaves_its_input_alone() -> None:
    from pivotmc.run.results import plain_values

    ds = xr.Dataset(
        {"v": ("x", np.zeros(2), {"a": np.float64(1.5)}), "note": ("x", np.array(["", "b"]))},
        coords={"x": ("x", np.array(["p", "q"]), {"b": np.int64(2)})},
        attrs={"seed": np.uint64(2**64 - 1)},
    )
    before = ds.copy(deep=True)
    out = plain_values(ds)
    assert out["x"].dtype == out["note"].dtype == object and out["x"].values.tolist() == ["p", "q"]
    assert out.attrs["seed"] == 2**64 - 1 and type(out.attrs["seed"]) is int
    assert type(out["v"].attrs["a"]) is float and type(out["x"].attrs["b"]) is int
    xr.testing.assert_identical(ds, before)
    assert ds["x"].dtype.kind == "U" and type(ds.attrs["seed"]) is np.uint64 and type(ds["v"].attrs["a"]) is np.float64
