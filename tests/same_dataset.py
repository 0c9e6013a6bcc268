"""Exact comparison of two Datasets: what a file round trip must give back."""

from __future__ import annotations

import xarray as xr


def _typed(attrs: dict) -> dict:
    return {key: (type(value), value) for key, value in attrs.items()}


def assert_same_dataset(got: xr.Dataset, want: xr.Dataset) -> None:
    """Same variables, coordinates, dimensions, dtypes, bytes and attributes (with their Python types)."""
    xr.testing.assert_identical(got, want)
    assert set(got.coords) == set(want.coords) and set(got.data_vars) == set(want.data_vars)
    assert dict(got.sizes) == dict(want.sizes)
    for name, var in want.variables.items():
        back = got.variables[name]
        assert back.dims == var.dims and back.dtype == var.dtype, (name, back.dtype, var.dtype)
        if var.dtype == object:  # text: the same Python strings
            assert [type(v) for v in back.values.ravel()] == [type(v) for v in var.values.ravel()], name
            assert back.values.tolist() == var.values.tolist(), name
        else:  # numbers and dates, bit for bit (NaN included)
            assert back.values.tobytes() == var.values.tobytes(), name
        assert _typed(back.attrs) == _typed(var.attrs), name
    assert _typed(got.attrs) == _typed(want.attrs)
    assert all(isinstance(v, (str, int, float)) for v in got.attrs.values()), got.attrs  # Python values, not numpy's
    assert set(got.indexes) == set(want.indexes)
