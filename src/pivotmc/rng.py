"""Counter-based random numbers for the Monte Carlo engine.

Every random number used by a simulation is a pure function of
``(seed, path, step, slot)``: it is computed by the Philox4x32-10 block
cipher from a counter that encodes where the number is used, with a key
derived from the user's seed.  There is no generator state to carry around,
so the results are identical whatever the blocking into chunks, the number of
threads or of distributed workers, and the order in which paths are visited;
a single path can be recomputed on its own (for debugging or for a
finer-grained re-run) and reproduces the value it had inside the full run.

Slot layout, version 2
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
16+2i  ``SLOT_POWER_SPIKE_SIZE0``  exponential ``-log(u)``, size of spike i
17+2i  ``SLOT_POWER_SPIKE_TIME0``  uniform, arrival time of spike i as a
                                   fraction of the step
=====  ==========================  ==========================================

Slots 0..9 occupy pairs ``0 .. N_STEP_PAIRS - 1`` and are what
:func:`step_uniforms` returns; slots 10..15 are unassigned and reserved.
Spike ``i`` of a step (``i = 0 .. count - 1``) takes both halves of pair
``8 + i``: one Philox call gives its size and its arrival time.

Version history: version 1 drew only the spike sizes (slot ``16 + i`` for
spike ``i``) and added them undecayed at the step's end; version 2 spaces the
sizes two slots apart and gives each spike an arrival time in the odd slot
next to it, so that a spike decays from its arrival and the power price does
not depend on the step size.

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
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ParameterTypeError, ValidationError

__all__ = [
    "LEARNING_PATH0",
    "N_STEP_PAIRS",
    "N_STEP_SLOTS",
    "PER_PATH_STEP",
    "PHILOX_M0",
    "PHILOX_M1",
    "PHILOX_W0",
    "PHILOX_W1",
    "RNG_LAYOUT_VERSION",
    "SLOT_BTC_JUMP_COUNT",
    "SLOT_BTC_JUMP_SIZE",
    "SLOT_CAPEX_OVERRUN",
    "SLOT_LEAD_TIME",
    "SLOT_LEASE_RENEWAL",
    "SLOT_POWER_SPIKE_COUNT",
    "SLOT_POWER_SPIKE_SIZE0",
    "SLOT_POWER_SPIKE_TIME0",
    "SLOT_TENANT_DEFAULT",
    "SLOT_Z_BTC",
    "SLOT_Z_FEES",
    "SLOT_Z_HASHRATE",
    "SLOT_Z_LEASE",
    "SLOT_Z_POWER",
    "ndtri",
    "philox4x32",
    "seed_key",
    "step_uniforms",
    "uniform_from_words",
    "uniform_pair",
    "uniform_slot",
]

# --------------------------------------------------------------------------
# Layout, version 2
# --------------------------------------------------------------------------

RNG_LAYOUT_VERSION: int = 2
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
N_STEP_PAIRS: int = 5
N_STEP_SLOTS: int = 2 * N_STEP_PAIRS
#: Spike i: size in slot SLOT_POWER_SPIKE_SIZE0 + 2 i, arrival in SLOT_POWER_SPIKE_TIME0 + 2 i (pair 8 + i).
SLOT_POWER_SPIKE_SIZE0: int = 16
SLOT_POWER_SPIKE_TIME0: int = 17

PER_PATH_STEP: int = 0xFFFFFFFF
SLOT_LEAD_TIME: int = 0
SLOT_CAPEX_OVERRUN: int = 1

# --------------------------------------------------------------------------
# Philox4x32-10
# --------------------------------------------------------------------------

PHILOX_M0: int = 0xD2511F53
PHILOX_M1: int = 0xCD9E8D57
PHILOX_W0: int = 0x9E3779B9
PHILOX_W1: int = 0xBB67AE85
_PHILOX_ROUNDS = 10

_MASK32 = 0xFFFFFFFF
_U64_MASK32 = np.uint64(_MASK32)
_U64_32 = np.uint64(32)
_U64_M0 = np.uint64(PHILOX_M0)
_U64_M1 = np.uint64(PHILOX_M1)
_U64_1 = np.uint64(1)
_U64_11 = np.uint64(11)
_U64_21 = np.uint64(21)
_TWO_M53 = 2.0**-53

# Arrays are processed in blocks of this many elements so that the five
# working buffers of the round loop (5 x 8 bytes per element) stay in the
# per-core L2 cache; measured faster than whole-array passes above ~1e5.
_BLOCK = 1 << 14


def _key_schedule(k0: Any, k1: Any) -> list[tuple[Any, Any]]:
    """Round keys of Philox4x32-10 as uint64 values holding 32-bit words.

    `k0` and `k1` are uint64 scalars or arrays; so are the round keys.
    """
    sched = []
    w0 = np.uint64(PHILOX_W0)
    w1 = np.uint64(PHILOX_W1)
    for _ in range(_PHILOX_ROUNDS):
        sched.append((k0, k1))
        # uint64 arithmetic does not wrap at 32 bits, hence the mask.
        k0 = (k0 + w0) & _U64_MASK32
        k1 = (k1 + w1) & _U64_MASK32
    return sched


def _philox_rounds(
    x0: NDArray[np.uint64],
    x1: NDArray[np.uint64],
    x2: NDArray[np.uint64],
    x3: NDArray[np.uint64],
    tmp: NDArray[np.uint64],
    sched: list[tuple[Any, Any]],
) -> tuple[NDArray[np.uint64], ...]:
    """Apply the ten rounds in place on 1-D uint64 buffers of equal length.

    The buffers are recycled between rounds (the product overwrites the
    multiplicand it no longer needs), so the loop allocates nothing; the
    returned tuple is a permutation of the input buffers.
    """
    for k0, k1 in sched:
        # Both factors are < 2**32, so the uint64 product is exact and its
        # halves are mulhi / mullo of the 32-bit multiplication.
        np.multiply(x0, _U64_M0, out=x0)
        np.multiply(x2, _U64_M1, out=x2)
        # new x0 = mulhi(M1, x2) ^ x1 ^ k0, built in x1's buffer
        np.right_shift(x2, _U64_32, out=tmp)
        np.bitwise_xor(x1, tmp, out=x1)
        np.bitwise_xor(x1, k0, out=x1)
        # new x2 = mulhi(M0, x0) ^ x3 ^ k1, built in x3's buffer
        np.right_shift(x0, _U64_32, out=tmp)
        np.bitwise_xor(x3, tmp, out=x3)
        np.bitwise_xor(x3, k1, out=x3)
        # new x1 = mullo(M1, x2), new x3 = mullo(M0, x0)
        np.bitwise_and(x2, _U64_MASK32, out=x2)
        np.bitwise_and(x0, _U64_MASK32, out=x0)
        x0, x1, x2, x3 = x1, x2, x3, x0
    return x0, x1, x2, x3


_Word = Any  # 1-D uint array of the common length, or an integer scalar


def _philox_blocks(
    c: tuple[_Word, _Word, _Word, _Word],
    k0: _Word,
    k1: _Word,
    n: int,
    sink: Callable[[slice, tuple[NDArray[np.uint64], ...]], None],
) -> None:
    """Run Philox4x32-10 over ``n`` counters, one cache-sized block at a time.

    Parameters
    ----------
    c : tuple
        Counter words: each a 1-D integer array of length `n` or a scalar,
        all holding values in ``[0, 2**32)``.
    k0, k1 : array or scalar
        Key words, likewise.
    n : int
        Number of counters.
    sink : callable
        Called as ``sink(sl, (x0, x1, x2, x3))`` for each block, with ``sl``
        the block's slice of ``range(n)`` and the output words in uint64
        scratch buffers that the sink may overwrite but must not keep.

    Notes
    -----
    Consuming the words block by block lets callers write their final
    result (uint32 words, or uniforms) straight from cache, without
    materialising four full-size uint64 arrays.
    """
    if n == 0:
        return
    keys_scalar = np.ndim(k0) == 0 and np.ndim(k1) == 0
    if keys_scalar:
        sched_all = _key_schedule(np.uint64(k0), np.uint64(k1))
    blk = min(n, _BLOCK)
    bufs = [np.empty(blk, dtype=np.uint64) for _ in range(5)]
    for start in range(0, n, blk):
        stop = min(start + blk, n)
        m = stop - start
        b = [buf[:m] for buf in bufs]
        for src, dst in zip(c, b):
            dst[...] = src[start:stop] if np.ndim(src) else src
        if keys_scalar:
            sched = sched_all
        else:
            ka = np.empty(m, dtype=np.uint64)
            kb = np.empty(m, dtype=np.uint64)
            ka[...] = k0[start:stop] if np.ndim(k0) else k0
            kb[...] = k1[start:stop] if np.ndim(k1) else k1
            sched = _key_schedule(ka, kb)
        sink(slice(start, stop), _philox_rounds(b[0], b[1], b[2], b[3], b[4], sched))


def philox4x32(
    c0: ArrayLike,
    c1: ArrayLike,
    c2: ArrayLike,
    c3: ArrayLike,
    k0: ArrayLike,
    k1: ArrayLike,
) -> tuple[NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32]]:
    """Philox4x32-10 block function, vectorised over broadcast arguments.

    This is the generator of Salmon et al. (2011) as specified by Random123
    (and used by cuRAND's Philox): ten rounds with multipliers
    ``0xD2511F53``, ``0xCD9E8D57`` and key increments (Weyl constants)
    ``0x9E3779B9``, ``0xBB67AE85`` added between rounds.

    Parameters
    ----------
    c0, c1, c2, c3 : array_like of uint32
        Counter words.  Each is converted to ``np.uint32``; they broadcast
        against each other and against the key words.
    k0, k1 : array_like of uint32
        Key words, converted and broadcast likewise.

    Returns
    -------
    x0, x1, x2, x3 : ndarray of uint32
        The four output words, each of the broadcast shape.

    Notes
    -----
    Arrays are processed in cache-sized blocks with all rounds done in place
    on uint64 buffers; the 32x32->64 bit products give mulhi and mullo
    directly.
    """
    args = [np.asarray(a, dtype=np.uint32) for a in (c0, c1, c2, c3, k0, k1)]
    shape = np.broadcast_shapes(*(a.shape for a in args))
    n = int(np.prod(shape, dtype=np.int64))
    # 0-d inputs stay scalars; others become flat views (copies only when
    # broadcasting actually expands them).
    flat = [np.broadcast_to(a, shape).reshape(-1) if a.ndim else a[()] for a in args]
    outs = tuple(np.empty(n, dtype=np.uint32) for _ in range(4))

    def sink(sl: slice, words: tuple[NDArray[np.uint64], ...]) -> None:
        for o, w in zip(outs, words):
            np.copyto(o[sl], w, casting="unsafe")

    _philox_blocks((flat[0], flat[1], flat[2], flat[3]), flat[4], flat[5], n, sink)
    return tuple(o.reshape(shape) for o in outs)  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Uniforms
# --------------------------------------------------------------------------


def _words_to_uniform(hi: NDArray[np.uint64], lo: NDArray[np.uint64], out: NDArray[np.float64]) -> None:
    """Write the lattice uniforms of uint64 buffers holding 32-bit words.

    Both `hi` and `lo` are used as scratch and overwritten.
    """
    # (top 52 bits of hi:lo) * 2 + 1 == (hi:lo >> 11) | 1, an odd integer
    # below 2**53, hence exactly representable as a double; the scaling by
    # a power of two is exact too.
    np.left_shift(hi, _U64_21, out=hi)
    np.right_shift(lo, _U64_11, out=lo)
    np.bitwise_or(hi, lo, out=hi)
    np.bitwise_or(hi, _U64_1, out=hi)
    np.multiply(hi, _TWO_M53, out=out)


def uniform_from_words(hi: ArrayLike, lo: ArrayLike) -> NDArray[np.float64]:
    """Open-interval uniform from a 64-bit word ``hi << 32 | lo``.

    With ``k`` the top 52 bits of the word, the result is
    ``u = (2 k + 1) * 2**-53``.

    Parameters
    ----------
    hi, lo : array_like of uint32
        High and low 32-bit halves of the word; they broadcast.

    Returns
    -------
    ndarray of float64
        Uniforms in the open interval (0, 1).

    Notes
    -----
    The values form the lattice of odd multiples of ``2**-53``:

    * every value is an exact double (an odd integer below ``2**53`` times a
      power of two), so no rounding can push it to 0 or 1;
    * the extremes are ``2**-53`` and ``1 - 2**-53``, so ``log(u)`` and
      ``log(1 - u)`` are always finite and inversion never yields infinities;
    * the lattice is symmetric about 1/2: complementing all 64 bits maps
      ``k`` to ``2**52 - 1 - k`` and hence ``u`` to exactly ``1 - u``
      (itself exact), so normals obtained by an antisymmetric inverse CDF are
      exactly antisymmetric and the sample has no rounding bias in sign.
    """
    h, lw = np.broadcast_arrays(np.asarray(hi, dtype=np.uint32), np.asarray(lo, dtype=np.uint32))
    h = h.astype(np.uint64)
    lw = lw.astype(np.uint64)
    out = np.empty(h.shape, dtype=np.float64)
    _words_to_uniform(h, lw, out)
    return out


# --------------------------------------------------------------------------
# Inverse normal CDF (Wichura 1988, AS241 PPND16)
# --------------------------------------------------------------------------

# Central region |u - 1/2| <= 0.425, rational in r = 0.180625 - q**2.
_A = (
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
)
_B = (
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
)
# Intermediate tail, r = sqrt(-log(p)) <= 5, rational in r - 1.6.
_C = (
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
)
_D = (
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
# Far tail, r > 5, rational in r - 5.
_E = (
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
_F = (
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)


def _horner(coef: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate ``sum(coef[i] * x**i)``."""
    acc = np.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc *= x
        acc += c
    return acc


def _ratio(num: tuple[float, ...], den: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate the rational function ``num(x) / den(x)``."""
    return _horner(num, x) / _horner(den, x)


def ndtri(u: ArrayLike) -> NDArray[np.float64]:
    """Inverse of the standard normal CDF, Wichura's algorithm AS241.

    Parameters
    ----------
    u : array_like of float
        Probabilities.

    Returns
    -------
    ndarray of float64
        ``z`` with ``Phi(z) = u``, same shape as `u`; ``-inf`` at 0, ``+inf``
        at 1 and NaN outside ``[0, 1]`` or for NaN input.

    Notes
    -----
    PPND16 of Wichura (1988), Applied Statistics 37, 477-484: a rational
    approximation of degree 7/7 in ``0.180625 - q**2`` for
    ``|q| = |u - 1/2| <= 0.425``, and otherwise in ``r = sqrt(-log(p))`` with
    ``p = min(u, 1 - u)``, one for ``r <= 5`` and one for ``r > 5``, giving
    about 1e-16 relative accuracy.  Each region is evaluated on its own
    mask.

    The tail value is computed from ``p`` and then given the sign of ``q``,
    and the central value is ``q`` times an even function of ``q``.  Hence
    when ``1 - u`` is exact (as for every uniform of
    :func:`uniform_from_words`) ``ndtri(1 - u) == -ndtri(u)`` bit for bit.
    """
    ua = np.asarray(u, dtype=np.float64)
    shape = ua.shape
    x = ua.reshape(-1)
    out = np.empty_like(x)
    q = x - 0.5

    # Most uniforms fall in the central region: evaluating it on every element and
    # overwriting the tails is cheaper than gathering and scattering the centre.
    central = np.abs(q) <= 0.425
    np.multiply(q, _ratio(_A, _B, 0.180625 - q * q), out=out)

    # Tested on u itself: for u < 2**-54, u - 0.5 rounds to -0.5.
    tail = ~central & (x > 0.0) & (x < 1.0)
    if tail.any():
        xt = x[tail]
        lower = xt < 0.5
        p = np.where(lower, xt, 1.0 - xt)
        r = np.sqrt(-np.log(p))
        mid = r <= 5.0
        val = np.empty_like(r)
        if mid.any():
            val[mid] = _ratio(_C, _D, r[mid] - 1.6)
        far = ~mid
        if far.any():
            val[far] = _ratio(_E, _F, r[far] - 5.0)
        np.negative(val, out=val, where=lower)
        out[tail] = val

    rest = ~(central | tail)
    if rest.any():
        xr = x[rest]
        out[rest] = np.where(xr == 0.0, -np.inf, np.where(xr == 1.0, np.inf, np.nan))
    return out.reshape(shape)


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
    """The ten per-step uniforms (slots 0..9) of one step for all paths.

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
    ndarray of float64, shape (10,) + path.shape
        Row ``s`` is slot ``s``; rows follow the ``SLOT_*`` constants.
    """
    k0, k1 = _check_key(key)
    step = _check_word("step", step, PER_PATH_STEP)
    lo, hi, shape = _path_words(path)
    out = np.empty((N_STEP_SLOTS, lo.shape[0]), dtype=np.float64)
    for pair in range(N_STEP_PAIRS):
        _pair_into((k0, k1), lo, hi, step, pair, out[2 * pair], out[2 * pair + 1])
    return out.reshape((N_STEP_SLOTS,) + shape)
