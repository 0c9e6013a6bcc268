"""Running a simulation: the in-memory run, Zarr stores (optionally on a Dask cluster) and result
files."""
