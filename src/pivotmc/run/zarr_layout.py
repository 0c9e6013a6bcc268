"""A store's layout in Zarr: its constants, the identity of the run it holds, the checks made
before writing to it, and the layout written before any chunk (see :mod:`pivotmc.run.store`)."""

from __future__ import annotations

import importlib
import os

import numpy as np

from pivotmc import random as rng
from pivotmc._version import __version__
from pivotmc.backends import KEPT_FACTORS, ChunkResult, KeptPaths
from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.outcomes import option_value_variables, share_variables
from pivotmc.model.plan import Plan
from pivotmc.run.arguments import MAX_PATHS, _check_count
from pivotmc.run.results import build_dataset

#: Paths per chunk when none is given: 24 MB of NPVs for three strategies, a few
#: seconds of work on one core, and a hundred tasks for 1e8 paths.
DEFAULT_CHUNK_PATHS = 1_000_000
#: Version of the layout below; part of a run's identity (2: the switch strategy's variables;
#: 3: ``option_value_se``, formerly ``option_value_std_error``; 4: the switch's action per path, its shares
#: by action and its policy's coefficients by action).
STORE_FORMAT = 4
STATE_GROUP = "_chunks"
_ZARR_FORMAT = 2  # read by every Zarr implementation, and consolidated metadata are part of its spec
#: Bytes of limb sums read at a time when the means are finished.
_SUM_BATCH_BYTES = 64 * 2**20
_LIMBS = ("cash_flow_sum_hi", "cash_flow_sum_lo")
_ZARR_MARKERS = (".zgroup", ".zarray", ".zmetadata", "zarr.json")


class ExtraNotInstalledError(ValidationError, ImportError):
    """An option needs the ``dask`` extra (dask.distributed and zarr), which is not installed."""


def _require(option: str, modules: tuple[str, ...] = ("zarr", "dask.array")) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise ExtraNotInstalledError(
                f'{option} needs the dask extra (dask.distributed and zarr), which is not installed: '
                'pip install "pivotmc[dask]".'
            ) from None


def _store_path(store) -> str:
    if not isinstance(store, (str, os.PathLike)):
        raise ParameterTypeError(f"store must be a path, got {type(store).__name__} {store!r}.")
    # Workers may run in another directory (or on another machine sharing the filesystem).
    return os.path.abspath(os.fspath(store))


def _check_chunk_paths(chunk_paths, n_paths: int) -> int:
    if chunk_paths is None:
        chunk_paths = DEFAULT_CHUNK_PATHS
    return min(_check_count("chunk_paths", chunk_paths, 1, MAX_PATHS), n_paths)


# ---------------------------------------------------------------------------
# Identity and layout
# ---------------------------------------------------------------------------


def _identity(
    plan: Plan, policy, *, n_paths: int, seed: int, backend: str, chunk_paths: int, keep_paths: int
) -> dict:
    """What must agree for a store's chunks to belong to this run (block size and workers need not).

    A run that values switch records the digest of the exercise policy its chunks apply, so that a
    store is never resumed under another policy (one learned by other arithmetic, say).
    """
    identity = {
        "store_format": STORE_FORMAT,
        "pivotmc_version": __version__,
        "rng_layout_version": rng.RNG_LAYOUT_VERSION,
        "scenario": plan.scenario.to_toml(comments=False),
        "seed": seed,
        "n_paths": n_paths,
        "chunk_paths": chunk_paths,
        "keep_paths": keep_paths,
        "backend": backend,
    }
    if policy is not None:
        identity["switch_policy"] = policy.digest()
    return identity


def _stored_identity(path: str) -> dict | None:
    """The identity of a complete pivotmc layout at ``path``, else None."""
    import zarr

    try:
        run = zarr.open_group(path, mode="r", use_consolidated=True)[STATE_GROUP].attrs["run"]
    except (KeyError, ValueError, OSError):  # nothing there, not Zarr, or a layout cut short
        return None
    return dict(run) if isinstance(run, dict) else None


def _same_run(stored: dict, wanted: dict) -> bool:
    """Whether a stored identity is that of the wanted run; the switch policy is compared apart
    (:func:`_check_policy`), so that a finished store is read without learning it."""
    return {k: v for k, v in stored.items() if k != "switch_policy"} == wanted


def _check_policy(path: str, policy) -> None:
    """Refuse to resume a store whose chunks followed another switch policy than the one learned here.

    The policy is a deterministic function of the scenario; this guards against a learner whose
    arithmetic differs (another machine, another backend).
    """
    if _stored_identity(path).get("switch_policy") != policy.digest():
        raise ValidationError(
            f"store {path!r} holds chunks valued with another switch policy than the one learned here: "
            "pass overwrite=True (--overwrite) to start it afresh."
        )


def _differences(stored: dict, wanted: dict) -> str:
    parts = []
    for name, value in wanted.items():
        if stored.get(name) == value:
            continue
        if name == "scenario":
            parts.append("another scenario")
        else:
            parts.append(f"{name} {stored.get(name)!r} there, {value!r} here")
    return ", ".join(parts)


