"""Counter-based random numbers for the Monte Carlo engine.

Every random number used by a simulation is a pure function of
``(seed, path, step, slot)``: it is computed by the Philox4x32-10 block
cipher from a counter that encodes where the number is used, with a key
derived from the user's seed.  There is no generator state to carry around,
so the results are identical whatever the blocking into chunks, the number of
threads or of distributed workers, and the order in which paths are visited;
a single path can be recomputed on its own (for debugging or for a
finer-grained re-run) and reproduces the value it had inside the full run.

Slot layout, version 3
----------------------
The layout below is part of the reproducibility contract: changing any entry
changes the random numbers seen by the engine, and must come with a new
:data:`RNG_LAYOUT_VERSION`.

Key and counter of one Philox call:

========================  ===================================================
Philox word               Meaning
========================  ===================================================
key ``(k0, k1)``          ``seed_key(seed)`` = ``(seed & 0xffffffff, seed >> 32)``
counter ``c0``            path index, low 32 bits
counter ``c1``            path index, high 32 bits
counter ``c2``            step index ``k`` (0-based), or ``PER_PATH_STEP``
counter ``c3``            pair index
========================  ===================================================

A call returns four 32-bit words ``(x0, x1, x2, x3)``, turned into two
uniforms by :func:`uniform_from_words`: slot ``2*pair`` comes from
``(hi=x0, lo=x1)`` and slot ``2*pair + 1`` from ``(hi=x2, lo=x3)``.

Per-step slots (``c2 = k``):

=====  ==========================  ==========================================
Slot   Constant                    Use
=====  ==========================  ==========================================
0      ``SLOT_Z_BTC``              normal, BTC price (before correlation)
1      ``SLOT_Z_FEES``             normal, transaction fees (before corr.)
2      ``SLOT_Z_HASHRATE``         normal, network hashrate (before corr.)
3      ``SLOT_Z_POWER``            normal, power price (before correlation)
4      ``SLOT_Z_LEASE``            normal, lease rate (before correlation)
5      ``SLOT_BTC_JUMP_COUNT``     uniform, Poisson jump count by inversion
6      ``SLOT_BTC_JUMP_SIZE``      normal, BTC jump size
7      ``SLOT_POWER_SPIKE_COUNT``  uniform, power-spike count
8      ``SLOT_TENANT_DEFAULT``     uniform, tenant default event
9      ``SLOT_LEASE_RENEWAL``      uniform, lease renewal event
10     ``SLOT_Z_GPU``              normal, GPU rental price (before corr.)
11     ``SLOT_CLOUD_DEFAULT``      uniform, default of a compute contract
16+2i  ``SLOT_POWER_SPIKE_SIZE0``  exponential ``-log(u)``, size of spike i
17+2i  ``SLOT_POWER_SPIKE_TIME0``  uniform, arrival time of spike i as a
                                   fraction of the step
=====  ==========================  ==========================================

Slots 0..11 occupy pairs ``0 .. N_STEP_PAIRS - 1`` and are what
:func:`step_uniforms` returns; slots 12..15 are unassigned and reserved.
Spike ``i`` of a step (``i = 0 .. count - 1``) takes both halves of pair
``8 + i``: one Philox call gives its size and its arrival time.

Version history: version 1 drew only the spike sizes (slot ``16 + i`` for
spike ``i``) and added them undecayed at the step's end; version 2 spaces the
sizes two slots apart and gives each spike an arrival time in the odd slot
next to it, so that a spike decays from its arrival and the power price does
not depend on the step size. Version 3 assigns slots 10 and 11 (pair 5,
reserved until then) to the GPU rental price's shock and to the default of a
compute contract; slots 0..9 are unchanged, so the first five factors (whose
rows of the triangular correlation factor do not involve the sixth) and every
result without the ``cloud`` strategy are the same numbers as under version 2.

Per-path slots (``c2 = PER_PATH_STEP = 0xFFFFFFFF``, a step index that a
simulation never reaches):

=====  ==========================  ==========================================
Slot   Constant                    Use
=====  ==========================  ==========================================
0      ``SLOT_LEAD_TIME``          uniform, construction lead time
1      ``SLOT_CAPEX_OVERRUN``      normal, capital-expenditure overrun
=====  ==========================  ==========================================

Normals are obtained as ``ndtri(u)`` (inversion), never by a pairing method,
so that each normal depends on exactly one slot.

Path ranges: a run's paths are ``0 .. n_paths - 1`` (below ``2**32``). The
paths that learn the switch strategy's exercise policy are numbered from
``LEARNING_PATH0 = 2**62``, under the key of ``switch.learning_seed``: they
are simulated by the same model, and no run's valuation path ever sees their
random numbers, whatever the two seeds.
"""


