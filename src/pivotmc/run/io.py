"""Reading and writing results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from pivotmc.errors import ParameterTypeError, ValidationError, require_dataset
from pivotmc.model.outcomes import current_names

__all__ = ["save", "load", "result_path", "is_store"]

_INT32 = (-(2**31), 2**31 - 1)
_EMPTY_LAYOUT = "pivotmc_empty_variables"
#: Dataset attributes that were integers beyond int32, written as text (a JSON list of their names).
_INTEGER_ATTRS = "pivotmc_integer_attributes"
#: Variables whose integer type the file cannot hold (netCDF-3 has no int64), with their type (JSON).
_DTYPES = "pivotmc_dtypes"
#: Attributes written as text by files older than _INTEGER_ATTRS.
_LEGACY_INTEGER_ATTRS = ("seed", "n_paths")


def _portable_attrs(attrs: dict) -> tuple[dict, list[str]]:
    """Attributes every netCDF flavour can hold: integers beyond int32 become text (their names are returned)."""
    out = {}
    as_text = []
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        elif isinstance(value, (int, np.integer)) and not _INT32[0] <= int(value) <= _INT32[1]:
            value = str(int(value))
            as_text.append(key)
        out[key] = value
    return out, as_text


def result_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` if :func:`save` can write there, else :class:`ValidationError`."""
    path = Path(path)
    if path.suffix != ".nc":
        raise ValidationError(
            f"cannot write {str(path)!r}: results are saved as netCDF, with a .nc suffix "
            "(or streamed to a Zarr store, ending in .zarr, by simulate(store=...) and pivotmc run --out)."
        )
    return path


def is_store(path: str | Path) -> bool:
    """Whether ``path`` names a Zarr store (a ``.zarr`` name, or a directory) rather than a netCDF file."""
    path = Path(path)
    return path.suffix == ".zarr" or path.is_dir()


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a result to netCDF (``.nc``), readable back with :func:`load`."""
    require_dataset(ds, (), "pivotmc.simulate or a study")
    path = result_path(path)
    out = ds.copy()
    out.attrs, as_text = _portable_attrs(ds.attrs)
    if as_text:
        out.attrs[_INTEGER_ATTRS] = json.dumps(as_text)
    # netCDF-3 has no 64-bit integers and xarray narrows them to int32 where the values fit;
    # record the types so that load gives back what was saved (netCDF-4 keeps them anyway).
    wide = {name: var.dtype.str for name, var in out.variables.items() if var.dtype.kind in "iu" and var.dtype.itemsize > 4}
    if wide:
        out.attrs[_DTYPES] = json.dumps(wide)
    # netCDF-3 (all the scipy engine writes, the one used without netCDF4 or h5netcdf) reads
    # a zero-length dimension as its single unlimited one, so a run without kept paths gave a
    # file no reader could open. Empty variables hold no data: leave them out and record
    # their layout so that load puts them back.
    empty = {name: var for name, var in out.variables.items() if var.size == 0}
    if empty:
        layout = {
            name: {"dims": list(var.dims), "dtype": var.dtype.str, "attrs": dict(var.attrs), "coord": name in out.coords}
            for name, var in empty.items()
        }
        out = out.drop_vars(list(empty))
        out.attrs[_EMPTY_LAYOUT] = json.dumps(layout)
    out.to_netcdf(path)
    return path


def load(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`save`, or a Zarr store, into memory.

    For a large store, :func:`pivotmc.run.store.open_store` reads lazily instead.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(f"path must be a file name or path, got {type(path).__name__}.")
    if is_store(path):
        from pivotmc.run.store import open_store

        return open_store(path).load()
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"no result file at {str(path)!r}.")
    what = "a result is a netCDF file written by pivotmc run --out or pivotmc.run.io.save, or a Zarr store"
    if path.is_file():
        with open(path, "rb") as f:
            magic = f.read(4)
        if not (magic[:3] == b"CDF" or magic == b"\x89HDF"):
            raise ValidationError(f"{str(path)!r} is not a netCDF file: {what}.")
    try:
        with xr.open_dataset(path) as ds:
            loaded = ds.load()
    except Exception as exc:  # netCDF readers fail in their own ways (ValueError, OSError, KeyError...) on broken files
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ValidationError(f"{str(path)!r} cannot be read as netCDF ({reason.rstrip('.')}): {what}.") from None
    if not any(key.startswith("pivotmc") for key in loaded.attrs) and "n_paths" not in loaded.attrs:
        raise ValidationError(f"{str(path)!r} is a netCDF file but not a pivotmc result (it has no pivotmc attributes).")
    as_text = loaded.attrs.pop(_INTEGER_ATTRS, None)
    for key in json.loads(as_text) if as_text is not None else _LEGACY_INTEGER_ATTRS:
        if isinstance(loaded.attrs.get(key), str):
            loaded.attrs[key] = int(loaded.attrs[key])
    dtypes = loaded.attrs.pop(_DTYPES, None)
    if dtypes is not None:
        for name, dtype in json.loads(dtypes).items():
            if name in loaded.variables and loaded[name].dtype != np.dtype(dtype):
                loaded[name] = loaded[name].astype(dtype)
    layout = loaded.attrs.pop(_EMPTY_LAYOUT, None)
    if layout is not None:
        for name, spec in json.loads(layout).items():
            shape = tuple(loaded.sizes.get(dim, 0) for dim in spec["dims"])
            var = xr.Variable(spec["dims"], np.empty(shape, dtype=spec["dtype"]), spec["attrs"])
            if spec["coord"]:
                loaded = loaded.assign_coords({name: var})
            else:
                loaded[name] = var
    return current_names(loaded)