def _is_interrupted_layout(path: str, wanted: dict) -> bool:
    """Whether ``path`` is this run's own layout, cut short before any chunk could run.

    Chunks run only once the layout is complete, so such a store holds no
    results and may be laid out again.
    """
    import zarr

    try:
        attrs = dict(zarr.open_group(path, mode="r", use_consolidated=False).attrs)
    except (KeyError, ValueError, OSError):
        return False
    return attrs.get("title") == "pivotmc simulation" and all(
        attrs.get(name) == wanted[name] for name in ("scenario", "seed", "n_paths", "backend")
    )


def _check_target(path: str, wanted: dict, overwrite: bool) -> bool:
    """Whether ``path`` needs a new layout; raises if it holds something this run must not replace."""
    if not os.path.lexists(path):
        return True
    if not os.path.isdir(path):
        raise ValidationError(f"store {path!r} exists and is not a directory: choose another path.")
    if not os.listdir(path):
        return True
    stored = _stored_identity(path)
    if overwrite:
        if stored is None and not any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
            raise ValidationError(f"store {path!r} exists and is not a Zarr store; pivotmc will not delete it.")
        return True
    if stored is not None and _same_run(stored, wanted):
        return False
    if stored is not None:
        raise ValidationError(
            f"store {path!r} holds another run ({_differences(stored, wanted)}): "
            "pass overwrite=True (--overwrite) to replace it, or choose another store."
        )
    if _is_interrupted_layout(path, wanted):
        return True
    raise ValidationError(
        f"store {path!r} exists and is not a pivotmc store: pass overwrite=True (--overwrite) to replace it, "
        "or choose another store."
    )


def _lazy(shape: tuple[int, ...], chunks: tuple[int, ...], dtype=np.float64):
    """A placeholder that xarray lays out in Zarr without computing it (empty arrays have nothing to compute)."""
    if 0 in shape:
        return np.empty(shape, dtype=dtype)
    import dask.array as da

    return da.empty(shape, chunks=chunks, dtype=dtype)


def _switch_placeholders(plan: Plan) -> dict:
    """The switch variables that need every path, laid out empty: :func:`_finish` writes them."""
    n_dates = plan.decision_steps.size
    out = {}
    size = {"action": len(plan.switch_actions), "decision": n_dates}
    for name, (dims, _, attrs) in share_variables(np.zeros((size["action"], n_dates), dtype=np.int64), 1).items():
        shape = tuple(size[d] for d in ((dims,) if isinstance(dims, str) else dims))
        out[name] = (dims, _lazy(shape, shape), attrs)
    # Their attributes depend on the numbers (the strategy compared with); only units until then.
    probe = option_value_variables(lambda s: np.zeros(2), plan.strategies)
    for name, (dims, _, attrs) in probe.items():
        out[name] = (dims, _lazy((), ()), {"units": attrs["units"]})
    return out


def _lay_out(path: str, plan: Plan, policy, run: dict) -> None:
    """Write the store's metadata and the variables that do not grow with the run."""
    import zarr

    n_strat, n_steps = plan.n_strategies, plan.n_steps
    n_paths, chunk_paths, keep = run["n_paths"], run["chunk_paths"], run["keep_paths"]
    kept_chunk = max(1, min(chunk_paths, keep))
    kept = KeptPaths(
        paths=np.arange(keep, dtype=np.int64),
        factors={name: _lazy((keep, n_steps), (kept_chunk, n_steps)) for name in KEPT_FACTORS},
        cash_flow=_lazy((n_strat, keep, n_steps), (n_strat, kept_chunk, n_steps)),
    )
    switch = _lazy((n_paths,), (chunk_paths,), np.int16) if plan.switch_index >= 0 else None
    action = _lazy((n_paths,), (chunk_paths,), np.int8) if plan.switch_index >= 0 else None
    layout = build_dataset(
        plan,
        ChunkResult(
            first_path=0,
            npv=_lazy((n_strat, n_paths), (n_strat, chunk_paths)),
            cash_flow_sum=None,
            kept=kept,
            switch_decision=switch,
            switch_action=action,
        ),
        n_paths=n_paths,
        seed=run["seed"],
        backend=run["backend"],
        cash_flow_mean=_lazy((n_strat, n_steps), (n_strat, n_steps)),
        path_coordinate=False,
        policy=policy,
    )
    if plan.switch_index >= 0:
        layout = layout.assign(_switch_placeholders(plan))
    # mode "w" empties the directory first: _check_target has decided that nothing there may be kept.
    layout.to_zarr(path, mode="w", compute=False, consolidated=False, zarr_format=_ZARR_FORMAT)

    n_chunks = -(-n_paths // chunk_paths)
    state = zarr.open_group(path, mode="r+").create_group(STATE_GROUP)
    for name in _LIMBS:
        state.create_array(
            name, shape=(n_chunks, n_strat, n_steps), chunks=(1, n_strat, n_steps), dtype="int64", fill_value=0
        )
    state.create_array("done", shape=(n_chunks,), chunks=(1,), dtype="uint8", fill_value=0)
    state.create_array("finished", shape=(), dtype="uint8", fill_value=0)
    state.attrs["run"] = run  # the identity goes last: a layout without it is one that was cut short
    zarr.consolidate_metadata(path)