from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.random.philox import _MASK32, _U64_32, _U64_MASK32, _philox_blocks, _words_to_uniform

# --------------------------------------------------------------------------
# Layout, version 3
# --------------------------------------------------------------------------

RNG_LAYOUT_VERSION: int = 3
#: First path index of the switch policy's learning paths (see "Path ranges").
LEARNING_PATH0: int = 2**62

SLOT_Z_BTC: int = 0
SLOT_Z_FEES: int = 1
SLOT_Z_HASHRATE: int = 2
SLOT_Z_POWER: int = 3
SLOT_Z_LEASE: int = 4
SLOT_BTC_JUMP_COUNT: int = 5
SLOT_BTC_JUMP_SIZE: int = 6
SLOT_POWER_SPIKE_COUNT: int = 7
SLOT_TENANT_DEFAULT: int = 8
SLOT_LEASE_RENEWAL: int = 9
SLOT_Z_GPU: int = 10
SLOT_CLOUD_DEFAULT: int = 11
N_STEP_PAIRS: int = 6
N_STEP_SLOTS: int = 2 * N_STEP_PAIRS
#: Spike i: size in slot SLOT_POWER_SPIKE_SIZE0 + 2 i, arrival in SLOT_POWER_SPIKE_TIME0 + 2 i (pair 8 + i).
SLOT_POWER_SPIKE_SIZE0: int = 16
SLOT_POWER_SPIKE_TIME0: int = 17

PER_PATH_STEP: int = 0xFFFFFFFF
SLOT_LEAD_TIME: int = 0
SLOT_CAPEX_OVERRUN: int = 1


# --------------------------------------------------------------------------
# Keys, counters and the layout helpers
# --------------------------------------------------------------------------


def seed_key(seed: int | np.integer) -> tuple[int, int]:
    """Philox key ``(k0, k1)`` of a user seed.

    Parameters
    ----------
    seed : int or numpy integer
        Seed in ``[0, 2**64)``; ``bool`` is rejected.

    Returns
    -------
    tuple of int
        ``(seed & 0xffffffff, seed >> 32)``.

    Raises
    ------
    ParameterTypeError
        If `seed` is not an integer (or is a bool); also a ``TypeError``.
    ValidationError
        If `seed` is outside ``[0, 2**64)``; also a ``ValueError``.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ParameterTypeError(f"seed must be an int or numpy integer (not bool), got {type(seed).__name__}.")
    s = int(seed)
    if not 0 <= s < 1 << 64:
        raise ValidationError(f"seed must satisfy 0 <= seed < 2**64, got {s}.")
    return s & _MASK32, s >> 32


def _check_word(name: str, value: Any, hi: int = 1 << 32) -> int:
    """Validate a scalar integer argument in ``[0, hi)``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not bool.")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.") from None
    if not 0 <= v < hi:
        raise ValueError(f"{name} must satisfy 0 <= {name} < {hi}, got {v}.")
    return v


def _check_key(key: Any) -> tuple[int, int]:
    """Validate a Philox key given as a pair of 32-bit words."""
    try:
        k0, k1 = key
    except (TypeError, ValueError):
        raise TypeError("key must be a pair (k0, k1) of 32-bit words, as returned by seed_key.") from None
    return _check_word("key[0]", k0), _check_word("key[1]", k1)


