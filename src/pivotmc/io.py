"""Reading and writing results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ValidationError

__all__ = ["save", "load"]

_INT32 = (-(2**31), 2**31 - 1)


def _portable_attrs(attrs: dict) -> dict:
    """Attributes every netCDF flavour can hold: integers beyond int32 become text."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        elif isinstance(value, (int, np.integer)) and not _INT32[0] <= int(value) <= _INT32[1]:
            value = str(int(value))
        out[key] = value
    return out


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a result to netCDF (``.nc``), readable back with :func:`load`."""
    path = Path(path)
    if path.suffix != ".nc":
        raise ValidationError(f"cannot write {str(path)!r}: results are written as netCDF, with a .nc suffix.")
    out = ds.copy()
    out.attrs = _portable_attrs(ds.attrs)
    out.to_netcdf(path)
    return path


def load(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`save` (the data are loaded into memory)."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"no result file at {str(path)!r}.")
    with xr.open_dataset(path) as ds:
        loaded = ds.load()
    for key in ("seed", "n_paths"):
        if isinstance(loaded.attrs.get(key), str):
            loaded.attrs[key] = int(loaded.attrs[key])
    return loaded
