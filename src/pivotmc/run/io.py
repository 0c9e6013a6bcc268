"""Reading and writing results: netCDF-4 files through h5netcdf."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from pivotmc.errors import ParameterTypeError, ValidationError, require_dataset
from pivotmc.model.outcomes import current_names
from pivotmc.run.results import plain_values

__all__ = ["save", "load", "result_path", "is_store", "ENGINE"]

#: The xarray engine of every result file, named so that the file never depends on which engines are installed.
ENGINE = "h5netcdf"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NETCDF3_MAGIC = b"CDF"


def _require_engine() -> None:
    """Import h5netcdf and h5py now, so that a broken install says what is missing in one sentence."""
    try:
        import h5netcdf  # noqa: F401
        import h5py  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"results are netCDF-4 files, read and written with h5netcdf and h5py, and {exc.name} is missing: "
            "pip install h5netcdf h5py (or reinstall pivotmc)."
        ) from None


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
    """Write a result to a netCDF-4 file (``.nc``), readable back with :func:`load`.

    Every variable, coordinate and attribute is written as it is: 64-bit
    integers (seeds up to 2**64 - 1 included), text and empty dimensions
    (a run without kept paths) are native to netCDF-4.
    """
    require_dataset(ds, (), "pivotmc.simulate or a study")
    path = result_path(path)
    _require_engine()
    ds.to_netcdf(path, engine=ENGINE)
    return path


def load(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`save`, or a Zarr store, into memory.

    Text comes back as Python strings and attributes as Python numbers, as
    :func:`pivotmc.simulate` makes them, so that ``load(save(ds, path))`` is
    ``ds``, types included. For a large store,
    :func:`pivotmc.run.store.open_store` reads lazily instead.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(f"path must be a file name or path, got {type(path).__name__}.")
    if is_store(path):
        from pivotmc.run.store import open_store

        return open_store(path).load()
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"no result file at {str(path)!r}.")
    what = "a result is a netCDF-4 file written by pivotmc run --out or pivotmc.io.save, or a Zarr store"
    with open(path, "rb") as f:
        magic = f.read(len(_HDF5_MAGIC))
    if magic.startswith(_NETCDF3_MAGIC):
        raise ValidationError(
            f"{str(path)!r} is a netCDF-3 file (the format of earlier versions of pivotmc), and results are now "
            "netCDF-4 files: run the command that made it again with --out (or save the result with "
            "pivotmc.io.save) to make a new one."
        )
    if magic != _HDF5_MAGIC:
        raise ValidationError(f"{str(path)!r} is not a netCDF file: {what}.")
    _require_engine()
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            loaded = ds.load()
    except Exception as exc:  # the reader fails in its own ways (ValueError, OSError, KeyError...) on broken files
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ValidationError(f"{str(path)!r} cannot be read as netCDF ({reason.rstrip('.')}): {what}.") from None
    if not any(key.startswith("pivotmc") for key in loaded.attrs) and "n_paths" not in loaded.attrs:
        raise ValidationError(f"{str(path)!r} is a netCDF file but not a pivotmc result (it has no pivotmc attributes).")
    return current_names(plain_values(loaded))