def _path_words(path: ArrayLike) -> tuple[NDArray[np.uint64], NDArray[np.uint64], tuple[int, ...]]:
    """Split path indices into flat (low, high) 32-bit counter words."""
    try:
        p = np.asarray(path)
    except OverflowError:
        raise ValueError("path must hold indices in [0, 2**64).") from None
    if p.dtype != np.uint64:
        if p.dtype.kind not in "iu":
            raise TypeError(f"path must hold integers, got dtype {p.dtype}.")
        if p.dtype.kind == "i" and p.size and p.min() < 0:
            raise ValueError("path must hold indices in [0, 2**64).")
        p = p.astype(np.uint64)
    flat = p.reshape(-1)
    return flat & _U64_MASK32, flat >> _U64_32, p.shape


def _pair_into(
    key: tuple[int, int],
    lo: NDArray[np.uint64],
    hi: NDArray[np.uint64],
    step: int,
    pair: int,
    out_even: NDArray[np.float64],
    out_odd: NDArray[np.float64],
) -> None:
    """Write the two uniforms of counter ``(lo, hi, step, pair)`` per path."""

    def sink(sl: slice, w: tuple[NDArray[np.uint64], ...]) -> None:
        _words_to_uniform(w[0], w[1], out_even[sl])
        _words_to_uniform(w[2], w[3], out_odd[sl])

    _philox_blocks((lo, hi, step, pair), key[0], key[1], lo.shape[0], sink)


def uniform_pair(
    key: tuple[int, int],
    path: ArrayLike,
    step: int,
    pair: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The two uniforms of one Philox call, for every path.

    Parameters
    ----------
    key : tuple of int
        ``seed_key(seed)``.
    path : array_like of uint64 or int
        Path indices in ``[0, 2**64)``.
    step : int
        Step index ``k`` or ``PER_PATH_STEP``.
    pair : int
        Pair index in ``[0, 2**32)``.

    Returns
    -------
    u_even, u_odd : ndarray of float64
        Slots ``2*pair`` and ``2*pair + 1``, each of the shape of `path`.
    """
    k0, k1 = _check_key(key)
    step = _check_word("step", step)
    pair = _check_word("pair", pair)
    lo, hi, shape = _path_words(path)
    u_even = np.empty(lo.shape[0], dtype=np.float64)
    u_odd = np.empty(lo.shape[0], dtype=np.float64)
    _pair_into((k0, k1), lo, hi, step, pair, u_even, u_odd)
    return u_even.reshape(shape), u_odd.reshape(shape)


def uniform_slot(key: tuple[int, int], path: ArrayLike, step: int, slot: int) -> NDArray[np.float64]:
    """The uniform in one slot, for every path.

    Parameters
    ----------
    key : tuple of int
        ``seed_key(seed)``.
    path : array_like of uint64 or int
        Path indices in ``[0, 2**64)``.
    step : int
        Step index ``k`` or ``PER_PATH_STEP``.
    slot : int
        Slot in ``[0, 2**33)``; see the module docstring for the layout.

    Returns
    -------
    ndarray of float64
        Uniforms of the shape of `path`.
    """
    slot = _check_word("slot", slot, 1 << 33)
    pair, half = divmod(slot, 2)
    return uniform_pair(key, path, step, pair)[half]


def step_uniforms(key: tuple[int, int], path: ArrayLike, step: int) -> NDArray[np.float64]:
    """The per-step uniforms (slots 0 .. N_STEP_SLOTS - 1) of one step for all paths.

    Parameters
    ----------
    key : tuple of int
        ``seed_key(seed)``.
    path : array_like of uint64 or int
        Path indices in ``[0, 2**64)``.
    step : int
        Step index in ``[0, PER_PATH_STEP)``.

    Returns
    -------
    ndarray of float64, shape (N_STEP_SLOTS,) + path.shape
        Row ``s`` is slot ``s``; rows follow the ``SLOT_*`` constants.
    """
    k0, k1 = _check_key(key)
    step = _check_word("step", step, PER_PATH_STEP)
    lo, hi, shape = _path_words(path)
    out = np.empty((N_STEP_SLOTS, lo.shape[0]), dtype=np.float64)
    for pair in range(N_STEP_PAIRS):
        _pair_into((k0, k1), lo, hi, step, pair, out[2 * pair], out[2 * pair + 1])
    return out.reshape((N_STEP_SLOTS,) + shape)
